"""Where does the data go: MISP's propagation model over a resolved estate (spec §10).

The question: an event created on instance X (by X's host org, or by one of X's local
organisations, or by a feeder writing into X) with distribution D and tags T is published. Which
instances end up holding a copy, at which level, after every push and pull has run until nothing
changes? The rules are MISP's, cited beside the code (shared/misp/REFERENCE.md §2.2-§2.7).

The model
---------
A *copy* of the event on an instance is ``(level, owner, published)``. MISP keeps one copy per
event UUID on an instance, and a later copy with the same timestamp is refused as "not newer"
(REFERENCE §2.3, §2.4 step 3), so the *first copy to arrive wins*. Which copy arrives first depends
on when sync jobs run. The engine therefore works on *states* ``(instance, level, owner,
published)`` and computes every state some order of jobs could produce:

* the origin holds the original (it is never overwritten: remote originals are not locked,
  REFERENCE §2.2(b), §2.4 step 3);
* from a state holding a *published* copy, every sync flow out of that instance (a push of a
  server entry on it, or a pull by a server entry on a peer) gives the receiver a state, by the
  rules in :meth:`Engine._transfer`;
* a state is not sent back into an instance already on the chain that produced it (that instance
  holds a copy already, so MISP would refuse the echo).

``owner`` is only kept for level-0 copies: it decides visibility for a pulling sync user only
there (levels 1-3 are visible to every sync user; a level-4 copy's holders and owners are always
group members, because push requires the remote org to be a member and pull requires the sync
user's org to be one, so membership already decides).

The reported outcome is deterministic: **breadth-first by hop count** (the copy that needs fewest
sync hops is taken to arrive first); between copies arriving after the same number of hops, the
highest level wins, then a published copy over an unpublished one, then the copy sent by the
instance first in id order. ``paths`` gives the chain of that copy for every holder but
the origin. ``timing_dependent`` names the instances whose outcome depends on the order of jobs:
those that could hold the copy at another level by another route, and those that receive a copy
only in some orders (e.g. only through an instance that may get an unpublished copy first). The
latter is the complement of a "certain" set: the origin is certain, and an instance is certain
when a certain instance sends it something whatever copy that instance holds. `reaches` thus
lists every instance that may end up with a copy (what a `must_not_reach` policy needs).

Complexity
----------
One event: at most ``instances x (8 + owners)`` states (levels 1-4, published or not, plus level-0
copies per owner; a level-0 owner is the creator or the host org of an instance that passed the
copy on, in practice a handful per instance). Each state scans the flows out of its instance that
can carry its copy (a level-0 copy: only the pulls by its owner's instances and internal pushes,
indexed once) and keeps its chain, so :func:`propagate` is ``O(F x depth)`` for ``F`` sync flows.
Filters do not change along the way (tags and the creator org travel unchanged): tag rules are
evaluated once per tag set and org rules looked up by org, and the hop rules of levels 0-3 are a
table per flow, so unfiltered flows cost nothing per event.

:func:`flow_matrix` runs ``N x (4 + groups)`` events. Levels 0-2 and groups stay near their origin,
but level ``all`` floods whole estates: its output is ``N`` reaches and ``N`` chains per origin,
``Theta(N^2)``. :meth:`Engine.matrix_all` therefore runs the level-``all`` rows of many origins at
once with bit sets over origins: one big-integer operation per flow and hop (not per flow, hop and
origin), ``O(F x depth)`` such operations per block of origins (all origins up to 2,500 instances;
blocks keep its tables to tens of MiB on national estates). It keeps, per instance and parent, the
bit set of the origins whose copy came through that parent: every origin's breadth-first tree at
once, from which the echo of an ``unpublish`` push is found (walking up only where the receiver
held the copy earlier) and each origin's ``paths`` are built when first read (:class:`_LazyPaths`,
a real dict; :func:`propagate` builds its paths at once). ``reaches`` dicts are built by C loops
(transposing the bit sets through their binary text; rows with a recent row's holders copy its
dict). The matrix is an iterator: each row is made when it is read
and dropped after, so `build` writes a national estate's matrix (millions of holders) without
holding it. The searches of levels 0-2 and groups number their states and keep, per state and tag
set, the flows it can use and the state each gives, so a search of the matrix only follows them.
The timing walk (:meth:`Engine._timing`) steps by bit operations on per-instance tables, made per
tag set, of the targets each copy reaches. Property tests check the matrix against
:meth:`propagate` of each event.

:meth:`Engine.reach` and :meth:`Engine.reach_all` answer only "which instances hold a copy" (what
sizing needs, about ten events per instance): no chosen copy, paths or timing, and level ``all``
for every source at once (:meth:`Engine.reach_all_bits` gives the bit sets themselves).

Timings on synthetic estates up to 5,000 instances: ``benchmarks/RESULTS.md`` (``bench_flows.py``
times the matrix alone).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from itertools import compress
from typing import Any, Literal, NamedTuple

from planner.estate import Estate
from planner.misp import Distribution
from planner.model import Direction

ORG, COMMUNITY, CONNECTED, ALL, GROUP = (int(d) for d in Distribution)
# Engine.matrix_all's search tables hold bit sets of instances x origins: at most this many bits per
# block of origins (one block up to 2,500 instances; at 5,000, blocks of 1,000 origins, about 40 MiB).
_SEARCH_BITS = 5_000_000
_LEVELS = tuple(Distribution)  # _LEVELS[n] is Distribution(n), without the enum call per holder
assert all(int(level) == n for n, level in enumerate(_LEVELS))


class FlowError(ValueError):
    """The event asked for cannot exist in this estate (unknown origin, org or group)."""


@dataclass(frozen=True)
class EventSpec:
    origin: str  # instance id or feeder id
    distribution: Distribution  # planner.misp.Distribution
    tags: tuple[str, ...] = ()
    sharing_group: str | None = None
    org: str | None = None  # creator org; default: origin's host org / feeder's org


@dataclass(frozen=True)
class Flow:
    event: EventSpec
    origin_instance: str
    reaches: dict[str, Distribution]  # instance id -> level of the copy held there (origin included), in id order
    paths: dict[str, tuple[str, ...]]  # instance id -> one shortest chain of instances, origin first
    timing_dependent: tuple[str, ...]  # instances whose level depends on sync job timing


class _Link(NamedTuple):
    """One direction of data of one server entry: ``source`` holds a copy, ``target`` receives it.
    (A named tuple: a national estate has tens of thousands, made in C.)"""

    source: str
    target: str
    mode: Literal["push", "pull"]
    connection: int
    internal: bool  # effective internal flag (REFERENCE §2.7: only between instances of one host org)
    unpublish: bool  # push only (REFERENCE §1.2 unpublish_event)
    owner: str  # org owning the received copy = the initiator's host org (REFERENCE §2.3, §2.4 step 7)
    target_org: str  # host org of the receiving instance
    filter: Direction


@dataclass(frozen=True)
class _Group:
    orgs: frozenset[str]
    instances: frozenset[str]
    roaming: bool


Copy = tuple[int, str | None, bool]  # level, owner (level 0 only), published
State = tuple[str, int, str | None, bool]  # instance + Copy


def _matches(rule: Any, values: Iterable[str]) -> bool:
    """A filter's include (OR) / exclude (NOT) lists against a set of values (REFERENCE §1.3)."""
    have = set(values)
    if rule.include and not have.intersection(rule.include):
        return False
    return not have.intersection(rule.exclude)


class Engine:
    """The estate's flows prepared once; :meth:`propagate` answers one event."""

    def __init__(self, estate: Estate) -> None:
        self.estate = estate
        links: list[_Link] = []
        for conn in estate.connections:
            init = estate.instances[conn.initiator]
            remote = estate.instances[conn.remote]
            # REFERENCE §2.7, §11: MISP saves `internal` only when the remote's host org is the
            # initiator's host org; otherwise the entry is silently not internal.
            internal = conn.internal and init.host_org == remote.host_org
            for source, target, mode, direction in conn.flows():
                links.append(_Link(source, target, mode, conn.index, internal,
                                   conn.unpublish and mode == "push", init.host_org,
                                   estate.instances[target].host_org, direction))
        links.sort(key=lambda link: (link.source, link.target, link.mode, link.connection))
        self.links = tuple(links)
        out: dict[str, list[int]] = {iid: [] for iid in estate.instances}
        for n, link in enumerate(self.links):
            out[link.source].append(n)
        self.out: dict[str, tuple[int, ...]] = {iid: tuple(v) for iid, v in out.items()}
        # The flows that can carry an organisation or community copy at all: pulls and internal
        # pushes (REFERENCE §2.2 rule 2). Most copies a search meets are such copies.
        self.out_low: dict[str, tuple[int, ...]] = {
            iid: tuple(n for n in v if self.links[n].mode == "pull" or self.links[n].internal)
            for iid, v in out.items()}
        self.names = sorted(estate.instances)
        self.index = {iid: k for k, iid in enumerate(self.names)}
        self._all_adjacency: dict[frozenset[str], tuple[list[int], list[list[tuple[int, int, bool]]]]] = {}
        # Filters are indexed once: tag rules are evaluated per distinct tag set, org rules looked up
        # by creator org, so that an event costs nothing for the (usual) unfiltered flows.
        self.tag_filtered = tuple(n for n, link in enumerate(self.links)
                                  if link.filter.tags.include or link.filter.tags.exclude)
        self.org_excluding: dict[str, set[int]] = {}
        self.org_including: list[tuple[int, frozenset[str]]] = []
        for n, link in enumerate(self.links):
            for org in link.filter.orgs.exclude:
                self.org_excluding.setdefault(org, set()).add(n)
            if link.filter.orgs.include:
                self.org_including.append((n, frozenset(link.filter.orgs.include)))
        # The include-filtered flows, and per org those whose include list names it: the flows an
        # org's events are refused by are the difference (a set operation, not a scan per org).
        self.including = frozenset(n for n, _ in self.org_including)
        self.included_by: dict[str, set[int]] = {}
        for n, allowed in self.org_including:
            for org in allowed:
                self.included_by.setdefault(org, set()).add(n)
        self._tag_blocked: dict[frozenset[str], frozenset[int]] = {}
        self._org_blocked: dict[str, frozenset[int]] = {}  # the flows refusing an org's events
        # reach_indices_with: per (own tags, other tags), the flows refusing only the own tags
        self._only_refusing: dict[tuple[frozenset[str], frozenset[str]], frozenset[int] | None] = {}
        self._edges_of: dict[tuple[_Group | None, frozenset[str]],
                             dict[int, tuple[tuple[int, str, int], ...]]] = {}  # _search
        self._state_ids: dict[State, int] = {}  # _search: state -> number, and per number:
        self._states: list[State] = []  # the state,
        self._state_at: list[int] = []  # its instance's index,
        self._state_published: list[bool] = []  # whether its copy is published
        # _transfer of a group copy depends on the flow and the group only: filled as searches go.
        self._group_hops: dict[_Group, dict[int, Copy | None]] = {}
        self.groups = {gid: _Group(frozenset(g.orgs), frozenset(g.instances), g.roaming)
                       for gid, g in estate.sharing_groups.items()}
        # _transfer of levels 0-3 tabulated per flow (the search's inner loop): hops[n][level]. The
        # one case depending on the copy, a pull at level 0, gives the puller's org as owner and
        # needs it to own the copy already (REFERENCE §2.4 step 2): `owner == hops[n][0][1]`.
        # For these levels _transfer reads only the flow's mode, internal and unpublish flags and
        # owner: flows alike in those share one row, computed once.
        rows: dict[tuple[str, bool, bool, str], tuple[Copy | None, ...]] = {}
        hops = []
        for link in self.links:
            shape = (link.mode, link.internal, link.unpublish, link.owner)
            row = rows.get(shape)
            if row is None:
                row = rows[shape] = tuple(self._transfer(link, level, link.owner, None)
                                          for level in (ORG, COMMUNITY, CONNECTED, ALL))
            hops.append(row)
        self.hops = tuple(hops)
        # The flows that can carry a level-0 copy owned by a given org: pulls by that org's instances
        # and internal pushes (REFERENCE §2.4 step 2, §2.7), in the order of out_low; most level-0
        # copies a search meets have nowhere to go, and this finds that without a loop.
        self.out_org: dict[str, tuple[tuple[int, ...], dict[str, tuple[int, ...]]]] = {}
        for iid, low in self.out_low.items():
            pushes = tuple(n for n in low if self.links[n].mode == "push")
            owners = {self.links[n].owner for n in low if self.links[n].mode == "pull"}
            self.out_org[iid] = (pushes, {org: tuple(n for n in low if self.links[n].mode == "push"
                                                     or self.links[n].owner == org) for org in owners})
        # For the walk in _timing, which steps by bit sets over instance indices: per instance index,
        # its flows by target index and as a set (the targets each copy is carried to are tabled
        # per tag set, by _carriers).
        self.target_at = tuple(self.index[link.target] for link in self.links)
        self.via_to: list[dict[int, tuple[int, ...]]] = []
        for iid in self.names:
            by_target: dict[int, tuple[int, ...]] = {}
            for n in self.out[iid]:
                by_target[self.target_at[n]] = (*by_target.get(self.target_at[n], ()), n)
            self.via_to.append(by_target)
        self.out_flows = [frozenset(self.out[iid]) for iid in self.names]
        self._carried: dict[frozenset[str], tuple[list[list[int]], list[tuple[int, dict[str, int]]]]] = {}
        self._group_carried: dict[tuple[_Group, frozenset[str]], dict[int, int]] = {}

    # -- the event ---------------------------------------------------------------------------

    def resolve(self, event: EventSpec) -> tuple[str, str, bool]:
        """(origin instance, creator org, published) of an event, or FlowError."""
        estate = self.estate
        if event.origin in estate.feeders:
            feeder = estate.feeders[event.origin]
            instance, published = feeder.into, feeder.publish
            org = event.org or estate.feeder_org(event.origin)
        elif event.origin in estate.instances:
            instance, published = event.origin, True  # spec §10: "...then published"
            org = event.org or estate.instances[instance].host_org
        else:
            raise FlowError(_unknown("origin", event.origin, [*estate.instances, *estate.feeders]))
        local = estate.instances[instance].orgs
        if org not in estate.organisations:
            raise FlowError(_unknown("organisation", org, list(estate.organisations)))
        if org not in local:
            raise FlowError(f"organisation '{org}' has no users on instance '{instance}' "
                            f"(its local organisations: {', '.join(local)})")
        if event.distribution == Distribution.SHARING_GROUP:
            if event.sharing_group is None:
                raise FlowError("distribution sharing-group needs a sharing group")
            if event.sharing_group not in self.groups:
                raise FlowError(_unknown("sharing group", event.sharing_group, list(self.groups)))
            if org not in self.groups[event.sharing_group].orgs:
                # REFERENCE §2.1: an organisation can only use a group it is authorised for.
                raise FlowError(f"organisation '{org}' is not a member of sharing group '{event.sharing_group}'")
        elif event.sharing_group is not None:
            raise FlowError(f"a sharing group is only used with distribution sharing-group, "
                            f"not {event.distribution.word}")
        return instance, org, published

    def tag_blocked(self, tags: frozenset[str]) -> frozenset[int]:
        if tags not in self._tag_blocked:
            self._tag_blocked[tags] = frozenset(n for n in self.tag_filtered
                                                if not _matches(self.links[n].filter.tags, tags))
        return self._tag_blocked[tags]

    # -- one hop ----------------------------------------------------------------------------

    @staticmethod
    def _transfer(link: _Link, level: int, owner: str | None, group: _Group | None) -> Copy | None:
        """The copy a published copy ``(level, owner)`` on ``link.source`` becomes on ``link.target``,
        or None when this flow does not carry it. Filters are checked by the caller."""
        if link.mode == "push":
            # REFERENCE §2.2 rule 2 / §2.7: 0 and 1 leave only over an internal link.
            if level < CONNECTED and not link.internal:
                return None
            if level == GROUP:
                assert group is not None
                # REFERENCE §2.6 step 1: a non-roaming group's server list must name the remote,
                # unless the link is internal.
                if not group.roaming and not link.internal and link.target not in group.instances:
                    return None
                # REFERENCE §2.2 rule 5: the remote host org must be a member, unconditionally.
                if link.target_org not in group.orgs:
                    return None
                # Spec §7, REFERENCE §11: a receiver not on a non-empty, non-roaming list cannot
                # create the group and stores the copy at organisation level.
                if not group.roaming and group.instances and link.target not in group.instances:
                    return (ORG, link.owner, not link.unpublish)
                return (GROUP, None, not link.unpublish)
            # REFERENCE §2.2 rule 6: 2 arrives as 1 on a non-internal link; 3 stays 3.
            new = COMMUNITY if level == CONNECTED and not link.internal else level
            # REFERENCE §2.3: the pushed copy is owned by the sync user's org (the initiator's host
            # org); REFERENCE §1.2 unpublish_event: it arrives unpublished, ending the chain.
            return (new, link.owner if new == ORG else None, not link.unpublish)
        # Pull: the remote lists what its sync user (org = the puller's host org) can see
        # (REFERENCE §2.4 step 2, §2.1): its own org's events, levels 1-3, groups it belongs to.
        if level == ORG:
            if owner != link.owner:
                return None
        elif level == GROUP:
            assert group is not None
            if link.owner not in group.orgs:
                return None
            return (GROUP, None, True)  # REFERENCE §11: pulls capture the group whatever its list
        # REFERENCE §2.4 step 6: 1 -> 0 and 2 -> 1 unless internal (§2.7); step 7: owned by the
        # puller's host org; a pulled published event stays published (§2.4 step 8).
        new = level if link.internal else {ORG: ORG, COMMUNITY: ORG, CONNECTED: COMMUNITY}.get(level, level)
        return (new, link.owner if new == ORG else None, True)

    # -- the whole estate -------------------------------------------------------------------

    def propagate(self, event: EventSpec) -> Flow:
        origin, orgc, published = self.resolve(event)
        level = int(event.distribution)
        group = self.groups[event.sharing_group] if event.sharing_group is not None else None
        # The flow records the creator org it used, so that its output says who created the event.
        event = EventSpec(event.origin, event.distribution, event.tags, event.sharing_group, orgc)
        if level == ALL:
            return self._propagate_all(event, origin, published, self._org_blocking(orgc))
        return self.search(event, origin, published, group)

    def search(self, event: EventSpec, origin: str, published: bool, group: _Group | None) -> Flow:
        """The general search over states described in the module docstring, for an event whose
        creator org (``event.org``) is known."""
        assert event.org is not None
        level, tags = int(event.distribution), frozenset(event.tags)
        org_blocked = self._org_blocking(event.org)
        chains, _ = self._search(origin, level, event.org, published, group, tags, org_blocked)
        states = self._states
        held = [states[number] for number in chains]
        chosen = self._first_copies(held, chains.values())
        # One published copy per holder: each was sent by a holder with no other copy, so every
        # holder is certain and no level varies (the walk in _timing would find nothing).
        simple = len(held) == len(chosen) and all(state[3] for state in held)
        timing = () if simple else self._timing(origin, chains, tags, org_blocked, group)
        holders = sorted(chosen)
        reaches = {inst: _LEVELS[chosen[inst][0][0]] for inst in holders}
        paths = {inst: chosen[inst][1] for inst in holders if inst != origin}
        return Flow(event, origin, reaches, paths, timing)

    def reach(self, event: EventSpec) -> frozenset[str]:
        """The instances of ``propagate(event).reaches`` (origin included), without choosing the copy
        each holds, building paths or finding timing-dependent holders: what sizing needs. The same
        searches as :meth:`propagate` (sizing's golden and property tests run through this)."""
        return frozenset(self.names[k] for k in self.reach_indices(event))

    @staticmethod
    def _first_copies(held: list[State], chains: Iterable[tuple[str, ...]]
                      ) -> dict[str, tuple[Copy, tuple[str, ...]]]:
        """The copy each holder is reported with, from the states of a search in the order found
        (breadth-first): the first to arrive, i.e. the fewest hops; on a tie the highest level,
        then a published copy, then the one found first."""
        chosen: dict[str, tuple[Copy, tuple[str, ...]]] = {}
        for (inst, level, owner, published), chain in zip(held, chains, strict=True):
            first = chosen.get(inst)
            if first is None or (len(chain) == len(first[1]) and (level, published) > (first[0][0], first[0][2])):
                chosen[inst] = ((level, owner, published), chain)
        return chosen

    def _adjacency(self, tags: frozenset[str]) -> tuple[list[int], list[list[tuple[int, int, bool]]]]:
        """Per instance index, for events with these tags: a bit set of the targets of flows with
        nothing to check per event (no org rules, not `unpublish`), and ``(target, flow, unpublish)``
        of the others. Built once per tag set, so the level-`all` search never looks at tag rules."""
        if tags not in self._all_adjacency:
            tag_blocked = self.tag_blocked(tags)  # org rules are checked per event
            free = [0] * len(self.names)
            checked: list[list[tuple[int, int, bool]]] = [[] for _ in self.names]
            for n, link in enumerate(self.links):
                if n in tag_blocked:
                    continue
                u, v = self.index[link.source], self.index[link.target]
                if link.unpublish or link.filter.orgs.include or link.filter.orgs.exclude:
                    checked[u].append((v, n, link.unpublish))
                else:
                    free[u] |= 1 << v
            self._all_adjacency[tags] = (free, checked)
        return self._all_adjacency[tags]

    def _propagate_all(self, event: EventSpec, origin: str, published: bool, org_blocked: frozenset[int]) -> Flow:
        """:meth:`search` for level `all`, which no hop changes (REFERENCE §2.2 rule 6, §2.4 step 6)
        and every sync user sees: a copy is only published or not, so this is a breadth-first
        search over instance indices, with the not-yet-reached instances as a bit set (each parent
        costs one big-integer AND, not one step per flow). Same model, same results (a property
        test compares both); this level floods whole estates, so it is the one worth a shortcut.
        The flows the tags' rules refuse are out of its adjacency; ``org_blocked`` are those the
        creator org's rules refuse."""
        free, checked = self._adjacency(frozenset(event.tags))
        names = self.names
        start = self.index[origin]
        chains: list[tuple[str, ...]] = [()] * len(names)  # chain of each holder of a published copy
        chains[start] = (origin,)
        unpublished: dict[int, tuple[str, ...]] = {}  # chain of each holder of an unpublished copy
        remaining = ((1 << len(names)) - 1) ^ (1 << start)  # instances without a published copy
        # Parents are taken in index (= id) order, as in search(): a tie of hops keeps the chain
        # through the parent first in id order.
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
        certain = self._certain_all(start, published, unpublished, free, checked, org_blocked)
        reaches: dict[str, Distribution] = {}
        paths: dict[str, tuple[str, ...]] = {}
        timing: list[str] = []
        for k, name in enumerate(names):
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

    def _reach_all(self, start: int, published: bool, tags: frozenset[str], org_blocked: frozenset[int]) -> int:
        """Bit set of the instances :meth:`_propagate_all` reaches. No chains are needed: the echo it
        refuses only ever goes to an instance holding a published copy already."""
        free, checked = self._adjacency(tags)
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
            frontier = list(_bits(kids))
        return held | reached

    def reach_all(self, origins: list[str], tags: tuple[str, ...] = ()) -> Iterator[frozenset[str]]:
        """:meth:`reach` of the level-`all` events with ``tags`` created by each origin's host org, for
        all ``origins`` at once: :meth:`matrix_all`'s search without chains (one big-integer operation
        per flow and hop for all origins together). The sets are made one at a time as the iterator
        is read (thousands of estate-wide sets would not fit in memory together)."""
        if not origins:
            return iter(())
        held = self.reach_all_bits(origins, tags)
        return (frozenset(compress(self.names, column)) for column in _transpose(held, len(origins)))

    # -- for sizing (planner/sizing.py): which instances hold a copy, for many events -------------

    def reach_all_bits(self, origins: list[str], tags: tuple[str, ...] = ()) -> list[int]:
        """:meth:`reach_all` by instance instead of by origin: per instance index, the bit set of the
        origins (bit ``i`` for ``origins[i]``) whose level-`all` event it holds, origin included.
        ``N`` bit sets of ``N`` bits (3 MB at 5,000 instances) instead of ``N`` sets of names: sizing
        adds each target's inflow from them without making any reach set."""
        names, index = self.names, self.index
        size = len(names)
        if not origins:
            return [0] * size
        incoming, _, unpublishing = self._origin_links(origins, tags)
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

    def reach_indices(self, event: EventSpec) -> set[int]:
        """The instance indices of :meth:`reach` (the same searches, the same result), for callers
        asking about thousands of events with many creator orgs (sizing): the flows an org's rules
        refuse are kept apart from those the tags' rules refuse (the searches take both), as in
        :meth:`propagate`: one set joining them per (tags, org) would copy every tag-filtered flow
        per org (gigabytes at 5,000 instances)."""
        origin, orgc, published = self.resolve(event)
        level = int(event.distribution)
        tags = frozenset(event.tags)
        by_org = self._org_blocking(orgc)
        if level == ALL:
            # _reach_all checks `org_blocked` only on flows its adjacency kept, which no tag rule refuses.
            return set(_bits(self._reach_all(self.index[origin], published, tags, by_org)))
        group = self.groups[event.sharing_group] if event.sharing_group is not None else None
        return self._holders(self._search(origin, level, orgc, published, group, tags, by_org)[0])

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
        if level == ALL or only is None:
            return self.reach_indices(event), self.reach_indices(other)
        by_org = self._org_blocking(orgc)
        group = self.groups[event.sharing_group] if event.sharing_group is not None else None
        found, touched = self._search(origin, level, orgc, published, group, wide, by_org, only)
        wider = self._holders(found)
        if not touched:
            return set(wider), wider
        return self._holders(self._search(origin, level, orgc, published, group, own, by_org)[0]), wider

    def _org_blocking(self, orgc: str) -> frozenset[int]:
        """The flows whose org rules refuse events created by ``orgc`` (REFERENCE §1.3: org rules
        match the event's creator org). Kept apart from the flows the tags' rules refuse."""
        by_org = self._org_blocked.get(orgc)
        if by_org is None:
            if len(self._org_blocked) >= 64:
                # One set per creator org can hold most of the estate's filtered flows, and a matrix
                # asks for thousands of orgs in turn (each a few times in a row): keep the recent ones.
                self._org_blocked.clear()
            by_org = self._org_blocked[orgc] = frozenset(
                (self.including - self.included_by.get(orgc, set())) | self.org_excluding.get(orgc, set()))
        return by_org

    def _search(self, origin: str, level: int, orgc: str, published: bool, group: _Group | None,
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
        edges_of = self._edges_of.setdefault((group, tags), {})
        at, published_copy = self._state_at, self._state_published
        start = self._state_id((origin, level, orgc if level == ORG else None, published))
        chains: dict[int, tuple[str, ...]] = {start: (origin,)}
        layer = [start]
        touched = False
        while layer:
            new_layer: list[int] = []
            for state in layer:
                if not published_copy[state]:
                    continue  # REFERENCE §0 rule 2: only published events travel
                chain = chains[state]
                edges = edges_of.get(state)
                if edges is None:
                    edges = edges_of[state] = self._state_edges(state, group, self.tag_blocked(tags))
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

    def _state_edges(self, number: int, group: _Group | None,
                     tag_blocked: frozenset[int]) -> tuple[tuple[int, str, int], ...]:
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
            copy = self._group_hop(n, group) if lvl == GROUP else self.hops[n][lvl]
            if copy is not None:
                edges.append((n, link.target, self._state_id((link.target, *copy))))
        return tuple(edges)

    @staticmethod
    def _certain_all(start: int, published: bool, unpublished: Mapping[int, tuple[str, ...]], free: list[int],
                     checked: list[list[tuple[int, int, bool]]], org_blocked: frozenset[int]) -> int:
        """Bit set of the instances that receive a copy in every order of jobs: an instance that may
        hold an unpublished copy may forward nothing (see the module docstring)."""
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

    def _carriers(self, tags: frozenset[str]) -> tuple[list[list[int]], list[tuple[int, dict[str, int]]]]:
        """Per instance index, the targets its flows not refused by ``tags``' rules carry a copy to, as
        bit sets: per level 0-3 (any owner), and for level 0 the internal pushes' targets and, per
        owner, those plus the targets of pulls by that owner (REFERENCE §2.4 step 2). Made once per
        tag set, for the walk in _timing."""
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
                            owner = zero[1] or ""
                            pulled[owner] = pulled.get(owner, 0) | bit
                by_level.append(levels)
                level_zero.append((pushed, {owner: bits | pushed for owner, bits in pulled.items()}))
            cached = self._carried[tags] = (by_level, level_zero)
        return cached

    def _group_hop(self, n: int, group: _Group | None) -> Copy | None:
        """:meth:`_transfer` of a copy of ``group`` over flow ``n``: it depends on the flow and the group
        only (not on the copy's owner), so it is kept once found."""
        assert group is not None
        hops = self._group_hops.setdefault(group, {})
        if n not in hops:
            hops[n] = self._transfer(self.links[n], GROUP, None, group)
        return hops[n]

    def _group_targets(self, k: int, group: _Group, tags: frozenset[str]) -> int:
        """Bit set of the targets the flows out of instance ``k`` not refused by ``tags``' rules carry a
        copy of ``group`` to (found as the walk in _timing needs them, and kept)."""
        known = self._group_carried.setdefault((group, tags), {})
        targets = known.get(k)
        if targets is None:
            tag_blocked = self.tag_blocked(tags)
            targets = 0
            for n in self.out[self.names[k]]:
                if n not in tag_blocked and self._group_hop(n, group) is not None:
                    targets |= 1 << self.target_at[n]
            known[k] = targets
        return targets

    def _timing(self, origin: str, found: Iterable[int], tags: frozenset[str], org_blocked: frozenset[int],
                group: _Group | None) -> tuple[str, ...]:
        """The timing-dependent holders, from the states a search ``found`` (see the module docstring),
        with bit sets over instance indices."""
        states, at, names = self._states, self._state_at, self.names
        copies: dict[int, list[State]] = {}  # instance index -> the copies it may hold
        unpublished: set[int] = set()
        for number in found:
            copies.setdefault(at[number], []).append(states[number])
            if not states[number][3]:
                unpublished.add(at[number])
        holders = 0
        for k in copies:
            holders |= 1 << k
        varied = {k for k, held in copies.items() if len(held) > 1 and len({s[1] for s in held}) > 1}
        by_level, level_zero = self._carriers(tags)
        start = self.index[origin]
        certain = 1 << start
        work = [start]
        while work:  # the certain set is a closure: the order of the walk does not change it
            k = work.pop()
            if k in unpublished:
                continue  # an unpublished copy there sends nothing: no target is certain through it
            # A target is certain when, for every copy ``k`` may hold, some flow carries it there: by
            # bit operations on the tables of _carriers, except for the targets of a flow the org's
            # rules refuse, which take the flow-by-flow check below.
            held = copies[k]  # the walk only reaches holders
            fresh = holders & ~certain
            for _, level, owner, _ in held:
                if level == ORG:
                    pushed, by_owner = level_zero[k]
                    fresh &= by_owner.get(owner or "", pushed)
                elif level == GROUP:
                    assert group is not None
                    fresh &= self._group_targets(k, group, tags)
                else:
                    fresh &= by_level[k][level]
            refused = 0
            if org_blocked:
                for n in self.out_flows[k] & org_blocked:
                    refused |= 1 << self.target_at[n]
            fresh &= ~refused
            if fresh:
                certain |= fresh
                work.extend(_bits(fresh))
            if not refused:
                continue
            for target in _bits(refused & holders & ~certain):
                via = [n for n in self.via_to[k][target] if n not in org_blocked]
                if all(any(self._carries(n, s[1], s[2], group, tags) for n in via) for s in held):
                    certain |= 1 << target
                    work.append(target)
        return tuple(names[k] for k in sorted(varied.union(_bits(holders & ~certain))))

    def _carries(self, n: int, level: int, owner: str | None, group: _Group | None, tags: frozenset[str]) -> bool:
        """Whether flow ``n``, not refused by ``tags``' rules, carries a published copy ``(level, owner)``
        (:meth:`_transfer` is not None), from the tables where it can (see __init__)."""
        if n in self.tag_blocked(tags):
            return False
        if level == GROUP:
            assert group is not None
            return self._group_hop(n, group) is not None
        copy = self.hops[n][level]
        return copy is not None and (level != ORG or self.links[n].mode == "push" or owner == copy[1])

    def matrix(self, tags: tuple[str, ...] = ()) -> Iterator[Flow]:
        """:func:`flow_matrix` (for events carrying ``tags``), one row at a time as it is read: the
        level-`all` rows of many origins are searched at once (as bit sets, :meth:`matrix_all`) and
        each row's dicts are made when it is reached, so the whole matrix (``Theta(N^2)`` holders)
        is never in memory."""
        events = [replace(event, tags=tags) if tags else event for event in self.matrix_events()]
        batch = self.matrix_all([event.origin for event in events if event.distribution == Distribution.ALL], tags)
        for event in events:  # matrix_all's rows come in the order of `events`
            yield next(batch) if event.distribution == Distribution.ALL else self.propagate(event)

    def _origin_links(self, origins: list[str], tags: tuple[str, ...]
                      ) -> tuple[list[list[tuple[int, int]]], list[list[tuple[int, int]]], list[tuple[int, int, int]]]:
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
        incoming: list[list[tuple[int, int]]] = [[] for _ in names]  # (source, origins it blocks), by source
        outgoing: list[list[tuple[int, int]]] = [[] for _ in names]  # (target, origins it blocks)
        unpublishing: list[tuple[int, int, int]] = []  # (source, target, origins it blocks)
        for n, link in enumerate(self.links):  # sorted by source
            if n in tag_blocked:
                continue
            u, v = index[link.source], index[link.target]
            rules = link.filter.orgs
            mask = 0  # REFERENCE §1.3: org rules match the creator org, here each origin's host org
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

    def matrix_all(self, origins: list[str], tags: tuple[str, ...] = ()) -> Iterator[Flow]:
        """Level `all`, with ``tags``, created by each origin's host org, for all ``origins`` at once.

        The same search as :meth:`_propagate_all`, run for many origins together: each instance
        holds a bit set of the origins whose copy it holds, and a layer costs one big-integer
        operation per flow instead of one per flow and origin. Each instance records, per parent,
        the bit set of the origins whose copy came through that parent (its ``via``): that is every
        origin's breadth-first tree at once, and each origin's chains are built from it only when
        its ``paths`` are first read (:class:`_LazyPaths`). A property test checks that this equals
        :meth:`propagate` of each event.

        The tables grow with instances x origins, so origins are searched in blocks of at most
        ``_SEARCH_BITS`` such bits, each block when its first row is read: one block for a sector
        estate, a few for a national one, whose tables would otherwise weigh hundreds of MiB.
        """
        width = max(1, _SEARCH_BITS // max(1, len(self.names)))
        for first in range(0, len(origins), width):
            yield from self._matrix_block(origins[first:first + width], tags)

    def _matrix_block(self, origins: list[str], tags: tuple[str, ...]) -> Iterator[Flow]:
        """:meth:`matrix_all` for one block of origins: searched at once, rows made as they are read."""
        names, index = self.names, self.index
        size, count = len(names), len(origins)
        everyone = (1 << count) - 1
        incoming, outgoing, unpublishing = self._origin_links(origins, tags)
        starts = [index[origin] for origin in origins]
        via: list[list[tuple[int, int, int]]] = [[] for _ in range(size)]  # (parent, origins, hops)
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

        def on_chain(u: int, v: int, among: int) -> int:
            """The origins of ``among`` whose chain to ``u`` passes through ``v`` (``u`` included).
            A walk up the trees with a stack of its own: a function calling itself would form a
            reference cycle with its closure, keeping these tables alive until a cycle collection."""
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

        may_hold_unpublished = [0] * size
        delivering: list[tuple[int, int, int]] = []  # (source, target, origins whose copy it delivers)
        for u, v, mask in sorted(unpublishing):  # by source: a tie of hops keeps the first
            sending = reached[u] & ~mask
            if sending:
                sending &= ~on_chain(u, v, sending)  # MISP refuses the echo
                may_hold_unpublished[v] |= sending
                delivering.append((u, v, sending))

        certain = [0] * size  # per instance: origins for which it receives a copy in every order
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
        timing: list[list[str]] = [[] for _ in range(count)]
        for v in range(size):
            for i in _bits((reached[v] | may_hold_unpublished[v]) & ~certain[v]):
                timing[i].append(names[v])

        holding = [reached[v] | may_hold_unpublished[v] for v in range(size)]
        trees = _Trees(names, via, delivering, starts)
        rows = _Rows(names)
        return (Flow(EventSpec(origin, Distribution.ALL, tags, None, self.estate.instances[origin].host_org),
                     origin, rows.reaches(column), _LazyPaths.of(_TreePaths(trees, i)), tuple(timing[i]))
                for (i, origin), column in zip(enumerate(origins), _transpose(holding, count), strict=True))

    def matrix_events(self) -> list[EventSpec]:
        """Every instance x every level; level sharing-group once per group its host org is in."""
        events: list[EventSpec] = []
        for iid in sorted(self.estate.instances):
            host = self.estate.instances[iid].host_org
            for level in Distribution:
                if level == Distribution.SHARING_GROUP:
                    events.extend(EventSpec(iid, level, sharing_group=gid)
                                  for gid in sorted(self.groups) if host in self.groups[gid].orgs)
                else:
                    events.append(EventSpec(iid, level))
        return events


def _bits(value: int) -> Iterator[int]:
    """Positions of the set bits of ``value``, lowest first (C-speed search in its binary text)."""
    text = bin(value)
    last = len(text) - 1
    j = text.rfind("1")
    while j > 1:
        yield last - j
        j = text.rfind("1", 2, j)


class _Rows:
    """The ``reaches`` dicts of level-`all` rows. Origins in one connected part of an estate mostly
    reach the same instances (on the synthetic 2,000-instance estate, 1,600 rows share one holder
    set), so a row whose holders equal a recent row's gets a copy of that row's dict: a copy of the
    table in C, instead of one insertion per holder."""

    KEPT = 4  # recent holder sets kept (each a dict of up to all instances)

    def __init__(self, names: list[str]) -> None:
        self.names = names
        self.recent: dict[tuple[int, ...], dict[str, Distribution]] = {}

    def reaches(self, column: tuple[int, ...]) -> dict[str, Distribution]:
        """Instance -> level `all` for the instances whose entry in ``column`` is 1, in id order."""
        made = self.recent.get(column)
        if made is None:
            if len(self.recent) >= self.KEPT:
                del self.recent[next(iter(self.recent))]
            made = self.recent[column] = dict.fromkeys(compress(self.names, column), Distribution.ALL)
        return made.copy()


class _Trees:
    """Every origin's breadth-first tree from :meth:`Engine.matrix_all`, as bit sets over origins."""

    def __init__(self, names: list[str], via: list[list[tuple[int, int, int]]],
                 delivering: list[tuple[int, int, int]], starts: list[int]) -> None:
        self.names = names
        self.via = via  # per instance: (parent, bit set of the origins it passed on, hops)
        self.delivering = delivering  # unpublished copies: (source, target, bit set of origins), sorted
        self.starts = starts
        self._parents: list[list[int]] | None = None

    def parents(self) -> list[list[int]]:
        """parents[origin][instance]: the instance it got the published copy from (-1: none). Made for
        all origins in one pass over the trees the first time one origin's paths are read: a reader
        of one matrix row's paths usually reads them all (JSON output, reports)."""
        if self._parents is None:
            size = len(self.names)
            table = [[-1] * size for _ in self.starts]
            for v, entries in enumerate(self.via):
                for parent, passed, _ in entries:
                    text = bin(passed)  # the set bits, found by C-speed searches in the binary text
                    last = len(text) - 1
                    j = text.rfind("1")
                    while j > 1:
                        table[last - j][v] = parent
                        j = text.rfind("1", 2, j)
            self._parents = table
        return self._parents


@dataclass(frozen=True)
class _TreePaths:
    """One origin's chains in the shared trees."""

    trees: _Trees
    bit: int  # the origin's position in the bit sets

    def build(self) -> dict[str, tuple[str, ...]]:
        trees, mine = self.trees, 1 << self.bit
        names, parent, start = trees.names, trees.parents()[self.bit], trees.starts[self.bit]
        chains: dict[int, tuple[str, ...]] = {start: (names[start],)}
        for k in range(len(names)):
            if k in chains or parent[k] < 0:
                continue
            walk = []
            while k not in chains:
                walk.append(k)
                k = parent[k]
            done = chains[k]
            for step in reversed(walk):
                done = chains[step] = (*done, names[step])
        unpublished: dict[int, tuple[str, ...]] = {}
        for u, v, sending in trees.delivering:
            if sending & mine:
                old = unpublished.get(v)
                if old is None or len(chains[u]) + 1 < len(old):
                    unpublished[v] = (*chains[u], names[v])
        for k, held_chain in unpublished.items():
            if k not in chains or len(held_chain) < len(chains[k]):
                chains[k] = held_chain  # fewer hops; on a tie the published copy wins
        return {names[k]: chains[k] for k in sorted(chains) if k != start}


class _LazyPaths(dict[str, tuple[str, ...]]):
    """``Flow.paths`` of a matrix row: a real dict, filled from the shared trees the first time it is
    read (a matrix holds millions of chains, and most callers only count holders)."""

    __slots__ = ("_source",)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)  # as dict(...), for copies (e.g. dataclasses.asdict)
        self._source: _TreePaths | None = None

    @classmethod
    def of(cls, source: _TreePaths) -> _LazyPaths:
        paths = cls()
        paths._source = source
        return paths

    def _fill(self) -> None:
        if self._source is not None:
            from planner.pipeline import no_cycle_collection

            source, self._source = self._source, None
            with no_cycle_collection():  # thousands of new tuples, no reference cycle among them
                dict.update(self, source.build())


def _filled(name: str) -> Any:
    method = getattr(dict, name)

    def call(self: _LazyPaths, *args: Any, **kwargs: Any) -> Any:
        self._fill()
        return method(self, *args, **kwargs)

    call.__name__ = name
    return call


for _name in ("__getitem__", "__contains__", "__iter__", "__len__", "__eq__", "__ne__", "__repr__", "__reversed__",
              "__or__", "__ror__", "__ior__", "__setitem__", "__delitem__", "get", "keys", "values", "items",
              "copy", "pop", "popitem", "setdefault", "update", "clear", "__reduce_ex__", "__sizeof__"):
    setattr(_LazyPaths, _name, _filled(_name))


_BIT_BYTES = bytes.maketrans(b"01", b"\x00\x01")


def bit_bytes(bits: int, width: int) -> bytes:
    """``width`` bytes, byte ``i`` 1 where bit ``i`` of ``bits`` is set (made by C loops, not per bit)."""
    return bin(bits)[2:].zfill(width)[::-1].encode("ascii").translate(_BIT_BYTES)


def _transpose(rows: list[int], width: int) -> Iterator[tuple[int, ...]]:
    """Columns of a bit matrix: ``rows[r]`` holds bit ``c`` of column ``c`` (lowest bit first); each
    column is a tuple of 0/1 by row. The work is done by C loops (binary text, zip), not per bit."""
    texts = [bit_bytes(row, width) for row in rows]
    return zip(*texts, strict=True)


def _unknown(kind: str, value: str, known: list[str]) -> str:
    close = difflib.get_close_matches(value, known, n=1, cutoff=0.6)
    hint = f"; did you mean '{close[0]}'?" if close else f"; known: {', '.join(sorted(known)) or 'none'}"
    return f"unknown {kind} '{value}'{hint}"


def engine_of(estate: Estate) -> Engine:
    """The estate's engine, prepared once and shared by every stage that asks (sizing, rules, the
    matrix): preparing it takes a second on a national estate."""
    return estate.memo("engine", Engine)


def propagate(estate: Estate, event: EventSpec) -> Flow:
    """Where one event goes. Raises FlowError for an event that cannot exist in this estate."""
    return engine_of(estate).propagate(event)


def flow_matrix(estate: Estate) -> Iterator[Flow]:
    """Every origin instance x every distribution level (sharing-group: once per group the host org
    is a member of; an instance whose host org is in no group has no sharing-group row), one row at
    a time: a national estate's matrix does not fit in memory whole."""
    return engine_of(estate).matrix()


def feeder_event(estate: Estate, feeder_id: str) -> EventSpec:
    """The events a feeder creates: its distribution, group, tags and creator org (spec §5)."""
    feeder = estate.feeders[feeder_id]
    return EventSpec(feeder_id, feeder.distribution, tuple(feeder.tags), feeder.sharing_group,
                     estate.feeder_org(feeder_id))


_WORDS = {level: level.word for level in Distribution}


def flow_to_json(flow: Flow, *, paths: bool = True) -> dict[str, Any]:
    """The machine-readable form of spec §10 (plus the creator org and timing_dependent); without
    ``paths`` for the whole matrix in `build`, where they would be most of the bytes."""
    event = flow.event
    data: dict[str, Any] = {
        "origin": event.origin,
        "distribution": event.distribution.word,
        "tags": list(event.tags),
        "sharing_group": event.sharing_group,
        "org": event.org,
        # A level-`all` row names thousands of holders: mapped by C loops, not a comprehension.
        "reaches": dict(zip(flow.reaches, map(_WORDS.__getitem__, flow.reaches.values()), strict=True)),
        "timing_dependent": list(flow.timing_dependent),
    }
    if paths:
        data["paths"] = {inst: list(chain) for inst, chain in flow.paths.items()}
    return data


# -- output for `misp-planner flows` ------------------------------------------------------------

FORMATS = ("table", "json")


def build_event(estate: Estate, origin: str, distribution: str | None, tags: Iterable[str] = (),
                sharing_group: str | None = None, org: str | None = None) -> EventSpec:
    """The event the `flows` command asks about; FlowError for a bad combination."""
    tag_list = tuple(dict.fromkeys(t.strip() for t in tags if t.strip()))
    if origin in estate.feeders:
        base = feeder_event(estate, origin)
        # spec §10: a feeder's own distribution and group apply.
        if distribution is not None and Distribution.parse(_int_or_word(distribution)) != base.distribution:
            raise FlowError(f"feeder '{origin}' creates events at distribution {base.distribution.word}; "
                            "leave --distribution out")
        if sharing_group is not None and sharing_group != base.sharing_group:
            raise FlowError(f"feeder '{origin}' uses sharing group {base.sharing_group or 'none'}")
        return replace(base, tags=tuple(dict.fromkeys((*base.tags, *tag_list))), org=org or base.org)
    if origin not in estate.instances:
        raise FlowError(_unknown("origin", origin, [*estate.instances, *estate.feeders]))
    if distribution is None:
        raise FlowError("--distribution is required when the origin is an instance")
    try:
        level = Distribution.parse(_int_or_word(distribution))
    except ValueError as error:
        raise FlowError(str(error)) from None
    return EventSpec(origin, level, tag_list, sharing_group, org)


def _int_or_word(value: str) -> int | str:
    return int(value) if value.isdigit() else value


def flows_report(estate: Estate, *, origin: str | None, distribution: str | None, tags: Iterable[str] = (),
                 sharing_group: str | None = None, org: str | None = None, fmt: str = "table",
                 matrix: bool = False) -> str:
    """The text `misp-planner flows` prints: one flow or the matrix, as a table or as JSON."""
    import json

    if fmt not in FORMATS:
        raise FlowError(f"unknown format '{fmt}'; use table or json")
    if matrix:
        if origin is not None or distribution is not None or sharing_group is not None or org is not None:
            raise FlowError("--matrix covers every origin and level; leave --origin, --distribution, "
                            "--sharing-group and --org out")
        tag_list = tuple(dict.fromkeys(t.strip() for t in tags if t.strip()))
        flows = list(engine_of(estate).matrix(tag_list))
        if fmt == "json":
            return json.dumps({"estate": estate.name, "tags": list(tag_list),
                               "flows": [flow_to_json(f) for f in flows]},
                              indent=2, sort_keys=True) + "\n"
        return matrix_table(estate, flows, tag_list)
    if origin is None:
        raise FlowError("--origin is required (or use --matrix)")
    flow = engine_of(estate).propagate(build_event(estate, origin, distribution, tags, sharing_group, org))
    if fmt == "json":
        return json.dumps(flow_to_json(flow), indent=2, sort_keys=True) + "\n"
    return flow_table(estate, flow)


def _render(renderable: Any) -> str:
    import io

    from rich.console import Console

    buffer = io.StringIO()
    # No colour, no terminal probing: the same input prints the same text everywhere.
    Console(file=buffer, width=120, color_system=None, force_terminal=False, soft_wrap=False).print(renderable)
    return buffer.getvalue()


def flow_table(estate: Estate, flow: Flow) -> str:
    from rich.table import Table

    event = flow.event
    title = (f"{event.origin} (created by {event.org}) publishes at {event.distribution.word}"
             + (f" for group {event.sharing_group}" if event.sharing_group else "")
             + (f", tags {', '.join(event.tags)}" if event.tags else ", no tags"))
    table = Table()
    for column in ("instance", "level", "path", "note"):
        table.add_column(column)
    for inst, level in flow.reaches.items():
        note = "origin" if inst == flow.origin_instance else ""
        if inst in flow.timing_dependent:
            note = "timing-dependent"
        path = " -> ".join(flow.paths.get(inst, (inst,)))
        table.add_row(inst, level.word, path, note)
    text = title + "\n" + _render(table)
    missing = sorted(set(estate.instances) - set(flow.reaches))
    text += f"{len(flow.reaches)} of {len(estate.instances)} instances hold a copy."
    text += f" Not reached: {', '.join(missing)}.\n" if missing else "\n"
    if flow.timing_dependent:
        text += ("Timing-dependent: the first copy to arrive wins, and which arrives first depends on when sync "
                 f"jobs run: {', '.join(flow.timing_dependent)}. Shown: the copy with the fewest hops.\n")
    return text


def matrix_table(estate: Estate, flows: list[Flow], tags: tuple[str, ...] = ()) -> str:
    from rich.table import Table

    table = Table()
    table.add_column("origin")
    for level in Distribution:
        table.add_column(level.word, justify="right")
    rows: dict[str, dict[Distribution, list[str]]] = {}
    for flow in flows:
        cell = f"{len(flow.reaches)}{'*' if flow.timing_dependent else ''}"
        if flow.event.sharing_group is not None:
            cell = f"{flow.event.sharing_group}: {cell}"
        rows.setdefault(flow.event.origin, {}).setdefault(flow.event.distribution, []).append(cell)
    for origin in sorted(rows):
        table.add_row(origin, *("\n".join(rows[origin].get(level, ["-"])) for level in Distribution))
    carrying = f"events tagged {', '.join(tags)}" if tags else "untagged events"
    return (f"Instances holding a copy of {carrying}, per origin and level ({estate.name}; "
            "* = timing-dependent):\n"
            + _render(table))
