# vae-tfp: a benchmark of posterior collapse in VAEs.
#
#   snakemake --cores 8                                   # the embedded default experiment
#   snakemake --cores 8 --configfile config/paper.yaml    # another experiment
#   snakemake --profile workflows/profiles/default        # the settings of the default profile
#
# Each run (dataset x decoder variant x method variant x seed) is one train job and one
# evaluate job; their outputs grow the tree
#   results/{experiment}/runs/{dataset}/{decoder}/{method}/seed{seed}/
# and `rule all` asks for the experiment's tables in results/{experiment}/tables/.

import os

from snakemake.utils import min_version

min_version("9.0")


# The embedded default experiment, next to this Snakefile (so `--directory` works too). A
# config given with --configfile replaces it instead of being merged into it: merging would
# leak the default's datasets, variants and per-dataset overrides into another experiment.
if not workflow.overwrite_configfiles:

    configfile: os.path.join(workflow.basedir, "config", "config.yaml")


# Jobs get the interpreter's folder first on PATH (workflows/rules/common.smk).
envvars:
    "PATH",


include: "workflows/rules/common.smk"
include: "workflows/rules/prepare.smk"
include: "workflows/rules/train.smk"
include: "workflows/rules/evaluate.smk"
include: "workflows/rules/aggregate.smk"
include: "workflows/rules/report.smk"


# The landing page of the HTML report (`make report`): what the metrics mean, and the code
# versions the runs came from (written by rule landing_page; the static text before that).
report: landing_page(EXPERIMENT)


rule all:
    default_target: True
    input:
        expand(rules.aggregate.output, experiment=EXPERIMENT),
        report_targets(EXPERIMENT),
        expand(rules.reproduction.output, experiment=EXPERIMENT) if "reproduce" in config else [],
        expand(rules.ablation.output, experiment=EXPERIMENT) if "ablation" in config else [],
