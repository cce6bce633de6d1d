"""Whether a run's active-unit count depends on where and how it is measured.

Burda et al. (2016, Sec. 5.2) call latent dimension u active when Cov_x(E_q[u|x]) > 1e-2.
Their code (github.com/yburda/iwae, iwae.py, get_units_variances) takes the covariance over
the first 500 training images; the suite takes it over the whole test split. For each run
of an experiment this prints the count on both sets, the largest inactive and the smallest
active variance, and the counts at a tenth and at ten times the threshold: if they agree,
the difference from a published count is in the model, not in the measurement.

    python benchmarks/active_units_protocol.py [--experiment-dir results/reproduce]
"""

from __future__ import annotations

import argparse
from pathlib import Path

THRESHOLD = 0.01


def posterior_mean_variances(model, x, batch: int, eval_seed: int):
    """Per-dimension variance of E_q[z|x] over the rows of ``x``, as the suite's AU takes it:
    on the posterior the model uses (``posterior_params``, after a method's transform or
    refinement), in the evaluation's batches with its refinement seeds (batch b refines with
    ``fold_in([eval_seed, b], _REFINEMENT)``, as ``vae_tfp.evaluation.importance`` does)."""
    import numpy as np
    import tensorflow as tf

    from vae_tfp.evaluation.importance import _REFINEMENT
    from vae_tfp.metrics import active_units

    locs = []
    for b, start in enumerate(range(0, len(x), batch)):
        seed = tf.random.experimental.stateless_fold_in([eval_seed, b], _REFINEMENT)
        locs.append(model.posterior_params(x[start : start + batch], seed=seed)[0].numpy())
    return active_units(np.concatenate(locs), THRESHOLD)[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--experiment-dir", default="results/reproduce")
    parser.add_argument("--dataset", default="binarized_mnist")
    args = parser.parse_args()

    import numpy as np
    import tensorflow as tf

    from vae_tfp.data.store import load_prepared
    from vae_tfp.io import read_json
    from vae_tfp.run_files import checkpoint_path
    from vae_tfp.run_model import model_from_run_config
    from vae_tfp.seeds import derive_seed

    root = Path(args.experiment_dir)
    data = load_prepared(root / "data" / f"{args.dataset}.npz")
    runs = sorted((root / "runs" / args.dataset).glob("*/*/seed*"))
    if not runs:
        raise SystemExit(f"no runs of {args.dataset} under {root}/runs")
    sets = {"first 500 train": data.train[:500], "whole test": data.test}
    for run in runs:
        run_config = read_json(run / "run_config.json")
        model = model_from_run_config(run_config, data)
        # The evaluate job's settings (run_config.json has none; metrics.json records them).
        if not (run / "metrics.json").is_file():
            raise SystemExit(f"{run} is not evaluated: its evaluation batches are unknown")
        batch = int(read_json(run / "metrics.json")["config"]["evaluation"]["batch_size"])
        eval_seed = derive_seed(int(run_config["seed"]), "eval_sampling")
        checkpoint = tf.train.Checkpoint(model=model).read(str(checkpoint_path(run)))
        checkpoint.assert_existing_objects_matched()
        for name, x in sets.items():
            variances = posterior_mean_variances(
                model, tf.constant(x, tf.float32), batch, eval_seed
            )
            active = variances > THRESHOLD
            counts = [int(np.sum(variances > THRESHOLD * f)) for f in (0.1, 1, 10)]
            print(
                f"{run.relative_to(root / 'runs')}, {name:>15}: AU {counts[1]:2d} "
                f"(threshold/10: {counts[0]}, x10: {counts[2]}); largest inactive "
                f"{variances[~active].max():.2e}, smallest active {variances[active].min():.3f}"
            )


if __name__ == "__main__":
    main()
