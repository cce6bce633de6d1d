"""Named compositions: the methods of the literature as their papers ran them.

A preset is a tuple of part names and default hyper-parameters; a config may override any
of them (``{method: li2019, lambda: 0.5}``) and compose a preset with further parts
(``{method: li2019 + skip_vae}``). Each preset says where its configuration comes from,
and where the suite's differs.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any


@dataclasses.dataclass(frozen=True)
class Preset:
    """A named composition.

    Attributes:
        name: The config name.
        parts: Names of its parts (registered method parts), in order.
        defaults: Hyper-parameters of those parts the preset sets, by config key.
        description: What it is: the paper, the table row or command it follows, and the
            differences from the authors' configuration.
    """

    name: str
    parts: tuple[str, ...]
    defaults: Mapping[str, Any]
    description: str


BUILTIN_PRESETS = (
    Preset(
        "vanilla",
        (),
        {},
        "The standard ELBO (Kingma & Welling 2014, eq. 3): KL weight 1 at every update.",
    ),
    Preset(
        "pretrain_fb",
        ("pretrain", "free_bits"),
        {"pretrain_epochs": 5, "lambda": 0.5},
        "Autoencoder pretraining, decoder reset, then Kingma et al. 2016's free bits on each "
        "dimension's batch-mean KL at KL weight 1. Li et al. 2019's phases with another "
        "floor and no warm-up: their configuration is li2019.",
    ),
    Preset(
        "li2019",
        ("pretrain_run", "kl_anneal", "free_bits_example"),
        {"beta0": 0.0, "warmup_epochs": 10, "lambda": 0.25},
        "Li et al. 2019 (EMNLP), 'A Surprisingly Effective Fix for Deep Latent Variable "
        "Modeling of Text', the commands of their README (bohanli/vae-pretraining-encoder "
        "d59f91c): an autoencoder run (text_beta.py --beta 0, the pipeline's pretrain rule), "
        "then text_anneal_fb.py --load_path --reset_dec --kl_start 0 --warm_up 10 "
        "--target_kl 8 --fb 2 from its best weights: decoder reset, KL weight from 0 to 1 "
        "over 10 epochs, free bits per example and dimension at lambda = target_kl / nz = "
        "8 / 32. By default the warm-up counts the run's own batches and raises the weight "
        "after each update; warmup_epoch_length: n_over_b with step_offset: 1 gives their "
        "rate (N / 32 updates per epoch, raised before each update), as paper.yaml sets. "
        "The terms below lambda count lambda by default (a floor); below_lambda: drop "
        "counts them 0 as their mask does (the same gradient, their training loss), as "
        "paper.yaml sets.",
    ),
    Preset(
        "pretrain_anneal_fb",
        ("pretrain", "kl_anneal", "free_bits_example"),
        {"pretrain_epochs": 5, "beta0": 0.0, "warmup_epochs": 10, "lambda": 0.25},
        "li2019 with its autoencoder pretraining as the first pretrain_epochs epochs of the "
        "same run, at the run's learning rate (li2019 itself before the pretraining became "
        "a separate run): one run instead of two.",
    ),
    Preset(
        "aggressive_anneal",
        ("aggressive", "kl_anneal"),
        {"beta0": 0.1, "warmup_epochs": 10},
        "He et al. 2019 (ICLR), 'Lagging Inference Networks and Posterior Collapse in "
        "Variational Autoencoders', the command of their README (jxhe/vae-lagging-encoder "
        "cdc4eb9: text.py --aggressive 1 --warm_up 10 --kl_start 0.1): aggressive encoder "
        "inner loop (at most 100 steps by default, 99 in their code; convergence checked "
        "every 15) with KL annealing from 0.1 to 1 over 10 epochs. By default the warm-up "
        "counts the run's own batches and raises the weight after each update; "
        "warmup_epoch_length: n_over_b with step_offset: 1 gives their rate (N / 32 updates "
        "per epoch in text.py, raised before each update), as paper.yaml sets.",
    ),
    Preset(
        "sa_vae_anneal",
        ("sa_vae", "kl_anneal"),
        {"beta0": 0.1, "warmup_epochs": 10},
        "SA-VAE (Kim et al. 2018) with KL annealing from 0.1 to 1 over 10 epochs, in the loss "
        "and in the ELBO the SVI steps ascend: He et al. 2019's 'SA-VAE + anneal' baseline. "
        "Their own SA-VAE scripts (jxhe/vae-lagging-encoder, branch sa-vae, 66b3018: "
        "text_sa.py and image_sa.py, run with --kl_start 0.1 --warm_up 10 by "
        "experiments/review_savae.py) raise the weight by 1 / (10 * N / B) before each update, "
        "without text.py's factor (1 - kl_start), so it reaches 1 after 9 epochs; "
        "warmup_epochs: 9 with warmup_epoch_length: n_over_b and step_offset: 1 gives that "
        "rate, as paper.yaml sets. By default the warm-up counts the run's own batches and "
        "raises the weight after each update.",
    ),
)


def merge_defaults(
    preset_defaults: Mapping[str, Any],
    given: Mapping[str, Any],
    alternatives: Mapping[str, str],
) -> dict[str, Any]:
    """The hyper-parameters of a composition: the presets' defaults overridden by ``given``.

    A preset default is dropped when ``given`` sets its alternative (``warmup_steps``
    replaces a preset's ``warmup_epochs``).

    Args:
        preset_defaults: The presets' defaults by config key.
        given: The config's hyper-parameters by config key.
        alternatives: Config key -> the key that replaces it.
    """
    kept = {
        key: value
        for key, value in preset_defaults.items()
        if key not in given and alternatives.get(key) not in given
    }
    return {**kept, **given}
