#!/usr/bin/env bash
# Idempotent set-up: Debian packages (ODBC manager and drivers, the compose CLI) and the project virtualenv
# with everything the tests and the lint lane need: requirements-dev.txt (which includes the runtime
# requirements.txt), always within constraints.txt, as the Dockerfile installs requirements.txt.
# Called by `make demo` and `make test`; safe to run again (it only installs what is missing).
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
while read -r pkg; do
  [ -z "$pkg" ] && continue
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done < <(grep -v '^#' apt-packages.txt)
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

PY=${PYTHON:-python3}
stamp=.venv/.installed-$(cat requirements.txt requirements-dev.txt constraints.txt | sha1sum | cut -c1-12)
if [ ! -f "$stamp" ]; then
  [ -x .venv/bin/python ] || "$PY" -m venv .venv
  echo "setup: installing Python packages into .venv (first run takes about a minute)"
  mkdir -p var
  if ! { .venv/bin/pip install -q --upgrade pip && .venv/bin/pip install -q -r requirements-dev.txt -c constraints.txt; } >var/setup-pip.log 2>&1; then
    cat var/setup-pip.log >&2; echo "setup: pip install failed (log: var/setup-pip.log)" >&2; exit 1
  fi
  rm -f .venv/.installed-*
  touch "$stamp"
fi
