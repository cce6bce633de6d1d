"""Registry of anti-collapse methods, each a small dataclass of typed hyper-parameters.

A method differs from the plain ELBO only in its KL term (the regularizer hook, as in
disentanglement_lib): the training loss for a batch is

    loss = - mean_batch(rec) + method.kl_term(kl_per_dim, step),

while the quantities logged (rec, kl, ELBO = rec - kl) are the same for every method.
``kl_per_dim`` is [batch, latent_dim], analytic KL(q(z_i|x) || p(z_i)) in nats.

Methods that change more than the KL term do it through a few more hooks, each with a
neutral default on :class:`Method`: :meth:`Method.bind` (learn the run's length, for
schedules), :meth:`Method.posterior_transform` (reshape q(z|x): BN-VAE, delta-VAE),
:meth:`Method.decoder_overrides` (decoder options: skip-VAE), :meth:`Method.applies_to`
(reject a decoder/dataset it cannot work with), ``decoder_reset_epochs`` and
``first_selectable_epoch`` (phases: pretrain_fb) and ``encoder_inner_loop`` (aggressive).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, ClassVar

from vae_tfp.lazy import lazy_import
from vae_tfp.methods.bounds import committed_variance
from vae_tfp.methods.schedules import cyclical, linear_warmup

# Imported on first use: validating a config (the Snakefile's parse) needs no TensorFlow.
tf = lazy_import("tensorflow")


@dataclasses.dataclass(frozen=True)
class Method:
    """The standard ELBO (Kingma & Welling 2014, eq. 3): KL weight 1 at every step."""

    name: ClassVar[str] = "vanilla"
    # Whether the loop runs He et al. 2019's encoder inner loop (see Aggressive).
    encoder_inner_loop: ClassVar[bool] = False

    def bind(self, steps_per_epoch: int, total_steps: int) -> Method:
        """Returns the method with its run-length-dependent settings filled in."""
        del steps_per_epoch, total_steps
        return self

    @property
    def first_selectable_epoch(self) -> int:
        """The first epoch whose checkpoint may be selected as the best one."""
        return 1

    @property
    def decoder_reset_epochs(self) -> tuple[int, ...]:
        """Epochs after which the decoder is re-initialized (phases, see PretrainFreeBits)."""
        return ()

    def posterior_transform(self, latent_dim: int) -> tf.Module | None:
        """A module applied to (loc, log_var) of q(z|x) everywhere, or None."""
        del latent_dim
        return None

    def decoder_overrides(self) -> dict[str, Any]:
        """Decoder options the method imposes (merged over the decoder variant's)."""
        return {}

    def applies_to(self, decoder_type: str, dataset_kind: str) -> str | None:
        """None if the method works with this decoder and data, else the reason it does not."""
        del decoder_type, dataset_kind
        return None

    def kl_weight(self, step: tf.Tensor | int) -> tf.Tensor:
        """The multiplier of the KL term at ``step`` (logged in history as ``kl_weight``)."""
        del step
        return tf.constant(1.0)

    def kl_term(self, kl_per_dim: tf.Tensor, step: tf.Tensor | int) -> tf.Tensor:
        """The KL part of the batch loss: kl_weight(step) * mean_batch sum_i KL_i."""
        total = tf.reduce_mean(tf.reduce_sum(kl_per_dim, axis=-1))
        return self.kl_weight(step) * total

    def loss(self, rec: tf.Tensor, kl_per_dim: tf.Tensor, step: tf.Tensor | int) -> tf.Tensor:
        """The scalar training loss of a batch (to minimize)."""
        return -tf.reduce_mean(rec) + self.kl_term(kl_per_dim, step)


@dataclasses.dataclass(frozen=True)
class Vanilla(Method):
    """The standard ELBO (Kingma & Welling 2014, eq. 3)."""

    name: ClassVar[str] = "vanilla"


@dataclasses.dataclass(frozen=True)
class Beta(Method):
    """KL weighted by a constant beta (Higgins et al. 2017, beta-VAE, eq. 4).

    beta > 1 pushes toward collapse (more dimensions at the prior); beta < 1 toward an
    autoencoder. The logged ELBO is still the unweighted one.

    Attributes:
        beta: The constant KL weight, >= 0.
    """

    name: ClassVar[str] = "beta"
    beta: float = 1.0

    def __post_init__(self):
        if self.beta < 0:
            raise ValueError(f"beta must be >= 0, got {self.beta}")

    def kl_weight(self, step: tf.Tensor | int) -> tf.Tensor:
        del step
        return tf.constant(float(self.beta))


@dataclasses.dataclass(frozen=True)
class KLAnneal(Method):
    """Linear KL annealing (Bowman et al. 2016, Sec. 3.1): weight beta0 -> 1 over a warm-up.

    Attributes:
        beta0: KL weight at step 0, in [0, 1].
        warmup_steps: Number of updates over which the weight rises to 1 (>= 0).
    """

    name: ClassVar[str] = "kl_anneal"
    beta0: float = 0.0
    warmup_steps: int = 1000

    def __post_init__(self):
        if not 0.0 <= self.beta0 <= 1.0:
            raise ValueError(f"beta0 must be in [0, 1], got {self.beta0}")
        if self.warmup_steps < 0 or int(self.warmup_steps) != self.warmup_steps:
            raise ValueError(f"warmup_steps must be an integer >= 0, got {self.warmup_steps}")

    def kl_weight(self, step: tf.Tensor | int) -> tf.Tensor:
        return linear_warmup(step, self.beta0, int(self.warmup_steps))


@dataclasses.dataclass(frozen=True)
class FreeBits(Method):
    """Free bits (Kingma et al. 2016, IAF paper, Sec. C.8 / eq. 15), batch-averaged variant.

        kl_term = sum_i max(lambda, mean_batch KL(q(z_i|x) || p(z_i)))

    The floor applies to each latent dimension's KL averaged over the minibatch (as in
    Kingma et al. 2016), not per example; where a dimension's batch-mean KL is below lambda
    the KL term has zero gradient for it. Other variants in the literature (a floor per
    example, or on the total KL) are different methods.

    Attributes:
        lambda_: The floor in nats per dimension (config key ``lambda``), >= 0.
    """

    name: ClassVar[str] = "free_bits"
    lambda_: float = 0.5

    def __post_init__(self):
        if self.lambda_ < 0:
            raise ValueError(f"lambda must be >= 0, got {self.lambda_}")

    def kl_term(self, kl_per_dim: tf.Tensor, step: tf.Tensor | int) -> tf.Tensor:
        del step
        batch_mean = tf.reduce_mean(kl_per_dim, axis=0)
        return tf.reduce_sum(tf.maximum(batch_mean, float(self.lambda_)))


@dataclasses.dataclass(frozen=True)
class Cyclical(Method):
    """Cyclical KL annealing (Fu et al. 2019): M cycles, each rising linearly from beta0 to 1
    over a proportion R of the cycle, then held at 1 (:func:`schedules.cyclical`).

    Attributes:
        n_cycles: M >= 1.
        ratio: R in (0, 1].
        beta0: Weight at the start of each cycle, in [0, 1].
        total_steps: Steps the M cycles cover; 0 (default) means the whole run.
    """

    name: ClassVar[str] = "cyclical"
    n_cycles: int = 4
    ratio: float = 0.5
    beta0: float = 0.0
    total_steps: int = 0

    def __post_init__(self):
        if self.n_cycles < 1 or int(self.n_cycles) != self.n_cycles:
            raise ValueError(f"n_cycles must be an integer >= 1, got {self.n_cycles}")
        if not 0.0 < self.ratio <= 1.0:
            raise ValueError(f"ratio must be in (0, 1], got {self.ratio}")
        if not 0.0 <= self.beta0 <= 1.0:
            raise ValueError(f"beta0 must be in [0, 1], got {self.beta0}")
        if self.total_steps < 0:
            raise ValueError(f"total_steps must be >= 0, got {self.total_steps}")

    def bind(self, steps_per_epoch: int, total_steps: int) -> Method:
        del steps_per_epoch
        return self if self.total_steps else dataclasses.replace(self, total_steps=total_steps)

    def kl_weight(self, step: tf.Tensor | int) -> tf.Tensor:
        if not self.total_steps:
            raise ValueError("cyclical: total_steps unknown; call bind() with the run length")
        return cyclical(step, self.total_steps, int(self.n_cycles), self.ratio, self.beta0)


@dataclasses.dataclass(frozen=True)
class FreeBitsExample(Method):
    """Free bits per example and dimension: sum_i mean_batch max(lambda, KL_i(x)).

    The floor applies to each example's KL in each dimension before averaging (a variant
    used in the literature besides Kingma et al. 2016's batch-averaged floor,
    :class:`FreeBits`); an example's dimension below lambda gets no KL gradient.

    Attributes:
        lambda_: Floor in nats per example and dimension (config key ``lambda``), >= 0.
    """

    name: ClassVar[str] = "free_bits_example"
    lambda_: float = 0.5

    def __post_init__(self):
        if self.lambda_ < 0:
            raise ValueError(f"lambda must be >= 0, got {self.lambda_}")

    def kl_term(self, kl_per_dim: tf.Tensor, step: tf.Tensor | int) -> tf.Tensor:
        del step
        floored = tf.maximum(kl_per_dim, float(self.lambda_))
        return tf.reduce_sum(tf.reduce_mean(floored, axis=0))


@dataclasses.dataclass(frozen=True)
class KLThreshold(Method):
    """A floor on the total KL: max(lambda, mean_batch sum_i KL_i).

    The single-group case of Kingma et al. 2016's free bits over groups of latents (their
    Sec. C.8 divides z into K groups with one floor each): the rate is free up to lambda
    nats in total, with zero KL gradient below it.

    Attributes:
        lambda_: Floor on the batch-mean total KL in nats (config key ``lambda``), >= 0.
    """

    name: ClassVar[str] = "kl_threshold"
    lambda_: float = 3.0

    def __post_init__(self):
        if self.lambda_ < 0:
            raise ValueError(f"lambda must be >= 0, got {self.lambda_}")

    def kl_term(self, kl_per_dim: tf.Tensor, step: tf.Tensor | int) -> tf.Tensor:
        del step
        total = tf.reduce_mean(tf.reduce_sum(kl_per_dim, axis=-1))
        return tf.maximum(total, float(self.lambda_))


@dataclasses.dataclass(frozen=True)
class Aggressive(Method):
    """Aggressive inference-network training (He et al. 2019, "Lagging Inference Networks",
    Algorithm 1) with the plain ELBO.

    While aggressive mode is on, each decoder update is preceded by encoder-only updates on
    fresh random minibatches; every ``check_every`` inner steps the mean loss of that window
    is compared with the previous window's and the inner loop stops when it did not improve,
    or after ``max_inner_steps`` (He et al.'s code: 15 and 100). Aggressive mode ends for good
    at the first epoch boundary where the validation MI is lower than at the previous one
    (:func:`aggressive_continues`); training then updates encoder and decoder jointly.

    Attributes:
        max_inner_steps: Cap on encoder updates before one decoder update (>= 1).
        check_every: Window of the convergence check, in inner steps (>= 1).
    """

    name: ClassVar[str] = "aggressive"
    encoder_inner_loop: ClassVar[bool] = True
    max_inner_steps: int = 100
    check_every: int = 15

    def __post_init__(self):
        for field in ("max_inner_steps", "check_every"):
            value = getattr(self, field)
            if value < 1 or int(value) != value:
                raise ValueError(f"{field} must be an integer >= 1, got {value}")


def aggressive_continues(previous_mi: float | None, current_mi: float) -> bool:
    """He et al. 2019's switch-off rule: stay aggressive while validation MI does not fall.

    Args:
        previous_mi: Validation MI at the previous epoch boundary (None at the first).
        current_mi: Validation MI now.

    Returns:
        False once the MI is lower than at the previous epoch boundary.
    """
    return previous_mi is None or current_mi >= previous_mi


def inner_loop_converged(previous_window_loss: float | None, window_loss: float) -> bool:
    """He et al. 2019's inner-loop stop: the window's mean loss did not improve."""
    return previous_window_loss is not None and window_loss >= previous_window_loss


@dataclasses.dataclass(frozen=True)
class BNVAE(Method):
    """BN-VAE (Zhu et al. 2020): batch-normalized posterior means with a fixed scale gamma
    and a learned shift (:class:`posterior.BatchNormMeans`), trained on the plain ELBO.

    The batch-mean KL of every dimension is bounded below by gamma^2 / 2.

    Attributes:
        gamma: The fixed scale, > 0.
    """

    name: ClassVar[str] = "bn_vae"
    gamma: float = 0.6

    def __post_init__(self):
        if self.gamma <= 0:
            raise ValueError(f"gamma must be > 0, got {self.gamma}")

    def posterior_transform(self, latent_dim: int) -> tf.Module:
        from vae_tfp.methods.posterior import BatchNormMeans

        return BatchNormMeans(latent_dim, self.gamma)


@dataclasses.dataclass(frozen=True)
class DeltaVAE(Method):
    """delta-VAE committed rate (Razavi et al. 2019) for a factorized Gaussian posterior:
    posterior variances constrained to [min_variance, v(delta)] so that every dimension's
    KL is at least delta for every input (:class:`posterior.CommittedRate`); plain ELBO.

    Attributes:
        delta: Committed rate per dimension in nats, > 0.
        min_variance: Lower end of the variance interval, in (0, v(delta)).
    """

    name: ClassVar[str] = "delta_vae"
    delta: float = 0.1
    min_variance: float = 1e-4

    def __post_init__(self):
        if self.delta <= 0:
            raise ValueError(f"delta must be > 0, got {self.delta}")
        if not 0 < self.min_variance < committed_variance(self.delta):
            raise ValueError(
                f"min_variance must be in (0, {committed_variance(self.delta):.4g}) for "
                f"delta={self.delta}, got {self.min_variance}"
            )

    def posterior_transform(self, latent_dim: int) -> tf.Module:
        del latent_dim
        from vae_tfp.methods.posterior import CommittedRate

        return CommittedRate(self.delta, self.min_variance)


@dataclasses.dataclass(frozen=True)
class PretrainFreeBits(Method):
    """Autoencoder pretraining, decoder reset, then free bits (Li et al. 2019, "A
    Surprisingly Effective Fix for Deep Latent Variable Modeling of Text", Sec. 3).

    For the first ``pretrain_epochs`` epochs the KL weight is 0 (an autoencoder with a
    stochastic code); after the last of them the decoder is re-initialized (fresh weights
    from a seed derived from the run seed, fresh optimizer state) while the encoder is kept,
    and training continues with :class:`FreeBits` (floor lambda on each dimension's
    batch-mean KL). Only epochs after pretraining can be selected as the best checkpoint.

    Attributes:
        pretrain_epochs: Epochs of autoencoder pretraining, >= 1.
        lambda_: Free-bits floor in nats per dimension (config key ``lambda``), >= 0.
        steps_per_epoch: Filled in by :meth:`bind`.
    """

    name: ClassVar[str] = "pretrain_fb"
    pretrain_epochs: int = 5
    lambda_: float = 0.5
    steps_per_epoch: int = 0

    def __post_init__(self):
        if self.pretrain_epochs < 1 or int(self.pretrain_epochs) != self.pretrain_epochs:
            raise ValueError(f"pretrain_epochs must be an integer >= 1, got {self.pretrain_epochs}")
        if self.lambda_ < 0:
            raise ValueError(f"lambda must be >= 0, got {self.lambda_}")

    @property
    def decoder_reset_epochs(self) -> tuple[int, ...]:
        return (int(self.pretrain_epochs),)

    @property
    def first_selectable_epoch(self) -> int:
        return int(self.pretrain_epochs) + 1

    def bind(self, steps_per_epoch: int, total_steps: int) -> Method:
        del total_steps
        return dataclasses.replace(self, steps_per_epoch=steps_per_epoch)

    def _pretraining(self, step: tf.Tensor | int) -> tf.Tensor:
        if not self.steps_per_epoch:
            raise ValueError("pretrain_fb: steps_per_epoch unknown; call bind() first")
        return tf.cast(step, tf.int64) < int(self.pretrain_epochs) * int(self.steps_per_epoch)

    def kl_weight(self, step: tf.Tensor | int) -> tf.Tensor:
        return tf.where(self._pretraining(step), 0.0, 1.0)

    def kl_term(self, kl_per_dim: tf.Tensor, step: tf.Tensor | int) -> tf.Tensor:
        free_bits = FreeBits(self.lambda_).kl_term(kl_per_dim, step)
        return tf.where(self._pretraining(step), 0.0, free_bits)


@dataclasses.dataclass(frozen=True)
class SkipVAE(Method):
    """Skip-VAE (Dieng et al. 2019, "Avoiding Latent Variable Collapse with Generative Skip
    Models"): the plain ELBO with z fed to every decoder layer (the decoders' ``skip``
    option, forced on). Applies to the decoders that have that option: mlp and lstm."""

    name: ClassVar[str] = "skip_vae"

    def decoder_overrides(self) -> dict[str, Any]:
        return {"skip": True}

    def applies_to(self, decoder_type: str, dataset_kind: str) -> str | None:
        del dataset_kind
        if decoder_type not in ("mlp", "lstm"):
            return f"skip connections exist for the mlp and lstm decoders, not {decoder_type!r}"
        return None


@dataclasses.dataclass(frozen=True)
class WordDropout(Method):
    """Word dropout (Bowman et al. 2016, Sec. 3.2) with the plain ELBO: during training each
    decoder input word is replaced by the unknown token with probability p, weakening the
    autoregressive path so the decoder must use z. Sequence decoders only.

    Attributes:
        p: Replacement probability in [0, 1].
    """

    name: ClassVar[str] = "word_dropout"
    p: float = 0.25

    def __post_init__(self):
        if not 0.0 <= self.p <= 1.0:
            raise ValueError(f"p must be in [0, 1], got {self.p}")

    def decoder_overrides(self) -> dict[str, Any]:
        return {"word_dropout": float(self.p)}

    def applies_to(self, decoder_type: str, dataset_kind: str) -> str | None:
        if decoder_type != "lstm" or dataset_kind != "tokens":
            return (
                "word dropout replaces decoder input tokens: it needs the lstm decoder on "
                f"token data, got decoder {decoder_type!r} on {dataset_kind!r} data"
            )
        return None


METHODS: dict[str, type[Method]] = {
    cls.name: cls
    for cls in (
        Vanilla,
        Beta,
        KLAnneal,
        Cyclical,
        FreeBits,
        FreeBitsExample,
        KLThreshold,
        Aggressive,
        BNVAE,
        DeltaVAE,
        PretrainFreeBits,
        SkipVAE,
        WordDropout,
    )
}

# Config keys that are Python keywords map to a trailing-underscore field name.
_KEYWORD_FIELDS = {"lambda": "lambda_"}


def method_fields(name: str) -> list[str]:
    """Config names of the hyper-parameters of method ``name``."""
    reverse = {v: k for k, v in _KEYWORD_FIELDS.items()}
    internal = {"steps_per_epoch"}  # filled in by bind(), never set in a config
    return [
        reverse.get(f.name, f.name)
        for f in dataclasses.fields(METHODS[name])
        if f.name not in internal
    ]


def build_method(options: Mapping[str, Any]) -> Method:
    """Builds a method from a method-variant entry, e.g. ``{method: free_bits, lambda: 0.25}``.

    Raises:
        KeyError: On an unknown method name, listing the registered ones.
        TypeError: On an unknown hyper-parameter, listing the accepted ones.
        ValueError: On a hyper-parameter out of range.
    """
    name = options.get("method")
    if name not in METHODS:
        raise KeyError(f"unknown method {name!r}; registered: {sorted(METHODS)}")
    given = {k: v for k, v in options.items() if k != "method"}
    unknown = sorted(set(given) - set(method_fields(name)))
    if unknown:
        raise TypeError(
            f"method {name!r} got unknown hyper-parameters {unknown}; "
            f"accepted: {method_fields(name)}"
        )
    return METHODS[name](**{_KEYWORD_FIELDS.get(k, k): v for k, v in given.items()})
