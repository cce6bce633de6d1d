"""The encoder inner loop: encoder-only updates before each decoder update (He et al. 2019,
"Lagging Inference Networks", Algorithm 1), for a method with an ``inner_loop`` part.

The loop state lives in :class:`vae_tfp.training.state.Progress`: ``inner_loop`` (whether
it still runs), ``inner_loop_ended``, ``previous_mi``, ``mi_falls`` and
``inner_loop_rng_state``.
"""

from __future__ import annotations

import logging

import numpy as np

from vae_tfp.methods.base import InnerLoopSettings
from vae_tfp.methods.phases import aggressive_switch_off, inner_loop_converged
from vae_tfp.metrics.aggregate_posterior import consecutive_batches
from vae_tfp.training.spans import BatchFeed
from vae_tfp.training.state import Progress

log = logging.getLogger(__name__)


def switch_off_mi(settings: InnerLoopSettings | None, row: dict) -> float:
    """The validation MI of an epoch's history row that the switch-off compares:
    ``valid_mi_batch`` if the settings name a batch size, else ``valid_mi``."""
    return row["valid_mi_batch"] if settings and settings.mi_batch_size else row["valid_mi"]


def mi_batches(
    size: int, length_batches, n_valid: int, shuffle_seed: int | None = None
) -> list[np.ndarray]:
    """Row indices of the validation batches within which ``valid_mi_batch`` mixes q(z|x).

    He et al.'s ``text.py`` keeps its equal-length validation batches fixed; ``image.py``
    reshuffles its validation loader every epoch (``DataLoader(..., shuffle=True)``).

    Args:
        size: Examples per batch (``InnerLoopSettings.mi_batch_size``).
        length_batches: Unshuffled length batches of at most ``size`` validation sentences
            (token data in length batches), or None for batches of ``size``.
        n_valid: Validation examples.
        shuffle_seed: Without length batches, batches of a permutation of the rows drawn
            from this seed (a fresh one each epoch, as ``image.py``); None: consecutive rows.
    """
    if length_batches is not None:
        return [batch.rows for batch in length_batches]
    batches = consecutive_batches(n_valid, size)
    if shuffle_seed is None:
        return batches
    order = np.random.default_rng(shuffle_seed).permutation(n_valid)
    return [order[rows] for rows in batches]


class EncoderInnerLoop:
    """Encoder-only updates on fresh random minibatches until the mean loss of a window of
    ``check_every`` steps is worse than the previous window's, or ``max_steps``.

    The feed draws the minibatches (``draw_inner_batches``) and runs a window of them in
    one compiled call (``make_inner_window``): ``batch_size`` random training rows in padded
    batching, as ``image.py`` draws ``x_train[id_]``; with length batches
    (:class:`vae_tfp.training.feeds.LengthBatchFeed`) whole batches of the epoch plan's
    members, drawn uniformly with replacement, as He et al.'s text code draws
    ``train_data_batch[id_]`` (``text.py``, jxhe/vae-lagging-encoder cdc4eb9). By default
    the first step takes the decoder update's own batch (``batch_data_enc = batch_data`` in
    both scripts; the settings' ``first_batch``).

    Args:
        settings: The method's inner-loop settings.
        encoder_step: ``step(x) -> {"loss": ...}``, one compiled encoder-only update.
        feed: The training batches.
        check_finite: Called with each window's mean loss (raises on NaN or inf).
    """

    def __init__(self, settings: InnerLoopSettings, encoder_step, feed: BatchFeed, check_finite):
        self.settings = settings
        self.feed = feed
        self.check_finite = check_finite
        self.window = feed.make_inner_window(encoder_step)

    def run(self, rng: np.random.Generator, first=None) -> int:
        """One inner loop; the decoder is not touched and the schedules' clock not moved.

        Args:
            rng: Draws the inner batches.
            first: The batch of the first encoder step (the decoder update's own, as He et
                al.'s scripts take it: the feed's ``inner_loop_first_batch``), or None to
                draw it at random too.

        Returns:
            The number of encoder updates done.
        """
        done, previous = 0, None
        max_steps, check_every = self.settings.max_steps, self.settings.check_every
        while done < max_steps:
            width = min(check_every, max_steps - done)
            drawn = self.feed.draw_inner_batches(rng, width, first if done == 0 else None)
            mean = float(self.window(*drawn))
            self.check_finite(mean)
            done += width
            if inner_loop_converged(previous, mean):
                break
            previous = mean
        return done


def end_of_epoch(
    progress: Progress, epoch: int, valid_mi: float, settings: InnerLoopSettings | None
) -> None:
    """He et al.'s switch-off: the inner loop ends for good at the epoch boundary where the
    validation MI fell below its reference for the ``switch_off_patience``-th time
    (:func:`aggressive_switch_off`).

    Args:
        progress: The run's progress (``inner_loop``, ``previous_mi``, ``mi_falls`` change
            while the loop runs).
        epoch: The epoch just finished.
        valid_mi: The validation MI the method's settings name (:func:`switch_off_mi`).
        settings: The method's inner-loop settings (None: no inner loop, nothing to do).
    """
    if settings is None or not progress.inner_loop:
        return
    progress.previous_mi, progress.mi_falls, ends = aggressive_switch_off(
        progress.previous_mi,
        progress.mi_falls,
        valid_mi,
        settings.switch_off_reference,
        settings.switch_off_patience,
    )
    if ends:
        progress.inner_loop, progress.inner_loop_ended = False, epoch
        log.info(
            "encoder inner loop ends after epoch %d (validation MI below the %s MI %d times)",
            *(epoch, settings.switch_off_reference, progress.mi_falls),
        )
