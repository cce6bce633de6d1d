"""Elapsed time and ETA of the epoch lines (vae_tfp.progress): exact values at chosen points."""

from __future__ import annotations

import math

import pytest

from vae_tfp.progress import (
    can_stop_early,
    epoch_seconds,
    format_duration,
    remaining_seconds,
    timing_text,
)


@pytest.mark.parametrize(
    ("wall_times", "expected"),
    [
        ([], None),
        ([7.0], 7.0),  # one epoch: its duration, compilation included
        ([7.0, 9.0], 2.0),  # the first (compiling) epoch is left out once a second ends
        ([7.0, 9.0, 13.0], 3.0),
        # only the last 10 durations count: a slow start is forgotten
        ([100.0 * i for i in range(1, 6)] + [500.0 + i for i in range(1, 11)], 1.0),
    ],
)
def test_epoch_seconds(wall_times, expected):
    assert epoch_seconds(wall_times) == expected


def test_remaining_seconds_counts_the_epochs_left_at_the_recent_pace():
    assert remaining_seconds([], 10) is None
    assert remaining_seconds([5.0], 10) == 45.0
    assert remaining_seconds([5.0, 7.0, 9.0], 10) == 14.0
    assert remaining_seconds([5.0, 7.0, 9.0], 3) == 0.0
    assert remaining_seconds([5.0, 7.0, 9.0], 2) == 0.0  # never negative


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (None, "?"),
        (math.nan, "?"),
        (0.0, "0:00:00"),
        (59.6, "0:01:00"),
        (3 * 3600 + 25 * 60 + 7, "3:25:07"),
        (30 * 3600, "30:00:00"),
    ],
)
def test_format_duration(seconds, text):
    assert format_duration(seconds) == text


def test_timing_text_as_printed_on_an_epoch_line():
    assert timing_text([65.0, 75.0], 12) == "elapsed 0:01:15, ETA 0:01:40"
    assert timing_text([65.0, 75.0], 2) == "elapsed 0:01:15, ETA 0:00:00"
    # A run that may stop early (a plateau schedule, a patience rule): the ETA is a bound.
    assert timing_text([65.0, 75.0], 12, upper_bound=True) == "elapsed 0:01:15, ETA ≤0:01:40"
    assert timing_text([], 12, upper_bound=True) == "elapsed ?, ETA ?"


def test_a_run_can_stop_early_under_a_plateau_schedule_or_a_patience_rule():
    assert can_stop_early({"learning_rate_schedule": {"type": "plateau", "patience": 5}})
    assert can_stop_early({"early_stopping_patience": 10})
    assert not can_stop_early({"epochs": 100})
    assert not can_stop_early({"learning_rate_schedule": {"type": "burda"}})
