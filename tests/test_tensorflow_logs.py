"""Job logs without TensorFlow's start-up lines (vae_tfp.tensorflow_logs)."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

from vae_tfp.tensorflow_logs import AbslInfoFilter, is_noise

# TensorFlow 2.21's start-up on a CPU machine, as it reached every train.log.
START_UP = """\
WARNING: All log messages before absl::InitializeLog() is called are written to STDERR
I0000 00:00:1796118513.321571    5277 port.cc:153] oneDNN custom operations are on. You may see slightly different numerical results.
I0000 00:00:1796118513.321847    5277 cudart_stub.cc:31] Could not find cuda drivers on your machine, GPU will not be used.
I0000 00:00:1796119591.550075   16613 cpu_feature_guard.cc:227] This TensorFlow binary is optimized to use available CPU instructions in performance-critical operations.
To enable the following instructions: AVX2 AVX512F FMA, in other operations, rebuild TensorFlow with the appropriate compiler flags.
E0000 00:00:1796118518.762621    5277 cuda_platform.cc:52] failed call to cuInit: INTERNAL: CUDA error: Failed call to cuInit: UNKNOWN ERROR (303)
"""  # noqa: E501


def test_start_up_lines_are_noise_at_the_default_level():
    assert all(is_noise(START_UP.splitlines(keepends=True)))


def test_errors_other_output_and_lower_levels_are_kept():
    lines = [
        "E0000 00:00:1796118518.762621    5277 some_op.cc:52] could not allocate 8 GiB",
        "  the continuation of a kept error",
        "F0000 00:00:1796118518.762621    5277 check.cc:1] Check failed: x == y",
        "Traceback (most recent call last):",
        "W1201 10:00:00.123456    5277 fallback.cc:9] a warning, dropped below level 2",
        "2026-12-01 10:00:00,000 INFO root: a line of the package",
    ]
    assert is_noise(lines) == [False, False, False, False, True, False]
    assert is_noise(lines, min_level=0) == [False] * 6
    # TF_CPP_MIN_LOG_LEVEL=0 asks for the INFO lines: only the preamble and cuInit go
    assert is_noise(START_UP.splitlines(), min_level=0) == [True, False, False, False, False, True]


def test_absl_info_records_are_dropped_and_others_kept():
    keep = AbslInfoFilter().filter

    def record(name, level):
        return logging.LogRecord(name, level, __file__, 1, "m", None, None)

    assert not keep(record("absl", logging.INFO))  # "Sharding callback duration: 9 microseconds"
    assert keep(record("absl", logging.WARNING))
    assert keep(record("vae_tfp.training.loop", logging.INFO))


def test_the_first_import_of_tensorflow_writes_nothing_to_stderr():
    code = (
        "from vae_tfp.tensorflow_logs import quiet_tensorflow\n"
        "quiet_tensorflow()\n"
        "from vae_tfp.lazy import lazy_import\n"
        "tf = lazy_import('tensorflow')\n"
        "tf.config.threading.set_intra_op_parallelism_threads(1)\n"  # still configurable
        "print(int(tf.constant(2) * 3))\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[1])
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    assert done.stdout == "6\n"
    assert done.stderr == ""
