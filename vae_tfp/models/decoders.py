"""Decoders p(x|z) returning ``tfp.distributions`` objects, and their registry.

Each decoder type is a ``tf.Module`` with ``__call__(z) -> tfd.Distribution`` whose event
shape is the example shape, built by ``from_options(options, latent_dim, event_shape,
kind)``. ``kind`` is the dataset kind: ``"binary"`` gives Bernoulli likelihoods, ``"real"``
Gaussian ones.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp
import tf_keras

tfd = tfp.distributions


def _check_options(name: str, cls: type, options: Mapping[str, Any]) -> dict[str, Any]:
    """Drops ``type`` and rejects options that ``cls.__init__`` does not take."""
    accepted = [
        p
        for p in inspect.signature(cls.__init__).parameters
        if p not in ("self", "latent_dim", "event_shape", "kind")
    ]
    given = {k: v for k, v in options.items() if k != "type"}
    unknown = sorted(set(given) - set(accepted))
    if unknown:
        raise TypeError(f"decoder {name!r} got unknown options {unknown}; accepted: {accepted}")
    return given


class MLPDecoder(tf.Module):
    """MLP decoder: Bernoulli logits for binary data, Gaussian for real-valued data.

    The Gaussian version has a learned per-dimension log standard deviation that does not
    depend on z (a common choice that keeps the likelihood bounded).

    Args:
        latent_dim: Dimension of z.
        event_shape: Shape of one example.
        kind: ``"binary"`` or ``"real"``.
        hidden_units: Widths of the ReLU hidden layers.
    """

    def __init__(
        self,
        latent_dim: int,
        event_shape: Sequence[int],
        kind: str,
        hidden_units: Sequence[int] = (64, 64),
    ):
        super().__init__(name="mlp_decoder")
        if kind not in ("binary", "real"):
            raise ValueError(f"mlp decoder supports kinds 'binary' and 'real', got {kind!r}")
        self.kind = kind
        self.event_shape = tuple(int(d) for d in event_shape)
        self.hidden = [tf_keras.layers.Dense(int(u), activation="relu") for u in hidden_units]
        self.head = tf_keras.layers.Dense(int(np.prod(self.event_shape)))
        if kind == "real":
            self.log_scale = tf.Variable(tf.zeros(self.event_shape), name="log_scale")
        self(tf.zeros((1, int(latent_dim))))  # create the weights now

    def __call__(self, z: tf.Tensor) -> tfd.Distribution:
        h = z
        for layer in self.hidden:
            h = layer(h)
        out = tf.reshape(self.head(h), (-1, *self.event_shape))
        ndims = len(self.event_shape)
        if self.kind == "binary":
            return tfd.Independent(tfd.Bernoulli(logits=out, dtype=tf.float32), ndims)
        return tfd.Independent(tfd.Normal(loc=out, scale=tf.exp(self.log_scale)), ndims)


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


DECODERS: dict[str, type[tf.Module]] = {"mlp": MLPDecoder, "linear": LinearDecoder}


def build_decoder(
    options: Mapping[str, Any], latent_dim: int, event_shape: Sequence[int], kind: str
) -> tf.Module:
    """Builds the decoder named by ``options["type"]`` with the remaining options.

    Raises:
        KeyError: On an unknown decoder type, listing the registered ones.
        TypeError: On an unknown option.
    """
    name = options.get("type")
    if name not in DECODERS:
        raise KeyError(f"unknown decoder type {name!r}; registered: {sorted(DECODERS)}")
    cls = DECODERS[name]
    return cls(latent_dim, event_shape, kind, **_check_options(name, cls, options))
