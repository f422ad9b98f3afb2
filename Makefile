# Every target bootstraps .venv (and the local npm tools) on a fresh clone.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PRISM := node_modules/.bin/prism
PRISM_VERSION := 5.16.0

.PHONY: test demo bench generate check-generated lint tools update-spec docs

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

# Regenerates, then prints what changed since HEAD: the API (each change additive or
# breaking), the Python surface (griffe check) and where writer_jobs/ uses what broke.
generate: $(STAMP)
	./generate.sh
	$(BIN)/python scripts/api_changelog.py

# A new spec: copy it in, regenerate, refresh the published-page copy of the
# contract tests, print the changelog, run the contract tests.
#   make update-spec SPEC=path/to/openapi.yaml [REFERENCE=path/to/writer-retry-job.md]
update-spec: $(STAMP)
	@test -n "$(SPEC)" || { echo "usage: make update-spec SPEC=path [REFERENCE=page.md]" >&2; exit 2; }
	./scripts/update-spec.sh "$(SPEC)" "$(REFERENCE)"

# Regenerates into a temp dir and fails, printing the diff, when generated_client/ drifted.
check-generated: $(STAMP)
	./generate.sh --check

# The documentation site (docs/ and the API reference from the docstrings) into site/;
# strict: a broken link or reference fails the build.
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet

lint: $(STAMP)
	$(BIN)/ruff check writer_jobs tests benchmarks scripts
	$(BIN)/ruff format --check writer_jobs tests benchmarks scripts
	$(BIN)/mypy
