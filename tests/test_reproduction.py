"""The reproduction table: computed from runs and published rows, never typed."""

import math

import pandas as pd
import pytest
import yaml

from vae_tfp.report.reproduction import (
    load_published,
    reproduction_table,
    row_tolerance,
    write_reproduction_tables,
)

ROW = {
    "dataset": "binarized_mnist",
    "dataset_version": "fixed binarization",
    "metric": "nll_iw",
    "estimator": {"iw_samples": 5000},
    "value": 88.71,
    "std": None,
    "tolerance": None,
    "source": {"citation": "Burda et al. 2016", "location": "Table 3"},
}


def _summary(values, method="vanilla", k=5000):
    return pd.DataFrame(
        {
            "dataset": "binarized_mnist",
            "decoder": "burda_mlp",
            "method": method,
            "seed": range(len(values)),
            "nll_iw": values,
            "au": [19] * len(values),
            "iw_samples": k,
            "run_dir": [f"runs/seed{i}" for i in range(len(values))],
            "wall_time_s": [3600.0 * (4 + i) for i in range(len(values))],
        }
    )


ENTRY = {"row": "r", "dataset": "binarized_mnist", "decoder": "burda_mlp", "method": "vanilla"}


@pytest.mark.parametrize(
    ("values", "within", "difference"),
    [([89.0, 89.6], True, 0.59), ([90.0, 89.8], False, 1.19), ([87.6, 87.8], False, -1.01)],
)
def test_within_tolerance_is_computed_from_the_runs(values, within, difference):
    table = reproduction_table(_summary(values), {"r": ROW}, [ENTRY])
    row = table.iloc[0]
    assert row["n"] == 2 and row["K"] == "5000"
    assert row["ours_mean"] == pytest.approx(sum(values) / 2)
    assert row["ours_std"] == pytest.approx(pd.Series(values).std(ddof=1))
    assert row["difference"] == pytest.approx(difference)
    assert bool(row["within"]) is within and row["tolerance"] == 1.0
    assert row["runs"] == "runs/seed0;runs/seed1" and row["wall_time_h"] == "4.00;5.00"


def test_tolerance_is_the_rows_own_else_the_published_std_else_one_nat():
    assert row_tolerance({**ROW, "tolerance": 0.3, "std": 0.5}) == 0.3
    assert row_tolerance({**ROW, "std": 0.5}) == 0.5
    assert row_tolerance(ROW) == 1.0
    table = reproduction_table(_summary([89.0, 89.1]), {"r": {**ROW, "std": 0.2}}, [ENTRY])
    assert not table.iloc[0]["within"]  # 0.34 from the published value, std 0.2


def test_rows_without_finished_runs_say_so(tmp_path):
    table = reproduction_table(_summary([88.0], method="other"), {"r": ROW}, [ENTRY])
    assert table.iloc[0]["n"] == 0 and table.iloc[0]["within"] is None
    assert math.isnan(table.iloc[0]["ours_mean"])
    paths = write_reproduction_tables(table, tmp_path)
    assert "not reached (no finished run)" in paths["md"].read_text()


def test_unknown_published_row_is_named():
    with pytest.raises(KeyError, match="published row 'nope'; the file holds"):
        reproduction_table(_summary([88.0]), {"r": ROW}, [{**ENTRY, "row": "nope"}])


def test_tables_in_three_formats(tmp_path):
    table = reproduction_table(_summary([89.0, 89.5]), {"r": ROW}, [ENTRY])
    paths = write_reproduction_tables(table, tmp_path)
    markdown = paths["md"].read_text()
    assert "89.25 ± 0.35 (n=2)" in markdown and "+0.54" in markdown and "yes (±1)" in markdown
    assert "| 4.00, 5.00 " in markdown and "hours per seed" in markdown
    assert r"89.25 $\pm$ 0.35" in paths["tex"].read_text()
    assert pd.read_csv(paths["csv"])["within"].tolist() == [True]


def test_a_single_seed_shows_no_spread_as_every_table_does(tmp_path):
    table = reproduction_table(_summary([89.0]), {"r": ROW}, [ENTRY])
    markdown = write_reproduction_tables(table, tmp_path)["md"].read_text()
    assert "| 89.00 (n = 1) " in markdown and "89.00 ±" not in markdown


def test_the_shipped_published_file_has_sources_and_numbers():
    rows = load_published("config/published.yaml")
    assert rows and all(r["source"]["citation"] and r["source"]["location"] for r in rows.values())
    reproduce = yaml.safe_load(open("config/reproduce.yaml"))["reproduce"]
    assert {entry["row"] for entry in reproduce} <= set(rows)


def test_a_row_without_a_field_is_rejected(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text(
        yaml.safe_dump({"rows": {"bad": {k: v for k, v in ROW.items() if k != "source"}}})
    )
    with pytest.raises(ValueError, match=r"published row 'bad' .* lacks \['source'\]"):
        load_published(path)


def test_no_verdict_when_k_differs_from_the_published_one(tmp_path):
    table = reproduction_table(_summary([88.7, 88.8], k=50), {"r": ROW}, [ENTRY])
    assert table.iloc[0]["within"] is None and table.iloc[0]["K"] == "50"
    markdown = write_reproduction_tables(table, tmp_path)["md"].read_text()
    assert "– (published K = 5000)" in markdown


def test_an_unconfirmed_value_and_a_protocol_not_run_stay_in_the_table_with_their_reasons(
    tmp_path,
):
    """A row with no confirmed number gets no verdict even when runs exist; an entry not run
    shows its reason in place of our number; both reasons reach every format."""
    unconfirmed = {**ROW, "value": None, "unconfirmed": "table not readable"}
    not_run = {"row": "u", "not_run": "36 h per seed on the CPU"}
    entries = [ENTRY, {**ENTRY, "row": "u"}, not_run]
    table = reproduction_table(_summary([88.7, 88.8]), {"r": ROW, "u": unconfirmed}, entries)
    assert table["within"].tolist() == [True, None, None]
    assert table["n"].tolist() == [2, 2, 0]
    assert math.isnan(table.iloc[1]["difference"]) and table.iloc[2]["runs"] == ""
    paths = write_reproduction_tables(table, tmp_path)
    markdown = paths["md"].read_text()
    assert markdown.count("none confirmed: table not readable") == 2
    assert "not run: 36 h per seed on the CPU" in markdown
    assert "88.75 ± 0.07 (n=2)" in markdown and "published K" not in markdown
    assert "not run: 36 h per seed" in paths["tex"].read_text()


def test_a_null_value_needs_its_reason(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump({"rows": {"bad": {**ROW, "value": None}}}))
    with pytest.raises(ValueError, match="value is null, so 'unconfirmed' must say why"):
        load_published(path)
