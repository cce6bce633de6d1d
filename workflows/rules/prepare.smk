# Stage 1: build a dataset once per experiment (synthetic data and splits fixed by data_seed).
# Real datasets are read from the download cache (fetched once, verified at every use).


rule prepare:
    input:
        plugins=dataset_plugin_files,
    output:
        data="results/{experiment}/data/{dataset}.npz",
    params:
        options=dataset_options_json,
    log:
        "results/{experiment}/logs/prepare/{dataset}.log",
    benchmark:
        "results/{experiment}/benchmarks/prepare/{dataset}.tsv"
    # Data preparation is single-threaded NumPy work.
    threads: 1
    resources:
        mem_mb=2000,
        runtime=30,
    conda:
        "../../environment.yml"
    shell:
        "python -m vae_tfp prepare --dataset {wildcards.dataset:q} --options-json {params.options:q}"
        " --output {output.data:q} 2> {log:q}"
