"""What a researcher waits for before and after the real work: the TensorFlow import, the
workflow's config parse (which must not import TensorFlow), and ``snakemake --report``.

Each is timed as its own fresh process, ``--repeats`` times; the table prints the median,
min and max wall seconds. The parse is the imports and checks of
``workflows/rules/common.smk``, measured as a dry run of the embedded default
(``snakemake -n``); the line below the table says whether TensorFlow was imported by the
config modules (it must not be: docs/extending.md, "No TensorFlow at import time").

    python benchmarks/startup_costs.py [--repeats 3] [--experiment embedded --config CONFIG]

The report timing needs the experiment's outputs (``make run`` for the embedded default)
and writes ``results/<experiment>/report.html``, as ``make report`` does.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

BIN = Path(sys.executable).parent
CONFIG_MODULES = (
    "import vae_tfp.config, vae_tfp.data.registry, vae_tfp.plugins, vae_tfp.tensorflow_logs, "
    "vae_tfp.report.options, vae_tfp.report.figures"
)


def wall_seconds(command: list[str], repeats: int) -> list[float]:
    """Wall seconds of ``repeats`` fresh runs of ``command``; raises if one fails."""
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        seconds.append(time.perf_counter() - start)
    return seconds


def config_modules_import_tensorflow() -> bool:
    """Whether importing the modules the Snakefile parses configs with runs TensorFlow's code.

    ``lazy_import`` registers a module in ``sys.modules`` before running it, so the probe is
    a submodule that only TensorFlow's own ``__init__`` imports.
    """
    probe = f"{CONFIG_MODULES}; import sys; print('tensorflow.python' in sys.modules)"
    output = subprocess.run([sys.executable, "-c", probe], check=True, capture_output=True)
    return output.stdout.decode().strip() == "True"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--experiment", default="embedded")
    parser.add_argument("--config", help="the experiment's config (default: the embedded one)")
    args = parser.parse_args()
    configfile = ["--configfile", args.config] if args.config else []
    report = Path("results") / args.experiment / "report.html"
    commands = {
        "import tensorflow": [sys.executable, "-c", "import tensorflow"],
        "config modules": [sys.executable, "-c", CONFIG_MODULES],
        "snakemake -n (parse + DAG)": [str(BIN / "snakemake"), "-n", "--quiet", *configfile],
        "snakemake --report": [str(BIN / "snakemake"), *configfile, "--report", str(report)],
    }
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}, {args.repeats} runs each")
    print(f"{'step':<28} {'median s':>9} {'min s':>7} {'max s':>7}")
    for name, command in commands.items():
        seconds = wall_seconds(command, args.repeats)
        print(
            f"{name:<28} {statistics.median(seconds):>9.2f} {min(seconds):>7.2f}"
            f" {max(seconds):>7.2f}"
        )
    print(f"report size: {report.stat().st_size / 2**20:.1f} MiB ({report})")
    print(f"config modules import TensorFlow: {config_modules_import_tensorflow()}")
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
