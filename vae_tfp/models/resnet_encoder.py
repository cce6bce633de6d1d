"""He et al. 2019's ResNet encoder for images (``model.encoder_network: resnet``).

The encoder of He et al.'s Omniglot script (``image.py`` of jxhe/vae-lagging-encoder at
commit cdc4eb9 builds ``ResNetEncoderV2``, ``modules/encoders/enc_resnet_v2.py``),
written here in TensorFlow after reading that file:

- residual blocks of 3x3 convolutions, stride 2 each (``encoder_resnet_channels``
  64, 64, 64: 28 -> 14 -> 7 -> 4): conv (stride 2), BN, ELU, conv, BN, plus the input (a
  1x1 convolution of stride 2 and BN where the shape changes), ELU;
- a convolution over the whole remaining map (4 x 4 for 28 x 28 images) to
  ``encoder_resnet_units`` = 512 channels, BN, ELU;
- a linear layer to the mean and log-variance of q(z|x).

The convolutions have no bias and pad by 1 on every side as PyTorch's ``padding=1``
(TensorFlow's ``SAME`` would pad a stride-2 convolution on one side only); they start
normal with standard deviation sqrt(2 / (k * k * out_channels)), BN at scale 1 and shift
0, the linear layer Glorot-uniform with a zero bias, as their ``reset_parameters``. Batch
normalisation uses batch statistics in training steps and moving averages elsewhere
(PyTorch momentum 0.1, epsilon 1e-5).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import tensorflow as tf
import tf_keras

from vae_tfp.models.autoregressive import image_shape_of
from vae_tfp.models.residual_pixelcnn import batch_norm, he_normal

HE_V2_CHANNELS = (64, 64, 64)


def _conv(out_channels: int, kernel_size: int, stride: int = 1):
    return tf_keras.layers.Conv2D(
        out_channels,
        kernel_size,
        strides=stride,
        padding="valid",
        use_bias=False,
        kernel_initializer=he_normal(kernel_size, out_channels),
    )


def _pad1(x: tf.Tensor) -> tf.Tensor:
    return tf.pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]])


class ResNetBlock(tf.Module):
    """Their ``ResNetBlock``: two 3x3 convolutions (the first with ``stride``) with BN, ELU
    between, a shortcut (1x1 convolution and BN when the shape changes), ELU of the sum."""

    def __init__(self, in_channels: int, channels: int, stride: int):
        super().__init__(name="resnet_block")
        self.conv1, self.norm1 = _conv(channels, 3, stride), batch_norm()
        self.conv2, self.norm2 = _conv(channels, 3), batch_norm()
        self.shortcut = None
        if stride != 1 or in_channels != channels:
            self.shortcut = (_conv(channels, 1, stride), batch_norm())

    def __call__(self, x: tf.Tensor, training: bool) -> tf.Tensor:
        residual = x
        if self.shortcut is not None:
            conv, norm = self.shortcut
            residual = norm(conv(x), training=training)
        h = tf.nn.elu(self.norm1(self.conv1(_pad1(x)), training=training))
        h = self.norm2(self.conv2(_pad1(h)), training=training)
        return tf.nn.elu(h + residual)


class ResNetEncoder(tf.Module):
    """He et al. 2019's ``ResNetEncoderV2``: q(z|x) = N(mu(x), diag(exp(log_var(x)))).

    Args:
        event_shape: Shape of one image (flat square, [H, W] or [H, W, C]).
        latent_dim: Dimension of z.
        channels: Channels of each stride-2 residual block.
        units: Channels of the convolution over the last map.

    Raises:
        ValueError: If no block is given.
    """

    uses_batch_statistics = True

    def __init__(
        self,
        event_shape: Sequence[int],
        latent_dim: int,
        channels: Sequence[int] = HE_V2_CHANNELS,
        units: int = 512,
    ):
        super().__init__(name="resnet_encoder")
        channels = [int(c) for c in channels]
        if not channels:
            raise ValueError("encoder_resnet_channels must name at least one block")
        self.event_shape = tuple(int(d) for d in event_shape)
        self.image_shape = image_shape_of(self.event_shape)
        self.latent_dim = int(latent_dim)
        in_channels = [self.image_shape[2], *channels[:-1]]
        self.blocks = [ResNetBlock(i, c, 2) for i, c in zip(in_channels, channels, strict=True)]
        side = self.image_shape[0]
        for _ in channels:
            side = (side - 1) // 2 + 1  # a 3x3 convolution of stride 2 with padding 1
        self.summary = _conv(int(units), side)  # the whole side x side map to 1 x 1
        self.summary_norm = batch_norm()
        self.head = tf_keras.layers.Dense(2 * self.latent_dim, bias_initializer="zeros")
        self.params(tf.zeros((1, *self.event_shape)))  # create the weights now

    def params(self, x: tf.Tensor, training: bool = False) -> tuple[tf.Tensor, tf.Tensor]:
        """Returns (loc, log_var), each [batch, latent_dim]; ``training`` selects the
        batch statistics of the batch normalisations."""
        h = tf.reshape(tf.cast(x, tf.float32), (-1, *self.image_shape))
        for block in self.blocks:
            h = block(h, training)
        h = tf.nn.elu(self.summary_norm(self.summary(h), training=training))
        h = tf.reshape(h, (-1, int(np.prod(h.shape[1:]))))
        loc, log_var = tf.split(self.head(h), 2, axis=-1)
        return loc, log_var
