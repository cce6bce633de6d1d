"""docs/posterior-collapse.md is generated: its numbers are the tables' numbers."""

import json

import numpy as np
import pandas as pd
import pytest

from vae_tfp.report.collapse import informative_threshold
from vae_tfp.report.collapse_ceiling import ceiling_case
from vae_tfp.report.collapse_page import FIGURES, LSTM, PIXELCNN, PPCA, write_page
from vae_tfp.report.estimator_noise import synthetic_noise

CELLS = {
    PPCA: {"elbo": -8.51, "exact_nll": 8.44, "kl": 2.55, "mi": 2.53, "marginal_kl": 0.02,
           "au": 3.0, "exact_active_units": 3.0, "informative_units": 3.0, "nll_iw": 8.46},
    PIXELCNN: {"elbo": -17.37, "nll_iw": 17.31, "kl": 0.02, "mi": 0.02, "informative_units": 0.0},
    ("digits", "pixelcnn", "fb_0.5"): {"elbo": -18.55, "nll_iw": 17.27, "mi": 3.07,
                                       "informative_units": 8.0, "mi_upper": 3.57},
    ("digits", "mlp", "vanilla"): {"mi": 3.62},
    LSTM: {"component_information": 1.17, "mi": 0.01, "nll_iw": 11.53, "exact_nll": 10.71},
    ("markov_mixture", "lstm", "fb_0.5"): {"mi": 1.96, "nll_iw": 11.58},
}  # fmt: skip


# Test-set sizes of the embedded default's datasets.
N_TEST = {"digits": 359, "linear_gaussian": 2000, "markov_mixture": 1000}


def _results(root, fixed=None):
    """Fake run folders and summary.csv; each row's informative threshold is its dataset's
    2 / (N S r^2) (S = 10), or ``fixed``."""
    rows = []
    for (dataset, decoder, method), metrics in CELLS.items():
        for seed, shift in enumerate((-0.01, 0.01)):
            shifted = {key: value + shift for key, value in metrics.items()}
            cell = {"dataset": dataset, "decoder": decoder, "method": method, "seed": seed}
            threshold = fixed or informative_threshold(N_TEST[dataset], 10)
            setting = {"n_test": N_TEST[dataset], "mi_samples": 10}
            rows.append({**cell, **setting, "informative_mi": threshold, **shifted})
            rows[-1]["informative_mi_fixed"] = fixed is not None
            run = root / "runs" / dataset / decoder / method / f"seed{seed}"
            run.mkdir(parents=True)
            rng = np.random.default_rng(seed)
            loc = rng.standard_normal((30, 2)) * np.array([1.0, 0.0])
            log_var = np.full_like(loc, -1.0)
            np.savez(run / "samples.npz", posterior_loc=loc, posterior_log_var=log_var)
            kl = 0.05 if method == "vanilla" and decoder != "mlp" else 1.0
            (run / "metrics.json").write_text(
                json.dumps({"metrics": {"kl": kl, "mi_per_dim": [0.3, 0.002]}})
            )
    (root / "tables").mkdir(parents=True)
    pd.DataFrame(rows).to_csv(root / "tables" / "summary.csv", index=False)
    for dataset, decoder, stem in FIGURES:
        folder = root / "figures" / dataset / (decoder or "")
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{stem}.png").write_bytes(b"png")


def test_page_quotes_the_tables_and_the_measured_noise(tmp_path):
    results = tmp_path / "results" / "embedded"
    _results(results)
    written = write_page(results, tmp_path / "docs" / "page.md", synthetic_n=40)
    text = " ".join(written.split())  # the page wraps its lines
    # Means over the two seeds (shifts cancel), formatted as the page prints them.
    assert "the VAE's −ELBO is 8.51, a gap of 0.07 nats" in text
    assert "rate of 0.02 nats" in text and "hold 1.17 nats" in text
    assert "−ELBO − nll_iw = 0.06 nats" in text
    # Collapsed runs (kl < 0.1): the 3 vanilla cells off the mlp x 2 seeds x 2 dimensions.
    assert "(12 dimensions), the largest per-dimension estimate is 0.3000 nats" in text
    # The threshold follows each dataset's N; the collapsed runs' 0.3 nats exceed it.
    assert "T = 2 / (N S r²), r = 10%" in text
    assert "digits **0.0557 nats** (N = 359)" in text
    assert "linear_gaussian **0.01 nats** (N = 2,000)" in text
    assert "markov_mixture: 0.3000 against T = 0.02, above it" in text
    fixed = tmp_path / "fixed" / "results" / "embedded"
    _results(fixed, fixed=0.05)
    text = " ".join(write_page(fixed, tmp_path / "fixed" / "page.md", synthetic_n=40).split())
    assert "T, here fixed by the config's `report.informative_mi`:" in text
    assert "digits **0.05 nats** (N = 359)" in text
    assert "r = 10%" not in text
    at = {row["true_mi"]: row for row in synthetic_noise(40)}
    assert f"{at[0.05]['mean']:.4f} ± {at[0.05]['std']:.4f} at 0.05 nats" in text
    assert (tmp_path / "docs" / "figures" / "digits_pixelcnn_mi_per_dim.png").read_bytes() == b"png"
    assert (tmp_path / "docs" / "page.md").read_text() == written


def test_page_shows_bounds_as_brackets_and_the_case_above_log_n(tmp_path):
    """fb_0.5's bracket [mi, mi_upper] = [3.07, 3.57] is wider than 0.1 nats: the page
    quotes the bracket, not 3.07 alone; pPCA's runs have no mi_upper and mi far below log N:
    a point. The pPCA case above log N is computed: mi = log 1000, the marginal KL bracket
    holds the true 0."""
    results = tmp_path / "results" / "embedded"
    _results(results)
    written = write_page(results, tmp_path / "docs" / "page.md", synthetic_n=40)
    text = " ".join(written.split())
    assert "keep between 3.07 and 3.57 nats of information in z" in text
    assert "of which 2.53 is information and 0.02 is marginal KL" in text
    case = ceiling_case()
    assert case["mi"] == pytest.approx(np.log(1000), abs=1e-3)
    assert case["marginal_kl_lower"] < 0.0 < 20.0 < case["marginal_kl_upper"]
    assert f"`mi` is {case['mi']:.2f}, log N itself" in text
    assert f"[{case['marginal_kl_lower']:.2f}, {case['marginal_kl_upper']:.2f}]" in text
