"""``methods``: the presets and every registered method part, by role, with its declared
hyper-parameters."""

from __future__ import annotations

import argparse
from pathlib import Path


def _methods(args: argparse.Namespace) -> None:
    from vae_tfp.declarations import declared_params
    from vae_tfp.methods.base import ROLES
    from vae_tfp.methods.registry import METHODS, PRESETS
    from vae_tfp.plugins import load_plugins, plugin_spec_of, resolve_plugin_specs

    load_plugins(resolve_plugin_specs(args.plugins, Path.cwd()))
    print("Presets (a method variant's `method`; override any setting, or add parts with '+'):")
    for name in sorted(PRESETS):
        preset = PRESETS[name]
        settings = ", ".join(f"{k}={v!r}" for k, v in preset.defaults.items())
        parts = " + ".join(preset.parts) or "no part"
        print(f"{name} = {parts}{f' ({settings})' if settings else ''}")
        print(f"    {' '.join(preset.description.split())}")
    print("\nParts (at most one per role; compose them as `a + b`):")
    for role, what in ROLES.items():
        print(f"[{role}] {what}")
        for name in sorted(n for n, cls in METHODS.items() if cls.role == role):
            cls = METHODS[name]
            plugin = plugin_spec_of("methods", name)
            origin = f"{plugin}:" if plugin else f"{cls.__module__}."
            summary = " ".join((cls.__doc__ or "").strip().split("\n\n")[0].split())
            print(f"{name}  [{origin}{cls.__qualname__}]\n    {summary}")
            for key, declared in declared_params(cls).items():
                param = declared.param
                default = "required" if declared.required else f"default {declared.default!r}"
                allowed = f" {param.range_text()}" if param.range_text() else ""
                kind = param.type.__name__
                print(f"    - {key}: {kind}{allowed}, {default}: {param.description}")
    print("\nEvery method also takes kl_estimator: analytic (default) or sampled.")


def register(commands: argparse._SubParsersAction) -> None:
    """Adds ``methods`` to the CLI's subparsers."""
    methods = commands.add_parser(
        "methods", help="list the methods and their declared hyper-parameters"
    )
    methods.add_argument(
        "--plugins",
        nargs="*",
        default=[],
        help="plugins to load first: module names or .py files (relative to here)",
    )
    methods.set_defaults(func=_methods)
