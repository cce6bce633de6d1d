"""A run folder's ``metrics.json`` written by hand, for the table tests."""

import json


def fake_run(root, method, seed, elbo, n_test=1000, mi_upper=None, dataset="digits"):
    """Writes ``root/{dataset}/mlp/{method}/seed{seed}/metrics.json`` of a run with an mlp
    decoder and ELBO ``elbo`` (nll_iw = -elbo - 1, kl 2, mi 1.5, au 3); returns its path."""
    run_dir = root / dataset / "mlp" / method / f"seed{seed}"
    run_dir.mkdir(parents=True, exist_ok=True)
    payload = {
        "run": {
            "experiment": "t",
            "dataset": dataset,
            "decoder": "mlp",
            "method": method,
            "seed": seed,
        },
        "metrics": {
            "elbo": elbo,
            "nll_iw": -elbo - 1,
            "rec": elbo - 2,
            "kl": 2.0,
            "mi": 1.5,
            "marginal_kl": 0.5,
            "au": 3,
            "kl_per_dim": [1.0, 1.0],
        },
        "standard_errors": {"elbo": 0.1, "nll_iw": 0.1, "rec": 0.1, "kl": 0.01},
        "estimators": {"iw_samples": 10, "n_test": n_test},
        "reference": {},
        "training": {"best_epoch": 4, "op_determinism": True},
        "evaluation_op_determinism": True,
        "wall_time_s": 1.0,
        "config": {
            "method_options": {"method": method.split("_")[0]},
            "decoder_options": {"type": "mlp"},
            "model": {"latent_dim": 2},
        },
        "provenance": {"git": {"commit": "abc"}},
    }
    if mi_upper is not None:  # kl 2.0: the marginal KL bracket is [2 - mi_upper, 2 - 1.5]
        payload["metrics"].update(
            mi_upper=mi_upper, marginal_kl_lower=2.0 - mi_upper, marginal_kl_upper=0.5
        )
    (run_dir / "metrics.json").write_text(json.dumps(payload))
    return run_dir / "metrics.json"
