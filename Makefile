# make run            run the embedded default experiment (snakemake --cores all; CORES=8 to
#                     set another count)
# make test           run the test suite (the slow end-to-end Snakemake test included)
# make test-cluster   bring up a loopback SLURM (root; installs slurm-wlm with apt-get when
#                     missing) and run a tiny grid through the SLURM profile; skips elsewhere
# make test-checks    compile the LaTeX tables with pdflatex and render a page (root; installs
#                     texlive-latex-recommended and poppler-utils with apt-get when missing)
# make report         the HTML report of the last experiment run (EXPERIMENT=embedded;
#                     CONFIG=path for another config): snakemake --report
# make reproduce      the reproduction experiment (config/reproduce.yaml; hours of CPU,
#                     resumes where it stopped), then its table copied to
#                     docs/reproduction-table.md
# make au-ablation    the active-unit ablation (config/au-ablation.yaml: 8 runs of 121
#                     epochs, about an hour on 2 cores), then its table embedded in
#                     docs/reproduction.md
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

.PHONY: run test test-cluster test-checks report reproduce au-ablation lint clean-results venv

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

au-ablation: $(STAMP)
	$(BIN)/snakemake --cores $(CORES) --configfile config/au-ablation.yaml --rerun-incomplete
	$(BIN)/python tools/embed_generated.py docs/reproduction.md au-ablation \
		results/au_ablation/tables/ablation.md

lint: $(STAMP)
	$(BIN)/ruff check .

clean-results:
	find results -mindepth 1 -maxdepth 1 ! -name README.md -exec rm -rf {} +
