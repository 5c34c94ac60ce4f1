"""The one-event search: every state some order of sync jobs produces, the first copy, the paths.

One job: where one event goes (:meth:`EventSearch.propagate`) and which instances hold it
(:meth:`EventSearch.reach_indices`, what sizing asks about ten times per instance).

A *copy* of the event on an instance is ``(level, owner, published)``. MISP keeps one copy per
event UUID on an instance, and a later copy with the same timestamp is refused as "not newer"
(docs/misp-behaviour.md#receiving-a-push, #pull step 3), so the *first copy to arrive wins*. Which copy arrives first
depends
on when sync jobs run. The search therefore works on *states* ``(instance, level, owner,
published)`` and computes every state some order of jobs could produce:

* the origin holds the original (it is never overwritten: remote originals are not locked,
  docs/misp-behaviour.md#what-a-push-sends(b), #pull step 3);
* from a state holding a *published* copy, every sync flow out of that instance (a push of a
  server entry on it, or a pull by a server entry on a peer) gives the receiver a state, by the
  rules of :mod:`planner.flows.rules`;
* a state is not sent back into an instance already on the chain that produced it (that instance
  holds a copy already, so MISP would refuse the echo).

``owner`` is only kept for level-0 copies: it decides visibility for a pulling sync user only
there (levels 1-3 are visible to every sync user; a level-4 copy's holders and owners are always
group members, because push requires the remote org to be a member and pull requires the sync
user's org to be one, so membership already decides).

The reported outcome is deterministic: **breadth-first by hop count** (the copy that needs fewest
sync hops is taken to arrive first); between copies arriving after the same number of hops, the
highest level wins, then a published copy over an unpublished one, then the copy sent by the
instance first in id order. ``paths`` gives the chain of that copy for every holder but the
origin; ``timing_dependent`` comes from :mod:`planner.flows.timing`. Level `all` takes the flood of
:mod:`planner.flows.flood` instead (same model, same results).

Complexity: at most ``instances x (8 + owners)`` states (levels 1-4, published or not, plus
level-0 copies per owner; a level-0 owner is the creator or the host org of an instance that passed
the copy on, in practice a handful per instance). Each state scans the flows out of its instance
that can carry its copy and keeps its chain, so a search is ``O(F x depth)`` for ``F`` sync flows.
States are numbered, and per state, group and tag set the flows it can use and the state each gives
are found once (:meth:`EventSearch._state_edges`), so the searches of a matrix only follow them.

Sizing's reach-only questions (:meth:`EventSearch.reach_indices`, :meth:`reach_indices_with`) run
the same searches as :meth:`EventSearch.propagate`, without choosing copies, building paths or
finding timing-dependent holders: one search serves both callers.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from planner.estate import Estate
from planner.flows.bits import bits
from planner.flows.events import EventSpec, Flow
from planner.flows.flood import LevelAllSearch
from planner.flows.rules import ALL, COMMUNITY, CONNECTED, GROUP, LEVELS, ORG, Copy, Group, State
from planner.flows.timing import TimingAnalysis

Edges = tuple[tuple[int, str, int], ...]  # (flow, target, state it gives)


class EventSearch(TimingAnalysis, LevelAllSearch):
    """One event at a time: :meth:`propagate`, :meth:`reach` and :meth:`reach_indices`."""

    def __init__(self, estate: Estate) -> None:
        super().__init__(estate)
        self._edges_of: dict[tuple[Group | None, frozenset[str], str | None], dict[int, Edges]] = {}
        self._open_edges: dict[Group | None, dict[int, Edges]] = {}  # per group, with no flow refused (diff)
        self._state_ids: dict[State, int] = {}  # state -> number, and per number:
        self._states: list[State] = []  # the state,
        self._state_at: list[int] = []  # its instance's index,
        self._state_published: list[bool] = []  # whether its copy is published
        # reach_indices_with: per (own tags, other tags), the flows refusing only the own tags
        self._only_refusing: dict[tuple[frozenset[str], frozenset[str]], frozenset[int] | None] = {}

    def propagate(self, event: EventSpec) -> Flow:
        """Where one event goes. Raises FlowError for an event that cannot exist in this estate."""
        origin, orgc, published = self.resolve(event)
        level = int(event.distribution)
        group = self.group_of(event)
        # The flow records the creator org it used, so that its output says who created the event.
        event = EventSpec(event.origin, event.distribution, event.tags, event.sharing_group, orgc)
        if level == ALL and not self.stays(event.tags):
            return self.propagate_all(event, origin, published, self.org_blocking(orgc))
        return self.search(event, origin, published, group)

    def search(self, event: EventSpec, origin: str, published: bool, group: Group | None) -> Flow:
        """The general search over states described in the module docstring, for an event whose
        creator org (``event.org``) is known."""
        assert event.org is not None
        level, tags = int(event.distribution), frozenset(event.tags)
        org_blocked = self.org_blocking(event.org)
        chains, _ = self._search(origin, level, event.org, published, group, tags, org_blocked)
        states = self._states
        held = [states[number] for number in chains]
        chosen = first_copies(held, chains.values())
        # One published copy per holder: each was sent by a holder with no other copy, so every
        # holder is certain and no level varies (the timing walk would find nothing).
        simple = len(held) == len(chosen) and all(state[3] for state in held)
        timing = () if simple else self.timing(origin, held, tags, org_blocked, group)
        holders = sorted(chosen)
        reaches = {inst: LEVELS[chosen[inst][0][0]] for inst in holders}
        paths = {inst: chosen[inst][1] for inst in holders if inst != origin}
        return Flow(event, origin, reaches, paths, timing)

    def reach(self, event: EventSpec) -> frozenset[str]:
        """The instances of ``propagate(event).reaches`` (origin included), without choosing the copy
        each holds, building paths or finding timing-dependent holders: what sizing needs. The same
        searches as :meth:`propagate` (sizing's golden and property tests run through this)."""
        return frozenset(self.names[k] for k in self.reach_indices(event))

    def reach_indices(self, event: EventSpec) -> set[int]:
        """The instance indices of :meth:`reach` (the same searches, the same result), for callers
        asking about thousands of events with many creator orgs (sizing): the flows an org's rules
        refuse are kept apart from those the tags' rules refuse (the searches take both), as in
        :meth:`propagate`: one set joining them per (tags, org) would copy every tag-filtered flow
        per org (gigabytes at 5,000 instances)."""
        origin, orgc, published = self.resolve(event)
        level = int(event.distribution)
        tags = frozenset(event.tags)
        by_org = self.org_blocking(orgc)
        if level == ALL and not self.stays(tags):
            # reach_all_from checks `org_blocked` only on flows its adjacency kept, which no tag rule refuses.
            return set(bits(self.reach_all_from(self.index[origin], published, tags, by_org)))
        group = self.group_of(event)
        return self._holders(self._search(origin, level, orgc, published, group, tags, by_org)[0])

    def may_reach_indices(self, event: EventSpec) -> set[int]:
        """The instance indices some copy of ``event`` could reach whatever tags it carries: the
        states reachable when no filter refuses a flow and no echo is refused. A search of this
        event with any tags finds a subset of these states (each of its steps is one of these
        edges), so an instance outside this set holds it with none: `diff` asks this once per row
        to know which rows a change can affect, instead of searching each row once per tag."""
        origin, orgc, published = self.resolve(event)
        level = int(event.distribution)
        group = self.group_of(event)
        edges_of = self._open_edges.setdefault(group, {})
        start = self._state_id((origin, level, orgc if level == ORG else None, published))
        seen, todo = {start}, [start]
        while todo:
            state = todo.pop()
            if not self._state_published[state]:
                continue  # docs/misp-behaviour.md#rules-in-brief rule 2: only published events travel
            edges = edges_of.get(state)
            if edges is None:
                edges = edges_of[state] = self._state_edges(state, group, frozenset())
            for _, _, nxt in edges:
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        return self._holders(seen)

    def reach_indices_with(self, event: EventSpec, tags: tuple[str, ...]) -> tuple[set[int], set[int]]:
        """(:meth:`reach_indices` of ``event``, of ``event`` carrying ``tags`` instead). When ``tags``
        are refused by fewer flows than the event's own tags (sizing's tags passing every include
        filter), the search with ``tags`` runs first, and if no flow refusing only the event's own
        tags gave a state, the other search would take the same steps: it is not run."""
        other = replace(event, tags=tags)
        origin, orgc, published = self.resolve(event)
        level = int(event.distribution)
        own, wide = frozenset(event.tags), frozenset(tags)
        key = (own, wide)
        if key not in self._only_refusing:
            narrow_blocked, wide_blocked = self.tag_blocked(own), self.tag_blocked(wide)
            self._only_refusing[key] = narrow_blocked - wide_blocked if wide_blocked <= narrow_blocked else None
        only = self._only_refusing[key]
        if level == ALL or only is None or self.stays(own | wide):
            return self.reach_indices(event), self.reach_indices(other)
        by_org = self.org_blocking(orgc)
        group = self.group_of(event)
        found, touched = self._search(origin, level, orgc, published, group, wide, by_org, only)
        wider = self._holders(found)
        if not touched:
            return set(wider), wider
        return self._holders(self._search(origin, level, orgc, published, group, own, by_org)[0]), wider

    def _search(self, origin: str, level: int, orgc: str, published: bool, group: Group | None,
                tags: frozenset[str], org_blocked: frozenset[int], watch: frozenset[int] = frozenset()
                ) -> tuple[dict[int, tuple[str, ...]], bool]:
        """Every state some order of jobs produces, with the chain that first produced it, in the
        order found: breadth-first by hops, a layer's parents in instance id order (so that a tie of
        hops keeps the chain through the parent first in id order, as the level-`all` searches do).
        The flows refusing the event are ``tags``' and ``org_blocked``. The chain of each state is
        what refuses echoes, so it is kept. States are numbered (:meth:`_state_id`): a search hashes
        and compares small ints, not tuples. The flows a state can use, less those the tags' rules
        refuse, and the state each gives are found once per state, group and tags
        (:meth:`_state_edges`), not once per search. Also says whether a flow of ``watch`` gave a
        state."""
        staying = self.stays(tags)
        # With tags that never leave the origin, the flows out of the origin see them and the others do not.
        edges_of = self._edges_of.setdefault((group, tags, origin if staying else None), {})
        blocked_here = self.tag_blocked(tags)
        blocked_away = self.tag_blocked(self.exported(tags)) if staying else blocked_here
        origin_at = self.index[origin]
        at, published_copy = self._state_at, self._state_published
        start = self._state_id((origin, level, orgc if level == ORG else None, published))
        chains: dict[int, tuple[str, ...]] = {start: (origin,)}
        layer = [start]
        touched = False
        while layer:
            new_layer: list[int] = []
            for state in layer:
                if not published_copy[state]:
                    continue  # docs/misp-behaviour.md#rules-in-brief rule 2: only published events travel
                chain = chains[state]
                edges = edges_of.get(state)
                if edges is None:
                    blocked = blocked_here if at[state] == origin_at else blocked_away
                    edges = edges_of[state] = self._state_edges(state, group, blocked)
                for n, target, nxt in edges:
                    # (the chain starts at the origin: no copy goes back there)
                    if target in chain or nxt in chains or n in org_blocked:
                        continue
                    chains[nxt] = (*chain, target)
                    new_layer.append(nxt)
                    if n in watch:
                        touched = True
            layer = sorted(new_layer, key=at.__getitem__)  # by instance id (names are sorted)
        return chains, touched

    def _holders(self, chains: Iterable[int]) -> set[int]:
        """The instance indices of a search's states."""
        return set(map(self._state_at.__getitem__, chains))

    def _state_id(self, state: State) -> int:
        """The number of a search state, given on first sight (see :meth:`_search`)."""
        number = self._state_ids.get(state)
        if number is None:
            number = self._state_ids[state] = len(self._states)
            self._states.append(state)
            self._state_at.append(self.index[state[0]])
            self._state_published.append(state[3])
        return number

    def _state_edges(self, number: int, group: Group | None, tag_blocked: frozenset[int]) -> Edges:
        """(flow, target, state it gives) of the flows not in ``tag_blocked`` that carry the published
        copy of state ``number``, in the order :meth:`_search` tries them, with the same candidates
        and hops."""
        inst, lvl, owner, _ = self._states[number]
        if lvl >= CONNECTED:
            candidates = self.out[inst]
        elif lvl == COMMUNITY:
            candidates = self.out_low[inst]
        else:
            internal_pushes, by_owner = self.out_org[inst]
            candidates = by_owner.get(owner, internal_pushes) if owner is not None else internal_pushes
        edges = []
        for n in candidates:
            if n in tag_blocked:
                continue
            link = self.links[n]
            copy = self.group_hop(n, group) if lvl == GROUP else self.hops[n][lvl]
            if copy is not None:
                edges.append((n, link.target, self._state_id((link.target, *copy))))
        return tuple(edges)


def first_copies(held: list[State], chains: Iterable[tuple[str, ...]]) -> dict[str, tuple[Copy, tuple[str, ...]]]:
    """The copy each holder is reported with, from the states of a search in the order found
    (breadth-first): the first to arrive, i.e. the fewest hops; on a tie the highest level, then a
    published copy, then the one found first."""
    chosen: dict[str, tuple[Copy, tuple[str, ...]]] = {}
    for (inst, level, owner, published), chain in zip(held, chains, strict=True):
        first = chosen.get(inst)
        if first is None or (len(chain) == len(first[1]) and (level, published) > (first[0][0], first[0][2])):
            chosen[inst] = ((level, owner, published), chain)
    return chosen
