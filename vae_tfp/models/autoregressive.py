"""Autoregressive decoders for binary data, conditioned on z: MADE and their shared helpers.

An autoregressive decoder factorizes the likelihood over the D data dimensions in a fixed
order (raster order for images),

    log p(x | z) = sum_i log p(x_i | x_<i, z),

and computes every factor in one pass over the observed x (teacher forcing): output i of the
network may depend on z and on x_j for j < i only (the autoregressive property, checked by
``tests/test_decoders.py``). Sampling is ancestral, one dimension after the other.

Such a decoder can model the data without z, which is why posterior collapse is most severe
with it (Bowman et al. 2016; Chen et al. 2017, "Variational Lossy Autoencoder", Sec. 2.2):
the ELBO is log p(x) - KL(q(z|x) || p(z|x)), and a decoder that ignores z makes p(z|x) = p(z)
exactly, which q(z|x) = p(z) matches at zero cost.

- ``made``: a masked autoencoder (Germain et al. 2015) from
  ``tfp.bijectors.AutoregressiveNetwork`` with z as its conditional input, Bernoulli outputs,
  wrapped in ``tfp.distributions.Autoregressive`` (teacher-forced ``log_prob``, ancestral
  ``sample``).
- ``pixelcnn``: ``tfp.distributions.PixelCNN`` (Salimans et al. 2017, PixelCNN++: gated
  residual blocks over the shifted vertical and horizontal stacks of van den Oord et al.
  2016) with z as its conditional input (added in every gated block, as in the conditional
  PixelCNN of van den Oord et al. 2016, eq. 4). It is TFP's own implementation, used with
  ``tf_keras`` as TFP 0.25 does internally; :mod:`vae_tfp.models.pixelcnn`.

This module also holds the helpers the autoregressive decoders share
(:class:`BoundDistribution`, :class:`BernoulliAutoregressive`, :func:`image_shape_of`,
:func:`broadcast_batch`, :func:`stateless_seed`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

tfd = tfp.distributions
tfb = tfp.bijectors


class BoundDistribution(tfd.Distribution):
    """A distribution over x given by callables already bound to the conditioning input z.

    It lets a decoder keep the interface ``decoder(z) -> tfd.Distribution`` when the TFP
    likelihood takes z as a call argument (``tfd.PixelCNN.log_prob(x,
    conditional_input=z)``) or when sampling needs a loop of its own (token sequences). The
    likelihood itself is always computed by ``tfp.distributions`` objects inside
    ``log_prob_fn``.

    Args:
        log_prob_fn: ``f(x) -> log p(x | z)`` with shape ``batch_shape`` (x [*batch, *event]).
        sample_fn: ``f(n, seed) -> x`` with shape [n, *batch, *event].
        batch_shape: Static batch shape (the batch shape of z).
        event_shape: Static event shape (the shape of one example).
        dtype: Dtype of x.
        name: Name of the distribution.
    """

    def __init__(
        self,
        log_prob_fn: Callable[[tf.Tensor], tf.Tensor],
        sample_fn: Callable[[int, object], tf.Tensor],
        batch_shape: tf.TensorShape,
        event_shape: Sequence[int],
        dtype: tf.DType,
        name: str = "BoundDistribution",
    ):
        parameters = dict(locals())
        self._log_prob_fn = log_prob_fn
        self._sample_fn = sample_fn
        self._static_batch_shape = tf.TensorShape(batch_shape)
        self._static_event_shape = tf.TensorShape(list(event_shape))
        super().__init__(
            dtype=dtype,
            reparameterization_type=tfd.NOT_REPARAMETERIZED,
            validate_args=False,
            allow_nan_stats=True,
            parameters=parameters,
            name=name,
        )

    def _batch_shape(self) -> tf.TensorShape:
        return self._static_batch_shape

    def _event_shape(self) -> tf.TensorShape:
        return self._static_event_shape

    def _event_shape_tensor(self) -> tf.Tensor:
        return tf.constant(self._static_event_shape.as_list(), tf.int32)

    def _log_prob(self, value: tf.Tensor) -> tf.Tensor:
        return self._log_prob_fn(value)

    def _sample_n(self, n: int, seed=None) -> tf.Tensor:
        return self._sample_fn(n, seed)


def stateless_seed(seed: int | tf.Tensor | None) -> tf.Tensor:
    """A stateless seed (int32 [2]) from an integer (``[seed, 0]``: the same integer gives the
    same samples), from a seed tensor, or a fresh random one from None."""
    if seed is None:
        return tfp.random.sanitize_seed(None)
    if isinstance(seed, int | np.integer):
        return tf.constant([int(seed), 0], tf.int32)
    return tf.cast(seed, tf.int32)


def _check_binary(name: str, kind: str) -> None:
    if kind != "binary":
        raise ValueError(f"{name} decoder models binary data (Bernoulli), got kind {kind!r}")


def image_shape_of(event_shape: Sequence[int]) -> tuple[int, int, int]:
    """The [height, width, channels] image that an example of ``event_shape`` holds.

    A flat example of D values is a square single-channel image (D = side^2, e.g. the 64
    pixels of ``digits`` are 8x8); [H, W] is [H, W, 1]; [H, W, C] is itself.

    Raises:
        ValueError: If a flat example is not a square number of pixels, or the rank is > 3.
    """
    dims = tuple(int(d) for d in event_shape)
    if len(dims) == 1:
        side = math.isqrt(dims[0])
        if side * side != dims[0]:
            raise ValueError(
                f"a flat example of {dims[0]} values is not a square image; give the data an "
                "image shape [H, W] or [H, W, C]"
            )
        return side, side, 1
    if len(dims) == 2:
        return dims[0], dims[1], 1
    if len(dims) == 3:
        return dims  # type: ignore[return-value]
    raise ValueError(f"example shape {dims} is not an image")


def broadcast_batch(
    x: tf.Tensor, z: tf.Tensor, event_shape: Sequence[int], latent_dim: int
) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """``x`` [*batch_x, *event_shape] (as float32) and ``z`` [*batch_z, latent_dim]
    broadcast to their common batch shape, as ``tfd.Autoregressive.sample(n)`` needs.

    Returns:
        (x, z, the batch shape).
    """
    x = tf.cast(x, tf.float32)
    x_batch = tf.shape(x)[: tf.rank(x) - len(event_shape)]
    batch = tf.broadcast_dynamic_shape(x_batch, tf.shape(z)[:-1])
    x = tf.broadcast_to(x, tf.concat([batch, event_shape], 0))
    z = tf.broadcast_to(z, tf.concat([batch, [latent_dim]], 0))
    return x, z, batch


class BernoulliAutoregressive:
    """p(x|z) of a decoder with ``logits(x, z)`` (logit i depends on z and x_<i only),
    ``event_shape`` and ``event_size``: a ``tfd.Autoregressive`` of independent Bernoullis,
    whose log_prob is one network pass and whose samples take ``event_size`` passes."""

    event_shape: tuple[int, ...]
    event_size: int

    def __call__(self, z: tf.Tensor) -> tfd.Distribution:
        return self.distribution(z, lambda x: self.logits(x, z))

    def distribution(self, z: tf.Tensor, logits_of: Callable[[tf.Tensor], tf.Tensor]):
        """The ``tfd.Autoregressive`` of Bernoulli pixels whose logits given x are
        ``logits_of(x)`` (a decoder's logits at ``z``)."""
        ndims = len(self.event_shape)

        def distribution_fn(x: tf.Tensor) -> tfd.Distribution:
            return tfd.Independent(tfd.Bernoulli(logits=logits_of(x), dtype=tf.float32), ndims)

        sample0 = tf.zeros(tf.concat([tf.shape(z)[:-1], self.event_shape], 0))
        return tfd.Autoregressive(distribution_fn, sample0=sample0, num_steps=self.event_size)

    def sample(self, z: tf.Tensor, seed: int | tf.Tensor) -> tf.Tensor:
        """One ancestral sample x ~ p(x|z) per row of z, shape [*batch, *event_shape]."""
        return self(z).sample(seed=stateless_seed(seed))


class ZMapImageDecoder(BernoulliAutoregressive):
    """What He et al. 2019's PixelCNN decoders share (``gated_pixelcnn``,
    ``residual_pixelcnn``): one-channel binary images, odd kernel widths, and z entering as
    ``maps`` feature maps of the image's size (the subclass's ``z_map`` layer, z -> H*W*F
    values) joined after the image channel."""

    latent_dim: int
    image_shape: tuple[int, int, int]
    maps: int
    z_map: Callable[[tf.Tensor], tf.Tensor]

    def _set_shapes(
        self,
        name: str,
        latent_dim: int,
        event_shape: Sequence[int],
        kind: str,
        kernel_sizes: Sequence[int],
        min_layers: int,
    ) -> list[int]:
        """Checks and sets the shapes; returns the kernel widths as ints.

        Raises:
            ValueError: On non-binary data, a multi-channel image, fewer than
                ``min_layers`` kernel widths or an even one.
        """
        _check_binary(name, kind)
        self.latent_dim = int(latent_dim)
        self.event_shape = tuple(int(d) for d in event_shape)
        self.event_size = int(np.prod(self.event_shape))
        self.image_shape = image_shape_of(self.event_shape)
        if self.image_shape[2] != 1:
            raise ValueError(f"{name} models one-channel images, got {self.image_shape}")
        kernels = [int(k) for k in kernel_sizes]
        if len(kernels) < min_layers or any(k < 1 or k % 2 == 0 for k in kernels):
            raise ValueError(
                f"kernel_sizes must be at least {min_layers} odd widths, got {kernels}"
            )
        return kernels

    def _joined_input(self, x: tf.Tensor, z: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """([N, H, W, 1 + maps]: the images and z's maps, joined; the batch shape that
        ``x`` [*batch, *event_shape] and ``z`` [*batch, latent_dim] broadcast to)."""
        height, width, _ = self.image_shape
        x, z, batch = broadcast_batch(x, z, self.event_shape, self.latent_dim)
        images = tf.reshape(x, (-1, height, width, 1))
        z_maps = tf.reshape(
            self.z_map(tf.reshape(z, (-1, self.latent_dim))), (-1, height, width, self.maps)
        )
        return tf.concat([images, z_maps], axis=-1), batch

    def _event_logits(self, logits: tf.Tensor, batch: tf.Tensor) -> tf.Tensor:
        """[N, H, W, 1] logits reshaped to [*batch, *event_shape]."""
        return tf.reshape(logits, tf.concat([batch, self.event_shape], 0))


class MADEDecoder(BernoulliAutoregressive, tf.Module):
    """Masked autoregressive decoder p(x|z) = prod_i Bernoulli(x_i | logit_i(x_<i, z)).

    MADE (Germain et al. 2015) as ``tfp.bijectors.AutoregressiveNetwork(params=1,
    conditional=True)``: masked dense layers in the natural (left-to-right, raster) order of
    the flattened example, z entering unmasked. ``__call__`` returns a
    ``tfd.Autoregressive`` whose ``log_prob`` evaluates all D conditionals in one pass over x
    (teacher forcing) and whose ``sample`` draws the D dimensions one after the other.

    Args:
        latent_dim: Dimension of z.
        event_shape: Shape of one example (flattened internally).
        kind: Must be ``"binary"``.
        hidden_units: Widths of the masked ReLU hidden layers.
        conditional_input_layers: ``"all_layers"`` (z enters every hidden layer and the
            output) or ``"first_layer"`` (z enters the first hidden layer only, so the
            decoder can ignore it more easily); TFP's option of the same name.

    Raises:
        ValueError: On non-binary data or an unknown ``conditional_input_layers``.
    """

    def __init__(
        self,
        latent_dim: int,
        event_shape: Sequence[int],
        kind: str,
        hidden_units: Sequence[int] = (128, 128),
        conditional_input_layers: str = "all_layers",
    ):
        super().__init__(name="made_decoder")
        _check_binary("made", kind)
        if conditional_input_layers not in ("all_layers", "first_layer"):
            raise ValueError(
                "conditional_input_layers must be 'all_layers' or 'first_layer', got "
                f"{conditional_input_layers!r}"
            )
        self.latent_dim = int(latent_dim)
        self.event_shape = tuple(int(d) for d in event_shape)
        self.event_size = int(np.prod(self.event_shape))
        self.network = tfb.AutoregressiveNetwork(
            params=1,
            event_shape=(self.event_size,),
            conditional=True,
            conditional_event_shape=(self.latent_dim,),
            conditional_input_layers=conditional_input_layers,
            hidden_units=[int(u) for u in hidden_units],
            activation="relu",
        )
        self.logits(tf.zeros((1, *self.event_shape)), tf.zeros((1, self.latent_dim)))

    def logits(self, x: tf.Tensor, z: tf.Tensor) -> tf.Tensor:
        """Bernoulli logits of p(x_i | x_<i, z) for every i, shape [*batch, *event_shape].

        Logit i depends on z and on x_j, j < i, only (flattened order). ``x`` and ``z``
        broadcast over their leading (batch) dimensions.
        """
        x, z, batch = broadcast_batch(x, z, self.event_shape, self.latent_dim)
        flat = tf.reshape(x, tf.concat([batch, [self.event_size]], 0))
        out = self.network(flat, conditional_input=z)[..., 0]
        return tf.reshape(out, tf.concat([batch, self.event_shape], 0))
