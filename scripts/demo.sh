#!/usr/bin/env bash
# Set up a virtual environment and run the planner's main job, `build`, on the bundled example:
# validation, design rules, sizing, flow matrix, diagram, review report and the Ansible project,
# all in out/national-csirt/.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v dot >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends graphviz >/dev/null
  else
    echo "Graphviz's dot is needed for the diagrams: install it (apt-get install graphviz) and run again" >&2
    exit 3
  fi
fi
python3 -m venv .venv
.venv/bin/pip install -q -e .
example=examples/national-csirt/topology.yaml
.venv/bin/misp-planner validate "$example"
.venv/bin/misp-planner build "$example" -o out/national-csirt --force
echo "Open out/national-csirt/report/report.html; the Ansible project is out/national-csirt/ansible/"
