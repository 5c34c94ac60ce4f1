#!/usr/bin/env bash
# Set up a virtual environment and run the planner's main job on the bundled example.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/pip install -q -e .
example=examples/national-csirt/topology.yaml
.venv/bin/misp-planner validate "$example"
.venv/bin/misp-planner inspect "$example"
