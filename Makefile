# Citywatch: the two quick-start commands, and a few more for development.
PY ?= python3
CONFIG ?= configs/demo.yaml

.PHONY: install demo test lint replay

install:
	bash scripts/install.sh

## demo: install, then run the pipeline and the API on the demo config (http://127.0.0.1:8080)
demo: install
	$(PY) -m citywatch run --config $(CONFIG)

## test: install system packages and test extras, lint, run the whole test suite
test:
	bash scripts/install-system-deps.sh
	bash scripts/install.sh test
	$(PY) -m ruff check .
	$(PY) -m pytest -q -p no:cacheprovider

lint:
	$(PY) -m ruff check .

replay: install
	$(PY) -m citywatch replay --config $(CONFIG) --json
