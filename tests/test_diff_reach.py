"""`diff`'s reach comparison (planner/diff_reach.py) searches only the rows a change can affect and
compares level `all` as bit sets; over random small estates and random changes it must report exactly
what comparing every row of both matrices, one event at a time, reports (hypothesis)."""

from __future__ import annotations

from dataclasses import replace
from itertools import pairwise
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_flows_properties import IDS, ORGS, TAGS, connections, estates
from test_flows_table import build

from planner.diff_reach import ReachChange, filter_tags, reach_changes
from planner.estate import Estate
from planner.flows import Engine
from planner.misp import Distribution

Expanded = set[tuple[tuple[str, int, str], str, tuple[Any, ...]]]


@st.composite
def changed_estates(draw: st.DrawFn) -> tuple[Estate, Estate]:
    """An estate and a copy with one to three changes of what the engine reads."""
    instances, sync, _, groups = draw(estates())
    head_instances: dict[str, Any] = dict(instances)
    head_sync, head_groups = list(sync), dict(groups)
    ids = list(instances)
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["add", "remove", "replace", "group", "orgs"]))
        if kind == "add" or (kind in ("remove", "replace") and not head_sync):
            head_sync.append(draw(connections(ids)))
        elif kind in ("remove", "replace"):
            at = draw(st.integers(0, len(head_sync) - 1))
            head_sync[at:at + 1] = [] if kind == "remove" else [draw(connections(ids))]
        elif kind == "group":
            group: dict[str, Any] = {"orgs": draw(st.lists(st.sampled_from(ORGS), min_size=1, max_size=3, unique=True))}
            if draw(st.booleans()):
                group["roaming"] = True
            else:
                group["instances"] = draw(st.lists(st.sampled_from(ids), min_size=1, unique=True))
            head_groups = {"g": group}
        else:
            iid = draw(st.sampled_from(ids))
            host = instances[iid]
            head_instances[iid] = {"host_org": host,
                                   "orgs": draw(st.lists(st.sampled_from([o for o in ORGS if o != host]), unique=True))}
    return build(instances, sync, groups), build(head_instances, head_sync, head_groups)


def every_row(base: Estate, head: Estate) -> Expanded:
    """Every origin x level x group x probed tag of both estates, propagated one event at a time."""
    probes = [(), *((t,) for t in sorted(filter_tags(base) | filter_tags(head)))]
    engines = Engine(base), Engine(head)
    rows = [{(e.origin, int(e.distribution), e.sharing_group or ""): e for e in engine.matrix_events()}
            for engine in engines]
    found: Expanded = set()
    for tags in probes:
        for row in sorted(set(rows[0]) | set(rows[1])):
            before, after = ({} if row not in side else engine.propagate(replace(side[row], tags=tags)).reaches
                             for engine, side in zip(engines, rows, strict=True))
            if before != after:
                common = sorted(set(before) & set(after))
                found.add((row, tags[0] if tags else "untagged", (
                    tuple(sorted(set(after) - set(before))), tuple(sorted(set(before) - set(after))),
                    tuple((i, before[i].word, after[i].word) for i in common if after[i] > before[i]),
                    tuple((i, before[i].word, after[i].word) for i in common if after[i] < before[i]))))
    return found


def expanded(changes: list[ReachChange], probes: list[str]) -> Expanded:
    """The reported rows, one per tag they hold for."""
    found: Expanded = set()
    for change in changes:
        labels = [t for t in probes if t not in change.except_tags] if change.except_tags or not change.tags \
            else list(change.tags)
        row = (change.origin, int(Distribution.parse(change.distribution)), change.sharing_group or "")
        for label in labels:
            found.add((row, label, (change.gained, change.lost, change.raised, change.lowered)))
    return found


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(changed_estates())
def test_reach_changes_equal_every_row_compared(pair: tuple[Estate, Estate]) -> None:
    base, head = pair
    probes = ["untagged", *sorted(filter_tags(base) | filter_tags(head))]
    assert expanded(reach_changes(base, head), probes) == every_row(base, head)


def test_a_change_far_downstream_is_found_through_a_long_chain() -> None:
    """The rows of origins up to four hops upstream of the changed filter are searched again (they
    reach the changed link): their level-`all` rows change, and the connected row of the push's own
    instance (its push delivers a community copy)."""
    chain = [{"initiator": a, "remote": b, "push": True} for a, b in pairwise(IDS)]
    base = build({i: f"o{n}" for n, i in enumerate(IDS)}, chain)
    narrowed = [*chain[:-1], {**chain[-1], "push": {"tags": {"exclude": [TAGS[0]]}}}]
    head = build({i: f"o{n}" for n, i in enumerate(IDS)}, narrowed)
    changes = reach_changes(base, head)
    assert {(c.origin, c.distribution) for c in changes} == {(i, "all") for i in IDS[:-1]} | {("d", "connected")}
    assert all(c.lost == ("e",) and c.tags == (TAGS[0],) for c in changes)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(estates(), st.lists(st.sampled_from(TAGS), max_size=2, unique=True))
def test_may_reach_holds_every_holder_whatever_the_tags(data: Any, tags: list[str]) -> None:
    """The bound `diff` relies on: no search of a row, with any tags, finds a holder outside it."""
    instances, sync, extra, groups = data
    engine = Engine(build(instances, [*sync, extra], groups))
    for event in engine.matrix_events():
        assert engine.reach_indices(replace(event, tags=tuple(tags))) <= engine.may_reach_indices(event)
