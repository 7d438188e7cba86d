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
	$(BIN)/python -m compileall -q __init__.py core cli
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/wxb demo

TYPECHECK := build/typecheck/wxb

lint: $(STAMP)
	$(BIN)/ruff check core cli tests bench
	mkdir -p $(TYPECHECK) && ln -sfn ../../../core $(TYPECHECK)/core && ln -sfn ../../../cli $(TYPECHECK)/cli
	$(BIN)/mypy

test: lint
	$(BIN)/python -m compileall -q __init__.py core cli  # this machine sets PYTHONDONTWRITEBYTECODE: stale bytecode costs every wxb process ~0.15 s
	OPENBLAS_NUM_THREADS=1 $(BIN)/pytest -n auto  # a worker per core (pytest-xdist), so BLAS threads would only contend

bench: $(STAMP)
	$(BIN)/python -m compileall -q core cli  # time the code as installed, not the compiler (PYTHONDONTWRITEBYTECODE)
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache .hypothesis
