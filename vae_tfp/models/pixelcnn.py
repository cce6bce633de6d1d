"""The ``pixelcnn`` decoder: TFP's gated PixelCNN (``tfd.PixelCNN``) conditioned on z.

``tfp.distributions.PixelCNN`` (Salimans et al. 2017, PixelCNN++: gated residual blocks over
the shifted vertical and horizontal stacks of van den Oord et al. 2016) with z as its
conditional input (added in every gated block, as in the conditional PixelCNN of van den
Oord et al. 2016, eq. 4). It is TFP's own implementation, used with ``tf_keras`` as TFP 0.25
does internally. Its likelihood is bound to z through
:class:`vae_tfp.models.autoregressive.BoundDistribution`; the autoregressive decoders'
shared helpers and the MADE decoder are in :mod:`vae_tfp.models.autoregressive`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from vae_tfp.models.autoregressive import BoundDistribution, _check_binary, image_shape_of

tfd = tfp.distributions


class PixelCNNDecoder(tf.Module):
    """Gated PixelCNN decoder conditioned on z: ``tfp.distributions.PixelCNN``.

    TFP's PixelCNN++ (Salimans et al. 2017) with ``conditional_shape=(latent_dim,)``: z is
    projected into every gated residual block of both stacks. Pixels take the two values
    {0, 1} (``low=0``, ``high=1``), so each conditional p(x_i | x_<i, z) is a discretized
    logistic mixture over two values: a Bernoulli distribution in another parameterization
    (one mixture component, ``num_logistic_mix=1``, already represents every Bernoulli).
    Dropout is off and weight normalization uses no data-dependent initialization, so a run
    is a pure function of its seed.

    ``tfd.PixelCNN`` masks its convolution kernels (what makes it autoregressive) through
    Keras kernel constraints, which a Keras optimizer applies after every update but
    nothing applies at initialization; the constructor applies them once, so the decoder is
    autoregressive, and its likelihood normalized, from the start. Train it with a
    ``tf_keras`` optimizer (as the training loop does), which keeps the masks. A flat
    example is reshaped to a square image (:func:`image_shape_of`); ``log_prob`` and samples
    use the example's own shape.

    Args:
        latent_dim: Dimension of z.
        event_shape: Shape of one example (flat square, [H, W] or [H, W, C]).
        kind: Must be ``"binary"``.
        num_resnet: Gated residual layers in each block (``tfd.PixelCNN``'s ``num_resnet``).
        num_hierarchies: Blocks separated by down/up-sampling (1 keeps the full resolution,
            right for 8x8 images).
        num_filters: Convolution filters of every layer.

    Raises:
        ValueError: On non-binary data or an example shape that is not an image.
    """

    def __init__(
        self,
        latent_dim: int,
        event_shape: Sequence[int],
        kind: str,
        num_resnet: int = 1,
        num_hierarchies: int = 1,
        num_filters: int = 32,
    ):
        super().__init__(name="pixelcnn_decoder")
        _check_binary("pixelcnn", kind)
        self.latent_dim = int(latent_dim)
        self.event_shape = tuple(int(d) for d in event_shape)
        self.image_shape = image_shape_of(self.event_shape)
        self.pixelcnn = tfd.PixelCNN(
            image_shape=self.image_shape,
            conditional_shape=(self.latent_dim,),
            num_resnet=int(num_resnet),
            num_hierarchies=int(num_hierarchies),
            num_filters=int(num_filters),
            num_logistic_mix=1,
            dropout_p=0.0,
            use_weight_norm=True,
            use_data_init=False,
            high=1,
            low=0,
        )
        for variable in self.pixelcnn.network.variables:
            if getattr(variable, "constraint", None) is not None:
                variable.assign(variable.constraint(variable))

    def _to_images(self, x: tf.Tensor) -> tf.Tensor:
        x = tf.cast(x, tf.float32)
        batch = tf.shape(x)[: tf.rank(x) - len(self.event_shape)]
        return tf.reshape(x, tf.concat([batch, self.image_shape], 0))

    def network_outputs(self, x: tf.Tensor, z: tf.Tensor) -> tf.Tensor:
        """The parameters of p(x_i | x_<i, z) for every pixel i, shape [batch, D, P].

        The network's mixture logits, locations and scales, per pixel in raster order
        (P values each). Output i depends on z and on pixels j < i only.
        """
        images = self._to_images(x) * 2.0 - 1.0  # tfd.PixelCNN's scaling to [-1, 1]
        outputs = self.pixelcnn.network([images, z], training=False)
        size = int(np.prod(self.image_shape[:2]))
        flat = [tf.reshape(o, (tf.shape(images)[0], size, -1)) for o in outputs]
        return tf.concat(flat, axis=-1)

    def __call__(self, z: tf.Tensor) -> tfd.Distribution:
        batch_shape = z.shape[:-1]

        def log_prob_fn(x: tf.Tensor) -> tf.Tensor:
            return self.pixelcnn.log_prob(self._to_images(x), conditional_input=z, training=False)

        def sample_fn(n: int, seed) -> tf.Tensor:
            flat_z = tf.reshape(z, (-1, self.latent_dim))
            images = self.pixelcnn.sample(
                n * tf.shape(flat_z)[0], conditional_input=tf.tile(flat_z, [n, 1]), seed=seed
            )  # sample k uses row k mod batch of z
            shape = tf.concat([[n], tf.shape(z)[:-1], self.event_shape], 0)
            return tf.reshape(images, shape)

        return BoundDistribution(
            log_prob_fn, sample_fn, batch_shape, self.event_shape, tf.float32, "PixelCNN"
        )

    def sample(self, z: tf.Tensor, seed: int) -> tf.Tensor:
        """One ancestral sample x ~ p(x|z) per row of z, shape [batch, *event_shape].

        ``seed`` is an integer op-level seed: ``tfd.PixelCNN`` samples with stateful random
        ops, so two calls give the same samples only after the same global seed
        (``tf_keras.utils.set_random_seed``).
        """
        return self(z).sample(seed=int(seed))
