"""Where every run of an experiment stands, read from its folder (``python -m vae_tfp
status``, :mod:`vae_tfp.cli.provenance`).

    python -m vae_tfp status [RESULTS] [--configfile FILE]

A run is

- ``planned``: in the config's grid, no folder yet (or an empty one);
- ``training``: epoch i/N from its newest resume state (``resume/state-*.json``, saved
  after every epoch) or else the last epoch line of ``train.log``, with the elapsed time,
  the estimated time left (:mod:`vae_tfp.progress`) and how long ago the run last wrote.
  A job that was killed looks the same but stops updating: the age says so, and
  ``snakemake --rerun-incomplete`` resumes it from that state. A run of a method that
  starts from a separate pretraining run (``pretrain/``, Li et al. 2019) shows that run's
  progress, with a note, until its own training starts;
- ``failed``: its log holds a Python traceback (Snakemake deletes a failed job's outputs
  and keeps its log), shown with the log's last line;
- ``trained``: ``history.csv`` and ``checkpoint/best.json`` written, no ``metrics.json``
  yet (``evaluating`` while ``evaluate.log`` exists without a traceback);
- ``evaluated``: ``metrics.json`` written.

Runs come from the experiment config's grid (to list the planned ones) and from the run
folders under ``RESULTS/runs`` (a folder outside the grid is listed too). Imports no
TensorFlow: it answers in a fraction of a second while an experiment trains.
"""

from __future__ import annotations

import dataclasses
import re
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from vae_tfp.io import read_json
from vae_tfp.progress import can_stop_early, eta_text, format_duration
from vae_tfp.run_files import PRETRAIN_DIR, SESSION_START

# What the train and evaluate rules write (workflows/rules/*.smk; checkpoint/best.json is
# vae_tfp.run_files.checkpoint_path(run_dir).with_suffix(".json")).
TRAIN_LOG = "train.log"
EVALUATE_LOG = "evaluate.log"
TRAINED = ("history.csv", "checkpoint/best.json")
METRICS = "metrics.json"
EPOCH_LINE = re.compile(r"\bepoch (?P<epoch>\d+)/(?P<epochs>\d+) loss ")
ELAPSED = re.compile(r"\| elapsed (?P<elapsed>\S+), ETA (?P<eta>\S+)$")
# vae_tfp.evaluation.importance's progress lines in evaluate.log.
IMPORTANCE_PROGRESS = re.compile(
    r"importance sampling: (?P<done>\d+/\d+ .+?), elapsed \S+, ETA (?P<eta>\S+)$"
)
STATES = ("evaluated", "evaluating", "trained", "training", "failed", "planned")


@dataclasses.dataclass
class RunStatus:
    """Where one run stands.

    Attributes:
        key: (dataset, decoder variant, method variant, seed).
        state: One of :data:`STATES`.
        epoch: Epochs trained (None when unknown).
        epochs: Epochs the run trains for (None when unknown).
        elapsed: Training wall time so far, ``H:MM:SS`` (empty when unknown).
        eta: Estimated training time left, ``H:MM:SS`` (``≤H:MM:SS`` for a run that may
            stop early; empty when unknown).
        note: The log's last line (failed), or how long ago a training run last wrote.
    """

    key: tuple[str, str, str, int]
    state: str
    epoch: int | None = None
    epochs: int | None = None
    elapsed: str = ""
    eta: str = ""
    note: str = ""


def _lines(path: Path) -> list[str]:
    """The non-blank lines of a text file (none if it is absent)."""
    if not path.is_file():
        return []
    return [line for line in path.read_text(errors="replace").splitlines() if line.strip()]


def _failed(lines: list[str]) -> bool:
    """Whether a job's log holds a Python traceback."""
    return any(line.startswith("Traceback (most recent call last)") for line in lines)


def _last_session(lines: list[str]) -> list[str]:
    """A train log's lines from the start of its last training session on (all of them if
    no line marks a start): a resumed run's log keeps the sessions before, a crashed one
    included."""
    starts = [i for i, line in enumerate(lines) if SESSION_START in line]
    return lines[starts[-1] :] if starts else lines


def _newest_resume_state(run_dir: Path) -> tuple[dict[str, Any], float] | None:
    """The newest readable resume sidecar of the run and its modification time."""
    for sidecar in sorted((run_dir / "resume").glob("state-*.json"), reverse=True):
        try:
            return read_json(sidecar), sidecar.stat().st_mtime
        except (OSError, ValueError):
            continue  # being written, or damaged: the loop skips it too
    return None


def _training_config(run_dir: Path) -> dict[str, Any]:
    """The ``training`` section of the run's ``run_config.json`` ({} if unreadable)."""
    try:
        training = read_json(run_dir / "run_config.json")["training"]
    except (OSError, ValueError, KeyError, TypeError):
        return {}
    return training if isinstance(training, dict) else {}


def _configured_epochs(training: Mapping[str, Any]) -> int | None:
    """``training.epochs`` of a run's config, if it is there."""
    try:
        return int(training["epochs"])
    except (KeyError, ValueError, TypeError):
        return None


def _age(seconds: float) -> str:
    """``12 s``, ``5 min`` or ``3.2 h``."""
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _trained(status: RunStatus, run_dir: Path) -> None:
    """Fills the epochs trained and the training wall time of a trained run into ``status``
    (from ``checkpoint/best.json``, the training summary)."""
    status.epochs = None
    try:
        summary = read_json(run_dir / TRAINED[1])
        status.epoch, status.epochs = int(summary["epochs_trained"]), int(summary["epochs"])
        status.elapsed = format_duration(float(summary["wall_time_s"]))
    except (OSError, ValueError, KeyError, TypeError):
        return  # an unreadable or older summary leaves epochs and elapsed empty


def _training_progress(status: RunStatus, run_dir: Path, log: list[str], now: float) -> None:
    """Fills epoch, epochs, elapsed, ETA and the age of the last write into ``status``."""
    training = _training_config(run_dir)
    status.epochs = _configured_epochs(training) or status.epochs
    written = [p.stat().st_mtime for p in (run_dir / TRAIN_LOG,) if p.is_file()]
    resume = _newest_resume_state(run_dir)
    epoch_lines = [m for m in map(EPOCH_LINE.search, log) if m]
    decays = ""
    if resume is not None:
        state, mtime = resume
        written.append(mtime)
        decays = _plateau_text(state.get("plateau"), training)
        walls = [float(row["wall_time_s"]) for row in state.get("history", [])]
        status.epoch = len(walls)
        if walls:
            status.elapsed = format_duration(walls[-1])
        if status.epochs is not None:
            status.eta = eta_text(walls, status.epochs, can_stop_early(training))
    elif epoch_lines:
        last = epoch_lines[-1]
        status.epoch = int(last["epoch"])
        status.epochs = status.epochs or int(last["epochs"])
        timing = ELAPSED.search(last.string)
        if timing:
            status.elapsed, status.eta = timing["elapsed"], timing["eta"]
    else:
        status.epoch = 0
    if status.epochs is None and epoch_lines:
        status.epochs = int(epoch_lines[-1]["epochs"])
    if written:
        status.note = f"{decays}last update {_age(max(0.0, now - max(written)))} ago"


def _plateau_text(plateau: Any, training: Mapping[str, Any]) -> str:
    """``lr 0.25, decays 1/5; `` for a run under a plateau schedule (how near its stop is),
    from the resume state's ``plateau`` record (``decays 1`` when the config leaves
    ``max_decays`` to its default); empty otherwise."""
    if not isinstance(plateau, Mapping) or "decays" not in plateau:
        return ""
    schedule = training.get("learning_rate_schedule")
    cap = schedule.get("max_decays") if isinstance(schedule, Mapping) else None
    count = f"{plateau['decays']}/{cap}" if cap is not None else str(plateau["decays"])
    return f"lr {plateau.get('learning_rate', float('nan')):.4g}, decays {count}; "


def run_status(
    run_dir: str | Path,
    key: tuple[str, str, str, int],
    planned_epochs: int | None = None,
    now: float | None = None,
) -> RunStatus:
    """Where the run in ``run_dir`` stands (the states of the module docstring).

    Args:
        run_dir: The run folder (it need not exist).
        key: The run's (dataset, decoder variant, method variant, seed).
        planned_epochs: Its epochs from the experiment config, shown while it is planned.
        now: The time to measure ages from (default: now), seconds since the epoch.

    Returns:
        The run's :class:`RunStatus`.
    """
    run_dir = Path(run_dir)
    now = time.time() if now is None else now
    status = RunStatus(key, "planned", epochs=planned_epochs)
    if all((run_dir / name).exists() for name in TRAINED) or (run_dir / METRICS).is_file():
        _trained(status, run_dir)
    if (run_dir / METRICS).is_file():
        status.state = "evaluated"
        return status
    train_log, evaluate_log = _lines(run_dir / TRAIN_LOG), _lines(run_dir / EVALUATE_LOG)
    if all((run_dir / name).exists() for name in TRAINED):
        status.state = "trained"
        if evaluate_log and _failed(evaluate_log):
            status.state, status.note = "failed", f"evaluate: {evaluate_log[-1].strip()}"
        elif (run_dir / EVALUATE_LOG).is_file():
            status.state = "evaluating"
            progress = [m for m in map(IMPORTANCE_PROGRESS.search, evaluate_log) if m]
            if progress:
                done, eta = progress[-1]["done"], progress[-1]["eta"]
                status.note = f"importance sampling {done}, ETA {eta}"
        return status
    if not run_dir.is_dir() or not any(run_dir.iterdir()):
        return status
    if (run_dir / PRETRAIN_DIR).is_dir() and not train_log:
        return _pretraining(run_dir / PRETRAIN_DIR, key, now)
    _training_progress(status, run_dir, train_log, now)
    if _failed(_last_session(train_log)):
        status.state, status.note = "failed", f"train: {train_log[-1].strip()}"
    else:
        status.state = "training"
    return status


def _pretraining(pretrain_dir: Path, key: tuple[str, str, str, int], now: float) -> RunStatus:
    """A run whose separate pretraining run (``pretrain/``, Li et al. 2019) has started and
    whose own training has not: that run's progress, its state ``training`` (or
    ``failed``) and its note saying it is the pretraining."""
    status = run_status(pretrain_dir, key, None, now)
    if status.state in ("evaluated", "evaluating", "trained"):
        status.state, status.note = "training", "pretraining run done, the run itself next"
        return status
    if status.state == "training":
        status.note = "pretraining run" + (f"; {status.note}" if status.note else "")
    elif status.state == "failed":
        status.note = f"pretraining {status.note}"
    return status


def run_folder(results: Path, key: tuple[str, str, str, int]) -> Path:
    """``RESULTS/runs/{dataset}/{decoder}/{method}/seed{seed}`` (workflows/rules/train.smk)."""
    dataset, decoder, method, seed = key
    return results / "runs" / dataset / decoder / method / f"seed{seed}"


def _folder_keys(results: Path) -> list[tuple[str, str, str, int]]:
    """The runs that have a folder under ``RESULTS/runs``."""
    keys = []
    for folder in sorted((results / "runs").glob("*/*/*/seed*")):
        seed = folder.name.removeprefix("seed")
        if folder.is_dir() and seed.isdigit():
            keys.append((folder.parts[-4], folder.parts[-3], folder.parts[-2], int(seed)))
    return keys


def planned_runs(config: Mapping[str, Any]) -> dict[tuple[str, str, str, int], int | None]:
    """Every run of the experiment config's grid, with its epochs (a grid block's setting,
    else its dataset's, else the experiment's) when the config states them."""
    from vae_tfp.config import iter_runs
    from vae_tfp.config.grid import run_training

    runs = {}
    for key in iter_runs(config):
        epochs = run_training(config, key).get("epochs")
        runs[tuple(key)] = None if epochs is None else int(epochs)
    return runs


def experiment_status(
    results: str | Path,
    config: Mapping[str, Any] | None = None,
    now: float | None = None,
) -> list[RunStatus]:
    """The status of every run of an experiment: the config's grid, in its order, then
    any other run folder under ``RESULTS/runs``.

    Args:
        results: The experiment folder, e.g. ``results/embedded``.
        config: The experiment config (None: only the runs that have a folder).
        now: The time to measure ages from (default: now).
    """
    results = Path(results)
    planned = planned_runs(config) if config is not None else {}
    keys = list(planned) + [k for k in _folder_keys(results) if k not in planned]
    return [run_status(run_folder(results, k), k, planned.get(k), now) for k in keys]


def format_table(statuses: Iterable[RunStatus]) -> str:
    """The statuses as aligned text columns, then one line of counts per state."""
    statuses = list(statuses)
    header = ("dataset", "decoder", "method", "seed", "state", "epoch", "elapsed", "ETA", "note")
    rows = [header]
    for s in statuses:
        epoch = "" if s.epochs is None else f"{s.epoch or 0}/{s.epochs}"
        if s.state == "planned":
            epoch = f"-/{s.epochs}" if s.epochs is not None else ""
        rows.append((*map(str, s.key), s.state, epoch, s.elapsed, s.eta, s.note))
    widths = [max(len(row[i]) for row in rows) for i in range(len(header) - 1)]
    lines = [
        "  ".join([*(c.ljust(w) for c, w in zip(row[:-1], widths, strict=True)), row[-1]])
        for row in rows
    ]
    counts = Counter(s.state for s in statuses)
    summary = ", ".join(f"{counts[state]} {state}" for state in STATES if counts[state])
    lines.append(f"{len(statuses)} runs: {summary or 'none'}")
    return "\n".join(line.rstrip() for line in lines)


def find_config(results: Path, config_dir: Path = Path("config")) -> Path | None:
    """The config file in ``config_dir`` whose ``experiment`` is ``results``'s name."""
    import yaml

    for path in sorted(config_dir.glob("*.yaml")):
        try:
            with open(path) as stream:
                loaded = yaml.safe_load(stream)
        except (OSError, yaml.YAMLError):
            continue
        if isinstance(loaded, dict) and loaded.get("experiment") == results.name:
            return path
    return None
