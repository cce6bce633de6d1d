"""What a tiny pipeline job costs: the train and evaluate jobs of one run of two epochs on
the embedded digits with a small MLP (the size of ``make test``'s pipelines, whose jobs are
mostly fixed cost: imports, tracing, XLA compiles), each a fresh process running the
command Snakemake plans for it, at this checkout and, with ``--baseline REV``, at that
commit (a git worktree on ``PYTHONPATH``), taking turns round by round.

Every job of a round trains or evaluates the same run from scratch (the run folder is
removed first); the data are prepared once. The table prints each job's median, min and
max wall seconds per source.

    python benchmarks/tiny_job_cost.py [--rounds 3] [--baseline REV] [--threads 1]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
RUN = "results/tiny/runs/digits/mlp/vanilla/seed0"


def tiny_config(threads: int) -> dict:
    """One run of two epochs on the embedded digits (8x8, binarized), z = 2, MLPs of 16."""
    return {
        "experiment": "tiny",
        "data_seed": 0,
        "seeds": [0],
        "datasets": {"digits": {"options": {"threshold": 8}}},
        "decoders": {"mlp": {"type": "mlp", "hidden_units": [16]}},
        "methods": {"vanilla": {"method": "vanilla"}},
        "grid": [{"datasets": ["digits"], "decoders": ["mlp"], "methods": ["vanilla"]}],
        "model": {"latent_dim": 2, "encoder_hidden_units": [16]},
        "training": {"epochs": 2, "batch_size": 64, "learning_rate": 0.01},
        "evaluation": {
            "iw_samples": 5,
            "iw_chunk": 5,
            "batch_size": 200,
            "au_threshold": 0.01,
            "mi_samples": 2,
            "mi_minibatch_size": 50,
        },
        "threads": threads,
    }


def snakemake(workdir: Path, configfile: Path, *args: str) -> str:
    """Runs the repository's workflow in ``workdir``; its stdout, or exits with its output."""
    done = subprocess.run(
        [str(BIN / "snakemake"), "--snakefile", str(ROOT / "Snakefile"), "--directory",
         str(workdir), *args, "--configfile", str(configfile)],
        cwd=workdir, capture_output=True, text=True,
    )  # fmt: skip
    if done.returncode:
        sys.exit(f"snakemake {' '.join(args)} failed:\n{done.stdout[-3000:]}{done.stderr[-3000:]}")
    return done.stdout


def planned_commands(workdir: Path, configfile: Path) -> dict[str, str]:
    """The shell command of each rule Snakemake plans for the run's metrics.json."""
    listing = snakemake(workdir, configfile, "-n", "-p", "--forceall", f"{RUN}/metrics.json")
    commands, rule = {}, None
    for line in listing.splitlines():
        if match := re.fullmatch(r"(?:local)?rule (\w+):", line.strip()):
            rule = match.group(1)
        elif rule and line.startswith("Shell command: "):
            commands[rule] = line.removeprefix("Shell command: ")
    return commands


def run_shell(command: str, workdir: Path, python_path: Path) -> float:
    """Wall seconds of ``command`` in ``workdir`` with ``python_path``'s vae_tfp."""
    env = {
        **os.environ,
        "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
        "PYTHONPATH": str(python_path),
        "TF_CPP_MIN_LOG_LEVEL": "2",
    }
    start = time.perf_counter()
    subprocess.run(command, shell=True, cwd=workdir, env=env, check=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--baseline", help="also time the jobs at this commit")
    parser.add_argument("--threads", type=int, default=1, help="the jobs' TensorFlow threads")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tiny-job-cost-") as scratch:
        workdir = Path(scratch)
        configfile = workdir / "experiment.yaml"
        configfile.write_text(yaml.safe_dump(tiny_config(args.threads), sort_keys=False))
        commands = planned_commands(workdir, configfile)
        sources = {"this checkout": ROOT}
        if args.baseline:
            revision = subprocess.run(
                ["git", "-C", str(ROOT), "rev-parse", "--short", args.baseline],
                check=True, capture_output=True, text=True,
            ).stdout.strip()  # fmt: skip
            tree = workdir / f"source-{revision}"
            subprocess.run(
                ["git", "-C", str(ROOT), "worktree", "add", "--detach", str(tree), revision],
                check=True, capture_output=True,
            )  # fmt: skip
            sources[f"at {revision}"] = tree
        try:
            snakemake(workdir, configfile, "--cores", "1", "results/tiny/data/digits.npz")
            seconds = {(job, name): [] for job in ("train", "evaluate") for name in sources}
            print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}; {args.rounds}"
                  f" rounds, {args.threads} thread(s) per job")  # fmt: skip
            for round_index in range(args.rounds):
                for name, source in sources.items():
                    shutil.rmtree(workdir / RUN, ignore_errors=True)
                    (workdir / RUN).mkdir(parents=True)  # Snakemake makes it for the log
                    for job in ("train", "evaluate"):
                        seconds[job, name].append(run_shell(commands[job], workdir, source))
                print(f"round {round_index + 1}/{args.rounds}; load average"
                      f" {os.getloadavg()[0]:.2f}", flush=True)  # fmt: skip
        finally:
            if args.baseline:
                subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force",
                                str(tree)], check=False)  # fmt: skip
    print(f"\n{'job':<10} {'source':<16} {'median s':>9} {'min s':>7} {'max s':>7}")
    for (job, name), values in seconds.items():
        print(f"{job:<10} {name:<16} {statistics.median(values):>9.2f} {min(values):>7.2f}"
              f" {max(values):>7.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
