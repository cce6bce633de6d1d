# Stage 2: train one run (dataset x decoder variant x method variant x seed).


rule train:
    input:
        data=rules.prepare.output.data,
        plugins=run_plugin_files,
        pretrained=pretraining_input,
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


# The separate pretraining run a method with a `pretrain_run` part starts from (Li et al.
# 2019's text_beta.py --beta 0 before text_anneal_fb.py --load_path --reset_dec): the run's
# own config with an autoencoder's method, in the run's pretrain/ folder.
use rule train as pretrain with:
    input:
        data=rules.prepare.output.data,
        plugins=run_plugin_files,
    output:
        history="results/{experiment}/runs/{dataset}/{decoder}/{method}/seed{seed}/pretrain/history.csv",
        checkpoint=directory(
            "results/{experiment}/runs/{dataset}/{decoder}/{method}/seed{seed}/pretrain/checkpoint"
        ),
    params:
        run_config=pretraining_config_json,
        run_dir=parent_of_output("history"),
    log:
        "results/{experiment}/runs/{dataset}/{decoder}/{method}/seed{seed}/pretrain/train.log",
    benchmark:
        "results/{experiment}/benchmarks/pretrain/{dataset}/{decoder}/{method}/seed{seed}.tsv"
