"""Decoders p(x|z) returning ``tfp.distributions`` objects, and their registry.

Each decoder type is a ``tf.Module`` with ``__call__(z) -> tfd.Distribution`` whose event
shape is the example shape, built as ``cls(latent_dim, event_shape, kind, **options)`` (plus
``vocab_size`` for token decoders; :data:`STRUCTURAL_ARGS` are set from the data, every other
constructor argument is a config option). ``kind`` is the dataset kind: ``"binary"`` gives
Bernoulli likelihoods, ``"real"`` Gaussian ones, ``"tokens"`` categorical ones over a
vocabulary.

Types: ``mlp`` and ``linear`` (here), the autoregressive ``made``
(:mod:`vae_tfp.models.autoregressive`), ``pixelcnn`` (:mod:`vae_tfp.models.pixelcnn`) and
``gated_pixelcnn`` (He et al. 2019's Omniglot decoder, :mod:`vae_tfp.models.gated_pixelcnn`)
and the token decoder ``lstm`` (:mod:`vae_tfp.models.sequence`).
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp
import tf_keras

from vae_tfp.data.store import PAD_ID
from vae_tfp.models.autoregressive import BoundDistribution
from vae_tfp.models.decoder_types import decoder_class, decoder_option_names
from vae_tfp.models.encoder import check_activation
from vae_tfp.models.tokens import (
    blocked_logits,
    check_tokens,
    token_log_prob,
    valid_positions,
)

tfd = tfp.distributions

OUTPUT_BIAS_INITS = ("zero", "data_mean")


def _check_options(name: str, options: Mapping[str, Any]) -> dict[str, Any]:
    """Drops ``type`` and rejects options that the decoder's constructor does not take."""
    accepted = decoder_option_names(name)
    given = {k: v for k, v in options.items() if k != "type"}
    unknown = sorted(set(given) - set(accepted))
    if unknown:
        raise TypeError(f"decoder {name!r} got unknown options {unknown}; accepted: {accepted}")
    return given


class MLPDecoder(tf.Module):
    """MLP decoder: Bernoulli for binary data, Gaussian for real data, categorical for tokens.

    The Gaussian version has a learned per-dimension log standard deviation that does not
    depend on z (a common choice that keeps the likelihood bounded). For token sequences
    [T] the MLP gives the logits of every position at once, p(x|z) = prod_{t <= EOS}
    Categorical(x_t | MLP(z)_t): a non-autoregressive decoder that can model the dependence
    between positions only through z (the contrast to the ``lstm`` decoder); the positions
    after the ``EOS`` do not count (:func:`vae_tfp.models.tokens.token_log_prob`).

    Args:
        latent_dim: Dimension of z.
        event_shape: Shape of one example.
        kind: ``"binary"``, ``"real"`` or ``"tokens"``.
        vocab_size: Number of token ids (token data only; set from the data).
        hidden_units: Widths of the hidden layers.
        activation: Their activation, a Keras name (``"tanh"`` as Burda et al. 2016).
        skip: Feed z to every layer after the first too, h_l = relu(W_l h_{l-1} + U_l z)
            and the output W h_L + U z (skip-VAE, Dieng et al. 2019, eq. 8).
        output_bias: Initial bias of the output layer (binary data only): ``"zero"``
            (Keras's default) or ``"data_mean"``, the logit of the per-pixel training mean
            clipped to [0.001, 0.999], so that p(x|z) starts at the data's marginal pixel
            probabilities (Burda et al. 2016's code, yburda/iwae ``datasets.py``
            ``get_train_bias_np``; the paper does not state it). Set by
            :meth:`initialize_output_bias` once the training data are known.
    """

    def __init__(
        self,
        latent_dim: int,
        event_shape: Sequence[int],
        kind: str,
        vocab_size: int | None = None,
        hidden_units: Sequence[int] = (64, 64),
        skip: bool = False,
        activation: str = "relu",
        output_bias: str = "zero",
    ):
        super().__init__(name="mlp_decoder")
        check_activation(activation)
        if output_bias not in OUTPUT_BIAS_INITS:
            raise ValueError(
                f"mlp decoder output_bias must be one of {list(OUTPUT_BIAS_INITS)}, "
                f"got {output_bias!r}"
            )
        if output_bias == "data_mean" and kind != "binary":
            raise ValueError(
                "mlp decoder output_bias 'data_mean' sets Bernoulli logits: it needs binary "
                f"data, got kind {kind!r}"
            )
        self.output_bias = output_bias
        if kind not in ("binary", "real", "tokens"):
            raise ValueError(
                f"mlp decoder supports kinds 'binary', 'real' and 'tokens', got {kind!r}"
            )
        if kind == "tokens":
            check_tokens("mlp decoder", event_shape, kind, vocab_size)
            self.vocab_size = int(vocab_size)
            self._blocked = blocked_logits(self.vocab_size)
        self.kind = kind
        self.skip = bool(skip)
        self.event_shape = tuple(int(d) for d in event_shape)
        self.hidden = [tf_keras.layers.Dense(int(u), activation=activation) for u in hidden_units]
        outputs = int(np.prod(self.event_shape)) * (self.vocab_size if kind == "tokens" else 1)
        self.head = tf_keras.layers.Dense(outputs)
        if kind == "real":
            self.log_scale = tf.Variable(tf.zeros(self.event_shape), name="log_scale")
        self(tf.zeros((1, int(latent_dim))))  # create the weights now

    def initialize_output_bias(self, train: np.ndarray) -> None:
        """Sets the output bias as :attr:`output_bias` says (nothing to do for ``"zero"``).

        Args:
            train: The training examples (binary, or pixel intensities in [0, 1] for
                dynamically binarized data: their mean is the same pixel probability).
        """
        if self.output_bias != "data_mean":
            return
        mean = np.clip(np.mean(train, axis=0, dtype=np.float64), 0.001, 0.999)
        self.head.bias.assign(np.log(mean / (1.0 - mean)).reshape(-1).astype(np.float32))

    def __call__(self, z: tf.Tensor) -> tfd.Distribution:
        h = z
        for index, layer in enumerate(self.hidden):
            h = layer(tf.concat([h, z], axis=-1) if self.skip and index > 0 else h)
        if self.skip and self.hidden:
            h = tf.concat([h, z], axis=-1)
        if self.kind == "tokens":
            return self._token_distribution(z, self.head(h))
        out = tf.reshape(self.head(h), (-1, *self.event_shape))
        ndims = len(self.event_shape)
        if self.kind == "binary":
            return tfd.Independent(tfd.Bernoulli(logits=out, dtype=tf.float32), ndims)
        return tfd.Independent(tfd.Normal(loc=out, scale=tf.exp(self.log_scale)), ndims)

    def _token_distribution(self, z: tf.Tensor, head: tf.Tensor) -> tfd.Distribution:
        logits = tf.reshape(head, (-1, *self.event_shape, self.vocab_size)) + self._blocked

        def log_prob_fn(x: tf.Tensor) -> tf.Tensor:
            return token_log_prob(logits, x)

        def sample_fn(n: int, seed) -> tf.Tensor:
            tokens = tfd.Categorical(logits=logits, dtype=tf.int32).sample(n, seed=seed)
            return tf.where(valid_positions(tokens), tokens, PAD_ID)  # PAD after the EOS

        return BoundDistribution(
            log_prob_fn, sample_fn, z.shape[:-1], self.event_shape, tf.int32, "MLPTokens"
        )


class LinearDecoder(tf.Module):
    """Linear-Gaussian decoder p(x|z) = N(W z + b, sigma^2 I), the pPCA likelihood.

    sigma is a single learned scalar, as in probabilistic PCA (Tipping & Bishop 1999) and the
    linear VAE of Lucas et al. 2019.

    Args:
        latent_dim: Dimension of z.
        event_shape: Shape of one example (a vector).
        kind: Must be ``"real"``.
    """

    def __init__(self, latent_dim: int, event_shape: Sequence[int], kind: str):
        super().__init__(name="linear_decoder")
        if kind != "real" or len(event_shape) != 1:
            raise ValueError(
                f"linear decoder needs real-valued vector data, got kind {kind!r} with "
                f"example shape {tuple(event_shape)}"
            )
        self.event_shape = (int(event_shape[0]),)
        self.dense = tf_keras.layers.Dense(self.event_shape[0])
        self.log_scale = tf.Variable(0.0, name="log_scale")
        self(tf.zeros((1, int(latent_dim))))

    def __call__(self, z: tf.Tensor) -> tfd.Distribution:
        loc = self.dense(z)
        return tfd.Independent(tfd.Normal(loc=loc, scale=tf.exp(self.log_scale)), 1)


def build_decoder(
    options: Mapping[str, Any],
    latent_dim: int,
    event_shape: Sequence[int],
    kind: str,
    vocab_size: int | None = None,
) -> tf.Module:
    """Builds the decoder named by ``options["type"]`` with the remaining options.

    Args:
        options: ``type`` plus that decoder's options.
        latent_dim: Dimension of z.
        event_shape: Shape of one example.
        kind: Dataset kind.
        vocab_size: Number of token ids (token data only; given to decoders that take it).

    Raises:
        KeyError: On an unknown decoder type, listing the registered ones.
        TypeError: On an unknown option.
    """
    name = options.get("type")
    cls = decoder_class(name)
    given = _check_options(name, options)
    if "vocab_size" in inspect.signature(cls.__init__).parameters:
        given["vocab_size"] = vocab_size
    return cls(latent_dim, event_shape, kind, **given)
