"""`misp-planner flows` and the MP201 policy rule, end to end.

The flow matrix of every example is a golden file beside it (``examples/<name>/flow-matrix.json``).
After a deliberate change to the engine, regenerate and review every diff by eye:

    UPDATE_GOLDEN=1 .venv/bin/pytest tests/test_flows_cli.py
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from test_flows_table import build, pull, push
from typer.testing import CliRunner

from planner.cli import app
from planner.rules.policies import check_policies

UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"
ROOT = Path(__file__).resolve().parent.parent
NATIONAL = str(ROOT / "examples" / "national-csirt" / "topology.yaml")

runner = CliRunner()


def run(args: list[str]) -> Result:
    result = runner.invoke(app, ["flows", *args])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"flows raised {result.exception!r}") from result.exception
    assert "Traceback" not in result.output
    return result


def write(tmp_path: Path, estate: Any) -> str:
    path = tmp_path / "estate.json"  # JSON is YAML 1.2: the loader reads it as a topology file
    path.write_text(json.dumps(estate.document.data), encoding="utf-8")
    return str(path)


def test_json_is_exactly_one_object_in_the_spec_shape(tmp_path: Path) -> None:
    estate = build({"hub": "oa", "ingest": "oa", "partner": "ob"},
                   [push("hub", "partner", filter={"tags": {"include": ["tlp:green"]}}), pull("hub", "ingest")])
    result = run([write(tmp_path, estate), "--origin", "hub", "--distribution", "all", "--tags", "tlp:green",
                  "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)  # the whole of stdout is one JSON document
    # Beside spec §10's fields, what the answer assumed about MISP's versions (issue 18).
    assumed = data.pop("assumed")
    assert data == {"origin": "hub", "distribution": "all", "tags": ["tlp:green"], "sharing_group": None,
                    "org": "oa", "reaches": {"hub": "all", "partner": "all"},
                    "paths": {"partner": ["hub", "partner"]}, "timing_dependent": [],
                    # added beside spec §10's fields: why each instance not reached is not
                    "not_reached": {"ingest": "no sync connection brings data into it (no push to it, no pull by it)"}}
    assert assumed["misp_versions"] == dict.fromkeys(("hub", "ingest", "partner"), "2.5 (its latest release)")
    assert assumed["downgraded_internal_pulls"] == []


def test_json_on_an_example() -> None:
    result = run([NATIONAL, "--origin", "hub", "--distribution", "connected", "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert set(data) >= {"origin", "distribution", "tags", "sharing_group", "reaches", "paths"}
    assert data["reaches"]["hub"] == "connected"


def test_json_for_a_feeder_uses_its_own_distribution(tmp_path: Path) -> None:
    estate = build({"a": "oa", "b": "ob"}, [push("a", "b")],
                   feeders={"bench": {"kind": "workbench", "into": "a", "distribution": "community", "publish": True}})
    result = run([write(tmp_path, estate), "--origin", "bench", "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    # Community-level events do not leave by push (docs/misp-behaviour.md#what-a-push-sends rule 2).
    assert data["distribution"] == "community"
    assert data["reaches"] == {"a": "community"}


def test_table_names_levels_paths_and_unreached(tmp_path: Path) -> None:
    estate = build({"a": "oa", "b": "ob", "c": "oc"}, [push("a", "b")])
    result = run([write(tmp_path, estate), "--origin", "a", "--distribution", "connected"])
    assert result.exit_code == 0, result.output
    assert "a -> b" in result.stdout
    assert "community" in result.stdout
    assert "Not reached, and why (the first reason):\n  c: no sync connection brings data into it" in result.stdout


def test_table_says_when_the_outcome_depends_on_timing(tmp_path: Path) -> None:
    estate = build({"a": "oa", "b": "ob", "c": "oc"}, [push("a", "b"), push("a", "c"), pull("b", "c")])
    result = run([write(tmp_path, estate), "--origin", "a", "-d", "connected"])
    assert result.exit_code == 0, result.output
    assert "timing-dependent" in result.stdout
    assert "Timing-dependent:" in result.stdout and ": b." in result.stdout


@pytest.mark.parametrize("args, message", [
    (["--origin", "hubb", "-d", "all"], "unknown origin 'hubb'; did you mean 'hub'?"),
    (["--origin", "hub", "-d", "everyone"], "'everyone' is not a distribution level"),
    (["--origin", "hub", "-d", "sharing-group", "--sharing-group", "nope"], "unknown sharing group 'nope'"),
    (["--origin", "hub", "-d", "sharing-group"], "needs a sharing group"),
    (["--origin", "hub", "-d", "all", "--org", "partner-cert"], "has no users on instance 'hub'"),
    (["--origin", "hub", "-d", "all", "--org", "nobody"], "unknown organisation 'nobody'"),
    (["--origin", "partner-misp", "-d", "sharing-group", "--sharing-group", "energy-sector"],
     "'partner-cert' is not a member of sharing group 'energy-sector'"),
    (["--origin", "hub"], "--distribution is required"),
    (["-d", "all"], "--origin is required"),
    (["--origin", "hub", "-d", "all", "--format", "xml"], "unknown format 'xml'"),
    (["--matrix", "--origin", "hub"], "leave --origin"),
])
def test_bad_arguments_are_usage_errors(args: list[str], message: str) -> None:
    result = run([NATIONAL, *args])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert message in result.stderr


def test_matrix_table_lists_every_origin() -> None:
    result = run([NATIONAL, "--matrix"])
    assert result.exit_code == 0, result.output
    for origin in ("hub", "ingest", "partner-misp"):
        assert origin in result.stdout
    assert "energy-sector: " in result.stdout


def test_matrix_for_tagged_events() -> None:
    result = run([NATIONAL, "--matrix", "--tags", "tlp:green", "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["tags"] == ["tlp:green"]
    assert {tuple(flow["tags"]) for flow in data["flows"]} == {("tlp:green",)}


def _examples() -> list[Path]:
    return sorted((ROOT / "examples").glob("*/topology.yaml"))


@pytest.mark.parametrize("example", _examples(), ids=[p.parent.name for p in _examples()])
def test_matrix_golden(example: Path) -> None:
    result = run([str(example), "--matrix", "--format", "json"])
    assert result.exit_code == 0, result.output
    golden = example.parent / "flow-matrix.json"
    if UPDATE:
        golden.write_text(result.stdout, encoding="utf-8")
    assert golden.is_file(), f"missing {golden}: run UPDATE_GOLDEN=1 .venv/bin/pytest tests/test_flows_cli.py"
    assert result.stdout == golden.read_text(encoding="utf-8")
    data = json.loads(result.stdout)
    assert data["flows"], "every example has at least one origin"


def _policy_estate(policies: list[dict[str, Any]]) -> Any:
    base = build({"a": "oa", "b": "ob", "c": {"host_org": "oc", "community": "outside"}},
                 [push("a", "b"), push("b", "c", filter={"tags": {"exclude": ["tlp:red"]}})])
    data = dict(base.document.data)
    data["policies"] = policies
    from planner.estate import resolve
    from planner.load import load_text
    from planner.parse import parse_topology

    document = load_text(json.dumps(data, indent=1), "policy.yaml")
    topology, _ = parse_topology(document)
    assert topology is not None
    estate, findings = resolve(topology, document)
    assert estate is not None, findings
    return estate


def test_policy_that_holds_gives_no_finding() -> None:
    # tlp:red events pass a -> b but b -> c excludes tlp:red; c creates its own, which do not count.
    estate = _policy_estate([{"name": "red stays inside", "data": {"tags": ["tlp:red"]},
                              "must_not_reach": {"community": "outside"}},
                             {"name": "a's public data reaches c", "data": {"origin": "a", "distribution": "all"},
                              "must_reach": ["c"]}])
    assert list(check_policies(estate)) == []


def test_violated_must_not_reach_names_event_and_path() -> None:
    estate = _policy_estate([{"name": "amber stays inside", "data": {"tags": ["tlp:amber"]},
                              "must_not_reach": {"community": "outside"}}])
    findings = list(check_policies(estate))
    assert len(findings) == 1
    finding = findings[0]
    assert finding.code == "MP201" and finding.severity == "error"
    assert "policy 'amber stays inside' is violated" in finding.message
    assert "reaches c" in finding.message
    assert finding.path == ("policies", 0)
    assert finding.position is not None
    assert any("via a -> b -> c" in line for line in finding.related)


def test_violated_must_reach_names_the_missing_target() -> None:
    estate = _policy_estate([{"name": "connected reaches c", "data": {"origin": "a", "distribution": "connected"},
                              "must_reach": ["c"]}])
    findings = list(check_policies(estate))
    assert len(findings) == 1
    assert "never reaches c" in findings[0].message
    assert findings[0].related == ("that event is held by: a (connected), b (community)",)


def test_policy_selecting_nothing_is_reported() -> None:
    estate = _policy_estate([{"name": "impossible", "data": {"origin": "a", "org": "ob"}, "must_reach": ["b"]}])
    findings = list(check_policies(estate))
    assert len(findings) == 1 and "selects no event" in findings[0].message


def test_example_policies_hold(example: Path) -> None:
    from planner.pipeline import load_estate

    assert list(check_policies(load_estate(example).estate)) == []
