"""Parts that change how training proceeds: an encoder inner loop, or phases."""

from __future__ import annotations

import dataclasses
from typing import ClassVar

from vae_tfp.declarations import hyperparameter
from vae_tfp.lazy import lazy_import
from vae_tfp.methods.base import InnerLoopSettings, Method

# Imported on first use: validating a config needs no TensorFlow.
tf = lazy_import("tensorflow")


@dataclasses.dataclass(frozen=True)
class Aggressive(Method):
    """Aggressive inference-network training (He et al. 2019, "Lagging Inference Networks",
    Algorithm 1): an encoder inner loop before every decoder update.

    While aggressive mode is on, each decoder update is preceded by encoder-only updates, the
    first on the decoder update's own batch (``first_inner_batch: decoder``, as both of He
    et al.'s scripts take it: ``batch_data_enc = batch_data``, the same binarized images in
    ``image.py``; ``random`` draws it too), the others on fresh random minibatches; every
    ``check_every`` inner steps the mean loss of that window is compared with the previous
    window's and the inner loop stops when it did not improve, or after
    ``max_inner_steps``. He et al.'s code runs at most 99 steps (``sub_iter`` from 1
    while below 100) and checks every 15 in ``text.py``, comparing the loss per token (the
    length feed's window: :meth:`vae_tfp.training.feeds.LengthBatchFeed.make_inner_window`),
    and every 10 in ``image.py``, per image; the defaults here are 100 and 15, and
    ``config/paper.yaml`` sets theirs. Each encoder-only (and, while aggressive, each
    decoder-only) step clips the gradients by the norm over the whole model's, as their code
    does (:func:`vae_tfp.training.steps.make_train_step`). Aggressive mode ends for good
    at the first epoch boundary where the validation MI is lower than at the previous one
    (:func:`aggressive_switch_off`); training then updates encoder and decoder jointly.
    That MI is the whole validation set's estimate (``switch_off_mi_batch: 0``, the
    default) or, as in He et al.'s code, their ``calc_mi`` within validation batches of that
    many examples, with fresh draws each epoch (:func:`vae_tfp.metrics.he2019_calc_mi`;
    for token data the unshuffled length batches, like their equal-length batches though
    not with the same members, which their unstable sort orders; ``image.py`` shuffles
    its validation batches each epoch). Its Monte Carlo noise, about sqrt(d / 2N) nats,
    makes their rule end the loop once the MI grows by less than that per epoch.
    ``switch_off_reference: best`` with ``switch_off_patience: 5`` is ``image.py``'s rule
    instead: the loop ends at the fifth epoch boundary (over the run) whose MI is below the
    best so far (:func:`aggressive_switch_off`). The
    inner updates use the loss of the whole composition at the current KL weight, and do
    not move the schedules' clock (He et al.'s ``text.py`` raises the weight once per
    decoder update).
    """

    name: ClassVar[str] = "aggressive"
    role: ClassVar[str] = "inner_loop"
    max_inner_steps: int = hyperparameter(
        100, description="cap on encoder updates before one decoder update", minimum=1
    )
    check_every: int = hyperparameter(
        15, description="window of the convergence check, in inner steps", minimum=1
    )

    switch_off_mi_batch: int = hyperparameter(
        0,
        description="validation batch of the MI that ends aggressive mode (0: the whole set)",
        minimum=0,
    )
    switch_off_reference: str = hyperparameter(
        "previous",
        description=(
            "what the validation MI is compared with at each epoch boundary: the previous "
            "boundary's (previous, He et al.'s text.py) or the best so far (best, image.py)"
        ),
        choices=("previous", "best"),
    )
    switch_off_patience: int = hyperparameter(
        1,
        description=(
            "epoch boundaries with the MI below that reference, counted over the run, that "
            "end aggressive mode (text.py 1, image.py 5)"
        ),
        minimum=1,
    )
    first_inner_batch: str = hyperparameter(
        "decoder",
        description=(
            "the batch of each inner loop's first encoder step: the decoder update's own "
            "(decoder, He et al.'s text.py and image.py) or a random one (random)"
        ),
        choices=("decoder", "random"),
    )

    def inner_loop(self) -> InnerLoopSettings:
        return InnerLoopSettings(
            self.max_inner_steps,
            self.check_every,
            self.switch_off_mi_batch,
            self.switch_off_reference,
            self.switch_off_patience,
            self.first_inner_batch,
        )


def aggressive_switch_off(
    reference_mi: float | None,
    falls: int,
    current_mi: float,
    reference: str = "previous",
    patience: int = 1,
) -> tuple[float, int, bool]:
    """He et al. 2019's switch-off rule at one epoch boundary (jxhe/vae-lagging-encoder
    cdc4eb9).

    ``text.py`` starts from ``pre_mi = 0`` and stops at the first boundary where ``cur_mi -
    pre_mi < 0``, setting ``pre_mi = cur_mi`` at each (``reference`` ``previous``, patience
    1): a negative first estimate (a collapsed encoder's, up to Monte Carlo noise) already
    ends it. ``image.py`` compares with ``best_mi`` (from 0, replaced by any MI not below
    it) and stops when ``mi_not_improved``, never reset, reaches 5 (``best``, patience 5).

    Args:
        reference_mi: The MI compared with (None before the first boundary: 0).
        falls: Boundaries so far whose MI was below the reference.
        current_mi: Validation MI now.
        reference: ``previous`` or ``best``.
        patience: The count of falls that ends the loop.

    Returns:
        (the next reference, the count of falls, whether the inner loop ends here).
    """
    compared = 0.0 if reference_mi is None else reference_mi
    fell = current_mi < compared
    falls += int(fell)
    keep = reference == "best" and fell
    return (compared if keep else current_mi), falls, falls >= patience


def inner_loop_converged(previous_window_loss: float | None, window_loss: float) -> bool:
    """He et al. 2019's inner-loop stop: the window's loss is worse than the previous
    window's (``text.py`` breaks when ``burn_pre_loss - burn_cur_loss < 0``; an equal loss
    goes on)."""
    return previous_window_loss is not None and window_loss > previous_window_loss


# Li et al. 2019's pretraining command (their README): text_beta.py --beta 0, an autoencoder
# with a stochastic code, whose best epoch is the best validation reconstruction.
AUTOENCODER_PRETRAINING = {"method": "beta", "beta": 0.0, "select_on": "objective"}


@dataclasses.dataclass(frozen=True)
class PretrainRun(Method):
    """Autoencoder pretraining in a separate run, then a decoder reset, as Li et al. 2019
    run it ("A Surprisingly Effective Fix for Deep Latent Variable Modeling of Text",
    Sec. 3; bohanli/vae-pretraining-encoder d59f91c, README).

    Their first command, ``text_beta.py --beta 0``, trains an autoencoder with a stochastic
    code under the run's own protocol (optimizer, plateau rule, epochs), keeping the epoch of
    the best validation reconstruction; the second, ``text_anneal_fb.py --load_path ...
    --reset_dec``, loads those weights, re-initializes the decoder and trains afresh: its own
    epochs, a fresh optimizer and plateau state, its schedules from step 0. Here the first
    is the run's ``pretrain/`` folder, trained by the pipeline's ``pretrain`` rule with the
    run's config and method :data:`AUTOENCODER_PRETRAINING`
    (:func:`vae_tfp.config.pretraining_run_config`); the run itself starts from its best
    checkpoint (encoder and decoder), re-initializes the decoder from a seed derived from
    the run seed, and is otherwise a run like any other. Compare :class:`Pretrain`, the
    same idea as the first epochs of one run.
    """

    name: ClassVar[str] = "pretrain_run"
    role: ClassVar[str] = "phases"

    def pretraining_method(self) -> dict[str, float | str]:
        return dict(AUTOENCODER_PRETRAINING)


@dataclasses.dataclass(frozen=True)
class Pretrain(Method):
    """Autoencoder pretraining, then a decoder reset (Li et al. 2019, "A Surprisingly
    Effective Fix for Deep Latent Variable Modeling of Text", Sec. 3).

    For the first ``pretrain_epochs`` epochs the KL weight is 0 (an autoencoder with a
    stochastic code); after the last of them the decoder is re-initialized (fresh weights
    from a seed derived from the run seed, fresh optimizer state) while the encoder is kept.
    The other parts' clock starts then: a schedule's step 0 is the first update after the
    reset, as in Li et al.'s code, whose second script starts its warm-up afresh. Only
    epochs after pretraining can be selected as the best checkpoint.

    Where the suite differs: Li et al. pretrain in a separate run (``text_beta.py --beta 0``,
    to the end of its own plateau schedule) and load its best checkpoint; here the phase is
    ``pretrain_epochs`` epochs of the same run, at the run's learning rate.
    """

    name: ClassVar[str] = "pretrain"
    role: ClassVar[str] = "phases"
    pretrain_epochs: int = hyperparameter(
        5, description="epochs of autoencoder pretraining (KL weight 0)", minimum=1
    )
    steps_per_epoch: int = 0  # no hyper-parameter: bind() fills it in

    @property
    def decoder_reset_epochs(self) -> tuple[int, ...]:
        return (self.pretrain_epochs,)

    @property
    def first_selectable_epoch(self) -> int:
        return self.pretrain_epochs + 1

    def clock_offset_epochs(self) -> int:
        return self.pretrain_epochs

    def bind(
        self, steps_per_epoch: int, total_steps: int, *, nominal_steps_per_epoch: float = 0.0
    ) -> Method:
        del total_steps, nominal_steps_per_epoch
        return dataclasses.replace(self, steps_per_epoch=steps_per_epoch)

    def kl_weight(self, step: tf.Tensor | int) -> tf.Tensor:
        if not self.steps_per_epoch:
            raise ValueError("pretrain: steps_per_epoch unknown; call bind() first")
        pretraining = tf.cast(step, tf.int64) < self.pretrain_epochs * int(self.steps_per_epoch)
        return tf.where(pretraining, 0.0, 1.0)
