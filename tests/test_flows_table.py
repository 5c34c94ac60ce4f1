"""The propagation engine against small estates whose outcome was worked out by hand.

Each case is a 2-5 instance estate (plain data, written through the real loader: JSON text is YAML
1.2), one event, and the expected `reaches` (and, where it matters, paths and timing-dependent
instances). The comment above each case gives the reasoning from docs/misp-behaviour.md, which
names MISP's code for each fact: "push rule N" is rule N of its #what-a-push-sends, "pull step N"
step N of its #pull, other sections are named by anchor.
Naming: instance `a` has host org `oa`, `b` has `ob`, and so on, unless a case says otherwise.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pytest

from planner.estate import Estate, resolve
from planner.flows import EventSpec, feeder_event, propagate
from planner.load import load_text
from planner.misp import Distribution
from planner.parse import parse_topology

ORG, COMMUNITY, CONNECTED, ALL, GROUP = "organisation", "community", "connected", "all", "sharing-group"


def build(instances: dict[str, str | dict[str, Any]], sync: list[dict[str, Any]],
          groups: dict[str, Any] | None = None, feeders: dict[str, Any] | None = None,
          communities: dict[str, Any] | None = None, more_orgs: tuple[str, ...] = (), **extra: Any) -> Estate:
    """A topology from shorthand: `instances` maps id -> host org (or a dict of instance keys).
    Organisations are declared for every org mentioned and ``more_orgs``; every instance gets a URL;
    ``extra`` adds top-level keys (roles, tags, defaults)."""
    inst_data: dict[str, Any] = {}
    orgs: set[str] = set(more_orgs)
    for iid, spec in instances.items():
        item = {"host_org": spec} if isinstance(spec, str) else dict(spec)
        item.setdefault("community", "c")
        item["url"] = f"https://{iid}.example"
        inst_data[iid] = item
        orgs.add(item["host_org"])
        orgs.update(item.get("orgs", []))
    for group in (groups or {}).values():
        orgs.update(group["orgs"])
    for conn in sync:
        for mode in ("push", "pull"):
            if isinstance(conn.get(mode), dict):
                for part in conn[mode].get("orgs", {}).values():
                    orgs.update(part)
    data = {
        "version": 1,
        "name": "case",
        "organisations": {o: {"name": f"Org {o}"} for o in sorted(orgs)},
        "communities": communities or {c: {} for c in sorted({i["community"] for i in inst_data.values()})},
        "instances": inst_data,
        "sync": sync,
        "sharing_groups": groups or {},
        "feeders": feeders or {},
        **extra,
    }
    document = load_text(json.dumps(data), "case.yaml")
    topology, findings = parse_topology(document)
    assert topology is not None, findings
    estate, findings = resolve(topology, document)
    assert estate is not None, findings
    return estate


def push(initiator: str, remote: str, **extra: Any) -> dict[str, Any]:
    return {"initiator": initiator, "remote": remote, "push": extra.pop("filter", True), **extra}


def pull(initiator: str, remote: str, **extra: Any) -> dict[str, Any]:
    return {"initiator": initiator, "remote": remote, "pull": extra.pop("filter", True), **extra}


@dataclass
class Case:
    id: str
    instances: dict[str, str | dict[str, Any]]
    sync: list[dict[str, Any]]
    origin: str
    level: str | None  # None: a feeder's own level
    expect: dict[str, str]
    tags: tuple[str, ...] = ()
    group: str | None = None
    org: str | None = None
    groups: dict[str, Any] = field(default_factory=dict)
    feeders: dict[str, Any] = field(default_factory=dict)
    paths: dict[str, tuple[str, ...]] = field(default_factory=dict)
    timing: tuple[str, ...] = ()


AB = {"a": "oa", "b": "ob"}
ABC = {"a": "oa", "b": "ob", "c": "oc"}

CASES = [
    # push rule 6: on a non-internal push, 3 stays 3.
    Case("push-all", AB, [push("a", "b")], "a", ALL, {"a": ALL, "b": ALL}, paths={"b": ("a", "b")}),
    # push rule 6: 2 leaves as 1 on a non-internal push.
    Case("push-connected", AB, [push("a", "b")], "a", CONNECTED, {"a": CONNECTED, "b": COMMUNITY}),
    # push rule 2: distribution 1 is refused on a non-internal push.
    Case("push-community", AB, [push("a", "b")], "a", COMMUNITY, {"a": COMMUNITY}),
    # push rule 2: distribution 0 is refused on a non-internal push.
    Case("push-organisation", AB, [push("a", "b")], "a", ORG, {"a": ORG}),
    # pull steps 2 and 5: b's sync user on a sees level 1 (visible to every org), the pull turns it
    # into 0. Pull reaches where push does not (compare push-community): the asymmetry.
    Case("pull-community", AB, [pull("b", "a")], "a", COMMUNITY, {"a": COMMUNITY, "b": ORG}),
    # pull step 5: a pulled 2 becomes 1.
    Case("pull-connected", AB, [pull("b", "a")], "a", CONNECTED, {"a": CONNECTED, "b": COMMUNITY}),
    # pull step 2: a level-0 event is listed to b's sync user (org ob) only if ob owns it on a;
    # the original is owned by its creator oa.
    Case("pull-organisation-not-visible", AB, [pull("b", "a")], "a", ORG, {"a": ORG}),
    # Same, but b is run by oa too (a pull, not internal): the sync user's org oa owns the
    # original, so it is listed and pulled, and stays 0.
    Case("pull-organisation-same-owner", {"a": "oa", "b": "oa"}, [pull("b", "a")], "a", ORG,
         {"a": ORG, "b": ORG}),
    # Pull direction matters: a pulls from b, so data flows b -> a only; a's event stays on a.
    Case("pull-direction", AB, [pull("a", "b")], "a", ALL, {"a": ALL}),
    # #receiving-a-push: b re-publishes what it received and pushes on: 3 floods the chain.
    Case("push-chain-all", ABC, [push("a", "b"), push("b", "c")], "a", ALL, {"a": ALL, "b": ALL, "c": ALL},
         paths={"b": ("a", "b"), "c": ("a", "b", "c")}),
    # 2 arrives on b as 1 (push rule 6); b may not push a 1 (push rule 2): "connected" stops
    # after one hop when only pushes are used.
    Case("push-chain-connected", ABC, [push("a", "b"), push("b", "c")], "a", CONNECTED,
         {"a": CONNECTED, "b": COMMUNITY}),
    # #multi-hop: b holds 1 after the push; c's pull sees it (level 1) and turns it into 0:
    # connected data appears two hops away, as organisation-only.
    Case("push-then-pull-connected", ABC, [push("a", "b"), pull("c", "b")], "a", CONNECTED,
         {"a": CONNECTED, "b": COMMUNITY, "c": ORG}, paths={"c": ("a", "b", "c")}),
    # b pulls 2 as 1 (pull step 5), c pulls that 1 as 0.
    Case("pull-then-pull-connected", ABC, [pull("b", "a"), pull("c", "b")], "a", CONNECTED,
         {"a": CONNECTED, "b": COMMUNITY, "c": ORG}),
    # b pulls 1 as 0, owned by ob (pull step 6). c (org oc) cannot see an ob-owned level-0 copy,
    # d (run by ob) can: a pulled copy belongs to the puller's host org.
    Case("pulled-copy-owned-by-puller", {"a": "oa", "b": "ob", "c": "oc", "d": "ob"},
         [pull("b", "a"), pull("c", "b"), pull("d", "b")], "a", COMMUNITY,
         {"a": COMMUNITY, "b": ORG, "d": ORG}),
    # a2 is run by oa like a (internal allowed, #internal-links). The event is created on a by ox, a local
    # org of a. The internal push sends the 0 (host_org == remote org) and a2 stores it owned by
    # the sync user's org oa (#receiving-a-push), not by its creator ox. So c (run by ox) pulling from a2 sees
    # nothing, d (run by ox) pulling from a sees the original it owns, e (run by oa) pulling from
    # a2 sees the oa-owned copy.
    Case("pushed-copy-owned-by-sender-host-org",
         {"a": {"host_org": "oa", "orgs": ["ox"]}, "a2": "oa", "c": "ox", "d": "ox", "e": "oa"},
         [push("a", "a2", internal=True), pull("c", "a2"), pull("d", "a"), pull("e", "a2")],
         "a", ORG, {"a": ORG, "a2": ORG, "d": ORG, "e": ORG}, org="ox"),
    # #receiving-a-push / #server-entry: unpublish_event: b receives the copy unpublished, does not re-publish, so
    # nothing goes on to c.
    Case("unpublish-ends-push-chain", ABC, [push("a", "b", unpublish=True), push("b", "c")], "a", ALL,
         {"a": ALL, "b": ALL}),
    # pull step 2: a pull lists only published events, so c cannot pull b's unpublished copy.
    Case("unpublished-copy-not-pullable", ABC, [push("a", "b", unpublish=True), pull("c", "b")], "a", ALL,
         {"a": ALL, "b": ALL}),
    # spec §6: unpublish affects only what an entry pushes; b's pull over an unpublish entry
    # brings a published copy, which b re-publishes and pushes to c (pull step 7).
    Case("unpublish-does-not-affect-pull", ABC, [pull("b", "a", unpublish=True), push("b", "c")], "a", ALL,
         {"a": ALL, "b": ALL, "c": ALL}, paths={"c": ("a", "b", "c")}),
    # #internal-links: internal (same host org) keeps 2 as 2; a2 then pushes it to b over a normal link, 2 -> 1.
    Case("internal-push-keeps-connected", {"a": "oa", "a2": "oa", "b": "ob"},
         [push("a", "a2", internal=True), push("a2", "b")], "a", CONNECTED,
         {"a": CONNECTED, "a2": CONNECTED, "b": COMMUNITY}),
    # #internal-links (observed on 2.5.1): internal between different host orgs is saved as not internal: 1 is refused.
    Case("internal-needs-same-host-org", AB, [push("a", "b", internal=True)], "a", COMMUNITY, {"a": COMMUNITY}),
    # #internal-links: internal push carries 1 unchanged; b's normal pull of that 1 gives 0.
    Case("internal-push-community-then-pull", {"a": "oa", "a2": "oa", "b": "ob"},
         [push("a", "a2", internal=True), pull("b", "a2")], "a", COMMUNITY,
         {"a": COMMUNITY, "a2": COMMUNITY, "b": ORG}),
    # #internal-links pull side: no downgrade over an internal pull (same host org).
    Case("internal-pull-no-downgrade", {"a": "oa", "a2": "oa"}, [pull("a2", "a", internal=True)], "a", CONNECTED,
         {"a": CONNECTED, "a2": CONNECTED}),
    # push rule 5 / #sharing-groups: group lists b and ob is a member: the 4 goes to b and stays 4.
    Case("group-listed", AB, [push("a", "b")], "a", GROUP, {"a": GROUP, "b": GROUP}, group="g",
         groups={"g": {"orgs": ["oa", "ob"], "instances": ["a", "b"]}}),
    # #sharing-groups (checkIfServerInSG): non-roaming group whose list misses b, normal link: refused.
    Case("group-list-misses-remote", ABC, [push("a", "b")], "a", GROUP, {"a": GROUP}, group="g",
         groups={"g": {"orgs": ["oa", "ob"], "instances": ["a", "c"]}}),
    # #sharing-groups: roaming skips the list; ob is a member: sent.
    Case("group-roaming", AB, [push("a", "b")], "a", GROUP, {"a": GROUP, "b": GROUP}, group="g",
         groups={"g": {"orgs": ["oa", "ob"], "roaming": True}}),
    # #sharing-groups (checkIfServerInSG): roaming, but ob is not a member: refused.
    Case("group-roaming-non-member", AB, [push("a", "b")], "a", GROUP, {"a": GROUP}, group="g",
         groups={"g": {"orgs": ["oa"], "roaming": True}}),
    # push rule 5: listed server but the remote org is not a member: refused (unconditional).
    Case("group-listed-non-member", AB, [push("a", "b")], "a", GROUP, {"a": GROUP}, group="g",
         groups={"g": {"orgs": ["oa"], "instances": ["a", "b"]}}),
    # pull step 2: a pull fetches a 4 if the sync user's org is a member; #sharing-groups: the pull captures
    # the group whatever its list (b is not listed).
    Case("group-pull-member", AB, [pull("b", "a")], "a", GROUP, {"a": GROUP, "b": GROUP}, group="g",
         groups={"g": {"orgs": ["oa", "ob"], "instances": ["a"]}}),
    # pull step 2: a non-member sync user does not see the group's events.
    Case("group-pull-non-member", AB, [pull("b", "a")], "a", GROUP, {"a": GROUP}, group="g",
         groups={"g": {"orgs": ["oa"], "roaming": True}}),
    # spec §7 / §11: an internal push bypasses the list check (#sharing-groups step 1) and oa is a member,
    # but a2 is not on the non-empty list, so a2 stores the copy at organisation level.
    Case("group-internal-not-listed-becomes-organisation", {"a": "oa", "a2": "oa"},
         [push("a", "a2", internal=True)], "a", GROUP, {"a": GROUP, "a2": ORG}, group="g",
         groups={"g": {"orgs": ["oa"], "instances": ["a"]}}),
    # Multi-hop group: b re-publishes the 4 and pushes it to c; oc is not a member, so it stops.
    Case("group-two-hops-stops-at-non-member", ABC, [push("a", "b"), push("b", "c")], "a", GROUP,
         {"a": GROUP, "b": GROUP}, group="g", groups={"g": {"orgs": ["oa", "ob"], "roaming": True}}),
    # ...and with oc a member, it reaches c.
    Case("group-two-hops", ABC, [push("a", "b"), push("b", "c")], "a", GROUP,
         {"a": GROUP, "b": GROUP, "c": GROUP}, group="g", groups={"g": {"orgs": ["oa", "ob", "oc"], "roaming": True}}),
    # #push-and-pull-rules: push tags.OR: the event carries tlp:green, which the include list names: sent.
    Case("push-tag-include-match", AB, [push("a", "b", filter={"tags": {"include": ["tlp:green"]}})], "a", ALL,
         {"a": ALL, "b": ALL}, tags=("tlp:green", "osint")),
    # #push-and-pull-rules: tags.OR with an untagged event: no tag matches, not sent.
    Case("push-tag-include-untagged", AB, [push("a", "b", filter={"tags": {"include": ["tlp:green"]}})], "a", ALL,
         {"a": ALL}),
    # #push-and-pull-rules: tags.NOT: one excluded tag is enough to hold the event back.
    Case("push-tag-exclude", AB, [push("a", "b", filter={"tags": {"exclude": ["tlp:red"]}})], "a", ALL,
         {"a": ALL}, tags=("osint", "tlp:red")),
    # #push-and-pull-rules: pull rules are evaluated on the remote; exclude tlp:red keeps the event on a.
    Case("pull-tag-exclude", AB, [pull("b", "a", filter={"tags": {"exclude": ["tlp:red"]}})], "a", ALL,
         {"a": ALL}, tags=("tlp:red",)),
    # ...and lets other events through.
    Case("pull-tag-exclude-other-tag", AB, [pull("b", "a", filter={"tags": {"exclude": ["tlp:red"]}})], "a", ALL,
         {"a": ALL, "b": ALL}, tags=("tlp:green",)),
    # #push-and-pull-rules: push orgs.NOT matches the creator org (orgc): oa's event is held back...
    Case("push-org-exclude-creator", AB, [push("a", "b", filter={"orgs": {"exclude": ["oa"]}})], "a", ALL,
         {"a": ALL}),
    # ...but an event created on a by its other local org ox passes.
    Case("push-org-exclude-other-creator", {"a": {"host_org": "oa", "orgs": ["ox"]}, "b": "ob"},
         [push("a", "b", filter={"orgs": {"exclude": ["oa"]}})], "a", ALL, {"a": ALL, "b": ALL}, org="ox"),
    # #receiving-a-push: orgc is preserved, so b -> c's orgs.OR [oa] still matches a's event two hops on.
    Case("org-filter-on-creator-two-hops", ABC, [push("a", "b"), push("b", "c", filter={"orgs": {"include": ["oa"]}})],
         "a", ALL, {"a": ALL, "b": ALL, "c": ALL}),
    # The same filter holds back b's own event (creator ob).
    Case("org-filter-on-creator-own-event", ABC, [push("a", "b"), push("b", "c", filter={"orgs": {"include": ["oa"]}})],
         "b", ALL, {"b": ALL}),
    # spec §5: a published feeder event travels like any published event (3 stays 3).
    Case("feeder-published", AB, [push("a", "b")], "feed", None, {"a": ALL, "b": ALL},
         feeders={"feed": {"kind": "osint-feed", "into": "a", "distribution": "all", "publish": True}}),
    # spec §5 / §0 rule 2: an unpublished feeder event stays on the instance it was written to.
    Case("feeder-unpublished", AB, [push("a", "b"), pull("b", "a")], "feed", None, {"a": ALL},
         feeders={"feed": {"kind": "sandbox", "into": "a", "distribution": "all", "publish": False}}),
    # The feeder's tags travel with its events and meet b's push filter.
    Case("feeder-tags-meet-filter", AB, [push("a", "b", filter={"tags": {"include": ["osint"]}})], "feed", None,
         {"a": ALL, "b": ALL},
         feeders={"feed": {"kind": "osint-feed", "into": "a", "distribution": "all", "publish": True,
                           "tags": ["osint"]}}),
    # A cycle of pushes: each instance takes the event once (a later copy is not newer, #receiving-a-push);
    # the origin keeps its original.
    Case("cycle-all", ABC, [push("a", "b"), push("b", "c"), push("c", "a")], "a", ALL,
         {"a": ALL, "b": ALL, "c": ALL}, paths={"b": ("a", "b"), "c": ("a", "b", "c")}),
    # A cycle with connected data: b gets 1, cannot push 1 to c; c pushes nothing back.
    Case("cycle-connected", ABC, [push("a", "b"), push("b", "c"), push("c", "a")], "a", CONNECTED,
         {"a": CONNECTED, "b": COMMUNITY}),
    # Push and pull on one entry, both ways: a's 2 pushed to b becomes 1; b cannot push it back,
    # and a's pull of b would bring an older copy of a's own original, which MISP refuses.
    Case("both-ways-one-entry", AB, [{"initiator": "a", "remote": "b", "push": True, "pull": True}], "a",
         CONNECTED, {"a": CONNECTED, "b": COMMUNITY}),
    # Same entry, event created on b: a pulls it (2 -> 1).
    Case("both-ways-remote-origin", AB, [{"initiator": "a", "remote": "b", "push": True, "pull": True}], "b",
         CONNECTED, {"a": COMMUNITY, "b": CONNECTED}),
    # Timing: a pushes its 2 to b (1) and to c (1); b also pulls c, which would give 0. The push
    # arrives after one hop, the pull after two, so b is shown at community, flagged as timing-dependent.
    Case("two-routes-two-levels", ABC, [push("a", "b"), push("a", "c"), pull("b", "c")], "a", CONNECTED,
         {"a": CONNECTED, "b": COMMUNITY, "c": COMMUNITY}, timing=("b",)),
    # Timing: b may first get an unpublished copy (a -> b, unpublish) or a published one via c.
    # Its level is `all` either way, but d receives the event only if the published one came first.
    Case("unpublished-first-makes-downstream-uncertain", {"a": "oa", "b": "ob", "c": "oc", "d": "od"},
         [push("a", "b", unpublish=True), push("a", "c"), push("c", "b"), push("b", "d")], "a", ALL,
         {"a": ALL, "b": ALL, "c": ALL, "d": ALL}, timing=("d",)),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_case(case: Case) -> None:
    estate = build(case.instances, case.sync, case.groups, case.feeders)
    if case.level is None:
        event = feeder_event(estate, case.origin)
    else:
        event = EventSpec(case.origin, Distribution.parse(case.level), case.tags, case.group, case.org)
    flow = propagate(estate, event)
    assert {inst: level.word for inst, level in flow.reaches.items()} == case.expect
    for inst, chain in case.paths.items():
        assert flow.paths[inst] == chain
    assert flow.timing_dependent == case.timing
    for inst, chain in flow.paths.items():
        assert chain[0] == flow.origin_instance and chain[-1] == inst


def test_at_least_thirty_cases() -> None:
    assert len(CASES) >= 30
    assert len({c.id for c in CASES}) == len(CASES)
