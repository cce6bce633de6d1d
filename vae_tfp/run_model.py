"""A run's model from its run config, for training and evaluation alike: the VAE with the
method's posterior transform, refinement and decoder overrides, and the decoder reset of
phased methods."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import tf_keras

from vae_tfp.data.store import PreparedData
from vae_tfp.methods import build_method
from vae_tfp.models import VAE, build_decoder, build_vae
from vae_tfp.plugins import load_plugins


def decoder_options(run_config: Mapping[str, Any]) -> dict[str, Any]:
    """The decoder variant's options with the method's overrides (skip-VAE) applied."""
    method = build_method(run_config["method_options"])
    return {**run_config["decoder_options"], **method.decoder_overrides()}


def model_from_run_config(run_config: Mapping[str, Any], data: PreparedData) -> VAE:
    """Builds the (untrained) VAE a run config describes for ``data``, with the method's
    posterior transform (BN-VAE, delta-VAE), posterior refinement (SA-VAE) and decoder
    overrides in place; the run's plugins are loaded first."""
    load_plugins(run_config.get("plugins", []))
    method = build_method(run_config["method_options"])
    model = build_vae(
        run_config["model"],
        decoder_options(run_config),
        data.event_shape,
        data.kind,
        vocab_size=data.vocab_size,
        posterior_transform=method.posterior_transform(int(run_config["model"]["latent_dim"])),
        posterior_refinement=method.posterior_refinement(),
    )
    initialize_output_bias(model.decoder, data)
    return model


def initialize_output_bias(decoder: Any, data: PreparedData) -> None:
    """Lets a decoder with a data-dependent initial output bias (the ``mlp`` decoder's
    ``output_bias: data_mean``) set it from the training split."""
    if hasattr(decoder, "initialize_output_bias"):
        decoder.initialize_output_bias(data.train)


def reinitialize_decoder(
    model: VAE, run_config: Mapping[str, Any], data: PreparedData, seed: int
) -> None:
    """Replaces every decoder weight by a fresh initialization drawn from ``seed``.

    The encoder (and the posterior transform) is untouched; the decoder object is kept, so
    optimizers and checkpoints still refer to the same variables.
    """
    tf_keras.utils.set_random_seed(seed)
    fresh = build_decoder(
        decoder_options(run_config),
        model.latent_dim,
        data.event_shape,
        data.kind,
        vocab_size=data.vocab_size,
    )
    initialize_output_bias(fresh, data)
    for variable, value in zip(model.decoder.variables, fresh.variables, strict=True):
        variable.assign(value)
