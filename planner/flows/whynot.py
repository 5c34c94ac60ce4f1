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
    return _Explanation(engine, flow).reasons()


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


class _Explanation:
    """What one flow's explanation needs throughout: its event as the engine resolves it, the links
    whose filters refuse it, and the copy each holder is reported with (each chain walked once)."""

    def __init__(self, engine: PreparedEstate, flow: Flow) -> None:
        self.engine, self.flow = engine, flow
        self.origin, self.orgc, self.published = engine.resolve(flow.event)
        self.group = engine.group_of(flow.event)
        self.tags = frozenset(flow.event.tags)
        self.tag_blocked, self.org_blocked = engine.tag_blocked(self.tags), engine.org_blocking(self.orgc)
        self.blocked = frozenset(self.tag_blocked | self.org_blocked)
        self.memo: dict[str, Held] = {}

    def reasons(self) -> dict[str, str]:
        engine, flow, into = self.engine, self.flow, self.engine.into
        # The order copies arrive in: hops from the origin, then id order.
        rank = {inst: (len(flow.paths.get(inst, (inst,))), inst) for inst in flow.reaches}
        reasons: dict[str, str] = {}
        for target in engine.names:
            if target in flow.reaches:
                continue
            from_holders = sorted((n for n in into.get(target, ()) if engine.links[n].source in flow.reaches),
                                  key=lambda n: (rank[engine.links[n].source], n))
            if not from_holders:
                reasons[target] = _unconnected(engine, into.get(target, ()))
                continue
            reason = next((r for n in from_holders if (r := self.refusal(n))), "")
            reasons[target] = reason or (f"every copy {_sources(engine, from_holders)} could send would be an "
                                         "echo of a copy it already holds")
        return reasons

    def held(self, inst: str) -> Held:
        """(level, owner, published, the link it came by) of the copy ``inst`` is reported with: the
        origin holds the original; another holder the copy the last hop of its path gave it. Where
        several links of that hop give a copy at the reported level, the search reports a published
        one first (planner.flows.search), so the same order picks the link here. Memoised: the
        holders along a chain are asked again for every link out of them."""
        if inst not in self.memo:
            self.memo[inst] = self._held_copy(inst)
        return self.memo[inst]

    def _held_copy(self, inst: str) -> Held:
        engine = self.engine
        level = int(self.flow.reaches[inst])
        if inst == self.origin:
            return level, self.orgc if level == ORG else None, self.published, None
        chain = self.flow.paths[inst]
        numbers = engine.via_to[engine.index[chain[-2]]].get(engine.index[inst], ())
        came = [engine.links[n] for n in numbers]
        before, before_owner, before_published, _ = self.held(chain[-2])
        copies = [(copy, engine.links[n]) for n in numbers if before_published and n not in self.blocked
                  and (copy := transfer(engine.links[n], before, before_owner, self.group)) is not None
                  and copy[0] == level]
        if copies:
            (_, owner, is_published), by = max(copies, key=lambda c: c[0][2])  # published first
            return level, owner, is_published, by
        link = next((lk for lk in came if not lk.unpublish), came[0] if came else None)
        owner = link.owner if link is not None and level == ORG else None
        return level, owner, link is None or not link.unpublish, link

    def refusal(self, n: int) -> str:
        """Why link ``n`` does not give its target a copy, or "" if it would (then a later link is
        asked). What the level allows comes before the filters: a filter does not matter where the
        level stops."""
        link = self.engine.links[n]
        level, owner, is_published, came_by = self.held(link.source)
        word = Distribution(level).word
        if not is_published:
            if came_by is None:
                return (f"{link.source} holds it unpublished (the feeder does not publish), and only published "
                        "events travel")
            return (f"{link.source} holds it unpublished (connection #{came_by.connection} unpublishes on push), "
                    "and only published events travel")
        if level == GROUP:
            assert self.group is not None
            refusal = _group_refusal(link, self.group, self.flow.event.sharing_group or "")
            if refusal:
                return refusal
        elif transfer(link, level, owner, None) is None:
            if link.mode == "push" and level in (ORG, COMMUNITY):
                return f"a push does not send {word} events over a link that is not internal ({_connection(link)})"
            return (f"{link.target}'s sync user (org {link.owner}) does not see {link.source}'s organisation-only "
                    f"copy owned by {owner} ({_connection(link)})")
        if n in self.tag_blocked:
            rule = link.filter.tags
            wanted = (f"include {', '.join(rule.include)}" if rule.include and not self.tags.intersection(rule.include)
                      else f"exclude {', '.join(sorted(self.tags.intersection(rule.exclude)))}")
            return f"the {link.mode} tag filter of {_connection(link)} refuses it ({wanted})"
        if n in self.org_blocked:
            return f"the {link.mode} org filter of {_connection(link)} refuses events created by {self.orgc}"
        return ""


def _group_refusal(link: Link, group: Group, name: str) -> str:
    if transfer(link, GROUP, None, group) is not None:
        return ""
    if link.mode == "pull":
        return f"{link.target}'s host org {link.owner} is not a member of sharing group {name} ({_connection(link)})"
    if not group.roaming and not link.internal and link.target not in group.instances:
        return f"sharing group {name}'s server list does not name {link.target} ({_connection(link)})"
    return f"{link.target}'s host org {link.target_org} is not a member of sharing group {name} ({_connection(link)})"
