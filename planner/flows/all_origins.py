"""The all-origins search: level-`all` events of many origins at once, as bit sets over origins.

One job: the level-`all` rows of :func:`planner.flows.flow_matrix` (:meth:`AllOriginsSearch.
matrix_block`) and sizing's level-`all` reaches (:meth:`AllOriginsSearch.reach_all_bits`). Level
`all` floods whole estates: the matrix's output is ``N`` reaches and ``N`` chains per origin,
``Theta(N^2)``. So the search of :mod:`planner.flows.flood` runs for many origins together: each
instance holds a bit set of the origins whose copy it holds, and a layer costs one big-integer
operation per flow instead of one per flow and origin: ``O(F x depth)`` such operations per block
of origins. Each instance records, per parent, the bit set of the origins whose copy came through
that parent (its ``via``): every origin's breadth-first tree at once, from which the echo of an
``unpublish`` push is found (walking up only where the receiver held the copy earlier) and each
origin's ``paths`` are built when first read (:mod:`planner.flows.paths`). ``reaches`` dicts are
built by C loops (transposing the bit sets through their binary text). A property test checks that
this equals :meth:`propagate` of each event.

Why a second search of level `all` beside the flood: the flood answers one event with its chains
(a user's question, the policies); this one answers ``N`` events at once, which the flood would
do in ``N`` times the big-integer operations. Both are kept equal by property tests. Likewise
:meth:`AllOriginsSearch.reach_all_bits` is :func:`_search_block` without its ``via`` and
``within`` tables: sizing asks it for every origin at once (no blocks), where those tables would
weigh hundreds of MiB on a national estate and are not needed without paths.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import compress

from planner.flows.bits import bits, transpose
from planner.flows.events import EventSpec, Flow
from planner.flows.paths import LazyPaths, Rows, TreePaths, Trees
from planner.flows.prepared import PreparedEstate
from planner.flows.rules import carries_all
from planner.misp import Distribution

Incoming = list[list[tuple[int, int]]]  # per target: (source, origins whose events the flow refuses)
Via = list[list[tuple[int, int, int]]]  # per instance: (parent, origins it passed on, hops)


class AllOriginsSearch(PreparedEstate):
    """Level `all` for many origins at once: :meth:`matrix_block` and :meth:`reach_all_bits`."""

    def origin_links(self, origins: list[str], tags: tuple[str, ...]
                     ) -> tuple[Incoming, Incoming, list[tuple[int, int, int]]]:
        """The flows carrying level-`all` events with ``tags``, each with the bit set of the origins
        (creator: the origin's host org) whose events its org rules refuse: ``incoming[target]``
        (source, refused) of the flows delivering a published copy, ``outgoing[source]`` (target,
        refused) of every flow, and (source, target, refused) of the `unpublish` pushes."""
        names, index = self.names, self.index
        everyone = (1 << len(origins)) - 1
        by_org: dict[str, int] = {}
        for i, origin in enumerate(origins):
            host = self.estate.instances[origin].host_org
            by_org[host] = by_org.get(host, 0) | 1 << i
        tag_blocked = self.tag_blocked(frozenset(tags))
        incoming: Incoming = [[] for _ in names]  # (source, origins it blocks), by source
        outgoing: Incoming = [[] for _ in names]  # (target, origins it blocks)
        unpublishing: list[tuple[int, int, int]] = []  # (source, target, origins it blocks)
        for n, link in enumerate(self.links):  # sorted by source
            if n in tag_blocked or not carries_all(link):
                continue
            u, v = index[link.source], index[link.target]
            rules = link.filter.orgs
            # docs/misp-behaviour.md#push-and-pull-rules: org rules match the creator org, here each origin's host org
            mask = 0
            for org in rules.exclude:
                mask |= by_org.get(org, 0)
            if rules.include:
                mask |= everyone & ~sum(by_org.get(org, 0) for org in set(rules.include))
            if link.unpublish:
                unpublishing.append((u, v, mask))
            else:
                incoming[v].append((u, mask))
            outgoing[u].append((v, mask))
        return incoming, outgoing, unpublishing

    def matrix_block(self, origins: list[str], tags: tuple[str, ...]) -> Iterator[Flow]:
        """Level `all`, with ``tags``, created by each origin's host org, for one block of ``origins``:
        searched at once, rows made as they are read."""
        names, size, count = self.names, len(self.names), len(origins)
        incoming, outgoing, unpublishing = self.origin_links(origins, tags)
        starts = [self.index[origin] for origin in origins]
        via, reached, within = _search_block(size, count, starts, incoming)
        may_hold_unpublished = [0] * size
        delivering: list[tuple[int, int, int]] = []  # (source, target, origins whose copy it delivers)
        for u, v, mask in sorted(unpublishing):  # by source: a tie of hops keeps the first
            sending = reached[u] & ~mask
            if sending:
                sending &= ~_on_chain(via, within, u, v, sending)  # MISP refuses the echo
                may_hold_unpublished[v] |= sending
                delivering.append((u, v, sending))
        certain = _certain_block(size, starts, outgoing, may_hold_unpublished)
        timing: list[list[str]] = [[] for _ in range(count)]
        for v in range(size):
            for i in bits((reached[v] | may_hold_unpublished[v]) & ~certain[v]):
                timing[i].append(names[v])

        holding = [reached[v] | may_hold_unpublished[v] for v in range(size)]
        trees = Trees(names, via, delivering, starts)
        rows = Rows(names)
        return (Flow(EventSpec(origin, Distribution.ALL, tags, None, self.estate.instances[origin].host_org),
                     origin, rows.reaches(column), LazyPaths.of(TreePaths(trees, i)), tuple(timing[i]))
                for (i, origin), column in zip(enumerate(origins), transpose(holding, count), strict=True))

    def reach_all(self, origins: list[str], tags: tuple[str, ...] = ()) -> Iterator[frozenset[str]]:
        """``reach`` of the level-`all` events with ``tags`` created by each origin's host org, for all
        ``origins`` at once: :meth:`matrix_block`'s search without chains (one big-integer operation
        per flow and hop for all origins together). The sets are made one at a time as the iterator
        is read (thousands of estate-wide sets would not fit in memory together)."""
        if not origins:
            return iter(())
        held = self.reach_all_bits(origins, tags)
        return (frozenset(compress(self.names, column)) for column in transpose(held, len(origins)))

    def reach_all_bits(self, origins: list[str], tags: tuple[str, ...] = ()) -> list[int]:
        """:meth:`reach_all` by instance instead of by origin: per instance index, the bit set of the
        origins (bit ``i`` for ``origins[i]``) whose level-`all` event it holds, origin included.
        ``N`` bit sets of ``N`` bits (3 MB at 5,000 instances) instead of ``N`` sets of names: sizing
        adds each target's inflow from them without making any reach set."""
        names, index = self.names, self.index
        size = len(names)
        if not origins:
            return [0] * size
        incoming, _, unpublishing = self.origin_links(origins, tags)
        reached = [0] * size  # per instance: origins whose published copy it holds
        frontier = [0] * size
        for i, origin in enumerate(origins):
            reached[index[origin]] |= 1 << i
            frontier[index[origin]] |= 1 << i
        while any(frontier):
            layer = [0] * size
            for v in range(size):
                got = 0
                for u, mask in incoming[v]:
                    if frontier[u]:
                        got |= frontier[u] & ~mask if mask else frontier[u]
                got &= ~reached[v]
                if got:
                    layer[v] = got
                    reached[v] |= got
            frontier = layer
        held = list(reached)
        for u, v, mask in unpublishing:  # the echo refused here goes to a holder of a published copy
            held[v] |= reached[u] & ~mask
        return held


def _search_block(size: int, count: int, starts: list[int],
                  incoming: Incoming) -> tuple[Via, list[int], list[list[int]]]:
    """The breadth-first search of a block of origins: (via, reached, within), where ``reached[v]``
    holds the origins whose published copy ``v`` holds and ``within[d][v]`` those whose copy reaches
    ``v`` in at most ``d`` hops."""
    everyone = (1 << count) - 1
    via: Via = [[] for _ in range(size)]  # (parent, origins, hops)
    reached = [0] * size  # per instance: origins whose published copy it holds
    frontier = [0] * size
    for i, k in enumerate(starts):
        reached[k] |= 1 << i
        frontier[k] |= 1 << i
    within = [list(reached)]  # within[d][v]: origins whose copy reaches v in at most d hops
    while any(frontier):
        hops = len(within)
        layer = [0] * size
        for v in range(size):
            todo = everyone & ~reached[v]
            if not todo:
                continue
            for u, mask in incoming[v]:  # parents in index order: a tie keeps the first
                got = frontier[u] & todo
                if mask:
                    got &= ~mask
                if not got:
                    continue
                todo ^= got
                layer[v] |= got
                via[v].append((u, got, hops))
                if not todo:
                    break
            reached[v] |= layer[v]
        frontier = layer
        within.append(list(reached))
    return via, reached, within


def _on_chain(via: Via, within: list[list[int]], u: int, v: int, among: int) -> int:
    """The origins of ``among`` whose chain to ``u`` passes through ``v`` (``u`` included): a walk up
    the trees, with a stack."""
    if u == v:
        return among
    found = 0
    work = [(u, among)]
    while work:
        u, among = work.pop()
        for parent, passed, hops in via[u]:
            passed &= among
            if not passed:
                continue
            if parent == v:
                found |= passed
            elif hops >= 2:
                # Only where v holds the copy at least two hops before u can it be further up.
                passed &= within[hops - 2][v]
                if passed:
                    work.append((parent, passed))
    return found


def _certain_block(size: int, starts: list[int], outgoing: Incoming, may_hold_unpublished: list[int]) -> list[int]:
    """Per instance: the origins for which it receives a copy in every order of jobs (an instance
    that may hold an unpublished copy may forward nothing)."""
    certain = [0] * size
    wave = [0] * size
    for i, k in enumerate(starts):
        certain[k] |= 1 << i
        wave[k] |= 1 << i
    while any(wave):
        nxt = [0] * size
        for u in range(size):
            sending = wave[u] & ~may_hold_unpublished[u]
            if sending:
                for v, mask in outgoing[u]:
                    nxt[v] |= sending & ~mask if mask else sending
        for v in range(size):
            nxt[v] &= ~certain[v]
            certain[v] |= nxt[v]
        wave = nxt
    return certain
