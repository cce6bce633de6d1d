"""Anti-collapse objectives: each method turns (rec, kl_per_dim, step) into a loss.

What a plugin needs: subclass :class:`Method` as a frozen dataclass, declare its
hyper-parameters with :func:`hyperparameter` and register it with :func:`register_method`
(``docs/extending.md``).
"""

from vae_tfp.declarations import hyperparameter
from vae_tfp.methods.base import Method
from vae_tfp.methods.registry import METHODS, build_method, register_method

__all__ = ["METHODS", "Method", "build_method", "hyperparameter", "register_method"]
