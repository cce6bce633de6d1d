"""The LaTeX tables compile with pdflatex and render to a page image (`make test-checks`).

Every table the pipeline writes as .tex (summary, per dataset, statistics, reproduction) goes
into one booktabs document; pdflatex must finish without an error and pdftoppm must render
its first page. texlive-latex-recommended and poppler-utils are installed with apt-get when
missing (root); elsewhere the test skips with the reason.
"""

from __future__ import annotations

import subprocess

import numpy as np
import pandas as pd
import pytest
from system_tools import ToolsUnavailable, ensure_tools
from test_report import _fake_run
from test_report_statistics import _table_frame
from test_reproduction import ENTRY, ROW, _summary

from vae_tfp.report import collect_runs, write_tables
from vae_tfp.report.reproduction import reproduction_table, write_reproduction_tables
from vae_tfp.report.statistics_table import write_statistics
from vae_tfp.report.tables import ordered, write_dataset_table

pytestmark = pytest.mark.checks

TOOLS = {"pdflatex": "texlive-latex-recommended", "pdftoppm": "poppler-utils"}
DOCUMENT = r"""\documentclass{article}
\usepackage[T1]{fontenc}
\usepackage{booktabs}
\usepackage[landscape,margin=1cm]{geometry}
\begin{document}
%s
\end{document}
"""


@pytest.fixture(scope="module")
def tools():
    try:
        ensure_tools(TOOLS)
    except ToolsUnavailable as error:
        pytest.skip(str(error))


def _tables(tmp_path) -> list:
    frame = ordered(_table_frame(), {}, baseline="vanilla")
    # Every mark: a wide bracket on fb (mi, marginal_kl), a bound ≥ with † (mi 5.5 on
    # log 359 = 5.88, no mi_upper), bold, (n = 1).
    frame = frame.assign(
        kl=frame["mi"] + 0.5,
        mi_upper=np.where(frame["method"] == "fb", frame["mi"] + 2.0, frame["mi"] + 0.01),
        marginal_kl=0.5,
    ).assign(marginal_kl_lower=lambda f: f["kl"] - f["mi_upper"])
    saturated = frame[frame["method"] == "beta"].assign(method="anneal", mi=5.5, mi_upper=None)
    single = frame[(frame["method"] == "vanilla") & (frame["seed"] == 0)].assign(method="one")
    frame = pd.concat([frame, saturated, single], ignore_index=True)
    # He et al. 2019's columns and the noise-following threshold (T = 2 / (N S r²)) in the
    # caption.
    frame = frame.assign(
        au_he2019=frame["au"], mi_minibatch=frame["mi"] - 0.5, mi_minibatch_size=128,
        au_threshold=0.01, informative_mi_fixed=False,
    )  # fmt: skip
    written = write_dataset_table(frame, "digits", tmp_path, published=True)
    assert all(mark in written[1].read_text() for mark in ("$^\\dagger$", "$\\ge$", "(n = 1)"))
    assert "r$^2$" in written[1].read_text() and "au\\_he2019" in written[1].read_text()
    written += list(write_statistics(frame, tmp_path, "vanilla").values())
    runs = collect_runs(
        [_fake_run(tmp_path / "runs", "vanilla", s, -20.0 - s, 5, 3.0) for s in (0, 1)]
    )
    written += list(write_tables(runs, tmp_path).values())
    unconfirmed = {**ROW, "value": None, "unconfirmed": "no readable copy of the table"}
    not_run = {"row": "u", "not_run": "36 h per seed (benchmarks/text_epoch_cost.py --fraction)"}
    table = reproduction_table(
        _summary([89.0, 89.6]), {"r": ROW, "u": unconfirmed}, [ENTRY, not_run]
    )
    written += list(write_reproduction_tables(table, tmp_path).values())
    return [p for p in written if p.suffix == ".tex"]


def test_every_latex_table_compiles_and_renders(tools, tmp_path):
    tex_files = _tables(tmp_path)
    assert len(tex_files) == 4
    body = "\n\\clearpage\n".join(p.read_text() for p in tex_files)
    (tmp_path / "tables.tex").write_text(DOCUMENT % body)
    done = subprocess.run(
        ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "tables.tex"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:]
    assert "Missing character" not in (tmp_path / "tables.log").read_text()
    subprocess.run(
        ["pdftoppm", "-png", "-r", "80", "-f", "1", "-l", "1", "tables.pdf", "page"],
        cwd=tmp_path, check=True, timeout=120,
    )  # fmt: skip
    page = next(tmp_path.glob("page*.png"))
    assert page.stat().st_size > 5000
