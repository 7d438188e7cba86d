# Everything installs into ./.venv from PyPI; nothing else is needed but Python 3 and make.
# Three stamps, so that each target installs only what it needs: the base package (demo), the test tools and every
# extra the suite exercises, the manual's tools included (test, lint, bench: the suite builds the manual), the manual alone (docs).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
BASE   := $(VENV)/.installed-base
DEV    := $(VENV)/.installed-dev
DOCS   := $(VENV)/.installed-docs
# this machine sets PYTHONDONTWRITEBYTECODE: stale bytecode would cost every wxb process ~0.15 s
COMPILE := $(BIN)/python -m compileall -q __init__.py core cli

.PHONY: setup demo test lint docs bench clean

setup: $(DEV)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(BASE): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	$(COMPILE)
	touch $@

$(DEV): pyproject.toml $(BASE)
	$(BIN)/python -m pip install --quiet -e '.[test,dask,fast-csv,docs,curvature]'
	$(COMPILE)
	touch $@

$(DOCS): pyproject.toml $(BASE)
	$(BIN)/python -m pip install --quiet -e '.[docs]'
	touch $@

demo: $(BASE)
	$(BIN)/wxb demo

TYPECHECK := build/typecheck/wxb

lint: $(DEV)
	$(BIN)/ruff check core cli tests bench
	mkdir -p $(TYPECHECK) && ln -sfn ../../../core $(TYPECHECK)/core && ln -sfn ../../../cli $(TYPECHECK)/cli
	$(BIN)/mypy

test: lint
	$(COMPILE)
	OPENBLAS_NUM_THREADS=1 $(BIN)/pytest -n auto  # a worker per core (pytest-xdist), so BLAS threads would only contend

docs: $(DOCS)
	$(BIN)/mkdocs build --strict --site-dir build/site

bench: $(DEV)
	$(COMPILE)  # time the code as installed, not the compiler
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache .hypothesis
