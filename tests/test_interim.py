"""Interim tables: the runs of a grid evaluated so far, captioned with those still missing
or stale, ordered and captioned as the workflow's tables (one reading of the config's
report section)."""

import json
import os

import pandas as pd
import pytest
from fake_runs import fake_run

from vae_tfp.config import RunKey, resolve_run_config
from vae_tfp.report.aggregate import write_all_tables
from vae_tfp.report.interim import write_interim_tables
from vae_tfp.report.options import table_options
from vae_tfp.report.tables import write_dataset_table


def _config():
    """Four digits runs (the baseline, vanilla, listed after beta_0.5) and one
    linear_gaussian run."""
    return {
        "experiment": "t",
        "data_seed": 0,
        "seeds": [0, 1],
        "datasets": {"digits": {}, "linear_gaussian": {}},
        "decoders": {"mlp": {"type": "mlp", "hidden_units": [16]}},
        "methods": {"beta_0.5": {"method": "beta", "beta": 0.5}, "vanilla": {"method": "vanilla"}},
        "grid": [
            {"datasets": ["digits"], "decoders": ["mlp"], "methods": ["beta_0.5", "vanilla"]},
            {
                "datasets": ["linear_gaussian"],
                "decoders": ["mlp"],
                "methods": ["vanilla"],
                "seeds": [0],
            },
        ],
        "model": {"latent_dim": 2},
        "training": {"epochs": 2},
        "evaluation": {"iw_samples": 5},
        "protocol_differences": {"digits": ["Fewer epochs."]},
    }


def _evaluate(results, config, method, seed, elbo, dataset="digits"):
    """A run's metrics.json as evaluation writes it for ``config``: its run config included."""
    path = fake_run(results / "runs", method, seed, elbo, dataset=dataset)
    payload = json.loads(path.read_text())
    payload["config"] = resolve_run_config(config, RunKey(dataset, "mlp", method, seed))
    path.write_text(json.dumps(payload))
    return path


def _table_methods(path):
    """The method column of a Markdown table file's body rows."""
    rows = [line for line in path.read_text().splitlines() if line.startswith("|")][2:]
    return [row.split("|")[2].strip() for row in rows]


def test_table_options_put_the_baseline_first_and_keep_the_config_order():
    config = _config()
    config["report"] = {"informative_mi": 1, "published_conventions": True}
    options = table_options(config)
    assert options.order == {
        "dataset": ["digits", "linear_gaussian"],
        "decoder": ["mlp"],
        "method": ["vanilla", "beta_0.5"],
    }
    assert options.baseline == "vanilla" and options.published_conventions
    assert repr(options.informative_mi) == "1"  # as written: the rule's params stay the same
    assert options.code_versions == "mark"
    assert options.protocol_differences == {"digits": ["Fewer epochs."]}
    config["report"] = {"baseline": "beta_0.5"}
    assert table_options(config).order["method"] == ["beta_0.5", "vanilla"]


def test_interim_tables_hold_the_evaluated_runs_and_name_the_missing_ones(tmp_path):
    config = _config()
    results = tmp_path / "results" / "t"
    _evaluate(results, config, "vanilla", 0, -20.0)
    _evaluate(results, config, "beta_0.5", 1, -21.0)
    (results / "runs" / "digits" / "mlp" / "vanilla" / "seed1").mkdir()  # training
    fake_run(results / "runs", "beta_4", 0, -19.0)  # a run outside the grid: never read
    old = results / "tables" / "interim" / "datasets" / "linear_gaussian.md"
    old.parent.mkdir(parents=True)
    old.write_text("an interim table of runs since deleted")

    write_interim_tables(results, config)

    interim = results / "tables" / "interim"
    digits = (
        "Interim table: 2 of the grid's 4 runs evaluated; not evaluated yet: "
        "digits × mlp × beta_0.5 seed 0, digits × mlp × vanilla seed 1. "
    )
    for suffix in (".md", ".html"):
        assert (
            digits.rstrip(". ") in (interim / "datasets" / "digits").with_suffix(suffix).read_text()
        )
    tex = (interim / "datasets" / "digits.tex").read_text()
    assert r"\caption{Interim table: 2 of the grid's 4 runs evaluated" in tex
    assert "Fewer epochs" in (interim / "datasets" / "digits.md").read_text()
    summary = (interim / "summary.md").read_text()
    assert summary.startswith("Interim table: 2 of the grid's 5 runs evaluated; not evaluated")
    assert "linear_gaussian × mlp × vanilla seed 0" in summary
    assert not old.exists()  # a dataset with no evaluated run has no table
    assert _table_methods(interim / "datasets" / "digits.md") == ["vanilla", "beta_0.5"]
    assert "(n = 1)" in (interim / "datasets" / "digits.md").read_text()
    assert len(pd.read_csv(interim / "summary.csv")) == 2
    assert not (results / "tables" / "summary.md").exists()  # the workflow's tables untouched


def test_a_run_evaluated_under_another_config_or_retrained_since_is_left_out(tmp_path):
    config = _config()
    results = tmp_path / "results" / "t"
    _evaluate(results, config, "vanilla", 0, -20.0)
    changed = _evaluate(results, config, "vanilla", 1, -20.0)
    payload = json.loads(changed.read_text())
    payload["config"]["training"]["epochs"] = 3
    changed.write_text(json.dumps(payload))
    retrained = _evaluate(results, config, "beta_0.5", 0, -21.0)
    state = retrained.parent / "resume" / "state-e00001-b000000.json"
    state.parent.mkdir()
    state.write_text("{}")
    os.utime(retrained, (state.stat().st_mtime - 10,) * 2)

    write_interim_tables(results, config)

    table = results / "tables" / "interim" / "datasets" / "digits.md"
    assert _table_methods(table) == ["vanilla"]
    assert "(n = 1)" in table.read_text()
    assert (
        "Interim table: 1 of the grid's 4 runs evaluated; not evaluated yet: digits × mlp × "
        "beta_0.5 seed 1; left out, their metrics.json being from another run config or older "
        "than their training: digits × mlp × beta_0.5 seed 0, digits × mlp × vanilla seed 1."
    ) in table.read_text()


def test_a_complete_grid_gives_the_workflows_tables_without_a_note(tmp_path):
    config = _config()
    results = tmp_path / "results" / "t"
    paths = [
        _evaluate(results, config, method, seed, -20.0 - seed - len(method))
        for method in ("beta_0.5", "vanilla")
        for seed in (0, 1)
    ]
    paths.append(_evaluate(results, config, "vanilla", 0, -5.0, dataset="linear_gaussian"))
    write_interim_tables(results, config)

    options = table_options(config)
    workflow = tmp_path / "workflow"
    write_all_tables(paths, workflow, options.order, options.baseline)
    frame = pd.read_csv(workflow / "summary.csv")
    write_dataset_table(frame, "digits", workflow, False, ["Fewer epochs."])
    interim = results / "tables" / "interim"
    assert (interim / "summary.md").read_text() == (workflow / "summary.md").read_text()
    assert (interim / "datasets" / "digits.md").read_text() == (workflow / "digits.md").read_text()


def test_no_evaluated_run_is_refused_with_where_to_look(tmp_path):
    results = tmp_path / "results" / "t"
    with pytest.raises(ValueError, match=r"none of the 5 runs of experiment t has a current"):
        write_interim_tables(results, _config())
