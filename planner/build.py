"""`misp-planner build`: every stage's output in one folder, written atomically.

The folder is replaced whole only when every stage succeeded; when validation finds errors nothing
is written and the previous build stays as it was (containerlab's rule: no destructive step until
the input is valid).
"""

from __future__ import annotations

import importlib.util
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from planner.diagnostics import format_human, format_json, has_errors, summary_line
from planner.estate import estate_as_data
from planner.output import atomic_output, write_text
from planner.pipeline import Loaded
from planner.render.report import Artifacts, collect, render_report


@dataclass(frozen=True)
class BuildResult:
    exit_code: int
    summary: str  # for stderr
    files: tuple[str, ...]  # written, relative to the output folder


def _json(data: Any) -> str:
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _sources(loaded: Loaded) -> dict[str, list[str]]:
    try:
        return {loaded.estate.file: Path(loaded.estate.file).read_text(encoding="utf-8").splitlines()}
    except OSError:
        return {}


def build_files(loaded: Loaded, artifacts: Artifacts, sizing: Any) -> dict[str, str]:
    """Relative path -> text of every file `build` writes (except the Ansible project)."""
    from planner.flows import flow_to_json  # type: ignore[import-not-found,unused-ignore]

    estate = loaded.estate
    files = {
        "findings.json": format_json(artifacts.findings),
        "estate.json": _json(estate_as_data(estate)),
        "sizing.json": _json(sizing.to_json() if sizing is not None else {"instances": {}}),
        "flows.json": _json({"flows": [flow_to_json(flow) for flow in artifacts.flows]}),
        "diagram.svg": artifacts.svg,
        "diagram.mmd": artifacts.mermaid,
        "diagram.dot": artifacts.dot,
    }
    files.update({f"report/{name}": text for name, text in render_report(loaded, artifacts).items()})
    return files


def build_all(loaded: Loaded, output: Path, *, force: bool = False) -> BuildResult:
    estate = loaded.estate
    sizing = None
    if importlib.util.find_spec("planner.sizing") is not None:
        from planner.sizing import size_estate  # type: ignore[import-not-found,unused-ignore]

        sizing = size_estate(estate)
    artifacts = collect(loaded, sizing=sizing.to_json()["instances"] if sizing is not None else {})
    report = format_human(artifacts.findings, _sources(loaded))
    if has_errors(artifacts.findings):
        return BuildResult(1, report + f"build: {summary_line(artifacts.findings)}; nothing written to {output}\n", ())
    files = build_files(loaded, artifacts, sizing)
    with atomic_output(output, force=force) as staging:
        for name, text in sorted(files.items()):
            write_text(staging, name, text)
        if sizing is not None and importlib.util.find_spec("planner.ansible.project") is not None:
            from planner.ansible.project import generate_project

            (staging / "ansible").mkdir()
            generate_project(estate, sizing, staging / "ansible")
            files["ansible/"] = ""
    notes = "".join(f"note: {note}\n" for note in artifacts.notes)
    written = tuple(sorted(files))
    return BuildResult(0, report + notes + f"build: {summary_line(artifacts.findings)}; "
                       f"{len(written)} outputs written to {output}\n", written)
