"""The timing analysis: which holders of one event may end differently depending on job order.

One job: from the states a search found (:mod:`planner.flows.search`), the instances whose outcome
depends on when sync jobs run. Those are the instances that could hold the copy at another level
by another route, and those that receive a copy only in some orders (e.g. only through an instance
that may get an unpublished copy first). The latter is the complement of a "certain" set: the
origin is certain, and an instance is certain when a certain instance sends it something whatever
copy that instance holds (a closure, so the order of the walk does not change it).

Complexity: the walk steps by bit operations on per-instance tables of the targets each copy
reaches, made once per tag set (O(F) for F flows, :meth:`TimingAnalysis.carriers`): O(N x copies)
big-integer operations of N bits per event, plus a flow-by-flow check only for the targets of flows
the creator org's rules refuse.
"""

from __future__ import annotations

from planner.estate import Estate
from planner.flows.bits import bits
from planner.flows.prepared import PreparedEstate
from planner.flows.rules import ALL, COMMUNITY, CONNECTED, GROUP, ORG, Group, State

# Per instance index: the targets per level 0-3 (any owner), and for level 0 the internal pushes'
# targets and, per owner, those plus the targets of pulls by that owner.
Carriers = tuple[list[list[int]], list[tuple[int, dict[str, int]]]]


class TimingAnalysis(PreparedEstate):
    """:meth:`timing` of one event's search, with its tables."""

    def __init__(self, estate: Estate) -> None:
        super().__init__(estate)
        self._carried: dict[frozenset[str], Carriers] = {}
        self._group_carried: dict[tuple[Group, frozenset[str]], dict[int, int]] = {}

    def carriers(self, tags: frozenset[str]) -> Carriers:
        """Per instance index, the targets its flows not refused by ``tags``' rules carry a copy to, as
        bit sets: per level 0-3 (any owner), and for level 0 the internal pushes' targets and, per
        owner, those plus the targets of pulls by that owner (docs/misp-behaviour.md#pull step 2). Made once per
        tag set."""
        cached = self._carried.get(tags)
        if cached is None:
            tag_blocked = self.tag_blocked(tags)
            by_level: list[list[int]] = []
            level_zero: list[tuple[int, dict[str, int]]] = []
            for iid in self.names:
                levels = [0, 0, 0, 0]
                pushed, pulled = 0, dict[str, int]()
                for n in self.out[iid]:
                    if n in tag_blocked:
                        continue
                    bit, hop = 1 << self.target_at[n], self.hops[n]
                    for level in (ORG, COMMUNITY, CONNECTED, ALL):
                        if hop[level]:
                            levels[level] |= bit
                    zero = hop[ORG]
                    if zero is not None:
                        if self.links[n].mode == "push":
                            pushed |= bit
                        else:
                            owner = self.links[n].viewer
                            pulled[owner] = pulled.get(owner, 0) | bit
                by_level.append(levels)
                level_zero.append((pushed, {owner: pulls | pushed for owner, pulls in pulled.items()}))
            cached = self._carried[tags] = (by_level, level_zero)
        return cached

    def group_targets(self, k: int, group: Group, tags: frozenset[str]) -> int:
        """Bit set of the targets the flows out of instance ``k`` not refused by ``tags``' rules carry a
        copy of ``group`` to (found as the walk needs them, and kept)."""
        known = self._group_carried.setdefault((group, tags), {})
        targets = known.get(k)
        if targets is None:
            tag_blocked = self.tag_blocked(tags)
            targets = 0
            for n in self.out[self.names[k]]:
                if n not in tag_blocked and self.group_hop(n, group) is not None:
                    targets |= 1 << self.target_at[n]
            known[k] = targets
        return targets

    def timing(self, origin: str, held_states: list[State], tags: frozenset[str], org_blocked: frozenset[int],
               group: Group | None) -> tuple[str, ...]:
        """The timing-dependent holders, from the states a search found (see the module docstring),
        with bit sets over instance indices."""
        index = self.index
        copies: dict[int, list[State]] = {}  # instance index -> the copies it may hold
        unpublished: set[int] = set()
        for state in held_states:
            copies.setdefault(index[state[0]], []).append(state)
            if not state[3]:
                unpublished.add(index[state[0]])
        holders = 0
        for k in copies:
            holders |= 1 << k
        varied = {k for k, held in copies.items() if len(held) > 1 and len({s[1] for s in held}) > 1}
        start = index[origin]
        away = self.exported(tags)  # what the copies on other instances carry (PreparedEstate.staying)
        certain = 1 << start
        work = [start]
        while work:  # the certain set is a closure: the order of the walk does not change it
            k = work.pop()
            if k in unpublished:
                continue  # an unpublished copy there sends nothing: no target is certain through it
            # A target is certain when, for every copy ``k`` may hold, some flow carries it there: by
            # bit operations on the tables of carriers(), except for the targets of a flow the org's
            # rules refuse, which take the flow-by-flow check of _refused_but_certain.
            held = copies[k]  # the walk only reaches holders
            carried = tags if k == start else away
            by_level, level_zero = self.carriers(carried)
            fresh = holders & ~certain
            for _, level, owner, _ in held:
                if level == ORG:
                    pushed, by_owner = level_zero[k]
                    fresh &= by_owner.get(owner or "", pushed)
                elif level == GROUP:
                    assert group is not None
                    fresh &= self.group_targets(k, group, carried)
                else:
                    fresh &= by_level[k][level]
            refused = 0
            if org_blocked:
                for n in self.out_flows[k] & org_blocked:
                    refused |= 1 << self.target_at[n]
            if refused:
                fresh &= ~refused
                fresh |= self._refused_but_certain(k, held, refused & holders & ~certain, carried, org_blocked, group)
            if fresh:
                certain |= fresh
                work.extend(bits(fresh))
        return tuple(self.names[k] for k in sorted(varied.union(bits(holders & ~certain))))

    def _refused_but_certain(self, k: int, held: list[State], refused: int, tags: frozenset[str],
                             org_blocked: frozenset[int], group: Group | None) -> int:
        """Of the ``refused`` targets (those of a flow out of instance ``k`` that the creator org's rules
        refuse), those certain all the same: for every copy of ``held``, another flow to it carries it."""
        certain = 0
        for target in bits(refused):
            via = [n for n in self.via_to[k][target] if n not in org_blocked]
            if all(any(self.carries(n, s[1], s[2], group, tags) for n in via) for s in held):
                certain |= 1 << target
        return certain

    def carries(self, n: int, level: int, owner: str | None, group: Group | None, tags: frozenset[str]) -> bool:
        """Whether flow ``n``, not refused by ``tags``' rules, carries a published copy ``(level, owner)``
        (transfer() is not None), from the tables where it can (see PreparedEstate)."""
        if n in self.tag_blocked(tags):
            return False
        if level == GROUP:
            assert group is not None
            return self.group_hop(n, group) is not None
        copy = self.hops[n][level]
        return copy is not None and (level != ORG or self.links[n].mode == "push" or owner == self.links[n].viewer)

