"""The ablation table: the options the cells differ in come from the runs' configs, and the
validation AU at the chosen epochs from each run's history.csv."""

import json

import pandas as pd
import pytest

from vae_tfp.report.ablation import ablation_frame, differing_options, write_ablation_table


def _run(root, decoder, method, seed, decoder_options, method_options, valid_au, au):
    run_dir = root / decoder / method / f"seed{seed}"
    run_dir.mkdir(parents=True)
    config = {
        "decoder": decoder,
        "method": method,
        "seed": seed,
        "decoder_options": {"type": "mlp", "hidden_units": [8], **decoder_options},
        "method_options": {"method": "vanilla", **method_options},
        "evaluation": {"iw_samples": 500},
    }
    metrics = {"au": au, "nll_iw": 90.0 + seed, "kl": 25.0, "mi": 9.2}  # mi: not shown
    training = {"best_epoch": len(valid_au)}  # the last epoch's weights
    payload = {"config": config, "metrics": metrics, "training": training}
    (run_dir / "metrics.json").write_text(json.dumps(payload))
    history = pd.DataFrame({"epoch": range(1, len(valid_au) + 1), "valid_au": valid_au})
    history.to_csv(run_dir / "history.csv", index=False)
    return run_dir / "metrics.json"


def test_rows_show_differing_options_and_the_au_at_each_epoch(tmp_path):
    paths = [
        _run(tmp_path, "zero", "analytic", 0, {"output_bias": "zero"}, {}, [30, 20, 16, 15], 15),
        _run(tmp_path, "mean", "sampled", 1, {"output_bias": "data_mean"},
             {"kl_estimator": "sampled"}, [31, 25, 19], 19),
    ]  # fmt: skip
    frame = ablation_frame(paths, epochs=[1, 3, 4])
    assert list(frame["output_bias"]) == ["zero", "data_mean"]
    assert list(frame["kl_estimator"]) == ["(default)", "sampled"]  # absent: the default
    assert "hidden_units" not in frame and "type" not in frame  # the same in every cell
    assert list(frame["valid au @3"]) == [16, 19]
    assert frame["valid au @4"].iloc[0] == 15 and pd.isna(frame["valid au @4"].iloc[1])
    assert list(frame["epochs"]) == [4, 3] and list(frame["test au"]) == [15, 19]
    assert list(frame["cell"]) == ["zero × analytic", "mean × sampled"]
    written = write_ablation_table(paths, [1, 3, 4], tmp_path / "tables")
    text = written[1].read_text()
    assert "| zero × analytic" in text and "no mean ± std over the cells' 1 seed)" in text
    assert list(frame["evaluated epoch"]) == [4, 3]
    assert pd.read_csv(written[0])["test nll_iw"].tolist() == [90.0, 91.0]


def test_no_option_differs_in_identical_cells():
    config = {"decoder_options": {"type": "mlp"}, "method_options": {"method": "vanilla"}}
    assert differing_options([config, config]) == []


def test_embedding_replaces_only_the_named_block():
    import importlib.util

    spec = importlib.util.spec_from_file_location("embed", "tools/embed_generated.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    page = "a\n<!-- generated: t -->\nold\n<!-- end generated: t -->\nb\n"
    assert module.embed(page, "t", "| new |\n") == (
        "a\n<!-- generated: t -->\n| new |\n<!-- end generated: t -->\nb\n"
    )
    with pytest.raises(ValueError, match="no block <!-- generated: other -->"):
        module.embed(page, "other", "x")


def test_an_excerpt_keeps_the_matching_rows_without_the_dropped_columns():
    import importlib.util

    spec = importlib.util.spec_from_file_location("embed", "tools/embed_generated.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    table = (
        "| row   | ours | source |\n|:--|:--|:--|\n| a-1   | 1.0  | p. 3   |\n"
        "| b-1   | 2.0  | p. 4   |\n| a-2   | 3.0  | p. 5   |\n\nThe caption.\n"
    )
    excerpt = module.table_excerpt(table, "^a-", ["source"])
    assert excerpt == "| row | ours |\n|:--|:--|\n| a-1 | 1.0 |\n| a-2 | 3.0 |"
    with pytest.raises(ValueError, match="no column \\['hours'\\]"):
        module.table_excerpt(table, "^a-", ["hours"])
    with pytest.raises(ValueError, match="no row's first cell matches"):
        module.table_excerpt(table, "^c-", [])


def test_the_cli_takes_epochs_before_the_run_files(tmp_path):
    from vae_tfp.cli import main

    paths = [_run(tmp_path, "zero", "analytic", 0, {}, {}, [30, 20], 15)]
    main(["ablation", "--output-dir", str(tmp_path / "t"), "--epochs", "1,2", *map(str, paths)])
    assert list(pd.read_csv(tmp_path / "t" / "ablation.csv")["valid au @2"]) == [20]


def test_the_log_n_capped_mi_is_not_printed_as_a_value(tmp_path):
    paths = [_run(tmp_path, "zero", "analytic", 0, {}, {}, [30], 15)]
    frame = ablation_frame(paths, epochs=[1])
    assert not [column for column in frame if "mi" in column.split()]
