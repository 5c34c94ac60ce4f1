"""Run one planner stage on a topology file in this process and print its cost as JSON.

    python benchmarks/stage.py STAGE TOPOLOGY WORKDIR

Each stage runs in a fresh process (run.py starts one per stage) so that peak memory is that of
the stage and what it needs, not of everything measured before it. The time covers the stage
only: what it needs first (loading, sizing) is done before the clock starts.
"""

from __future__ import annotations

import gc
import json
import resource
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

STAGES = ("load", "lint", "flows", "sizing", "draw", "draw-collapsed", "generate", "build")


def folder_size(root: Path) -> tuple[int, int]:
    files = [p for p in root.rglob("*") if p.is_file()]
    return len(files), sum(p.stat().st_size for p in files)


def prepare(stage: str, topology: Path, workdir: Path) -> Callable[[], Path | None]:
    """Everything the stage needs, done now; returns the stage itself (which may name its output)."""
    from planner.pipeline import load_estate

    if stage == "load":
        return lambda: (load_estate(topology), None)[1]
    loaded = load_estate(topology)
    estate = loaded.estate
    if stage == "lint":
        from planner.analyse import analyse

        return lambda: (analyse(estate), None)[1]
    if stage == "flows":
        from planner.flows import flow_matrix

        return lambda: (sum(1 for _ in flow_matrix(estate)), None)[1]  # rows are made as they are read
    if stage == "sizing":
        from planner.sizing import size_estate

        return lambda: (size_estate(estate), None)[1]
    if stage in ("draw", "draw-collapsed"):
        from planner.render import DrawOptions, draw

        options = DrawOptions(collapse=stage == "draw-collapsed")
        out = workdir / f"{stage}.svg"
        return lambda: (draw(estate, out, options), out)[1]
    if stage == "generate":
        from planner.ansible.project import generate_project
        from planner.sizing import size_estate

        sizing = size_estate(estate)
        out = workdir / "ansible"
        out.mkdir(parents=True, exist_ok=True)
        return lambda: (generate_project(estate, sizing, out), out)[1]
    if stage == "build":
        from planner.build import build_all

        out = workdir / "build"
        return lambda: (build_all(loaded, out, force=True), out)[1]
    raise SystemExit(f"unknown stage {stage}; one of {', '.join(STAGES)}")


def main() -> None:
    stage, topology, workdir = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
    workdir.mkdir(parents=True, exist_ok=True)
    action = prepare(stage, topology, workdir)
    gc.freeze()  # as the CLI does once the estate is loaded (planner.cli.load_or_exit)
    start = time.perf_counter()
    output = action()
    seconds = time.perf_counter() - start
    result: dict[str, Any] = {"stage": stage, "seconds": round(seconds, 3),
                              "peak_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}
    if output is not None and output.exists():
        files, size = folder_size(output) if output.is_dir() else (1, output.stat().st_size)
        result.update(files=files, bytes=size)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
