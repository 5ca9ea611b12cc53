# Two commands on a fresh machine with Python 3.11+: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export PREFECT_SERVER_ANALYTICS_ENABLED ?= false
export NO_ALBUMENTATIONS_UPDATE ?= 1

.PHONY: install demo test lint bench clean

install: $(STAMP)

# Reinstall when the dependencies change. The constraints file pins every package, torch
# to the CPU build on this machine's disk (an open range would download a CUDA build).
$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "rebalance needs Python 3.11 or newer: set PYTHON=python3.11"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

demo: install
	$(BIN)/rebalance run configs/loans.yaml

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: lint
	$(BIN)/python -m pytest

# Every benchmarks/*.py script (not the _-prefixed helpers), each against its baseline in
# the same run; each prints its sizes, the machine and its ratios. Add a modality's
# benchmark as one more script there.
bench: install
	@set -e; for script in benchmarks/[!_]*.py; do \
		echo; echo "### $$script"; $(BIN)/python $$script; \
	done

clean:
	rm -rf $(VENV) outputs
