"""Draw benchmark: synthetic estates drawn in the collapsed and the default view; prints wall times.

    .venv/bin/python benchmarks/bench_draw.py            # N = 500 (the issue's figure)
    .venv/bin/python benchmarks/bench_draw.py 100 5000   # other sizes

Times include building the diagram model and running the Graphviz layout (svg). Loading the YAML
is measured separately, because `draw` pays it too but it is not drawing.

Measured 2026-11-29 on the 2-core build machine while other jobs kept its load average near 11
(so wall times are pessimistic; sfdp's CPU time for N = 5,000 was about 6 s):

    N      connections  draw --collapse communities     default draw (auto-collapsed)
    100        981      0.20 s (dot, 5 nodes)           0.16 s
    500      4,921      0.32 s (sfdp, 25 nodes)         0.26 s
    2,000   19,662      1.87 s (sfdp, 100 nodes)        1.31 s
    5,000   49,100      7.21 s (sfdp, 250 nodes)        7.38 s   (target: <= 30 s)
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.synthetic import generate
from planner.pipeline import load_estate
from planner.render import DrawOptions, build_diagram, load_styles, render


def _timed(action: object) -> tuple[float, object]:
    start = time.perf_counter()
    result = action()  # type: ignore[operator]
    return time.perf_counter() - start, result


def bench(n: int, folder: Path) -> dict[str, float | int | str]:
    path = folder / f"synthetic-{n}.json"  # JSON is YAML 1.2, and faster to write
    path.write_text(json.dumps(generate(n)), encoding="utf-8")
    load_s, loaded = _timed(lambda: load_estate(path))
    estate = loaded.estate  # type: ignore[attr-defined]
    styles = load_styles()
    row: dict[str, float | int | str] = {"instances": n, "connections": len(estate.connections), "load_s": load_s}
    for view, options in (("collapsed", DrawOptions(collapse=True)), ("default", DrawOptions())):
        seconds, result = _timed(lambda options=options: render(build_diagram(estate, options, sizing={})[0],
                                                                styles, "svg"))
        diagram, _notes = build_diagram(estate, options, sizing={})
        row[f"{view}_s"] = seconds
        row[f"{view}_engine"] = diagram.engine
        row[f"{view}_nodes"] = len(diagram.nodes)
        row[f"{view}_edges"] = len(diagram.edges)
        row[f"{view}_svg_bytes"] = len(result)  # type: ignore[arg-type]
    return row


def main(argv: list[str]) -> None:
    sizes = [int(a) for a in argv] or [500]
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            row = bench(n, Path(tmp))
            print(f"N={row['instances']:>5} connections={row['connections']:>6} load={row['load_s']:.2f}s  "
                  f"draw --collapse communities: {row['collapsed_s']:.2f}s ({row['collapsed_engine']}, "
                  f"{row['collapsed_nodes']} nodes, {row['collapsed_edges']} edges)  "
                  f"default draw: {row['default_s']:.2f}s ({row['default_engine']}, {row['default_nodes']} nodes)",
                  flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
