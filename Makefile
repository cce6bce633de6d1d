# make run            run the embedded default experiment (snakemake --cores all; CORES=8 to
#                     set another count)
# make test           run the test suite (the slow end-to-end Snakemake test included)
# make test-cluster   bring up a loopback SLURM (root; installs slurm-wlm with apt-get when
#                     missing) and run a tiny grid through the SLURM profile; skips elsewhere
# make lint           ruff on the Python code (tests included)
# make clean-results  delete everything under results/ except its README
#
# `run`, `test` and `lint` first create .venv, or refresh it when pyproject.toml is newer
# than the stamp file of the last install.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-from-pyproject
# --cores all (one job per core, one TensorFlow thread each) ran the embedded default in
# 514 s on 2 cores against 596 s for --cores 8 (8 jobs sharing 2 cores): README.
CORES ?= all

.PHONY: run test test-cluster lint clean-results venv

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -e '.[test]'
	touch $@

run: $(STAMP)
	$(BIN)/snakemake --cores $(CORES)

test: $(STAMP)
	$(BIN)/python -m pytest

test-cluster: $(STAMP)
	$(BIN)/python -m pytest -m cluster tests/test_cluster.py

lint: $(STAMP)
	$(BIN)/ruff check .

clean-results:
	find results -mindepth 1 -maxdepth 1 ! -name README.md -exec rm -rf {} +
