"""Statistics across seeds, the collapse verdict and the paper tables, against hand-computed
values (vae_tfp/report/statistics.py, collapse.py, tables.py)."""

import math

import numpy as np
import pandas as pd
import pytest

from vae_tfp.report.collapse import run_verdict, unit_verdicts, verdict_counts
from vae_tfp.report.statistics import paired_differences, t_interval
from vae_tfp.report.tables import (
    dataset_caption,
    dataset_table,
    latex_table,
    long_table,
    ordered,
    write_statistics,
)

# Student-t quantiles t_{0.975, df} from a printed table (e.g. Abramowitz & Stegun 26.10).
T975 = {1: 12.7062, 2: 4.3027, 3: 3.1824}


def test_t_interval_matches_the_hand_computation():
    # mean 2.5, s = sqrt(5/3) = 1.29099, half-width t(3) s / 2.
    interval = t_interval([1.0, 2.0, 3.0, 4.0])
    assert interval["n"] == 4 and interval["mean"] == 2.5
    assert interval["std"] == pytest.approx(math.sqrt(5 / 3), rel=1e-12)
    assert interval["half_width"] == pytest.approx(T975[3] * math.sqrt(5 / 3) / 2, rel=1e-4)
    assert interval["low"] == pytest.approx(2.5 - interval["half_width"])
    single = t_interval([7.0, float("nan")])
    assert single["n"] == 1 and single["mean"] == 7.0 and math.isnan(single["half_width"])


def _runs(rows):
    frame = pd.DataFrame(rows, columns=["dataset", "decoder", "method", "seed", "nll_iw", "mi"])
    return frame


def test_paired_differences_pair_seed_k_with_seed_k():
    rows = [
        ("d", "mlp", "vanilla", 0, 9.0, 1.0),
        ("d", "mlp", "vanilla", 1, 10.0, 1.0),
        ("d", "mlp", "vanilla", 2, 11.0, 1.0),
        # nll_iw differences 1, 2, 0 (mean 1, s 1); mi differences 1.0, 1.1, 0.9 (s 0.1).
        ("d", "mlp", "fb", 2, 11.0, 1.9),
        ("d", "mlp", "fb", 0, 10.0, 2.0),
        ("d", "mlp", "fb", 1, 12.0, 2.1),
        # Seeds 0 and 5: only seed 0 has a baseline partner.
        ("d", "mlp", "beta", 0, 8.0, 0.0),
        ("d", "mlp", "beta", 5, 100.0, 0.0),
        # No baseline on this decoder: no comparison.
        ("d", "made", "fb", 0, 1.0, 1.0),
    ]
    result = paired_differences(_runs(rows), "vanilla", ["nll_iw", "mi"])
    result = result.set_index(["decoder", "method", "metric"])
    fb_nll = result.loc[("mlp", "fb", "nll_iw")]
    assert fb_nll["n_pairs"] == 3 and fb_nll["mean"] == pytest.approx(1.0)
    assert fb_nll["half_width"] == pytest.approx(T975[2] * 1.0 / math.sqrt(3), rel=1e-4)
    assert not fb_nll["excludes_zero"]  # [-1.48, 3.48]
    fb_mi = result.loc[("mlp", "fb", "mi")]
    assert fb_mi["mean"] == pytest.approx(1.0) and fb_mi["std"] == pytest.approx(0.1)
    assert fb_mi["excludes_zero"]  # [0.75, 1.25]
    beta = result.loc[("mlp", "beta", "nll_iw")]
    assert beta["n_pairs"] == 1 and beta["seeds"] == "0" and beta["mean"] == -1.0
    assert math.isnan(beta["half_width"]) and not beta["excludes_zero"]
    assert "made" not in result.index.get_level_values("decoder")
    assert paired_differences(_runs(rows), "nothing", ["mi"]).empty


def test_collapse_verdicts_on_hand_built_metrics():
    mi = [0.30, 0.01, 0.0, 0.05]
    variances = [0.5, 0.02, 0.001, 0.3]
    verdicts = unit_verdicts(mi, variances, au_threshold=0.01, mi_threshold=0.05)
    # The last dimension sits exactly on the threshold: strict >, so not informative.
    assert verdicts == ["informative", "active_uninformative", "collapsed", "active_uninformative"]
    counts = verdict_counts(verdicts)
    assert counts == {
        "informative_units": 1,
        "active_uninformative_units": 2,
        "collapsed_units": 1,
        "collapse_verdict": "partial",
    }
    assert run_verdict(["collapsed", "active_uninformative"]) == "collapsed"
    assert run_verdict(["informative"] * 3) == "uncollapsed"
    with pytest.raises(ValueError, match="mi_per_dim has"):
        unit_verdicts([0.1], [0.1, 0.2], 0.01)


def _table_frame():
    rows = []
    for method, nll, mi in (("fb", 18.0, 4.0), ("vanilla", 19.0, 3.0), ("beta", 24.0, 0.0)):
        for seed, shift in enumerate((-0.1, 0.1)):
            rows.append(
                {
                    "dataset": "digits",
                    "decoder": "mlp",
                    "method": method,
                    "seed": seed,
                    "elbo": -nll - 1 + shift,
                    "nll_iw": nll + shift,
                    "nll_iw_se": 0.05,
                    "mi": mi,
                    "au": 8,
                    "informative_units": 8 if mi else 0,
                    "iw_samples": 100,
                    "mi_samples": 10,
                    "n_test": 359,
                    "informative_mi": 0.05,
                    "dataset_description": "8x8 digits",
                    "run_dir": f"runs/{method}/seed{seed}",
                }
            )
    return pd.DataFrame(rows)


def test_tables_follow_the_config_order_with_the_baseline_first_and_mark_the_best():
    frame = ordered(_table_frame(), {"method": ["beta", "fb", "vanilla"]}, baseline="vanilla")
    assert list(dict.fromkeys(frame["method"])) == ["vanilla", "beta", "fb"]
    display, numbers = dataset_table(frame)
    assert display["method"].tolist() == ["vanilla", "beta", "fb"]
    fb = display.set_index("method").loc["fb"]
    assert fb["nll_iw"] == "**18.00 ± 0.14**" and fb["mi"] == "**4.00 ± 0.00**"
    assert fb["elbo"] == "**-19.00 ± 0.14**"
    assert display.set_index("method").loc["vanilla", "nll_iw"] == "19.00 ± 0.14"
    row = numbers.set_index("method").loc["fb"]
    assert row["nll_iw_ci95"] == pytest.approx(T975[1] * math.sqrt(0.02) / math.sqrt(2), rel=1e-4)
    caption = dataset_caption(frame)
    assert "K = 100" in caption and "8x8 digits" in caption and "0.05 nats" in caption
    latex = latex_table(display, caption, "tab:digits", text_columns=2)
    assert r"\textbf{18.00 $\pm$ 0.14}" in latex and r"\toprule" in latex
    # A bare ~ would be a non-breaking space, a bare | an em dash in the default font.
    assert r"z $\sim$ q(z\textbar{}x)" in latex


def test_long_table_has_one_row_per_run_and_metric_with_its_error():
    long = long_table(_table_frame())
    assert set(long["metric"]) == {"elbo", "nll_iw", "mi", "au", "informative_units"}
    assert len(long) == 6 * 5
    nll = long[(long["metric"] == "nll_iw") & (long["method"] == "fb")]
    assert nll["standard_error"].tolist() == [0.05, 0.05]
    assert long.loc[long["metric"] == "au", "unit"].unique().tolist() == ["count"]
    assert long.loc[long["metric"] == "elbo", "standard_error"].isna().all()


def test_statistics_files_state_what_is_paired(tmp_path):
    frame = ordered(_table_frame(), {}, baseline="vanilla")
    paths = write_statistics(frame, tmp_path, "vanilla")
    text = paths["md"].read_text()
    assert "seed k of the method minus seed k of vanilla" in text
    assert "-1.00 [" in text  # fb - vanilla nll_iw: -1 over 2 pairs
    both = pd.read_csv(paths["csv"])
    assert set(both["kind"]) == {"interval", "paired"}
    assert np.isclose(
        both.query("kind == 'paired' and method == 'fb' and metric == 'nll_iw'")["mean"], -1.0
    ).all()
