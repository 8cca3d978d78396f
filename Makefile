# Everything a fresh machine needs: `make demo` runs the example pipeline, `make test` runs lint and tests.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup demo test lint bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/nbmlops show example_notebooks/churn.ipynb
	$(BIN)/nbmlops run example_notebooks/churn.ipynb -p C=0.5

lint: $(STAMP)
	$(BIN)/ruff check .

test: lint
	$(BIN)/python -m pytest -q tests

bench: $(STAMP)
	$(BIN)/python bench/bench_compile.py
	$(BIN)/python bench/bench_run_overhead.py
	$(BIN)/python bench/bench_example.py

clean:
	rm -rf $(VENV) .nbmlops .pytest_cache .ruff_cache
