"""A method as the composition of its parts, and the rules that reject a bad composition.

The training loss of a batch is

    loss = - mean_batch(rec) + w(t) * T(kl_per_dim, t'),

w the product of the ``phases`` part's weight at update t and the ``kl_weight`` part's at
t', T the ``kl_term`` part's term (the plain mean_batch sum_i KL_i without one), and t' the
other parts' clock: t minus the updates of a phase part's first phase (0 without one).
An ``objective`` part replaces the whole loss. Parts of the other roles change the model
(posterior transform, refinement, decoder options) or the loop (inner loop, phases)
through hooks the loop and the model builder call on the composition, never on a part.

The quantities logged (rec, analytic KL, ELBO = rec - KL) are the same for every method.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from vae_tfp.lazy import lazy_import
from vae_tfp.methods.base import ROLES, InnerLoopSettings, Method

tf = lazy_import("tensorflow")

KL_ESTIMATORS = ("analytic", "sampled")
# Roles of which a composition may hold several parts (their options must not overlap).
MULTIPLE_ROLES = ("decoder",)


def composition_problem(parts: tuple[Method, ...], kl_estimator: str) -> str | None:
    """The reason ``parts`` with ``kl_estimator`` make no method, or None if they do.

    Rules: at most one part per role (several ``decoder`` parts if they set different
    options); an ``objective`` part (IWAE's bound has no separate KL term) takes no
    ``kl_weight`` or ``kl_term`` part and no sampled KL; a ``posterior`` part that bounds
    the KL from below by construction (BN-VAE, delta-VAE) takes no ``kl_term`` floor; a
    floor on the one-sample KL estimate would floor noise.
    """
    if kl_estimator not in KL_ESTIMATORS:
        return f"kl_estimator must be one of {list(KL_ESTIMATORS)}, got {kl_estimator!r}"
    by_role: dict[str, list[Method]] = {}
    for part in parts:
        by_role.setdefault(part.role, []).append(part)
    for role, members in by_role.items():
        if len(members) > 1 and role not in MULTIPLE_ROLES:
            names = " and ".join(repr(p.name) for p in members)
            return f"{names} are both {role} parts ({ROLES[role]}); a method has at most one"
    options = [key for p in by_role.get("decoder", []) for key in p.decoder_overrides()]
    if len(options) != len(set(options)):
        return f"decoder parts set the same decoder option twice: {sorted(options)}"
    objective, floor = by_role.get("objective", [None])[0], by_role.get("kl_term", [None])[0]
    weight, posterior = by_role.get("kl_weight", [None])[0], by_role.get("posterior", [None])[0]
    if objective is not None and (floor or weight):
        return (
            f"{objective.name!r} replaces the whole objective and has no separate KL term, so "
            f"{(floor or weight).name!r} has nothing to act on"
        )
    if posterior is not None and floor is not None:
        return (
            f"{posterior.name!r} bounds every dimension's KL from below by construction; a KL "
            f"floor on top ({floor.name!r}) is an alternative to it, not a part of it"
        )
    if kl_estimator == "sampled" and (floor or objective):
        return (
            f"kl_estimator 'sampled' is for a KL term that is weight x KL: "
            f"{(floor or objective).name!r} floors or replaces it (a floor on a one-sample "
            "estimate floors noise)"
        )
    return None


@dataclasses.dataclass(frozen=True)
class Composite:
    """A method: its parts (at most one per role) and the KL estimator its loss uses.

    Attributes:
        name: The method as the config wrote it (``"li2019"``, ``"aggressive + kl_anneal"``).
        parts: The parts, in the order written (presets expanded).
        kl_estimator: ``analytic`` (the closed form, Kingma & Welling 2014, App. B) or
            ``sampled``: log q(z|x) - log p(z) at the reparameterized z of the
            reconstruction term (Kingma & Welling 2014, eq. 6; Burda et al. 2016's code,
            whose VAE is the k = 1 case of the IWAE bound). Logged and evaluated KL values
            are always analytic.
        clock_offset_steps: Updates before the clock of the non-phase parts starts (set by
            :meth:`bind` from a phase part).

    Raises:
        ValueError: If the parts make no method (:func:`composition_problem`).
    """

    name: str
    parts: tuple[Method, ...] = ()
    kl_estimator: str = "analytic"
    clock_offset_steps: int = 0

    def __post_init__(self) -> None:
        problem = composition_problem(self.parts, self.kl_estimator)
        if problem:
            raise ValueError(f"method {self.name!r}: {problem}")

    def part(self, role: str) -> Method | None:
        """The part of ``role``, or None (for ``decoder``: the first)."""
        return next((p for p in self.parts if p.role == role), None)

    def describe(self) -> str:
        """The parts with every hyper-parameter, e.g. ``pretrain(pretrain_epochs=5) + ...``."""
        from vae_tfp.declarations import declared_params

        def text(part: Method) -> str:
            settings = ", ".join(
                f"{key}={getattr(part, d.field)!r}"
                for key, d in declared_params(type(part)).items()
            )
            return f"{part.name}({settings})"

        body = " + ".join(text(p) for p in self.parts) or "the plain ELBO"
        return body + (
            f"; kl_estimator={self.kl_estimator}" if self.kl_estimator != "analytic" else ""
        )

    def bind(
        self, steps_per_epoch: int, total_steps: int, *, nominal_steps_per_epoch: float = 0.0
    ) -> Composite:
        """The method with the run's length filled in: a phase part's first phase shifts
        the clock (and shortens the run) the other parts see."""
        phases = self.part("phases")
        offset = phases.clock_offset_epochs() * steps_per_epoch if phases else 0
        rest = max(total_steps - offset, 0)
        parts = tuple(
            p.bind(
                steps_per_epoch,
                total_steps if p.role == "phases" else rest,
                nominal_steps_per_epoch=nominal_steps_per_epoch,
            )
            for p in self.parts
        )
        return dataclasses.replace(self, parts=parts, clock_offset_steps=offset)

    def clock(self, step: tf.Tensor | int) -> tf.Tensor | int:
        """The non-phase parts' step: updates since the end of the first phase (>= 0)."""
        if not self.clock_offset_steps:
            return step
        return tf.maximum(tf.cast(step, tf.int64) - self.clock_offset_steps, 0)

    def kl_weight(self, step: tf.Tensor | int) -> tf.Tensor:
        """The KL multiplier at ``step`` (logged in history as ``kl_weight``)."""
        factors = []
        phases, schedule = self.part("phases"), self.part("kl_weight")
        if phases is not None:
            factors.append(phases.kl_weight(step))
        if schedule is not None:
            factors.append(schedule.kl_weight(self.clock(step)))
        if not factors:
            return tf.constant(1.0)
        weight = factors[0]
        for factor in factors[1:]:
            weight = weight * factor
        return weight

    def kl_term(self, kl_per_dim: tf.Tensor, step: tf.Tensor | int) -> tf.Tensor:
        """The KL part of the batch loss: kl_weight(step) * T(kl_per_dim)."""
        floor = self.part("kl_term") or Method()
        return self.kl_weight(step) * floor.kl_term(kl_per_dim, self.clock(step))

    def training_loss(
        self, model: Any, x: tf.Tensor, seed: tf.Tensor, step: tf.Tensor | int
    ) -> tuple[Any, tf.Tensor]:
        """One training step's forward pass and loss (the loop's only call into the
        objective): an ``objective`` part's, or one reparameterized sample with loss =
        -mean_batch(rec) + :meth:`kl_term` of the estimated KL.

        Args:
            model: The :class:`vae_tfp.models.vae.VAE`.
            x: The batch.
            seed: The step's stateless seed, int32 [2].
            step: Decoder updates done before this one (the schedules' clock).

        Returns:
            (the :class:`vae_tfp.models.vae.ForwardResult` whose rec and analytic KL the
            loop logs, the scalar loss to minimize).
        """
        objective = self.part("objective")
        if objective is not None:
            return objective.training_loss(model, x, seed, self.clock(step))
        out = model.forward(x, seed, training=True, kl_weight=self.kl_weight(step))
        return out, -tf.reduce_mean(out.rec) + self.kl_term(self.training_kl(out), step)

    def training_kl(self, out: Any) -> tf.Tensor:
        """The per-dimension KL the loss uses, [batch, latent_dim]: the forward pass's
        analytic ``kl_per_dim`` or its one-sample ``kl_per_dim_sampled``."""
        return out.kl_per_dim_sampled if self.kl_estimator == "sampled" else out.kl_per_dim

    # ---- hooks of the model builder and the loop -------------------------------------------
    def posterior_transform(self, latent_dim: int) -> Any | None:
        """The ``posterior`` part's module applied to (loc, log_var) everywhere, or None."""
        part = self.part("posterior")
        return part.posterior_transform(latent_dim) if part else None

    def posterior_refinement(self) -> Any | None:
        """The ``refinement`` part's per-example refinement of q(z|x), or None."""
        part = self.part("refinement")
        return part.posterior_refinement() if part else None

    def decoder_overrides(self) -> dict[str, Any]:
        """Decoder options the ``decoder`` parts impose (merged over the variant's)."""
        return {
            k: v
            for p in self.parts
            if p.role == "decoder"
            for k, v in p.decoder_overrides().items()
        }

    def applies_to(self, decoder_type: str, dataset_kind: str) -> str | None:
        """None if every part works with this decoder and data, else the first reason."""
        reasons = (p.applies_to(decoder_type, dataset_kind) for p in self.parts)
        return next((r for r in reasons if r), None)

    def selection_kl_weight(self) -> float | None:
        """The kl_weight part's :meth:`Method.selection_kl_weight` (None without one)."""
        schedule = self.part("kl_weight")
        return schedule.selection_kl_weight() if schedule else None

    @property
    def first_selectable_epoch(self) -> int:
        """The first epoch whose checkpoint may be selected as the best one."""
        phases = self.part("phases")
        return phases.first_selectable_epoch if phases else 1

    def pretraining_method(self) -> dict[str, Any] | None:
        """The phases part's :meth:`Method.pretraining_method` (None without one)."""
        phases = self.part("phases")
        return phases.pretraining_method() if phases else None

    @property
    def decoder_reset_epochs(self) -> tuple[int, ...]:
        """Epochs after which the decoder is re-initialized."""
        phases = self.part("phases")
        return phases.decoder_reset_epochs if phases else ()

    def inner_loop(self) -> InnerLoopSettings | None:
        """The encoder inner loop's settings, or None for joint updates only."""
        part = self.part("inner_loop")
        return part.inner_loop() if part else None
