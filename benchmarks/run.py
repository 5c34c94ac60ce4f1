"""Scale benchmark: every stage of the planner on synthetic estates, with ratios to a floor and to netlab.

    python benchmarks/run.py [--sizes 100,500,2000,5000] [--output benchmarks/RESULTS.md]
                             [--no-netlab] [--netlab-max 2000]

For each size N it writes a synthetic estate (benchmarks/synthetic.py: N instances, ~10 connections
each), then measures, each in a fresh process:
  * every stage (load+validate, lint, flow matrix, sizing, draw default and collapsed, generate
    Ansible, build) -- time of the stage alone and peak memory of the process;
  * `misp-planner build` as a user runs it -- wall time (interpreter start included), peak memory,
    files and bytes written;
  * the floor: parsing the same YAML with PyYAML's C loader and writing as many bytes as the build
    wrote, in a fresh interpreter too;
  * netlab `create` (PyPI `networklab`, installed into its own venv under the cache folder) on a
    topology with the same node and link count; skipped with the reason where it cannot run.
Ratios are measured in the same run. Nothing here asserts a time: the numbers are for people.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.stage import STAGES  # noqa: E402
from benchmarks.synthetic import generate  # noqa: E402

CACHE = Path(os.environ.get("MISP_PLANNER_BENCH_CACHE", Path(tempfile.gettempdir()) / "misp-planner-bench"))
TARGETS = {"build_vs_netlab": 0.05, "build_vs_floor": 5.0, "flows_2000_s": 2.0, "draw_s": 30.0, "peak_5000_mib": 1024}


@dataclass
class Measure:
    seconds: float
    peak_mib: float
    files: int = 0
    bytes: int = 0


@dataclass
class SizeResult:
    n: int
    connections: int
    yaml_bytes: int
    stages: dict[str, Measure] = field(default_factory=dict)
    build_cli: Measure | None = None
    floor: Measure | None = None
    netlab: Measure | None = None
    netlab_note: str = ""


def timed(cmd: list[str], cwd: Path | None = None, env: dict[str, str] | None = None) -> tuple[Measure, str]:
    """Wall time and peak memory of one child process (os.wait4 gives that child's own rusage)."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert proc.stdout is not None
    output = proc.stdout.read().decode("utf-8", "replace")
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {proc.returncode}:\n{output[-3000:]}")
    return Measure(round(seconds, 3), round(usage.ru_maxrss / 1024, 1)), output


def folder_size(root: Path) -> tuple[int, int]:
    files = [p for p in root.rglob("*") if p.is_file()]
    return len(files), sum(p.stat().st_size for p in files)


class _PlainDumper(yaml.CSafeDumper):  # type: ignore[misc,name-defined]
    """Writes repeated values out: the generator shares filter objects, and PyYAML would turn them
    into thousands of aliases (which the planner bounds, as it should)."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def write_estate(n: int, folder: Path) -> tuple[Path, int]:
    data = generate(n, seed=1)
    path = folder / f"estate-{n}.yaml"
    path.write_text(yaml.dump(data, Dumper=_PlainDumper, sort_keys=False, width=200), encoding="utf-8")
    return path, len(data.get("sync", []))


def netlab_topology(estate_file: Path, folder: Path) -> Path:
    """Same nodes, same links: one netlab link per sync connection."""
    data = yaml.load(estate_file.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader)
    names = {iid: f"r{n}" for n, iid in enumerate(data["instances"])}
    links = [f"{names[c['initiator']]}-{names[c['remote']]}" for c in data.get("sync", [])]
    # netlab numbers nodes up to MAX_NODE_ID (150 by default); raise it to the estate's size.
    # Its default address pools (plain text in generated files, nothing is contacted) hold ~150
    # nodes and ~16k links: widen them.
    topo = {"provider": "clab", "defaults": {"device": "frr", "const": {"MAX_NODE_ID": len(names) + 10}},
            "addressing": {"mgmt": {"ipv4": "172.16.0.0/12", "start": 10},
                           "loopback": {"ipv4": "10.0.0.0/16", "prefix": 32},
                           "p2p": {"ipv4": "10.128.0.0/10", "prefix": 30}},
            "nodes": list(names.values()), "links": links}
    path = folder / "topology.yml"
    path.write_text(yaml.dump(topo, Dumper=yaml.CSafeDumper), encoding="utf-8")
    return path


def netlab_binary() -> tuple[Path | None, str]:
    venv = CACHE / "netlab-venv"
    binary = venv / "bin" / "netlab"
    if binary.exists():
        return binary, ""
    try:
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "networklab"], check=True,
                       capture_output=True, timeout=900)
    except (subprocess.SubprocessError, OSError) as exc:
        shutil.rmtree(venv, ignore_errors=True)
        return None, f"netlab could not be installed ({type(exc).__name__}); ratio not measured"
    return binary, ""


def measure_size(n: int, work: Path, use_netlab: bool, netlab_max: int) -> SizeResult:
    folder = work / f"n{n}"
    folder.mkdir(parents=True, exist_ok=True)
    estate_file, connections = write_estate(n, folder)
    result = SizeResult(n, connections, estate_file.stat().st_size)
    for stage in STAGES:
        _, out = timed([sys.executable, str(ROOT / "benchmarks" / "stage.py"), stage, str(estate_file),
                        str(folder / stage)], cwd=ROOT)
        data = json.loads(out.strip().splitlines()[-1])
        result.stages[stage] = Measure(data["seconds"], data["peak_mib"], data.get("files", 0), data.get("bytes", 0))
        print(f"  N={n} {stage}: {data['seconds']} s, {data['peak_mib']} MiB", file=sys.stderr, flush=True)
    planner = Path(sys.executable).parent / "misp-planner"
    build_dir = folder / "cli-build"
    measure, _ = timed([str(planner), "build", str(estate_file), "-o", str(build_dir), "--force"], cwd=ROOT)
    measure.files, measure.bytes = folder_size(build_dir)
    result.build_cli = measure
    floor_code = ("import sys, yaml; yaml.load(open(sys.argv[1], encoding='utf-8'), Loader=yaml.CSafeLoader); "
                  "open(sys.argv[2], 'wb').write(b'x' * int(sys.argv[3]))")
    result.floor, _ = timed([sys.executable, "-c", floor_code, str(estate_file), str(folder / "floor.bin"),
                             str(measure.bytes)])
    print(f"  N={n} build (cli): {measure.seconds} s; floor {result.floor.seconds} s", file=sys.stderr, flush=True)
    if not use_netlab:
        result.netlab_note = "skipped (--no-netlab)"
    elif n > netlab_max:
        result.netlab_note = f"skipped above N={netlab_max} (`--netlab-max`)"
    else:
        binary, note = netlab_binary()
        if binary is None:
            result.netlab_note = note
        else:
            lab = folder / "netlab"
            lab.mkdir(exist_ok=True)
            topo = netlab_topology(estate_file, lab)
            try:
                result.netlab, _ = timed([str(binary), "create", str(topo.name)], cwd=lab)
                print(f"  N={n} netlab create: {result.netlab.seconds} s", file=sys.stderr, flush=True)
            except RuntimeError as exc:
                result.netlab_note = f"netlab create failed: {str(exc).splitlines()[0]}"
    shutil.rmtree(folder, ignore_errors=True)
    return result


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = ""
    try:
        kib = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f", {kib / 1024 / 1024:.0f} GiB RAM"
    except (OSError, ValueError, IndexError):
        pass
    return (f"{os.cpu_count()} cores ({cpu}){memory}, {platform.system()} {platform.release()}, "
            f"Python {platform.python_version()}")


def ratio(a: float, b: float) -> str:
    return f"{a / b:.3f}" if b else "—"


def markdown(results: list[SizeResult]) -> str:
    lines = ["# Benchmark results", "",
             "Produced by `python benchmarks/run.py`; synthetic estates from `benchmarks/synthetic.py`",
             "(N instances in N/20 communities, ~10 connections per instance, sharing groups, feeders, consumers).",
             "", f"Machine: {machine()}.", "",
             "## Stages (seconds of the stage alone; peak memory of its process, MiB)", "",
             "| N | connections | YAML | " + " | ".join(STAGES) + " |",
             "|---|---|---|" + "---|" * len(STAGES)]
    for r in results:
        cells = [f"{r.stages[s].seconds:.2f} s / {r.stages[s].peak_mib:.0f}" for s in STAGES]
        lines.append(f"| {r.n} | {r.connections} | {r.yaml_bytes / 1024:.0f} KiB | " + " | ".join(cells) + " |")
    lines += ["", "## `misp-planner build` against the floor and netlab (wall time, same run)", "",
              "| N | build | peak MiB | files | bytes | floor | build / floor | netlab create | build / netlab |",
              "|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        assert r.build_cli and r.floor
        netlab = f"{r.netlab.seconds:.1f} s" if r.netlab else r.netlab_note
        vs_netlab = ratio(r.build_cli.seconds, r.netlab.seconds) if r.netlab else "—"
        lines.append(f"| {r.n} | {r.build_cli.seconds:.2f} s | {r.build_cli.peak_mib:.0f} | {r.build_cli.files} | "
                     f"{r.build_cli.bytes:,} | {r.floor.seconds:.2f} s | "
                     f"{ratio(r.build_cli.seconds, r.floor.seconds)} | {netlab} | {vs_netlab} |")
    lines += ["", "## Targets (issue 8)", "", "| target | measured | met |", "|---|---|---|"]
    by_n = {r.n: r for r in results}
    if 2000 in by_n:
        r = by_n[2000]
        assert r.build_cli and r.floor
        if r.netlab:
            value = r.build_cli.seconds / r.netlab.seconds
            lines.append(f"| build(2,000) ≤ 5 % of netlab create | {value:.1%} | {'yes' if value <= 0.05 else 'no'} |")
        floor = r.build_cli.seconds / r.floor.seconds
        lines.append(f"| build(2,000) ≤ 5x the floor | {floor:.1f}x | {'yes' if floor <= 5 else 'no'} |")
        flows = r.stages["flows"].seconds
        lines.append(f"| flow matrix (2,000 x 5 levels) ≤ 2 s | {flows:.2f} s | {'yes' if flows <= 2 else 'no'} |")
    worst_draw = max((r.stages["draw"].seconds, r.n) for r in results)
    lines.append(f"| default draw ≤ 30 s (worst: N={worst_draw[1]}) | {worst_draw[0]:.1f} s | "
                 f"{'yes' if worst_draw[0] <= 30 else 'no'} |")
    if 5000 in by_n:
        peak = max(m.peak_mib for m in by_n[5000].stages.values())
        assert by_n[5000].build_cli
        peak = max(peak, by_n[5000].build_cli.peak_mib)
        lines.append(f"| peak memory (5,000) ≤ 1 GiB | {peak:.0f} MiB | {'yes' if peak <= 1024 else 'no'} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="100,500,2000,5000")
    parser.add_argument("--output", type=Path, default=ROOT / "benchmarks" / "RESULTS.md")
    parser.add_argument("--no-netlab", action="store_true")
    parser.add_argument("--netlab-max", type=int, default=2000)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    args.output.parent.mkdir(parents=True, exist_ok=True)
    results: list[SizeResult] = []
    with tempfile.TemporaryDirectory(prefix="misp-planner-bench-") as tmp:
        for n in sizes:
            results.append(measure_size(n, Path(tmp), not args.no_netlab, args.netlab_max))
            # Written after every size, so that a long run interrupted later still leaves its results.
            args.output.write_text(markdown(results), encoding="utf-8")
    print(args.output.read_text(encoding="utf-8"))


if __name__ == "__main__":
    main()
