# Stage 4: one table of all runs of the experiment (one row per run, mean +- std over seeds).


rule aggregate:
    input:
        metrics=experiment_metrics,
    output:
        csv="results/{experiment}/tables/summary.csv",
        md="results/{experiment}/tables/summary.md",
        tex="results/{experiment}/tables/summary.tex",
    params:
        output_dir=parent_of_output("csv"),
    log:
        "results/{experiment}/logs/aggregate.log",
    benchmark:
        "results/{experiment}/benchmarks/aggregate.tsv"
    # Reading JSON files and writing tables is single-threaded pandas work.
    threads: 1
    resources:
        mem_mb=2000,
        runtime=30,
    shell:
        "{VAE_TFP} aggregate --output-dir {params.output_dir:q} {input.metrics:q} 2> {log:q}"


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
    shell:
        "{VAE_TFP} reproduction --summary {input.summary:q} --published {input.published:q}"
        " --reproduce-json {params.reproduce:q} --output-dir {params.output_dir:q} 2> {log:q}"
