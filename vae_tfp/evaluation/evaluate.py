"""Evaluates a trained run on the test split and writes ``metrics.json``.

Metrics (nats per example, averaged over test examples; definitions in
:mod:`vae_tfp.metrics.estimators` and
:mod:`vae_tfp.metrics.aggregate_posterior`):

- ``rec``: E_q log p(x|z), averaged over the K importance samples of each example.
- ``kl``: analytic KL(q(z|x) || p(z)) (the rate); ``kl_per_dim`` its split by dimension.
- ``elbo``: rec - kl.
- ``nll_iw``: -log (1/K) sum_k p(x, z_k) / q(z_k|x), z_k ~ q(z|x) (Burda et al. 2016), with
  the K samples drawn ``iw_chunk`` at a time and combined by log-sum-exp.
- ``mi``: I_q(x; z) with q(z) the mixture of q(z|x') over the test set: a lower bound on the
  population information, at most log N.
- ``mi_upper``: the leave-one-out upper bound on I_q(x; z) (Poole et al. 2019,
  arXiv:1905.06922), from the same samples as ``mi``.
- ``marginal_kl_lower``, ``marginal_kl_upper``: the bracket kl - mi_upper <= KL(q(z) || p(z))
  <= kl - mi; ``marginal_kl`` (= ``marginal_kl_upper``) is kept for older readers.
- ``au``: active units, Cov_x(E_q[z_i|x]) > threshold on the posterior the model uses
  (SA-VAE: the refined means; Burda et al. 2016); per-dimension variances saved
  (``au_variances``).
- ``au_he2019``: the count of He et al. 2019's code, Var >= threshold on the same means as
  ``au`` (their SA-VAE scripts count the refined means too); the variances of the encoder's
  own means, before any refinement, in ``au_encoder_variances``.
- ``nll_iw_perplexity`` (token data): exp(total nll_iw / total tokens), a sentence's tokens
  being its words and its ``EOS`` (:func:`vae_tfp.data.store.token_counts`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf

from vae_tfp.checkpoints import read_every_variable
from vae_tfp.data.registry import DATASETS
from vae_tfp.data.store import PreparedData, token_counts
from vae_tfp.evaluation.importance import importance_weighted_pass
from vae_tfp.evaluation.samples import write_samples
from vae_tfp.io import read_json, write_json
from vae_tfp.metrics import (
    active_units,
    aggregate_posterior_metrics,
    bits_per_dim,
    count_active,
    mean_and_standard_error,
    mutual_information_minibatch,
    perplexity,
)
from vae_tfp.models import VAE
from vae_tfp.provenance import code_version, provenance, read_training_code_record
from vae_tfp.run_files import checkpoint_path
from vae_tfp.run_model import model_from_run_config
from vae_tfp.runtime import op_determinism_enabled
from vae_tfp.seeds import derive_seed
from vae_tfp.training.feeds import evaluation_batches

log = logging.getLogger(__name__)


def compute_metrics(
    model: VAE,
    data: PreparedData,
    evaluation: Mapping[str, Any],
    seed: int,
    training: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """All test metrics of a trained model, with standard errors and estimator settings.

    Args:
        model: A trained VAE.
        data: The prepared dataset (its test split is used).
        evaluation: The ``evaluation`` section of the run config.
        seed: The run seed (evaluation noise is derived from it).
        training: The run's ``training`` section: with ``batching`` length or buckets,
            token data are scored in length batches
            (:func:`vae_tfp.training.feeds.evaluation_batches`), which changes no number
            beyond float rounding. None: consecutive rows.

    Returns:
        A dict with ``metrics`` (scalars and per-dimension lists), ``standard_errors``
        (over test examples), ``estimators`` (settings and definitions) and ``posterior``
        (the test examples' ``loc`` and ``log_var`` arrays, which ``samples.npz`` keeps).
    """
    eval_seed = derive_seed(seed, "eval_sampling")
    k, chunk = int(evaluation["iw_samples"]), int(evaluation["iw_chunk"])
    threshold = float(evaluation["au_threshold"])
    x = data.test
    batch_size = int(evaluation["batch_size"])
    batches = evaluation_batches(training, data, "test", batch_size)
    passed = importance_weighted_pass(model, x, k, chunk, batch_size, eval_seed, batches)
    kl_per_dim = model.kl_per_dim(passed["loc"], passed["log_var"]).numpy().astype(np.float64)
    kl = kl_per_dim.sum(-1)
    per_example = {
        "elbo": passed["rec"] - kl,
        "rec": passed["rec"],
        "kl": kl,
        "nll_iw": -passed["log_px"],
    }
    metrics: dict[str, Any] = {}
    errors: dict[str, float] = {}
    for name, values in per_example.items():
        metrics[name], errors[name] = mean_and_standard_error(values)
    n_mi_samples = int(evaluation["mi_samples"])
    minibatch = int(evaluation["mi_minibatch_size"])
    aggregate = aggregate_posterior_metrics(
        passed["loc"], passed["log_var"], n_samples=n_mi_samples, seed=eval_seed
    )
    au, variances = active_units(passed["loc"], threshold)
    # He et al. 2019's convention: >= on the means of the posterior the model uses, as their
    # calc_au (the refined means in their SA-VAE scripts, text_sa.py and image_sa.py).
    au_he2019 = count_active(variances, threshold, strict=False)
    _, encoder_variances = active_units(passed["encoder_loc"], threshold)
    metrics.update(
        {
            "mi": aggregate["mi"],
            "mi_minibatch": mutual_information_minibatch(
                passed["loc"], passed["log_var"], minibatch, n_samples=1, seed=eval_seed
            ),
            "mi_upper": aggregate["mi_upper"],
            "marginal_kl": metrics["kl"] - aggregate["mi"],
            "marginal_kl_lower": metrics["kl"] - aggregate["mi_upper"],
            "marginal_kl_upper": metrics["kl"] - aggregate["mi"],
            "marginal_kl_direct": aggregate["marginal_kl"],
            "au": au,
            "kl_per_dim": kl_per_dim.mean(0).tolist(),
            "mi_per_dim": aggregate["mi_per_dim"].tolist(),
            "au_variances": variances.tolist(),
            "au_he2019": au_he2019,
            "au_encoder_variances": encoder_variances.tolist(),
        }
    )
    # Monte Carlo error alone (test set held fixed): sqrt(sum_n Var_n) / N.
    errors["nll_iw_mc"] = float(np.sqrt(passed["log_px_mc_var"].sum()) / len(x))
    errors["kl_per_dim"] = (kl_per_dim.std(0, ddof=1) / np.sqrt(len(x))).tolist()
    if data.kind == "binary":
        n_dims = int(np.prod(data.event_shape))
        metrics["nll_iw_bits_per_dim"] = bits_per_dim(metrics["nll_iw"], n_dims)
        errors["nll_iw_bits_per_dim"] = bits_per_dim(errors["nll_iw"], n_dims)
    if data.kind == "tokens":
        metrics["nll_iw_perplexity"] = perplexity(per_example["nll_iw"], token_counts(x))
    estimators = {
        "n_test": len(x),
        "iw_samples": k,
        "iw_chunk": chunk,
        "rec": f"mean over the {k} importance samples of log p(x|z_k), z_k ~ q(z|x)",
        "nll_iw": "-log mean_k p(x,z_k)/q(z_k|x) (Burda et al. 2016), chunked log-sum-exp",
        "nll_iw_perplexity": (
            "token data: exp(sum_n nll_iw_n / sum_n T_n), T_n = words + EOS (BOS not counted)"
        ),
        "mi": (
            "I_q(x;z) with q(z) the mixture of q(z|x') over the whole test set; "
            f"{n_mi_samples} samples z ~ q(z|x) per example shared by log q(z|x) and "
            "log q(z); a lower bound in expectation, at most log(n_test) "
            "(bias measured in vae_tfp.metrics.aggregate_posterior.aggregate_posterior_metrics)"
        ),
        "mi_upper": (
            "leave-one-out upper bound on I_q(x;z) (Poole et al. 2019, arXiv:1905.06922): the "
            "mi samples with each example's own q(z|x) left out of the mixture, which then "
            "has n_test - 1 components; an upper bound in expectation, no ceiling"
        ),
        "mi_samples": n_mi_samples,
        "mi_minibatch": (
            f"He et al. 2019: q(z) the mixture over consecutive test minibatches of "
            f"{minibatch}, 1 sample per example; at most log({minibatch})"
        ),
        "mi_minibatch_size": minibatch,
        "mi_per_dim": "I_q(x;z_i) from the one-dimensional factors, same samples as mi",
        "marginal_kl": (
            "kl - mi (rate decomposition, Hoffman & Johnson 2016): an upper bound, the same "
            "as marginal_kl_upper"
        ),
        "marginal_kl_lower": "kl - mi_upper: a lower bound on KL(q(z)||p(z)), may be < 0",
        "marginal_kl_upper": "kl - mi: an upper bound on KL(q(z)||p(z))",
        "marginal_kl_direct": "E_{z~q(z)}[log q(z) - log p(z)], same samples as mi",
        "au": f"dims with Var_x(E_q[z_i|x]) > {threshold} (ddof=1, strict, Burda et al. 2016)",
        "au_threshold": threshold,
        "au_he2019": (
            f"dims with Var_x(E_q[z_i|x]) >= {threshold} (ddof=1) on the same means as au: "
            "He et al. 2019's calc_au (jxhe/vae-lagging-encoder cdc4eb9; their SA-VAE "
            "scripts, branch sa-vae 66b3018, count the refined means)"
        ),
        "au_encoder_variances": (
            "Var_x of the encoder's means per dimension (ddof=1), before any refinement; "
            "au_variances are those of the posterior the model uses"
        ),
        "standard_errors": (
            "std over test examples / sqrt(n_test) for per-example averages; nll_iw_mc: Monte "
            "Carlo error of nll_iw alone (delta method on the K weights, test set fixed); none "
            "for mi, mi_upper, marginal_kl and au, whose terms share the test set"
        ),
    }
    if model.posterior_refinement is not None:
        estimators["posterior"] = model.posterior_refinement.description
    posterior = {"loc": passed["loc"], "log_var": passed["log_var"]}
    return {
        "metrics": metrics,
        "standard_errors": errors,
        "estimators": estimators,
        "posterior": posterior,
    }


def evaluate_run(
    run_dir: str | Path, data: PreparedData, evaluation: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Evaluates the selected checkpoint of ``run_dir``: ``metrics.json`` and ``samples.npz``.

    ``samples.npz`` holds what the report shows of the model (reconstructions and prior
    samples, or sentences; :mod:`vae_tfp.evaluation.samples`); it is written first, so a
    ``metrics.json`` always has its samples beside it.

    Args:
        run_dir: A run folder holding ``run_config.json`` and the ``checkpoint`` folder.
        data: The prepared dataset named by the run config.
        evaluation: The evaluation settings; defaults to the ``evaluation`` section of
            ``run_config.json``. ``metrics.json`` records the run config with these settings.

    Returns:
        The content written to ``metrics.json``.

    Raises:
        FileNotFoundError: If the run has no config or checkpoint, or has not finished
            training (no ``checkpoint/best.json``).
        ValueError: If ``data`` is not the dataset the run was trained on, or no
            evaluation settings are given or stored.
    """
    started = time.perf_counter()
    run_dir = Path(run_dir)
    run_config = read_json(run_dir / "run_config.json")
    evaluation = evaluation if evaluation is not None else run_config.get("evaluation")
    if evaluation is None:
        raise ValueError(f"no evaluation settings given and none in {run_dir}/run_config.json")
    run_config = {**run_config, "evaluation": dict(evaluation)}
    if data.name != run_config["dataset"]:
        raise ValueError(
            f"run {run_dir} was trained on {run_config['dataset']!r}, got {data.name!r}"
        )
    prefix = checkpoint_path(run_dir)
    if not prefix.with_suffix(".index").exists():
        raise FileNotFoundError(f"no checkpoint at {prefix}; train the run first")
    if not prefix.with_suffix(".json").exists():
        # Training saves its best checkpoint so far while it runs; the summary comes last.
        raise FileNotFoundError(
            f"{run_dir} has not finished training: {prefix.with_suffix('.json')} is written "
            "when training ends, and the checkpoint beside it is one of a run in progress: "
            "wait for it, or if it was interrupted, resume it from the folder that started it "
            "(snakemake --rerun-incomplete there)"
        )
    model = model_from_run_config(run_config, data)
    read_every_variable(
        tf.train.Checkpoint(model=model),
        prefix,
        "Evaluate the run with the code that trained it (checkpoint/code_version.json "
        "names its commit), or train it again.",
    )
    training = read_json(prefix.with_suffix(".json"))

    result = compute_metrics(
        model, data, run_config["evaluation"], int(run_config["seed"]), run_config["training"]
    )
    samples_seed = derive_seed(int(run_config["seed"]), "report_samples")
    write_samples(model, data, samples_seed, run_dir / "samples.npz", result.pop("posterior"))
    spec = DATASETS[data.name]
    reference = (
        spec.reference_metrics(data, int(run_config["model"]["latent_dim"]))
        if spec.reference_metrics
        else {}
    )
    payload = {
        "run": {
            key: run_config[key] for key in ("experiment", "dataset", "decoder", "method", "seed")
        },
        **result,
        "reference": reference,
        "training": training,
        "evaluation_wall_time_s": time.perf_counter() - started,
        "evaluation_op_determinism": op_determinism_enabled(),
        # A method's cost includes its separate pretraining run, if it has one (li2019).
        "wall_time_s": training["wall_time_s"]
        + training.get("pretraining", {}).get("wall_time_s", 0.0)
        + (time.perf_counter() - started),
        "config": run_config,
        "provenance": provenance(),
        # The suite's code at training (None: trained before it was recorded) and now.
        "code_versions": {
            "training": read_training_code_record(prefix.parent),
            "evaluation": code_version(),
        },
    }
    write_json(run_dir / "metrics.json", payload)
    return payload
