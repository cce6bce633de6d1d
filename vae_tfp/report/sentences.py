"""The sentences of a token run's ``samples.npz`` as a text file the report shows.

Greedy decodings of z ~ p(z) and a homotopy between two test sentences (Bowman et al. 2016,
Sec. 5.3; written by :mod:`vae_tfp.evaluation.samples`). A collapsed decoder writes the
same sentence for every z and every point of the homotopy.
"""

from __future__ import annotations

import html
import os
from pathlib import Path

import numpy as np

from vae_tfp.io import atomic_write

# What an empty decoding (the end-of-sentence token decoded first) is shown as: a blank line
# after its number reads as a rendering fault.
EMPTY_SENTENCE = "(empty: <eos> first)"


def _shown(sentence: str) -> str:
    return sentence if sentence.strip() else EMPTY_SENTENCE


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
        *(f"  {i + 1}. {_shown(sentence)}" for i, sentence in enumerate(prior)),
        "",
        "Homotopy: decoded at (1 - t) E[z|x_a] + t E[z|x_b] for two test sentences",
        f"  x_a:       {ends[0]}",
        *(
            f"  t = {value:.2f}:  {_shown(sentence)}"
            for value, sentence in zip(t, steps, strict=True)
        ),
        f"  x_b:       {ends[1]}",
    ]
    return "\n".join(lines) + "\n"


def write_sentences(
    samples_path: str | os.PathLike, output_path: str | os.PathLike, title: str
) -> str:
    """Writes :func:`sentences_text` to ``output_path`` (.txt) and, for the HTML report
    (which shows HTML, not plain text), the same text in a page beside it (.html).

    Returns:
        The text written.
    """
    text = sentences_text(samples_path, title)
    output_path = Path(output_path)
    atomic_write(output_path, lambda stream: stream.write(text))
    page = (
        '<!DOCTYPE html><html><head><meta charset="utf-8"></head><body>'
        f'<pre style="font-size:14px; white-space:pre-wrap">{html.escape(text)}</pre>'
        "</body></html>\n"
    )
    atomic_write(output_path.with_suffix(".html"), lambda stream: stream.write(page))
    return text
