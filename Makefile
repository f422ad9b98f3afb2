# Every target bootstraps what it needs on a fresh clone: .venv (the dev, test and docs
# tools from requirements/dev.lock, hashes checked), the local npm tools (Prism), and the
# venvs of the other supported Pythons and of the lowest runtime versions.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
UV := $(BIN)/uv
PRISM := node_modules/.bin/prism
PRISM_VERSION := 5.16.0

# requirements/: tools.lock pins the lock tool (uv) with hashes; dev.lock is every dev,
# test, docs and bench tool for Python 3.11-3.13 (one universal lock, hashes); lowest.lock
# is the same tools with the runtime dependencies at their lowest declared versions.
LOCK_DIR := requirements
DEV_LOCK := $(LOCK_DIR)/dev.lock
LOWEST_LOCK := $(LOCK_DIR)/lowest.lock
TOOLS_LOCK := $(LOCK_DIR)/tools.lock
# make lock keeps every pin the ranges still allow (so it only follows pyproject.toml);
# make lock UPGRADE=1 moves every pin to the newest version allowed.
COMPILE = $(UV) pip compile -q --universal --generate-hashes --python-version 3.11 \
	--custom-compile-command "make lock" $(if $(UPGRADE),--upgrade)

# The other supported Pythons: a pyenv install when there is one, else whatever uv finds.
MATRIX := 3.12 3.13
python_for = $(or $(lastword $(sort $(wildcard $(HOME)/.pyenv/versions/$(1).*/bin/python$(1)))),$(1))
# What runs on every supported Python (all of it runs on 3.11, in .venv).
MATRIX_TESTS := tests/wrapper tests/bulk tests/cli
# What runs at the lowest runtime versions: the core and bulk/.
LOWEST_TESTS := tests/wrapper tests/bulk
# More pytest arguments for every test target, e.g. PYTEST_ARGS='-x -k retry'.
PYTEST_ARGS ?=

.PHONY: test check test-quick test-matrix test-lowest venvs demo bench generate \
	check-generated lint tools update-spec docs lock

$(STAMP): pyproject.toml $(DEV_LOCK) $(TOOLS_LOCK)
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check --require-hashes -r $(TOOLS_LOCK)
	$(UV) pip install -q --python $(BIN)/python --require-hashes -r $(DEV_LOCK)
	$(UV) pip install -q --python $(BIN)/python --no-deps -e .
	@touch $(STAMP)

# A venv per other supported Python, from the same lock.
.venv-py%/.installed: pyproject.toml $(DEV_LOCK) | $(STAMP)
	$(UV) venv -q --allow-existing --python $(call python_for,$*) .venv-py$*
	$(UV) pip install -q --python .venv-py$*/bin/python --require-hashes -r $(DEV_LOCK)
	$(UV) pip install -q --python .venv-py$*/bin/python --no-deps -e .
	@touch $@

# Python 3.11 with httpx and attrs at the lowest versions pyproject.toml allows.
.venv-lowest/.installed: pyproject.toml $(LOWEST_LOCK) | $(STAMP)
	$(UV) venv -q --allow-existing --python $(BIN)/python .venv-lowest
	$(UV) pip install -q --python .venv-lowest/bin/python --require-hashes -r $(LOWEST_LOCK)
	$(UV) pip install -q --python .venv-lowest/bin/python --no-deps -e .
	@touch $@

# Prism (the third-party mock server for the live contract test), into ./node_modules.
$(PRISM):
	npm install --no-audit --no-fund --no-save --loglevel=error @stoplight/prism-cli@$(PRISM_VERSION)

tools: $(STAMP) $(PRISM)

# Refreshes the locks from pyproject.toml and requirements/*.in; commit requirements/
# after reading the diff. UPGRADE=1: every pin to the newest version the ranges allow.
lock: $(STAMP)
	$(COMPILE) $(LOCK_DIR)/tools.in -o $(TOOLS_LOCK)
	$(COMPILE) pyproject.toml --extra dev --extra bench -o $(DEV_LOCK)
	$(COMPILE) pyproject.toml --extra dev -c $(LOCK_DIR)/lowest.in -o $(LOWEST_LOCK)

# The whole suite on Python 3.11 (Prism, packaging, pty sessions, real-time scenarios).
test: tools
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The quick loop, about a minute: lint, then the tests that start no subprocess, no
# Prism, build no package and wait on no wall clock (tests/_tiers.py marks the others
# slow; a quick test that starts a process fails, saying so).
check: lint test-quick

test-quick: $(STAMP)
	$(BIN)/python -m pytest -m "not slow" -q $(PYTEST_ARGS)

# The core, bulk and CLI tests on each other supported Python (make test-py3.12 for one).
# These runs and test-lowest share the working tree with make test (CI runs them side by
# side): no pytest cache of their own.
test-matrix: $(foreach v,$(MATRIX),test-py$(v))

test-py%: .venv-py%/.installed
	.venv-py$*/bin/python -m pytest -q -p no:cacheprovider $(PYTEST_ARGS) $(MATRIX_TESTS)

# The core and bulk tests with the runtime dependencies at their lowest declared versions.
test-lowest: .venv-lowest/.installed
	.venv-lowest/bin/python -c 'import httpx, attrs; print("lowest: httpx", httpx.__version__, "attrs", attrs.__version__)'
	.venv-lowest/bin/python -m pytest -q -p no:cacheprovider $(PYTEST_ARGS) $(LOWEST_TESTS)

# Every venv and tool the targets above use (CI makes them before running the suites
# side by side).
venvs: tools $(foreach v,$(MATRIX),.venv-py$(v)/.installed) .venv-lowest/.installed

# What `make demo` needs and nothing more: the CLI and the fake server (a tree already
# set up by `make tools` has them).
DEMO_STAMP := $(VENV)/.installed-demo
$(DEMO_STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check -e '.[cli,server]'
	@touch $(DEMO_STAMP)

# The main job against the bundled fake server: no key, no network.
demo: $(if $(wildcard $(STAMP)),$(STAMP),$(DEMO_STAMP))
	./scripts/demo.sh

# Speed and memory against raw httpx and the official SDK, then a resume right after
# Ctrl-C at the account's pace (about 3 minutes, real time); writes benchmarks/results/.
bench: $(STAMP)
	$(BIN)/python -m benchmarks.bench
	$(BIN)/python -m benchmarks.resume

# Builds openapi.yaml from spec/ (upstream + selection + overlay) and regenerates, then
# prints what changed since HEAD: the API (each change additive or breaking), the Python
# surface (griffe check), where writer_jobs/ uses what broke, the changed files, next steps.
generate: $(STAMP)
	./generate.sh
	$(BIN)/python scripts/api_changelog.py
	./scripts/after-generate.sh

# A new published spec, as is (YAML or JSON): check it in as spec/upstream.*, rebuild
# openapi.yaml, regenerate, refresh the published-page copy of the contract tests (with
# REFERENCE), print the changelog, run the contract tests (Prism included: installed
# here). Exit 1 on a breaking change, a selected operation gone or an overlay target
# that matches nothing.
#   make update-spec SPEC=path/to/openapi.yaml [REFERENCE=path/to/writer-retry-job.md]
update-spec: tools
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
