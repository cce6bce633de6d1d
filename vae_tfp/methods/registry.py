"""The method registries: config name -> part class, and -> preset, for built-ins and plugins.

A method variant names its method as a ``+``-joined composition of part and preset names,
with every part's hyper-parameters as flat keys (each key belongs to exactly one part)::

    li2019_16: {method: li2019, lambda: 0.5}
    aggressive_anneal_2k: {method: aggressive + kl_anneal, beta0: 0.1, warmup_steps: 2000}

Built-in parts live in :mod:`~vae_tfp.methods.kl_terms` (schedules, floors),
:mod:`~vae_tfp.methods.phases` (inner loop, pretraining),
:mod:`~vae_tfp.methods.architecture` (posterior and decoder), :mod:`~vae_tfp.methods.sa_vae`
and :mod:`~vae_tfp.methods.objectives`; presets in :mod:`~vae_tfp.methods.presets`. A plugin
(``docs/extending.md``) adds a part with :func:`register_method` or a preset with
:func:`register_preset`, the calls the built-ins go through.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from vae_tfp.declarations import Declared, declared_params, keyword_arguments
from vae_tfp.methods.architecture import BNVAE, DeltaVAE, SkipVAE, WordDropout
from vae_tfp.methods.base import ROLES, Method
from vae_tfp.methods.composite import Composite
from vae_tfp.methods.kl_terms import (
    Beta,
    Cyclical,
    FreeBits,
    FreeBitsExample,
    KLAnneal,
    KLThreshold,
)
from vae_tfp.methods.objectives import IWAE
from vae_tfp.methods.phases import Aggressive, Pretrain, PretrainRun
from vae_tfp.methods.presets import BUILTIN_PRESETS, Preset, merge_defaults
from vae_tfp.methods.sa_vae import SAVAE

METHODS: dict[str, type[Method]] = {}
PRESETS: dict[str, Preset] = {}


def _taken(name: str) -> str | None:
    """Who already registered ``name`` (as a part or a preset), or None."""
    if name in METHODS:
        return f"method part {METHODS[name].__module__}.{METHODS[name].__qualname__}"
    if name in PRESETS:
        return f"preset {name!r}"
    return None


def register_method(cls: type[Method]) -> type[Method]:
    """Registers a method part class under its ``name`` (usable as a class decorator).

    Raises:
        TypeError: If ``cls`` is not a dataclass subclass of :class:`Method` with a config
            name and a role of :data:`~vae_tfp.methods.base.ROLES`, or a hyper-parameter
            declaration is malformed.
        ValueError: If another part or a preset is already registered under that name.
    """
    if not (isinstance(cls, type) and issubclass(cls, Method)) or "__dataclass_fields__" not in (
        cls.__dict__
    ):
        raise TypeError(f"{cls!r} is not a dataclass subclass of vae_tfp.methods.Method")
    name = cls.__dict__.get("name")
    if not isinstance(name, str) or not name or "+" in name:
        raise TypeError(
            f"{cls.__qualname__} must set its config name (no '+'): name: ClassVar[str]"
        )
    if cls.role not in ROLES:
        raise TypeError(
            f"{cls.__qualname__} must set its role: role: ClassVar[str], one of {list(ROLES)}"
        )
    if cls.role == "objective" and not callable(getattr(cls, "training_loss", None)):
        raise TypeError(
            f"{cls.__qualname__} is an objective part: it must define "
            "training_loss(model, x, seed, step) -> (forward result, loss)"
        )
    taken = _taken(name)
    if taken and METHODS.get(name) is not cls:
        raise ValueError(
            f"{name!r} is already registered by {taken}; {cls.__qualname__} needs another name"
        )
    declared_params(cls)  # a malformed declaration fails now, not at the first config
    METHODS[name] = cls
    return cls


def register_preset(preset: Preset) -> Preset:
    """Registers a named composition of registered parts.

    Raises:
        ValueError: If the name is taken, a part is unknown, or a default belongs to none
            of its parts.
    """
    taken = _taken(preset.name)
    if taken and PRESETS.get(preset.name) is not preset:
        raise ValueError(f"{preset.name!r} is already registered by {taken}")
    unknown = [p for p in preset.parts if p not in METHODS]
    if unknown:
        raise ValueError(
            f"preset {preset.name!r} names unknown parts {unknown}; parts: {sorted(METHODS)}"
        )
    keys = {key for p in preset.parts for key in declared_params(METHODS[p])}
    stray = sorted(set(preset.defaults) - keys)
    if stray:
        raise ValueError(f"preset {preset.name!r} sets {stray}, which none of its parts declares")
    PRESETS[preset.name] = preset
    return preset


for _part in (
    Beta, KLAnneal, Cyclical, FreeBits, FreeBitsExample, KLThreshold, Aggressive, Pretrain,
    PretrainRun,
    BNVAE, DeltaVAE, SkipVAE, WordDropout, SAVAE, IWAE,
):  # fmt: skip
    register_method(_part)
for _preset in BUILTIN_PRESETS:
    register_preset(_preset)


def method_names() -> list[str]:
    """Every name a method expression may use: parts and presets."""
    return sorted([*METHODS, *PRESETS])


def expression_names(expression: str) -> list[str]:
    """The names a method expression uses: its presets, their parts and its own parts."""
    names = [n.strip() for n in str(expression).split("+")]
    return names + [p for n in names if n in PRESETS for p in PRESETS[n].parts]


def expand(expression: Any) -> tuple[list[type[Method]], dict[str, Any]]:
    """The part classes of a method expression (presets expanded) and the presets' defaults.

    Raises:
        KeyError: On a name that is neither a part nor a preset, listing both.
        TypeError: If ``expression`` is not a string.
    """
    if not isinstance(expression, str) or not expression.strip():
        raise TypeError(
            f"method must be a part or preset name, or names joined by '+'; got {expression!r}"
        )
    classes: list[type[Method]] = []
    defaults: dict[str, Any] = {}
    for name in (n.strip() for n in expression.split("+")):
        if name in PRESETS:
            classes += [METHODS[p] for p in PRESETS[name].parts]
            defaults.update(PRESETS[name].defaults)
        elif name in METHODS:
            classes.append(METHODS[name])
        else:
            raise KeyError(
                f"unknown method part {name!r} in {expression!r}; presets: {sorted(PRESETS)}; "
                f"parts: {sorted(METHODS)}"
            )
    return classes, defaults


def method_declarations(expression: str) -> dict[str, Declared]:
    """The declared hyper-parameters of a method expression by config key (part order)."""
    classes, _ = expand(expression)
    return {key: d for cls in classes for key, d in declared_params(cls).items()}


def build_method(options: Mapping[str, Any]) -> Composite:
    """Builds a method from a method-variant entry, e.g. ``{method: li2019, lambda: 0.5}``.

    Raises:
        KeyError: On an unknown part or preset name, listing the registered ones.
        TypeError: On a hyper-parameter no part declares, or one declared by two parts
            (listing the accepted ones), a missing one, or a value of the wrong type.
        ValueError: On a value out of range, or parts that make no method (the reason:
            :func:`~vae_tfp.methods.composite.composition_problem`).
    """
    expression = options.get("method")
    classes, defaults = expand(expression)
    given = {k: v for k, v in options.items() if k not in ("method", "kl_estimator")}
    alternatives = {k: v for cls in classes for k, v in cls.alternatives.items()}
    values = merge_defaults(defaults, given, alternatives)
    owners: dict[str, list[type[Method]]] = {}
    for cls in classes:
        for key in declared_params(cls):
            owners.setdefault(key, []).append(cls)
    unknown = [key for key in values if key not in owners]
    if unknown:
        accepted = [key for cls in classes for key in declared_params(cls)]
        raise TypeError(
            f"method {expression!r} got unknown hyper-parameters {unknown}; accepted: "
            f"{[*accepted, 'kl_estimator']}"
        )
    parts = tuple(
        cls(
            **keyword_arguments(
                cls,
                f"part {cls.name!r} of method {expression!r}",
                {k: v for k, v in values.items() if cls in owners[k]},
            )
        )
        for cls in classes
    )
    return Composite(
        name=" + ".join(n.strip() for n in expression.split("+")),
        parts=parts,
        kl_estimator=options.get("kl_estimator", "analytic"),
    )
