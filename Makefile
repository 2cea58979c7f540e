# matsuri: `make up` sets everything up and starts JupyterLab; `make test` runs the whole suite.
VENV ?= .venv
BIN := $(VENV)/bin
WAREHOUSE := datasets/build/company.duckdb
SCALE ?= small

.PHONY: up setup data lab test test-fast lint bench clean

up: setup data lab

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml scripts/setup.sh
	bash scripts/setup.sh

data: setup
	@test -f $(WAREHOUSE) || $(BIN)/matsuri data build --scale $(SCALE)

lab: setup
	$(BIN)/matsuri lab

test: setup
	$(BIN)/ruff check src tests
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/pytest -n 2 --dist loadscope --no-loadscope-reorder

test-fast: setup
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/pytest -n 2 --dist loadscope --no-loadscope-reorder -m "not slow"

lint: setup
	$(BIN)/ruff check src tests

bench: setup
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python benchmarks/run.py

clean:
	rm -rf $(VENV) datasets/build
