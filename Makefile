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

# Speed and memory against raw httpx and the official SDK; writes benchmarks/results/.
bench: $(STAMP)
	$(BIN)/python -m benchmarks.bench

# Builds openapi.yaml from spec/ (upstream + selection + overlay) and regenerates, then
# prints what changed since HEAD: the API (each change additive or breaking), the Python
# surface (griffe check), where writer_jobs/ uses what broke, the changed files, next steps.
generate: $(STAMP)
	./generate.sh
	$(BIN)/python scripts/api_changelog.py
	./scripts/after-generate.sh

# A new published spec, as is (YAML or JSON): check it in as spec/upstream.*, rebuild
# openapi.yaml, regenerate, refresh the published-page copy of the contract tests, print
# the changelog, run the contract tests. Exit 1 on a breaking change, a selected
# operation gone or an overlay target that matches nothing.
#   make update-spec SPEC=path/to/openapi.yaml [REFERENCE=path/to/writer-retry-job.md]
update-spec: $(STAMP)
	@test -n "$(SPEC)" || { echo "usage: make update-spec SPEC=path [REFERENCE=page.md]" >&2; exit 2; }
	./scripts/update-spec.sh "$(SPEC)" "$(REFERENCE)"

# Rebuilds into a temp dir and fails, printing the diff, when openapi.yaml or
# generated_client/ is not what spec/ gives.
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
	$(BIN)/lint-imports
