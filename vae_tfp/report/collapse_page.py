"""``docs/posterior-collapse.md``: the seed question answered with an experiment's numbers.

"If the KL term is 0 the bound is tight, so isn't KL = 0 what we want, and isn't that
collapse?" The page answers with the rate split kl = mi + marginal_kl and the embedded
default's runs; every number in it is read from ``results/<experiment>/tables`` (or measured
from the run folders' ``samples.npz``) when the page is written, none is typed:

    python -m vae_tfp collapse-page --results results/embedded --output docs/posterior-collapse.md \
        --real-results results/au_ablation   # the real-data case (config/au-ablation.yaml)
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd

from vae_tfp.io import atomic_write
from vae_tfp.report.collapse import mi_per_dim_mc_std
from vae_tfp.report.collapse_ceiling import ceiling_case
from vae_tfp.report.collapse_thresholds import collapsed_text, dataset_thresholds, threshold_text
from vae_tfp.report.estimator_noise import (
    COLLAPSED_RATE,
    LOW_INFORMATION,
    run_noise,
    synthetic_noise,
)
from vae_tfp.report.formatting import BRACKET_WIDTH, MI_CEILING_MARGIN, MiStatus, mi_status
from vae_tfp.report.real_scale import real_scale_text

# The cells the page quotes (dataset, decoder, method), all in the embedded default.
PPCA = ("linear_gaussian", "linear", "vanilla")
PIXELCNN = ("digits", "pixelcnn", "vanilla")
PIXELCNN_FB = ("digits", "pixelcnn", "fb_0.5")
LSTM = ("markov_mixture", "lstm", "vanilla")
LSTM_FB = ("markov_mixture", "lstm", "fb_0.5")
MLP = ("digits", "mlp", "vanilla")
# Figures copied next to the page: (dataset, decoder or None, stem).
FIGURES = (("digits", "pixelcnn", "mi_per_dim"), ("digits", None, "rate_distortion"))


class Cells:
    """Means over seeds of an experiment's summary.csv, by (dataset, decoder, method)."""

    def __init__(self, summary: pd.DataFrame):
        self.summary = summary
        self.means = summary.groupby(["dataset", "decoder", "method"]).mean(numeric_only=True)
        self.n = summary.groupby(["dataset", "decoder", "method"]).size()

    def status(self, cell: tuple[str, str, str]) -> MiStatus:
        """Whether the cell's ``mi`` and ``marginal_kl`` are points or bounds
        (:func:`vae_tfp.report.formatting.mi_status`, the tables' rule)."""
        runs = self.summary.set_index(["dataset", "decoder", "method"]).loc[[cell]]
        return mi_status(runs)

    def __call__(self, cell: tuple[str, str, str], metric: str) -> float:
        """The mean of ``metric`` over the seeds of ``cell``.

        Raises:
            KeyError: If the experiment has no such cell or metric, naming both.
        """
        if cell not in self.means.index or metric not in self.means.columns:
            raise KeyError(f"the experiment has no {metric!r} for {cell}")
        return float(self.means.loc[cell, metric])


def _f(value: float, digits: int = 2) -> str:
    return f"{value:.{digits}f}"


def information(status: MiStatus) -> str:
    """The cell's information in words: "3.07 nats", or the bracket where it is a bound."""
    if not status.bound:
        return f"{_f(status.mi)} nats"
    if np.isnan(status.mi_upper):
        return f"at least {_f(status.mi)} nats (a lower bound)"
    return f"between {_f(status.mi)} and {_f(status.mi_upper)} nats"


def rate_split(status: MiStatus) -> str:
    """ "of which A is information and B is marginal KL", bracketed where they are bounds."""
    if not status.bound:
        return (
            f"of which {_f(status.mi)} is information and {_f(status.marginal_kl)} is marginal KL"
        )
    if np.isnan(status.marginal_kl_lower):
        return (
            f"of which at least {_f(status.mi)} is information and at most "
            f"{_f(status.marginal_kl)} is marginal KL"
        )
    return (
        f"of which between {_f(status.mi)} and {_f(status.mi_upper)} is information and "
        f"between {_f(max(status.marginal_kl_lower, 0.0))} and {_f(status.marginal_kl)} is "
        "marginal KL"
    )


REAL_SCALE_GENERIC = (
    "At real-data scale (binarized MNIST, N = 10,000, log N = 9.21) every uncollapsed VAE "
    "has a\nrate above log N, so its `marginal_kl` is such a bracket."
)


def render(
    summary: pd.DataFrame,
    noise: dict,
    synthetic: list[dict],
    experiment: str,
    ceiling: dict[str, float] | None = None,
    real_scale: str | None = None,
) -> str:
    """The page's Markdown from the summary table, the estimator-noise measurements and the
    pPCA case above log N (:func:`vae_tfp.report.collapse_ceiling.ceiling_case`, computed
    when not given); ``real_scale`` replaces the generic sentence on real data by trained
    runs (:func:`vae_tfp.report.real_scale.real_scale_text`)."""
    c = Cells(summary)
    ceiling = ceiling or ceiling_case()
    n = int(c.n.loc[PPCA])
    ppca_gap = -c(PPCA, "elbo") - c(PPCA, "exact_nll")
    pix_gap = -c(PIXELCNN, "elbo") - c(PIXELCNN, "nll_iw")
    pix_fb_gap = -c(PIXELCNN_FB, "elbo") - c(PIXELCNN_FB, "nll_iw")
    at = {row["true_mi"]: row for row in synthetic}
    n_synthetic = synthetic[0]["n_test"]
    thresholds = dataset_thresholds(summary)
    return f"""# Is KL = 0 what we want? Rate, information and posterior collapse

<!-- Generated by `python -m vae_tfp collapse-page` from results/{experiment}/tables (mean over
{n} seeds per cell); do not edit by hand. -->

**The question.** The ELBO is log p(x) − KL(q(z|x) ‖ p(z|x)), and it is also
E_q log p(x|z) − KL(q(z|x) ‖ p(z)). If the second KL, the *rate* `kl`, is 0, isn't the bound
tight, and isn't that what we want? And isn't that exactly posterior collapse?

**The answer.** A tight bound needs q(z|x) = p(z|x): the encoder must match the model's
posterior. It does not need the rate to be 0. The rate is 0 only when q(z|x) = p(z) for every
x, and then the bound is tight only if p(z|x) = p(z), i.e. when the decoder ignores z. A
zero rate with a tight bound is therefore a model whose latent variable says nothing about x:
that is collapse, and the bound being tight does not make it a good latent-variable model.
The rate splits exactly into two parts (Hoffman & Johnson 2016):

    kl  =  E_x KL(q(z|x) ‖ p(z))  =  I_q(x; z)  +  KL(q(z) ‖ p(z))
                                       mi            marginal_kl

- `marginal_kl` is the gap between the aggregate posterior q(z) = E_x q(z|x) and the prior.
  It **should go to 0**: samples from p(z) then look like encoded data.
- `mi` is the information that z carries about x. It **should not go to 0**; when it does,
  z is collapsed, whatever the bound. Estimated over N test examples it cannot exceed
  log N, so near that ceiling both parts are brackets (below).

## The suite's own numbers (`config/config.yaml`, test split, nats per example)

**pPCA, where everything is known** ({PPCA[0]} × {PPCA[1]} × {PPCA[2]}). The exact test NLL
is {_f(c(PPCA, "exact_nll"))}; the VAE's −ELBO is {_f(-c(PPCA, "elbo"))}, a gap of
{_f(ppca_gap)} nats: the bound is nearly tight. Its rate is {_f(c(PPCA, "kl"))} nats,
{rate_split(c.status(PPCA))}. It
has {_f(c(PPCA, "au"), 1)} active units where the closed form says
{_f(c(PPCA, "exact_active_units"), 0)} must be active (the generator's fourth direction has
no signal), and {_f(c(PPCA, "informative_units"), 1)} informative ones. A tight bound with a
rate far from 0: the rate is spent on information, and the marginal KL is what went to 0.

**A strong decoder that ignores z** ({PIXELCNN[0]} × {PIXELCNN[1]}). The plain ELBO gives a
rate of {_f(c(PIXELCNN, "kl"))} nats, `mi` {_f(c(PIXELCNN, "mi"))}, informative units
{_f(c(PIXELCNN, "informative_units"), 1)}, and its bound is tight: −ELBO − nll_iw =
{_f(pix_gap)} nats. This is the question's situation, and it is collapse: its `nll_iw`
({_f(c(PIXELCNN, "nll_iw"))}) comes from the autoregressive decoder alone. Free bits
(λ = 0.5 nats per dimension) keep {information(c.status(PIXELCNN_FB))} of information in z
({_f(c(PIXELCNN_FB, "informative_units"), 1)} informative units) at an `nll_iw` of
{_f(c(PIXELCNN_FB, "nll_iw"))}: the likelihood is as good, the bound looser
(gap {_f(pix_fb_gap)} nats), and z is used. The MLP decoder on the same data
({MLP[0]} × {MLP[1]} × {MLP[2]}) needs z and keeps {information(c.status(MLP))}.

![Per-dimension information, digits × pixelcnn](figures/digits_pixelcnn_mi_per_dim.png)

**An LSTM on sentences from a mixture of Markov chains** ({LSTM[0]} × {LSTM[1]}). The data
hold {_f(c(LSTM, "component_information"))} nats about which chain produced a sentence, so
an ideal z could carry at least that much. The plain ELBO collapses: `mi`
{_f(c(LSTM, "mi"))}, `nll_iw` {_f(c(LSTM, "nll_iw"))} against the exact
{_f(c(LSTM, "exact_nll"))}. Free bits give {information(c.status(LSTM_FB))} of information
with `nll_iw` {_f(c(LSTM_FB, "nll_iw"))}.

![The rate–distortion plane of digits](figures/digits_rate_distortion.png)

In the rate–distortion plane (rate `kl`, distortion −rec, dashed lines of equal ELBO) the
collapsed PixelCNN runs sit on the distortion axis, at the best ELBO of the plot; the cured
runs trade a little ELBO for a rate that is information.

## When the rate approaches log N: a bracket, not a point

`mi` is the information of the *empirical* joint over the N test examples: each example's
own posterior is one of the N components of the mixture q(z), so `mi` can never exceed
log N, and `kl − mi` is then at least `kl − log N` whatever q(z) is. The suite therefore
also reports `mi_upper`, the leave-one-out upper bound of Poole et al. 2019
(arXiv:1905.06922), which leaves each example's own component out of the mixture, and
treats the two as a bracket: `mi` ≤ I(x; z) ≤ `mi_upper`, and
`kl − mi_upper` ≤ KL(q(z) ‖ p(z)) ≤ `kl − mi`. Where the bracket is wider than
{BRACKET_WIDTH:g} nats, or `mi` is within {MI_CEILING_MARGIN:g} nat of log N (marked †),
every table shows both as brackets, never as points.

The exact pPCA posterior with spectrum 20 in 8 dimensions (σ = 0.5) shows why: its rate is
{_f(ceiling["kl"])} nats on N = {ceiling["n"]:,} examples (log N = {_f(ceiling["log_n"])}),
the true information {_f(ceiling["true_mi"])} nats, and the true marginal KL exactly 0. The
estimate `mi` is {_f(ceiling["mi"])}, log N itself, so `kl − mi` =
{_f(ceiling["marginal_kl_upper"])} nats would read as a large gap between q(z) and the
prior if printed as a value. The bracket of the marginal KL, [{_f(ceiling["marginal_kl_lower"])},
{_f(ceiling["marginal_kl_upper"])}] (the tables show its lower end as 0, a KL being ≥ 0),
holds the true 0, and `mi_upper` = {_f(ceiling["mi_upper"], 1)} says how little the test set
can tell at this rate: the posteriors of N = {ceiling["n"]:,} points barely overlap.
{real_scale or REAL_SCALE_GENERIC}

## When is a dimension informative?

The tables count `au` (Var_x E_q[z_i|x] > 0.01, Burda et al. 2016) and `informative_units`,
the dimensions whose per-dimension information `mi_per_dim` exceeds a threshold
T{threshold_text(thresholds)}

- *Known answers.* For a synthetic dimension with known information and N = {n_synthetic}
  test examples, 10 samples per example, the estimate is
  {at[0.01]["mean"]:.4f} ± {at[0.01]["std"]:.4f} at 0.01 nats and
  {at[0.05]["mean"]:.4f} ± {at[0.05]["std"]:.4f} at 0.05 nats (mean ± std over
  replications; the first-order Monte Carlo standard deviations are
  {mi_per_dim_mc_std(0.01, n_synthetic, 10):.4f} and
  {mi_per_dim_mc_std(0.05, n_synthetic, 10):.4f}); a dimension with no information gives
  exactly {at[0.0]["max"]:.4f}.
- *Monte Carlo noise.* Re-estimating every dimension of the experiment's {noise["runs"]} runs
  with 5 evaluation seeds, the largest standard deviation of one dimension's estimate is
  {noise["low_mc_std"]:.4f} nats among the dimensions below {LOW_INFORMATION:g} nats, where
  the threshold acts ({noise["max_mc_std"]:.4f} over all dimensions: the noise grows with
  the information).
- *What collapsed runs measure.* In the runs whose whole rate is below {COLLAPSED_RATE:g}
  nats ({noise["collapsed_dims"]} dimensions), the largest per-dimension estimate is
  {noise["collapsed_max_mi"]:.4f} nats{collapsed_text(noise, thresholds)}

Below T, a unit may still be "active": its mean moves with x, but by so little against its
posterior spread that it carries a few hundredths of a nat or less. The tables call such a
unit *active but uninformative* (`active_uninformative_units`), and `units.csv` gives every
dimension's verdict. `report.informative_mi` in a config replaces T by one fixed number;
`benchmarks/mi_per_dim_noise.py` prints these measurements for any experiment.
"""


def write_page(
    results: str | os.PathLike,
    output: str | os.PathLike,
    synthetic_n: int = 359,
    real_results: str | os.PathLike | None = None,
) -> str:
    """Writes the page and copies its figures into ``figures/`` beside it.

    Args:
        results: The experiment folder (``results/embedded``).
        output: The Markdown file to write (``docs/posterior-collapse.md``).
        synthetic_n: N of the synthetic noise measurement (the digits test-set size).
        real_results: An experiment folder of real-data runs whose rates exceed log N
            (e.g. ``results/au_ablation``): their brackets, run by run.

    Returns:
        The Markdown written.
    """
    results, output = Path(results), Path(output)
    summary = pd.read_csv(results / "tables" / "summary.csv")
    real_scale = None
    if real_results is not None:
        real_results = Path(real_results)
        real_summary = pd.read_csv(real_results / "tables" / "summary.csv")
        real_scale = real_scale_text(real_summary, real_results.name)
    text = render(
        summary,
        run_noise(results),
        synthetic_noise(synthetic_n),
        results.name,
        ceiling_case(),
        real_scale,
    )
    figures = output.parent / "figures"
    figures.mkdir(parents=True, exist_ok=True)
    for dataset, decoder, stem in FIGURES:
        source = results / "figures" / dataset / (decoder or "") / f"{stem}.png"
        name = "_".join(part for part in (dataset, decoder, stem) if part) + ".png"
        shutil.copyfile(source, figures / name)
    atomic_write(output, lambda stream: stream.write(text))
    return text
