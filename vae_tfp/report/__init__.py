"""Reads run folders; pandas tables and figures (no live models)."""

from vae_tfp.report.aggregate import collect_runs, summarize, write_tables

__all__ = ["collect_runs", "summarize", "write_tables"]
