# The commands a new user needs: `make demo` (the whole import on embedded defaults), `make ui` (the demo's
# Airflow UI and Spectrum Budgets pages on 127.0.0.1 until Ctrl-C) and `make test`.
# `make lint`: ruff (dags/ include/ plugins/ scripts/ tests/) and mypy (dags/ include/ plugins/) alone (the lint lane
# `make test` runs first).
SHELL := /bin/bash
PY := .venv/bin/python

.PHONY: setup demo ui test lint benchmark clean

setup:
	@scripts/setup.sh

demo: setup
	@$(PY) -m scripts.demo

ui: setup
	@$(PY) -m scripts.ui $(ARGS)

test: setup
	@scripts/run-tests.sh

lint: setup
	@scripts/run-tests.sh --lint-only

benchmark: setup
	@$(PY) -m scripts.benchmark $(ARGS)

clean:
	rm -rf var
