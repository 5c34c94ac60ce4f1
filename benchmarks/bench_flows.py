"""Benchmark: the full flow matrix on a synthetic estate of 2,000 instances and 20,000 connections.

Run: ``.venv/bin/python benchmarks/bench_flows.py [n_instances] [seed]``. Prints timings (the matrix,
then reading every path, which level-`all` rows build lazily, then each level alone; and the
machine's load average, since a shared machine skews them); asserts nothing (timings belong in
benchmarks, never in tests).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.synthetic import generate
from planner.flows import Engine
from planner.misp import Distribution
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
    prepared = time.perf_counter()
    flows = list(engine.matrix())  # rows are made as they are read; here all are kept, to read paths below
    done = time.perf_counter()
    print(f"estate: {len(estate.instances)} instances, {len(estate.connections)} connections, "
          f"{len(engine.links)} flows (one per direction)")
    print(f"load: {loaded - started:.2f} s; engine setup: {prepared - loaded:.2f} s")
    held = sum(len(f.reaches) for f in flows)
    print(f"full matrix: {len(flows)} events, {held} (event, holder) results in {done - prepared:.2f} s")
    started = time.perf_counter()
    chains = sum(len(f.paths) for f in flows)  # level-`all` rows build their paths when first read
    print(f"  reading every path afterwards ({chains} chains): {time.perf_counter() - started:.2f} s")
    for level in Distribution:
        events = [e for e in engine.matrix_events() if e.distribution == level]
        started = time.perf_counter()
        if level == Distribution.ALL:
            for _ in engine.matrix_all([e.origin for e in events]):
                pass
        else:
            for event in events:
                engine.propagate(event)
        print(f"  {level.word}: {len(events)} events in {time.perf_counter() - started:.2f} s")
    print(f"load average (1, 5, 15 min): {', '.join(f'{x:.1f}' for x in os.getloadavg())} "
          f"on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
