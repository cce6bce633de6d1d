"""Figures from tiny fake run folders: the files exist, and each figure's data is the data.

Two methods x two seeds on digits x mlp (latent_dim 3, 4-5 epochs of history, 8x8 image
samples), plus a second decoder for the rate–distortion plane. Every number a figure
returns is checked against a value computed here from the inputs.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from vae_tfp.cli import main
from vae_tfp.cli.figures import FIGURES_HELP, RATE_DISTORTION_HELP
from vae_tfp.report import collect_runs
from vae_tfp.report.figures import (
    DATASET_DECODER_FIGURES,
    DATASET_FIGURES,
    FORMATS,
    IMAGE_FIGURES,
    curve_statistics,
    image_figure_stems,
    image_grids,
    method_image_grids,
    per_dimension_heatmaps,
    rate_distortion,
    training_curves,
)

METHODS = ["vanilla", "fb_0.5"]
LATENT_DIM = 3
# Epochs per (method, seed): fb_0.5 seed 1 stopped early.
EPOCHS = {("vanilla", 0): 5, ("vanilla", 1): 5, ("fb_0.5", 0): 5, ("fb_0.5", 1): 4}


def _kl_per_dim(decoder: str, method: str, seed: int) -> np.ndarray:
    base = {"vanilla": [0.0, 0.5, 2.0], "fb_0.5": [0.6, 0.8, 1.5]}[method]
    return np.array(base) + 0.25 * seed + (1.0 if decoder == "made" else 0.0)


def _history(method: str, seed: int) -> pd.DataFrame:
    epochs = np.arange(1, EPOCHS[(method, seed)] + 1)
    offset = 0.0 if method == "vanilla" else 3.0
    return pd.DataFrame(
        {
            "epoch": epochs,
            "loss": 50.0 / epochs,
            "elbo": -50.0 / epochs,
            "kl": offset + epochs * (1.0 + seed),
            "valid_mi": offset + 0.1 * epochs + seed,
            "valid_au": np.minimum(epochs + seed, LATENT_DIM),
        }
    )


def _samples(n: int = 4, m: int = 6, flat: bool = True, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    originals = (rng.random((n, 8, 8)) > 0.5).astype(np.float32)
    reconstructions = rng.random((n, 8, 8)).astype(np.float32)
    prior = rng.random((m, 8, 8)).astype(np.float32)
    shape = (-1, 64) if flat else (-1, 8, 8, 1)  # event shapes [H*W] and [H, W, 1]
    return {
        "kind": np.array("binary"),
        "originals": originals.reshape(shape),
        "reconstructions": reconstructions.reshape(shape),
        "prior_samples": prior.reshape(shape),
        "image_shape": np.array([8, 8]),
        "reconstruction_kind": np.array("mean"),
    }


def _fake_run(root: Path, decoder: str, method: str, seed: int, samples: dict | None) -> Path:
    run_dir = root / "runs" / "digits" / decoder / method / f"seed{seed}"
    run_dir.mkdir(parents=True)
    kl_per_dim = _kl_per_dim(decoder, method, seed)
    mi_per_dim = 0.8 * kl_per_dim
    kl = float(kl_per_dim.sum())
    rec = -(20.0 + 2.0 * seed - kl / 2 + (3.0 if decoder == "made" else 0.0))
    payload = {
        "run": {"experiment": "t", "dataset": "digits", "decoder": decoder}
        | {"method": method, "seed": seed},
        "metrics": {
            "elbo": rec - kl,
            "rec": rec,
            "kl": kl,
            "nll_iw": kl - rec - 1.0,
            "mi": float(mi_per_dim.sum()),
            "marginal_kl": kl - float(mi_per_dim.sum()),
            "au": int((kl_per_dim > 0.1).sum()),
            "kl_per_dim": kl_per_dim.tolist(),
            "mi_per_dim": mi_per_dim.tolist(),
            "au_variances": (kl_per_dim / 10).tolist(),
        },
        "standard_errors": {"elbo": 0.1},
        "estimators": {"iw_samples": 10, "n_test": 100},
        "reference": {},
        "training": {"best_epoch": 3, "op_determinism": True},
        "evaluation_op_determinism": True,
        "wall_time_s": 1.0,
        "config": {
            "method_options": {"method": method.split("_")[0]},
            "decoder_options": {"type": decoder},
            "model": {"latent_dim": LATENT_DIM},
        },
        "provenance": {"git": {"commit": "abc"}},
    }
    (run_dir / "metrics.json").write_text(json.dumps(payload))
    _history(method, seed).to_csv(run_dir / "history.csv", index=False)
    if samples is not None:
        np.savez(run_dir / "samples.npz", **samples)
    return run_dir / "metrics.json"


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> tuple[Path, pd.DataFrame]:
    """Runs with relative run_dir values (as Snakemake writes them); cwd is set per test."""
    root = tmp_path_factory.mktemp("figures")
    paths = [
        _fake_run(root, "mlp", method, seed, _samples(flat=method == "vanilla", seed=seed))
        for method in METHODS
        for seed in (0, 1)
    ]
    paths += [_fake_run(root, "made", "vanilla", seed, None) for seed in (0, 1)]
    frame = collect_runs(paths)
    frame["run_dir"] = [str(Path(d).relative_to(root)) for d in frame["run_dir"]]
    frame.to_csv(root / "summary.csv", index=False)
    return root, frame


@pytest.fixture()
def in_root(runs, monkeypatch) -> tuple[Path, pd.DataFrame]:
    monkeypatch.chdir(runs[0])
    return runs


def _assert_figure(output_dir: Path, stem: str) -> None:
    for ext in FORMATS:
        path = output_dir / f"{stem}.{ext}"
        assert path.stat().st_size > 1000, path
    assert (output_dir / f"{stem}.pdf").read_bytes().startswith(b"%PDF")
    with Image.open(output_dir / f"{stem}.png") as image:
        assert min(image.info["dpi"]) >= 150


def test_heatmap_cells_are_seed_means_and_rows_sum_to_the_tables_kl(in_root):
    root, frame = in_root
    tables = per_dimension_heatmaps(frame, "digits", "mlp", ["beta_4", *METHODS], "heat")
    assert set(tables) == {"kl_per_dim", "mi_per_dim"}
    for stem in tables:
        _assert_figure(root / "heat", stem)
    kl = tables["kl_per_dim"]
    assert list(kl.index) == METHODS  # the given order; beta_4 has no runs: skipped
    assert list(kl.columns) == list(range(LATENT_DIM))
    for method in METHODS:
        expected = (_kl_per_dim("mlp", method, 0) + _kl_per_dim("mlp", method, 1)) / 2
        np.testing.assert_allclose(kl.loc[method], expected)
        np.testing.assert_allclose(tables["mi_per_dim"].loc[method], 0.8 * expected)
    # The figure's rows add up to the summary table's mean rate (kl = sum of kl_per_dim).
    mlp = frame[frame["decoder"] == "mlp"].groupby("method")["kl"].mean()
    np.testing.assert_allclose(kl.sum(axis=1), mlp[kl.index])


def test_training_curves_mean_and_band_per_epoch(in_root):
    root, frame = in_root
    tables = training_curves(frame, "digits", "mlp", METHODS, "curves")
    assert set(tables) == {"curve_kl", "curve_valid_mi", "curve_valid_au"}
    for stem in tables:
        _assert_figure(root / "curves", stem)
    kl = tables["curve_kl"].set_index(["method", "epoch"])
    assert list(tables["curve_kl"].columns) == ["method", "epoch", "mean", "low", "high", "n"]
    # Epoch 3 of vanilla: kl = 3 * (1 + seed) -> 3 and 6.
    assert kl.loc[("vanilla", 3)].to_dict() == {"mean": 4.5, "low": 3.0, "high": 6.0, "n": 2}
    # fb_0.5 seed 1 stopped after epoch 4: epoch 5 is seed 0 alone (3 + 5 * 1).
    assert kl.loc[("fb_0.5", 5)].to_dict() == {"mean": 8.0, "low": 8.0, "high": 8.0, "n": 1}
    mi = tables["curve_valid_mi"].set_index(["method", "epoch"])
    assert mi.loc[("fb_0.5", 2), "mean"] == pytest.approx(3.2 + 0.5)
    au = tables["curve_valid_au"].set_index(["method", "epoch"])
    assert au.loc[("vanilla", 1)].to_dict() == {"mean": 1.5, "low": 1.0, "high": 2.0, "n": 2}
    assert len(tables["curve_kl"]) == 5 + 5


def test_curve_statistics_align_runs_of_different_lengths():
    short = pd.DataFrame({"kl": [1.0, 2.0]}, index=pd.Index([1, 2], name="epoch"))
    long = pd.DataFrame({"kl": [3.0, 4.0, 5.0]}, index=pd.Index([1, 2, 3], name="epoch"))
    table = curve_statistics([short, long], "kl")
    assert table.to_dict("list") == {
        "epoch": [1, 2, 3],
        "mean": [2.0, 3.0, 5.0],
        "low": [1.0, 2.0, 5.0],
        "high": [3.0, 4.0, 5.0],
        "n": [2, 2, 1],
    }


def test_rate_distortion_points_are_the_runs(in_root):
    root, frame = in_root
    data = rate_distortion(frame, "digits", METHODS, "plane", decoders=["mlp", "made"])
    _assert_figure(root / "plane", "rate_distortion")
    assert len(data) == len(frame) == 6
    assert list(dict.fromkeys(data["method"])) == METHODS
    means = data.groupby(["decoder", "method"])[["rate", "distortion"]].mean()
    table = frame.groupby(["decoder", "method"])[["kl", "rec"]].mean()
    np.testing.assert_allclose(means["rate"], table.loc[means.index, "kl"])
    np.testing.assert_allclose(means["distortion"], -table.loc[means.index, "rec"])
    levels = data.attrs["isolines"]
    assert len(levels) >= 2 and len(set(np.round(np.diff(levels), 9))) == 1
    only_mlp = rate_distortion(frame, "digits", METHODS, "plane_mlp", decoders=["mlp"])
    assert set(only_mlp["decoder"]) == {"mlp"} and len(only_mlp) == 4
    # Same inputs, same bytes (the PDF carries no creation date).
    rate_distortion(frame, "digits", METHODS, "plane_again", decoders=["mlp"])
    for ext in FORMATS:
        name = f"rate_distortion.{ext}"
        assert (root / "plane_mlp" / name).read_bytes() == (
            root / "plane_again" / name
        ).read_bytes()


def test_image_grids_draw_the_stored_images(tmp_path):
    samples = _samples(n=4, m=6, flat=False)
    np.savez(tmp_path / "samples.npz", **samples)
    drawn = image_grids(tmp_path / "samples.npz", tmp_path / "out", "digits × mlp", "vanilla_")
    for stem in IMAGE_FIGURES:
        _assert_figure(tmp_path / "out", f"vanilla_{stem}")
    for name in ("originals", "reconstructions", "prior_samples"):
        np.testing.assert_array_equal(drawn[name], samples[name].reshape(-1, 8, 8))
    assert drawn["originals"].shape == (4, 8, 8) and drawn["prior_samples"].shape == (6, 8, 8)


def test_method_image_grids_need_images_in_every_run_or_none(in_root, tmp_path):
    _, frame = in_root
    made = frame[frame["decoder"] == "made"]
    assert method_image_grids(made, "digits", "made", ["vanilla"], 0, tmp_path) == {}
    with pytest.raises(ValueError, match="no run with seed 7"):
        method_image_grids(frame, "digits", "mlp", METHODS, 7, tmp_path)
    mixed = frame.copy()
    mixed.loc[mixed["decoder"] == "made", "decoder"] = "mlp"
    mixed = mixed.drop_duplicates(["decoder", "method", "seed"], keep="first")
    with pytest.raises(ValueError, match=r"no image samples.npz for \['vanilla'\]"):
        method_image_grids(mixed, "digits", "mlp", METHODS, 0, tmp_path)
    assert list(tmp_path.iterdir()) == []  # nothing drawn before the check


def test_cli_writes_exactly_the_declared_files(in_root):
    root, _ = in_root
    common = ["--summary", "summary.csv", "--dataset", "digits", "--methods", *METHODS]
    assert main(["figures", *common, "--decoder", "mlp", "--output-dir", "cli"]) == 0
    assert main(["rate-distortion", *common, "--output-dir", "cli_plane"]) == 0
    stems = [*DATASET_DECODER_FIGURES, *image_figure_stems(METHODS)]
    expected = {f"{stem}.{ext}" for stem in stems for ext in FORMATS}
    assert {p.name for p in (root / "cli").iterdir()} == expected
    assert {p.name for p in (root / "cli_plane").iterdir()} == {
        f"{stem}.{ext}" for stem in DATASET_FIGURES for ext in FORMATS
    }
    for stem in stems:
        _assert_figure(root / "cli", stem)


def test_cli_help_names_every_file():
    for stem in (*DATASET_DECODER_FIGURES, *(f"{{method}}_{s}" for s in IMAGE_FIGURES)):
        assert stem in FIGURES_HELP
    for stem in DATASET_FIGURES:
        assert f"{stem}.png" in RATE_DISTORTION_HELP


def test_file_names_and_cli_parser_cost_no_matplotlib_import():
    """The Snakefile reads the stems and every job builds the parser: neither loads pyplot."""
    code = (
        "import sys; import vae_tfp.report.figures as f; from vae_tfp.cli import build_parser; "
        "build_parser(); f.DATASET_DECODER_FIGURES; assert 'matplotlib' not in sys.modules"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
