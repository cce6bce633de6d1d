"""The method registry: config name -> method class, for built-ins and plugins alike.

Built-in methods live in :mod:`~vae_tfp.methods.kl_terms` (weights, schedules, floors),
:mod:`~vae_tfp.methods.phases` (aggressive training, pretraining phases),
:mod:`~vae_tfp.methods.architecture` (posterior and decoder changes),
:mod:`~vae_tfp.methods.sa_vae` and :mod:`~vae_tfp.methods.objectives` (IWAE); a plugin
(see ``docs/extending.md``) adds its own with :func:`register_method`, the same call the
built-ins go through. A method's hyper-parameters are declared once on its class
(:func:`vae_tfp.declarations.hyperparameter`); config validation and :func:`build_method`
read those declarations.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from vae_tfp.declarations import Declared, declared_params, keyword_arguments
from vae_tfp.methods.architecture import BNVAE, DeltaVAE, SkipVAE, WordDropout
from vae_tfp.methods.base import Method
from vae_tfp.methods.kl_terms import (
    Beta,
    Cyclical,
    FreeBits,
    FreeBitsExample,
    KLAnneal,
    KLThreshold,
    Vanilla,
)
from vae_tfp.methods.objectives import IWAE
from vae_tfp.methods.phases import Aggressive, PretrainFreeBits
from vae_tfp.methods.sa_vae import SAVAE

METHODS: dict[str, type[Method]] = {}


def register_method(cls: type[Method]) -> type[Method]:
    """Registers a method class under its ``name`` (usable as a class decorator).

    Raises:
        TypeError: If ``cls`` is not a dataclass subclass of :class:`Method`, or a
            hyper-parameter declaration is malformed.
        ValueError: If another class is already registered under that name.
    """
    if not (isinstance(cls, type) and issubclass(cls, Method)) or "__dataclass_fields__" not in (
        cls.__dict__
    ):
        raise TypeError(f"{cls!r} is not a dataclass subclass of vae_tfp.methods.Method")
    name = cls.__dict__.get("name")
    if not isinstance(name, str) or not name:
        raise TypeError(f"{cls.__qualname__} must set its config name: name: ClassVar[str]")
    existing = METHODS.get(name)
    if existing is not None and existing is not cls:
        raise ValueError(
            f"method {name!r} is already registered by {existing.__module__}."
            f"{existing.__qualname__}; {cls.__module__}.{cls.__qualname__} needs another name"
        )
    declared_params(cls)  # a malformed declaration fails now, not at the first config
    METHODS[name] = cls
    return cls


for _builtin in (
    Vanilla,
    Beta,
    KLAnneal,
    Cyclical,
    FreeBits,
    FreeBitsExample,
    KLThreshold,
    Aggressive,
    BNVAE,
    DeltaVAE,
    PretrainFreeBits,
    SkipVAE,
    WordDropout,
    SAVAE,
    IWAE,
):
    register_method(_builtin)


def method_declarations(name: str) -> dict[str, Declared]:
    """The declared hyper-parameters of method ``name`` by config key (in field order)."""
    return declared_params(METHODS[name])


def method_fields(name: str) -> list[str]:
    """Config names of the hyper-parameters of method ``name``."""
    return list(method_declarations(name))


def build_method(options: Mapping[str, Any]) -> Method:
    """Builds a method from a method-variant entry, e.g. ``{method: free_bits, lambda: 0.25}``.

    Raises:
        KeyError: On an unknown method name, listing the registered ones.
        TypeError: On an unknown or missing hyper-parameter (listing the accepted ones), or
            a value of the wrong type.
        ValueError: On a hyper-parameter out of range or not finite.
    """
    name = options.get("method")
    if name not in METHODS:
        raise KeyError(f"unknown method {name!r}; registered: {sorted(METHODS)}")
    given = {k: v for k, v in options.items() if k != "method"}
    cls = METHODS[name]
    return cls(**keyword_arguments(cls, f"method {name!r}", given))
