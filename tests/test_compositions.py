"""Methods as compositions of parts: each preset's defining property, the rules that reject
a bad composition, and presets that kept their meaning giving the numbers they gave before."""

import json
import math
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf
import yaml

from vae_tfp.config import RunKey, check_experiment_config, resolve_run_config
from vae_tfp.config.checks import ConfigError
from vae_tfp.data import prepare_dataset
from vae_tfp.methods import build_method
from vae_tfp.training.loop import Trainer

REFERENCE = Path(__file__).parent / "data" / "preset_reference.json"


def _weights(method, steps):
    return [float(method.kl_weight(step)) for step in steps]


def _kl_term_and_gradient(method, kl_values, step):
    kl_per_dim = tf.Variable(kl_values)
    with tf.GradientTape() as tape:
        term = method.kl_term(kl_per_dim, step)
    return float(term), tape.gradient(term, kl_per_dim).numpy()


# ---- li2019 (Li et al. 2019) ---------------------------------------------------------------


def test_li2019_starts_from_an_autoencoder_run_selected_on_reconstruction():
    """Li et al.'s README: text_beta.py --beta 0 (an autoencoder, best epoch by validation
    reconstruction), then text_anneal_fb.py --reset_dec --kl_start 0 --warm_up 10 --fb 2
    from its weights: no phase inside the run, the warm-up from the run's first update."""
    method = build_method({"method": "li2019"}).bind(steps_per_epoch=10, total_steps=200)
    assert [p.name for p in method.parts] == ["pretrain_run", "kl_anneal", "free_bits_example"]
    assert method.pretraining_method() == {"method": "beta", "beta": 0.0, "select_on": "objective"}
    assert build_method(method.pretraining_method()).selection_kl_weight() == 0.0
    np.testing.assert_allclose(_weights(method, [0, 50, 100, 10**6]), [0, 0.5, 1, 1], atol=1e-7)
    assert method.decoder_reset_epochs == () and method.first_selectable_epoch == 1


def test_pretrain_anneal_fb_weight_is_zero_while_pretraining_then_warms_up_from_the_reset():
    """10 updates per epoch, 2 pretraining epochs, warm-up over 3 epochs from 0: weight 0 for
    updates 0-19, then 0 at the reset (update 20, the clock's 0), 0.5 fifteen updates later,
    1 from update 50 on."""
    method = build_method(
        {"method": "pretrain_anneal_fb", "pretrain_epochs": 2, "warmup_epochs": 3}
    ).bind(steps_per_epoch=10, total_steps=200)
    steps = [0, 19, 20, 35, 50, 10**6]
    np.testing.assert_allclose(_weights(method, steps), [0, 0, 0, 0.5, 1, 1], atol=1e-7)
    assert method.decoder_reset_epochs == (2,)
    assert method.first_selectable_epoch == 3


def test_pretrain_anneal_fb_floors_each_example_and_dimension_and_pretraining_has_no_kl_gradient():
    options = {"method": "pretrain_anneal_fb", "pretrain_epochs": 1, "lambda": 0.25}
    method = build_method(options).bind(10, 100)
    kl = [[0.1, 2.0], [0.9, 0.2]]  # below lambda: (0, 0) and (1, 1)
    term, grad = _kl_term_and_gradient(method, kl, 10**6)  # after the warm-up: weight 1
    assert term == pytest.approx((0.25 + 0.9) / 2 + (2.0 + 0.25) / 2)
    np.testing.assert_allclose(grad, [[0.0, 0.5], [0.5, 0.0]])  # 1/batch above the floor
    term, grad = _kl_term_and_gradient(method, kl, 5)  # pretraining
    assert term == 0.0 and np.all(grad == 0.0)


def test_a_given_warmup_replaces_the_presets_warmup_in_epochs():
    method = build_method({"method": "li2019", "warmup_steps": 40})
    schedule = method.part("kl_weight")
    assert (schedule.warmup_steps, schedule.warmup_epochs) == (40, 0)
    with pytest.raises(ValueError, match="warmup_steps or warmup_epochs, not both"):
        build_method({"method": "kl_anneal", "beta0": 0, "warmup_steps": 5, "warmup_epochs": 1})


# ---- aggressive_anneal and sa_vae_anneal (He et al. 2019) ----------------------------------


def test_aggressive_anneal_has_the_inner_loop_and_anneals_from_a_tenth_over_ten_epochs():
    method = build_method({"method": "aggressive_anneal"}).bind(steps_per_epoch=7, total_steps=700)
    settings = method.inner_loop()
    assert (settings.max_steps, settings.check_every) == (100, 15)
    np.testing.assert_allclose(_weights(method, [0, 35, 70, 71]), [0.1, 0.55, 1.0, 1.0], rtol=1e-6)
    assert build_method({"method": "aggressive"}).bind(7, 700).kl_weight(0) == 1.0


def test_sa_vae_anneal_refines_with_the_shared_schedule():
    method = build_method({"method": "sa_vae_anneal", "warmup_epochs": 2}).bind(50, 500)
    assert method.posterior_refinement() is not None
    np.testing.assert_allclose(_weights(method, [0, 50, 100]), [0.1, 0.55, 1.0], rtol=1e-6)


def test_a_schedule_after_a_phase_covers_the_rest_of_the_run():
    """Cyclical annealing after 2 pretraining epochs: its cycles span the 80 updates left."""
    method = build_method(
        {"method": "pretrain + cyclical", "pretrain_epochs": 2, "n_cycles": 2, "ratio": 0.5}
    ).bind(steps_per_epoch=10, total_steps=100)
    assert method.part("kl_weight").total_steps == 80
    # The clock starts at update 20: the second cycle starts at update 20 + 40.
    np.testing.assert_allclose(_weights(method, [10, 20, 30, 40, 60, 70]), [0, 0, 0.5, 1, 0, 0.5])


# ---- rejected compositions -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        ({"method": "vanila"}, KeyError, "unknown method part 'vanila'"),
        ({"method": "aggressive + kl_aneal"}, KeyError, "unknown method part 'kl_aneal'"),
        ({"method": "li2019", "lamda": 0.5}, TypeError, "unknown hyper-parameters \\['lamda'\\]"),
        ({"method": "free_bits + kl_threshold", "lambda": 1}, ValueError, "both kl_term parts"),
        ({"method": "kl_anneal + cyclical", "beta0": 0}, ValueError, "both kl_weight parts"),
        ({"method": "sa_vae + sa_vae"}, ValueError, "both refinement parts"),
        ({"method": "iwae + kl_anneal", "beta0": 0}, ValueError, "replaces the whole objective"),
        ({"method": "bn_vae + free_bits", "lambda": 1}, ValueError, "bounds every dimension's KL"),
        ({"method": "li2019", "kl_estimator": "sampled"}, ValueError, "floors or replaces it"),
        ({"method": "skip_vae + skip_vae"}, ValueError, "same decoder option twice"),
        ({"method": 3}, TypeError, "names joined by '\\+'"),
    ],
)
def test_invalid_compositions_are_rejected_naming_the_reason(options, error, message):
    with pytest.raises(error, match=message):
        build_method(options)


def test_a_bad_composition_fails_the_config_check_before_any_work():
    config = yaml.safe_load(open("config/config.yaml"))
    config["methods"]["bad"] = {"method": "bn_vae + free_bits", "lambda": 0.5}
    with pytest.raises(ConfigError, match="method variant 'bad'.*bounds every dimension's KL"):
        check_experiment_config(config)


# ---- presets that kept their meaning ---------------------------------------------------------


@pytest.mark.slow
def test_presets_that_kept_their_meaning_give_the_numbers_saved_before_the_change():
    """history.csv of 2-epoch runs (digits x mlp) against values the code before methods
    were compositions wrote (tests/data/preset_reference.json): a schedule, phases with a
    floor, SA-VAE + anneal (now through the shared schedule), the inner loop and the
    one-sample KL. A rounding-level tolerance: a change of meaning moves them by far more."""
    reference = json.loads(REFERENCE.read_text())["runs"]
    new_spelling = {"sa_anneal_before": {"method": "sa_vae_anneal", "svi_steps": 2,
                                         "beta0": 0.1, "warmup_steps": 30},
                    # that code drew the inner loop's first batch at random in padded batching
                    "aggressive": {**reference["aggressive"]["options"],
                                   "first_inner_batch": "random"}}  # fmt: skip
    config = yaml.safe_load(open("config/config.yaml"))
    config["methods"] = {
        name: new_spelling.get(name, run["options"]) for name, run in reference.items()
    }
    data = None
    for name, saved in reference.items():
        run_config = resolve_run_config(config, RunKey("digits", "mlp", name, 0))
        run_config["training"]["epochs"] = 2
        data = data or prepare_dataset("digits", run_config["dataset_options"])
        with tempfile.TemporaryDirectory() as run_dir:
            Trainer(run_config, data, run_dir).run()
            history = pd.read_csv(Path(run_dir) / "history.csv")
        for column in ("loss", "elbo", "kl", "kl_weight", "valid_elbo", "encoder_inner_steps"):
            np.testing.assert_allclose(history[column], saved[column], rtol=1e-5, err_msg=name)


# ---- config/paper.yaml runs the published protocols ----------------------------------------


def _assert_their_annealing(run, anneal):
    """The KL weight of every update in the first 12 epochs of a paper.yaml run equals the
    authors' loop's: kl_weight = min(1, kl_weight + rate) before each update, from kl_start,
    with rate (1 - kl_start) / (warm_up * N / B) in text.py, image.py and Li et al.'s
    text_anneal_fb.py (jxhe/vae-lagging-encoder cdc4eb9, bohanli/vae-pretraining-encoder
    d59f91c) and 1 / (warm_up * N / B) in He et al.'s SA-VAE scripts (text_sa.py and
    image_sa.py, branch sa-vae, 66b3018), warm_up 10 in all of them."""
    batch = run["training"]["batch_size"]
    n_train = {"omniglot": 23_000, "yahoo": 100_000, "yelp": 100_000, "ptb": 42_068}
    updates_per_epoch = n_train[run["dataset"]] / batch  # N / B, a fraction on PTB
    kl_start = anneal.beta0
    sa_vae_script = "sa_vae" in run["method_options"]["method"]
    rate = (1.0 if sa_vae_script else 1.0 - kl_start) / (10 * updates_per_epoch)
    bound = anneal.bind(math.ceil(updates_per_epoch), 0, nominal_steps_per_epoch=updates_per_epoch)
    steps = np.linspace(0, 12 * updates_per_epoch, 61).astype(int)
    # their loop adds the rate t + 1 times before update t (float64 sums; the suite's
    # weight is float32, so the tolerance is float32's)
    theirs = np.minimum(1.0, kl_start + (steps + 1) * rate)
    ours = np.array([float(bound.kl_weight(int(t))) for t in steps])
    np.testing.assert_allclose(ours, theirs, rtol=2e-6, atol=2e-6, err_msg=run["method"])


def test_paper_config_trains_every_row_with_its_papers_protocol():
    """SGD + clipping + halve-on-plateau for every text row (He et al.: lr 1, patience 2;
    Li et al.: lr 0.5, patience 5) with their code's layers and initialisation (he2019),
    tanh + the Burda schedule + the last epoch for MNIST,
    the compositions named after the papers in the grid, and a listed difference for every
    dataset."""
    from vae_tfp.config import iter_runs

    config = yaml.safe_load(open("config/paper.yaml"))
    runs = [resolve_run_config(config, key) for key in iter_runs(config)]
    expression = {run["method"]: run["method_options"]["method"] for run in runs}
    assert {"li2019", "aggressive_anneal", "sa_vae_anneal"} <= set(expression.values())
    for run in runs:
        training, dataset = run["training"], run["dataset"]
        schedule = training.get("learning_rate_schedule", {})
        if dataset in ("yahoo", "yelp", "ptb"):
            assert training["optimizer"] == {"name": "sgd", "clip_norm": 5.0}
            assert schedule["type"] == "plateau" and schedule["max_decays"] == 5
            assert (training["learning_rate"], schedule["patience"]) == (
                (0.5, 5) if dataset == "ptb" else (1.0, 2)
            )
            # text.py and Li et al.'s scripts halve from their epoch 15 (counting from 0);
            # He et al.'s SA-VAE script text_sa.py (branch sa-vae, 66b3018) from the first.
            sa_vae_script = dataset != "ptb" and "sa_vae" in run["method_options"]["method"]
            assert schedule["min_epoch"] == (1 if sa_vae_script else 16)
            assert run["model"]["encoder_parameterization"] == "he2019"
            assert run["decoder_options"]["parameterization"] == "he2019"
            # their encoder reads <s>; their softmax runs over the whole vocabulary
            assert run["model"]["encoder_reads_start_token"] is True
            assert run["decoder_options"]["softmax_over_all_tokens"] is True
        elif dataset == "mnist":
            assert run["model"]["encoder_activation"] == "tanh"
            assert run["decoder_options"]["activation"] == "tanh"
            assert schedule == {"type": "burda", "stages": 8} and training["epochs"] == 3280
            assert training["checkpoint_selection"] == "last_epoch"
        if "aggressive" in run["method_options"]["method"]:  # their loop: 99 steps
            omniglot = dataset == "omniglot"
            assert run["method_options"]["max_inner_steps"] == 99
            assert run["method_options"].get("check_every", 15) == (10 if omniglot else 15)
            # calc_mi within their validation batches (image.py 50, text.py 32)
            assert run["method_options"]["switch_off_mi_batch"] == (50 if omniglot else 32)
            # image.py: the 5th MI below the best so far; text.py: the first below the last
            rule = ("best", 5) if omniglot else ("previous", 1)
            options = run["method_options"]
            assert (
                options.get("switch_off_reference", "previous"),
                options.get("switch_off_patience", 1),
            ) == rule
        method = build_method(run["method_options"])  # every composition is valid
        if dataset != "mnist":  # He et al.'s and Li et al.'s code validates on fresh noise
            assert training["validation_noise"] == "fresh"
            anneal = method.part("kl_weight")
            if anneal and anneal.name == "kl_anneal":
                _assert_their_annealing(run, anneal)
    assert set(config["protocol_differences"]) == set(config["datasets"])
    # The PTB campaign runs paper.yaml's block without the options of the authors' code that
    # paper.yaml gained after it started; it lists each one as a difference instead.
    ptb = yaml.safe_load(open("config/ptb.yaml"))
    campaign = ptb["datasets"]["ptb"]["training"]
    campaign.pop("checkpoint_interval_s")  # how often it saves
    assert campaign["learning_rate_schedule"].pop("min_epoch") == 15
    paper = config["datasets"]["ptb"]["training"]
    assert paper["learning_rate_schedule"].pop("min_epoch") == 16
    assert paper.pop("validation_noise") == "fresh" and "validation_noise" not in campaign
    assert config["datasets"]["ptb"]["model"].pop("encoder_reads_start_token") is True
    assert config["decoders"]["lstm_256"].pop("softmax_over_all_tokens") is True
    assert ptb["datasets"]["ptb"] == config["datasets"]["ptb"]
    assert ptb["decoders"]["lstm_256"] == config["decoders"]["lstm_256"]
    campaign_only = (
        "15th epoch",
        "same posterior noise",
        "one-update offset",
        "start token <s>",
        "whole vocabulary",
        "mask the terms",
    )
    assert [any(t in d for d in ptb["protocol_differences"]["ptb"]) for t in campaign_only] == [
        True
    ] * len(campaign_only)
    assert set(config["protocol_differences"]["ptb"]) < set(ptb["protocol_differences"]["ptb"])
    for name in ptb["grid"][0]["methods"] + ptb["grid"][1]["methods"]:
        theirs = {"warmup_epoch_length": "n_over_b", "step_offset": 1, "below_lambda": "drop"}
        paper_method = {k: v for k, v in config["methods"][name].items() if k not in theirs}
        assert ptb["methods"][name] == paper_method, name


def test_a_resume_state_written_before_the_inner_loop_was_a_part_still_loads(tmp_path):
    """Resume states of runs started before methods were compositions name the inner loop's
    fields after He et al.'s aggressive training; they load under the new names."""
    from vae_tfp.training.state import Progress, ResumeStore

    store = ResumeStore(tmp_path, "hash")
    checkpoint = tf.train.Checkpoint(step=tf.Variable(3, dtype=tf.int64))
    store.save(checkpoint, Progress(epoch=4, inner_loop=True, inner_loop_ended=None))
    sidecar = next(tmp_path.glob("state-*.json"))
    saved = json.loads(sidecar.read_text())
    for old, new in (("aggressive", "inner_loop"), ("aggressive_ended", "inner_loop_ended")):
        saved[old] = saved.pop(new)
    saved["aggressive_rng_state"] = saved.pop("inner_loop_rng_state")
    sidecar.write_text(json.dumps(saved))
    progress = store.restore(checkpoint)
    assert progress is not None and progress.epoch == 4 and progress.inner_loop is True


def test_an_objective_part_without_a_training_loss_is_refused_at_registration():
    import dataclasses
    from typing import ClassVar

    from vae_tfp.methods import Method, register_method

    @dataclasses.dataclass(frozen=True)
    class NoLoss(Method):
        name: ClassVar[str] = "no_loss_objective"
        role: ClassVar[str] = "objective"

    with pytest.raises(TypeError, match="must define training_loss"):
        register_method(NoLoss)
