#!/usr/bin/env bash
# Set up a virtual environment with the project and its test tools, then run the whole suite.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/pip install -q --upgrade pip >/dev/null
.venv/bin/pip install -q -e '.[test]'
.venv/bin/ruff check planner
.venv/bin/mypy planner
.venv/bin/python -m pytest "$@"
