"""Pure estimators on arrays (posterior parameters, log-weights); they know no training."""

from vae_tfp.metrics.aggregate_posterior import (
    aggregate_posterior_metrics,
    he2019_calc_mi,
    mutual_information,
    mutual_information_in_batches,
    mutual_information_minibatch,
)
from vae_tfp.metrics.estimators import (
    active_units,
    bits_per_dim,
    count_active,
    gaussian_kl_per_dim,
    iw_log_likelihood,
    mean_and_standard_error,
    perplexity,
)

__all__ = [
    "active_units",
    "aggregate_posterior_metrics",
    "bits_per_dim",
    "count_active",
    "gaussian_kl_per_dim",
    "he2019_calc_mi",
    "iw_log_likelihood",
    "mean_and_standard_error",
    "mutual_information",
    "mutual_information_in_batches",
    "mutual_information_minibatch",
    "perplexity",
]
