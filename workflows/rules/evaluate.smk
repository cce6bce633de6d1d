# Stage 3: evaluate the run's selected checkpoint on the test split.


rule evaluate:
    input:
        data=rules.prepare.output.data,
        run_config=rules.train.output.run_config,
        checkpoint=rules.train.output.checkpoint,
    output:
        metrics="results/{experiment}/runs/{dataset}/{decoder}/{method}/seed{seed}/metrics.json",
        # What the report shows of the model: image reconstructions and prior samples, or
        # sentences (vae_tfp/evaluation/samples.py).
        samples="results/{experiment}/runs/{dataset}/{decoder}/{method}/seed{seed}/samples.npz",
    params:
        run_dir=parent_of_output("metrics"),
        evaluation=evaluation_json,
    log:
        "results/{experiment}/runs/{dataset}/{decoder}/{method}/seed{seed}/evaluate.log",
    benchmark:
        "results/{experiment}/benchmarks/evaluate/{dataset}/{decoder}/{method}/seed{seed}.tsv"
    threads: THREADS
    resources:
        mem_mb=JOB_RESOURCES["evaluate"]["mem_mb"],
        runtime=JOB_RESOURCES["evaluate"]["runtime"],
        gpu=gpus,
    conda:
        "../../environment.yml"
    shell:
        "python -m vae_tfp evaluate --run-dir {params.run_dir:q} --data {input.data:q}"
        " --evaluation-json {params.evaluation:q} --threads {threads} --gpus {resources.gpu} 2> {log:q}"
