"""Analysis of a resolved estate: every MISP-aware rule, sorted for stable output."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from planner.diagnostics import Finding, PlannerError, sorted_findings
from planner.estate import Estate
from planner.pipeline import load_estate
from planner.rules import run_rules


def analyse(estate: Estate) -> list[Finding]:
    return sorted_findings(run_rules(estate))


def check_files(paths: Sequence[str | Path]) -> tuple[list[Finding], int]:
    """What `validate` and `lint` report: each file loaded and analysed, in the order given.

    Returns every finding and the worst exit code of a file that could not be loaded (0 if all
    loaded); a file with language errors contributes those errors and is not analysed.
    """
    findings: list[Finding] = []
    worst = 0
    for path in paths:
        try:
            loaded = load_estate(path)
        except PlannerError as error:
            findings.extend(error.findings)
            worst = max(worst, error.exit_code)
            continue
        findings.extend(loaded.findings)
        findings.extend(analyse(loaded.estate))
    return findings, worst
