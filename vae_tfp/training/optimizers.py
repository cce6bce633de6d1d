"""Optimizers and learning-rate schedules of the published protocols, as named entries.

The ``training`` section of a run config may name

- ``optimizer``: ``{name: adam | sgd, ...}`` with the optimizer's own settings (defaults:
  Adam with Keras's beta_1 = 0.9, beta_2 = 0.999, epsilon = 1e-7; SGD without momentum) and
  ``clip_norm``, a bound on the global norm of each update's gradients (He et al. 2019 clip
  at 5.0);
- ``learning_rate_schedule``: ``{type: constant}`` (the default), ``{type: burda, stages:
  8}`` (Burda et al. 2016, Sec. 5.1 and App. C: 3^i epochs at learning rate
  lr * 10^(-i/7) for i = 0 .. stages - 1, 3,280 epochs for 8 stages) or ``{type: plateau,
  factor: 0.5, patience: 5, min_epoch: 15, max_decays: 5}`` (He et al. 2019's and Li et al.
  2019's text protocol: when the validation loss has not improved for ``patience`` epochs,
  from ``min_epoch`` on, multiply the rate by ``factor``, go back to the best weights with
  fresh optimizer state, and stop after ``max_decays`` such decays).

Schedules are pure functions of the epoch and (plateau) of the validation history, so a
resumed run sets the same rates as an uninterrupted one.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

import tf_keras

# name -> (tf_keras optimizer class name, settings it accepts with their defaults)
OPTIMIZERS: dict[str, tuple[str, dict[str, float]]] = {
    "adam": ("Adam", {"beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-7}),
    "sgd": ("SGD", {"momentum": 0.0}),
}
SCHEDULES = ("constant", "burda", "plateau")
PLATEAU_DEFAULTS = {"factor": 0.5, "patience": 5, "min_epoch": 1, "max_decays": 5}


def optimizer_settings(training: Mapping[str, Any]) -> dict[str, Any]:
    """The ``optimizer`` entry of a training config with every default filled in.

    Raises:
        ValueError: On an unknown optimizer or a setting it does not take, naming the
            allowed ones.
    """
    spec = dict(training.get("optimizer", {}))
    name = spec.pop("name", "adam")
    if name not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {name!r}; allowed: {sorted(OPTIMIZERS)}")
    clip_norm = spec.pop("clip_norm", None)
    defaults = OPTIMIZERS[name][1]
    unknown = sorted(set(spec) - set(defaults))
    if unknown:
        raise ValueError(
            f"optimizer {name!r} does not take {unknown}; its settings: "
            f"{sorted(defaults) + ['clip_norm']}"
        )
    return {"name": name, "clip_norm": clip_norm, **defaults, **spec}


def build_optimizer(training: Mapping[str, Any]):
    """A fresh tf_keras optimizer as the training config names it, at ``learning_rate``."""
    settings = optimizer_settings(training)
    class_name, defaults = OPTIMIZERS[settings["name"]]
    options = {key: settings[key] for key in defaults}
    optimizer_class = getattr(tf_keras.optimizers, class_name)
    return optimizer_class(learning_rate=float(training["learning_rate"]), **options)


def schedule_settings(training: Mapping[str, Any]) -> dict[str, Any]:
    """The ``learning_rate_schedule`` entry with its defaults filled in.

    Raises:
        ValueError: On an unknown schedule type, naming the allowed ones.
    """
    spec = dict(training.get("learning_rate_schedule", {"type": "constant"}))
    kind = spec.get("type", "constant")
    if kind not in SCHEDULES:
        raise ValueError(f"unknown learning_rate_schedule type {kind!r}; allowed: {SCHEDULES}")
    if kind == "burda":
        return {"type": kind, "stages": int(spec.get("stages", 8))}
    if kind == "plateau":
        return {"type": kind, **PLATEAU_DEFAULTS, **{k: v for k, v in spec.items() if k != "type"}}
    return {"type": kind}


def burda_epochs(stages: int) -> int:
    """Epochs of Burda et al.'s schedule with ``stages`` stages: sum_i 3^i = (3^stages - 1)/2."""
    return (3**stages - 1) // 2


def burda_learning_rate(epoch: int, base: float, stages: int) -> float:
    """Burda et al. 2016 (Sec. 5.1, App. C): 3^i passes at ``base`` * 10^(-i/7), i = 0..7.

    Epoch 1 is in stage 0; stage i holds epochs (3^i - 1)/2 + 1 .. (3^(i+1) - 1)/2. Epochs
    after the last stage keep its rate.

    Args:
        epoch: The epoch, counted from 1.
        base: The rate of stage 0 (1e-3 in the paper).
        stages: The number of stages (8 in the paper: 3,280 epochs).

    Raises:
        ValueError: If ``epoch`` < 1 or ``stages`` < 1.
    """
    if epoch < 1 or stages < 1:
        raise ValueError(f"epoch and stages must be >= 1, got epoch {epoch}, stages {stages}")
    stage = 0  # the number of whole stages before this epoch, at most stages - 1
    while stage + 1 < stages and burda_epochs(stage + 1) < epoch:
        stage += 1
    return base * 10.0 ** (-stage / 7.0)


def scheduled_learning_rate(
    schedule: Mapping[str, Any],
    base: float,
    epoch: int,
    plateau: Mapping[str, float] | None = None,
) -> float:
    """The learning rate of ``epoch`` (from 1) under ``schedule`` (:func:`schedule_settings`).

    Args:
        schedule: The filled-in schedule settings.
        base: ``training.learning_rate``.
        epoch: The epoch about to be trained.
        plateau: The saved :class:`PlateauState` fields of a plateau schedule (None before
            its first validation).
    """
    if schedule["type"] == "burda":
        return burda_learning_rate(epoch, base, schedule["stages"])
    if schedule["type"] == "plateau" and plateau is not None:
        return float(plateau["learning_rate"])
    return base


@dataclasses.dataclass
class PlateauState:
    """Where the halve-on-plateau schedule stands (saved with the resume state)."""

    learning_rate: float
    best_loss: float = math.inf
    not_improved: int = 0
    decays: int = 0


def plateau_step(
    state: PlateauState, valid_loss: float, epoch: int, settings: Mapping[str, Any]
) -> tuple[PlateauState, bool]:
    """One epoch of He et al. 2019's schedule (their text.py training loop).

    A loss above the best seen counts an epoch without improvement; after ``patience`` such
    epochs (and from ``min_epoch`` on) the rate is multiplied by ``factor``, the count
    restarts and the current loss becomes the reference. Any other loss becomes the new
    reference and resets the count.

    Args:
        state: The state before this epoch's validation.
        valid_loss: This epoch's validation loss (-ELBO).
        epoch: The epoch, from 1.
        settings: ``factor``, ``patience``, ``min_epoch``.

    Returns:
        (the new state, whether the rate was decayed at this epoch).
    """
    if valid_loss > state.best_loss:
        not_improved = state.not_improved + 1
        if not_improved >= settings["patience"] and epoch >= settings["min_epoch"]:
            decayed = PlateauState(
                state.learning_rate * settings["factor"], valid_loss, 0, state.decays + 1
            )
            return decayed, True
        return dataclasses.replace(state, not_improved=not_improved), False
    return dataclasses.replace(state, best_loss=valid_loss, not_improved=0), False
