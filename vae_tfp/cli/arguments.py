"""The argument shapes the subcommands share, defined once.

Each subcommand module adds its options with :func:`add`, which takes the shape of an
option (required or not, its type, how many values) from :data:`SHAPES` and the help text
from the caller, since the same option means a different folder or file to each command.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any


def json_object(text: str) -> dict:
    """An argparse type: a JSON object."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise argparse.ArgumentTypeError(f"not valid JSON: {error}") from error
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f"expected a JSON object, got {type(value).__name__}")
    return value


def json_list(text: str) -> list:
    """An argparse type: a JSON list."""
    value = json.loads(text)
    if not isinstance(value, list):
        raise argparse.ArgumentTypeError(f"expected a JSON list, got {type(value).__name__}")
    return value


# The options several subcommands take, by name: everything but the help text.
SHAPES: dict[str, dict[str, Any]] = {
    "--summary": {"required": True, "type": Path},
    "--output-dir": {"required": True, "type": Path},
    "--output": {"required": True, "type": Path},
    "--dataset": {"required": True},
    "--methods": {"required": True, "nargs": "+"},
    "--baseline": {"default": "vanilla"},
    "--run-dir": {"required": True, "type": Path},
    "--data": {"required": True, "type": Path},
    "--threads": {"type": int, "default": 1},
    "--gpus": {"type": int, "default": None},
    "--results": {"required": True, "type": Path},
    "metrics": {"nargs": "+", "type": Path},
    # The config's protocol_differences: the landing page takes all (dataset -> sentences),
    # a dataset table its dataset's list (type=json_list, default=[]).
    "--protocol-differences-json": {"type": json_object, "default": {}},
}

THREADS_HELP = "TensorFlow intra-op threads"
GPUS_HELP = "GPUs given to the job; 0 hides every GPU (default: leave the devices as they are)"


def add(parser: argparse.ArgumentParser, name: str, help: str, **changes: Any) -> None:
    """Adds the option ``name`` in its shared shape (:data:`SHAPES`), with ``help`` and
    any ``changes`` to the shape."""
    parser.add_argument(name, **{**SHAPES[name], **changes}, help=help)


def add_tensorflow_job(parser: argparse.ArgumentParser) -> None:
    """``--threads`` and ``--gpus`` of a command that runs TensorFlow, and the mark that
    has the CLI quiet TensorFlow's logs (:func:`vae_tfp.tensorflow_logs.quiet_tensorflow`)."""
    add(parser, "--threads", THREADS_HELP)
    add(parser, "--gpus", GPUS_HELP)
    parser.set_defaults(tensorflow_job=True)
