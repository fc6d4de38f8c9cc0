# The two commands a new user needs: `make demo` (the whole import on embedded defaults) and `make test`.
# `make lint`: ruff and mypy alone (the lint lane `make test` runs first).
SHELL := /bin/bash
PY := .venv/bin/python

.PHONY: setup demo test test-fast lint benchmark clean

setup:
	@scripts/setup.sh

demo: setup
	@$(PY) -m scripts.demo

test: setup
	@scripts/run-tests.sh

lint: setup
	@scripts/run-tests.sh --lint-only

benchmark: setup
	@$(PY) -m scripts.benchmark $(ARGS)

clean:
	rm -rf var
