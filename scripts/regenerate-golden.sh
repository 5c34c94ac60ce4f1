#!/usr/bin/env bash
# Rewrite every golden file and every rendered output of the examples after a deliberate change
# (to an example, the sizing model, the rules, the renderers). Review `git diff` before committing.
set -euo pipefail
cd "$(dirname "$0")/.."
export UPDATE_GOLDEN=1 MISP_PLANNER_REGEN_GOLDEN=1
.venv/bin/python -m pytest -q -p no:cacheprovider \
  tests/test_sizing_golden.py tests/test_flows_cli.py tests/test_render.py tests/test_report.py \
  tests/test_diff.py tests/test_errors.py tests/test_roles.py tests/test_ansible_project.py
.venv/bin/python -m planner.rules.catalogue > docs/rules.md
.venv/bin/python -m planner.langdoc > docs/language.md
.venv/bin/misp-planner schema -o schema/topology-v1.schema.json
.venv/bin/python scripts/screenshot-reports.py  # examples/*/report.png, in Debian's chromium
git status --short
