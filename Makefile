# reportgen: set up, build, render, benchmark and test. `make help` lists the targets.
VENV ?= .venv
PY := $(VENV)/bin/python
# torch 2.14.1 / torchvision 0.29.1 are the tested pair (on this project's machines they install from disk).
TORCH ?= torch==2.14.1 torchvision==0.29.1
ARGS ?=
BUNDLE ?= artifacts/quick
# The fast tier runs its test files in this many processes (pytest-xdist; 1 runs them in this process).
TEST_WORKERS ?= 2

.PHONY: help setup quick quick-study study build render bench lint test test-fast test-e2e gpu-check clean

help:  ## list the targets
	@grep -E '^[a-z][a-z0-9-]*:.*##' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

setup: $(VENV)/.installed  ## create .venv and install reportgen with its test tools

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet $(TORCH)
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $@

quick: setup  ## offline demo: train both models on the bundled sample, write artifacts/quick
	$(VENV)/bin/reportgen build --preset quick $(ARGS)

quick-study: setup  ## offline: the study's experiments on the bundled sample (about 11 min on 2 CPU cores)
	$(VENV)/bin/reportgen build --preset quick-study $(ARGS)

study: setup  ## the seed protocol and its experiments on CIFAR-10 (about 3.9 times a build's training; a GPU)
	$(VENV)/bin/reportgen build --preset study $(ARGS)

build: setup  ## the seed study's full protocol (80 epochs on CIFAR-10; a GPU is recommended)
	$(VENV)/bin/reportgen build $(ARGS)

render: setup  ## re-render the report of BUNDLE (default artifacts/quick) without training
	$(VENV)/bin/reportgen render $(BUNDLE)

bench: setup  ## compare the seed's input pipeline and training with reportgen's on this machine
	$(VENV)/bin/reportgen bench $(ARGS)

lint: setup  ## ruff check of the code and the tests
	$(VENV)/bin/ruff check reportgen tests

test: test-fast test-e2e  ## run the whole test suite, both tiers (CPU; docs/testing.md says how long)

test-fast: setup  ## the fast tier: unit, section and in-process build tests (pytest -m "not e2e", TEST_WORKERS files at a time)
	$(PY) -m pytest -q -m "not e2e" $(if $(filter-out 1,$(TEST_WORKERS)),-n $(TEST_WORKERS) --dist loadfile)

test-e2e: setup  ## the end-to-end tier: real reportgen processes, DDP, signals (pytest -m e2e)
	$(PY) -m pytest -q -m e2e

docs: setup  ## regenerate docs/configuration-reference.md from the config's field docstrings
	$(PY) -m reportgen.configdoc > docs/configuration-reference.md

gpu-check:  ## on a GPU machine: the 80-epoch seed build against its goals, CUDA tests, quick study, bench (ARGS='--out DIR')
	python3 scripts/gpu-check $(ARGS)

clean:  ## remove the virtual environment and build outputs (not the artifacts)
	rm -rf $(VENV) build *.egg-info .pytest_cache
