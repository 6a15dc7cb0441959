#!/usr/bin/env bash
# Make sure .venv exists and holds minik with everything its tests need.
# Idempotent and quiet when nothing changed: it re-installs only when pyproject.toml
# is newer than the last successful install.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
if ! command -v "$PYTHON" >/dev/null 2>&1; then
  echo "minik needs Python 3.11+ ('$PYTHON' not found). Install python3 and python3-venv." >&2
  exit 1
fi
if ! "$PYTHON" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)'; then
  echo "minik needs Python 3.11 or newer; $("$PYTHON" --version) found." >&2
  exit 1
fi
if [ ! -x .venv/bin/python ]; then
  echo "==> creating .venv"
  "$PYTHON" -m venv .venv || { echo "could not create a venv: install python3-venv" >&2; exit 1; }
fi
stamp=.venv/.minik-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "==> installing minik and its dependencies into .venv (pip)"
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e '.[test]'
  touch "$stamp"
fi
