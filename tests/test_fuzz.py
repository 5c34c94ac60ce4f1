"""Fuzzing every command that reads a topology: the only outcomes allowed are exit 0 with output, or
exit 1-3 with a diagnostic. Never a traceback, never a hang, never a half-written output folder.

Inputs come from three generators:
* structural mutations of the bundled examples (hypothesis picks a place in the data and puts a
  hostile or merely wrong value there, removes it, or duplicates a section);
* small estates built from scratch (random instances, connections, groups, feeders, consumers);
* raw bytes for the loader alone (a byte-level fuzzer; `tests/fuzz_loader.py` runs the same target
  under atheris for long local sessions).

CI runs a bounded number of examples; `FUZZ_EXAMPLES=2000 pytest tests/test_fuzz.py` runs longer.
Every input that ever crashed the planner is kept in `tests/fuzz_regressions/` and replayed here.
"""

from __future__ import annotations

import copy
import os
import signal
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from planner.cli import app
from planner.diagnostics import PlannerError
from planner.load import load_bytes

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("*/topology.yaml"))
REGRESSIONS = sorted((ROOT / "tests" / "fuzz_regressions").glob("*.yaml"))
EXAMPLES_PER_TEST = int(os.environ.get("FUZZ_EXAMPLES", "12"))
SECONDS_PER_INPUT = 60  # one input through every command; generous on a loaded 2-core machine

runner = CliRunner()

FUZZ_SETTINGS = settings(max_examples=EXAMPLES_PER_TEST, deadline=None, derandomize=True,
                         suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                                HealthCheck.function_scoped_fixture])

HOSTILE_VALUES: list[Any] = [
    None, "", " ", 0, -1, 1.5, 10**30, True, [], {}, [[[]]], {"a": {"b": {}}},
    "../../etc/passwd", "a/../../b", "x" * 300, "\u202e", "ünïcödé", "tab\there", "line\nbreak",
    "hub", "national", "csirt", "partner-misp", "ingest", "nonexistent", "BadId", "-x",
    "12k", "1.5M", "-5M", "20k/day", "1e9/day", "3y", "0s", "16GiB", "16GB",
    "organisation", "sharing-group", 7, "tlp:red", "https://x.example", "http://", "ftp://x",
    "10.0.0.1/33", "not-a-uuid", "5d9c1f0e-3a2b-4c4d-9e8f-0a1b2c3d4e5f",
]


@contextmanager
def time_limit(seconds: int) -> Iterator[None]:
    """Fail (rather than hang the suite) when one input runs too long."""

    def expired(signum: int, frame: Any) -> None:
        raise TimeoutError(f"an input took more than {seconds} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def commands(topology: Path, out: Path) -> list[list[str]]:
    t = str(topology)
    return [
        ["validate", t], ["lint", t, "--format", "sarif"], ["inspect", t, "--format", "json"],
        ["flows", t, "--matrix", "--format", "json"], ["flows", t, "--origin", "hub", "--distribution", "all"],
        ["size", t, "--format", "json"], ["draw", t, "-o", str(out / "d.dot")], ["draw", t, "-o", str(out / "d.mmd")],
        ["report", t, "-o", str(out / "report")], ["generate", t, "-o", str(out / "ansible")],
        ["build", t, "-o", str(out / "build")], ["diff", t, t, "--format", "json"],
    ]


def assert_well_behaved(topology: Path, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with time_limit(SECONDS_PER_INPUT):
        for args in commands(topology, out):
            result = runner.invoke(app, args)
            if result.exception is not None and not isinstance(result.exception, SystemExit):
                detail = "".join(traceback.format_exception(result.exception))
                pytest.fail(f"{' '.join(args)} crashed on\n{topology.read_text(errors='replace')[:2000]}\n{detail}")
            assert result.exit_code in (0, 1, 2, 3), (args, result.exit_code, result.output[-2000:])
            assert "Traceback" not in result.output, (args, result.output[-2000:])
            if result.exit_code != 0:
                assert result.output.strip(), f"{' '.join(args)} exited {result.exit_code} without saying why"
            target = {"report": "report", "generate": "ansible", "build": "build"}.get(args[0])
            if target and result.exit_code not in (0, 1):
                assert not (out / target).exists(), f"{args[0]} failed but left {target}/ behind"
    leftovers = [p.name for p in out.iterdir() if p.name.startswith(".")]
    assert not leftovers, f"staging folders left behind: {leftovers}"


def _paths(data: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(data, dict):
        for key, value in data.items():
            found.extend(_paths(value, (*prefix, key)))
    elif isinstance(data, list):
        for n, value in enumerate(data):
            found.extend(_paths(value, (*prefix, n)))
    return found


def _mutate(data: Any, path: tuple[Any, ...], action: str, value: Any) -> Any:
    if not path:
        return value if action == "replace" else data
    parent = data
    for part in path[:-1]:
        parent = parent[part]
    last = path[-1]
    if action == "delete":
        del parent[last]
    elif action == "replace":
        parent[last] = value
    elif action == "rename" and isinstance(parent, dict):
        parent[f"{last}x" if isinstance(last, str) else "x"] = parent.pop(last)
    elif action == "duplicate" and isinstance(parent, list):
        parent.append(copy.deepcopy(parent[last]))
    elif action == "duplicate" and isinstance(parent, dict):
        parent[f"{last}-copy" if isinstance(last, str) else "copy"] = copy.deepcopy(parent[last])
    return data


@st.composite
def mutated_example(draw: st.DrawFn) -> str:
    source = draw(st.sampled_from(EXAMPLES))
    data = yaml.safe_load(source.read_text(encoding="utf-8"))
    for _ in range(draw(st.integers(1, 4))):
        paths = _paths(data)
        path = draw(st.sampled_from(paths))
        action = draw(st.sampled_from(["replace", "delete", "rename", "duplicate"]))
        value = draw(st.sampled_from(HOSTILE_VALUES))
        data = _mutate(data, path, action, value)
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


IDS = st.sampled_from(["hub", "a", "b", "c", "partner", "x-1"])


@st.composite
def random_estate(draw: st.DrawFn) -> str:
    ids = draw(st.lists(IDS, min_size=1, max_size=5, unique=True))
    orgs = {f"o{n}": {"name": f"Org {n}"} for n in range(draw(st.integers(1, 3)))}
    communities = {"c1": {"trust": draw(st.sampled_from(["trusted", "untrusted"]))},
                   "c2": {"trust": "trusted", "private": draw(st.booleans())}}
    instances = {i: {"community": draw(st.sampled_from(["c1", "c2"])), "host_org": draw(st.sampled_from(list(orgs))),
                     "url": f"https://{i}.example", "managed": draw(st.booleans()),
                     "volume": draw(st.sampled_from(["below-50M", "above-50M", {"attributes": "60M"},
                                                     {"attributes": "1k", "growth": "1M/day"}]))}
                 for i in ids}
    sync = []
    for _ in range(draw(st.integers(0, 6))):
        a, b = draw(IDS), draw(IDS)
        entry: dict[str, Any] = {"initiator": a, "remote": b}
        for mode in draw(st.sets(st.sampled_from(["push", "pull"]), min_size=0, max_size=2)):
            entry[mode] = draw(st.sampled_from([True, {"tags": {"include": ["tlp:green"]}},
                                                {"tags": {"exclude": ["tlp:red"]}}, {"orgs": {"include": ["o0"]}}]))
        entry["internal"] = draw(st.booleans())
        entry["unpublish"] = draw(st.booleans())
        sync.append(entry)
    data: dict[str, Any] = {"version": 1, "name": "fuzz", "organisations": orgs, "communities": communities,
                            "instances": instances, "sync": sync}
    if draw(st.booleans()):
        data["sharing_groups"] = {"g": {"orgs": list(orgs), "instances": ids[:2], "roaming": draw(st.booleans())}}
    if draw(st.booleans()):
        data["feeders"] = {"f": {"kind": "sandbox", "into": ids[0], "rate": "10k/day",
                                 "distribution": draw(st.sampled_from(["organisation", "all", "connected"])),
                                 "publish": draw(st.booleans())}}
    if draw(st.booleans()):
        data["consumers"] = {"s": {"kind": "siem", "from": ids[-1], "via": draw(st.sampled_from(["api", "zmq"])),
                                   "format": "json"}}
    if draw(st.booleans()):
        data["policies"] = [{"name": "p", "data": {"tags": ["tlp:red"]}, "must_not_reach": {"community": "c2"}}]
    return yaml.safe_dump(data, sort_keys=False)


@FUZZ_SETTINGS
@given(text=mutated_example())
def test_mutated_examples(tmp_path_factory: pytest.TempPathFactory, text: str) -> None:
    folder = tmp_path_factory.mktemp("mutated")
    topology = folder / "topology.yaml"
    topology.write_text(text, encoding="utf-8")
    assert_well_behaved(topology, folder / "out")


@FUZZ_SETTINGS
@given(text=random_estate())
def test_random_estates(tmp_path_factory: pytest.TempPathFactory, text: str) -> None:
    folder = tmp_path_factory.mktemp("random")
    topology = folder / "topology.yaml"
    topology.write_text(text, encoding="utf-8")
    assert_well_behaved(topology, folder / "out")


@settings(max_examples=EXAMPLES_PER_TEST * 25, deadline=None, derandomize=True)
@given(raw=st.binary(max_size=4096) | st.text(max_size=2048).map(lambda s: s.encode("utf-8", "surrogatepass")))
def test_loader_bytes(raw: bytes) -> None:
    """The loader turns any bytes into a document or a PlannerError with exit code 3, nothing else."""
    try:
        load_bytes(raw, "fuzz.yaml")
    except PlannerError as error:
        assert error.exit_code == 3 and error.findings


@pytest.mark.parametrize("case", REGRESSIONS, ids=[p.stem for p in REGRESSIONS])
def test_regressions(case: Path, tmp_path: Path) -> None:
    assert_well_behaved(case, tmp_path / "out")
