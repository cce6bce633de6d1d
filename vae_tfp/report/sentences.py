"""The sentences of a token run's ``samples.npz`` as a text file the report shows.

Greedy decodings of z ~ p(z) and a homotopy between two test sentences (Bowman et al. 2016,
Sec. 5.3; written by :mod:`vae_tfp.evaluation.samples`). A collapsed decoder writes the
same sentence for every z and every point of the homotopy.
"""

from __future__ import annotations

import os

import numpy as np

from vae_tfp.io import atomic_write


def sentences_text(samples_path: str | os.PathLike, title: str) -> str:
    """The sentences of one run, as plain text.

    Args:
        samples_path: A token run's ``samples.npz``.
        title: The first line, naming dataset x decoder x method and seed.

    Raises:
        KeyError: If the file holds no sentences (an image or vector run).
    """
    with np.load(samples_path) as stored:
        prior = [str(s) for s in stored["prior_sentences"]]
        ends = [str(s) for s in stored["homotopy_endpoints"]]
        steps = [str(s) for s in stored["homotopy_sentences"]]
        t = stored["homotopy_t"].tolist()
        decoding = str(stored["decoding"])
    distinct = len(set(prior))
    lines = [
        title,
        "",
        f"Decoded from z ~ p(z) ({decoding} decoding; {distinct} distinct of {len(prior)}):",
        *(f"  {i + 1}. {sentence}" for i, sentence in enumerate(prior)),
        "",
        "Homotopy: decoded at (1 - t) E[z|x_a] + t E[z|x_b] for two test sentences",
        f"  x_a:       {ends[0]}",
        *(f"  t = {value:.2f}:  {sentence}" for value, sentence in zip(t, steps, strict=True)),
        f"  x_b:       {ends[1]}",
    ]
    return "\n".join(lines) + "\n"


def write_sentences(
    samples_path: str | os.PathLike, output_path: str | os.PathLike, title: str
) -> str:
    """Writes :func:`sentences_text` to ``output_path`` atomically and returns it."""
    text = sentences_text(samples_path, title)
    atomic_write(output_path, lambda stream: stream.write(text))
    return text
