# `make build` compiles the example project into generated/; `make test` runs every test.
# Both create the virtual environment (.venv, pinned by requirements.lock) on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: build check test lint bench clean-venv vocabulary

$(STAMP): requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv==0.13.8
	$(BIN)/uv pip install --quiet --python $(BIN)/python -r requirements.lock
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps -e .
	touch $(STAMP)

build: $(STAMP)
	$(BIN)/datahem build

check: $(STAMP)
	$(BIN)/datahem build --check

test: $(STAMP)
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check compiler runtime tests bench

bench: $(STAMP)
	$(BIN)/python -m bench.compile

# Regenerate the Python module of the option vocabulary after editing compiler/vocabulary/datahem/options.proto.
vocabulary: $(STAMP)
	cd compiler/vocabulary && ../../$(BIN)/python -m grpc_tools.protoc -I. --python_out=. datahem/options.proto
	cp compiler/vocabulary/datahem/options.proto schemas/datahem/options.proto

clean-venv:
	rm -rf $(VENV)
