# Two commands on a fresh machine with Python 3.11+: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export PREFECT_SERVER_ANALYTICS_ENABLED ?= false
export NO_ALBUMENTATIONS_UPDATE ?= 1

# Deployments (deployments/prefect.yaml) against a local Prefect server on PREFECT_PORT:
#   make server              terminal 1: the server and its UI (http://127.0.0.1:4200;
#                            another port: make server PREFECT_PORT=4311, and the same
#                            PREFECT_PORT for deploy, worker and serve)
#   make deploy worker       terminal 2: a process work pool, the deployments, a worker
#   make serve               or instead of deploy + worker: serve them all from one process
PREFECT_PORT ?= 4200
LOCAL_API := http://127.0.0.1:$(PREFECT_PORT)/api
POOL ?= rebalance

.PHONY: install demo test test-browser lint bench docs clean server deploy worker serve

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
	$(BIN)/python demo/make_digits.py
	$(BIN)/rebalance run configs/digits.yaml
	$(BIN)/rebalance run configs/tickets.yaml
	@$(BIN)/python demo/where_to_look.py configs/loans.yaml configs/digits.yaml configs/tickets.yaml

# ruff, then the packages' layering (import-linter contracts in pyproject.toml).
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

test: lint
	$(BIN)/python -m pytest

# The browser test drives the Prefect UI in Debian's chromium (.ci/run installs it).
test-browser: install
	$(BIN)/python -m pytest -m browser

# The UI asks its API at PREFECT_SERVER_UI_API_URL, which otherwise defaults to PREFECT_API_URL
# or to port 4200 (PREFECT_SERVER_API_PORT), not to --port: set it from the port served.
server: install
	PREFECT_SERVER_UI_API_URL=$(LOCAL_API) $(BIN)/prefect server start --host 127.0.0.1 \
		--port $(PREFECT_PORT)

deploy: install
	PREFECT_API_URL=$(LOCAL_API) $(BIN)/prefect work-pool create $(POOL) --type process --overwrite
	PREFECT_API_URL=$(LOCAL_API) $(BIN)/prefect --no-prompt deploy --all \
		--prefect-file deployments/prefect.yaml

worker: install
	PREFECT_API_URL=$(LOCAL_API) $(BIN)/prefect worker start --pool $(POOL)

serve: install
	PREFECT_API_URL=$(LOCAL_API) $(BIN)/rebalance serve

# Every benchmarks/*.py script (not the _-prefixed helpers), each against its baseline in
# the same run; each prints its sizes, the machine and its ratios. Add a modality's
# benchmark as one more script there. BENCH_FULL=1 make bench adds the sizes left out to stay
# under 20 minutes (1M rows for SMOTENC and the sampler profile, 10M rows streamed SMOTE).
bench: install
	@set -e; started=$$(date +%s); for script in benchmarks/[!_]*.py; do \
		echo; echo "### $$script"; begun=$$(date +%s); $(BIN)/python $$script; \
		echo "### $$script took $$(( $$(date +%s) - begun )) s"; \
	done; \
	echo; echo "### make bench: every script in $$(( $$(date +%s) - started )) s (target: under 1200 s)"

# docs/config.md from the config models' field descriptions (tests/test_docs.py fails when the
# two disagree).
docs: install
	$(BIN)/python -m rebalance.config.reference

clean:
	rm -rf $(VENV) outputs
