"""Elapsed time and the estimate of what remains, from a run's per-epoch wall times.

Pure functions on the cumulative ``wall_time_s`` column of a run's history (seconds since
the run started, summed over resumed sessions, at the end of each epoch): the train loop's
epoch lines and ``python -m vae_tfp status`` both print them. Imports no TensorFlow.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

# Epochs whose mean duration predicts the next ones: recent enough to follow a change of
# pace (an encoder inner loop switched off), long enough to smooth one slow epoch.
RECENT_EPOCHS = 10


def epoch_seconds(wall_times: Sequence[float], recent: int = RECENT_EPOCHS) -> float | None:
    """The mean duration of the last ``recent`` epochs.

    The first epoch also pays for tracing and compiling the training step, so it is left
    out once a later epoch is there to measure.

    Args:
        wall_times: Cumulative wall time in seconds at the end of each epoch trained, in
            order (a run's ``wall_time_s`` history column).
        recent: How many of the last epochs to average over, >= 1.

    Returns:
        Seconds per epoch, or None when no epoch has ended.
    """
    if not wall_times:
        return None
    if len(wall_times) == 1:
        return float(wall_times[0])
    durations = [b - a for a, b in zip(wall_times[:-1], wall_times[1:], strict=True)]
    last = durations[-recent:]
    return sum(last) / len(last)


def remaining_seconds(wall_times: Sequence[float], epochs: int) -> float | None:
    """Seconds left until epoch ``epochs`` ends, at the pace of :func:`epoch_seconds`.

    An upper bound for a run that may stop early (a patience rule).

    Args:
        wall_times: Cumulative wall time at the end of each epoch trained.
        epochs: The epochs the run trains for.

    Returns:
        Seconds, 0 once every epoch has ended, or None when no epoch has ended yet.
    """
    pace = epoch_seconds(wall_times)
    if pace is None:
        return None
    return max(0, epochs - len(wall_times)) * pace


def format_duration(seconds: float | None) -> str:
    """``H:MM:SS`` (hours not wrapped at a day); ``?`` for None or a non-finite value."""
    if seconds is None or not math.isfinite(seconds):
        return "?"
    total = max(0, round(seconds))
    return f"{total // 3600}:{total // 60 % 60:02d}:{total % 60:02d}"


def can_stop_early(training: Mapping[str, Any]) -> bool:
    """Whether a run's ``training`` config may end before its last epoch: a plateau
    learning-rate schedule (it stops after ``max_decays`` decays) or
    ``early_stopping_patience``; its ETA is then an upper bound."""
    schedule = training.get("learning_rate_schedule") or {}
    plateau = isinstance(schedule, Mapping) and schedule.get("type") == "plateau"
    return plateau or training.get("early_stopping_patience") is not None


def eta_text(wall_times: Sequence[float], epochs: int, upper_bound: bool = False) -> str:
    """The time left, ``H:MM:SS``, as ``≤H:MM:SS`` when the run may stop early."""
    remaining = format_duration(remaining_seconds(wall_times, epochs))
    return f"≤{remaining}" if upper_bound and remaining != "?" else remaining


def timing_text(wall_times: Sequence[float], epochs: int, upper_bound: bool = False) -> str:
    """``elapsed H:MM:SS, ETA H:MM:SS`` for an epoch line (the ETA is what remains).

    Args:
        wall_times: Cumulative wall time at the end of each epoch trained, this one last.
        epochs: The epochs the run trains for.
        upper_bound: The run may stop early (:func:`can_stop_early`): the ETA reads
            ``≤H:MM:SS``.
    """
    elapsed = wall_times[-1] if wall_times else None
    return f"elapsed {format_duration(elapsed)}, ETA {eta_text(wall_times, epochs, upper_bound)}"
