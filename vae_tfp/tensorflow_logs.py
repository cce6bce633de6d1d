"""Readable job logs: TensorFlow's start-up lines and absl's per-epoch chatter filtered out.

TensorFlow 2.21 prints, while it is imported and when it first looks for devices, lines that
say nothing about the run (oneDNN is on, no CUDA driver, ``failed call to cuInit`` on a
machine without a GPU, the CPU instructions it was not built for). Its native libraries log
them through abseil before abseil's logging is initialized, and such messages go to stderr
whatever ``TF_CPP_MIN_LOG_LEVEL`` says (abseil/abseil-cpp#1718, #1957); the later ones (XLA
service, "Compiled cluster using XLA!") do honour it. So the CLI sets
``TF_CPP_MIN_LOG_LEVEL=2`` (no native INFO or WARNING lines) and runs TensorFlow's first
import and device discovery with file descriptor 2 pointed at a temporary file, then
replays every line of it that is not noise (:func:`is_noise`). Errors and anything
unexpected still reach the log, after the import instead of during it.

The Python side: absl's INFO records (``Sharding callback duration`` after every epoch)
are dropped by :class:`AbslInfoFilter` on the CLI's log handler.
"""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.machinery
import logging
import os
import re
import sys
import tempfile
from collections.abc import Iterable, Iterator

# An abseil / glog line: severity, date (0000 before abseil is set up: then hh:mm:epoch
# seconds), time, thread id, file:line].
_NATIVE_LINE = re.compile(r"^(?P<severity>[IWEF])\d{4} \d\d:\d\d:\d+\.\d+\s+\d+ \S+:\d+\] ")
_SEVERITIES = "IWEF"
# Native lines that are noise at any severity on a machine set up as intended.
_NOISE_MESSAGES = (
    re.compile(r"failed call to cuInit"),  # E: no GPU driver; TensorFlow runs on the CPU
)
_ABSL_PREAMBLE = "WARNING: All log messages before absl::InitializeLog() is called"
# Second lines of multi-line native messages, dropped with their first line.
_CONTINUATIONS = ("To enable the following instructions:",)  # cpu_feature_guard.cc


def _min_level() -> int:
    """TensorFlow's ``TF_CPP_MIN_LOG_LEVEL`` (0 INFO .. 3 FATAL only), 2 when unset."""
    try:
        return int(os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2"))
    except ValueError:
        return 2


def is_noise(lines: Iterable[str], min_level: int = 2) -> list[bool]:
    """Which of TensorFlow's start-up lines are noise, one flag per line.

    A native log line is noise if its severity is below ``min_level`` (TensorFlow's
    ``TF_CPP_MIN_LOG_LEVEL`` scale: 0 INFO, 1 WARNING, 2 ERROR, 3 FATAL) or if it reports
    the missing CUDA driver (``failed call to cuInit``); abseil's "All log messages before
    absl::InitializeLog()" preamble is noise; the known second line of a two-line message
    (the CPU instructions TensorFlow was not built for) shares the flag of the line before.
    Anything else, e.g. Python's own output, is kept.

    Args:
        lines: Lines of stderr, with or without their line endings.
        min_level: The lowest native severity kept.

    Returns:
        True for each line to drop.
    """
    flags, previous = [], False
    for line in lines:
        text = line.rstrip("\r\n")
        match = _NATIVE_LINE.match(text)
        if text.startswith(_ABSL_PREAMBLE):
            flag = True
        elif match:
            below = _SEVERITIES.index(match["severity"]) < min_level
            flag = below or any(p.search(text) for p in _NOISE_MESSAGES)
        elif text.startswith(_CONTINUATIONS):
            flag = previous
        else:
            flag = False
        flags.append(flag)
        previous = flag
    return flags


@contextlib.contextmanager
def filtered_native_stderr(min_level: int | None = None) -> Iterator[None]:
    """Points file descriptor 2 at a temporary file for the ``with`` block, then writes
    the lines of it that are not noise (:func:`is_noise`) to the real stderr.

    Python's ``sys.stderr`` is flushed first so nothing written before the block is
    caught in it. If the block raises, every captured line is replayed.

    Args:
        min_level: The lowest native severity kept (default: ``TF_CPP_MIN_LOG_LEVEL``).
    """
    level = _min_level() if min_level is None else min_level
    sys.stderr.flush()
    saved = os.dup(2)
    ok = False
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
            ok = True
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            lines = captured.read().decode("utf-8", "replace").splitlines(keepends=True)
            flags = is_noise(lines, level) if ok else [False] * len(lines)
            kept = "".join(line for line, drop in zip(lines, flags, strict=True) if not drop)
            if kept:
                sys.stderr.write(kept if kept.endswith("\n") else kept + "\n")
                sys.stderr.flush()


class _QuietTensorFlowFinder(importlib.abc.MetaPathFinder):
    """Finds ``tensorflow`` as usual and makes its loader run the module, then list the
    devices (where CUDA is probed), inside :func:`filtered_native_stderr`.

    Wrapping the loader, not an import statement, covers every first import (direct,
    through TensorFlow Probability, or a :func:`vae_tfp.lazy.lazy_import` module's first
    attribute access) wherever it happens.
    """

    def find_spec(self, fullname, path, target=None):
        """TensorFlow's spec, its loader wrapped; None for every other module."""
        if fullname != "tensorflow":
            return None
        with contextlib.suppress(ValueError):
            sys.meta_path.remove(self)
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        run_module = spec.loader.exec_module

        def exec_module(module):
            with filtered_native_stderr():
                run_module(module)
                module.config.list_physical_devices()

        spec.loader.exec_module = exec_module  # this spec's own loader instance
        return spec


def quiet_tensorflow() -> None:
    """Sets ``TF_CPP_MIN_LOG_LEVEL`` to 2 unless it is set, and filters the noise of
    TensorFlow's first import (:class:`_QuietTensorFlowFinder`); a no-op once TensorFlow
    has been imported. Call it before anything imports TensorFlow."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if "tensorflow" in sys.modules:  # imported, or found by a lazy import: too late
        return
    if not any(isinstance(finder, _QuietTensorFlowFinder) for finder in sys.meta_path):
        sys.meta_path.insert(0, _QuietTensorFlowFinder())


class AbslInfoFilter(logging.Filter):
    """Drops absl's records below WARNING (TensorFlow's ``Sharding callback duration``
    after every epoch) and keeps every other record."""

    def filter(self, record: logging.LogRecord) -> bool:
        """False for absl's INFO and DEBUG records."""
        return record.name != "absl" or record.levelno >= logging.WARNING
