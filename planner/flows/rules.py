"""MISP's hop rules: what one push or one pull does to a published copy of an event.

One job: the facts of MISP's sync that the engine follows, each with its source, and nowhere else
in the engine. A *link* is one direction of data of one server entry (a push of the entry's owner
to its remote, or a pull by it from its remote); a *copy* is ``(level, owner, published)``, the
owner kept for level-0 copies only. :func:`transfer` says what a copy becomes on the far end of a
link, from the tables :data:`PUSH_ARRIVES` and :data:`PULL_ARRIVES` for levels 0-3 and from the
sharing-group rules for level 4. Filters (:func:`matches`) are MISP's include (OR) / exclude (NOT)
lists. Every function here is O(1) but :func:`links_of` (O(connections)) and :func:`matches`
(O(values)).

Facts that the searches rely on without a table (each stated where it is used):
only published events travel (docs/misp-behaviour.md#rules-in-brief rule 2); MISP keeps one copy per event UUID, so the
first copy to arrive wins and an echo is refused (docs/misp-behaviour.md#receiving-a-push, #pull step 3); org rules
match the
event's creator org (docs/misp-behaviour.md#push-and-pull-rules).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

from planner.estate import Estate
from planner.misp import Distribution
from planner.model import Direction

ORG, COMMUNITY, CONNECTED, ALL, GROUP = (int(d) for d in Distribution)
LEVELS = tuple(Distribution)  # LEVELS[n] is Distribution(n), without the enum call per holder
assert all(int(level) == n for n, level in enumerate(LEVELS))

Copy = tuple[int, str | None, bool]  # level, owner (level 0 only), published
State = tuple[str, int, str | None, bool]  # instance + Copy: what a search goes through


class Link(NamedTuple):
    """One direction of data of one server entry: ``source`` holds a copy, ``target`` receives it.
    (A named tuple: a national estate has tens of thousands, made in C.)"""

    source: str
    target: str
    mode: Literal["push", "pull"]
    connection: int
    # effective internal flag (docs/misp-behaviour.md#internal-links: only between instances of one host org)
    internal: bool
    unpublish: bool  # push only (docs/misp-behaviour.md#server-entry unpublish_event)
    # org owning the received copy = the initiator's host org (docs/misp-behaviour.md#receiving-a-push, #pull step 7)
    owner: str
    target_org: str  # host org of the receiving instance
    filter: Direction


@dataclass(frozen=True)
class Group:
    """What MISP's sharing-group rules read of a group: its orgs, its server list, roaming."""

    orgs: frozenset[str]
    instances: frozenset[str]
    roaming: bool


def links_of(estate: Estate) -> list[Link]:
    """Every link of the estate, sorted by (source, target, mode, connection)."""
    links: list[Link] = []
    for conn in estate.connections:
        init = estate.instances[conn.initiator]
        remote = estate.instances[conn.remote]
        # docs/misp-behaviour.md#internal-links, #observed: MISP saves `internal` only when the remote's host org is the
        # initiator's host org; otherwise the entry is silently not internal.
        internal = conn.internal and init.host_org == remote.host_org
        for source, target, mode, direction in conn.flows():
            links.append(Link(source, target, mode, conn.index, internal,
                              conn.unpublish and mode == "push", init.host_org,
                              estate.instances[target].host_org, direction))
    links.sort(key=lambda link: (link.source, link.target, link.mode, link.connection))
    return links


def matches(rule: Any, values: Iterable[str]) -> bool:
    """A filter's include (OR) / exclude (NOT) lists against a set of values "
    "(docs/misp-behaviour.md#push-and-pull-rules)."""
    have = set(values)
    if rule.include and not have.intersection(rule.include):
        return False
    return not have.intersection(rule.exclude)


# The level a copy of level 0-3 arrives at, by (level, the link is internal); None: not sent.
PUSH_ARRIVES: dict[tuple[int, bool], int | None] = {
    # docs/misp-behaviour.md#what-a-push-sends rule 2 / #internal-links: 0 and 1 leave only over an internal link.
    (ORG, False): None, (ORG, True): ORG,
    (COMMUNITY, False): None, (COMMUNITY, True): COMMUNITY,
    # docs/misp-behaviour.md#what-a-push-sends rule 6: 2 arrives as 1 on a non-internal link; 3 stays 3.
    (CONNECTED, False): COMMUNITY, (CONNECTED, True): CONNECTED,
    (ALL, False): ALL, (ALL, True): ALL,
}
PULL_ARRIVES: dict[tuple[int, bool], int] = {
    # docs/misp-behaviour.md#pull step 6: 1 -> 0 and 2 -> 1 unless internal (#internal-links). A level-0 copy is listed
    # only to a sync user of the org owning it (docs/misp-behaviour.md#pull step 2, #distribution-levels): see
    # transfer().
    (ORG, False): ORG, (ORG, True): ORG,
    (COMMUNITY, False): ORG, (COMMUNITY, True): COMMUNITY,
    (CONNECTED, False): COMMUNITY, (CONNECTED, True): CONNECTED,
    (ALL, False): ALL, (ALL, True): ALL,
}


def transfer(link: Link, level: int, owner: str | None, group: Group | None) -> Copy | None:
    """The copy a published copy ``(level, owner)`` on ``link.source`` becomes on ``link.target``,
    or None when this link does not carry it. Filters are checked by the caller."""
    if level == GROUP:
        assert group is not None
        return _group_transfer(link, group)
    if link.mode == "push":
        new = PUSH_ARRIVES[level, link.internal]
        if new is None:
            return None
        # docs/misp-behaviour.md#receiving-a-push: the pushed copy is owned by the sync user's org (the initiator's host
        # org); docs/misp-behaviour.md#server-entry unpublish_event: it arrives unpublished, ending the chain.
        return (new, link.owner if new == ORG else None, not link.unpublish)
    # Pull: the remote lists what its sync user (org = the puller's host org) can see
    # (docs/misp-behaviour.md#pull step 2, #distribution-levels): its own org's events, levels 1-3, groups it belongs
    # to.
    if level == ORG and owner != link.owner:
        return None
    # docs/misp-behaviour.md#pull step 7: owned by the puller's host org; a pulled published event stays
    # published (#pull step 8).
    new = PULL_ARRIVES[level, link.internal]
    return (new, link.owner if new == ORG else None, True)


def _group_transfer(link: Link, group: Group) -> Copy | None:
    """:func:`transfer` of a sharing-group copy: it depends on the link and the group only."""
    if link.mode == "pull":
        if link.owner not in group.orgs:
            return None
        return (GROUP, None, True)  # docs/misp-behaviour.md#observed: pulls capture the group whatever its list
    # docs/misp-behaviour.md#sharing-groups step 1: a non-roaming group's server list must name the remote, unless the
    # link is internal.
    if not group.roaming and not link.internal and link.target not in group.instances:
        return None
    # docs/misp-behaviour.md#what-a-push-sends rule 5: the remote host org must be a member, unconditionally.
    if link.target_org not in group.orgs:
        return None
    # Spec §7, docs/misp-behaviour.md#observed: a receiver not on a non-empty, non-roaming list cannot create the
    # group and stores the copy at organisation level.
    if not group.roaming and group.instances and link.target not in group.instances:
        return (ORG, link.owner, not link.unpublish)
    return (GROUP, None, not link.unpublish)


def carries_low_levels(link: Link) -> bool:
    """Whether a link can carry an organisation or community copy at all: pulls and internal pushes
    (docs/misp-behaviour.md#what-a-push-sends rule 2; the tables above say the same)."""
    return link.mode == "pull" or link.internal
