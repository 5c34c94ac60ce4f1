"""Findings: what the planner tells a user about their topology file, and how it is printed.

A finding has a stable code (``MP101``), a severity, a message in plain words, a hint saying what
to do, and the place in the file that caused it (file, line, column, YAML path). Every stage
collects its findings into a list and returns them all at once; the CLI decides the exit code.

Code ranges: MP0xx reading the file, MP1xx the language (types, references), MP2xx MISP-aware
design rules, MP3xx sizing, MP4xx security defaults.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from planner import __version__

YamlPath = tuple[str | int, ...]


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


@dataclass(frozen=True, slots=True)  # one per value of a file: hundreds of thousands in a large estate
class Position:
    line: int  # 1-based
    column: int  # 1-based


@dataclass(frozen=True)
class Finding:
    code: str
    severity: Severity
    message: str
    hint: str = ""
    file: str = ""
    position: Position | None = None
    path: YamlPath = ()
    related: tuple[str, ...] = field(default=())  # extra lines, e.g. the path data took

    @property
    def dotted_path(self) -> str:
        return format_path(self.path)

    def sort_key(self) -> tuple[str, int, int, str, str]:
        line = self.position.line if self.position else 0
        column = self.position.column if self.position else 0
        return (self.file, line, column, self.code, self.message)


# Where the project and its docs live: SARIF's tool information and the report's links to docs/rules.md.
PROJECT_URL = "https://github.com/misp-planner/misp-planner"


class PlannerError(Exception):
    """Raised by a stage that cannot continue; carries every finding collected so far."""

    def __init__(self, findings: Sequence[Finding], exit_code: int = 1) -> None:
        super().__init__("; ".join(f.message for f in findings))
        self.findings = list(findings)
        self.exit_code = exit_code


def format_path(path: YamlPath) -> str:
    """``("sync", 2, "pull", "tags")`` -> ``sync[2].pull.tags``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def has_errors(findings: Iterable[Finding]) -> bool:
    return any(f.severity is Severity.ERROR for f in findings)


def sorted_findings(findings: Iterable[Finding]) -> list[Finding]:
    return sorted(findings, key=Finding.sort_key)


# --- formatters ---------------------------------------------------------------------------------


def format_human(findings: Sequence[Finding], sources: dict[str, list[str]] | None = None) -> str:
    """Compiler-style text: location, severity and code, the offending line with a caret, a hint."""
    sources = sources or {}
    blocks: list[str] = []
    for f in findings:
        where = f.file or "<input>"
        if f.position:
            where += f":{f.position.line}:{f.position.column}"
        head = f"{where}: {f.severity.value} {f.code}: {_escaped(f.message)}"
        lines = [head]
        if f.path:
            lines.append(f"  at {_escaped(f.dotted_path)}")
        text = sources.get(f.file)
        if text and f.position and 0 < f.position.line <= len(text):
            src = text[f.position.line - 1].rstrip("\n")
            number = str(f.position.line)
            gutter = " " * len(number)
            shown = _printable(src)
            lines.append(f"  {number} | {shown}")
            lines.append(f"  {gutter} | {_caret_prefix(src, f.position.column)}^")
        lines.extend(f"  {_escaped(extra)}" for extra in f.related)
        if f.hint:
            lines.append(f"  hint: {_escaped(f.hint)}")
        blocks.append("\n".join(lines))
    return "\n".join(blocks) + ("\n" if blocks else "")


def _escaped(text: str) -> str:
    """Text from the user's file, made safe for a terminal: control characters become escapes.

    A value such as ``"hub\\x1b[2J"`` must not clear the reader's screen when it is quoted back.
    """
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in text)


def _printable(line: str, limit: int = 200) -> str:
    shown = "".join(ch if ch.isprintable() or ch == "\t" else "?" for ch in line)
    return shown if len(shown) <= limit else shown[:limit] + "..."


def _caret_prefix(line: str, column: int) -> str:
    """Blanks up to the column; a tab stays a tab so the caret lines up under tab-indented text."""
    width = min(max(column - 1, 0), 200)
    return "".join("\t" if ch == "\t" else " " for ch in line[:width]).ljust(width)


def summary_line(findings: Sequence[Finding]) -> str:
    counts = {s: sum(1 for f in findings if f.severity is s) for s in Severity}
    parts = [f"{counts[s]} {s.value}{'s' if counts[s] != 1 else ''}" for s in Severity]
    return ", ".join(parts)


def finding_to_json(f: Finding) -> dict[str, Any]:
    return {
        "code": f.code,
        "severity": f.severity.value,
        "message": f.message,
        "hint": f.hint,
        "file": f.file,
        "line": f.position.line if f.position else None,
        "column": f.position.column if f.position else None,
        "path": f.dotted_path,
        "related": list(f.related),
    }


def format_json(findings: Sequence[Finding]) -> str:
    return json.dumps({"findings": [finding_to_json(f) for f in findings]}, indent=2) + "\n"


_SARIF_LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}


def format_sarif(findings: Sequence[Finding], rule_docs: dict[str, str] | None = None) -> str:
    """SARIF 2.1.0, the format code-scanning services read."""
    rule_docs = rule_docs or {}
    codes = sorted({f.code for f in findings})
    rules = [
        {"id": code, "shortDescription": {"text": rule_docs.get(code, code)}} for code in codes
    ]
    results = []
    for f in findings:
        location: dict[str, Any] = {"physicalLocation": {"artifactLocation": {"uri": Path(f.file).as_posix()}}}
        if f.position:
            location["physicalLocation"]["region"] = {
                "startLine": f.position.line,
                "startColumn": f.position.column,
            }
        message = f.message + (f" ({f.hint})" if f.hint else "")
        results.append(
            {
                "ruleId": f.code,
                "level": _SARIF_LEVEL[f.severity],
                "message": {"text": message},
                "locations": [location],
            }
        )
    doc = {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "misp-planner",
                        "version": __version__,
                        "informationUri": PROJECT_URL,
                        "rules": rules,
                    }
                },
                "results": results,
            }
        ],
    }
    return json.dumps(doc, indent=2) + "\n"
