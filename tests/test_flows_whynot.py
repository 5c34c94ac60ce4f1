"""`flows` says why: the first reason per instance an event does not reach (planner.flows.whynot)."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from test_flows_properties import SETTINGS, TAGS, estates, events
from test_flows_table import build

from planner.flows import Engine, EventSpec, feeder_event
from planner.flows.output import flows_report
from planner.flows.whynot import why_not
from planner.misp import Distribution


def reasons(estate: Any, event: EventSpec) -> dict[str, str]:
    engine = Engine(estate)
    return why_not(engine, engine.propagate(event))


def test_tag_filter_is_named_with_its_connection() -> None:
    estate = build({"a": "oa", "b": "ob"},
                   [{"initiator": "a", "remote": "b", "push": {"tags": {"include": ["tlp:green"]}}}])
    assert reasons(estate, EventSpec("a", Distribution.ALL)) == {
        "b": "the push tag filter of connection #0 (push a -> b) refuses it (include tlp:green)"}
    assert reasons(estate, EventSpec("a", Distribution.ALL, ("tlp:green",))) == {}


def test_level_comes_before_the_filter() -> None:
    estate = build({"a": "oa", "b": "ob"}, [{"initiator": "a", "remote": "b", "push": {"tags": {"include": ["x"]}}}])
    assert reasons(estate, EventSpec("a", Distribution.COMMUNITY)) == {
        "b": "a push does not send community events over a link that is not internal (connection #0 (push a -> b))"}


def test_org_filter_and_unconnected_and_downstream() -> None:
    estate = build({"a": "oa", "b": "ob", "c": "oc", "d": "od"},
                   [{"initiator": "a", "remote": "b", "push": {"orgs": {"exclude": ["oa"]}}},
                    {"initiator": "b", "remote": "c", "push": True}])
    assert reasons(estate, EventSpec("a", Distribution.ALL)) == {
        "b": "the push org filter of connection #0 (push a -> b) refuses events created by oa",
        "c": "its sync connections bring data only from b, which holds no copy",
        "d": "no sync connection brings data into it (no push to it, no pull by it)"}


def test_unpublish_ends_the_chain() -> None:
    estate = build({"a": "oa", "b": "ob", "c": "oc"},
                   [{"initiator": "a", "remote": "b", "push": True, "unpublish": True},
                    {"initiator": "b", "remote": "c", "push": True}])
    assert reasons(estate, EventSpec("a", Distribution.ALL)) == {
        "c": "b holds it unpublished (connection #0 unpublishes on push), and only published events travel"}


def test_sharing_group_rules() -> None:
    estate = build({"a": "oa", "b": "ob", "c": "oc"},
                   [{"initiator": "a", "remote": "b", "push": True}, {"initiator": "a", "remote": "c", "push": True}],
                   groups={"g": {"orgs": ["oa", "ob", "oc"], "instances": ["a", "b"]}})
    assert reasons(estate, EventSpec("a", Distribution.SHARING_GROUP, sharing_group="g")) == {
        "c": "sharing group g's server list does not name c (connection #1 (push a -> c))"}
    estate = build({"a": "oa", "b": "ob"}, [{"initiator": "b", "remote": "a", "pull": True}],
                   groups={"g": {"orgs": ["oa"], "roaming": True}})
    assert reasons(estate, EventSpec("a", Distribution.SHARING_GROUP, sharing_group="g")) == {
        "b": "b's host org ob is not a member of sharing group g (connection #0 (pull a -> b))"}


def test_unpublished_feeder() -> None:
    estate = build({"a": "oa", "b": "ob"}, [{"initiator": "a", "remote": "b", "push": True}],
                   feeders={"f": {"kind": "sandbox", "into": "a", "distribution": "all", "publish": False}})
    assert reasons(estate, feeder_event(estate, "f")) == {
        "b": "a holds it unpublished (the feeder does not publish), and only published events travel"}


def test_flows_json_adds_not_reached_and_keeps_the_spec_fields() -> None:
    estate = build({"a": "oa", "b": "ob", "c": "oc"}, [{"initiator": "a", "remote": "b", "push": True}])
    data = json.loads(flows_report(estate, origin="a", distribution="all", fmt="json"))
    assert set(data) == {"origin", "distribution", "tags", "sharing_group", "org", "reaches", "paths",
                         "timing_dependent", "not_reached", "assumed"}
    assert data["reaches"] == {"a": "all", "b": "all"}
    assert data["not_reached"] == {"c": "no sync connection brings data into it (no push to it, no pull by it)"}
    table = flows_report(estate, origin="a", distribution="all")
    assert "2 of 3 instances hold a copy. Not reached, and why (the first reason):\n  c: no sync connection" in table


@SETTINGS
@given(estates(), st.lists(st.sampled_from(TAGS), max_size=2, unique=True))
def test_every_unreached_instance_gets_a_rule_as_reason(data: Any, tags: list[str]) -> None:
    """Exactly the unreached instances are explained, each by a rule that refused (the fallback
    wording, no refusing rule found, would mean the explanation and the engine disagree)."""
    instances, sync, _, groups = data
    engine = Engine(build(instances, sync, groups))
    for event in events(engine, tuple(tags)):
        flow = engine.propagate(event)
        found = why_not(engine, flow)
        assert set(found) == set(instances) - set(flow.reaches)
        for inst, reason in found.items():
            assert reason and "echo" not in reason, (event, inst, reason)


def test_one_holder_is_singular() -> None:
    estate = build({"a": "oa", "b": "ob"}, [])
    assert "1 of 2 instances holds a copy." in flows_report(estate, origin="a", distribution="all")
