"""A run's model from its run config, for training and evaluation alike: the VAE with the
method's posterior transform, refinement and decoder overrides, the decoder reset of
phased methods, and the start from a separate pretraining run."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import tensorflow as tf
import tf_keras

from vae_tfp.checkpoints import read_every_variable
from vae_tfp.data.store import PreparedData
from vae_tfp.methods import build_method
from vae_tfp.models import VAE, build_decoder, build_vae
from vae_tfp.plugins import load_plugins
from vae_tfp.run_files import PRETRAIN_DIR, checkpoint_path
from vae_tfp.seeds import derive_seed

log = logging.getLogger(__name__)


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


def start_from_pretraining(
    model: VAE, run_config: Mapping[str, Any], data: PreparedData, run_dir: str | Path
) -> None:
    """For a method that starts from a separate pretraining run (a ``pretrain_run`` part:
    Li et al. 2019's ``text_anneal_fb.py --load_path ... --reset_dec``): the model takes the
    best weights of the run in ``run_dir/pretrain``, then its decoder a fresh initialization
    from the run's ``decoder_reset`` seed. Does nothing for other methods.

    Raises:
        FileNotFoundError: If the pretraining run has not finished.
        CheckpointMismatchError: If its checkpoint lacks variables of this model.
    """
    if build_method(run_config["method_options"]).pretraining_method() is None:
        return
    pretrain_dir = Path(run_dir) / PRETRAIN_DIR
    prefix = checkpoint_path(pretrain_dir)
    if not prefix.with_suffix(".json").exists():
        raise FileNotFoundError(
            f"{run_dir} starts from the pretraining run in {pretrain_dir}, which has not "
            f"finished ({prefix.with_suffix('.json')} is missing): the pipeline's pretrain "
            "rule trains it first (`python -m vae_tfp train` with "
            "vae_tfp.config.pretraining_run_config of this run, --run-dir there)"
        )
    read_every_variable(
        tf.train.Checkpoint(model=model),
        prefix,
        f"Train the pretraining run in {pretrain_dir} again with this code.",
    )
    seed = derive_seed(int(run_config["seed"]), "decoder_reset")
    reinitialize_decoder(model, run_config, data, seed)
    log.info("started from %s (its best epoch), decoder re-initialized", prefix)
