# Everything installs into ./.venv from PyPI; nothing else is needed but Python 3 and make.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: setup demo test lint bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,dask]'
	$(BIN)/python -m compileall -q core cli
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/wxb demo

TYPECHECK := build/typecheck/wxb

lint: $(STAMP)
	$(BIN)/ruff check core cli tests bench
	mkdir -p $(TYPECHECK) && ln -sfn ../../../core $(TYPECHECK)/core && ln -sfn ../../../cli $(TYPECHECK)/cli
	$(BIN)/mypy

test: lint
	$(BIN)/pytest -n auto  # every core (pytest-xdist); plain `pytest` runs in one process

bench: $(STAMP)
	$(BIN)/python -m compileall -q core cli  # time the code as installed, not the compiler (PYTHONDONTWRITEBYTECODE)
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache .hypothesis
