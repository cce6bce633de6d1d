"""Plugins: methods, decoders and datasets that live outside the package.

Two ways in, one registry:

- **Installed packages** declare entry points in the groups ``vae_tfp.methods`` (a
  :class:`vae_tfp.methods.Method` subclass), ``vae_tfp.decoders`` (a decoder class with a
  ``dataset_kinds`` attribute) and ``vae_tfp.datasets`` (a
  :class:`vae_tfp.data.registry.DatasetSpec`); the entry point's name is the config name.
  They are loaded in every process that loads plugins (``importlib.metadata.entry_points``).
- **A config's ``plugins:`` list** names importable modules (``my_lab.vae_methods``) or
  Python files (``capacity_vae.py``, relative to the config file); importing one runs its
  ``register_method`` / ``register_decoder`` / ``register_dataset`` calls.

The Snakefile loads the config's plugins before it checks the config, so a plugin method's
hyper-parameters are checked at parse time like a built-in's. Each run config lists the
plugins its method, decoder or dataset comes from (``plugins``), and the train and evaluate
jobs load them from there; ``metrics.json`` records every loaded plugin's module, file
SHA-256 and distribution version (:func:`plugin_provenance`).

This module imports no TensorFlow (a plugin module should not either at import time; see
``vae_tfp.lazy``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib
import importlib.util
import os
import re
import sys
import traceback
from collections.abc import Iterable, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

from vae_tfp.data.registry import DATASETS, DatasetSpec, register_dataset
from vae_tfp.methods.registry import METHODS, PRESETS, register_method
from vae_tfp.models.decoder_types import DECODER_TYPES, register_decoder

ENTRY_POINT_GROUPS = ("vae_tfp.methods", "vae_tfp.decoders", "vae_tfp.datasets")
# What a plugin can register, and the registry holding each kind.
_REGISTRIES = {
    "methods": METHODS,
    "presets": PRESETS,
    "decoders": DECODER_TYPES,
    "datasets": DATASETS,
}
SPEC_HELP = (
    "a plugin is an importable module name (my_lab.vae_methods) or the path of a .py file, "
    "relative to the config file that lists it"
)


class PluginError(ValueError):
    """A plugin that cannot be found, imported or registered."""


@dataclasses.dataclass
class LoadedPlugin:
    """What was loaded, from where, and what it registered (recorded in ``metrics.json``).

    Attributes:
        spec: The plugin as the run config lists it (module name or file path), or
            ``group:name`` for an entry point.
        source: ``"file"``, ``"module"`` or ``"entry_point"``.
        module: The module's name in ``sys.modules``.
        path: Its source file, if it has one.
        sha256: SHA-256 of that file.
        distribution: The installed distribution providing it, if any.
        version: That distribution's version.
        registered: Names it registered, by kind (``methods``, ``decoders``, ``datasets``).
    """

    spec: str
    source: str
    module: str
    path: str | None = None
    sha256: str | None = None
    distribution: str | None = None
    version: str | None = None
    registered: dict[str, list[str]] = dataclasses.field(default_factory=dict)


_LOADED: dict[str, LoadedPlugin] = {}  # by spec (file plugins: absolute path)
_ENTRY_POINTS_DONE = False


def is_file_spec(spec: str) -> bool:
    """Whether a plugin spec names a file (a ``.py`` suffix or a path separator)."""
    return spec.endswith(".py") or "/" in spec or os.sep in spec


def resolve_plugin_specs(specs: Iterable[str], base_dir: str | os.PathLike) -> list[str]:
    """File plugins resolved against ``base_dir`` (the config file's folder); modules as given.

    A resolved file below the working directory is given relative to it (the folder
    Snakemake runs jobs in), so the run configs of an experiment do not change when its
    folder moves; other files get absolute paths.
    """
    resolved = []
    for spec in specs:
        if not is_file_spec(spec):
            resolved.append(spec)
            continue
        path = (Path(base_dir) / Path(spec).expanduser()).resolve()
        try:
            resolved.append(str(path.relative_to(Path.cwd().resolve())))
        except ValueError:
            resolved.append(str(path))
    return resolved


def _file_sha256(path: str | os.PathLike) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _distribution_of(module_name: str) -> tuple[str | None, str | None]:
    """(distribution, version) installing the top-level package of ``module_name``."""
    top = module_name.partition(".")[0]
    names = metadata.packages_distributions().get(top, [])
    if not names:
        return None, None
    return names[0], metadata.version(names[0])


def _registry_names() -> dict[str, set[str]]:
    return {kind: set(registry) for kind, registry in _REGISTRIES.items()}


def _new_names(before: dict[str, set[str]]) -> dict[str, list[str]]:
    return {
        kind: sorted(set(registry) - before[kind])
        for kind, registry in _REGISTRIES.items()
        if set(registry) - before[kind]
    }


def _import_file(path: Path) -> Any:
    stem = re.sub(r"\W", "_", path.stem)
    name = f"vae_tfp_plugin_{stem}"
    if name in sys.modules:  # another file with that stem: keep names apart
        name += "_" + hashlib.sha256(str(path).encode()).hexdigest()[:8]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses and pickling look modules up by name
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


def _load_one(spec: str, index: int) -> LoadedPlugin:
    where = f"plugins[{index}] {spec!r}"
    before = _registry_names()
    try:
        if is_file_spec(spec):
            path = Path(spec).resolve()
            if not path.is_file():
                raise PluginError(f"{where}: no such file {str(path)!r}; {SPEC_HELP}")
            module = _import_file(path)
            record = LoadedPlugin(spec, "file", module.__name__, str(path), _file_sha256(path))
        else:
            try:
                module = importlib.import_module(spec)
            except ModuleNotFoundError as error:
                if error.name is None or not spec.startswith(error.name):
                    raise
                message = f"{where}: no module named {error.name!r}; {SPEC_HELP}"
                raise PluginError(message) from None
            file = getattr(module, "__file__", None)
            distribution, version = _distribution_of(module.__name__)
            record = LoadedPlugin(
                spec,
                "module",
                module.__name__,
                path=file,
                sha256=_file_sha256(file) if file else None,
                distribution=distribution,
                version=version,
            )
    except PluginError:
        raise
    except Exception as error:
        last = traceback.format_exception_only(error)[-1].strip()
        raise PluginError(f"{where} failed to load: {last}") from error
    record.registered = _new_names(before)
    if not record.registered:
        raise PluginError(
            f"{where} registered no method, decoder or dataset (call register_method, "
            "register_preset, register_decoder or register_dataset at import)"
        )
    return record


def _register_entry_point(group: str, entry_point: metadata.EntryPoint) -> None:
    obj = entry_point.load()
    if group == "vae_tfp.methods":
        if getattr(obj, "name", None) != entry_point.name:
            raise PluginError(f"method class {obj!r} has name {getattr(obj, 'name', None)!r}")
        register_method(obj)
    elif group == "vae_tfp.decoders":
        register_decoder(entry_point.name, obj, getattr(obj, "dataset_kinds", ()))
    else:
        if not isinstance(obj, DatasetSpec) or obj.name != entry_point.name:
            raise PluginError(f"{obj!r} is not a DatasetSpec named {entry_point.name!r}")
        register_dataset(obj)


def load_entry_points() -> None:
    """Loads every installed entry point of :data:`ENTRY_POINT_GROUPS` (once per process).

    Raises:
        PluginError: Naming the entry point and its distribution when one fails.
    """
    global _ENTRY_POINTS_DONE
    if _ENTRY_POINTS_DONE:
        return
    for group in ENTRY_POINT_GROUPS:
        for entry_point in metadata.entry_points(group=group):
            dist = entry_point.dist
            spec = f"{group}:{entry_point.name}"
            before = _registry_names()
            try:
                _register_entry_point(group, entry_point)
            except Exception as error:
                owner = f"{dist.name} {dist.version}" if dist else "an unknown distribution"
                raise PluginError(
                    f"entry point {spec} = {entry_point.value} (from {owner}) failed to "
                    f"load: {error}"
                ) from error
            module = entry_point.module
            file = getattr(sys.modules.get(module), "__file__", None)
            _LOADED[spec] = LoadedPlugin(
                spec,
                "entry_point",
                module,
                path=file,
                sha256=_file_sha256(file) if file else None,
                distribution=dist.name if dist else None,
                version=dist.version if dist else None,
                registered=_new_names(before) or {group.rpartition(".")[2]: [entry_point.name]},
            )
    _ENTRY_POINTS_DONE = True


def load_plugins(specs: Sequence[str] = ()) -> list[LoadedPlugin]:
    """Loads the installed entry points and the given plugins (each once per process).

    Args:
        specs: Module names, or ``.py`` paths (relative ones to the working directory; see
            :func:`resolve_plugin_specs` for paths relative to a config file).

    Returns:
        The records of ``specs``, in order.

    Raises:
        PluginError: Naming the plugin that is missing, fails to import, registers nothing,
            or registers a name already taken.
    """
    load_entry_points()
    records = []
    for index, spec in enumerate(specs):
        key = str(Path(spec).resolve()) if is_file_spec(spec) else spec
        if key not in _LOADED:
            _LOADED[key] = _load_one(spec, index)
        records.append(_LOADED[key])
    return records


def plugin_spec_of(kind: str, name: str) -> str | None:
    """The config plugin (file or module spec) that registered ``name``, else None.

    Built-ins and entry points give None: every process has them without being told.
    """
    for record in _LOADED.values():
        if record.source != "entry_point" and name in record.registered.get(kind, []):
            return record.spec
    return None


def plugin_provenance() -> list[dict[str, Any]]:
    """Every plugin loaded in this process, as recorded in ``metrics.json``."""
    return [dataclasses.asdict(record) for record in _LOADED.values()]
