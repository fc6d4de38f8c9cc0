#!/usr/bin/env bash
# The test command (`make test`, and so .ci/run). Tests start what they need (emulator, Airflow) themselves.
#
# Lint lane first: ruff over dags/ include/ plugins/ scripts/ tests/, mypy over dags/ include/ plugins/
# (settings: pyproject.toml, caches under var/cache/), a few seconds warm; any finding stops the run before
# the slow suites.
#   scripts/run-tests.sh                 lint lane, then the whole suite (what CI runs)
#   scripts/run-tests.sh ARGS...         pytest ARGS only (a subset while working); LINT=1 adds the lane
#   scripts/run-tests.sh --lint-only     the lane alone (`make lint`)
#   SKIP_LINT=1 scripts/run-tests.sh     the whole suite without the lane (ignored under CI=true)
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"

lint_lane() {
  local tool started took
  for tool in ruff mypy; do
    if [ ! -x ".venv/bin/$tool" ]; then
      echo "lint: .venv/bin/$tool is missing: run \`make setup\` (it installs requirements-dev.txt)" >&2
      exit 2
    fi
  done
  started=$(date +%s.%N)
  local failed=()
  .venv/bin/ruff check --quiet --output-format concise dags include plugins scripts tests || failed+=(ruff)
  .venv/bin/mypy dags include plugins || failed+=(mypy)
  took=$(awk -v a="$started" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
  if [ ${#failed[@]} -gt 0 ]; then
    echo "lint: FAILED (${failed[*]}): findings above (ruff: dags/ include/ plugins/ scripts/ tests/, mypy: dags/ include/ plugins/; ${took} s); the tests were not run." >&2
    echo "lint: settings in pyproject.toml; \`.venv/bin/ruff check --fix <files>\` fixes ruff's [*] ones." >&2
    exit 1
  fi
  echo "lint: ruff clean on dags/ include/ plugins/ scripts/ tests/, mypy clean on dags/ include/ plugins/ (${took} s)"
}

if [ "${1:-}" = "--lint-only" ]; then
  lint_lane
  exit 0
fi
if [ $# -eq 0 ]; then
  if [ "${SKIP_LINT:-}" = "1" ] && [ "${CI:-}" != "true" ]; then
    echo "lint: skipped (SKIP_LINT=1)"
  else
    lint_lane
  fi
elif [ "${LINT:-}" = "1" ]; then
  lint_lane
fi
if [ $# -gt 0 ]; then
  exec .venv/bin/python -m pytest "$@"
fi
# The whole suite: its wall time and the machine's load are kept for `make benchmark` (var/test-runs.jsonl),
# and the slowest tests are listed, so a suite that grows slow is seen where it grows.
started=$(date +%s.%N)
load_start=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo "")
set +e
# On every core (pytest-xdist; PYTEST_WORKERS=N to choose, 0 for one process): the suite is CPU-bound, so
# one worker a core (-n auto). A folder with costly shared fixtures stays on one worker (tests/xdist_groups.py).
workers="${PYTEST_WORKERS:-auto}"
if [ "$workers" = "0" ]; then parallel=(); else parallel=(-n "$workers"); fi
.venv/bin/python -m pytest "${parallel[@]}" --durations="${PYTEST_DURATIONS:-25}"
rc=$?
set -e
mkdir -p var
awk -v a="$started" -v b="$(date +%s.%N)" -v rc="$rc" -v l0="$load_start" -v l1="$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo "")" \
  -v when="$(date -u +%Y-%m-%dT%H:%M:%SZ)" -v ci="${CI:-}" -v cpus="$(nproc 2>/dev/null || echo 0)" \
  'BEGIN { printf "{\"finished_at\": \"%s\", \"seconds\": %.1f, \"exit_code\": %d, \"load_start\": \"%s\", \"load_end\": \"%s\", \"ci\": \"%s\", \"cpus\": %d}\n", when, b - a, rc, l0, l1, ci, cpus }' \
  >> var/test-runs.jsonl
exit $rc
