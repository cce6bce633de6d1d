"""Anti-collapse methods as compositions of parts (a KL schedule, a floor, a posterior
transform or refinement, phases, an inner loop, an objective, decoder options).

What a plugin needs: subclass :class:`Method` as a frozen dataclass with a ``name`` and a
``role``, declare its hyper-parameters with :func:`hyperparameter` and register it with
:func:`register_method`; or register a named composition with :func:`register_preset`
(``docs/extending.md``).
"""

from vae_tfp.declarations import hyperparameter
from vae_tfp.methods.base import ROLES, Method
from vae_tfp.methods.composite import Composite
from vae_tfp.methods.presets import Preset
from vae_tfp.methods.registry import (
    METHODS,
    PRESETS,
    build_method,
    register_method,
    register_preset,
)

__all__ = [
    "METHODS",
    "PRESETS",
    "ROLES",
    "Composite",
    "Method",
    "Preset",
    "build_method",
    "hyperparameter",
    "register_method",
    "register_preset",
]
