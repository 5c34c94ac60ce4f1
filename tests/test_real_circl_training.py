"""CIRCL's MISP training environment (tests/real/circl-training/README.md): the planner's findings
on the deliberate design are exactly the expected ones, and `flows` routes events as the scripts'
tag filters do."""

from __future__ import annotations

from conftest import ROOT

from planner.analyse import analyse
from planner.flows import EventSpec, propagate
from planner.misp import Distribution
from planner.pipeline import load_estate

HERE = ROOT / "tests" / "real" / "circl-training"


def test_findings_are_the_expected_ones() -> None:
    loaded = load_estate(HERE / "topology.yaml")
    found = sorted(f"{f.position.line}:{f.position.column} {f.severity.value} {f.code}"
                   for f in [*loaded.findings, *analyse(loaded.estate)] if f.position)
    expected = [line for line in (HERE / "expected-findings.txt").read_text(encoding="utf-8").splitlines()
                if line and not line.startswith("#")]
    assert found == sorted(expected)


def test_no_warning_or_error_from_a_filter_aware_rule_on_the_deliberate_design() -> None:
    loaded = load_estate(HERE / "topology.yaml")
    severe = {f.code for f in analyse(loaded.estate) if f.severity.value != "info"}
    assert severe == {"MP219", "MP243"}  # the name clash on the central node, plain http: README.md


def test_routing_tags_route_as_the_scripts_intend() -> None:
    estate = load_estate(HERE / "topology.yaml").estate
    up = propagate(estate, EventSpec("misp-1", Distribution.ALL, ("push_to_central",)))
    assert set(up.reaches) == {"misp-1", "misp-central"}
    down = propagate(estate, EventSpec("misp-central", Distribution.ALL, ("push_to_nodes",)))
    assert set(down.reaches) == {"misp-central", "misp-1", "misp-2"}
    for level in (Distribution.ALL, Distribution.CONNECTED, Distribution.COMMUNITY, Distribution.ORGANISATION):
        assert set(propagate(estate, EventSpec("misp-1", level)).reaches) == {"misp-1"}
