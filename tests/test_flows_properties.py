"""Properties of the propagation engine over random small estates (hypothesis)."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_flows_table import build

from planner.flows import Engine, EventSpec
from planner.misp import Distribution

IDS = ["a", "b", "c", "d", "e"]
ORGS = ["o1", "o2", "o3"]
TAGS = ["tlp:red", "tlp:green", "osint"]

filters = st.one_of(
    st.just(True),
    st.builds(lambda inc, exc: {"tags": {"include": inc, "exclude": exc}},
              st.lists(st.sampled_from(TAGS), max_size=2, unique=True),
              st.lists(st.sampled_from(TAGS), max_size=1, unique=True)),
    st.builds(lambda exc: {"orgs": {"exclude": exc}}, st.lists(st.sampled_from(ORGS), min_size=1, max_size=1)),
    st.builds(lambda inc: {"orgs": {"include": inc}}, st.lists(st.sampled_from(ORGS), min_size=1, max_size=2)),
)


@st.composite
def connections(draw: st.DrawFn, ids: list[str]) -> dict[str, Any]:
    initiator = draw(st.sampled_from(ids))
    remote = draw(st.sampled_from([i for i in ids if i != initiator]))
    conn: dict[str, Any] = {"initiator": initiator, "remote": remote}
    mode = draw(st.sampled_from(["push", "pull", "both"]))
    if mode in ("push", "both"):
        conn["push"] = draw(filters)
    if mode in ("pull", "both"):
        conn["pull"] = draw(filters)
    conn["internal"] = draw(st.booleans())
    conn["unpublish"] = draw(st.booleans())
    return conn


@st.composite
def estates(draw: st.DrawFn) -> tuple[dict[str, Any], list[dict[str, Any]], dict[str, Any], dict[str, Any]]:
    ids = IDS[: draw(st.integers(2, 5))]
    instances = {i: draw(st.sampled_from(ORGS)) for i in ids}
    sync = draw(st.lists(connections(ids), max_size=8))
    extra = draw(connections(ids))
    group: dict[str, Any] = {"orgs": draw(st.lists(st.sampled_from(ORGS), min_size=1, max_size=3, unique=True))}
    if draw(st.booleans()):
        group["roaming"] = True
    else:
        group["instances"] = draw(st.lists(st.sampled_from(ids), min_size=1, unique=True))
    return instances, sync, extra, {"g": group}


def events(engine: Engine, tags: tuple[str, ...]) -> list[EventSpec]:
    result = []
    for origin, inst in sorted(engine.estate.instances.items()):
        for level in Distribution:
            if level is Distribution.SHARING_GROUP:
                if inst.host_org in engine.estate.sharing_groups["g"].orgs:
                    result.append(EventSpec(origin, level, tags, "g"))
            else:
                result.append(EventSpec(origin, level, tags))
    return result


SETTINGS = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(estates(), st.lists(st.sampled_from(TAGS), max_size=2, unique=True))
def test_adding_a_connection_never_removes_a_recipient_at_all(data: Any, tags: list[str]) -> None:
    instances, sync, extra, groups = data
    before = Engine(build(instances, sync, groups))
    after = Engine(build(instances, [*sync, extra], groups))
    for origin in instances:
        event = EventSpec(origin, Distribution.ALL, tuple(tags))
        assert set(before.propagate(event).reaches) <= set(after.propagate(event).reaches)


@SETTINGS
@given(estates(), st.lists(st.sampled_from(TAGS), max_size=2, unique=True))
def test_origin_holds_its_own_level_and_nobody_holds_more(data: Any, tags: list[str]) -> None:
    instances, sync, _, groups = data
    engine = Engine(build(instances, sync, groups))
    for event in events(engine, tuple(tags)):
        flow = engine.propagate(event)
        assert flow.reaches[event.origin] == event.distribution
        for inst, level in flow.reaches.items():
            if event.distribution is Distribution.SHARING_GROUP:
                # A group copy stays a group copy, or becomes organisation-only (spec §7).
                assert level in (Distribution.SHARING_GROUP, Distribution.ORGANISATION)
            else:
                assert level <= event.distribution, (inst, level)
        assert set(flow.paths) == set(flow.reaches) - {event.origin}
        assert set(flow.timing_dependent) <= set(flow.reaches) - {event.origin}


@SETTINGS
@given(estates())
def test_same_estate_same_answer(data: Any) -> None:
    instances, sync, _, groups = data
    first = Engine(build(instances, sync, groups))
    second = Engine(build(instances, list(reversed(sync)), groups))
    for event in events(first, ()):
        a, b = first.propagate(event), second.propagate(event)
        # The order of entries in the file does not change who holds what (paths may tie differently).
        assert a.reaches == b.reaches
        assert a.timing_dependent == b.timing_dependent


@SETTINGS
@given(estates(), st.lists(st.sampled_from(TAGS), max_size=2, unique=True))
def test_level_all_shortcut_equals_the_general_search(data: Any, tags: list[str]) -> None:
    from dataclasses import replace

    instances, sync, extra, groups = data
    engine = Engine(build(instances, [*sync, extra], groups))
    for origin in instances:
        event = EventSpec(origin, Distribution.ALL, tuple(tags))
        instance, org, published = engine.resolve(event)
        general = engine.search(replace(event, org=org), instance, published, None)
        assert engine.propagate(event) == general


@SETTINGS
@given(estates(), st.lists(st.sampled_from(TAGS), max_size=2, unique=True))
def test_matrix_equals_one_event_at_a_time(data: Any, tags: list[str]) -> None:
    from dataclasses import replace

    instances, sync, extra, groups = data
    engine = Engine(build(instances, [*sync, extra], groups))
    matrix = list(engine.matrix(tuple(tags)))
    assert matrix == [engine.propagate(replace(event, tags=tuple(tags))) for event in engine.matrix_events()]
    # Readers (the report's cells) rely on holders coming in id order.
    assert all(list(flow.reaches) == sorted(flow.reaches) for flow in matrix)
