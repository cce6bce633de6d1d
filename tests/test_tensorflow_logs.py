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

# Lines TensorFlow 2.21 printed while optimizing graphs, in train.log of the MADE, gated
# PixelCNN and LSTM runs of `make run` and of the PTB runs.
GRAPH_OPTIMIZATION = """\
E0000 00:00:1796139966.335214   21847 tfg_optimizer_hook.cc:135] tfg_optimizer{any(tfg-consolidate-attrs,tfg-toposort,tfg-shape-inference{graph-version=0},tfg-prepare-attrs-export)} failed: INVALID_ARGUMENT: Node while/body/_1/while/Autoregressive/log_prob/model/activation_1/Relu has an empty op name
	when importing GraphDef to MLIR module in GrapplerHook
E0000 00:00:1796134524.355664    4003 util.cc:131] oneDNN supports DT_INT32 only on platforms with AVX-512. Falling back to the default Eigen-based implementation if present.
E0000 00:00:1796134524.355664    4003 util.cc:131] oneDNN supports DT_BOOL only on platforms with AVX-512. Falling back to the default Eigen-based implementation if present.
"""  # noqa: E501


def test_start_up_lines_are_noise_at_the_default_level():
    assert all(is_noise(START_UP.splitlines(keepends=True)))


def test_graph_optimization_lines_are_noise_but_a_similar_error_is_kept():
    assert all(is_noise(GRAPH_OPTIMIZATION.splitlines(keepends=True)))
    other = [
        "E0000 00:00:1796139966.335214   21847 tfg_optimizer_hook.cc:135] tfg_optimizer{x} "
        "failed: RESOURCE_EXHAUSTED: out of memory",
        "\twhen importing GraphDef to MLIR module in GrapplerHook",
    ]
    assert is_noise(other) == [False, False]


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


def test_a_job_log_keeps_order_and_a_crash_message_and_drops_the_noise():
    # The job's stderr goes through the filter child; the job then dies of SIGABRT, as a
    # failed native check ends it: what it wrote before still reaches the log, in order.
    code = (
        "import logging, os, sys\n"
        "from vae_tfp.tensorflow_logs import quiet_tensorflow\n"
        "quiet_tensorflow()\n"
        "logging.basicConfig(level=logging.INFO, format='%(message)s')\n"
        "logging.info('epoch 1/2')\n"
        f"os.write(2, {GRAPH_OPTIMIZATION.encode()!r})\n"
        "logging.info('epoch 2/2')\n"
        "os.write(2, b'F0000 00:00:1796118518.762621 5277 check.cc:1] Check failed: x == y\\n')\n"
        "os.abort()\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[1])
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert done.returncode == -6  # SIGABRT
    assert done.stderr.splitlines() == [
        "epoch 1/2",
        "epoch 2/2",
        "F0000 00:00:1796118518.762621 5277 check.cc:1] Check failed: x == y",
    ]
