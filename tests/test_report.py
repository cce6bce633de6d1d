"""Aggregation: one row per run, mean ± std over seeds, and the three table formats."""

import json

import numpy as np
import pandas as pd
import pytest

from vae_tfp.report import collect_runs, summarize, write_tables


def _fake_run(root, method, seed, elbo, n_test=1000):
    run_dir = root / "digits" / "mlp" / method / f"seed{seed}"
    run_dir.mkdir(parents=True)
    payload = {
        "run": {
            "experiment": "t",
            "dataset": "digits",
            "decoder": "mlp",
            "method": method,
            "seed": seed,
        },
        "metrics": {
            "elbo": elbo,
            "nll_iw": -elbo - 1,
            "rec": elbo - 2,
            "kl": 2.0,
            "mi": 1.5,
            "marginal_kl": 0.5,
            "au": 3,
            "kl_per_dim": [1.0, 1.0],
        },
        "standard_errors": {"elbo": 0.1, "nll_iw": 0.1, "rec": 0.1, "kl": 0.01},
        "estimators": {"iw_samples": 10, "n_test": n_test},
        "reference": {},
        "training": {"best_epoch": 4, "op_determinism": True},
        "evaluation_op_determinism": True,
        "wall_time_s": 1.0,
        "config": {
            "method_options": {"method": method.split("_")[0]},
            "decoder_options": {"type": "mlp"},
            "model": {"latent_dim": 2},
        },
        "provenance": {"git": {"commit": "abc"}},
    }
    (run_dir / "metrics.json").write_text(json.dumps(payload))
    return run_dir / "metrics.json"


def test_tables_have_one_row_per_run_and_mean_std_per_setting(tmp_path):
    paths = [
        _fake_run(tmp_path, "vanilla", 0, -20.0),
        _fake_run(tmp_path, "vanilla", 1, -22.0),
        _fake_run(tmp_path, "beta_0.5", 0, -21.0),
    ]
    frame = collect_runs(paths)
    assert len(frame) == 3 and frame["run_dir"].str.endswith("seed0").sum() == 2
    table = summarize(frame).set_index("method")
    assert table.loc["vanilla", "n"] == 2 and table.loc["vanilla", "elbo"] == "-21.00 ± 1.41"
    assert table.loc["beta_0.5", "elbo"] == "-21.00 ± 0.00"
    written = write_tables(frame, tmp_path / "tables")
    assert len(pd.read_csv(written["csv"])) == 3
    assert (
        "| vanilla" in written["md"].read_text() and "nats per example" in written["md"].read_text()
    )
    tex = written["tex"].read_text()
    assert r"beta\_0.5" in tex and r"$\pm$" in tex and r"\begin{tabular}" in tex
    assert "†" not in written["md"].read_text()  # mi 1.5 is far below log 1000 = 6.9


def test_mi_near_its_log_n_ceiling_is_marked(tmp_path):
    """The fake runs' mi is 1.5 nats; log 5 = 1.61, so with 5 test examples the estimate is
    within 1 nat of its ceiling and marked, with 1000 (log 1000 = 6.91) it is not."""
    paths = [
        _fake_run(tmp_path / "small", "vanilla", 0, -20.0, n_test=5),
        _fake_run(tmp_path / "large", "beta_0.5", 0, -20.0, n_test=1000),
    ]
    frame = collect_runs(paths)
    assert frame.set_index("method")["mi_ceiling"].to_dict() == pytest.approx(
        {"vanilla": np.log(5), "beta_0.5": np.log(1000)}
    )
    table = summarize(frame).set_index("method")
    assert table.loc["vanilla", "mi"] == "1.50 ± 0.00 †"
    assert table.loc["beta_0.5", "mi"] == "1.50 ± 0.00"
    written = write_tables(frame, tmp_path / "tables")
    assert "† mi within 1 nat of its ceiling log N" in written["md"].read_text()
    assert r"1.50 $\pm$ 0.00 $^\dagger$" in written["tex"].read_text()


def test_duplicate_and_empty_inputs_are_rejected(tmp_path):
    path = _fake_run(tmp_path, "vanilla", 0, -20.0)
    with pytest.raises(ValueError, match="duplicate runs"):
        collect_runs([path, path])
    with pytest.raises(ValueError, match="no metrics.json"):
        collect_runs([])


def test_tables_are_readable_by_others_not_owner_only(tmp_path):
    """Atomic writes go through mkstemp (owner-only 0600); outputs must get the usual mode."""
    import os

    frame = collect_runs([_fake_run(tmp_path, "vanilla", 0, -20.0)])
    written = write_tables(frame, tmp_path / "tables")
    umask = os.umask(0)
    os.umask(umask)
    for path in written.values():
        assert path.stat().st_mode & 0o777 == 0o666 & ~umask


@pytest.mark.parametrize(
    ("text", "latex"),
    [
        ("nll_iw 5% & co", r"nll\_iw 5\% \& co"),
        ("17.02 ± 0.15", r"17.02 $\pm$ 0.15"),
        ("text_beta.py --beta 0", r"text\_beta.py -{}-beta 0"),
        ("x ≤ 1 − y", r"x $\le$ 1 $-$ y"),
        ("|difference|", r"\textbar{}difference\textbar{}"),
        ("I(x; z_j) > 0.05, p < 1", r"I(x; z\_j) $>$ 0.05, p $<$ 1"),
    ],
)
def test_latex_escape_keeps_text_as_written(text, latex):
    from vae_tfp.report.tables import latex_escape

    assert latex_escape(text) == latex


def test_wrapping_latex_columns_are_ragged_right_and_the_rest_untouched():
    from vae_tfp.report.tables import latex_table

    frame = pd.DataFrame({"name": ["a_b"], "value": ["1.00"], "note": ["long text"]})
    latex = latex_table(frame, "caption", "tab:x", 1, column_format="p{2cm}rp{3cm}")
    assert r"\begin{tabular}{p{2cm}rp{3cm}}" in latex
    assert r"{\raggedright a\_b\par} & 1.00 & {\raggedright long text\par} \\" in latex
    path = latex_table(pd.DataFrame({"p": ["a/b"]}), "c", "t", 1, column_format="p{1cm}")
    assert r"{\raggedright a/\allowbreak{}b\par}" in path
    commit = latex_table(
        pd.DataFrame({"c": ["at commit d59f91ccbdf0435a31dff48b8c416f8e432a30eb"]}),
        "c",
        "t",
        1,
        column_format="p{3cm}",
    )
    assert (
        r"at commit d59f91cc\allowbreak{}bdf0435a\allowbreak{}31dff48b\allowbreak{}"
        r"8c416f8e\allowbreak{}432a30eb\par}" in commit
    )
