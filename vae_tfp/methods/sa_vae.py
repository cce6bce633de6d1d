"""Semi-amortized VAE (Kim, Wiseman, Miller, Sontag & Rush 2018, "Semi-Amortized
Variational Autoencoders", ICML, Algorithm 1).

The encoder gives the initial variational parameters lambda_0 = (mu_0, log sigma_0^2) of
q(z|x); K steps of stochastic variational inference (SVI) refine them per example by
gradient ascent with momentum on that example's ELBO,

    v_{k+1} = eta v_k + clip(grad_lambda ELBO(lambda_k; x, eps_k))
    lambda_{k+1} = lambda_k + alpha v_{k+1},   k = 0 .. K-1,

    ELBO(lambda; x, eps) = log p(x | mu + sigma * eps) - beta_t KL(q_lambda(z) || p(z)),

one fresh reparameterized sample eps_k per step, beta_t the step's KL weight (1 unless
annealed: He et al. 2019's "SA-VAE + anneal" is the composition ``sa_vae + kl_anneal``,
the preset ``sa_vae_anneal``). The training loss is the negative ELBO at
lambda_K, and its gradient flows through the K steps: to the encoder through lambda_0
(second-order terms: Hessian-vector products of the ELBO in lambda), and to the decoder both
directly and through the steps, as in Kim et al.'s code (``train_n2n=1, acc_param_grads=1``).
Here the steps are unrolled inside the training step's ``GradientTape`` and differentiated
exactly by TensorFlow (nested tapes), where Kim et al. approximate the Hessian-vector
products by finite differences. The first-order alternative Kim et al. mention (training the
encoder towards the refined parameters without differentiating through SVI) is not
implemented: the paper's method is the end-to-end one.

Where the suite differs from their code: the step size ``svi_lr`` is per example (their SVI
loss is the batch mean, so their rate 1 at batch size B is 1/B per example: 0.02 for He et
al.'s Omniglot batches of 50, the default here), and gradient clipping applies to each
example's gradients of mu and of log sigma^2 separately (theirs, at norm 5, to the gradient
of the batch mean, which with B equal per-example norms g has norm g / sqrt(B): it acts from
g = 5 sqrt(50) = 35 on, the default here; per-example norms on the embedded settings are
0.1-11). The
refined posterior is q(z|x) everywhere: in validation (checkpoint selection) and in every
test metric (``nll_iw``, ``kl``, ``mi``, ``au``), with the KL weight 1.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, ClassVar

from vae_tfp.declarations import hyperparameter
from vae_tfp.lazy import lazy_import
from vae_tfp.methods.base import Method

# Imported on first use: validating a config needs no TensorFlow.
tf = lazy_import("tensorflow")


@dataclasses.dataclass(frozen=True)
class SVIRefinement:
    """K steps of gradient ascent with momentum on each example's ELBO (Kim et al. 2018).

    Attributes:
        steps: K, the number of SVI steps (0: the encoder's parameters unchanged).
        learning_rate: alpha, the step size per example.
        momentum: eta.
        max_grad_norm: Each example's gradient of mu, and of log sigma^2, is clipped to this
            Euclidean norm (inf: no clipping).
    """

    steps: int
    learning_rate: float
    momentum: float
    max_grad_norm: float

    @property
    def description(self) -> str:
        """What the evaluation records about the posterior it used."""
        clip = (
            f", gradients clipped to norm {self.max_grad_norm:g} per example"
            if math.isfinite(self.max_grad_norm)
            else ""
        )
        return (
            f"q(z|x) refined by {self.steps} SVI steps of gradient ascent on each example's "
            f"ELBO (step {self.learning_rate:g}, momentum {self.momentum:g}{clip}; one fresh "
            "sample per step), from the encoder's parameters (SA-VAE, Kim et al. 2018)"
        )

    def elbo(
        self,
        model: Any,
        x: tf.Tensor,
        loc: tf.Tensor,
        log_var: tf.Tensor,
        seed: tf.Tensor,
        kl_weight: tf.Tensor | float = 1.0,
    ) -> tf.Tensor:
        """Single-sample ELBO of every example, log p(x|z) - kl_weight * KL, [batch]."""
        from vae_tfp.models.encoder import gaussian_posterior  # TensorFlow: on use only

        z = gaussian_posterior(loc, log_var).sample(seed=seed)
        rec = model.decoder(z).log_prob(x)
        kl = tf.reduce_sum(model.kl_per_dim(loc, log_var), axis=-1)
        return rec - tf.cast(kl_weight, kl.dtype) * kl

    def _clip(self, gradient: tf.Tensor) -> tf.Tensor:
        if not math.isfinite(self.max_grad_norm):
            return gradient
        return tf.clip_by_norm(gradient, self.max_grad_norm, axes=[1])

    def __call__(
        self,
        model: Any,
        x: tf.Tensor,
        loc: tf.Tensor,
        log_var: tf.Tensor,
        seed: tf.Tensor,
        kl_weight: tf.Tensor | float = 1.0,
    ) -> tuple[tf.Tensor, tf.Tensor]:
        """The refined (loc, log_var), differentiable in the inputs and the decoder.

        Args:
            model: The VAE (its decoder and KL are used).
            x: The batch.
            loc, log_var: lambda_0, [batch, latent_dim].
            seed: Stateless seed; step k draws its noise from ``fold_in(seed, k)``.
            kl_weight: beta_t of the ELBO being ascended.

        Returns:
            lambda_K as (loc, log_var).
        """
        if self.steps == 0:  # XLA cannot size a loop of at most 0 iterations
            return loc, log_var

        def step(k, params, velocity):
            step_seed = tf.random.experimental.stateless_fold_in(seed, k)
            with tf.GradientTape() as tape:
                tape.watch(params)
                # Examples are independent: the gradient of the sum is each one's gradient.
                total = tf.reduce_sum(self.elbo(model, x, *params, step_seed, kl_weight))
            gradients = tape.gradient(total, params)
            velocity = [
                self.momentum * v + self._clip(g) for v, g in zip(velocity, gradients, strict=True)
            ]
            params = [p + self.learning_rate * v for p, v in zip(params, velocity, strict=True)]
            return k + 1, params, velocity

        # A loop op rather than K unrolled copies: the graph (and its second-order gradient)
        # is built once, whatever K; outer tapes differentiate through it.
        _, (loc, log_var), _ = tf.while_loop(
            lambda k, params, velocity: k < self.steps,
            step,
            (tf.constant(0), [loc, log_var], [tf.zeros_like(loc), tf.zeros_like(log_var)]),
            maximum_iterations=self.steps,  # XLA sizes the gradient's loop state with it
        )
        return loc, log_var


@dataclasses.dataclass(frozen=True)
class SAVAE(Method):
    """Semi-amortized VAE (Kim et al. 2018, Algorithm 1): q(z|x) refined per example by
    ``svi_steps`` SVI steps from the encoder's output, trained end to end through the
    refinement (:class:`SVIRefinement`; the module docstring states the variant).

    The KL weight of the ELBO the SVI steps ascend is the composition's (a ``kl_weight``
    part anneals it, as in He et al. 2019's "SA-VAE + anneal"). With ``svi_steps = 0`` it is
    the plain VAE.
    """

    name: ClassVar[str] = "sa_vae"
    role: ClassVar[str] = "refinement"
    svi_steps: int = hyperparameter(
        10, description="K, SVI steps per example (Kim et al.: 20; He et al.: 10)", minimum=0
    )
    svi_lr: float = hyperparameter(
        0.02,
        description="SVI step size per example (He et al.'s 1 on a mean over 50 examples)",
        minimum=0,
        exclusive_minimum=True,
    )
    svi_momentum: float = hyperparameter(
        0.5, description="momentum of the SVI steps", minimum=0, maximum=1, exclusive_maximum=True
    )
    svi_max_grad_norm: float = hyperparameter(
        35.0,
        description="per-example clipping norm of the SVI gradients (.inf: none)",
        minimum=0,
        exclusive_minimum=True,
        allow_infinite=True,
    )

    def posterior_refinement(self) -> SVIRefinement:
        return SVIRefinement(self.svi_steps, self.svi_lr, self.svi_momentum, self.svi_max_grad_norm)
