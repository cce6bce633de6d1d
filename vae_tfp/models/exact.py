"""A linear VAE set to the exact pPCA model and its exact posterior (for checking metrics).

With an encoder without hidden layers, loc = A x + c and log_var = const are exactly the
parameters of the pPCA posterior p(z|x) = N(M^{-1} W^T (x - b), sigma^2 M^{-1}) when W has
orthogonal columns (M diagonal). Every log importance weight then equals log p(x), so
``nll_iw`` is exact for every K: the sharpest test of the importance-weighted estimator.
"""

from __future__ import annotations

import numpy as np

from vae_tfp.models.decoders import LinearDecoder
from vae_tfp.models.encoder import GaussianEncoder
from vae_tfp.models.vae import VAE


def exact_linear_gaussian_vae(
    weight: np.ndarray, bias: np.ndarray, noise_std: float, variance_scale: float = 1.0
) -> VAE:
    """A VAE whose decoder is N(W z + b, sigma^2 I) and whose encoder is the exact posterior.

    Args:
        weight: W [D, k] with orthogonal columns.
        bias: b [D].
        noise_std: sigma.
        variance_scale: Multiplies the posterior variances; 1 is exact, other values give a
            deliberately mis-specified encoder with the right means.

    Raises:
        ValueError: If W's columns are not orthogonal.
    """
    weight = np.asarray(weight, np.float64)
    gram = weight.T @ weight
    if not np.allclose(gram, np.diag(np.diag(gram)), atol=1e-8):
        raise ValueError("W must have orthogonal columns for a factorized exact posterior")
    data_dim, latent_dim = weight.shape
    precision = np.diag(gram) + noise_std**2
    encoder = GaussianEncoder((data_dim,), latent_dim, hidden_units=())
    kernel = np.concatenate([weight / precision, np.zeros_like(weight)], axis=1)
    loc_bias = -(np.asarray(bias) @ weight) / precision
    log_var = np.log(variance_scale * noise_std**2 / precision)
    encoder.head.set_weights(
        [kernel.astype(np.float32), np.concatenate([loc_bias, log_var]).astype(np.float32)]
    )
    decoder = LinearDecoder(latent_dim, (data_dim,), "real")
    decoder.dense.set_weights([weight.T.astype(np.float32), np.asarray(bias, np.float32)])
    decoder.log_scale.assign(np.log(noise_std))
    return VAE(encoder, decoder, latent_dim)
