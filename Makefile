# Citywatch: the two quick-start commands (demo, test), and the checks every change runs.
PY ?= python3
CONFIG ?= configs/demo.yaml
#: Tests that need footage, models, a browser or a server; `test-fast` runs all the others.
SLOW_MARKERS = e2e or rtsp or postgres or browser or footage or broker or cluster

.PHONY: install demo test test-fast check lint format replay plates-model

install:
	bash scripts/install.sh

## demo: install, then run the pipeline and the API on the demo config (http://127.0.0.1:8080)
demo: install
	$(PY) -m citywatch run --config $(CONFIG)

## test: install system packages and test extras, run the checks, run the whole test suite
test:
	bash scripts/install-system-deps.sh
	bash scripts/install.sh test
	$(MAKE) check
	$(PY) -m pytest -q -p no:cacheprovider

## check: lint, formatting, types and the import contracts (what CI and pre-commit run)
check:
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy
	$(PY) -c "import sys; from importlinter.cli import lint_imports_command; sys.exit(lint_imports_command())"
	$(PY) -m pytest -q -p no:cacheprovider tests/test_layout.py

## test-fast: the tests that need no footage, model, browser or server (under a minute); run with
## the shared folder hidden, so a test that needs it fails here instead of slipping in
test-fast:
	CITYWATCH_SHARED_DIR=/nonexistent/citywatch-shared $(PY) -m pytest -q -p no:cacheprovider -m "not ($(SLOW_MARKERS))"

lint:
	$(PY) -m ruff check .

## format: apply ruff's formatting and safe fixes
format:
	$(PY) -m ruff check --fix .
	$(PY) -m ruff format .

replay: install
	$(PY) -m citywatch replay --config $(CONFIG) --json

## plates-model: train the plate reader's province and serial classifiers on rendered plates into
## ./models (offline, CPU: about 8 and 14 minutes on 2 cores; docs/plates.md, "Accuracy")
plates-model:
	$(PY) -m citywatch plates train-province --out-dir models
	$(PY) -m citywatch plates train-serial --out-dir models
