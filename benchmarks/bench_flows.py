"""Benchmark: the full flow matrix on a synthetic estate of 2,000 instances and 20,000 connections.

Run: ``.venv/bin/python benchmarks/bench_flows.py [n_instances] [seed]``. Prints timings; asserts
nothing (timings belong in benchmarks, never in tests).
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.synthetic import generate
from planner.flows import Engine
from planner.pipeline import load_estate


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    seed = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "synthetic.yaml"
        path.write_text(json.dumps(generate(n, seed)), encoding="utf-8")  # JSON is YAML 1.2
        started = time.perf_counter()
        estate = load_estate(path).estate
        loaded = time.perf_counter()
    engine = Engine(estate)
    events = engine.matrix_events()
    prepared = time.perf_counter()
    flows = [engine.propagate(event) for event in events]
    done = time.perf_counter()
    held = sum(len(f.reaches) for f in flows)
    print(f"estate: {len(estate.instances)} instances, {len(estate.connections)} connections, "
          f"{sum(1 for c in estate.connections for _ in c.flows())} flows")
    print(f"load: {loaded - started:.2f} s; engine setup: {prepared - loaded:.2f} s")
    print(f"matrix: {len(flows)} events, {held} (instance, copy) results in {done - prepared:.2f} s")


if __name__ == "__main__":
    main()
