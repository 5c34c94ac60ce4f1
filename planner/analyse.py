"""Analysis of a resolved estate: every MISP-aware rule, sorted for stable output."""

from __future__ import annotations

from planner.diagnostics import Finding, sorted_findings
from planner.estate import Estate
from planner.rules import run_rules


def analyse(estate: Estate) -> list[Finding]:
    return sorted_findings(run_rules(estate))
