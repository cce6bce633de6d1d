"""Parts that change the model rather than the loss: the posterior or the decoder."""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

from vae_tfp.declarations import hyperparameter
from vae_tfp.lazy import lazy_import
from vae_tfp.methods.base import Method
from vae_tfp.methods.bounds import committed_variance

# Imported on first use: validating a config needs no TensorFlow.
tf = lazy_import("tensorflow")


@dataclasses.dataclass(frozen=True)
class BNVAE(Method):
    """BN-VAE (Zhu et al. 2020): batch-normalized posterior means with a fixed scale gamma
    and a learned shift (:class:`posterior.BatchNormMeans`), trained on the plain ELBO.

    The batch-mean KL of every dimension is bounded below by gamma^2 / 2. Validation and
    evaluation normalize with the moving averages of the training batches' statistics,
    updated as m <- momentum m + (1 - momentum) batch statistic (Keras's convention; 0.99,
    the Keras default, is what every run before the hyper-parameter existed used).
    """

    name: ClassVar[str] = "bn_vae"
    role: ClassVar[str] = "posterior"
    gamma: float = hyperparameter(
        0.6,
        description="the fixed scale of the normalized means",
        minimum=0,
        exclusive_minimum=True,
    )
    momentum: float = hyperparameter(
        0.99,
        description="momentum of the moving mean and variance used outside training",
        minimum=0,
        maximum=1,
        exclusive_maximum=True,
    )

    def posterior_transform(self, latent_dim: int) -> tf.Module:
        from vae_tfp.methods.posterior import BatchNormMeans

        return BatchNormMeans(latent_dim, self.gamma, self.momentum)


@dataclasses.dataclass(frozen=True)
class DeltaVAE(Method):
    """delta-VAE committed rate (Razavi et al. 2019) for a factorized Gaussian posterior:
    posterior variances constrained to [min_variance, v(delta)] so that every dimension's
    KL is at least delta for every input (:class:`posterior.CommittedRate`); plain ELBO.
    """

    name: ClassVar[str] = "delta_vae"
    role: ClassVar[str] = "posterior"
    delta: float = hyperparameter(
        0.1, description="committed rate per dimension, nats", minimum=0, exclusive_minimum=True
    )
    min_variance: float = hyperparameter(
        1e-4,
        description="lower end of the posterior-variance interval, below v(delta)",
        minimum=0,
        exclusive_minimum=True,
    )

    def check(self) -> None:
        if not self.min_variance < committed_variance(self.delta):
            raise ValueError(
                f"min_variance must be in (0, {committed_variance(self.delta):.4g}) for "
                f"delta={self.delta}, got {self.min_variance}"
            )

    def posterior_transform(self, latent_dim: int) -> tf.Module:
        del latent_dim
        from vae_tfp.methods.posterior import CommittedRate

        return CommittedRate(self.delta, self.min_variance)


@dataclasses.dataclass(frozen=True)
class SkipVAE(Method):
    """Skip-VAE (Dieng et al. 2019, "Avoiding Latent Variable Collapse with Generative Skip
    Models"): the plain ELBO with z fed to every decoder layer (the decoders' ``skip``
    option, forced on). Applies to the decoders that have that option: mlp and lstm."""

    name: ClassVar[str] = "skip_vae"
    role: ClassVar[str] = "decoder"

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
    """

    name: ClassVar[str] = "word_dropout"
    role: ClassVar[str] = "decoder"
    p: float = hyperparameter(
        0.25, description="probability of replacing an input word by <unk>", minimum=0, maximum=1
    )

    def decoder_overrides(self) -> dict[str, Any]:
        return {"word_dropout": self.p}

    def applies_to(self, decoder_type: str, dataset_kind: str) -> str | None:
        if decoder_type != "lstm" or dataset_kind != "tokens":
            return (
                "word dropout replaces decoder input tokens: it needs the lstm decoder on "
                f"token data, got decoder {decoder_type!r} on {dataset_kind!r} data"
            )
        return None
