"""Registry of anti-collapse methods, each a small dataclass of typed hyper-parameters.

A method differs from the plain ELBO only in its KL term (the regularizer hook, as in
disentanglement_lib): the training loss for a batch is

    loss = - mean_batch(rec) + method.kl_term(kl_per_dim, step),

while the quantities logged (rec, kl, ELBO = rec - kl) are the same for every method.
``kl_per_dim`` is [batch, latent_dim], analytic KL(q(z_i|x) || p(z_i)) in nats.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, ClassVar

import tensorflow as tf

from vae_tfp.methods.schedules import linear_warmup


@dataclasses.dataclass(frozen=True)
class Method:
    """The standard ELBO (Kingma & Welling 2014, eq. 3): KL weight 1 at every step."""

    name: ClassVar[str] = "vanilla"

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


METHODS: dict[str, type[Method]] = {cls.name: cls for cls in (Vanilla, Beta, KLAnneal, FreeBits)}

# Config keys that are Python keywords map to a trailing-underscore field name.
_KEYWORD_FIELDS = {"lambda": "lambda_"}


def method_fields(name: str) -> list[str]:
    """Config names of the hyper-parameters of method ``name``."""
    reverse = {v: k for k, v in _KEYWORD_FIELDS.items()}
    return [reverse.get(f.name, f.name) for f in dataclasses.fields(METHODS[name])]


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
