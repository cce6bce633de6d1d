"""Cost of the encoder inner loop's windows (He et al. 2019) in length batches, at PTB scale.

Builds ``config/paper.yaml``'s ``ptb x lstm_256 x aggressive_anneal`` model and its length
feed, then times windows of the loop's encoder-only SGD steps (``make_train_step``: the
run's loss, gradients clipped at 5 over the whole model) on whole batches drawn uniformly
with replacement, as the inner loop runs them, through two compiled windows in turn on the
same draws (alternated, so machine load affects both alike):

- ``one trace``: the feed's window as the suite runs it (any number of rows, traced once);
- ``trace per shape``: the same Python function under a plain ``tf.function``, which
  traces again for every new row count (the window before this script was written; the
  batches at the end of a length run are smaller, so nearly every window has its own).

Prints the seconds per encoder step of each (median over windows, traces included, as a
run pays them) and their trace counts.

    VAE_TFP_DATA_CACHE=... python benchmarks/inner_window_cost.py [--windows 12]
        [--width 15] [--threads 1]
"""

from __future__ import annotations

import argparse
import statistics
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--windows", type=int, default=12)
    parser.add_argument("--width", type=int, default=15, help="steps per window")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()

    from vae_tfp.runtime import configure_tensorflow

    configure_tensorflow(args.threads)
    import numpy as np
    import tensorflow as tf
    import tf_keras

    from vae_tfp.config import RunKey, load_experiment_config, resolve_run_config
    from vae_tfp.data import prepare_dataset
    from vae_tfp.methods import build_method
    from vae_tfp.run_model import model_from_run_config
    from vae_tfp.training.feeds import make_feed
    from vae_tfp.training.steps import make_train_step

    config = load_experiment_config("config/paper.yaml")
    run_config = resolve_run_config(config, RunKey("ptb", "lstm_256", "aggressive_anneal", 0))
    data = prepare_dataset("ptb", run_config["dataset_options"], config.get("data_cache"))
    tf_keras.utils.set_random_seed(0)
    model = model_from_run_config(run_config, data)
    feed = make_feed(run_config["training"], data, 0, False)
    encoder_variables = model.encoder.trainable_variables
    optimizer = tf_keras.optimizers.SGD(run_config["training"]["learning_rate"])
    optimizer.build(encoder_variables)
    epochs = run_config["training"]["epochs"]
    method = build_method(run_config["method_options"]).bind(
        feed.n_batches, feed.n_batches * epochs
    )
    encoder_step = make_train_step(  # the loop's encoder-only step (clip over the model)
        model,
        method,
        (encoder_variables, optimizer),
        None,
        step=tf.Variable(0, dtype=tf.int64),
        sampler=tf.random.Generator.from_seed(1),
        clip_norm=5.0,
        clip_variables=encoder_variables + model.decoder.trainable_variables,
    )

    one_trace = feed.make_inner_window(encoder_step)
    per_shape = tf.function(one_trace.python_function)
    windows = {"one trace": one_trace, "trace per shape": per_shape}
    seconds = {name: [] for name in windows}
    rng = np.random.default_rng(0)
    style = run_config["decoder_options"]["parameterization"]
    print(
        f"# ptb x lstm_256 x aggressive_anneal ({style}), {feed.n_batches} length batches, "
        f"windows of {args.width} drawn batches, {args.threads} thread(s)"
    )
    for index in range(args.windows):
        drawn = feed.draw_inner_batches(rng, args.width)
        order = list(windows) if index % 2 == 0 else list(reversed(windows))
        for name in order:
            started = time.perf_counter()
            float(windows[name](*drawn))
            seconds[name].append((time.perf_counter() - started) / args.width)
        times = ", ".join(f"{name} {seconds[name][-1]:.3f}" for name in windows)
        print(f"window {index + 1}: {int(drawn[0].shape[0])} rows; s per step: {times}", flush=True)
    for name, window in windows.items():
        print(
            f"{name:>16}: {statistics.median(seconds[name]):.3f} s per encoder step (median; "
            f"{statistics.median(seconds[name][1:]):.3f} after the first window), "
            f"{sum(seconds[name]) * args.width:.1f} s in all, "
            f"{window.experimental_get_tracing_count()} traces"
        )


if __name__ == "__main__":
    main()
