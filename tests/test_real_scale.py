"""The collapse page's real-data case: brackets run by run, never a point."""

import math

import pandas as pd
import pytest

from vae_tfp.report.real_scale import real_scale_table, real_scale_text


def _summary(mi_upper):
    return pd.DataFrame(
        {
            "dataset": ["binarized_mnist"] * 2,
            "decoder": ["mlp"] * 2,
            "method": ["vanilla"] * 2,
            "seed": [0, 1],
            "n_test": [10000, 10000],
            "kl": [25.0, 5.0],
            "mi": [9.2, 4.9],
            "mi_upper": mi_upper,
        }
    )


def test_rows_show_both_brackets_with_the_kl_lower_end_at_zero():
    table = real_scale_table(_summary([40.0, 4.95]))
    assert f"10,000 ({math.log(10000):.2f})" in table
    assert "[9.20, 25.00]" in table and "[0.00, 15.80]" in table  # the rate caps mi_upper 40
    assert "[0.05, 0.10]" in table  # 5 - 4.95 and 5 - 4.9: a narrow bracket
    assert "| 25.00 |" in table  # two decimals, never re-parsed as a number
    assert "rate above log N" in real_scale_text(_summary([40.0, 4.95]), "au_ablation")
    assert "1 of them with a rate above log N" in real_scale_text(
        _summary([40.0, 4.95]), "au_ablation"
    )


def test_runs_without_the_upper_bound_are_refused():
    with pytest.raises(ValueError, match="1 runs have no mi_upper"):
        real_scale_table(_summary([40.0, float("nan")]))
