PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run init test lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[test]"
	touch $(STAMP)

## Set everything up on the embedded defaults and serve http://127.0.0.1:8000 and https://127.0.0.1:8443
run: $(STAMP)
	$(BIN)/elocal serve

init: $(STAMP)
	$(BIN)/elocal init

## Install and run the whole test suite
test: $(STAMP)
	$(BIN)/pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) elocal-data .pytest_cache .mypy_cache .ruff_cache
