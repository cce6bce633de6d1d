# Stage 5: figures from the run folders and summary.csv (vae_tfp/report/figures*.py), each
# registered for the HTML report (`make report`) with a caption from workflows/report/,
# under its dataset and the kind of figure.

FIGURES = "results/{experiment}/figures/{dataset}"


def _figure(stem, kind, label):
    """A report-registered PNG of one dataset x decoder (its PDF twin is a plain output)."""
    return report(
        f"{FIGURES}/{{decoder}}/{stem}.png",
        caption=f"../report/{stem}.rst",
        category="{dataset}",
        subcategory=kind,
        labels={"decoder": "{decoder}", "figure": label},
    )


rule figures:
    input:
        summary=rules.aggregate.output.csv,
    output:
        kl_per_dim=_figure("kl_per_dim", "Per-dimension KL and MI", "KL per dimension"),
        mi_per_dim=_figure("mi_per_dim", "Per-dimension KL and MI", "MI per dimension"),
        curve_kl=_figure("curve_kl", "Training curves", "training KL"),
        curve_valid_mi=_figure("curve_valid_mi", "Training curves", "validation MI"),
        curve_valid_au=_figure("curve_valid_au", "Training curves", "validation AU"),
        pdf=[f"{FIGURES}/{{decoder}}/{stem}.pdf" for stem in FIGURE_STEMS["dataset_decoder"]],
    params:
        output_dir=parent_of_output("kl_per_dim"),
        methods=setting_methods,
    log:
        "results/{experiment}/logs/figures/{dataset}/{decoder}.log",
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    shell:
        "{VAE_TFP} figures --summary {input.summary:q} --dataset {wildcards.dataset:q}"
        " --decoder {wildcards.decoder:q} --methods {params.methods} --no-images"
        " --output-dir {params.output_dir:q} 2> {log:q}"


rule rate_distortion:
    input:
        summary=rules.aggregate.output.csv,
    output:
        png=report(
            f"{FIGURES}/rate_distortion.png",
            caption="../report/rate_distortion.rst",
            category="{dataset}",
            subcategory="Rate-distortion plane",
            labels={"decoder": "all", "figure": "rate-distortion plane"},
        ),
        pdf=f"{FIGURES}/rate_distortion.pdf",
    params:
        output_dir=parent_of_output("png"),
        methods=dataset_methods,
        decoders=dataset_decoders,
    log:
        "results/{experiment}/logs/figures/{dataset}/rate_distortion.log",
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    shell:
        "{VAE_TFP} rate-distortion --summary {input.summary:q} --dataset {wildcards.dataset:q}"
        " --methods {params.methods} --decoders {params.decoders}"
        " --output-dir {params.output_dir:q} 2> {log:q}"


# The samples of one run per dataset x decoder x method (the first seed of the config):
# image grids for binary images, a text file of sentences for token data.
SAMPLES = f"results/{{experiment}}/runs/{{dataset}}/{{decoder}}/{{method}}/seed{SAMPLE_SEED}/samples.npz"


def samples_title(wildcards):
    """The title of a run's samples: dataset x decoder x method and the seed shown."""
    return f"{wildcards.dataset} × {wildcards.decoder} × {wildcards.method}, seed {SAMPLE_SEED}"


rule image_samples:
    input:
        samples=SAMPLES,
    output:
        reconstructions=report(
            f"{FIGURES}/{{decoder}}/{{method}}_reconstructions.png",
            caption="../report/reconstructions.rst",
            category="{dataset}",
            subcategory="Samples",
            labels={"decoder": "{decoder}", "figure": "{method}: reconstructions"},
        ),
        prior_samples=report(
            f"{FIGURES}/{{decoder}}/{{method}}_prior_samples.png",
            caption="../report/prior_samples.rst",
            category="{dataset}",
            subcategory="Samples",
            labels={"decoder": "{decoder}", "figure": "{method}: samples from the prior"},
        ),
        pdf=[f"{FIGURES}/{{decoder}}/{{method}}_{stem}.pdf" for stem in FIGURE_STEMS["image"]],
    wildcard_constraints:
        dataset=_one_of(DATASETS_OF_KIND["binary"]),
    params:
        output_dir=parent_of_output("reconstructions"),
        title=samples_title,
    log:
        "results/{experiment}/logs/figures/{dataset}/{decoder}/{method}_samples.log",
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    shell:
        "{VAE_TFP} samples --samples {input.samples:q} --title {params.title:q}"
        " --stem-prefix {wildcards.method}_ --output-dir {params.output_dir:q} 2> {log:q}"


rule sentence_samples:
    input:
        samples=SAMPLES,
    output:
        sentences=report(
            f"{FIGURES}/{{decoder}}/{{method}}_sentences.txt",
            caption="../report/sentences.rst",
            category="{dataset}",
            subcategory="Samples",
            labels={"decoder": "{decoder}", "figure": "{method}: sentences"},
        ),
    wildcard_constraints:
        dataset=_one_of(DATASETS_OF_KIND["tokens"]),
    params:
        output_dir=parent_of_output("sentences"),
        title=samples_title,
    log:
        "results/{experiment}/logs/figures/{dataset}/{decoder}/{method}_sentences.log",
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    shell:
        "{VAE_TFP} samples --samples {input.samples:q} --title {params.title:q}"
        " --stem-prefix {wildcards.method}_ --output-dir {params.output_dir:q} 2> {log:q}"


def report_targets(experiment):
    """Every table and figure of the experiment: what `rule all` asks for."""
    tables = f"results/{experiment}/tables"
    targets = [f"{tables}/{name}" for name in ("statistics.html", "runs_long.csv")]
    targets += [f"{tables}/datasets/{dataset}.html" for dataset in GRID_DATASETS]
    for dataset in GRID_DATASETS:
        targets.append(f"results/{experiment}/figures/{dataset}/rate_distortion.png")
    for dataset, decoder in SETTINGS:
        folder = f"results/{experiment}/figures/{dataset}/{decoder}"
        targets.append(f"{folder}/kl_per_dim.png")
        suffix = {"binary": "reconstructions.png", "tokens": "sentences.txt"}.get(
            dataset_kind(dataset)
        )
        if suffix:
            targets += [f"{folder}/{m}_{suffix}" for m in SETTING_METHODS[(dataset, decoder)]]
    return targets
