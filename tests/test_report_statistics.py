"""Statistics across seeds, the collapse verdict and the paper tables, against hand-computed
values (vae_tfp/report/statistics.py, collapse.py, tables.py)."""

import math

import numpy as np
import pandas as pd
import pytest

from vae_tfp.metrics import aggregate_posterior_metrics
from vae_tfp.report.collapse import (
    INFORMATIVE_RELATIVE_STD,
    informative_threshold,
    mi_per_dim_mc_std,
    run_verdict,
    unit_verdicts,
    verdict_counts,
)
from vae_tfp.report.display import latex_table
from vae_tfp.report.statistics import paired_differences, t_interval
from vae_tfp.report.statistics_table import write_statistics
from vae_tfp.report.tables import dataset_caption, dataset_table, long_table, ordered

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
        unit_verdicts([0.1], [0.1, 0.2], 0.01, 0.05)


@pytest.mark.parametrize(
    ("n_test", "n_samples", "threshold"), [(359, 10, 0.05571), (2000, 10, 0.01), (10000, 10, 0.002)]
)
def test_informative_threshold_is_two_over_n_s_r_squared(n_test, n_samples, threshold):
    assert informative_threshold(n_test, n_samples) == pytest.approx(threshold, rel=1e-3)
    assert informative_threshold(n_test, n_samples, relative_std=0.2) == pytest.approx(
        threshold / 4, rel=1e-3
    )
    with pytest.raises(ValueError, match="need N, S"):
        informative_threshold(0, n_samples)


def _known_information_dims(n_test, informations, seed):
    """Posterior parameters of dimensions with known information over n_test examples:
    q(z_i|x_n) = N(a_i u_n, 0.5), u_n ~ N(0, 1), carries 0.5 log(1 + a_i^2 / 0.5) nats
    (vae_tfp.report.estimator_noise); a_i = 0 carries none."""
    slopes = np.sqrt(0.5 * np.expm1(2 * np.asarray(informations)))
    u = np.random.default_rng(seed).standard_normal((n_test, len(slopes)))
    loc = u * slopes
    return loc, np.full_like(loc, np.log(0.5))


@pytest.mark.parametrize(("n_test", "n_samples"), [(359, 10), (2000, 10)])
def test_informative_threshold_follows_the_estimators_noise_at_two_n(n_test, n_samples):
    """Known answers at two N (thresholds 0.056 and 0.010 nats): on one test set, over 8
    seeds of the samples z ~ q(z|x),

    - the estimate of a dimension carrying exactly the threshold T has a Monte Carlo
      standard deviation of r T (r = 0.1; pooled over 6 dimensions, 42 degrees of freedom:
      within 30%), as mi_per_dim_mc_std predicts;
    - a dimension with no information is estimated at exactly 0 < T (probability 1);
    - one carrying T/4 is estimated below T and one carrying 4 T above it, every time: under
      the normal approximation each is 1.5 / r = 15 standard deviations out, a probability
      below 1e-40 per estimate.
    """
    threshold = informative_threshold(n_test, n_samples)
    at, quarter, four = [threshold] * 6, [threshold / 4] * 2, [4 * threshold] * 2
    loc, log_var = _known_information_dims(n_test, [*at, *quarter, *four, 0.0], seed=n_test)
    estimates = np.array(
        [
            aggregate_posterior_metrics(loc, log_var, n_samples, seed=s, upper=False)["mi_per_dim"]
            for s in range(8)
        ]
    )
    spread = np.sqrt(estimates[:, :6].var(0, ddof=1).mean())
    assert spread == pytest.approx(INFORMATIVE_RELATIVE_STD * threshold, rel=0.3)
    assert spread == pytest.approx(mi_per_dim_mc_std(threshold, n_test, n_samples), rel=0.3)
    assert np.all(estimates[:, -1] == 0.0)
    assert np.all(estimates[:, 6:8] < threshold)
    assert np.all(estimates[:, 8:10] > threshold)


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
    assert f"mi uses {frame['mi_samples'].iloc[0]} samples z" in caption
    assert "mi uses 1 sample z" in dataset_caption(frame.assign(mi_samples=1))
    latex = latex_table(display, caption, "tab:digits", text_columns=2)
    assert r"\textbf{18.00 $\pm$ 0.14}" in latex and r"\toprule" in latex
    # A bare ~ would be a non-breaking space, a bare | an em dash in the default font.
    assert r"z $\sim$ q(z\textbar{}x)" in latex


def test_dataset_table_shows_wall_time_verdicts_and_perplexity_where_runs_have_them():
    """Wall times 3600 s and 5400 s are 1.00 and 1.50 h: mean 1.25, sample std 0.25 * sqrt(2)
    = 0.35; 60 s and 120 s (no run of an hour) are minutes, 1.50 ± 0.71. A row whose seeds
    agree shows their verdict, one whose seeds differ counts each. Perplexity comes right
    after nll_iw, and no column or caption sentence appears for what no run records."""
    frame = ordered(_table_frame(), {}, baseline="vanilla")
    verdicts = {"vanilla": ["collapsed", "partial"], "fb": ["uncollapsed"] * 2, "beta": [None] * 2}
    frame = frame.assign(
        wall_time_s=[3600.0, 5400.0] * 3,
        collapse_verdict=[v for method in frame["method"].unique() for v in verdicts[method]],
        nll_iw_perplexity=[120.0, 140.0] * 3,
    )
    display, numbers = dataset_table(frame)
    rows = display.set_index("method")
    assert rows.loc["vanilla", "hours"] == "1.25 ± 0.35"
    assert rows.loc["vanilla", "collapse_verdict"] == "collapsed 1, partial 1"
    assert rows.loc["fb", "collapse_verdict"] == "uncollapsed"
    assert rows.loc["beta", "collapse_verdict"] == ""
    assert rows.loc["fb", "nll_iw_perplexity"] == "130.00 ± 14.14"
    columns = list(display.columns)
    assert columns.index("nll_iw_perplexity") == columns.index("nll_iw") + 1
    assert numbers.set_index("method").loc["vanilla", "hours_mean"] == pytest.approx(1.25)
    caption = dataset_caption(frame, display)
    assert "hours: wall time of each run, training (all its sessions) plus evaluation" in caption
    assert "where seeds differ, each verdict with its count of seeds" in caption
    assert "nll_iw_perplexity: exp(Σ nll_iw / Σ tokens)" in caption
    minutes = frame.assign(wall_time_s=[60.0, 120.0] * 3)
    shown = dataset_table(minutes)[0]
    assert "hours" not in shown and shown.set_index("method").loc["fb", "minutes"] == "1.50 ± 0.71"
    bare = ordered(_table_frame(), {}, baseline="vanilla")
    display = dataset_table(bare)[0]
    for absent in ("hours", "minutes", "collapse_verdict", "nll_iw_perplexity"):
        assert absent not in display
    caption = dataset_caption(bare, display)
    assert "wall time" not in caption and "collapse_verdict" not in caption
    assert "perplexity" not in caption


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


def _two_methods(nll_a, nll_b, mi=(2.0, 2.0), n_test=359):
    """Runs of methods a and b on one dataset x decoder, seed k with seed k."""
    rows = []
    for method, values, mi_value in (("a", nll_a, mi[0]), ("b", nll_b, mi[1])):
        for seed, value in enumerate(values):
            rows.append({**_table_frame().iloc[0].to_dict(), "method": method, "seed": seed,
                         "nll_iw": value, "elbo": -value - 1, "mi": mi_value + 0.01 * seed,
                         "n_test": n_test})  # fmt: skip
    return pd.DataFrame(rows)


def test_bold_only_where_the_paired_interval_with_the_runner_up_excludes_zero():
    """The issue's case: 17.27 ± 0.18 over 17.31 ± 0.10 with seed-to-seed noise larger than
    the gap is not bold; a consistent gap of 0.2 in every seed is. Bold compares unrounded
    means, and one seed gets no bold (no interval)."""
    noisy = dataset_table(_two_methods([17.07, 17.45, 17.29], [17.41, 17.20, 17.32]))[0]
    assert not noisy["nll_iw"].str.startswith("**").any()
    steady = dataset_table(_two_methods([17.1, 17.3, 17.2], [17.3, 17.5, 17.4]))[0]
    assert steady.set_index("method").loc["a", "nll_iw"] == "**17.20 ± 0.10**"
    single = dataset_table(_two_methods([17.1], [17.3]))[0]
    assert single.set_index("method").loc["a", "nll_iw"] == "17.10 (n = 1)"


def test_mi_is_never_bold_when_shown_as_a_bound():
    """mi 5.0 and 3.0 on N = 359 (log N = 5.88): a's mi is within 1 nat of log N, so it is a
    bound (†, "≥" without mi_upper) and the column has no bold, although a's lower bound
    exceeds b's estimate in every seed."""
    display = dataset_table(_two_methods([17.1, 17.3, 17.2], [17.3, 17.5, 17.4], (5.0, 3.0)))[0]
    cells = display.set_index("method")["mi"]
    assert cells["a"] == "≥ 5.01 †" and cells["b"] == "3.01 ± 0.01"
    clear = dataset_table(_two_methods([17.1, 17.3, 17.2], [17.3, 17.5, 17.4], (4.0, 3.0)))[0]
    assert clear.set_index("method").loc["a", "mi"] == "**4.01 ± 0.01**"


def test_holm_adjustment_matches_the_hand_computation():
    """p = (0.01, 0.04, 0.03, NaN): m = 3 tested; sorted 0.01, 0.03, 0.04 -> 3 x 0.01 = 0.03,
    max(0.03, 2 x 0.03) = 0.06, max(0.06, 1 x 0.04) = 0.06; NaN stays untested."""
    from vae_tfp.report.statistics import holm_adjust

    adjusted = holm_adjust([0.01, 0.04, 0.03, float("nan")])
    np.testing.assert_allclose(adjusted[:3], [0.03, 0.06, 0.06])
    assert math.isnan(adjusted[3])
    # Monotone: a larger p-value never gets a smaller adjusted one (0.9 -> max(1.0, 0.9)).
    np.testing.assert_allclose(holm_adjust([0.5, 0.9]), [1.0, 1.0])


def test_paired_stars_survive_holm_over_the_table_and_the_caption_says_so(tmp_path):
    """Three methods against the baseline, two metrics: six comparisons. fb's Δnll_iw
    (differences -1.0, -0.8, -1.2: t = 8.7, 2 df) has p = 0.013 unadjusted, its interval
    excludes 0, and Holm multiplies it by 5 (second smallest of 6) to 0.065; fb's Δmi (no
    spread) has p = 0: only the latter is starred."""
    rows = []
    for method, nll, mi in (
        ("vanilla", (19.0, 19.2, 19.1), 3.0),
        ("fb", (18.0, 18.4, 17.9), 4.0),
        ("beta", (19.0, 19.3, 18.9), 3.0),
        ("kl", (19.5, 19.0, 19.3), 3.0),
    ):
        for seed, value in enumerate(nll):
            rows.append({**_table_frame().iloc[0].to_dict(), "method": method, "seed": seed,
                         "nll_iw": value, "mi": mi + 0.01 * seed})  # fmt: skip
    frame = ordered(pd.DataFrame(rows), {}, baseline="vanilla")
    paths = write_statistics(frame, tmp_path, "vanilla")
    text = paths["md"].read_text()
    assert "Holm-adjusted p < 0.05" in text and "over the 6 comparisons" in text
    fb = pd.read_csv(paths["csv"]).query("kind == 'paired' and method == 'fb'")
    fb = fb.set_index("metric")
    assert fb.loc["nll_iw", "p_value"] < 0.05 < fb.loc["nll_iw", "p_holm"]
    assert fb.loc["nll_iw", "excludes_zero"]  # the unadjusted interval would have starred it
    paired = text.split("## Paired comparisons")[1]
    fb_line = next(line for line in paired.splitlines() if "| fb " in line)
    assert fb_line.count("*") == 1 and fb_line.rstrip(" |").endswith("*")


def test_bracket_ends_are_tightened_by_kl_seed_by_seed_in_both_columns():
    """Two seeds, kl 5 and 3, mi 2 and 1, mi_upper 4 and 6 (the second above its kl): the mi
    bracket's upper end is the mean of min(mi_upper, kl) = (4 + 3) / 2 = 3.5, and the
    marginal KL's lower end mirrors it, the mean of max(kl - mi_upper, 0) = (1 + 0) / 2 =
    0.5 (not max(mean(kl - mi_upper), 0) = max((1 - 3) / 2, 0) = 0); its upper end is the
    mean of kl - mi = 2.5."""
    from vae_tfp.report.formatting import bound_texts, mi_status

    runs = pd.DataFrame(
        {"kl": [5.0, 3.0], "mi": [2.0, 1.0], "mi_upper": [4.0, 6.0], "n_test": [1000, 1000]}
    ).assign(
        marginal_kl=lambda f: f["kl"] - f["mi"],
        marginal_kl_lower=lambda f: f["kl"] - f["mi_upper"],
    )
    status = mi_status(runs)
    assert status.bound and status.mi_upper == pytest.approx(3.5)
    assert status.marginal_kl_lower == pytest.approx(0.5)
    assert bound_texts(status) == {"mi": "[1.50, 3.50]", "marginal_kl": "[0.50, 2.50]"}
