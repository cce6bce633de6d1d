"""A method plugin in one file: controlled capacity increase (Burgess et al. 2018).

Burgess, Higgins, Pal, Matthey, Watters, Desjardins & Lerchner 2018, "Understanding
disentangling in beta-VAE" (arXiv:1804.03599), Sec. 5: instead of weighting the KL term, the
objective pulls the rate towards a target capacity C that grows during training,

    L = E_q log p(x|z) - gamma * | KL(q(z|x) || p(z)) - C |,

with C rising linearly from 0 to C_max over a number of updates (their dSprites runs: gamma
1000, C_max 25 nats over 100,000 updates). Here KL is the batch-mean total KL in nats. Below
the target the KL term's gradient pushes the rate up, so no latent code can stay collapsed
while C > 0; above it, down. The ELBO the suite logs and evaluates is the plain one.

Used by ``examples/capacity.yaml`` (``plugins: [capacity_vae.py]``); ``docs/extending.md``
walks through it.
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

from vae_tfp.lazy import lazy_import
from vae_tfp.methods import Method, hyperparameter, register_method

# Config validation imports this file too: TensorFlow only when a loss is computed.
tf = lazy_import("tensorflow")


@register_method
@dataclasses.dataclass(frozen=True)
class ControlledCapacity(Method):
    """Controlled capacity increase (Burgess et al. 2018, Sec. 5): the KL term is
    gamma * |mean_batch KL - C(step)|, C(step) = capacity_max * min(1, step / capacity_steps)."""

    name: ClassVar[str] = "capacity"
    role: ClassVar[str] = "kl_term"  # it replaces the KL term; a schedule may weight it
    gamma: float = hyperparameter(
        description="weight of the distance between the rate and the target",
        minimum=0,
        exclusive_minimum=True,
    )
    capacity_max: float = hyperparameter(
        description="the final target rate C_max, nats per example", minimum=0
    )
    capacity_steps: int = hyperparameter(
        description="updates over which the target rises from 0 to C_max (0: at once)",
        minimum=0,
    )

    def capacity(self, step: tf.Tensor | int) -> tf.Tensor:
        """The target rate C at ``step`` (the number of updates done before this one)."""
        if self.capacity_steps == 0:
            return tf.constant(self.capacity_max)
        fraction = tf.minimum(tf.cast(step, tf.float32) / self.capacity_steps, 1.0)
        return self.capacity_max * fraction

    def kl_term(self, kl_per_dim: tf.Tensor, step: tf.Tensor | int) -> tf.Tensor:
        rate = tf.reduce_mean(tf.reduce_sum(kl_per_dim, axis=-1))
        return self.gamma * tf.abs(rate - self.capacity(step))
