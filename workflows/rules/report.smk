# Stage 5: figures from the run folders and summary.csv (vae_tfp/report/figures*.py), each
# registered for the HTML report (`make report`) with a caption from workflows/report/,
# under its dataset and the kind of figure.


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
    conda:
        "../../environment.yml"
    shell:
        "python -m vae_tfp figures --summary {input.summary:q} --dataset {wildcards.dataset:q}"
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
    conda:
        "../../environment.yml"
    shell:
        "python -m vae_tfp rate-distortion --summary {input.summary:q} --dataset {wildcards.dataset:q}"
        " --methods {params.methods} --decoders {params.decoders}"
        " --output-dir {params.output_dir:q} 2> {log:q}"


# The samples of one run per dataset x decoder x method (the first seed of the config):
# image grids for binary images, a text file of sentences for token data.
SAMPLES = f"{RUNS_ROOT}/{{dataset}}/{{decoder}}/{{method}}/seed{SAMPLE_SEED}/samples.npz"


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
    conda:
        "../../environment.yml"
    shell:
        "python -m vae_tfp samples --samples {input.samples:q} --title {params.title:q}"
        " --stem-prefix {wildcards.method}_ --output-dir {params.output_dir:q} 2> {log:q}"


rule sentence_samples:
    input:
        samples=SAMPLES,
    output:
        sentences=f"{FIGURES}/{{decoder}}/{{method}}_sentences.txt",
        page=report(
            f"{FIGURES}/{{decoder}}/{{method}}_sentences.html",
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
    conda:
        "../../environment.yml"
    shell:
        "python -m vae_tfp samples --samples {input.samples:q} --title {params.title:q}"
        " --stem-prefix {wildcards.method}_ --output-dir {params.output_dir:q} 2> {log:q}"


# The landing page of the HTML report: workflows/report/workflow.rst and the code versions
# the runs came from, with a warning when they are mixed (the Snakefile's `report:` reads
# it once written).
rule landing_page:
    input:
        summary=rules.aggregate.output.csv,
        template=os.path.join(workflow.basedir, "workflows", "report", "workflow.rst"),
    output:
        LANDING_PAGE,
    params:
        differences=json.dumps(PROTOCOL_DIFFERENCES),
    log:
        "results/{experiment}/logs/landing_page.log",
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    conda:
        "../../environment.yml"
    shell:
        "python -m vae_tfp landing-page --summary {input.summary:q} --template {input.template:q}"
        " --output {output:q} --protocol-differences-json {params.differences:q} 2> {log:q}"
