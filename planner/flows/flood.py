"""The one-event search for level `all`: a breadth-first flood over instances as bit sets.

One job: where one level-`all` event goes. No hop changes level `all` (docs/misp-behaviour.md#what-a-push-sends rule 6,
#pull step 6) and every sync user sees it, so a copy is only published or not: instead of the
general search over states (:mod:`planner.flows.search`) this is a breadth-first search over
instance indices, with the not-yet-reached instances as a bit set (each parent costs one
big-integer AND, not one step per flow). Same model, same results (a property test compares
both); this level floods whole estates, so it is the one worth a shortcut.

:meth:`LevelAllSearch.reach_all_from` is the same flood without chains or the certain set, for
reach-only questions (sizing's level-`all` feeders), which need neither.

Complexity: O(F) Python steps per event for F flows with org rules or `unpublish` (the others are
one bit set per instance, made once per tag set: O(F)), plus O(N) big-integer operations of N bits.
"""

from __future__ import annotations

from collections.abc import Mapping

from planner.estate import Estate
from planner.flows.bits import bits
from planner.flows.events import EventSpec, Flow
from planner.flows.prepared import PreparedEstate
from planner.flows.rules import carries_all
from planner.misp import Distribution

# Per instance index: the bit set of the targets of flows with nothing to check per event, and
# (target, flow, unpublish) of the others.
Adjacency = tuple[list[int], list[list[tuple[int, int, bool]]]]


class LevelAllSearch(PreparedEstate):
    """:meth:`propagate_all` and :meth:`reach_all_from`: one level-`all` event."""

    def __init__(self, estate: Estate) -> None:
        super().__init__(estate)
        self._all_adjacency: dict[frozenset[str], Adjacency] = {}

    def adjacency(self, tags: frozenset[str]) -> Adjacency:
        """Per instance index, for events with these tags: a bit set of the targets of flows with
        nothing to check per event (no org rules, not `unpublish`), and ``(target, flow, unpublish)``
        of the others. Built once per tag set, so the level-`all` search never looks at tag rules."""
        if tags not in self._all_adjacency:
            tag_blocked = self.tag_blocked(tags)  # org rules are checked per event
            free = [0] * len(self.names)
            checked: list[list[tuple[int, int, bool]]] = [[] for _ in self.names]
            for n, link in enumerate(self.links):
                if n in tag_blocked or not carries_all(link):
                    continue
                u, v = self.index[link.source], self.index[link.target]
                if link.unpublish or link.filter.orgs.include or link.filter.orgs.exclude:
                    checked[u].append((v, n, link.unpublish))
                else:
                    free[u] |= 1 << v
            self._all_adjacency[tags] = (free, checked)
        return self._all_adjacency[tags]

    def propagate_all(self, event: EventSpec, origin: str, published: bool, org_blocked: frozenset[int]) -> Flow:
        """The search for level `all` (see the module docstring). The flows the tags' rules refuse are
        out of its adjacency; ``org_blocked`` are those the creator org's rules refuse."""
        free, checked = self.adjacency(frozenset(event.tags))
        names = self.names
        start = self.index[origin]
        chains: list[tuple[str, ...]] = [()] * len(names)  # chain of each holder of a published copy
        chains[start] = (origin,)
        unpublished: dict[int, tuple[str, ...]] = {}  # chain of each holder of an unpublished copy
        remaining = ((1 << len(names)) - 1) ^ (1 << start)  # instances without a published copy
        # Parents are taken in index (= id) order, as in the general search: a tie of hops keeps the
        # chain through the parent first in id order.
        frontier = [start] if published else []
        while frontier:
            layer: list[int] = []
            for u in frontier:
                chain = chains[u]
                kids = free[u] & remaining
                for v, n, unpublish in checked[u]:
                    if n in org_blocked:
                        continue
                    if not unpublish:
                        kids |= (1 << v) & remaining
                    # An instance on the chain already holds a copy; MISP refuses the echo.
                    elif v != start and v not in unpublished and names[v] not in chain:
                        unpublished[v] = (*chain, names[v])
                if kids:
                    remaining ^= kids
                    while kids:
                        low = kids & -kids
                        v = low.bit_length() - 1
                        kids ^= low
                        chains[v] = (*chain, names[v])
                        layer.append(v)
            layer.sort()
            frontier = layer
        certain = _certain_all(start, published, unpublished, free, checked, org_blocked)
        return self._all_flow(event, origin, chains, unpublished, certain)

    def _all_flow(self, event: EventSpec, origin: str, chains: list[tuple[str, ...]],
                  unpublished: Mapping[int, tuple[str, ...]], certain: int) -> Flow:
        """The flow of :meth:`propagate_all` from its chains and its certain set."""
        start = self.index[origin]
        reaches: dict[str, Distribution] = {}
        paths: dict[str, tuple[str, ...]] = {}
        timing: list[str] = []
        for k, name in enumerate(self.names):
            chain = chains[k]
            if k in unpublished and (not chain or len(unpublished[k]) < len(chain)):
                chain = unpublished[k]  # fewer hops; on a tie the published copy wins
            if chain:
                reaches[name] = Distribution.ALL
                if k != start:
                    paths[name] = chain
                if not (certain >> k) & 1:
                    timing.append(name)
        return Flow(event, origin, reaches, paths, tuple(timing))

    def reach_all_from(self, start: int, published: bool, tags: frozenset[str], org_blocked: frozenset[int]) -> int:
        """Bit set of the instances :meth:`propagate_all` reaches. No chains are needed: the echo it
        refuses only ever goes to an instance holding a published copy already."""
        free, checked = self.adjacency(tags)
        reached = 1 << start
        held = reached  # reached, plus the receivers of unpublished copies
        frontier = [start] if published else []
        while frontier:
            kids = 0
            for u in frontier:
                kids |= free[u]
                for v, n, unpublish in checked[u]:
                    if n not in org_blocked:
                        if unpublish:
                            held |= 1 << v
                        else:
                            kids |= 1 << v
            kids &= ~reached
            reached |= kids
            frontier = list(bits(kids))
        return held | reached


def _certain_all(start: int, published: bool, unpublished: Mapping[int, tuple[str, ...]], free: list[int],
                 checked: list[list[tuple[int, int, bool]]], org_blocked: frozenset[int]) -> int:
    """Bit set of the instances that receive a copy in every order of jobs: an instance that may
    hold an unpublished copy may forward nothing (see :mod:`planner.flows.timing`)."""
    certain = 1 << start
    work = [start] if published else []
    while work:
        u = work.pop()
        if u in unpublished:
            continue
        new = free[u]
        for v, n, _ in checked[u]:
            if n not in org_blocked:
                new |= 1 << v
        new &= ~certain
        certain |= new
        while new:
            low = new & -new
            work.append(low.bit_length() - 1)
            new ^= low
    return certain
