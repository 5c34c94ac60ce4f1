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

from planner.estate import Connection, Estate
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
    # effective internal flag (docs/misp-behaviour.md#internal-links: only between instances of one host org; a
    # pull from 2.5.8 / 2.4.206 also needs the remote sync user's role to have perm_sync_internal, see
    # planner.flows.versions)
    internal: bool
    unpublish: bool  # push only (docs/misp-behaviour.md#server-entry unpublish_event)
    # org owning the received copy: on a push the remote sync user's org (docs/misp-behaviour.md#receiving-a-push),
    # on a pull the initiator's host org (#pull step 7)
    owner: str
    target_org: str  # host org of the receiving instance
    filter: Direction
    # org of the remote sync user a pull lists events as (#pull step 2): what it sees at level 0 and in groups
    viewer: str = ""
    # the levels a pull's url_params `distribution` admits (the remote filters its index); None: every level
    levels: frozenset[int] | None = None


@dataclass(frozen=True)
class Group:
    """What MISP's sharing-group rules read of a group: its orgs, its server list, roaming."""

    orgs: frozenset[str]
    instances: frozenset[str]
    roaming: bool


def links_of(estate: Estate) -> list[Link]:
    """Every link of the estate, sorted by (source, target, mode, connection)."""
    from planner.flows.versions import internal_link, internal_pull_downgrades

    links: list[Link] = []
    for conn in estate.connections:
        init = estate.instances[conn.initiator]
        internal = internal_link(estate, conn)
        for source, target, mode, direction in conn.flows():
            pushed = mode == "push"
            links.append(Link(source, target, mode, conn.index,
                              internal and (pushed or not internal_pull_downgrades(estate, conn)),
                              conn.unpublish and pushed, conn.sync_org if pushed else init.host_org,
                              estate.instances[target].host_org, direction, conn.sync_org,
                              None if pushed else pull_levels(conn)))
    links.sort(key=lambda link: (link.source, link.target, link.mode, link.connection))
    return links


def pull_levels(conn: Connection) -> frozenset[int] | None:
    """The levels a pull's url_params `distribution` (or `searchdistribution`) admits: MISP passes it to the
    remote's event index (Server::getEventIndexFromServer, EventsController::index), which lists only events
    at those levels."""
    pull = conn.pull_filter
    if pull is None:
        return None
    wanted = pull.url_params.get("distribution", pull.url_params.get("searchdistribution"))
    if wanted is None:
        return None
    values = wanted if isinstance(wanted, list) else [wanted]
    return frozenset(int(Distribution.parse(int(v) if isinstance(v, str) and v.isdigit() else v)) for v in values)


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
    if link.levels is not None and level not in link.levels:
        return None
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
    # Pull: the remote lists what its sync user can see (docs/misp-behaviour.md#pull step 2, #distribution-levels):
    # its org's events, levels 1-3, groups it belongs to. Its org is the puller's host org unless `sync_user.org`
    # puts it elsewhere: in the remote's own host org it sees that org's organisation-only events (MISP/MISP#2595).
    if level == ORG and owner != link.viewer:
        return None
    # docs/misp-behaviour.md#pull step 7: owned by the puller's host org; a pulled published event stays
    # published (#pull step 8).
    new = PULL_ARRIVES[level, link.internal]
    return (new, link.owner if new == ORG else None, True)


def _group_transfer(link: Link, group: Group) -> Copy | None:
    """:func:`transfer` of a sharing-group copy: it depends on the link and the group only."""
    if link.mode == "pull":
        if link.viewer not in group.orgs:
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


def carries_all(link: Link) -> bool:
    """Whether a link carries level-`all` copies: every link but a pull whose url_params leave `all` out."""
    return link.levels is None or ALL in link.levels
