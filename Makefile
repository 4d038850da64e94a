# The README's commands. Every target sets up what it needs (venv, pinned packages, data).
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
SCALE ?=
SEEDS ?=
ARGS ?=
FORCE ?= 0
LAUNCHER ?=
ABLATE = $(PY) -m inception_repro.ablate $(if $(SCALE),--scale $(SCALE)) $(if $(SEEDS),--seeds $(SEEDS)) $(if $(filter 1,$(FORCE)),--force) $(if $(LAUNCHER),--launcher $(LAUNCHER)) $(if $(ARGS),-- $(ARGS))

.PHONY: setup test costs ablations ablation-aux ablation-label-smoothing ablation-resolution \
        ablation-factorization ablation-optimizer ablation-table3 notebooks lab report wandb-sync bench bench-gpu clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	$(PY) -m ipykernel install --sys-prefix --name inception-repro --display-name "inception-repro" >/dev/null
	@touch $(STAMP)

test: $(STAMP)
	$(PY) -m pytest

costs: $(STAMP)
	$(PY) -m inception_repro.models.cost_table

ablation-aux: $(STAMP)
	$(ABLATE) aux
ablation-label-smoothing: $(STAMP)
	$(ABLATE) label_smoothing
ablation-resolution: $(STAMP)
	$(ABLATE) resolution
ablation-factorization: $(STAMP)
	$(ABLATE) factorization
ablation-optimizer: $(STAMP)
	$(ABLATE) optimizer
ablation-table3: $(STAMP)
	$(ABLATE) table3
ablations: ablation-aux ablation-label-smoothing ablation-resolution ablation-factorization ablation-optimizer ablation-table3

clean:
	rm -rf $(VENV) data .pytest_cache

# CPU benchmarks (7 minutes on 2 shared cores): results/bench/cpu.json
bench: $(STAMP)
	$(PY) -m inception_repro.bench.cpu

wandb-sync: $(STAMP)
	@shopt -s nullglob; runs=(results/runs/*/*/seed*/wandb/offline-run-*); \
	if [ $${#runs[@]} -eq 0 ]; then echo "no offline W&B runs under results/runs"; else $(VENV)/bin/wandb sync "$${runs[@]}"; fi

# Notebooks (notebooks/NN_*.ipynb) run in place with papermill on the kernel $(STAMP) registers,
# so their saved outputs show on GitHub; they write results/tables and results/figures and read
# results/tables/model_costs.csv if `make costs` wrote it.
notebooks: $(STAMP)
	@for nb in notebooks/[0-9][0-9]_*.ipynb; do echo "papermill $$nb"; \
	  $(VENV)/bin/papermill --kernel inception-repro --no-progress-bar --log-level WARNING \
	    $(if $(SCALE),-p scale $(SCALE)) "$$nb" "$$nb" || exit 1; done
	$(PY) -m inception_repro.analysis.readme_results

lab: $(STAMP)
	$(VENV)/bin/jupyter lab --notebook-dir=notebooks

report: $(STAMP)
	$(PY) -m inception_repro.analysis.wandb_reports $(if $(SCALE),--scale $(SCALE))

# The real Lightning training step on one GPU (<= 8 min on an H200; docs/benchmarks.md): results/bench/gpu.json.
bench-gpu: $(STAMP)
	$(PY) -m inception_repro.bench.gpu --out results/bench/gpu.json --source-commit $$(git rev-parse --short HEAD)
