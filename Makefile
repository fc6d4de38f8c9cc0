# The two commands a new user needs: `make demo` (the whole import on embedded defaults) and `make test`.
SHELL := /bin/bash
PY := .venv/bin/python

.PHONY: setup demo test test-fast benchmark clean

setup:
	@scripts/setup.sh

demo: setup
	@$(PY) -m scripts.demo

test: setup
	@scripts/run-tests.sh

benchmark: setup
	@$(PY) -m scripts.benchmark $(ARGS)

clean:
	rm -rf var
