"""Interim tables: the runs of a grid evaluated so far, captioned with those still missing,
ordered and captioned as the workflow's tables (one reading of the config's report)."""

import pandas as pd
import pytest
from fake_runs import fake_run

from vae_tfp.report.aggregate import write_all_tables
from vae_tfp.report.interim import write_interim_tables
from vae_tfp.report.options import table_options
from vae_tfp.report.tables import write_dataset_table


def _config():
    """Four runs of digits x mlp; the baseline (vanilla) is listed after beta_0.5."""
    return {
        "experiment": "t",
        "seeds": [0, 1],
        "datasets": {"digits": {}},
        "decoders": {"mlp": {"type": "mlp"}},
        "methods": {"beta_0.5": {"method": "beta"}, "vanilla": {"method": "vanilla"}},
        "grid": [{"datasets": ["digits"], "decoders": ["mlp"], "methods": ["beta_0.5", "vanilla"]}],
        "protocol_differences": {"digits": ["Fewer epochs."]},
    }


def _table_lines(path):
    """The Markdown table rows of a table file (its caption left out)."""
    return [line for line in path.read_text().splitlines() if line.startswith("|")]


def test_table_options_put_the_baseline_first_and_keep_the_config_order():
    config = _config()
    config["report"] = {"informative_mi": 0.05, "published_conventions": True}
    options = table_options(config)
    assert options.order == {
        "dataset": ["digits"],
        "decoder": ["mlp"],
        "method": ["vanilla", "beta_0.5"],
    }
    assert options.baseline == "vanilla" and options.informative_mi == 0.05
    assert options.published_conventions and options.code_versions == "mark"
    assert options.protocol_differences == {"digits": ["Fewer epochs."]}
    assert table_options({**_config(), "report": {"baseline": "beta_0.5"}}).order["method"] == [
        "beta_0.5",
        "vanilla",
    ]


def test_interim_tables_hold_the_evaluated_runs_and_name_the_missing_ones(tmp_path):
    results = tmp_path / "results" / "t"
    fake_run(results / "runs", "vanilla", 0, -20.0)
    fake_run(results / "runs", "beta_0.5", 1, -21.0)
    # A run still training has a folder but no metrics.json: not in the table.
    (results / "runs" / "digits" / "mlp" / "vanilla" / "seed1").mkdir(parents=True)

    write_interim_tables(results, _config())

    interim = results / "tables" / "interim"
    expected = (
        "Interim table: 2 of the grid's 4 runs evaluated; not evaluated yet: "
        "mlp × beta_0.5 seed 0, mlp × vanilla seed 1. "
    )
    for path in (interim / "summary.md", interim / "datasets" / "digits.md"):
        assert path.read_text().startswith(expected), path
    tex = (interim / "datasets" / "digits.tex").read_text()
    assert r"\caption{Interim table: 2 of the grid's 4 runs evaluated" in tex
    assert "Fewer epochs" in (interim / "datasets" / "digits.md").read_text()
    rows = _table_lines(interim / "datasets" / "digits.md")[2:]
    assert [row.split("|")[2].strip() for row in rows] == ["vanilla", "beta_0.5"]
    assert all("(n = 1)" in row for row in rows)
    assert not (results / "tables" / "summary.md").exists()  # the workflow's tables untouched


def test_a_complete_grid_gives_the_workflows_tables_without_a_note(tmp_path):
    results = tmp_path / "results" / "t"
    paths = [
        fake_run(results / "runs", method, seed, -20.0 - seed - len(method))
        for method in ("beta_0.5", "vanilla")
        for seed in (0, 1)
    ]
    write_interim_tables(results, _config())

    options = table_options(_config())
    workflow = tmp_path / "workflow"
    write_all_tables(paths, workflow, options.order, options.baseline)
    frame = pd.read_csv(workflow / "summary.csv")
    write_dataset_table(frame, "digits", workflow, False, ["Fewer epochs."])
    interim = results / "tables" / "interim"
    assert (interim / "summary.md").read_text() == (workflow / "summary.md").read_text()
    assert (interim / "datasets" / "digits.md").read_text() == (workflow / "digits.md").read_text()


def test_no_evaluated_run_is_refused_with_where_to_look(tmp_path):
    results = tmp_path / "results" / "t"
    with pytest.raises(
        ValueError, match=r"none of the 4 runs of experiment t has a metrics.json under .*status"
    ):
        write_interim_tables(results, _config())
