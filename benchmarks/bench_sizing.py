"""Benchmark: sizing (`size_estate`) of synthetic estates of 500 and 2,000 instances.

Run: ``.venv/bin/python benchmarks/bench_sizing.py [n_instances ...] [--seed S]``. Prints, per size,
the time to load the estate, to prepare the propagation engine, to compute the volume flow (sync
inflow: every source instance x level, and every feeder) and the whole `size_estate`, plus the
machine's load average (a shared machine skews timings). Asserts nothing: timings belong in
benchmarks, never in tests.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.synthetic import generate
from planner import sizing
from planner.pipeline import load_estate


def bench(n: int, seed: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "synthetic.yaml"
        path.write_text(yaml.dump(generate(n, seed), Dumper=yaml.CSafeDumper), encoding="utf-8")
        started = time.perf_counter()
        estate = load_estate(path).estate
        loaded = time.perf_counter()
    params = sizing.effective_parameters(estate)
    sizing._engine(estate)  # the propagation engine, built once per estate
    prepared = time.perf_counter()
    sizing.sync_inflow(estate, params)
    inflow = time.perf_counter()
    sizing._SIZINGS.clear()  # size_estate caches per estate object: time it from scratch
    sized = sizing.size_estate(estate)
    done = time.perf_counter()
    print(f"N={n}: {len(estate.instances)} instances, {len(estate.connections)} connections, "
          f"{len(estate.feeders)} feeders, {len(sized.instances)} managed")
    print(f"  load {loaded - started:.2f} s; engine setup {prepared - loaded:.2f} s; "
          f"sync inflow {inflow - prepared:.2f} s; size_estate (engine reused) {done - inflow:.2f} s")


def main() -> None:
    args = sys.argv[1:]
    seed = 1
    if "--seed" in args:
        at = args.index("--seed")
        seed = int(args[at + 1])
        del args[at:at + 2]
    for n in [int(a) for a in args] or [500, 2000]:
        bench(n, seed)
    print(f"load average (1, 5, 15 min): {', '.join(f'{x:.1f}' for x in os.getloadavg())} "
          f"on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
