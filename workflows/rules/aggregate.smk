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
