"""Optimizers and learning-rate schedules of the published protocols, as named entries.

The ``training`` section of a run config may name

- ``optimizer``: ``{name: adam | sgd, ...}`` with the optimizer's own settings (defaults:
  Adam with Keras's beta_1 = 0.9, beta_2 = 0.999, epsilon = 1e-7 and second moments
  starting at ``initial_second_moment`` = 0; SGD without momentum) and ``clip_norm``, a
  bound on the global norm of each update's gradients (He et al. 2019 clip at 5.0).
  Burda et al. 2016's code (yburda/iwae ``optimizers.py``) starts Adam's second moments
  at 1 with beta_1 = 0.99: ``{name: adam, beta_1: 0.99, epsilon: 1e-4,
  initial_second_moment: 1}``;
- ``learning_rate_schedule``: ``{type: constant}`` (the default), ``{type: burda, stages:
  8}`` (Burda et al. 2016, Sec. 5.1 and App. C: 3^i epochs at learning rate
  lr * 10^(-i/7) for i = 0 .. stages - 1, 3,280 epochs for 8 stages; ``decimals: 2``
  rounds the factor 10^(-i/7) to two decimals as their code's ``experiments.py`` does,
  1e-4 * round(10^(1 - i/7), 1)) or ``{type: plateau,
  factor: 0.5, patience: 5, min_epoch: 15, max_decays: 5}`` (He et al. 2019's and Li et al.
  2019's text protocol: when the validation loss has not improved for ``patience`` epochs,
  from ``min_epoch`` on, multiply the rate by ``factor``, go back to the best weights with
  fresh optimizer state, and stop after ``max_decays`` such decays). ``reference:
  decay_reset`` (the default) compares each loss with the last one that did not count, and
  a decay makes the current loss the reference (text.py; Li et al.'s text_anneal_fb.py);
  ``reference: best`` compares with the best loss so far, which a decay leaves as it is
  (He et al.'s image.py).

Schedules are pure functions of the epoch and (plateau) of the validation history, so a
resumed run sets the same rates as an uninterrupted one.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

import tensorflow as tf
import tf_keras

# name -> (tf_keras optimizer class name, settings it accepts with their defaults)
OPTIMIZERS: dict[str, tuple[str, dict[str, float]]] = {
    "adam": ("Adam", {"beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-7}),
    "sgd": ("SGD", {"momentum": 0.0}),
}
SCHEDULES = ("constant", "burda", "plateau")
PLATEAU_REFERENCES = ("decay_reset", "best")
# Settings the suite applies itself after building the tf_keras optimizer, by optimizer name.
SLOT_SETTINGS: dict[str, dict[str, float]] = {"adam": {"initial_second_moment": 0.0}}
PLATEAU_DEFAULTS = {
    "factor": 0.5,
    "patience": 5,
    "min_epoch": 1,
    "max_decays": 5,
    "reference": "decay_reset",
}


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
    defaults = {**OPTIMIZERS[name][1], **SLOT_SETTINGS.get(name, {})}
    unknown = sorted(set(spec) - set(defaults))
    if unknown:
        raise ValueError(
            f"optimizer {name!r} does not take {unknown}; its settings: "
            f"{sorted(defaults) + ['clip_norm']}"
        )
    return {"name": name, "clip_norm": clip_norm, **defaults, **spec}


def build_optimizer(training: Mapping[str, Any], variables: list | None = None):
    """A fresh tf_keras optimizer as the training config names it, at ``learning_rate``.

    Args:
        training: The run config's ``training`` section.
        variables: When given, the optimizer's slots are created for them now (no variable
            may be created inside a compiled loop) and Adam's second moments set to
            ``initial_second_moment`` (Burda et al. 2016's code starts them at 1, which
            damps the first updates: with v_0 = 1 the bias correction, which assumes
            v_0 = 0, no longer cancels the start-up).
    """
    settings = optimizer_settings(training)
    class_name, defaults = OPTIMIZERS[settings["name"]]
    options = {key: settings[key] for key in defaults}
    optimizer_class = getattr(tf_keras.optimizers, class_name)
    optimizer = optimizer_class(learning_rate=float(training["learning_rate"]), **options)
    if variables is not None:
        optimizer.build(variables)
        second_moment = settings.get("initial_second_moment", 0.0)
        if second_moment:
            for velocity in optimizer._velocities:  # tf_keras's name for Adam's v slots
                velocity.assign(tf.ones_like(velocity) * second_moment)
    return optimizer


def schedule_settings(training: Mapping[str, Any]) -> dict[str, Any]:
    """The ``learning_rate_schedule`` entry with its defaults filled in.

    Raises:
        ValueError: On an unknown schedule type or plateau reference, naming the allowed
            ones.
    """
    spec = dict(training.get("learning_rate_schedule", {"type": "constant"}))
    kind = spec.get("type", "constant")
    if kind not in SCHEDULES:
        raise ValueError(f"unknown learning_rate_schedule type {kind!r}; allowed: {SCHEDULES}")
    if kind == "burda":
        decimals = spec.get("decimals")
        return {
            "type": kind,
            "stages": int(spec.get("stages", 8)),
            "decimals": None if decimals is None else int(decimals),
        }
    if kind == "plateau":
        settings = {**PLATEAU_DEFAULTS, **{k: v for k, v in spec.items() if k != "type"}}
        if settings["reference"] not in PLATEAU_REFERENCES:
            raise ValueError(
                f"unknown plateau reference {settings['reference']!r}; "
                f"allowed: {PLATEAU_REFERENCES}"
            )
        return {"type": kind, **settings}
    return {"type": kind}


def burda_epochs(stages: int) -> int:
    """Epochs of Burda et al.'s schedule with ``stages`` stages: sum_i 3^i = (3^stages - 1)/2."""
    return (3**stages - 1) // 2


def burda_learning_rate(
    epoch: int, base: float, stages: int, decimals: int | None = None
) -> float:
    """Burda et al. 2016 (Sec. 5.1, App. C): 3^i passes at ``base`` * 10^(-i/7), i = 0..7.

    Epoch 1 is in stage 0; stage i holds epochs (3^i - 1)/2 + 1 .. (3^(i+1) - 1)/2. Epochs
    after the last stage keep its rate.

    Args:
        epoch: The epoch, counted from 1.
        base: The rate of stage 0 (1e-3 in the paper).
        stages: The number of stages (8 in the paper: 3,280 epochs).
        decimals: Round the factor 10^(-i/7) to this many decimals (their code,
            yburda/iwae ``experiments.py``: 1e-4 * round(10^(1 - i/7), 1), i.e. 2
            decimals: 0.72 for 0.7197); None keeps it exact, as the paper states it.

    Raises:
        ValueError: If ``epoch`` < 1 or ``stages`` < 1.
    """
    if epoch < 1 or stages < 1:
        raise ValueError(f"epoch and stages must be >= 1, got epoch {epoch}, stages {stages}")
    stage = 0  # the number of whole stages before this epoch, at most stages - 1
    while stage + 1 < stages and burda_epochs(stage + 1) < epoch:
        stage += 1
    factor = 10.0 ** (-stage / 7.0)
    return base * (factor if decimals is None else round(factor, decimals))


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
        return burda_learning_rate(epoch, base, schedule["stages"], schedule.get("decimals"))
    if schedule["type"] == "plateau" and plateau is not None:
        return float(plateau["learning_rate"])
    return base


@dataclasses.dataclass
class PlateauState:
    """Where the halve-on-plateau schedule stands (saved with the resume state).

    Attributes:
        learning_rate: The rate of the next epoch.
        best_loss: The reference loss the next validation loss is compared with (the best
            so far under ``reference: best``).
        not_improved: Epochs counted without improvement since the last reset.
        decays: Decays so far.
    """

    learning_rate: float
    best_loss: float = math.inf
    not_improved: int = 0
    decays: int = 0


def plateau_step(
    state: PlateauState, valid_loss: float, epoch: int, settings: Mapping[str, Any]
) -> tuple[PlateauState, bool]:
    """One epoch of He et al. 2019's schedule (the training loops of their text.py and image.py).

    A loss above the reference counts an epoch without improvement; after ``patience`` such
    epochs (and from ``min_epoch`` on) the rate is multiplied by ``factor`` and the count
    restarts. Any other loss becomes the new reference and resets the count. At a decay,
    ``reference`` ``decay_reset`` (text.py) makes the current loss the reference; ``best``
    (image.py, which compares with the best loss so far) keeps it.

    Args:
        state: The state before this epoch's validation.
        valid_loss: This epoch's validation loss (-ELBO).
        epoch: The epoch, from 1.
        settings: ``factor``, ``patience``, ``min_epoch`` and (default ``decay_reset``)
            ``reference``.

    Returns:
        (the new state, whether the rate was decayed at this epoch).
    """
    if valid_loss > state.best_loss:
        not_improved = state.not_improved + 1
        if not_improved >= settings["patience"] and epoch >= settings["min_epoch"]:
            keep_best = settings.get("reference", "decay_reset") == "best"
            reference = state.best_loss if keep_best else valid_loss
            decayed = PlateauState(
                state.learning_rate * settings["factor"], reference, 0, state.decays + 1
            )
            return decayed, True
        return dataclasses.replace(state, not_improved=not_improved), False
    return dataclasses.replace(state, best_loss=valid_loss, not_improved=0), False


def plateau_epoch_end(
    schedule: Mapping[str, Any], learning_rate: float, progress: Any, epoch: int, score: float
) -> bool:
    """The plateau schedule (:func:`plateau_step`) after ``epoch``, on a run's progress.

    Updates ``progress.plateau`` and, after ``max_decays`` decays, ``progress.stop_reason``.

    Args:
        schedule: :func:`schedule_settings` of the run (nothing happens unless ``plateau``).
        learning_rate: The run's initial learning rate.
        progress: The run's :class:`vae_tfp.training.state.Progress`.
        epoch: The epoch just validated.
        score: Its validation score, higher is better: the validation ELBO, or the
            method's objective (:func:`vae_tfp.training.validation.selection_score`).

    Returns:
        Whether training goes back to the best checkpoint with fresh optimizer state (a
        decay, once a checkpoint exists).
    """
    if schedule["type"] != "plateau":
        return False
    state = PlateauState(**(progress.plateau or {"learning_rate": learning_rate}))
    state, decayed = plateau_step(state, -score, epoch, schedule)
    progress.plateau = dataclasses.asdict(state)
    if state.decays >= schedule["max_decays"]:
        progress.stop_reason = f"learning rate decayed {state.decays} times (plateau schedule)"
    return decayed and progress.best["epoch"] > 0
