"""Aggregation: one row per run, mean ± std over seeds, and the three table formats."""

import json

import numpy as np
import pandas as pd
import pytest
from fake_runs import fake_run as _fake_run

from vae_tfp.report import collect_runs, summarize, write_tables


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
    assert table.loc["beta_0.5", "elbo"] == "-21.00 (n = 1)"  # one seed: no ± 0.00
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
    # No mi_upper in these runs: a saturated mi is a lower bound, kl - mi an upper bound.
    assert table.loc["vanilla", "mi"] == "≥ 1.50 † (n = 1)"
    assert table.loc["vanilla", "marginal_kl"] == "≤ 0.50 (n = 1)"
    assert table.loc["beta_0.5", "mi"] == "1.50 (n = 1)"
    assert table.loc["beta_0.5", "marginal_kl"] == "0.50 (n = 1)"
    written = write_tables(frame, tmp_path / "tables")
    assert "† mi within 1 nat of its ceiling log N" in written["md"].read_text()
    assert r"$\ge$ 1.50 $^\dagger$ (n = 1)" in written["tex"].read_text()


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
    from vae_tfp.report.display import latex_escape

    assert latex_escape(text) == latex


def test_wrapping_latex_columns_are_ragged_right_and_the_rest_untouched():
    from vae_tfp.report.display import latex_table

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


def test_a_wide_bracket_is_shown_as_a_bracket_never_a_point(tmp_path):
    """kl 2.0, mi 1.5 in every run. mi_upper 1.55 (width 0.05 <= 0.1 nats): points. mi_upper
    4.0: the rate is the tighter upper bound (I <= kl), so mi shows as [1.50, 2.00] (width 0.5)
    and marginal_kl as [kl - min(mi_upper, kl), kl - mi] = [0.00, 0.50]; N = 1000 is far above
    e^2.5, so no † mark. The caption gives N, log N and the rule."""
    paths = [
        _fake_run(tmp_path / "narrow", "vanilla", s, -20.0 - s, mi_upper=1.55) for s in (0, 1)
    ] + [_fake_run(tmp_path / "wide", "beta_0.5", s, -20.0 - s, mi_upper=4.0) for s in (0, 1)]
    frame = collect_runs(paths)
    table = summarize(frame).set_index("method")
    assert table.loc["vanilla", "mi"] == "1.50 ± 0.00"
    assert table.loc["vanilla", "marginal_kl"] == "0.50 ± 0.00"
    assert table.loc["beta_0.5", "mi"] == "[1.50, 2.00]"
    assert table.loc["beta_0.5", "marginal_kl"] == "[0.00, 0.50]"
    written = write_tables(frame, tmp_path / "tables")
    note = written["md"].read_text().split("\n\n")[0]
    assert "N = 1,000 test examples, log N = 6.91" in note
    assert "wider than 0.1 nats" in note and "each end taken per seed and averaged" in note
    assert "†" not in written["md"].read_text()
    assert "[0.00, 0.50]" in written["tex"].read_text()


def test_ppca_with_rate_far_above_log_n_shows_marginal_kl_as_a_bracket_holding_zero(tmp_path):
    """The exact pPCA posterior with spectrum 20 in 8 dimensions (rate 29.5 nats, N = 300,
    log N = 5.7): the true KL(q(z)||p(z)) is 0. Evaluated for real and aggregated, every
    table shows marginal_kl as a bracket that holds 0 and mi as a bracket marked †."""
    from vae_tfp.data import prepare_dataset
    from vae_tfp.data.linear_gaussian import LinearGaussianModel
    from vae_tfp.evaluation import compute_metrics
    from vae_tfp.models.exact import exact_linear_gaussian_vae
    from vae_tfp.report.tables import dataset_table

    options = {"data_seed": 0, "data_dim": 12, "spectrum": [20.0] * 8, "noise_std": 0.5,
               "n_train": 10, "n_valid": 10, "n_test": 300}  # fmt: skip
    data = prepare_dataset("linear_gaussian", options)
    model = LinearGaussianModel.from_reference(data.reference)
    vae = exact_linear_gaussian_vae(model.weight, model.bias, model.noise_std)
    evaluation = {"iw_samples": 2, "iw_chunk": 2, "batch_size": 300, "au_threshold": 0.01,
                  "mi_samples": 3, "mi_minibatch_size": 100}  # fmt: skip
    paths = []
    for seed in (0, 1):
        result = compute_metrics(vae, data, evaluation, seed=seed)
        path = _fake_run(tmp_path, "vanilla", seed, result["metrics"]["elbo"], n_test=300)
        payload = json.loads(path.read_text())
        payload["metrics"] = {k: v for k, v in result["metrics"].items() if np.isscalar(v)}
        payload["estimators"] = result["estimators"]
        path.write_text(json.dumps(payload))
        paths.append(path)
    frame = collect_runs(paths).assign(dataset_description="pPCA", informative_mi=0.05)
    assert frame["marginal_kl_lower"].mean() < 0.0 < frame["marginal_kl_upper"].mean()
    summary = summarize(frame).iloc[0]
    display = dataset_table(frame)[0].iloc[0]
    for cells in (summary, display):
        low, high = map(float, cells["marginal_kl"].strip("[]").split(", "))
        assert low == 0.0 < 20.0 < high  # kl - mi ~ 29.5 - log 300 = 23.8; truth 0 inside
        assert cells["mi"].startswith("[5.70, ") and cells["mi"].endswith("†")


def _run_with_units(root, dataset, method, n_test, refined=False):
    """A metrics.json with per-dimension MI and AU variances: dimension 0 carries 0.03
    nats, dimension 1 0.2. Refined (SA-VAE): the refined means put dimension 1 exactly at
    the AU threshold (counted by He et al. 2019's >=, not by Burda et al.'s >), the encoder's
    own means below it, and the file holds the count an older evaluation wrote on the
    encoder's means."""
    path = _fake_run(root / dataset, method, 0, -20.0, n_test=n_test)
    payload = json.loads(path.read_text())
    payload["run"]["dataset"] = dataset
    payload["metrics"].update(
        mi_per_dim=[0.03, 0.2],
        au_variances=[0.5, 0.3],
        mi_minibatch=1.2,
    )
    payload["estimators"].update(au_threshold=0.01, mi_samples=10, mi_minibatch_size=128)
    if refined:  # SA-VAE: au and au_he2019 on the refined means
        payload["metrics"].update(
            au_variances=[0.5, 0.01], au_encoder_variances=[0.5, 0.001], au_he2019=1
        )
        payload["estimators"]["posterior"] = "SVI steps"
    path.write_text(json.dumps(payload))
    return path


def test_informative_threshold_follows_each_runs_n(tmp_path):
    """The same per-dimension MI is informative at N = 2,000 (threshold 0.010 nats) and not
    at N = 359 (0.056), unless the config fixes the threshold; each row records its own."""
    from vae_tfp.report.collapse import informative_threshold

    paths = [
        _run_with_units(tmp_path, "digits", "vanilla", 359),
        _run_with_units(tmp_path, "linear_gaussian", "vanilla", 2000),
    ]
    frame = collect_runs(paths).set_index("dataset")
    assert frame.loc["digits", "informative_mi"] == informative_threshold(359, 10)
    assert frame.loc["linear_gaussian", "informative_mi"] == informative_threshold(2000, 10)
    assert frame.loc["digits", "informative_units"] == 1
    assert frame.loc["linear_gaussian", "informative_units"] == 2
    assert not frame["informative_mi_fixed"].any()
    fixed = collect_runs(paths, informative_mi=0.1).set_index("dataset")
    assert list(fixed["informative_units"]) == [1, 1] and fixed["informative_mi_fixed"].all()


def test_published_conventions_in_the_dataset_table_on_request(tmp_path):
    """au_he2019 (>= on the means of the posterior the model uses) and mi_minibatch with its
    batch size appear in the per-dataset table only when asked; the caption names both
    estimators, N and B."""
    from vae_tfp.report.tables import write_dataset_table

    paths = [
        _run_with_units(tmp_path, "digits", "vanilla", 359),
        _run_with_units(tmp_path, "digits", "sa_vae", 359, refined=True),
    ]
    frame = collect_runs(paths).set_index("method")
    # Without a refinement He et al.'s count reads au_variances with >=: both dimensions.
    assert frame.loc["vanilla", "au_he2019"] == 2
    # SA-VAE: au_he2019 counts the refined means with >= (0.01 counted), as He et al.'s
    # SA-VAE scripts do, whatever an older file recorded from the encoder's means.
    assert frame.loc["sa_vae", "au_he2019"] == 2
    assert frame.loc["sa_vae", "mi_minibatch_size"] == 128
    frame = frame.reset_index()
    plain, published = tmp_path / "plain", tmp_path / "published"
    plain.mkdir()
    published.mkdir()
    write_dataset_table(frame, "digits", plain)
    table = (plain / "digits.md").read_text()
    assert "au_he2019" not in table and "mi_minibatch" not in table
    assert "I(x; z_i) > T = 2 / (N S r²)" in table and "T = 0.0557 nats here" in table
    write_dataset_table(frame, "digits", published, published=True)
    table = (published / "digits.md").read_text()
    header = next(line for line in table.splitlines() if line.startswith("| decoder"))
    columns = [c.strip() for c in header.strip("|").split("|")]
    assert columns.index("au_he2019") == columns.index("au") + 1
    assert columns.index("mi_minibatch") == columns.index("mi") + 1
    assert "B = 128 examples" in table and "log B = 4.85" in table
    assert "≥ 0.01 (their code's calc_au), where au counts >; both on the posterior" in table
    assert "N = 359 test examples" in table
    numbers = pd.read_csv(published / "digits.csv")
    assert list(numbers["au_he2019_mean"]) == [2.0, 2.0]
    assert list(numbers["mi_minibatch_mean"]) == [1.2, 1.2]


def test_protocol_differences_end_the_dataset_caption_and_fill_a_landing_page_section(tmp_path):
    """A config's protocol_differences for a dataset are printed, numbered, at the end of
    its table's caption, and all of them on the report's landing page."""
    from vae_tfp.cli import main
    from vae_tfp.report.tables import write_dataset_table

    paths = [_run_with_units(tmp_path, "digits", "vanilla", 359)]
    frame = collect_runs(paths)
    differences = ["Batches padded to the longest sentence.", "Keras initialisation"]
    write_dataset_table(frame, "digits", tmp_path, protocol_differences=differences)
    caption = (tmp_path / "digits.md").read_text()
    assert (
        "Protocol differences from the published configuration: (1) Batches padded to the "
        "longest sentence; (2) Keras initialisation." in caption
    )
    (tmp_path / "none").mkdir()
    write_dataset_table(frame, "digits", tmp_path / "none")
    assert "Protocol differences" not in (tmp_path / "none" / "digits.md").read_text()
    summary = tmp_path / "summary.csv"
    frame.to_csv(summary, index=False)
    template = tmp_path / "workflow.rst"
    template.write_text("The report.\n")
    page = tmp_path / "landing.rst"
    arguments = ["landing-page", "--summary", str(summary), "--template", str(template)]
    assert main([*arguments, "--output", str(page), "--protocol-differences-json",
                 json.dumps({"digits": differences})]) in (0, None)  # fmt: skip
    text = page.read_text()
    assert "Protocol differences\n--------------------" in text
    assert "- **digits**: Keras initialisation" in text


def test_the_side_by_side_table_of_the_methods_page_lists_each_seed(tmp_path):
    import importlib.util

    spec = importlib.util.spec_from_file_location("sbs", "tools/methods_side_by_side.py")
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    paths = [
        _fake_run(tmp_path, "vanilla", 1, -22.0),
        _fake_run(tmp_path, "vanilla", 0, -20.0),
        _fake_run(tmp_path, "beta_0.5", 0, -21.0),
    ]
    frame = collect_runs(paths)
    frame["au"] = np.where(frame["seed"] == 0, 3, 1)
    frame["collapse_verdict"] = np.where(frame["seed"] == 0, "uncollapsed", "partial")
    text = tool.side_by_side(frame, "digits", "mlp")
    rows = {line.split("|")[1].strip(): line for line in text.splitlines() if "| `" in line}
    assert "3, 1" in rows["`vanilla`"] and "uncollapsed, partial" in rows["`vanilla`"]
    assert "| 20.00 ± 1.41 " in rows["`vanilla`"]  # nll_iw of seeds 0 and 1: 19, 21
    header = next(line for line in text.splitlines() if line.startswith("| method"))
    assert "nll_iw" in header and "elbo" not in header
    assert "nats per example" in text.lower()  # the dataset table's caption
    with pytest.raises(ValueError, match="no runs of digits × lstm"):
        tool.side_by_side(frame, "digits", "lstm")
