"""A display table (strings; ``**x**`` marks bold) as Markdown, booktabs LaTeX and a
standalone HTML page: the files every table of the suite is written as."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from vae_tfp.io import atomic_write

# Characters of names, numbers and captions that pdflatex would misread or not know.
LATEX_REPLACEMENTS = {
    "\\": r"\textbackslash{}",
    "_": r"\_",
    "%": r"\%",
    "&": r"\&",
    "#": r"\#",
    "~": r"$\sim$",
    "^": r"\^{}",
    "±": r"$\pm$",
    "†": r"$^\dagger$",
    "×": r"$\times$",
    "−": r"$-$",
    "√": r"$\surd$",
    "²": r"$^2$",
    "Δ": r"$\Delta$",
    "≤": r"$\le$",
    "≥": r"$\ge$",
    "‖": r"$\|$",
    "|": r"\textbar{}",  # OT1 text fonts set a bare | as an em dash,
    "<": r"$<$",  # < as an inverted exclamation mark,
    ">": r"$>$",  # and > as an inverted question mark
    "--": "-{}-",  # a command-line option, not an en dash
}
_LATEX_PATTERN = re.compile("|".join(re.escape(k) for k in LATEX_REPLACEMENTS))


def latex_escape(value: object) -> str:
    """``value`` as LaTeX text: special characters escaped, symbols in math mode."""
    return _LATEX_PATTERN.sub(lambda m: LATEX_REPLACEMENTS[m.group(0)], str(value))


def _latex_cell(value: object) -> str:
    text = latex_escape(value)
    if text.startswith("**") and text.endswith("**"):
        text = r"\textbf{" + text[2:-2] + "}"
    return text


_COMMIT_HASH = re.compile(r"\b[0-9a-f]{16,}\b")


def _breakable_hash(match: re.Match) -> str:
    digits = match.group(0)
    return r"\allowbreak{}".join(digits[i : i + 8] for i in range(0, len(digits), 8))


def _ragged_cell(text: str) -> str:
    """A wrapping cell set ragged-right, breakable after each ``/`` of a path and every 8
    digits of a commit hash (40 digits overflow any column of a page)."""
    text = _COMMIT_HASH.sub(_breakable_hash, text.replace("/", r"/\allowbreak{}"))
    return r"{\raggedright " + text + r"\par}"


def latex_table(
    display: pd.DataFrame,
    caption: str,
    label: str,
    text_columns: int,
    column_format: str | None = None,
) -> str:
    """Booktabs LaTeX of a display table (``**x**`` becomes bold), caption and label.

    The first ``text_columns`` columns are left-aligned and the rest right-aligned, unless
    ``column_format`` gives the columns (e.g. ``p{4cm}`` for text that must wrap; such
    cells are set ragged-right and may break after a ``/`` of a path, which needs no
    package beyond booktabs).
    """
    cells = display.map(_latex_cell)
    if column_format:
        kinds = re.findall(r"p\{[^}]*\}|[lrc]", column_format)
        for column, kind in zip(cells.columns, kinds, strict=True):
            if kind.startswith("p"):
                cells[column] = cells[column].map(_ragged_cell)
    return cells.rename(columns=_latex_cell).to_latex(
        index=False,
        escape=False,
        column_format=column_format
        or "l" * text_columns + "r" * (len(display.columns) - text_columns),
        caption=latex_escape(caption),
        label=label,
        position="htbp",
    )


def html_table(display: pd.DataFrame, caption: str) -> str:
    """A standalone HTML page of a display table (``**x**`` becomes bold) for the report."""
    body = display.map(lambda v: re.sub(r"^\*\*(.*)\*\*$", r"<b>\1</b>", str(v))).to_html(
        index=False, escape=False, border=0
    )
    return (
        '<!DOCTYPE html><html><head><meta charset="utf-8"><style>'
        "body{font-family:sans-serif;font-size:14px}table{border-collapse:collapse}"
        "th,td{padding:3px 9px;text-align:right;white-space:nowrap}th{border-bottom:1px solid #444}"
        "td:nth-child(-n+2){text-align:left}</style></head><body>"
        f"<p>{caption}</p>{body}</body></html>\n"
    )


def write_display(
    display: pd.DataFrame,
    caption: str,
    base: Path,
    label: str,
    text_columns: int,
    heading: str = "",
) -> list[Path]:
    """``base`` + ``.md``, ``.tex`` and ``.html`` of one display table."""
    outputs = {
        ".md": f"{heading}{caption}\n\n{display.to_markdown(index=False)}\n",
        ".tex": latex_table(display, caption, label, text_columns),
        ".html": html_table(display, caption),
    }
    for suffix, text in outputs.items():
        atomic_write(base.with_suffix(suffix), lambda s, t=text: s.write(t))
    return [base.with_suffix(suffix) for suffix in outputs]
