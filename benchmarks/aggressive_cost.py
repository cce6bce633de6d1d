"""Wall-time cost of aggressive training (He et al. 2019) against vanilla, same setting.

Trains the embedded default's digits x mlp run with ``vanilla`` and with ``aggressive``
(default hyper-parameters: inner loop of at most 100 encoder steps, checked every 15) for
each seed given, alternating the two so machine load affects both alike, and prints the
training wall times, their ratio, the inner steps and the epoch where aggressive mode ended.

    python benchmarks/aggressive_cost.py [--seeds 0 1] [--dataset digits --decoder mlp]
"""

from __future__ import annotations

import argparse
import tempfile

import yaml


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--dataset", default="digits")
    parser.add_argument("--decoder", default="mlp")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()

    from vae_tfp.runtime import configure_tensorflow

    configure_tensorflow(args.threads)
    from vae_tfp.config import RunKey, resolve_run_config
    from vae_tfp.data import prepare_dataset
    from vae_tfp.training import train_run

    with open("config/config.yaml") as stream:
        config = yaml.safe_load(stream)
    config["methods"].update(
        {"vanilla": {"method": "vanilla"}, "aggressive": {"method": "aggressive"}}
    )
    totals = {"vanilla": 0.0, "aggressive": 0.0}
    for seed in args.seeds:
        for method in ("vanilla", "aggressive"):
            run_config = resolve_run_config(
                config, RunKey(args.dataset, args.decoder, method, seed)
            )
            data = prepare_dataset(args.dataset, run_config["dataset_options"])
            with tempfile.TemporaryDirectory() as run_dir:
                summary = train_run(run_config, data, run_dir)
            totals[method] += summary["wall_time_s"]
            print(
                f"seed {seed} {method:>10}: {summary['wall_time_s']:6.1f} s, "
                f"{summary['encoder_inner_steps']} inner steps, inner loop ended after epoch "
                f"{summary['inner_loop_ended_after_epoch']}, best valid ELBO "
                f"{summary['best_valid_elbo']:.3f}"
            )
    print(
        f"total training time: vanilla {totals['vanilla']:.1f} s, aggressive "
        f"{totals['aggressive']:.1f} s, ratio {totals['aggressive'] / totals['vanilla']:.2f}x"
    )


if __name__ == "__main__":
    main()
