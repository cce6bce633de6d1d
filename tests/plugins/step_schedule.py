"""A method-part plugin in one file: a KL-weight schedule (tests/test_plugins.py runs it
composed with a built-in floor, ``kl_step + free_bits``).

``kl_step``: the KL weight is ``low`` for the first ``switch_step`` updates, then 1.
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

from vae_tfp.lazy import lazy_import
from vae_tfp.methods import Method, hyperparameter, register_method

tf = lazy_import("tensorflow")


@register_method
@dataclasses.dataclass(frozen=True)
class StepSchedule(Method):
    """KL weight ``low`` before update ``switch_step``, 1 from it on."""

    name: ClassVar[str] = "kl_step"
    role: ClassVar[str] = "kl_weight"
    low: float = hyperparameter(description="weight before the switch", minimum=0, maximum=1)
    switch_step: int = hyperparameter(description="first update at weight 1", minimum=0)

    def kl_weight(self, step: tf.Tensor | int) -> tf.Tensor:
        return tf.where(tf.cast(step, tf.int64) < self.switch_step, self.low, 1.0)
