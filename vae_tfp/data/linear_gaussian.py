"""``linear_gaussian``: probabilistic-PCA data with every answer known in closed form.

The generative model (Tipping & Bishop 1999) is

    z ~ N(0, I_k),    x = W z + b + sigma * eps,    eps ~ N(0, I_D),

so p(x) = N(b, C) with C = W W^T + sigma^2 I_D. ``W = Q diag(spectrum)`` has orthogonal
columns (Q has orthonormal columns drawn from the data seed), hence W^T W is diagonal and the
exact posterior factorizes:

    p(z | x) = N(M^{-1} W^T (x - b), sigma^2 M^{-1}),    M = W^T W + sigma^2 I_k,

which a diagonal-Gaussian encoder can represent exactly. A linear VAE with Gaussian decoder
has the pPCA maximum-likelihood solution as its global optimum (Lucas et al. 2019, "Don't
Blame the ELBO!"): latent directions whose eigenvalue of C is at most sigma^2 (a zero in the
spectrum) carry no information and collapse, the others stay active. The number of dimensions
that must be active is therefore the number of eigenvalues of C above sigma^2.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from vae_tfp.data.store import PreparedData
from vae_tfp.lazy import lazy_import

tfp = lazy_import("tensorflow_probability")  # only the exact-answer methods need it


@dataclasses.dataclass(frozen=True)
class LinearGaussianModel:
    """The pPCA generative model x = W z + b + sigma * eps.

    Attributes:
        weight: W, shape [D, k].
        bias: b, shape [D].
        noise_std: sigma > 0.
    """

    weight: np.ndarray
    bias: np.ndarray
    noise_std: float

    @property
    def covariance(self) -> np.ndarray:
        """C = W W^T + sigma^2 I, the covariance of p(x)."""
        data_dim = self.weight.shape[0]
        return self.weight @ self.weight.T + self.noise_std**2 * np.eye(data_dim)

    def marginal(self) -> tfp.distributions.Distribution:
        """Returns p(x) = N(b, C) as a float64 ``tfd.MultivariateNormalTriL``."""
        return tfp.distributions.MultivariateNormalTriL(
            loc=self.bias.astype(np.float64),
            scale_tril=np.linalg.cholesky(self.covariance).astype(np.float64),
        )

    def log_prob(self, x: np.ndarray) -> np.ndarray:
        """Exact log p(x) in nats for each row of ``x`` (shape [n, D]) -> [n]."""
        return self.marginal().log_prob(np.asarray(x, np.float64)).numpy()

    def posterior_params(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Exact posterior p(z|x) = N(mean, diag(variance)) for each row of ``x``.

        Args:
            x: Array [n, D].

        Returns:
            (mean [n, k], variance [k]); the variance does not depend on x.

        Raises:
            ValueError: If W's columns are not orthogonal (the posterior would not factorize).
        """
        gram = self.weight.T @ self.weight
        if not np.allclose(gram, np.diag(np.diag(gram)), atol=1e-8):
            raise ValueError("W must have orthogonal columns for a factorized exact posterior")
        precision = np.diag(gram) + self.noise_std**2
        mean = (np.asarray(x, np.float64) - self.bias) @ self.weight / precision
        variance = self.noise_std**2 / precision
        return mean, variance

    def eigenvalues(self) -> np.ndarray:
        """Eigenvalues of C in decreasing order."""
        return np.linalg.eigvalsh(self.covariance)[::-1]

    def n_active(self, latent_dim: int | None = None) -> int:
        """Number of latent dimensions that must be active at the optimum.

        Counts the eigenvalues of C strictly above sigma^2 (Tipping & Bishop 1999, eq. 7;
        Lucas et al. 2019, Sec. 4), capped at ``latent_dim`` when given.
        """
        noise_var = self.noise_std**2
        count = int(np.sum(self.eigenvalues() > noise_var * (1.0 + 1e-9)))
        return count if latent_dim is None else min(count, int(latent_dim))

    @classmethod
    def from_reference(cls, reference: dict[str, np.ndarray]) -> LinearGaussianModel:
        """Rebuilds the model from the ``reference`` arrays of a prepared dataset."""
        return cls(
            weight=np.asarray(reference["weight"], np.float64),
            bias=np.asarray(reference["bias"], np.float64),
            noise_std=float(reference["noise_std"]),
        )


def make_model(
    data_dim: int, spectrum: list[float], noise_std: float, seed: int
) -> LinearGaussianModel:
    """Draws W = Q diag(spectrum) with random orthonormal Q, and b ~ N(0, I).

    Args:
        data_dim: D, the data dimension; at least ``len(spectrum)``.
        spectrum: Singular values of W (>= 0); k = len(spectrum) latent directions.
        noise_std: Observation noise sigma > 0.
        seed: Seed of Q and b.

    Raises:
        ValueError: On a spectrum longer than D, a negative singular value or sigma <= 0.
    """
    spectrum = np.asarray(spectrum, np.float64)
    if spectrum.ndim != 1 or len(spectrum) == 0 or len(spectrum) > data_dim:
        raise ValueError(
            f"spectrum must hold 1..data_dim={data_dim} singular values, got {spectrum.tolist()}"
        )
    if np.any(spectrum < 0):
        raise ValueError(f"spectrum values must be >= 0, got {spectrum.tolist()}")
    if noise_std <= 0:
        raise ValueError(f"noise_std must be > 0, got {noise_std}")
    rng = np.random.default_rng(seed)
    q, r = np.linalg.qr(rng.standard_normal((data_dim, len(spectrum))))
    q = q * np.sign(np.diag(r))  # a unique orthonormal basis for the draw
    return LinearGaussianModel(
        weight=q * spectrum, bias=rng.standard_normal(data_dim), noise_std=float(noise_std)
    )


def build_linear_gaussian(
    data_seed: int,
    data_dim: int = 8,
    spectrum: tuple[float, ...] = (2.0, 1.0, 0.5, 0.0),
    noise_std: float = 0.5,
    n_train: int = 5000,
    n_valid: int = 1000,
    n_test: int = 2000,
) -> PreparedData:
    """Samples train/valid/test sets from a pPCA model drawn from ``data_seed``.

    Returns:
        Real-valued data [n, D] (float32) with the generating W, b, sigma in ``reference``.
    """
    model = make_model(data_dim, list(spectrum), noise_std, data_seed)
    rng = np.random.default_rng([data_seed, 1])
    sizes = {"train": n_train, "valid": n_valid, "test": n_test}
    splits = {}
    for name, size in sizes.items():
        if size < 1:
            raise ValueError(f"n_{name} must be >= 1, got {size}")
        z = rng.standard_normal((size, model.weight.shape[1]))
        noise = rng.standard_normal((size, data_dim))
        splits[name] = (z @ model.weight.T + model.bias + noise_std * noise).astype(np.float32)
    return PreparedData(
        name="linear_gaussian",
        kind="real",
        **splits,
        reference={
            "weight": model.weight,
            "bias": model.bias,
            "noise_std": np.asarray(model.noise_std),
        },
        options={
            "data_seed": data_seed,
            "data_dim": data_dim,
            "spectrum": [float(s) for s in spectrum],
            "noise_std": noise_std,
            **{f"n_{name}": size for name, size in sizes.items()},
        },
    )


def linear_gaussian_reference(data: PreparedData, latent_dim: int) -> dict[str, float]:
    """Exact answers on the test split: the model's NLL and the active-unit count.

    Returns:
        ``exact_nll`` (-mean log p(x) over test examples, nats) with its standard error over
        examples, and ``exact_active_units`` (:meth:`LinearGaussianModel.n_active`).
    """
    model = LinearGaussianModel.from_reference(data.reference)
    nll = -model.log_prob(data.test)
    return {
        "exact_nll": float(nll.mean()),
        "exact_nll_se": float(nll.std(ddof=1) / np.sqrt(len(nll))),
        "exact_active_units": model.n_active(latent_dim),
    }
