"""Runs the metrics on a trained run and writes ``metrics.json``."""

from vae_tfp.evaluation.evaluate import compute_metrics, evaluate_run
from vae_tfp.evaluation.importance import importance_weighted_pass

__all__ = ["compute_metrics", "evaluate_run", "importance_weighted_pass"]
