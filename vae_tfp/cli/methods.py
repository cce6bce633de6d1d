"""``methods``: every registered method with its declared hyper-parameters."""

from __future__ import annotations

import argparse
from pathlib import Path


def _methods(args: argparse.Namespace) -> None:
    from vae_tfp.methods.registry import METHODS, method_declarations
    from vae_tfp.plugins import load_plugins, plugin_spec_of, resolve_plugin_specs

    load_plugins(resolve_plugin_specs(args.plugins, Path.cwd()))
    for name in sorted(METHODS):
        cls = METHODS[name]
        plugin = plugin_spec_of("methods", name)
        origin = f"{plugin}:" if plugin else f"{cls.__module__}."
        summary = " ".join((cls.__doc__ or "").strip().split("\n\n")[0].split())
        print(f"{name}  [{origin}{cls.__qualname__}]\n    {summary}")
        for key, declared in method_declarations(name).items():
            param = declared.param
            default = "required" if declared.required else f"default {declared.default!r}"
            allowed = f" {param.range_text()}" if param.range_text() else ""
            print(f"    - {key}: {param.type.__name__}{allowed}, {default}: {param.description}")


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
