"""Anti-collapse objectives: each method turns (rec, kl_per_dim, step) into a loss."""

from vae_tfp.methods.registry import METHODS, Method, build_method

__all__ = ["METHODS", "Method", "build_method"]
