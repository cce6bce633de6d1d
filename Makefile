# make run            run the embedded default experiment (snakemake --cores all; CORES=8 to
#                     set another count)
# make test           run the test suite (the slow end-to-end Snakemake test included) on
#                     one pytest-xdist worker per logical CPU (TEST_WORKERS=0: in one process)
# make test-cluster   install the SLURM executor plugin (the `slurm` extra, pinned in
#                     requirements/lock-slurm.txt), bring up a loopback SLURM (root; installs
#                     slurm-wlm with apt-get when missing) and run a tiny grid through the
#                     SLURM profile (and plan one with it: tests/test_workflow.py); skips elsewhere
# make test-checks    compile the LaTeX tables with pdflatex and render a page (root; installs
#                     texlive-latex-recommended and poppler-utils with apt-get when missing)
# make report         the HTML report of the last experiment run (EXPERIMENT=embedded;
#                     CONFIG=path for another config): snakemake --report
# make reproduce      the reproduction experiment (config/reproduce.yaml; hours of CPU,
#                     resumes where it stopped), then its table copied to
#                     docs/reproduction-table.md, embedded in docs/reproduction.md and its
#                     rows that ran in README.md
# make ptb            Penn Treebank under Li et al. 2019's protocol (config/ptb.yaml: 7 runs
#                     of hours each on 2 cores; resumes where it stopped), then its table
#                     embedded in docs/reproduction.md, an excerpt in README.md, and its
#                     HTML report in results/ptb-li2019/report.html
# make ptb-interim    while those runs are under way: copies the evaluated runs' records
#                     (metrics, history, config, logs; no weights) to records/ptb-li2019,
#                     which is committed, and embeds in docs/reproduction.md the table of
#                     every run recorded so far, on this machine or an earlier one (its
#                     caption names the runs still missing); trains nothing
# make ptb-report     once every run is recorded, on whatever machines: what `make ptb`
#                     writes (the tables, README excerpt and HTML report), built from
#                     records/ptb-li2019 (config run_records); trains and evaluates nothing
# make real-small     binarized MNIST and short PTB sentences with small models
#                     (config/real-small.yaml: 10 runs, minutes on 2 cores), then its two
#                     tables embedded in docs/datasets.md
# make au-ablation    the active-unit ablation (config/au-ablation.yaml: 8 runs of 121
#                     epochs, about an hour on 2 cores), then its table embedded in
#                     docs/reproduction.md
# make lint           ruff on the Python code (tests included)
# make lock           refresh requirements/lock.txt (dependencies + `test` extra) and
#                     requirements/lock-slurm.txt (+ `slurm` extra) from pyproject.toml with
#                     `uv pip compile` (uv installed into .lock-tools/): run it after editing
#                     pyproject.toml; it keeps every pin it can. `make lock UPGRADE=1` moves
#                     every package to its newest release within pyproject.toml's ranges (then
#                     run `make test` and regenerate the numbers the README cites)
# make clean-results  delete everything under results/ except its README
#
# `run`, `test` and `lint` first create .venv and install into it the exact versions of
# requirements/lock.txt (the environment the README's numbers come from: CPython 3.11 on
# x86_64 Linux), then the package itself without dependencies; they reinstall when the lock
# file or pyproject.toml is newer than the stamp file of the last install. pyproject.toml
# keeps version ranges, for `pip install -e .` into an environment of your own.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-from-lock
SLURM_STAMP := $(VENV)/.installed-slurm-lock
LOCK := requirements/lock.txt
SLURM_LOCK := requirements/lock-slurm.txt
# --cores all (one job per core, one TensorFlow thread each) ran the embedded default faster
# on 2 cores than --cores 8 (8 jobs sharing 2 cores): docs/performance.md.
CORES ?= all
# pytest-xdist workers of `make test` (logical: one per logical CPU, as nproc counts them);
# tests sharing a module fixture that runs a pipeline are one xdist_group, so one worker
# runs it (--dist loadgroup).
TEST_WORKERS ?= logical

.PHONY: run test test-cluster test-checks report reproduce ptb ptb-interim ptb-report real-small au-ablation lint lock clean-results venv

venv: $(STAMP)

$(STAMP): $(LOCK) pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -r $(LOCK)
	$(BIN)/python -m pip install --no-deps -e .
	$(BIN)/python -m pip check
	touch $@

# The cluster test's extra on top of the locked environment, at the same pins.
$(SLURM_STAMP): $(SLURM_LOCK) $(STAMP)
	$(BIN)/python -m pip install -r $(SLURM_LOCK)
	touch $@

# The lock files: what `make` installs. uv resolves for CPython 3.11 on x86_64 Linux
# whatever machine runs it, preferring the versions already pinned (UPGRADE=1: the newest).
UV_VERSION := 0.13.9
LOCK_TOOLS := .lock-tools
UV := $(LOCK_TOOLS)/bin/uv
LOCK_FLAGS := --python-version 3.11 --python-platform x86_64-unknown-linux-gnu \
	--custom-compile-command 'make lock' $(if $(UPGRADE),--upgrade)

$(UV):
	$(PYTHON) -m venv $(LOCK_TOOLS)
	$(LOCK_TOOLS)/bin/python -m pip install uv==$(UV_VERSION)

lock: $(UV)
	$(UV) pip compile pyproject.toml --extra test $(LOCK_FLAGS) -o $(LOCK)
	$(UV) pip compile pyproject.toml --extra test --extra slurm -c $(LOCK) $(LOCK_FLAGS) \
		-o $(SLURM_LOCK)

run: $(STAMP)
	$(BIN)/snakemake --cores $(CORES)

test: $(STAMP)
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadgroup

test-cluster: $(SLURM_STAMP)
	$(BIN)/python -m pytest -m cluster tests/test_cluster.py tests/test_workflow.py

test-checks: $(STAMP)
	$(BIN)/python -m pytest -m checks tests/test_latex.py

# The report of results/$(EXPERIMENT), built from the run folders by snakemake --report.
EXPERIMENT ?= embedded
CONFIG ?=
report: $(STAMP)
	$(BIN)/snakemake $(if $(CONFIG),--configfile $(CONFIG)) --report results/$(EXPERIMENT)/report.html

# Published numbers under their own protocol (docs/reproduction.md); the generated table is
# committed, as results/ is not.
reproduce: $(STAMP)
	$(BIN)/snakemake --cores $(CORES) --configfile config/reproduce.yaml --rerun-incomplete
	cp results/reproduce/tables/reproduction.md docs/reproduction-table.md
	$(BIN)/python tools/embed_generated.py docs/reproduction.md reproduction-table \
		results/reproduce/tables/reproduction.md
	$(BIN)/python tools/embed_generated.py README.md reproduction-excerpt \
		results/reproduce/tables/reproduction.md --rows '^burda2016-.*-vae-' --drop-columns source

# The final Penn Treebank table, its README excerpt and the HTML report, from the runs
# (make ptb) or from their records (make ptb-report, whose $(1) is --config run_records=...).
define ptb_tables
	$(BIN)/snakemake --cores $(CORES) --configfile config/ptb.yaml $(1) --rerun-incomplete
	$(BIN)/python tools/embed_generated.py docs/reproduction.md ptb-table \
		results/ptb-li2019/tables/datasets/ptb.md
	$(BIN)/python tools/embed_generated.py README.md ptb-excerpt \
		results/ptb-li2019/tables/datasets/ptb.md --rows . \
		--drop-columns decoder,rec,marginal_kl,informative_units
	$(BIN)/snakemake --configfile config/ptb.yaml $(1) --report results/ptb-li2019/report.html
endef

ptb: $(STAMP)
	$(call ptb_tables,)

ptb-report: $(STAMP)
	$(call ptb_tables,--config run_records=records/ptb-li2019)

# The campaign outlives its machines: the evaluated runs' records (no weights) go to
# records/ptb-li2019, committed, and the interim table is built from them.
ptb-interim: $(STAMP)
	if [ -d results/ptb-li2019/runs ]; then $(BIN)/python -m vae_tfp record-runs \
		results/ptb-li2019 records/ptb-li2019 --configfile config/ptb.yaml; fi
	$(BIN)/python -m vae_tfp interim-tables records/ptb-li2019 --configfile config/ptb.yaml
	$(BIN)/python tools/embed_generated.py docs/reproduction.md ptb-table \
		records/ptb-li2019/tables/interim/datasets/ptb.md

real-small: $(STAMP)
	$(BIN)/snakemake --cores $(CORES) --configfile config/real-small.yaml --rerun-incomplete
	$(BIN)/python tools/embed_generated.py docs/datasets.md real-small-binarized-mnist \
		results/real-small/tables/datasets/binarized_mnist.md
	$(BIN)/python tools/embed_generated.py docs/datasets.md real-small-ptb \
		results/real-small/tables/datasets/ptb.md

au-ablation: $(STAMP)
	$(BIN)/snakemake --cores $(CORES) --configfile config/au-ablation.yaml --rerun-incomplete
	$(BIN)/python tools/embed_generated.py docs/reproduction.md au-ablation \
		results/au_ablation/tables/ablation.md

lint: $(STAMP)
	$(BIN)/ruff check .

clean-results:
	find results -mindepth 1 -maxdepth 1 ! -name README.md -exec rm -rf {} +
