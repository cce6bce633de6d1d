# Stage 4: the tables of the experiment from its run folders (vae_tfp/report/). `aggregate`
# reads every metrics.json: one row per run in the config's order, baseline first, with
# the code versions at training and evaluation (summary.csv), one row per run x latent
# dimension with its collapse verdict (units.csv), and one row per run x metric
# (runs_long.csv). Rows from different code versions or a dirty tree are marked, or refused
# (config report.code_versions). The per-dataset tables and the statistics over seeds are
# drawn from summary.csv.


rule aggregate:
    input:
        metrics=experiment_metrics,
    output:
        csv="results/{experiment}/tables/summary.csv",
        md="results/{experiment}/tables/summary.md",
        tex="results/{experiment}/tables/summary.tex",
        units="results/{experiment}/tables/units.csv",
        long=report(
            "results/{experiment}/tables/runs_long.csv",
            caption="../report/runs_long.rst",
            category="All datasets",
            subcategory="Tables",
            labels={"table": "every run x metric (long CSV)"},
        ),
    params:
        output_dir=parent_of_output("csv"),
        order=ORDER_JSON,
        baseline=BASELINE,
        informative_mi=INFORMATIVE_MI_OPTION,
        code_versions=CODE_VERSIONS,
    log:
        "results/{experiment}/logs/aggregate.log",
    benchmark:
        "results/{experiment}/benchmarks/aggregate.tsv"
    # Reading JSON files and writing tables is single-threaded pandas work.
    threads: 1
    resources:
        mem_mb=2000,
        runtime=30,
    conda:
        "../../environment.yml"
    shell:
        "python -m vae_tfp aggregate --output-dir {params.output_dir:q} --order-json {params.order:q}"
        " --baseline {params.baseline:q} {params.informative_mi}"
        " --code-versions {params.code_versions} {input.metrics:q} 2> {log:q}"


rule dataset_table:
    input:
        summary=rules.aggregate.output.csv,
    output:
        md="results/{experiment}/tables/datasets/{dataset}.md",
        tex="results/{experiment}/tables/datasets/{dataset}.tex",
        csv="results/{experiment}/tables/datasets/{dataset}.csv",
        html=report(
            "results/{experiment}/tables/datasets/{dataset}.html",
            caption="../report/dataset_table.rst",
            category="{dataset}",
            subcategory="Tables",
            labels={"table": "{dataset}: mean ± std over seeds"},
        ),
    params:
        output_dir=parent_of_output("md"),
        published=PUBLISHED_OPTION,
        differences=lambda wildcards: json.dumps(PROTOCOL_DIFFERENCES.get(wildcards.dataset, [])),
    log:
        "results/{experiment}/logs/dataset_table/{dataset}.log",
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    conda:
        "../../environment.yml"
    shell:
        "python -m vae_tfp dataset-table --summary {input.summary:q} --dataset {wildcards.dataset:q}"
        " --output-dir {params.output_dir:q} {params.published}"
        " --protocol-differences-json {params.differences:q} 2> {log:q}"


rule statistics:
    input:
        summary=rules.aggregate.output.csv,
    output:
        md="results/{experiment}/tables/statistics.md",
        tex="results/{experiment}/tables/statistics.tex",
        csv="results/{experiment}/tables/statistics.csv",
        html=report(
            "results/{experiment}/tables/statistics.html",
            caption="../report/statistics.rst",
            category="All datasets",
            subcategory="Tables",
            labels={"table": "95% intervals and paired comparisons"},
        ),
    params:
        output_dir=parent_of_output("md"),
        baseline=BASELINE,
    log:
        "results/{experiment}/logs/statistics.log",
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    conda:
        "../../environment.yml"
    shell:
        "python -m vae_tfp statistics --summary {input.summary:q} --baseline {params.baseline:q}"
        " --output-dir {params.output_dir:q} 2> {log:q}"


# The reproduction table, when the experiment names published rows (`reproduce`): the
# suite's numbers from summary.csv beside the published ones, with sources and tolerances.
rule reproduction:
    input:
        summary=rules.aggregate.output.csv,
        published=config.get("published", []),
    output:
        csv="results/{experiment}/tables/reproduction.csv",
        md="results/{experiment}/tables/reproduction.md",
        tex="results/{experiment}/tables/reproduction.tex",
    params:
        output_dir=parent_of_output("csv"),
        reproduce=json.dumps(config.get("reproduce", [])),
    log:
        "results/{experiment}/logs/reproduction.log",
    benchmark:
        "results/{experiment}/benchmarks/reproduction.tsv"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    conda:
        "../../environment.yml"
    shell:
        "python -m vae_tfp reproduction --summary {input.summary:q} --published {input.published:q}"
        " --reproduce-json {params.reproduce:q} --output-dir {params.output_dir:q} 2> {log:q}"


# The ablation table, when the experiment asks for one (`ablation`): one row per run with
# the options in which its cell differs and the validation AU at the listed epochs.
rule ablation:
    input:
        metrics=experiment_metrics,
    output:
        csv="results/{experiment}/tables/ablation.csv",
        md="results/{experiment}/tables/ablation.md",
    params:
        output_dir=parent_of_output("csv"),
        epochs=",".join(str(e) for e in config.get("ablation", {}).get("epochs", [])),
    log:
        "results/{experiment}/logs/ablation.log",
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    conda:
        "../../environment.yml"
    shell:
        "python -m vae_tfp ablation --output-dir {params.output_dir:q} --epochs {params.epochs}"
        " {input.metrics:q} 2> {log:q}"
