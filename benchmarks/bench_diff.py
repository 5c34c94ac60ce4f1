"""Benchmark: `misp-planner diff` of a synthetic estate against a copy with one change (issue 21):
``growth`` raises one instance's growth tenfold (the change a capacity review makes most often,
which leaves every flow as it was); ``filter`` lets ``tlp:amber`` through one guarded connection
(a sharing change: the flows of the origins upstream of it must be compared again).

Run: ``.venv/bin/python benchmarks/bench_diff.py [n_instances] [seed] [growth|filter]``. Prints the wall and CPU
time of the diff alone (both estates loaded first, as `diff` loads them), what it reports, and the
machine's load average (a shared machine skews wall time; CPU time far less). Asserts nothing.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.synthetic import generate
from planner.diff import diff_estates
from planner.pipeline import load_estate


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    seed = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    change = sys.argv[3] if len(sys.argv) > 3 else "growth"
    base = generate(n, seed)
    head = json.loads(json.dumps(base))
    if change == "growth":
        first = sorted(head["instances"])[0]
        volume = head["instances"][first]["volume"]
        volume["growth"] = f"{int(volume['growth'].removesuffix('k/day')) * 10}k/day"
        what = f"{first} growth {base['instances'][first]['volume']['growth']} -> {volume['growth']}"
    else:
        conn = next(c for c in head["sync"] if "tlp:amber" in json.dumps(c.get("push", "")))
        conn["push"] = {"tags": {"include": ["tlp:clear", "osint", "tlp:amber"], "exclude": ["tlp:red"]}}
        what = f"push {conn['initiator']} -> {conn['remote']} lets tlp:amber through"
    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for name, data in (("base", base), ("head", head)):
            paths.append(Path(tmp) / f"{name}.yaml")
            paths[-1].write_text(json.dumps(data), encoding="utf-8")  # JSON is YAML 1.2
        estates = [load_estate(path).estate for path in paths]
    wall, cpu = time.perf_counter(), _cpu()
    result = diff_estates(*estates)
    wall, cpu = time.perf_counter() - wall, _cpu() - cpu
    print(f"{n} instances; {what}")
    print(f"diff: {wall:.1f} s wall, {cpu:.1f} s CPU; load average {os.getloadavg()[0]:.1f}")
    print(result.summary())


if __name__ == "__main__":
    main()
