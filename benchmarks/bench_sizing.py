"""Benchmark: sizing (`size_estate`) of synthetic estates of 500 and 2,000 instances.

Run: ``.venv/bin/python benchmarks/bench_sizing.py [n_instances ...] [--seed S]``. Prints, per size,
the time to load the estate, then the whole `size_estate` from scratch (propagation engine included)
and its parts: preparing the engine and the volume flow (sync inflow: every source instance x
level, and every feeder), each as wall-clock and CPU time, plus the machine's load average (a
shared machine skews timings; CPU time less so). Asserts nothing: timings belong in benchmarks,
never in tests. Peak memory of sizing alone: ``benchmarks/stage.py sizing FILE WORKDIR``.
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
from planner.flows import Engine
from planner.pipeline import load_estate


def clocks() -> tuple[float, float]:
    return time.perf_counter(), time.process_time()


def since(start: tuple[float, float]) -> str:
    wall, cpu = clocks()
    return f"{wall - start[0]:.2f} s (CPU {cpu - start[1]:.2f} s)"


def bench(n: int, seed: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "synthetic.yaml"
        path.write_text(yaml.dump(generate(n, seed), Dumper=yaml.CSafeDumper), encoding="utf-8")
        started = clocks()
        estate = load_estate(path).estate
        loaded = since(started)
    sizing.parameter_specs()  # the data file, read once per process
    started = clocks()
    sized = sizing.size_estate(estate)
    whole = since(started)
    # The parts: preparing a new engine, then the volume flow alone (on the estate's engine, whose
    # search tables the whole run above has filled).
    params = sizing.effective_parameters(estate)
    started = clocks()
    Engine(estate)
    engine = since(started)
    started = clocks()
    sizing.sync_inflow(estate, params)
    inflow = since(started)
    print(f"N={n}: {len(estate.instances)} instances, {len(estate.connections)} connections, "
          f"{len(estate.feeders)} feeders, {len(sized.instances)} managed")
    print(f"  load {loaded}; size_estate {whole}; of which engine setup {engine}, sync inflow {inflow}")


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
