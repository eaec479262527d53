# tenantauth — the front door. `make help` lists the targets.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
JS := clients/js
# `npm ci` writes this file; it is newer than the lockfile while node_modules matches it.
JS_STAMP := $(JS)/node_modules/.package-lock.json

.DEFAULT_GOAL := help
.PHONY: help install run manage test js-test lint typecheck format clean bench-http bench-ablate bench-tenants bench-purge bench-fairness bench-faults bench-soak

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev,embedded]'
	@touch $(STAMP)

install: $(STAMP) ## Create .venv and install the project with its dev tools

run: $(STAMP) ## Run everything: embedded PostgreSQL + Redis (unless URLs given), migrate, demo tenant, web + worker + beat
	exec $(BIN)/python -m core.devstack

manage: $(STAMP) ## One manage.py command on make run's servers: make manage ARGS='shell'
	$(BIN)/python -m core.devstack manage $(ARGS)

$(JS_STAMP): $(JS)/package-lock.json
	cd $(JS) && npm ci --no-audit --no-fund --loglevel=error

js-test: $(JS_STAMP) ## The JavaScript client: build (clients/js/dist) and its unit tests
	cd $(JS) && npm test

test: $(STAMP) js-test ## Run the whole test suite: the JS client's unit tests, then pytest against real PostgreSQL and Redis (embedded in a throwaway folder unless URLs given), browser tests included
	@data=$$(mktemp -d /tmp/tenantauth-test.XXXXXX); chmod 755 $$data; \
	TENANTAUTH_DATA_DIR=$$data $(BIN)/python -m pytest $(PYTEST_ARGS); rc=$$?; \
	rm -rf $$data; exit $$rc

$(VENV)/.installed-bench: $(STAMP) pyproject.toml
	$(BIN)/pip install --quiet -e '.[dev,embedded,bench]'
	@touch $@

bench-http: $(VENV)/.installed-bench ## HTTP benchmark against DRF + SimpleJWT (bench/README.md); BENCH_ARGS=--quick
	$(BIN)/python bench/http/run.py $(BENCH_ARGS)

bench-ablate: $(VENV)/.installed-bench ## The hot path one mechanism at a time (bench/README.md)
	$(BIN)/python bench/http/ablate.py $(BENCH_ARGS)

bench-tenants: $(VENV)/.installed-bench ## Onboarding at 1,000 tenants; BENCH_ARGS="--clients 10000": one deployment at 10,000 (bench/README.md)
	$(BIN)/python bench/tenants/run.py $(BENCH_ARGS)

bench-purge: $(VENV)/.installed-bench ## Purge of 1M expired tokens over 100 schemas (bench/README.md)
	$(BIN)/python bench/purge/run.py $(BENCH_ARGS)

bench-fairness: $(VENV)/.installed-bench ## One client's login flood against another's requests, 2 workers (bench/fairness/README.md)
	$(BIN)/python bench/fairness/run.py $(BENCH_ARGS)

bench-faults: $(STAMP) ## PostgreSQL restarted and Redis stopped under load, 2 workers + Celery (bench/README.md, "Faults")
	$(BIN)/python bench/faults/run.py $(BENCH_ARGS)

bench-soak: $(VENV)/.installed-bench ## 10 minutes of the production config at 80% of capacity: errors, p99, RSS, rows left (bench/soak/README.md); BENCH_ARGS=--quick
	$(BIN)/python bench/soak/run.py $(BENCH_ARGS)

lint: $(STAMP) ## ruff check + format check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP) ## mypy with django-stubs on core, tenants, authapi
	@# django-stubs imports the settings, which read (and connect to) nothing but need these.
	DATABASE_URL=postgres://typecheck@localhost/typecheck REDIS_URL=redis://localhost:6379/0 \
	SECRET_KEY=typecheck DEBUG=true $(BIN)/mypy

format: $(STAMP) ## ruff fix + format
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean: ## Remove the embedded data folder (.data/)
	rm -rf .data
