"""Why an instance does not hold an event: the first reason, in words, per unreached instance.

One job: after a search (:class:`~planner.flows.events.Flow`), explain every instance it did not
reach. The reason is read off the links into that instance whose source holds the event, tried in
the order the event gets there (the holder nearest the origin first, then the link order of
:func:`planner.flows.rules.links_of`); the first link that refuses names the rule that refused: a
tag or org filter, a level a push does not send, the sharing group's rules, an unpublished copy.
An instance that no link from a holder enters is explained by the connections it has (none, or
none from a holder). Each reason follows the hop rules of :mod:`planner.flows.rules` (whose facts
and sources live there): this module words their refusals, it decides nothing of its own.

O(links into the unreached instances + holders) per flow, over the engine's index of links by target.
"""

from __future__ import annotations

from planner.flows.events import Flow
from planner.flows.prepared import PreparedEstate
from planner.flows.rules import COMMUNITY, GROUP, ORG, Group, Link, transfer
from planner.misp import Distribution

Held = tuple[int, str | None, bool, Link | None]  # level, owner (level 0), published, the link it came by


def why_not(engine: PreparedEstate, flow: Flow) -> dict[str, str]:
    """Instance id -> the first reason it holds no copy of ``flow``'s event, for every instance the
    flow does not reach, in id order."""
    event = flow.event
    origin, orgc, published = engine.resolve(event)
    group = engine.group_of(event)
    tags = frozenset(event.tags)
    tag_blocked, org_blocked = engine.tag_blocked(tags), engine.org_blocking(orgc)
    blocked = frozenset(tag_blocked | org_blocked)
    into = engine.into
    # The order copies arrive in: hops from the origin, then id order.
    rank = {inst: (len(flow.paths.get(inst, (inst,))), inst) for inst in flow.reaches}
    held: dict[str, Held] = {}  # per holder, the copy it is reported with: each chain walked once
    reasons: dict[str, str] = {}
    for target in engine.names:
        if target in flow.reaches:
            continue
        from_holders = sorted((n for n in into.get(target, ()) if engine.links[n].source in flow.reaches),
                              key=lambda n: (rank[engine.links[n].source], n))
        if not from_holders:
            reasons[target] = _unconnected(engine, into.get(target, ()))
            continue
        reason = ""
        for n in from_holders:
            link = engine.links[n]
            reason = _refusal(engine, flow, link, origin, orgc, published, group, tags,
                              n in tag_blocked, n in org_blocked, blocked, held)
            if reason:
                break
        reasons[target] = reason or (f"every copy {_sources(engine, from_holders)} could send would be an echo "
                                     "of a copy it already holds")
    return reasons


def _connection(link: Link) -> str:
    return f"connection #{link.connection} ({link.mode} {link.source} -> {link.target})"


def _sources(engine: PreparedEstate, links: tuple[int, ...] | list[int]) -> str:
    return ", ".join(sorted({engine.links[n].source for n in links}))


def _unconnected(engine: PreparedEstate, links: tuple[int, ...]) -> str:
    if not links:
        return "no sync connection brings data into it (no push to it, no pull by it)"
    sources = sorted({engine.links[n].source for n in links})
    return (f"its sync connections bring data only from {', '.join(sources)}, "
            f"which {'holds' if len(sources) == 1 else 'hold'} no copy")


def _held(engine: PreparedEstate, flow: Flow, inst: str, origin: str, orgc: str, published: bool,
          group: Group | None, blocked: frozenset[int], memo: dict[str, Held]) -> Held:
    """(level, owner, published, the link it came by) of the copy ``inst`` is reported with: the
    origin holds the original; another holder the copy the last hop of its path gave it. Where
    several links of that hop give a copy at the reported level, the search reports a published one
    first (planner.flows.search), so the same order picks the link here. Kept in ``memo``: the
    holders along a chain are asked again for every link out of them."""
    if inst not in memo:
        memo[inst] = _held_copy(engine, flow, inst, origin, orgc, published, group, blocked, memo)
    return memo[inst]


def _held_copy(engine: PreparedEstate, flow: Flow, inst: str, origin: str, orgc: str, published: bool,
               group: Group | None, blocked: frozenset[int], memo: dict[str, Held]) -> Held:
    level = int(flow.reaches[inst])
    if inst == origin:
        return level, orgc if level == ORG else None, published, None
    chain = flow.paths[inst]
    numbers = engine.via_to[engine.index[chain[-2]]].get(engine.index[inst], ())
    came = [engine.links[n] for n in numbers]
    before, before_owner, before_published, _ = _held(engine, flow, chain[-2], origin, orgc, published, group,
                                                      blocked, memo)
    copies = [(copy, engine.links[n]) for n in numbers if before_published and n not in blocked
              and (copy := transfer(engine.links[n], before, before_owner, group)) is not None and copy[0] == level]
    if copies:
        (_, owner, is_published), by = max(copies, key=lambda c: c[0][2])  # published first
        return level, owner, is_published, by
    link = next((lk for lk in came if not lk.unpublish), came[0] if came else None)
    owner = link.owner if link is not None and level == ORG else None
    return level, owner, link is None or not link.unpublish, link


def _refusal(engine: PreparedEstate, flow: Flow, link: Link, origin: str, orgc: str, published: bool,
             group: Group | None, tags: frozenset[str], tag_refused: bool, org_refused: bool,
             blocked: frozenset[int], memo: dict[str, Held]) -> str:
    """Why ``link`` does not give its target a copy, or "" if it would (then a later link is asked).
    What the level allows comes before the filters: a filter does not matter where the level stops."""
    level, owner, is_published, came_by = _held(engine, flow, link.source, origin, orgc, published, group,
                                                 blocked, memo)
    word = Distribution(level).word
    if not is_published:
        if came_by is None:
            return f"{link.source} holds it unpublished (the feeder does not publish), and only published events travel"
        return (f"{link.source} holds it unpublished (connection #{came_by.connection} unpublishes on push), "
                "and only published events travel")
    if level == GROUP:
        assert group is not None
        refusal = _group_refusal(link, group, flow.event.sharing_group or "")
        if refusal:
            return refusal
    elif transfer(link, level, owner, None) is None:
        if link.mode == "push" and level in (ORG, COMMUNITY):
            return f"a push does not send {word} events over a link that is not internal ({_connection(link)})"
        return (f"{link.target}'s sync user (org {link.owner}) does not see {link.source}'s organisation-only "
                f"copy owned by {owner} ({_connection(link)})")
    if tag_refused:
        rule = link.filter.tags
        wanted = (f"include {', '.join(rule.include)}" if rule.include and not tags.intersection(rule.include)
                  else f"exclude {', '.join(sorted(tags.intersection(rule.exclude)))}")
        return f"the {link.mode} tag filter of {_connection(link)} refuses it ({wanted})"
    if org_refused:
        return f"the {link.mode} org filter of {_connection(link)} refuses events created by {orgc}"
    return ""


def _group_refusal(link: Link, group: Group, name: str) -> str:
    if transfer(link, GROUP, None, group) is not None:
        return ""
    if link.mode == "pull":
        return f"{link.target}'s host org {link.owner} is not a member of sharing group {name} ({_connection(link)})"
    if not group.roaming and not link.internal and link.target not in group.instances:
        return f"sharing group {name}'s server list does not name {link.target} ({_connection(link)})"
    return f"{link.target}'s host org {link.target_org} is not a member of sharing group {name} ({_connection(link)})"
