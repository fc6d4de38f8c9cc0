#!/usr/bin/env bash
# The test command (`make test`, and so .ci/run). Tests start what they need (emulator, Airflow) themselves.
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
exec .venv/bin/python -m pytest "$@"
