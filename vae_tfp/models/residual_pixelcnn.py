"""He et al. 2019's residual PixelCNN decoder for binary images (``residual_pixelcnn``).

The decoder that He, Spokoyny, Neubig & Berg-Kirkpatrick's Omniglot script trains
("Lagging Inference Networks and Posterior Collapse in Variational Autoencoders", ICLR
2019): ``image.py`` of jxhe/vae-lagging-encoder at commit cdc4eb9 builds
``PixelCNNDecoderV2`` (``modules/decoders/dec_pixelcnn_v2.py``, its ``'large'`` mode),
written here in TensorFlow after reading that file. For an H x W binary image x and z:

- z enters as a map: a linear layer z -> F*H*W (``latent_feature_maps`` F = 4, their
  ``--latent_feature_map``), reshaped to F channels of H x W and joined after the image
  channel. Only the image channel is masked (their ``masked_channels`` = 1): every pixel's
  output sees all of z.
- block 0: a masked convolution of type A (the image channel at the centre and after it in
  raster order is cut), batch normalisation, ELU, to ``channels`` = 64 channels;
- blocks 1 .. L-1 (L = 13, kernels 7,7,7,7,7,5,5,5,5,3,3,3,3): residual blocks, 1x1
  convolution to 32 channels, BN, ELU, a masked k x k convolution of type B (the centre
  kept), BN, ELU, 1x1 convolution back to 64, BN; ELU of the sum with the block's input;
- direct connections: from block 3 on, the input of block i also receives a residual
  block (kernel of block i - 2) of block i - 3's output, and the network's output is block
  L-1's plus such a block of block L-3's output;
- a head of 1x1 convolution (64 -> 64), BN, ELU, 1x1 convolution to one channel: the
  Bernoulli logit of pixel i given the pixels before it in raster order and z.

Every convolution has no bias. Initialisation as their code: the blocks' convolutions
normal with standard deviation sqrt(2 / (k * k * out_channels)); the head's two
convolutions PyTorch's default, uniform in +-1/sqrt(fan_in); the z layer Glorot-uniform
with a zero bias; BN scale 1 and shift 0. Batch normalisation uses the batch's statistics
in training steps (``training=True``) and moving averages elsewhere, as PyTorch's
``train()`` and ``eval()`` modes (momentum 0.1 there, 0.9 in Keras's convention; epsilon
1e-5). In a training step the batch statistics pool every pixel of the batch, so a logit
depends through them, very weakly, on later pixels: that is their network too; the
likelihood that validation and evaluation compute, with moving averages, is exactly
autoregressive.

Differences that remain: the z map is reshaped channels-last (H, W, F) where theirs is
(F, H, W), a permutation of the linear layer's outputs (the same model family and
initial distribution); theirs takes the log of sigmoid + 1e-12 where the suite's
Bernoulli works on the logits; Keras's moving variance averages the biased batch
variance, PyTorch's the unbiased one (a factor n / (n - 1), n = batch x H x W).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import tensorflow as tf
import tf_keras

from vae_tfp.models.autoregressive import ZMapImageDecoder

HE_V2_KERNEL_SIZES = (7, 7, 7, 7, 7, 5, 5, 5, 5, 3, 3, 3, 3)
BN_MOMENTUM, BN_EPSILON = 0.9, 1e-5  # PyTorch's momentum 0.1 in Keras's convention


def raster_mask(kernel_size: int, in_channels: int, out_channels: int, masked: int, kind: str):
    """The [k, k, in, out] mask of a masked convolution (van den Oord et al. 2016): on the
    first ``masked`` input channels, the positions after the centre in raster order are
    cut, and the centre too for ``kind`` ``"A"``; other input channels are not masked."""
    mask = np.ones((kernel_size, kernel_size, in_channels, out_channels), np.float32)
    centre = kernel_size // 2
    mask[centre, centre + (kind == "B") :, :masked] = 0.0
    mask[centre + 1 :, :, :masked] = 0.0
    return tf.constant(mask)


def he_normal(kernel_size: int, out_channels: int):
    """Their blocks' initialisation: normal, standard deviation sqrt(2 / (k * k * out))."""
    return tf_keras.initializers.RandomNormal(
        stddev=math.sqrt(2.0 / (kernel_size * kernel_size * out_channels))
    )


class MaskedConv2D(tf.Module):
    """A same-padded k x k convolution without bias whose kernel is multiplied by
    :func:`raster_mask` in every call (their ``MaskedConv2d``)."""

    def __init__(self, kernel_size, in_channels, out_channels, masked, kind):
        super().__init__(name=f"masked_conv_{kind}")
        initializer = he_normal(kernel_size, out_channels)
        shape = (kernel_size, kernel_size, in_channels, out_channels)
        self.kernel = tf.Variable(initializer(shape), name="kernel")
        self.mask = raster_mask(kernel_size, in_channels, out_channels, masked, kind)

    def __call__(self, x: tf.Tensor) -> tf.Tensor:
        return tf.nn.conv2d(x, self.kernel * self.mask, strides=1, padding="SAME")


def _conv1x1(out_channels: int, initializer=None):
    return tf_keras.layers.Conv2D(
        out_channels,
        1,
        use_bias=False,
        kernel_initializer=initializer or he_normal(1, out_channels),
    )


def batch_norm():
    """Batch normalisation as PyTorch's ``nn.BatchNorm2d`` defaults (momentum 0.1 there)."""
    return tf_keras.layers.BatchNormalization(momentum=BN_MOMENTUM, epsilon=BN_EPSILON)


class ResidualMaskedBlock(tf.Module):
    """Their ``PixelCNNBlock``: 1x1 to half the channels, BN, ELU, masked k x k (type B),
    BN, ELU, 1x1 back, BN; ELU of the sum with the input."""

    def __init__(self, channels: int, kernel_size: int):
        super().__init__(name="residual_masked_block")
        half = channels // 2
        self.reduce, self.reduce_norm = _conv1x1(half), batch_norm()
        self.masked = MaskedConv2D(kernel_size, half, half, half, "B")
        self.masked_norm = batch_norm()
        self.expand, self.expand_norm = _conv1x1(channels), batch_norm()

    def __call__(self, x: tf.Tensor, training: bool) -> tf.Tensor:
        h = tf.nn.elu(self.reduce_norm(self.reduce(x), training=training))
        h = tf.nn.elu(self.masked_norm(self.masked(h), training=training))
        return tf.nn.elu(self.expand_norm(self.expand(h), training=training) + x)


class ResidualPixelCNNDecoder(ZMapImageDecoder, tf.Module):
    """He et al. 2019's ``PixelCNNDecoderV2``: p(x|z) = prod_i Bernoulli(x_i | logit_i(x_<i, z)).

    See the module docstring for the network and the source it follows. ``__call__(z,
    training=False)`` returns a ``tfd.Autoregressive`` over Bernoulli pixels; ``training``
    selects batch statistics in its batch normalisations.

    Args:
        latent_dim: Dimension of z.
        event_shape: Shape of one example (flat square, [H, W] or [H, W, 1]).
        kind: Must be ``"binary"``.
        kernel_sizes: Kernel width of each block (one block per entry; odd; at least 3).
        channels: Channels between blocks (even: the residual blocks halve them).
        latent_feature_maps: Channels F of the H x W map that z enters as.

    Raises:
        ValueError: On non-binary data, a multi-channel image, fewer than 3 blocks, an even
            kernel or odd ``channels``.
    """

    uses_batch_statistics = True

    def __init__(
        self,
        latent_dim: int,
        event_shape: Sequence[int],
        kind: str,
        kernel_sizes: Sequence[int] = HE_V2_KERNEL_SIZES,
        channels: int = 64,
        latent_feature_maps: int = 4,
    ):
        super().__init__(name="residual_pixelcnn_decoder")
        kernels = self._set_shapes(
            "residual_pixelcnn", latent_dim, event_shape, kind, kernel_sizes, min_layers=3
        )
        channels = int(channels)
        if channels < 2 or channels % 2:
            raise ValueError(f"channels must be even (blocks halve them), got {channels}")
        height, width, _ = self.image_shape
        self.maps = int(latent_feature_maps)
        self.z_map = tf_keras.layers.Dense(self.maps * height * width, name="z_map")
        self.first = MaskedConv2D(kernels[0], 1 + self.maps, channels, 1, "A")
        self.first_norm = batch_norm()
        self.blocks = [ResidualMaskedBlock(channels, k) for k in kernels[1:]]
        # Their direct_connects: one block per kernel_sizes[1 : L - 1].
        self.direct = [ResidualMaskedBlock(channels, k) for k in kernels[1:-1]]
        bound = 1.0 / math.sqrt(channels)  # PyTorch's default for the head: fan_in = channels
        self.head_conv = _conv1x1(channels, tf_keras.initializers.RandomUniform(-bound, bound))
        self.head_norm = batch_norm()
        self.head_out = _conv1x1(1, tf_keras.initializers.RandomUniform(-bound, bound))
        self.logits(tf.zeros((1, *self.event_shape)), tf.zeros((1, self.latent_dim)))

    def __call__(self, z: tf.Tensor, training: bool = False):
        return self.distribution(z, lambda x: self.logits(x, z, training=training))

    def logits(self, x: tf.Tensor, z: tf.Tensor, training: bool = False) -> tf.Tensor:
        """Bernoulli logits of p(x_i | x_<i, z) for every pixel i, shape [*batch, *event_shape].

        Without ``training`` (moving BN statistics) logit i depends on z and on the pixels
        before i in raster order only. ``x`` [*batch, *event_shape] and ``z`` [*batch,
        latent_dim] broadcast over their batch dimensions.
        """
        h, batch = self._joined_input(x, z)
        h = tf.nn.elu(self.first_norm(self.first(h), training=training))
        outputs = [h]  # every block's output; the direct connections read three back
        for i, block in enumerate(self.blocks, start=1):
            if i >= 3:
                h = h + self.direct[i - 3](outputs[i - 3], training)
            h = block(h, training)
            outputs.append(h)
        h = h + self.direct[-1](outputs[-3], training)
        h = tf.nn.elu(self.head_norm(self.head_conv(h), training=training))
        return self._event_logits(self.head_out(h), batch)
