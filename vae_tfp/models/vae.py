"""The VAE: encoder q(z|x), standard-normal prior p(z), decoder p(x|z).

One forward pass gives, per example (Kingma & Welling 2014, eq. 3):

    rec  = log p(x|z),  z ~ q(z|x)       (single reparameterized sample; E_q log p(x|z))
    kl_i = KL(q(z_i|x) || p(z_i))        (analytic, per latent dimension; also its
                                          one-sample estimate log q(z_i|x) - log p(z_i))
    ELBO = rec - sum_i kl_i

All in nats per example.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import tensorflow as tf
import tensorflow_probability as tfp

from vae_tfp.models.decoders import build_decoder
from vae_tfp.models.encoder import GaussianEncoder, gaussian_posterior
from vae_tfp.models.resnet_encoder import HE_V2_CHANNELS, ResNetEncoder
from vae_tfp.models.sequence import SequenceEncoder

tfd = tfp.distributions


@dataclasses.dataclass(frozen=True)
class ForwardResult:
    """Per-example quantities of one forward pass (tensors with leading batch axis)."""

    rec: tf.Tensor
    kl_per_dim: tf.Tensor
    loc: tf.Tensor
    log_var: tf.Tensor
    # log q(z_i|x) - log p(z_i) at the drawn z: the one-sample estimate of kl_per_dim.
    kl_per_dim_sampled: tf.Tensor | None = None

    @property
    def kl(self) -> tf.Tensor:
        """KL(q(z|x) || p(z)) summed over latent dimensions, [batch]."""
        return tf.reduce_sum(self.kl_per_dim, axis=-1)

    @property
    def elbo(self) -> tf.Tensor:
        """rec - kl, [batch]."""
        return self.rec - self.kl


class VAE(tf.Module):
    """A VAE with a diagonal-Gaussian encoder and a standard-normal prior.

    Args:
        encoder: Maps x to the parameters of q(z|x).
        decoder: Maps z to the distribution p(x|z).
        latent_dim: Dimension of z.
        posterior_transform: A method's module reshaping (loc, log_var) (BN-VAE, delta-VAE).
        posterior_refinement: A method's callable refining (loc, log_var) per example,
            ``refine(model, x, loc, log_var, seed, kl_weight)`` (SA-VAE's SVI steps).
    """

    def __init__(
        self,
        encoder: GaussianEncoder | SequenceEncoder,
        decoder: tf.Module,
        latent_dim: int,
        posterior_transform: tf.Module | None = None,
        posterior_refinement: Callable[..., tuple[tf.Tensor, tf.Tensor]] | None = None,
    ):
        super().__init__(name="vae")
        self.encoder = encoder
        self.decoder = decoder
        self.latent_dim = int(latent_dim)
        self.posterior_transform = posterior_transform
        self.posterior_refinement = posterior_refinement

    def posterior_params(
        self,
        x: tf.Tensor,
        training: bool = False,
        seed: tf.Tensor | None = None,
        kl_weight: tf.Tensor | float = 1.0,
    ) -> tuple[tf.Tensor, tf.Tensor]:
        """(loc, log_var) of q(z|x), after the method's posterior transform and refinement.

        Every use of q(z|x) goes through here, so a method's constraint on the posterior
        (BN-VAE, delta-VAE) or its refinement (SA-VAE) holds for training, validation and
        evaluation alike.

        Args:
            x: A batch of examples.
            training: Whether this is a training step (batch statistics in BN-VAE).
            seed: Stateless seed of the refinement's noise; required when it has one.
            kl_weight: KL weight of the ELBO a refinement ascends (1 outside training).

        Raises:
            ValueError: If the posterior is refined and no seed is given.
        """
        loc, log_var = self.encoder_params(x, training=training)
        if self.posterior_refinement is not None:
            if seed is None:
                raise ValueError("this model refines q(z|x) by random steps: pass a seed")
            loc, log_var = self.posterior_refinement(self, x, loc, log_var, seed, kl_weight)
        return loc, log_var

    def encoder_params(self, x: tf.Tensor, training: bool = False) -> tuple[tf.Tensor, tf.Tensor]:
        """(loc, log_var) of the encoder's q(z|x): after the posterior transform (BN-VAE,
        delta-VAE; part of the encoder in those papers' code), before any refinement.

        Their variances are recorded as ``au_encoder_variances``; for a model without a
        refinement they are :meth:`posterior_params`'s. (He et al. 2019's ``calc_au`` counts
        these means on master, the refined ones in their SA-VAE scripts.)
        """
        if getattr(self.encoder, "uses_batch_statistics", False):
            loc, log_var = self.encoder.params(x, training=training)
        else:
            loc, log_var = self.encoder.params(x)
        if self.posterior_transform is not None:
            loc, log_var = self.posterior_transform(loc, log_var, training=training)
        return loc, log_var

    def posterior(
        self, x: tf.Tensor, training: bool = False, seed: tf.Tensor | None = None
    ) -> tfd.Distribution:
        """q(z|x) with batch shape [batch] and event shape [latent_dim]."""
        return gaussian_posterior(*self.posterior_params(x, training=training, seed=seed))

    @property
    def prior(self) -> tfd.Distribution:
        """p(z) = N(0, I)."""
        return tfd.Independent(
            tfd.Normal(loc=tf.zeros(self.latent_dim), scale=tf.ones(self.latent_dim)), 1
        )

    def kl_per_dim(self, loc: tf.Tensor, log_var: tf.Tensor) -> tf.Tensor:
        """Analytic KL(q(z_i|x) || p(z_i)) for each dimension, [batch, latent_dim]."""
        posterior = gaussian_posterior(loc, log_var)
        return tfd.kl_divergence(posterior.distribution, self.prior.distribution)

    def forward(
        self,
        x: tf.Tensor,
        seed: tf.Tensor,
        training: bool = False,
        kl_weight: tf.Tensor | float = 1.0,
    ) -> ForwardResult:
        """One pass with one reparameterized sample z ~ q(z|x).

        Args:
            x: A batch of examples.
            seed: A stateless seed, int32 tensor of shape [2].
            training: Whether this is a training step (batch statistics in BN-VAE).
            kl_weight: The step's KL weight, for a posterior refinement that ascends the
                weighted ELBO (SA-VAE + annealing); nothing else uses it.
        """
        refinement_seed = tf.random.experimental.stateless_fold_in(seed, 2)
        loc, log_var = self.posterior_params(
            x, training=training, seed=refinement_seed, kl_weight=kl_weight
        )
        posterior = gaussian_posterior(loc, log_var)
        z = posterior.sample(seed=seed)
        noise_seed = None
        if training and getattr(self.decoder, "uses_training_noise", False):
            # Decoder dropout (LSTM): a stateless stream of its own, folded from this seed.
            noise_seed = tf.random.experimental.stateless_fold_in(seed, 1)
        rec = self.likelihood(z, training, noise_seed).log_prob(x)
        sampled = posterior.distribution.log_prob(z) - self.prior.distribution.log_prob(z)
        return ForwardResult(
            rec=rec,
            kl_per_dim=self.kl_per_dim(loc, log_var),
            loc=loc,
            log_var=log_var,
            kl_per_dim_sampled=sampled,
        )

    def log_weights(
        self,
        x: tf.Tensor,
        loc: tf.Tensor,
        log_var: tf.Tensor,
        n: int | tf.Tensor,
        seed: tf.Tensor,
        training: bool = False,
    ) -> tuple[tf.Tensor, tf.Tensor]:
        """Importance log-weights of ``n`` samples z_k ~ q(z|x) per example.

        log w_k = log p(x|z_k) + log p(z_k) - log q(z_k|x) (Burda et al. 2016, eq. 8's
        summands): log mean_k w_k is the k-sample importance-weighted bound.

        Args:
            x: A batch of examples [B, ...].
            loc: Mean of q(z|x), [B, d] (from :meth:`posterior_params`).
            log_var: Its log-variance, [B, d].
            n: The number of samples per example.
            seed: A stateless seed, int32 tensor of shape [2].
            training: Whether this is a training step (decoder dropout, if any, draws its
                noise from a stream folded from ``seed``).

        Returns:
            (log_w, log_px_z), each [n, B].
        """
        z = gaussian_posterior(loc, log_var).sample(n, seed=seed)  # [n, B, d]
        noise_seed = None
        if training and getattr(self.decoder, "uses_training_noise", False):
            noise_seed = tf.random.experimental.stateless_fold_in(seed, 1)
        return self.log_weights_at(x, loc, log_var, z, noise_seed, training)

    def likelihood(
        self, z: tf.Tensor, training: bool = False, noise_seed: tf.Tensor | None = None
    ) -> tfd.Distribution:
        """p(x|z): in a training step with the decoder's dropout noise from ``noise_seed``
        (if given) and batch statistics in its batch normalisations (if it has any)."""
        if noise_seed is not None:
            return self.decoder(z, noise_seed=noise_seed)
        if training and getattr(self.decoder, "uses_batch_statistics", False):
            return self.decoder(z, training=True)
        return self.decoder(z)

    def log_weights_at(
        self,
        x: tf.Tensor,
        loc: tf.Tensor,
        log_var: tf.Tensor,
        z: tf.Tensor,
        noise_seed: tf.Tensor | None = None,
        training: bool = False,
    ) -> tuple[tf.Tensor, tf.Tensor]:
        """:meth:`log_weights` at given samples z [n, B, d] of q(z|x).

        Args:
            x: A batch of examples [B, ...].
            loc: Mean of q(z|x), [B, d].
            log_var: Its log-variance, [B, d].
            z: The samples, [n, B, d].
            noise_seed: The stateless seed of the decoder's training noise (dropout), or
                None for none.
            training: Whether this is a training step (batch statistics in the decoder's
                batch normalisations, if it has any).

        Returns:
            (log_w, log_px_z), each [n, B].
        """
        posterior = gaussian_posterior(loc, log_var)
        n = z.shape[0] if z.shape[0] is not None else tf.shape(z)[0]  # static when known
        batch = tf.shape(x)[0]
        flat_z = tf.reshape(z, (-1, self.latent_dim))
        flat_shape = (
            (-1, *x.shape[1:])
            if x.shape[1:].is_fully_defined()
            else tf.concat([[-1], tf.shape(x)[1:]], 0)  # length batches of token data
        )
        flat_x = tf.reshape(tf.tile(x[None], [n] + [1] * len(x.shape)), flat_shape)
        likelihood = self.likelihood(flat_z, training, noise_seed)
        log_px_z = tf.reshape(likelihood.log_prob(flat_x), (n, batch))
        log_w = log_px_z + self.prior.log_prob(z) - posterior.log_prob(z)
        return log_w, log_px_z


def _mlp_encoder(model_options: Mapping[str, Any], event_shape, latent_dim: int):
    return GaussianEncoder(
        event_shape,
        latent_dim,
        model_options.get("encoder_hidden_units", (64, 64)),
        activation=model_options.get("encoder_activation", "relu"),
    )


def _resnet_encoder(model_options: Mapping[str, Any], event_shape, latent_dim: int):
    return ResNetEncoder(
        event_shape,
        latent_dim,
        model_options.get("encoder_resnet_channels", HE_V2_CHANNELS),
        int(model_options.get("encoder_resnet_units", 512)),
    )


# model.encoder_network -> the builder of that encoder for image and vector data.
ENCODER_NETWORKS: dict[str, Callable[..., tf.Module]] = {
    "mlp": _mlp_encoder,
    "resnet": _resnet_encoder,
}


def build_vae(
    model_options: Mapping[str, Any],
    decoder_options: Mapping[str, Any],
    event_shape: Sequence[int],
    kind: str,
    vocab_size: int | None = None,
    posterior_transform: tf.Module | None = None,
    posterior_refinement: Callable[..., tuple[tf.Tensor, tf.Tensor]] | None = None,
) -> VAE:
    """Builds a VAE from the ``model`` and ``decoder_options`` sections of a run config.

    The encoder follows the dataset kind: an LSTM over the tokens for ``"tokens"``
    (:class:`vae_tfp.models.sequence.SequenceEncoder`), otherwise the network that
    ``encoder_network`` names (:data:`ENCODER_NETWORKS`: an MLP over the flattened example
    by default, or He et al. 2019's ResNet).

    Args:
        model_options: ``latent_dim``; ``encoder_network``, ``encoder_hidden_units`` and
            ``encoder_activation`` (MLP encoder) or ``encoder_resnet_channels`` and
            ``encoder_resnet_units`` (ResNet encoder);
            ``encoder_embedding_size``, ``encoder_hidden_size``,
            ``encoder_parameterization`` and ``encoder_reads_start_token`` (LSTM encoder).
        decoder_options: ``type`` plus that decoder's options.
        event_shape: Shape of one example.
        kind: Dataset kind, ``"binary"``, ``"real"`` or ``"tokens"``.
        vocab_size: Number of token ids (token data only).
        posterior_transform: The method's transform of (loc, log_var), built for
            ``model_options["latent_dim"]`` (:class:`VAE`).
        posterior_refinement: The method's refinement of q(z|x) (:class:`VAE`).

    Raises:
        ValueError: On an unknown ``encoder_network``, or one set for token data.
    """
    latent_dim = int(model_options["latent_dim"])
    network = model_options.get("encoder_network", "mlp")
    if network not in ENCODER_NETWORKS:
        raise ValueError(
            f"unknown encoder_network {network!r}; allowed: {sorted(ENCODER_NETWORKS)}"
        )
    if kind == "tokens" and "encoder_network" in model_options:
        raise ValueError("encoder_network applies to image data; token data has the LSTM encoder")
    if kind == "tokens":
        encoder = SequenceEncoder(
            event_shape,
            latent_dim,
            vocab_size,
            embedding_size=int(model_options.get("encoder_embedding_size", 32)),
            hidden_size=int(model_options.get("encoder_hidden_size", 64)),
            parameterization=model_options.get("encoder_parameterization", "keras"),
            reads_start_token=bool(model_options.get("encoder_reads_start_token", False)),
        )
    else:
        encoder = ENCODER_NETWORKS[network](model_options, event_shape, latent_dim)
    decoder = build_decoder(decoder_options, latent_dim, event_shape, kind, vocab_size)
    return VAE(encoder, decoder, latent_dim, posterior_transform, posterior_refinement)
