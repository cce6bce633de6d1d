"""The encoder inner loop: encoder-only updates before each decoder update (He et al. 2019,
"Lagging Inference Networks", Algorithm 1), for a method with an ``inner_loop`` part.

The loop state lives in :class:`vae_tfp.training.state.Progress`: ``inner_loop`` (whether
it still runs), ``inner_loop_ended``, ``previous_mi`` and ``inner_loop_rng_state``.
"""

from __future__ import annotations

import logging

import numpy as np

from vae_tfp.methods.base import InnerLoopSettings
from vae_tfp.methods.phases import aggressive_continues, inner_loop_converged
from vae_tfp.training.spans import BatchFeed
from vae_tfp.training.state import Progress

log = logging.getLogger(__name__)


class EncoderInnerLoop:
    """Encoder-only updates on fresh random minibatches until the mean loss of a window of
    ``check_every`` steps is no better than the previous window's, or ``max_steps``.

    The feed draws the minibatches (``draw_inner_batches``) and runs a window of them in
    one compiled call (``make_inner_window``): ``batch_size`` random training rows in padded
    batching; with length batches (:class:`vae_tfp.training.feeds.LengthBatchFeed`) whole
    batches of the epoch plan's members, drawn uniformly with replacement, as He et al.'s
    text code draws ``train_data_batch[id_]`` (``text.py``, jxhe/vae-lagging-encoder cdc4eb9).

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

    def run(self, rng: np.random.Generator) -> int:
        """One inner loop; the decoder is not touched and the schedules' clock not moved.

        Returns:
            The number of encoder updates done.
        """
        done, previous = 0, None
        max_steps, check_every = self.settings.max_steps, self.settings.check_every
        while done < max_steps:
            width = min(check_every, max_steps - done)
            mean = float(self.window(*self.feed.draw_inner_batches(rng, width)))
            self.check_finite(mean)
            done += width
            if inner_loop_converged(previous, mean):
                break
            previous = mean
        return done


def end_of_epoch(progress: Progress, epoch: int, valid_mi: float) -> None:
    """He et al.'s switch-off: the inner loop ends for good at the first epoch boundary
    where the validation MI fell (:func:`aggressive_continues`)."""
    if progress.inner_loop and not aggressive_continues(progress.previous_mi, valid_mi):
        progress.inner_loop, progress.inner_loop_ended = False, epoch
        log.info("encoder inner loop ends after epoch %d (validation MI fell)", epoch)
    progress.previous_mi = valid_mi
