# Everything a fresh machine needs: `make demo` runs the example pipeline, `make test` runs lint and tests.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup demo test lint bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml labextension/package.json labextension/yarn.lock $(wildcard labextension/src/*.ts labextension/style/* labextension/schema/*.json)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	rm -rf nbmlops/labextension  # pip install -e rebuilds the lab extension from labextension/ with the machine's Node.js
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 >/dev/null
	$(BIN)/jupyter labextension list 2>&1 | grep -q 'nbmlops.*enabled.*OK'
	$(BIN)/jupyter server extension list 2>&1 | grep -q 'nbmlops.server.*enabled'
	touch $(STAMP)

# the lifecycle end to end (features, a training sweep, the registry, serving, monitoring, retraining on drift)
demo: $(STAMP)
	$(BIN)/python example_notebooks/lifecycle.py

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	cd labextension && ../$(BIN)/jlpm lint:check

# Two families side by side (CI's 2 cores): the slow subprocess ones (JupyterLab in Chromium, the lifecycle
# examples, the wheel in a fresh virtualenv), which mostly wait, beside all the rest; both must pass.
SLOW_TESTS := tests/browser tests/examples tests/packaging/test_wheel.py
test: lint
	@mkdir -p build
	@$(BIN)/python -m pytest -q -p no:cacheprovider $(SLOW_TESTS) > build/test-slow.log 2>&1 & slow=$$!; \
	$(BIN)/python -m pytest -q $(addprefix --ignore=,$(SLOW_TESTS)) tests; rest=$$?; \
	wait $$slow; slow_rc=$$?; echo "--- $(SLOW_TESTS):"; cat build/test-slow.log; \
	test $$rest -eq 0 && test $$slow_rc -eq 0

# the quick ones; bench/README.md lists the rest (Ray, papermill, Feast, Evidently: minutes each)
bench: $(STAMP)
	$(BIN)/python bench/bench_compile.py
	$(BIN)/python bench/bench_run_overhead.py
	$(BIN)/python bench/bench_example.py
	$(BIN)/python bench/bench_cache.py
	$(BIN)/python bench/bench_tracking.py --runs-mlflow 500

clean:
	rm -rf $(VENV) .nbmlops .pytest_cache .ruff_cache
