# The README's commands. Every target sets up what it needs (venv, pinned packages, data).
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
SCALE ?=
SEEDS ?=
# Runs trained at once, one worker process each (default: one per core at the cpu scale).
JOBS ?=
ARGS ?=
FORCE ?= 0
RETRY_FAILED ?= 0
LAUNCHER ?=
# Where runs are written: local (default) = results/local, git-ignored, your own runs, compared at the
# end of a grid with the committed study; study = results/, the committed study the notebooks read.
STORE ?=
$(foreach v,FORCE RETRY_FAILED,$(if $(filter-out 0 1,$($(v))),$(error error: $(v)=$($(v)) is not allowed; use $(v)=1 or leave it unset)))
# $(call ABLATE,<ablation>): the ablation first, then the options, then ARGS (config overrides) after '--'.
ABLATE = $(PY) -m inception_repro.ablate $(1) $(if $(SCALE),--scale $(SCALE)) $(if $(SEEDS),--seeds $(SEEDS)) $(if $(JOBS),--jobs $(JOBS)) \
	$(if $(STORE),--store $(STORE)) $(if $(filter 1,$(FORCE)),--force) $(if $(filter 1,$(RETRY_FAILED)),--retry-failed) \
	$(if $(LAUNCHER),--launcher $(LAUNCHER)) $(if $(ARGS),-- $(ARGS))

# Every configs/ablations/<name>.yaml is an ablation: `make ablation-<name>` ('_' written '-') trains its grid
# (a pattern rule, so not .PHONY: make skips pattern rules for phony targets).

.PHONY: setup data smoke test coverage test-nodata costs ablations notebooks lab report wandb-push wandb-sync \
        bench bench-gpu probe clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	$(PY) -m ipykernel install --sys-prefix --name inception-repro --display-name "inception-repro" >/dev/null
	@touch $(STAMP)

# Fashion-MNIST: already there, else Debian's package (root + apt), else torchvision's download;
# one error line naming data.root when none works (inception_repro/data/provide.py). Only the
# data.* overrides of ARGS reach it.
data: $(STAMP)
	@$(PY) -m inception_repro.data.provide $(filter data.%,$(ARGS))

# Every test; those that need Fashion-MNIST fail (never skip) without it. ARGS go to pytest.
test: $(STAMP) data
	$(PY) -m pytest $(ARGS)

# Line coverage of src/ over the whole suite, the subprocesses it starts included (pyproject's [tool.coverage]).
coverage: $(STAMP) data
	$(PY) -m pytest --cov --cov-report=term $(ARGS)

# Only the tests that need no data, when you cannot provide it.
test-nodata: $(STAMP)
	$(PY) -m pytest -m "not fashion_mnist"

# One tiny run end to end (results/local/runs/cpu/adhoc/smoke/seed0), rerun afresh each time.
SMOKE := ablation=adhoc variant=smoke scale=cpu model.width=0.125 data.batch_size=16 data.eval_batch_size=64 \
         data.train_subset=64 data.val_subset=64 data.test_subset=64 trainer.max_epochs=1 logger=none
smoke: $(STAMP) data
	$(PY) -m inception_repro.train --force $(SMOKE) $(ARGS)

costs: $(STAMP)
	$(PY) -m inception_repro.analysis.cost_table

ablation-%: $(STAMP) data
	$(call ABLATE,$(subst -,_,$*))
# The whole study as one grid: every ablation, each config trained once (shared runs), JOBS at a time.
ablations: $(STAMP) data
	$(call ABLATE,all)

clean:
	rm -rf $(VENV) data .pytest_cache

# CPU benchmarks (7 minutes on 2 shared cores): results/bench/cpu.json
bench: $(STAMP)
	$(PY) -m inception_repro.bench.cpu

# Every offline W&B run under results/ (training's and wandb-push's); runs already synced are skipped.
# Probes for choosing the study scale (src/inception_repro/bench/probe.py), in the background:
# seconds per run and paired seed sd per candidate design, results/bench/probes.json after every
# run. `make probe` again resumes it. PROBE=... passes probe options (--design NAME OVERRIDE...).
PROBE ?=
probe: $(STAMP)
	@mkdir -p results/local
	@nohup $(PY) -m inception_repro.bench.probe $(if $(SEEDS),--seeds $(SEEDS)) $(PROBE) $(if $(ARGS),-- $(ARGS)) \
	  > results/local/probe.log 2>&1 & echo "probe running in the background (pid $$!): log results/local/probe.log, results in --out (default results/bench/probes.json)"

wandb-sync: $(STAMP)
	@shopt -s globstar nullglob; runs=(results/**/wandb/offline-run-*); \
	if [ $${#runs[@]} -eq 0 ]; then echo "no offline W&B runs under results/"; else $(VENV)/bin/wandb sync "$${runs[@]}"; fi

# The committed run records -> W&B runs (config, history, summary) without retraining: online when
# wandb finds your login, else offline runs that `make wandb-sync` uploads. Pushing twice changes nothing.
wandb-push: $(STAMP)
	$(PY) -m inception_repro.analysis.wandb_push $(if $(SCALE),--scale $(SCALE))

# Notebooks: one per ablation written from its YAML (inception_repro/analysis/notebooks.py), then
# every notebooks/*.ipynb run in place with papermill on the kernel $(STAMP) registers, so their
# saved outputs show on GitHub; they write results/tables and results/figures and read
# results/tables/model_costs.csv if `make costs` wrote it.
notebooks: $(STAMP)
	$(PY) -m inception_repro.analysis.notebooks >/dev/null
	@for nb in notebooks/*.ipynb; do echo "papermill $$nb"; \
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
