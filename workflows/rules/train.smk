# Stage 2: train one run (dataset x decoder variant x method variant x seed).


rule train:
    input:
        data=rules.prepare.output.data,
        plugins=run_plugin_files,
    output:
        run_config="results/{experiment}/runs/{dataset}/{decoder}/{method}/seed{seed}/run_config.json",
        history="results/{experiment}/runs/{dataset}/{decoder}/{method}/seed{seed}/history.csv",
        checkpoint=directory(
            "results/{experiment}/runs/{dataset}/{decoder}/{method}/seed{seed}/checkpoint"
        ),
    params:
        run_config=run_config_json,
        run_dir=parent_of_output("run_config"),
    log:
        "results/{experiment}/runs/{dataset}/{decoder}/{method}/seed{seed}/train.log",
    benchmark:
        "results/{experiment}/benchmarks/train/{dataset}/{decoder}/{method}/seed{seed}.tsv"
    threads: THREADS
    resources:
        mem_mb=JOB_RESOURCES["train"]["mem_mb"],
        runtime=JOB_RESOURCES["train"]["runtime"],
        gpu=gpus,
    conda:
        "../../environment.yml"
    shell:
        "python -m vae_tfp train --run-config-json {params.run_config:q} --data {input.data:q}"
        " --run-dir {params.run_dir:q} --threads {threads} --gpus {resources.gpu}"
        " --log {log:q} 2>> {log:q}"
