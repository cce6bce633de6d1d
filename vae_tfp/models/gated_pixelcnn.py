"""He et al. 2019's gated PixelCNN decoder for binary images (``gated_pixelcnn``).

The decoder of "Lagging Inference Networks and Posterior Collapse in Variational
Autoencoders" (He, Spokoyny, Neubig & Berg-Kirkpatrick, ICLR 2019) for Omniglot, written
here in TensorFlow after reading ``modules/decoders/dec_pixelcnn.py`` (``PixelCNNDecoder``,
``StackedGatedMaskedConv2d``, ``GatedMaskedConv2d``) and ``config/config_omniglot.py`` of
jxhe/vae-lagging-encoder at commit cdc4eb9. The network, for an H x W binary image x and z:

- z enters as a map: a linear layer z -> F*H*W (``latent_feature_map`` F = 4), reshaped to
  F channels of H x W and concatenated to the image channel; the joined F + 1 channels are
  the input of both stacks of the first layer. The z map is masked like the image, so
  pixel i sees the map at the pixels before i only: pixel 0 does not depend on z, every
  later pixel on all of z (through the linear layer).
- L gated layers (12 x 32 channels, kernels 9,9,9,7,7,7,5,5,5,3,3,3), each with the
  vertical and horizontal stacks of van den Oord et al. 2016 ("Conditional Image
  Generation with PixelCNN Decoders"), blind-spot free:
  * vertical: a (k//2 + 1) x k convolution over the rows r - k//2 .. r, shifted down one
    row, so row r sees rows above it only; gated, tanh(a) * sigmoid(b), into the next
    layer's vertical stack;
  * horizontal: a 1 x (k//2 + 1) convolution over the columns c - k//2 .. c of the same
    row (in the first layer, type A, shifted right one column so it excludes the pixel
    itself), plus a 1x1 convolution of the vertical stack's pre-gate output; gated, then a
    1x1 convolution, plus the layer's horizontal input as a residual (layers of type B).
- a 1x1 convolution of the last horizontal stack to one channel: the Bernoulli logit of
  pixel i given the pixels before it in raster order and z. He et al. clamp the
  probability to [1e-5, 1 - 1e-5]; the logits here are clipped to the same range.

So log p(x | z) = sum_i log Bernoulli(x_i | logit_i(x_<i, z)), all i in one pass over x
(teacher forcing); sampling is ancestral, pixel after pixel (``tfd.Autoregressive``).
Initialisation follows PyTorch's defaults as their code leaves them: convolution kernels
and biases uniform in +-1/sqrt(fan_in); the z layer's weights normal with standard
deviation sqrt(2 / latent_dim) (their ``he_init``), its bias uniform in +-1/sqrt(latent_dim).

Differences that remain:

- He et al.'s ``image.py`` at cdc4eb9 (and since 2018-09-10) builds ``PixelCNNDecoderV2``
  (``modules/decoders/dec_pixelcnn_v2.py``: 13 residual blocks of 64 channels with batch
  normalisation and ELU, kernels 7,7,7,7,7,5,5,5,5,3,3,3,3, which ignores ``dec_layers``
  and ``dec_kernel_size``), not this network; this is the gated network that the
  configuration's sizes describe.
- The z map is reshaped channels-last (H, W, F) where theirs is (F, H, W): a permutation
  of the linear layer's outputs, the same model family and initial distribution.
- Images of one channel only (theirs takes ``img_size[0]`` channels but masks no channel
  order).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import tensorflow as tf
import tf_keras

from vae_tfp.models.autoregressive import ZMapImageDecoder

HE_KERNEL_SIZES = (9, 9, 9, 7, 7, 7, 5, 5, 5, 3, 3, 3)
# He et al.'s clamp of the Bernoulli probability to [1e-5, 1 - 1e-5], as a logit bound.
LOGIT_BOUND = math.log((1.0 - 1e-5) / 1e-5)


def _conv(filters: int, kernel: tuple[int, int], in_channels: int, name: str):
    """A valid-padded convolution initialised as PyTorch's ``nn.Conv2d`` (kernel and bias
    uniform in +-1/sqrt(fan_in))."""
    bound = 1.0 / math.sqrt(in_channels * kernel[0] * kernel[1])
    return tf_keras.layers.Conv2D(
        filters,
        kernel,
        padding="valid",
        kernel_initializer=tf_keras.initializers.RandomUniform(-bound, bound),
        bias_initializer=tf_keras.initializers.RandomUniform(-bound, bound),
        name=name,
    )


def _shift(x: tf.Tensor, axis: int) -> tf.Tensor:
    """Shifts an NHWC map down (axis 1) or right (axis 2) by one, filling with zeros."""
    paddings = [[0, 0]] * 4
    paddings[axis] = [1, 0]
    padded = tf.pad(x, paddings)
    return padded[:, :-1] if axis == 1 else padded[:, :, :-1]


def _gate(x: tf.Tensor, channels: int) -> tf.Tensor:
    return tf.tanh(x[..., :channels]) * tf.sigmoid(x[..., channels:])


class GatedMaskedLayer(tf.Module):
    """One gated layer with a vertical and a horizontal stack (mask type ``"A"`` or ``"B"``).

    Args:
        in_channels: Channels of both input stacks.
        channels: Channels of both output stacks (equal to ``in_channels`` for type B, whose
            horizontal stack is residual).
        kernel_size: k, an odd kernel width.
        mask_type: ``"A"`` (first layer: the horizontal stack excludes the current pixel)
            or ``"B"`` (includes the previous layer's output at the current pixel).
    """

    def __init__(self, in_channels: int, channels: int, kernel_size: int, mask_type: str):
        super().__init__(name=f"gated_layer_{mask_type}")
        if mask_type == "B" and in_channels != channels:
            raise ValueError("a type-B layer is residual: in_channels must equal channels")
        self.channels = channels
        self.half = kernel_size // 2
        self.mask_type = mask_type
        k, half = kernel_size, kernel_size // 2
        self.v_conv = _conv(2 * channels, (half + 1, k), in_channels, "v_conv")
        self.vh_conv = _conv(2 * channels, (1, 1), 2 * channels, "vh_conv")
        self.h_conv = _conv(2 * channels, (1, half + 1), in_channels, "h_conv")
        self.h_res = _conv(channels, (1, 1), channels, "h_res")

    def __call__(self, v: tf.Tensor, h: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        half = self.half
        # Row r of v_out sees input rows r - half - 1 .. r - 1: strictly above.
        v_out = _shift(self.v_conv(tf.pad(v, [[0, 0], [half, 0], [half, half], [0, 0]])), 1)
        # Column c of h_out sees columns c - half .. c of the same row (c - 1 for type A).
        h_out = self.h_conv(tf.pad(h, [[0, 0], [0, 0], [half, 0], [0, 0]]))
        if self.mask_type == "A":
            h_out = _shift(h_out, 2)
        h_out = self.h_res(_gate(h_out + self.vh_conv(v_out), self.channels))
        if self.mask_type == "B":
            h_out = h_out + h
        return _gate(v_out, self.channels), h_out


class GatedPixelCNNDecoder(ZMapImageDecoder, tf.Module):
    """He et al. 2019's gated PixelCNN p(x|z) = prod_i Bernoulli(x_i | logit_i(x_<i, z)).

    See the module docstring for the network and the source it follows. ``__call__(z)``
    returns a ``tfd.Autoregressive`` over Bernoulli pixels with the example's shape as its
    event shape: ``log_prob`` evaluates every pixel's conditional in one pass, ``sample``
    draws the pixels one after the other in raster order.

    Args:
        latent_dim: Dimension of z.
        event_shape: Shape of one example (flat square, [H, W] or [H, W, 1]).
        kind: Must be ``"binary"``.
        kernel_sizes: Kernel width of each gated layer (one layer per entry; odd).
        channels: Channels of every gated layer.
        latent_feature_maps: Channels F of the H x W map that z enters as.

    Raises:
        ValueError: On non-binary data, a multi-channel image, no layers or an even kernel.
    """

    def __init__(
        self,
        latent_dim: int,
        event_shape: Sequence[int],
        kind: str,
        kernel_sizes: Sequence[int] = HE_KERNEL_SIZES,
        channels: int = 32,
        latent_feature_maps: int = 4,
    ):
        super().__init__(name="gated_pixelcnn_decoder")
        kernel_sizes = self._set_shapes(
            "gated_pixelcnn", latent_dim, event_shape, kind, kernel_sizes, min_layers=1
        )
        height, width, _ = self.image_shape
        self.maps = int(latent_feature_maps)
        self.z_map = tf_keras.layers.Dense(
            self.maps * height * width,
            kernel_initializer=tf_keras.initializers.RandomNormal(
                stddev=math.sqrt(2.0 / self.latent_dim)
            ),
            bias_initializer=tf_keras.initializers.RandomUniform(
                -1.0 / math.sqrt(self.latent_dim), 1.0 / math.sqrt(self.latent_dim)
            ),
            name="z_map",
        )
        channels = int(channels)
        self.layers = [
            GatedMaskedLayer(
                1 + self.maps if i == 0 else channels, channels, k, "A" if i == 0 else "B"
            )
            for i, k in enumerate(kernel_sizes)
        ]
        self.head = _conv(1, (1, 1), channels, "head")
        self.logits(tf.zeros((1, *self.event_shape)), tf.zeros((1, self.latent_dim)))

    def logits(self, x: tf.Tensor, z: tf.Tensor) -> tf.Tensor:
        """Bernoulli logits of p(x_i | x_<i, z) for every pixel i, shape [B, *event_shape].

        Logit i depends on z and on the pixels before i in raster order only. ``x``
        [*batch, *event_shape] and ``z`` [*batch, latent_dim] broadcast over their batch
        dimensions (as ``tfd.Autoregressive.sample(n)`` needs).
        """
        h, batch = self._joined_input(x, z)
        v = h
        for layer in self.layers:
            v, h = layer(v, h)
        return self._event_logits(tf.clip_by_value(self.head(h), -LOGIT_BOUND, LOGIT_BOUND), batch)
