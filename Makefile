# Every target bootstraps .venv (and the local npm tools) on a fresh clone.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PRISM := node_modules/.bin/prism
PRISM_VERSION := 5.16.0

.PHONY: test demo bench generate check-generated lint tools

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check -U pip
	$(BIN)/python -m pip install -q --disable-pip-version-check -e '.[dev,bench]'
	@touch $(STAMP)

# Prism (the third-party mock server for the live contract test), into ./node_modules.
$(PRISM):
	npm install --no-audit --no-fund --no-save --loglevel=error @stoplight/prism-cli@$(PRISM_VERSION)

tools: $(STAMP) $(PRISM)

test: tools
	$(BIN)/python -m pytest

# The main job against the bundled fake server: no key, no network.
demo: $(STAMP)
	./scripts/demo.sh

# Speed and memory against httpx, aiohttp and the official SDK; writes benchmarks/results/.
bench: $(STAMP)
	$(BIN)/python -m benchmarks.bench

generate: $(STAMP)
	./generate.sh

# Regenerates into a temp dir and fails, printing the diff, when generated_client/ drifted.
check-generated: $(STAMP)
	./generate.sh --check

lint: $(STAMP)
	$(BIN)/ruff check writer_jobs tests benchmarks
	$(BIN)/ruff format --check writer_jobs tests benchmarks
	$(BIN)/mypy
