# workbench: `make help` lists the targets. Every target sets up .venv when it is missing.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help setup demo test test-fast lab lint format samples bench clean

help: ## Show this help
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-10s\033[0m %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "Python 3.11 is required, found " + sys.version' 
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP) ## Create .venv and install the package with its dev tools (torch 2.13.0 CPU first)

demo: $(STAMP) ## The main job: store, sample data, training, scoring, reports (prints the index path)
	$(BIN)/wb demo

test: $(STAMP) ## Run the whole test suite (both store backends, slow tests included)
	$(BIN)/pytest

test-fast: $(STAMP) ## Run the tests not marked slow
	$(BIN)/pytest -m "not slow"

lab: $(STAMP) ## Start JupyterLab with the project's environment as its kernel
	$(BIN)/python -m ipykernel install --sys-prefix --name workbench --display-name "workbench (.venv)"
	$(BIN)/jupyter lab --notebook-dir=notebooks $(if $(filter 0,$(shell id -u)),--allow-root)

lint: $(STAMP) ## ruff lint and format check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP) ## Apply ruff fixes and formatting
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

samples: $(STAMP) ## Regenerate data_samples/ (identical output for the same code)
	$(BIN)/python -m workbench.samples

bench: $(STAMP) ## Run the benchmarks (see bench/README.md for sizes)
	$(BIN)/python bench/store_bench.py

clean: ## Remove the embedded warehouse, reports and models (keeps .venv)
	rm -rf .warehouse reports/*/ reports/index.html models
