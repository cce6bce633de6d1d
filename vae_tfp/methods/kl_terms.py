"""Parts that change only the KL part of the loss: weights (schedules) and floors.

A composition's KL term is ``kl_weight(step) * kl_term(kl_per_dim, step)``: one part of
role ``kl_weight`` (a schedule) times one of role ``kl_term`` (a floor), each neutral when
absent (:mod:`vae_tfp.methods.composite`).
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

from vae_tfp.declarations import hyperparameter
from vae_tfp.lazy import lazy_import
from vae_tfp.methods.base import Method
from vae_tfp.methods.schedules import cyclical, linear_warmup

# Imported on first use: validating a config needs no TensorFlow.
tf = lazy_import("tensorflow")


@dataclasses.dataclass(frozen=True)
class Beta(Method):
    """KL weighted by a constant beta (Higgins et al. 2017, beta-VAE, eq. 4).

    beta > 1 pushes toward collapse (more dimensions at the prior); beta < 1 toward an
    autoencoder. The logged ELBO is still the unweighted one. With ``select_on:
    objective`` the best checkpoint and the plateau rule follow the validation objective
    rec - beta * KL, as Li et al. 2019's ``text_beta.py`` (bohanli/vae-pretraining-encoder
    d59f91c) selects its autoencoder pretraining (``--beta 0``) on reconstruction.
    """

    name: ClassVar[str] = "beta"
    role: ClassVar[str] = "kl_weight"
    beta: float = hyperparameter(
        description="weight of the KL term (beta < 1 and beta > 1 both allowed)", minimum=0
    )
    select_on: str = hyperparameter(
        "elbo",
        description=(
            "what picks the best epoch and drives the plateau rule: the validation ELBO "
            "(elbo) or the validation objective rec - beta * KL (objective, as Li et al. "
            "2019's text_beta.py, whose --beta 0 autoencoder selects on reconstruction)"
        ),
        choices=("elbo", "objective"),
    )

    def kl_weight(self, step: tf.Tensor | int) -> tf.Tensor:
        del step
        return tf.constant(float(self.beta))

    def selection_kl_weight(self) -> float | None:
        return float(self.beta) if self.select_on == "objective" else None


@dataclasses.dataclass(frozen=True)
class KLAnneal(Method):
    """Linear KL annealing (Bowman et al. 2016, Sec. 3.1): weight beta0 -> 1 over a warm-up
    of ``warmup_steps`` updates or ``warmup_epochs`` epochs (He et al. 2019 and Li et al.
    2019 state theirs in epochs: ``--warm_up 10``).

    By default an epoch of warm-up is the run's own batches per epoch and update t uses the
    weight at t. Their code (jxhe/vae-lagging-encoder cdc4eb9 ``text.py``; bohanli/
    vae-pretraining-encoder d59f91c ``text_anneal_fb.py``) raises the weight by
    (1 - beta0) / (warm_up * N / B) *before* each update: ``warmup_epoch_length: n_over_b``
    counts an epoch as N / B updates (a fraction; equal-length batching makes a few percent
    more batches than that), and ``step_offset: 1`` gives update t the weight at t + 1.
    He et al.'s ``image.py`` counts its batches per epoch (the default) with the offset.
    """

    name: ClassVar[str] = "kl_anneal"
    role: ClassVar[str] = "kl_weight"
    alternatives: ClassVar[dict[str, str]] = {
        "warmup_steps": "warmup_epochs",
        "warmup_epochs": "warmup_steps",
    }
    beta0: float = hyperparameter(description="KL weight at step 0", minimum=0, maximum=1)
    warmup_steps: int = hyperparameter(
        0, description="updates over which the weight rises to 1 (0: see warmup_epochs)", minimum=0
    )
    warmup_epochs: int = hyperparameter(
        0,
        description="epochs over which the weight rises to 1 (instead of warmup_steps)",
        minimum=0,
    )
    warmup_epoch_length: str = hyperparameter(
        "batches",
        description=(
            "what one epoch of warmup_epochs counts: the run's batches per epoch (batches) "
            "or training examples / batch size, a fraction (n_over_b, as He et al.'s text.py "
            "and Li et al.'s scripts compute their rate)"
        ),
        choices=("batches", "n_over_b"),
    )
    step_offset: int = hyperparameter(
        0,
        description=(
            "update t uses the weight of update t + step_offset (1: the weight is raised "
            "before each update, as He et al.'s and Li et al.'s code does)"
        ),
        minimum=0,
        maximum=1,
    )
    # No hyper-parameters: bind() fills them in.
    steps_per_epoch: int = 0
    nominal_steps_per_epoch: float = 0.0

    def check(self) -> None:
        if self.warmup_steps and self.warmup_epochs:
            raise ValueError(
                "kl_anneal: give warmup_steps or warmup_epochs, not both "
                f"(got {self.warmup_steps} and {self.warmup_epochs})"
            )

    def bind(
        self, steps_per_epoch: int, total_steps: int, *, nominal_steps_per_epoch: float = 0.0
    ) -> Method:
        del total_steps
        return dataclasses.replace(
            self,
            steps_per_epoch=steps_per_epoch,
            nominal_steps_per_epoch=nominal_steps_per_epoch,
        )

    @property
    def warmup_updates(self) -> float:
        """The warm-up in updates (a fraction under ``warmup_epoch_length: n_over_b``)."""
        if not self.warmup_epochs:
            return self.warmup_steps
        per_epoch = (
            self.nominal_steps_per_epoch
            if self.warmup_epoch_length == "n_over_b"
            else self.steps_per_epoch
        )
        if not per_epoch:
            raise ValueError(
                f"kl_anneal: the epoch length ({self.warmup_epoch_length}) is unknown; "
                "call bind() first"
            )
        return self.warmup_epochs * per_epoch

    def kl_weight(self, step: tf.Tensor | int) -> tf.Tensor:
        return linear_warmup(step + self.step_offset, self.beta0, self.warmup_updates)


@dataclasses.dataclass(frozen=True)
class Cyclical(Method):
    """Cyclical KL annealing (Fu et al. 2019): M cycles, each rising linearly from beta0 to 1
    over a proportion R of the cycle, then held at 1 (:func:`schedules.cyclical`)."""

    name: ClassVar[str] = "cyclical"
    role: ClassVar[str] = "kl_weight"
    n_cycles: int = hyperparameter(4, description="M, the number of cycles", minimum=1)
    ratio: float = hyperparameter(
        0.5,
        description="R, the rising fraction of each cycle",
        minimum=0,
        maximum=1,
        exclusive_minimum=True,
    )
    beta0: float = hyperparameter(
        0.0, description="weight at each cycle start", minimum=0, maximum=1
    )
    total_steps: int = hyperparameter(
        0, description="steps the cycles cover; 0 means the whole run", minimum=0
    )

    def bind(
        self, steps_per_epoch: int, total_steps: int, *, nominal_steps_per_epoch: float = 0.0
    ) -> Method:
        del steps_per_epoch, nominal_steps_per_epoch
        return self if self.total_steps else dataclasses.replace(self, total_steps=total_steps)

    def kl_weight(self, step: tf.Tensor | int) -> tf.Tensor:
        if not self.total_steps:
            raise ValueError("cyclical: total_steps unknown; call bind() with the run length")
        return cyclical(step, self.total_steps, self.n_cycles, self.ratio, self.beta0)


@dataclasses.dataclass(frozen=True)
class FreeBits(Method):
    """Free bits (Kingma et al. 2016, IAF paper, Sec. C.8 / eq. 15), batch-averaged variant.

        kl_term = sum_i max(lambda, mean_batch KL(q(z_i|x) || p(z_i)))

    The floor applies to each latent dimension's KL averaged over the minibatch (as in
    Kingma et al. 2016), not per example; where a dimension's batch-mean KL is below lambda
    the KL term has zero gradient for it. Other variants in the literature (a floor per
    example, or on the total KL) are different methods.
    """

    name: ClassVar[str] = "free_bits"
    role: ClassVar[str] = "kl_term"
    lambda_: float = hyperparameter(
        description="per-dimension floor on the batch-mean KL, nats", minimum=0, key="lambda"
    )

    def kl_term(self, kl_per_dim: tf.Tensor, step: tf.Tensor | int) -> tf.Tensor:
        del step
        batch_mean = tf.reduce_mean(kl_per_dim, axis=0)
        return tf.reduce_sum(tf.maximum(batch_mean, self.lambda_))


@dataclasses.dataclass(frozen=True)
class FreeBitsExample(Method):
    """Free bits per example and dimension: sum_i mean_batch max(lambda, KL_i(x)).

    The floor applies to each example's KL in each dimension before averaging: Li et al.
    2019's ``--fb 2`` with lambda = target_kl / nz (bohanli/vae-pretraining-encoder
    d59f91c, ``text_anneal_fb.py`` l. 318-325), besides Kingma et al. 2016's
    batch-averaged floor (:class:`FreeBits`). An example's dimension at or below lambda
    gets no KL gradient. Li et al.'s code drops such terms (a mask, ``kl_mask = (loss_kl >
    dim_target_kl)``) where the default keeps them at lambda: the gradient is the same, and
    the training loss is lower by kl_weight * lambda * (terms dropped) / batch.
    ``below_lambda: drop`` computes their value, sum_i mean_batch KL_i(x) [KL_i(x) > lambda].
    """

    name: ClassVar[str] = "free_bits_example"
    role: ClassVar[str] = "kl_term"
    lambda_: float = hyperparameter(
        0.5, description="floor per example and dimension, nats", minimum=0, key="lambda"
    )
    below_lambda: str = hyperparameter(
        "floor",
        description=(
            "what a term at or below lambda counts: lambda (floor) or 0 (drop, Li et al.'s "
            "mask); the gradient is the same, the training loss differs"
        ),
        choices=("floor", "drop"),
    )

    def kl_term(self, kl_per_dim: tf.Tensor, step: tf.Tensor | int) -> tf.Tensor:
        del step
        if self.below_lambda == "drop":
            kept = tf.where(kl_per_dim > self.lambda_, kl_per_dim, tf.zeros_like(kl_per_dim))
        else:
            kept = tf.maximum(kl_per_dim, self.lambda_)
        return tf.reduce_sum(tf.reduce_mean(kept, axis=0))


@dataclasses.dataclass(frozen=True)
class KLThreshold(Method):
    """A floor on the total KL: max(lambda, mean_batch sum_i KL_i).

    The single-group case of Kingma et al. 2016's free bits over groups of latents (their
    Sec. C.8 divides z into K groups with one floor each): the rate is free up to lambda
    nats in total, with zero KL gradient below it.
    """

    name: ClassVar[str] = "kl_threshold"
    role: ClassVar[str] = "kl_term"
    lambda_: float = hyperparameter(
        3.0, description="floor on the batch-mean total KL, nats", minimum=0, key="lambda"
    )

    def kl_term(self, kl_per_dim: tf.Tensor, step: tf.Tensor | int) -> tf.Tensor:
        del step
        total = tf.reduce_mean(tf.reduce_sum(kl_per_dim, axis=-1))
        return tf.maximum(total, self.lambda_)
