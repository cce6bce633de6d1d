"""Readable job logs: TensorFlow's native noise and absl's per-epoch chatter filtered out.

TensorFlow 2.21 prints lines that say nothing about the run: while it is imported and
looks for devices (oneDNN is on, no CUDA driver, ``failed call to cuInit`` on a machine
without a GPU, the CPU instructions it was not built for) and while it optimizes a graph
(the MLIR pass of Grappler giving up on a node "with an empty op name", oneDNN falling back
to Eigen for an integer type). Its native libraries log them through abseil before
abseil's logging is initialized, and such messages go to stderr whatever
``TF_CPP_MIN_LOG_LEVEL`` says (abseil/abseil-cpp#1718, #1957).

So a TensorFlow job of the CLI (:func:`quiet_tensorflow`) sets ``TF_CPP_MIN_LOG_LEVEL=2``
(no native INFO or WARNING lines) and sends its file descriptor 2 (Python's and the native
libraries' output alike, in the order written) through a child process that drops the
noise lines (:func:`is_noise`) and passes every other line on at once. The child outlives
a crash of the job, so a fatal native message or a traceback still reaches the log.

The Python side: absl's INFO records (``Sharding callback duration`` after every epoch)
are dropped by :class:`AbslInfoFilter` on the CLI's log handler.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterable
from typing import BinaryIO

# An abseil / glog line: severity, date (0000 before abseil is set up: then hh:mm:epoch
# seconds), time, thread id, file:line].
_NATIVE_LINE = re.compile(r"^(?P<severity>[IWEF])\d{4} \d\d:\d\d:\d+\.\d+\s+\d+ \S+:\d+\] ")
_SEVERITIES = "IWEF"
# Native lines that are noise at any severity on a machine set up as intended.
_NOISE_MESSAGES = (
    re.compile(r"failed call to cuInit"),  # E: no GPU driver; TensorFlow runs on the CPU
    # E: the MLIR graph pass skips a graph with a nameless node; Grappler goes on without it
    re.compile(r"tfg_optimizer_hook\.cc:\d+\] tfg_optimizer\{.*\} failed: .*empty op name"),
    # E: no AVX-512, so oneDNN leaves integer and boolean ops to Eigen's kernels
    re.compile(r"oneDNN supports DT_\w+ only on platforms with AVX-512"),
)
_ABSL_PREAMBLE = "WARNING: All log messages before absl::InitializeLog() is called"
# Second lines of multi-line native messages, dropped with their first line.
_CONTINUATIONS = (
    "To enable the following instructions:",  # cpu_feature_guard.cc
    "\twhen importing GraphDef to MLIR module in GrapplerHook",  # tfg_optimizer_hook.cc
)


def _min_level() -> int:
    """TensorFlow's ``TF_CPP_MIN_LOG_LEVEL`` (0 INFO .. 3 FATAL only), 2 when unset."""
    try:
        return int(os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2"))
    except ValueError:
        return 2


def _noise_line(line: str, previous: bool, min_level: int) -> bool:
    """Whether one line is noise (see :func:`is_noise`), given the previous line's flag."""
    text = line.rstrip("\r\n")
    if text.startswith(_ABSL_PREAMBLE):
        return True
    match = _NATIVE_LINE.match(text)
    if match:
        below = _SEVERITIES.index(match["severity"]) < min_level
        return below or any(p.search(text) for p in _NOISE_MESSAGES)
    return previous if text.startswith(_CONTINUATIONS) else False


def is_noise(lines: Iterable[str], min_level: int = 2) -> list[bool]:
    """Which of TensorFlow's stderr lines are noise, one flag per line.

    A native log line is noise if its severity is below ``min_level`` (TensorFlow's
    ``TF_CPP_MIN_LOG_LEVEL`` scale: 0 INFO, 1 WARNING, 2 ERROR, 3 FATAL) or if its message
    is one of the known harmless ones (the missing CUDA driver, Grappler's MLIR pass
    skipping a graph, oneDNN's fallback to Eigen); abseil's "All log messages before
    absl::InitializeLog()" preamble is noise; the known second line of a two-line message
    shares the flag of the line before. Anything else, e.g. Python's own output, is kept.

    Args:
        lines: Lines of stderr, with or without their line endings.
        min_level: The lowest native severity kept.

    Returns:
        True for each line to drop.
    """
    flags, previous = [], False
    for line in lines:
        previous = _noise_line(line, previous, min_level)
        flags.append(previous)
    return flags


def copy_without_noise(source: BinaryIO, sink: BinaryIO, min_level: int = 2) -> None:
    """Copies ``source`` to ``sink`` line by line until end of file, without the noise
    lines (:func:`is_noise`), flushing after each line so a log is current.

    Args:
        source: A binary stream read line by line (the job's stderr pipe).
        sink: The binary stream kept lines go to (the job's log).
        min_level: The lowest native severity kept.
    """
    previous = False
    for raw in iter(source.readline, b""):
        previous = _noise_line(raw.decode("utf-8", "replace"), previous, min_level)
        if not previous:
            sink.write(raw)
            sink.flush()


def filter_stderr(min_level: int | None = None) -> None:
    """Sends the rest of this process's file descriptor 2 through a child process running
    :func:`copy_without_noise` into what descriptor 2 was before.

    The child ignores SIGINT and SIGTERM and ends when the last writer closes the pipe, so
    what the job wrote before it was stopped or crashed still reaches the log. At exit
    the job restores descriptor 2 and waits for the child to finish writing.

    Args:
        min_level: The lowest native severity kept (default: ``TF_CPP_MIN_LOG_LEVEL``).
    """
    level = _min_level() if min_level is None else min_level
    sys.stderr.flush()
    original = os.dup(2)
    child = subprocess.Popen(
        [sys.executable, "-m", __name__, str(level)], stdin=subprocess.PIPE, stdout=original
    )
    os.dup2(child.stdin.fileno(), 2)
    child.stdin.close()

    def finish() -> None:
        sys.stderr.flush()
        os.dup2(original, 2)  # closes this process's end of the pipe: the child reads EOF
        # A subprocess of the job may still hold the pipe: do not wait for it forever.
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.wait(timeout=30)

    atexit.register(finish)


def tensorflow_environment() -> None:
    """Sets, unless already set, ``TF_CPP_MIN_LOG_LEVEL=2`` (no native INFO or WARNING
    lines) and ``TF_USE_LEGACY_KERAS=1``, so that TensorFlow's import loads tf_keras (the
    Keras the suite and TensorFlow Probability use) rather than Keras 3 as well; child
    processes inherit both. Call it before anything imports TensorFlow."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")


def quiet_tensorflow() -> None:
    """Prepares this process for a TensorFlow job with a readable log: the environment of
    :func:`tensorflow_environment` and the known noise filtered from stderr
    (:func:`filter_stderr`). Call it before anything imports TensorFlow."""
    tensorflow_environment()
    filter_stderr()


class AbslInfoFilter(logging.Filter):
    """Drops absl's records below WARNING (TensorFlow's ``Sharding callback duration``
    after every epoch) and keeps every other record."""

    def filter(self, record: logging.LogRecord) -> bool:
        """False for absl's INFO and DEBUG records."""
        return record.name != "absl" or record.levelno >= logging.WARNING


if __name__ == "__main__":  # the filter child of :func:`filter_stderr`
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    copy_without_noise(sys.stdin.buffer, sys.stdout.buffer, int(sys.argv[1]))
