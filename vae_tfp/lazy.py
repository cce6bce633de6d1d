"""Deferred imports, so that what only needs names (the Snakefile's config checks) never
pays for the TensorFlow import (seconds per process: ``benchmarks/startup_costs.py``)."""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType


def lazy_import(name: str) -> ModuleType:
    """The module ``name``, executed on its first attribute access.

    The standard library's recipe (``importlib.util.LazyLoader``): the module object is
    registered in ``sys.modules`` at once, so later ``import name`` statements share it, and
    its code runs when an attribute is first read. A module already imported is returned as
    it is.

    Args:
        name: A module name, e.g. ``"tensorflow"``.

    Raises:
        ModuleNotFoundError: If no such module is installed.
    """
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.find_spec(name)
    if spec is None:
        raise ModuleNotFoundError(f"no module named {name!r}", name=name)
    loader = importlib.util.LazyLoader(spec.loader)
    spec.loader = loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    loader.exec_module(module)
    return module
