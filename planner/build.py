"""`misp-planner build`: every stage's output in one folder, written atomically.

The folder is replaced whole only when every stage succeeded; when validation finds errors nothing
is written and the previous build stays as it was (containerlab's rule: no destructive step until
the input is valid).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from planner.analyse import analyse
from planner.ansible.project import generate_project
from planner.diagnostics import format_human, format_json, has_errors, sorted_findings, summary_line
from planner.estate import estate_as_data
from planner.flows import Flow, flow_matrix, flow_to_json
from planner.jsonout import json_bytes, json_line
from planner.output import atomic_output, write_text
from planner.pipeline import Loaded
from planner.render.report import Artifacts, collect, report_parts
from planner.sizing import size_estate
from planner.units import plural


@dataclass(frozen=True)
class BuildResult:
    exit_code: int
    summary: str  # for stderr
    files: tuple[str, ...]  # written, relative to the output folder


def _sources(loaded: Loaded) -> dict[str, list[str]]:
    """The file's lines for the findings' excerpts: the loader kept them (no second read)."""
    return {loaded.estate.file: loaded.estate.document.lines}


def _written(flows: Iterable[Flow], out: TextIO) -> Iterator[Flow]:
    """Pass the flow matrix on while writing it to ``out``, one row per line: the whole matrix of a
    national estate holds millions of (event, holder) pairs and is never in memory at once. Rows
    leave out `paths` (most of the bytes; `misp-planner flows --origin X` prints them)."""
    out.write('{"flows": [')
    separator = "\n"
    for flow in flows:
        out.write(separator + json_line(flow_to_json(flow, paths=False)))
        separator = ",\n"
        yield flow
    out.write("\n]}\n")


def build_files(loaded: Loaded, artifacts: Artifacts, sizing: dict[str, Any]
                ) -> Iterator[tuple[str, str | bytes | Iterable[str]]]:
    """(relative path, text, its UTF-8 bytes or its pieces) of every file `build` writes but
    flows.json and the Ansible project, made one at a time as they are written: a national estate's
    files are tens of MB of text each, and the data behind them more. ``sizing`` is the sizing's
    JSON data, made once for the report and sizing.json."""
    yield "diagram.dot", artifacts.dot
    yield "diagram.mmd", artifacts.mermaid
    yield "diagram.svg", artifacts.svg
    yield "estate.json", json_bytes(estate_as_data(loaded.estate))
    yield "findings.json", format_json(artifacts.findings)
    for name, parts in report_parts(loaded, artifacts).items():
        yield f"report/{name}", parts
    yield "sizing.json", json_bytes(sizing)


def build_all(loaded: Loaded, output: Path, *, force: bool = False) -> BuildResult:
    estate = loaded.estate
    findings = sorted_findings([*loaded.findings, *analyse(estate)])
    report = format_human(findings, _sources(loaded))
    if has_errors(findings):
        return BuildResult(1, report + f"build: {summary_line(findings)}; nothing written to {output}\n", ())
    sizing = size_estate(estate)
    sizing_data = sizing.to_json()  # once: a national estate's is as large as the estate's data
    with atomic_output(output, force=force) as staging:
        with (staging / "flows.json").open("w", encoding="utf-8") as out:
            artifacts = collect(loaded, sizing=sizing_data["instances"], findings=findings,
                                flows=_written(flow_matrix(estate), out))
        files = ["flows.json", "ansible/"]
        for name, text in build_files(loaded, artifacts, sizing_data):
            write_text(staging, name, text)
            files.append(name)
        (staging / "ansible").mkdir()
        generate_project(estate, sizing, staging / "ansible")
    notes = "".join(f"note: {note}\n" for note in artifacts.notes)
    written = tuple(sorted(files))
    return BuildResult(0, report + notes + f"build: {summary_line(findings)}; "
                       f"{plural(len(written), 'output')} written to {output}\n", written)
