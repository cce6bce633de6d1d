"""What the report shows of a trained model, written by the evaluate job as ``samples.npz``.

- Binary images: the first test images, their reconstructions (the decoder's mean at the
  posterior mean z = E_q[z|x]; one sample x ~ p(x|z) for autoregressive decoders, which
  have no closed-form mean) and images decoded from z ~ p(z), the same way.
- Token data: sentences greedily decoded from z ~ p(z), and a homotopy (Bowman et al. 2016,
  Sec. 5.3): greedy decodings along the line between the posterior means of two test
  sentences. A decoder that ignores z says the same sentence for every z.
- Every kind: the test examples' posterior parameters (``posterior_loc``,
  ``posterior_log_var``), so per-dimension analyses (estimator noise, other AU thresholds)
  need no model.

Every posterior here is the one the metrics use: after the method's refinement, if any.
The saved ``posterior_loc`` / ``posterior_log_var`` are the evaluation pass's own (passed in
by the evaluate job, SA-VAE's SVI noise seeded as there); the reconstructions and the
homotopy refine afresh with the stateless seed ``(seed, 2)``.

The arrays say which of mean or sample they hold (``reconstruction_kind``), so a caption
can tell a reader what they are looking at.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf

from vae_tfp.data.store import EOS_ID, PAD_ID, SPECIAL_TOKENS, PreparedData
from vae_tfp.io import atomic_write
from vae_tfp.models import VAE
from vae_tfp.models.autoregressive import image_shape_of

N_RECONSTRUCTIONS = 10
N_PRIOR_SAMPLES = 16
N_SENTENCES = 8
HOMOTOPY_STEPS = 7


def _decode_images(decoder: Any, z: tf.Tensor, seed: int) -> tuple[np.ndarray, str]:
    """The decoder's mean at each row of z where it has one, else one sample x ~ p(x|z)."""
    distribution = decoder(z)
    try:
        return distribution.mean().numpy(), "mean"
    except NotImplementedError:
        # tfd.PixelCNN samples with stateful ops: the global seed makes them repeatable.
        tf.random.set_seed(seed)
        return np.asarray(decoder.sample(z, seed=seed)), "sample"


def _posterior_params(model: VAE, x: np.ndarray, seed: int) -> tuple[tf.Tensor, tf.Tensor]:
    """q(z|x)'s ``loc`` and ``log_var`` as evaluated, refined when the method refines it."""
    return model.posterior_params(tf.constant(x), seed=tf.constant([seed, 2], tf.int32))


def image_samples(model: VAE, data: PreparedData, seed: int) -> dict[str, np.ndarray]:
    """Originals, reconstructions and prior samples of a binary-image model.

    Args:
        model: A trained VAE whose decoder models binary images.
        data: The prepared dataset (its test split is used).
        seed: Seed of the prior draws and of the decoder samples.

    Returns:
        ``originals`` and ``reconstructions`` [n, *event_shape], ``prior_samples``
        [m, *event_shape], ``image_shape`` [H, W], and ``reconstruction_kind`` (``"mean"``
        or ``"sample"``), all as arrays.
    """
    originals = np.asarray(data.test[:N_RECONSTRUCTIONS], np.float32)
    loc, _ = _posterior_params(model, originals, seed)
    reconstructions, kind = _decode_images(model.decoder, loc, seed)
    z_prior = model.prior.sample(N_PRIOR_SAMPLES, seed=tf.constant([seed, 1], tf.int32))
    prior_samples, _ = _decode_images(model.decoder, z_prior, seed + 1)
    height, width, _ = image_shape_of(originals.shape[1:])
    return {
        "originals": originals,
        "reconstructions": np.asarray(reconstructions, np.float32),
        "prior_samples": np.asarray(prior_samples, np.float32),
        "image_shape": np.array([height, width]),
        "reconstruction_kind": np.array(kind),
    }


def detokenize(rows: np.ndarray, vocabulary: tuple[str, ...]) -> list[str]:
    """The words of each token row, up to its ``EOS``, joined by spaces.

    Special tokens other than ``<unk>`` (padding, ``<bos>``) are dropped; a row with no
    ``EOS`` ends at its last position.
    """
    sentences = []
    for row in np.asarray(rows):
        words = []
        for token in row.tolist():
            if token == EOS_ID:
                break
            if token != PAD_ID and vocabulary[token] not in SPECIAL_TOKENS[:3]:
                words.append(vocabulary[token])
        sentences.append(" ".join(words))
    return sentences


def _decode_tokens(decoder: Any, z: tf.Tensor, seed: int) -> tuple[np.ndarray, str]:
    """Greedy decodings of each row of z where the decoder has them, else one sample."""
    if hasattr(decoder, "greedy_decode"):
        return decoder.greedy_decode(z).numpy(), "greedy"
    return np.asarray(decoder.sample(z, seed=seed)), "sample"


def sentence_samples(model: VAE, data: PreparedData, seed: int) -> dict[str, np.ndarray]:
    """Sentences from the prior and a homotopy between two test sentences.

    Args:
        model: A trained VAE on token data.
        data: The prepared dataset (its vocabulary and test split).
        seed: Seed of the prior draws.

    Returns:
        ``prior_sentences`` [N_SENTENCES]; ``homotopy_endpoints`` (the two test sentences),
        ``homotopy_t`` and ``homotopy_sentences`` [HOMOTOPY_STEPS]; ``decoding``
        (``"greedy"`` or ``"sample"``); string arrays.
    """
    z_prior = model.prior.sample(N_SENTENCES, seed=tf.constant([seed, 1], tf.int32))
    prior_rows, decoding = _decode_tokens(model.decoder, z_prior, seed)
    endpoints = data.test[:2]
    loc, _ = _posterior_params(model, endpoints, seed)
    t = np.linspace(0.0, 1.0, HOMOTOPY_STEPS, dtype=np.float32)
    z_line = (1.0 - t[:, None]) * loc[0].numpy() + t[:, None] * loc[1].numpy()
    homotopy_rows, _ = _decode_tokens(model.decoder, tf.constant(z_line), seed + 1)
    vocabulary = data.vocabulary
    return {
        "prior_sentences": np.array(detokenize(prior_rows, vocabulary)),
        "homotopy_endpoints": np.array(detokenize(endpoints, vocabulary)),
        "homotopy_t": t,
        "homotopy_sentences": np.array(detokenize(homotopy_rows, vocabulary)),
        "decoding": np.array(decoding),
    }


# What is written for each data kind; kinds not named here get only ``kind``.
SAMPLERS = {"binary": image_samples, "tokens": sentence_samples}


def write_samples(
    model: VAE,
    data: PreparedData,
    seed: int,
    path: str | Path,
    posterior: dict[str, np.ndarray] | None = None,
) -> dict:
    """Writes the samples of ``data.kind`` (see the module docstring) to ``path`` (.npz).

    Args:
        model: The trained VAE.
        data: Its prepared dataset.
        seed: Seed of every draw.
        path: The ``.npz`` file to write (atomically).
        posterior: The test examples' ``loc`` and ``log_var``, when already computed;
            otherwise they are encoded here.

    Returns:
        The arrays written, ``kind`` included.
    """
    if posterior is None:
        loc, log_var = _posterior_params(model, data.test, seed)
        posterior = {"loc": loc.numpy(), "log_var": log_var.numpy()}
    arrays: dict[str, np.ndarray] = {
        "kind": np.array(data.kind),
        "posterior_loc": np.asarray(posterior["loc"], np.float32),
        "posterior_log_var": np.asarray(posterior["log_var"], np.float32),
    }
    if data.kind in SAMPLERS:
        arrays.update(SAMPLERS[data.kind](model, data, seed))
    atomic_write(path, lambda stream: np.savez_compressed(stream, **arrays), mode="wb")
    return arrays
