# tenantauth — the front door. `make help` lists the targets.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help install run test lint format clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev,embedded]'
	@touch $(STAMP)

install: $(STAMP) ## Create .venv and install the project with its dev tools

run: $(STAMP) ## Run everything: embedded PostgreSQL + Redis (unless URLs given), migrate, demo tenant, web + worker + beat
	exec $(BIN)/python -m core.devstack

test: $(STAMP) ## Run the whole test suite against real PostgreSQL and Redis (embedded in a throwaway folder unless URLs given)
	@data=$$(mktemp -d /tmp/tenantauth-test.XXXXXX); chmod 755 $$data; \
	TENANTAUTH_DATA_DIR=$$data $(BIN)/python -m pytest $(PYTEST_ARGS); rc=$$?; \
	rm -rf $$data; exit $$rc

lint: $(STAMP) ## ruff check + format check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP) ## ruff fix + format
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean: ## Remove the embedded data folder (.data/)
	rm -rf .data
