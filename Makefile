# Liveline: every target sets up what it needs. State lives in one git-ignored folder.
SHELL := /bin/bash
.DEFAULT_GOAL := help
export LIVELINE_STATE_DIR ?= $(CURDIR)/.state
STATE := $(LIVELINE_STATE_DIR)
VENV := $(STATE)/venv
PY := $(VENV)/bin/python
PYTHON ?= $(shell command -v python3.11 || command -v python3)
STAMP := $(VENV)/.installed

.PHONY: help venv lint format test unit demo dev up down status bench bench-image bench-release bench-prestop test-faults clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

$(STAMP): requirements.txt requirements-bootstrap.txt pyproject.toml Makefile
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else "Liveline needs Python 3.11; set PYTHON=/path/to/python3.11")'
	@echo "==> Python environment in $(VENV)"
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install --quiet --disable-pip-version-check --require-hashes -r requirements-bootstrap.txt
	@# Bytecode compiled at install (uv does not by default): a Python that cannot write its
	@# cache (PYTHONDONTWRITEBYTECODE) would otherwise compile every module at each start.
	@$(VENV)/bin/uv pip sync --quiet --python $(PY) --require-hashes --compile-bytecode requirements.txt
	@$(VENV)/bin/uv pip install --quiet --python $(PY) --no-deps --no-build-isolation -e .
	@touch $@

venv: $(STAMP) ## create the Python environment from the hashed requirements

lint: venv ## ruff lint and format check, the packages' layer order, types
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports --no-cache
	$(VENV)/bin/mypy --cache-dir $(STATE)/mypy

format: venv ## apply ruff fixes and formatting
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

up: venv ## start the local platform (Docker engine, registry, Azurite)
	$(PY) -m devplatform up

down: venv ## stop what the local platform started, nothing else
	$(PY) -m devplatform down

status: venv ## show each local component: running, address, version, log
	$(PY) -m devplatform status

unit: venv ## the tests that need no platform
	$(PY) -m pytest -m "not integration"

test: venv lint up ## set up everything and run the whole suite
	$(PY) -m pytest

test-faults: venv up ## only the outage tests (part of `make test`): stops and restarts services
	$(PY) -m pytest tests/integration/orchestration/test_faults_outages.py

demo: venv up ## set up everything and run the deploy job: model to live deployment
	$(PY) -m liveline_cli.demo

dev: venv up ## the Dagster UI and daemon (sensors, schedules) on 127.0.0.1
	$(PY) -m liveline_cli.dev

bench: venv ## /score throughput and latency under gunicorn (installs wrk)
	@command -v wrk >/dev/null || apt-get install -y wrk >/dev/null || { apt-get update >/dev/null && apt-get install -y wrk >/dev/null; }
	$(PY) bench/score_bench.py

bench-image: venv up ## cold, model-only and code-only serving image builds
	$(PY) bench/image_bench.py

bench-release: venv up ## commit-to-live and model-to-live through the Dagster daemon
	$(PY) bench/release_bench.py

bench-prestop: venv up ## how long kube-proxy takes to drop a replaced pod, per preStop pause
	$(PY) bench/prestop_bench.py

clean: down ## stop the platform and delete the state folder
	rm -rf $(STATE)
