#!/usr/bin/env bash
# Create (or refresh) the project's virtual environment in .venv and install
# mcr-bridge with its test dependencies. Idempotent: a second run is quick.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/python -m pip install -qq --upgrade pip
.venv/bin/python -m pip install -qq -e '.[test]'
