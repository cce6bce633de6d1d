"""The base class of every anti-collapse method, built-in or plugin.

A method differs from the plain ELBO only in its KL term (the regularizer hook, as in
disentanglement_lib): the training loss for a batch is

    loss = - mean_batch(rec) + method.kl_term(kl_per_dim, step),

while the quantities logged (rec, kl, ELBO = rec - kl) are the same for every method.
``kl_per_dim`` is [batch, latent_dim], KL(q(z_i|x) || p(z_i)) in nats: analytic by
default, or the single-sample estimate log q(z_i|x) - log p(z_i) at the drawn z with
``kl_estimator: sampled`` (a hyper-parameter every method has, see :class:`Method`).

Methods that change more than the KL term do it through a few more hooks, each with a
neutral default on :class:`Method`: :meth:`Method.bind` (learn the run's length, for
schedules), :meth:`Method.posterior_transform` (reshape q(z|x): BN-VAE, delta-VAE),
:meth:`Method.posterior_refinement` (refine q(z|x) per example: SA-VAE),
:meth:`Method.decoder_overrides` (decoder options: skip-VAE), :meth:`Method.applies_to`
(reject a decoder/dataset it cannot work with), ``decoder_reset_epochs`` and
``first_selectable_epoch`` (phases: pretrain_fb) and ``encoder_inner_loop`` (aggressive).

Hyper-parameters are dataclass fields declared with
:func:`vae_tfp.declarations.hyperparameter` (type, default, range); the constructor checks
them, so a method object is always valid, and config validation reads the same
declarations.
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

from vae_tfp.declarations import check_declared, hyperparameter
from vae_tfp.lazy import lazy_import

# Imported on first use: validating a config (the Snakefile's parse) needs no TensorFlow.
tf = lazy_import("tensorflow")

KL_ESTIMATORS = ("analytic", "sampled")


@dataclasses.dataclass(frozen=True)
class Method:
    """The standard ELBO (Kingma & Welling 2014, eq. 3): KL weight 1 at every step.

    Subclasses set ``name`` (the config name), declare their hyper-parameters as fields and
    override the hooks they need; :meth:`check` adds checks across hyper-parameters.

    Every method has ``kl_estimator``, the estimate of KL(q(z|x) || p(z)) its training loss
    differentiates: ``analytic`` (the closed form for Gaussians, Kingma & Welling 2014,
    App. B) or ``sampled``, the one-sample Monte Carlo estimate log q(z|x) - log p(z) at the
    reparameterized z of the reconstruction term (Kingma & Welling 2014, eq. 6, the
    estimator of Burda et al. 2016's code, whose VAE is the k = 1 case of the IWAE bound).
    Both are unbiased; the sampled one is noisier. Logged and evaluated KL values are always
    analytic. A KL floor (free bits) on a one-sample estimate would floor noise, so methods
    that override :meth:`kl_term` take the analytic estimator only.
    """

    name: ClassVar[str] = "vanilla"
    # Whether the loop runs He et al. 2019's encoder inner loop (see Aggressive).
    encoder_inner_loop: ClassVar[bool] = False

    kl_estimator: str = hyperparameter(
        "analytic",
        description="KL estimate the training loss differentiates: the closed form, or "
        "log q(z|x) - log p(z) at the drawn z (Burda et al. 2016's code)",
        choices=KL_ESTIMATORS,
        kw_only=True,
    )

    def __post_init__(self) -> None:
        check_declared(self)
        if self.kl_estimator == "sampled" and type(self).kl_term is not Method.kl_term:
            raise ValueError(
                f"method {self.name!r} floors or reshapes the KL term, which needs the "
                "analytic KL: kl_estimator 'sampled' is allowed only for methods whose KL "
                "term is weight x KL (vanilla, beta, kl_anneal, cyclical, ...)"
            )
        self.check()

    def check(self) -> None:
        """Raises ValueError when hyper-parameters are inconsistent with each other (each
        one's own type and range are checked from its declaration before this)."""

    def bind(self, steps_per_epoch: int, total_steps: int) -> Method:
        """Returns the method with its run-length-dependent settings filled in."""
        del steps_per_epoch, total_steps
        return self

    @property
    def first_selectable_epoch(self) -> int:
        """The first epoch whose checkpoint may be selected as the best one."""
        return 1

    @property
    def decoder_reset_epochs(self) -> tuple[int, ...]:
        """Epochs after which the decoder is re-initialized (phases, see PretrainFreeBits)."""
        return ()

    def posterior_transform(self, latent_dim: int) -> tf.Module | None:
        """A module applied to (loc, log_var) of q(z|x) everywhere, or None."""
        del latent_dim
        return None

    def posterior_refinement(self) -> Any | None:
        """A callable refining q(z|x)'s parameters per example wherever q is used, or None.

        Called as ``refine(model, x, loc, log_var, seed, kl_weight) -> (loc, log_var)``
        (see :class:`vae_tfp.methods.sa_vae.SVIRefinement`).
        """
        return None

    def decoder_overrides(self) -> dict[str, Any]:
        """Decoder options the method imposes (merged over the decoder variant's)."""
        return {}

    def applies_to(self, decoder_type: str, dataset_kind: str) -> str | None:
        """None if the method works with this decoder and data, else the reason it does not."""
        del decoder_type, dataset_kind
        return None

    def kl_weight(self, step: tf.Tensor | int) -> tf.Tensor:
        """The multiplier of the KL term at ``step`` (logged in history as ``kl_weight``)."""
        del step
        return tf.constant(1.0)

    def kl_term(self, kl_per_dim: tf.Tensor, step: tf.Tensor | int) -> tf.Tensor:
        """The KL part of the batch loss: kl_weight(step) * mean_batch sum_i KL_i."""
        total = tf.reduce_mean(tf.reduce_sum(kl_per_dim, axis=-1))
        return self.kl_weight(step) * total

    def training_kl(self, out: Any) -> tf.Tensor:
        """The per-dimension KL the training loss uses, [batch, latent_dim]: the forward
        pass's analytic ``kl_per_dim`` or its one-sample ``kl_per_dim_sampled``
        (:attr:`kl_estimator`).

        Args:
            out: A :class:`vae_tfp.models.vae.ForwardResult`.
        """
        return out.kl_per_dim_sampled if self.kl_estimator == "sampled" else out.kl_per_dim

    def training_loss(
        self, model: Any, x: tf.Tensor, seed: tf.Tensor, step: tf.Tensor | int
    ) -> tuple[Any, tf.Tensor]:
        """One training step's forward pass and loss (the loop's only call into a method's
        objective): one reparameterized sample, loss = :meth:`loss` of its rec and
        :meth:`training_kl`. An objective with several samples (IWAE) overrides it.

        Args:
            model: The :class:`vae_tfp.models.vae.VAE`.
            x: The batch.
            seed: The step's stateless seed, int32 [2].
            step: Decoder updates done before this one (the schedules' clock).

        Returns:
            (the :class:`vae_tfp.models.vae.ForwardResult` whose rec and analytic KL the
            loop logs, the scalar loss to minimize).
        """
        out = model.forward(x, seed, training=True, kl_weight=self.kl_weight(step))
        return out, self.loss(out.rec, self.training_kl(out), step)

    def loss(self, rec: tf.Tensor, kl_per_dim: tf.Tensor, step: tf.Tensor | int) -> tf.Tensor:
        """The scalar training loss of a batch (to minimize)."""
        return -tf.reduce_mean(rec) + self.kl_term(kl_per_dim, step)
