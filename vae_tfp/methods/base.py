"""The base class of every method part, built-in or plugin.

A method is a composition of parts (:mod:`vae_tfp.methods.composite`), at most one per
role, each a small frozen dataclass with declared hyper-parameters acting through one hook:

=============  ===================================================  =========================
role           hook (neutral default on :class:`Method`)            built-in parts
=============  ===================================================  =========================
kl_weight      :meth:`Method.kl_weight` -- the KL multiplier        beta, kl_anneal, cyclical
kl_term        :meth:`Method.kl_term` -- the unweighted KL term     free_bits,
               (a floor)                                            free_bits_example,
                                                                    kl_threshold
objective      ``training_loss(model, x, seed, step)`` -- the       iwae
               whole loss (an objective part must define it)
posterior      :meth:`Method.posterior_transform` -- reshapes       bn_vae, delta_vae
               q(z|x) everywhere
refinement     :meth:`Method.posterior_refinement` -- refines       sa_vae
               q(z|x) per example everywhere
phases         ``kl_weight``, ``decoder_reset_epochs``,             pretrain, pretrain_run
               ``first_selectable_epoch``, ``clock_offset_epochs``,
               ``pretraining_method``
inner_loop     :meth:`Method.inner_loop` -- encoder-only updates    aggressive
               before each decoder update
decoder        :meth:`Method.decoder_overrides` -- decoder options  skip_vae, word_dropout
=============  ===================================================  =========================

Every part may also implement :meth:`Method.bind` (learn the run's length) and
:meth:`Method.applies_to` (reject a decoder or dataset it cannot work with).

Hyper-parameters are dataclass fields declared with
:func:`vae_tfp.declarations.hyperparameter` (type, default, range); the constructor checks
them, so a part object is always valid, and config validation reads the same declarations.
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

from vae_tfp.declarations import check_declared
from vae_tfp.lazy import lazy_import

# Imported on first use: validating a config (the Snakefile's parse) needs no TensorFlow.
tf = lazy_import("tensorflow")

# role -> what a part of that role changes (``python -m vae_tfp methods`` prints it).
ROLES: dict[str, str] = {
    "kl_weight": "the KL weight at each update (a schedule)",
    "kl_term": "the unweighted KL term of the loss (a floor)",
    "objective": "the whole training objective",
    "posterior": "q(z|x) itself, everywhere it is used",
    "refinement": "q(z|x), refined per example everywhere it is used",
    "phases": "training phases (a KL-free phase, a decoder reset)",
    "inner_loop": "encoder-only updates before each decoder update",
    "decoder": "options forced on the decoder",
}


@dataclasses.dataclass(frozen=True)
class InnerLoopSettings:
    """How many encoder-only updates precede one decoder update (He et al. 2019, Alg. 1).

    Attributes:
        max_steps: Cap on encoder updates before one decoder update.
        check_every: Window of the convergence check, in inner steps.
        mi_batch_size: The validation MI that ends the inner loop: 0 the whole-set
            estimate (``valid_mi``), n He et al.'s ``calc_mi`` within validation batches of
            n (``valid_mi_batch``).
        switch_off_reference: What that MI is compared with at each epoch boundary:
            ``previous`` (the previous boundary's, He et al.'s text.py) or ``best`` (the
            best so far, their image.py); 0 before the first.
        switch_off_patience: The number of boundaries with the MI below the reference
            (counted over the run) that ends the loop: 1 in text.py, 5 in image.py.
        first_batch: The batch of each inner loop's first encoder step: ``decoder`` (the
            decoder update's own, as both of their scripts take it) or ``random``.
    """

    max_steps: int
    check_every: int
    mi_batch_size: int = 0
    switch_off_reference: str = "previous"
    switch_off_patience: int = 1
    first_batch: str = "decoder"


@dataclasses.dataclass(frozen=True)
class Method:
    """A method part: neutral on every hook, so a subclass overrides only its role's.

    Subclasses set ``name`` (the config name) and ``role`` (a key of :data:`ROLES`), declare
    their hyper-parameters as fields and override their role's hook; :meth:`check` adds
    checks across hyper-parameters.
    """

    name: ClassVar[str] = ""
    role: ClassVar[str] = ""
    # Config key -> the key that replaces it (a preset's default for the first is dropped
    # when a config sets the second).
    alternatives: ClassVar[dict[str, str]] = {}

    def __post_init__(self) -> None:
        check_declared(self)
        self.check()

    def check(self) -> None:
        """Raises ValueError when hyper-parameters are inconsistent with each other (each
        one's own type and range are checked from its declaration before this)."""

    def bind(
        self, steps_per_epoch: int, total_steps: int, *, nominal_steps_per_epoch: float = 0.0
    ) -> Method:
        """Returns the part with its run-length-dependent settings filled in.

        Args:
            steps_per_epoch: Decoder updates per epoch.
            total_steps: Decoder updates this part's clock covers (after any phase that
                shifts the clock, see :meth:`clock`).
            nominal_steps_per_epoch: Training examples / batch size, the epoch length the
                papers' code computes its rates from (0: unknown).
        """
        del steps_per_epoch, total_steps, nominal_steps_per_epoch
        return self

    def applies_to(self, decoder_type: str, dataset_kind: str) -> str | None:
        """None if the part works with this decoder and data, else the reason it does not."""
        del decoder_type, dataset_kind
        return None

    # ---- kl_weight / phases ------------------------------------------------------------
    def kl_weight(self, step: tf.Tensor | int) -> tf.Tensor:
        """The part's factor of the KL weight at ``step`` (updates done before this one)."""
        del step
        return tf.constant(1.0)

    # ---- kl_term -------------------------------------------------------------------------
    def kl_term(self, kl_per_dim: tf.Tensor, step: tf.Tensor | int) -> tf.Tensor:
        """The unweighted KL part of the batch loss: mean_batch sum_i KL_i.

        Args:
            kl_per_dim: KL(q(z_i|x) || p(z_i)) per example and dimension, [batch, dims].
            step: Updates done before this one (on the part's clock).
        """
        del step
        return tf.reduce_mean(tf.reduce_sum(kl_per_dim, axis=-1))

    # ---- posterior / refinement / decoder -------------------------------------------------
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
        """Decoder options the part imposes (merged over the decoder variant's)."""
        return {}

    # ---- kl_weight: what selects the best epoch -------------------------------------------
    def selection_kl_weight(self) -> float | None:
        """None: the best checkpoint and the plateau rule follow the validation ELBO (the
        suite's rule); w: the validation objective rec - w * KL instead (a kl_weight part
        whose protocol selects on its own objective, as Li et al. 2019's ``text_beta.py``)."""
        return None

    # ---- phases ---------------------------------------------------------------------------
    @property
    def first_selectable_epoch(self) -> int:
        """The first epoch whose checkpoint may be selected as the best one."""
        return 1

    @property
    def decoder_reset_epochs(self) -> tuple[int, ...]:
        """Epochs after which the decoder is re-initialized."""
        return ()

    def clock_offset_epochs(self) -> int:
        """Epochs before the clock of the other parts starts (a phase part's first phase)."""
        return 0

    def pretraining_method(self) -> dict[str, Any] | None:
        """The method options of a separate run whose best weights this run starts from
        (its decoder then re-initialized), or None: the run starts from its own init."""
        return None

    # ---- inner_loop -----------------------------------------------------------------------
    def inner_loop(self) -> InnerLoopSettings | None:
        """The encoder inner loop's settings, or None for joint updates only."""
        return None
