"""Sync inflow: the stock and daily rate each instance receives through sync, from every source.

One job: for every source (instance or feeder) and distribution level, the instances an event
reaches (the propagation engine, :mod:`planner.flows`) receive that level's share of the source's
data. Shares and the share of events passing a tag include-filter are named parameters
(:mod:`planner.sizing.parameters`).

Complexity: about ten one-event searches per instance (levels 0-2 and groups, :meth:`planner.
flows.Engine.reach_indices`), level `all` for every source at once as bit sets (:meth:`planner.
flows.Engine.reach_all_bits`, ``N`` bit sets of ``N`` bits), and per target a sum of its terms made
by C loops: ``Theta(N^2)`` additions in C, O(N x reach of levels 0-2) in Python.
"""

from __future__ import annotations

from array import array
from collections.abc import Mapping
from functools import reduce
from itertools import compress
from operator import add

from planner.estate import Estate
from planner.flows import Engine, EventSpec, FlowError, bit_bytes, engine_of
from planner.misp import Distribution
from planner.sizing.parameters import LEVEL_SHARE
from planner.sizing.sources import cache_only, own_stock

Source = tuple[str, float, float]  # instance id, published stock, published rate per day
GroupTerms = list[list[tuple[int, complex]]]  # per target: (place among the lanes, term)
# Summation order: per source, the levels in LEVEL_SHARE order, the sharing-group level last.
LANES_LEVELS = (Distribution.ORGANISATION, Distribution.COMMUNITY, Distribution.CONNECTED, Distribution.ALL)
assert tuple(LEVEL_SHARE) == (*LANES_LEVELS, Distribution.SHARING_GROUP)


def pass_tags(estate: Estate) -> tuple[str, ...]:
    """Tags that pass every include filter and hit no exclude filter: the hypothetical curated
    event that a tag include-filter lets through."""
    include: set[str] = set()
    exclude: set[str] = set()
    for conn in estate.connections:
        for _, _, _, direction in conn.flows():
            include.update(direction.tags.include)
            exclude.update(direction.tags.exclude)
    return tuple(sorted(include - exclude))


def reach_groups(engine: Engine, origin: str, distribution: Distribution, tags: tuple[str, ...],
                 sharing_group: str | None, params: Mapping[str, float],
                 tagged: tuple[str, ...]) -> list[tuple[set[int], float]]:
    """The instances that receive the origin's events at this level, as (instance indices, share)
    groups, disjoint, origin excluded.

    An instance the engine reaches with the event as described counts fully. When the event
    carries no tags of its own, a tag include-filter would stop it although real events carry
    tags; an instance reached only by an event carrying the tags that pass the include filters
    counts for ``share_tag_include``.
    """
    event = EventSpec(origin, distribution, tags, sharing_group)
    try:
        origin_index = engine.index[engine.resolve(event)[0]]
        if tags or not tagged:
            base, wider = engine.reach_indices(event), set[int]()
        else:
            base, wider = engine.reach_indices_with(event, tagged)
    except FlowError:
        return []  # an event that cannot exist (e.g. a feeder's org outside its group) carries nothing
    base.discard(origin_index)
    groups = [(base, 1.0)]
    if not tags and tagged:
        wider = wider - base
        wider.discard(origin_index)
        groups.append((wider, params["share_tag_include"]))
    return groups


def sync_inflow(estate: Estate, params: Mapping[str, float]) -> dict[str, tuple[float, float]]:
    """Instance -> (stock, per day) arriving through sync from every source in the estate.

    Sources: every instance's own data (managed or not: an external instance's `volume` is its
    outflow), split over distribution levels by the share parameters, and every published feeder
    (its one level and tags). Stock travels like new data: links are assumed bootstrapped by a
    full push or pull, which transfers every published event the link may carry
    (docs/misp-behaviour.md#rest-endpoints, #pull). An `unpublish` push delivers a copy that goes no further
    (the engine ends the chain).

    Each target's inflow is a float sum, and float sums depend on their order: every target adds
    one term per (source in id order, level, group) it is reached by, always in that order, so
    that results do not depend on how the reaches are computed. Level `all` reaches nearly every
    instance from every source (``N^2`` terms): its reaches come from the engine as one bit set of
    sources per target, and each target's terms are picked and added by C loops (``compress``,
    ``reduce``) in source order, between the few terms of the other levels.
    """
    engine = engine_of(estate)  # shared with the other stages
    names: list[str] = engine.names  # instance ids in id order; a target is its index here
    published = params["share_published"]
    tagged = pass_tags(estate)
    sources = [(sid, own_stock(estate.instances[sid], params) * published,
                estate.instances[sid].growth_per_day * published) for sid in names]
    sources = [(sid, stock, rate) for sid, stock, rate in sources if stock > 0 or rate > 0]
    share_all = params[LEVEL_SHARE[Distribution.ALL]]
    flooding = [sid for sid, _, _ in sources] if share_all > 0 else []
    lanes = _lanes(sources, params)
    picks, group_terms = _picks(estate, engine, sources, params, tagged)
    # Level `all`: which sources' events each target holds, as bit sets over `flooding` (= sources).
    count = len(flooding)
    reached = engine.reach_all_bits(flooding, ()) if count else []
    reached_tagged = engine.reach_all_bits(flooding, tagged) if count and tagged else []
    position = {sid: k for k, sid in enumerate(flooding)}
    width = len(lanes)
    inflow: dict[str, list[float]] = {}
    for v, name in enumerate(names):
        picked = bytearray(width)
        if count:
            mine = 1 << position[name] if name in position else 0  # a source is not its own target
            base = reached[v] & ~mine
            picked[6::8] = bit_bytes(base, count)
            if reached_tagged:
                picked[7::8] = bit_bytes(reached_tagged[v] & ~base & ~mine, count)
        for lane in picks[v]:
            picked[lane] = 1
        total = _sum_lanes(lanes, picked, group_terms[v])
        inflow[name] = [total.real, total.imag]
        picks[v], group_terms[v] = array("I"), []  # done with: free as we go
    _add_feeders(estate, engine, inflow, params, tagged)
    return {iid: (inflow[iid][0], inflow[iid][1]) for iid in estate.instances}


def _lanes(sources: list[Source], params: Mapping[str, float]) -> list[complex]:
    """Every term a target may add. A term depends on the source, level and factor, not on the
    target: source k's term of level l (0-3 in LANES_LEVELS) with factor f (0: reached by the untagged
    event, 1: only by the tagged one) is lane 8k + 2l + f, and a target adds the lanes it picks in
    lane order. A term is complex(stock, rate): complex addition adds the two parts as two float
    additions, so one sum gives both totals, each exactly as if summed alone (half the loops)."""
    tag_share = params["share_tag_include"]
    lanes: list[complex] = []
    for _, stock, rate in sources:
        for level in LANES_LEVELS:
            part = params[LEVEL_SHARE[level]]  # the share over one group (the level's only one)
            lanes += (complex(part * 1.0 * stock, part * 1.0 * rate),
                      complex(part * tag_share * stock, part * tag_share * rate))
    return lanes


def _picks(estate: Estate, engine: Engine, sources: list[Source], params: Mapping[str, float],
           tagged: tuple[str, ...]) -> tuple[list[array[int]], GroupTerms]:
    """Per target: the lanes of levels 0-2 it picks (level `all` comes from bit sets), and its
    sharing-group terms (one per group, in group order), which come after source k's lanes: at
    place 8k + 8 among them."""
    names = engine.names
    picks = [array("I") for _ in names]
    group_terms: GroupTerms = [[] for _ in names]
    groups_of: dict[str, list[str]] = {}  # org -> the groups it is a member of, in id order
    for gid in sorted(estate.sharing_groups):
        for org in set(estate.sharing_groups[gid].orgs):  # (a list: an org written twice is one member)
            groups_of.setdefault(org, []).append(gid)
    for k, (sid, stock, rate) in enumerate(sources):
        for nth, level in enumerate(LANES_LEVELS[:3]):
            if params[LEVEL_SHARE[level]] <= 0:
                continue
            for f, (targets, _) in enumerate(reach_groups(engine, sid, level, (), None, params, tagged)):
                for target in targets:
                    picks[target].append(8 * k + 2 * nth + f)
        share = params[LEVEL_SHARE[Distribution.SHARING_GROUP]]
        gids = groups_of.get(estate.instances[sid].host_org, [])
        for gid in gids if share > 0 else ():
            part = share / len(gids)
            for targets, factor in reach_groups(engine, sid, Distribution.SHARING_GROUP, (), gid, params, tagged):
                entry = (8 * k + 8, complex(part * factor * stock, part * factor * rate))  # one tuple, shared
                for target in targets:
                    group_terms[target].append(entry)
    return picks, group_terms


def _sum_lanes(lanes: list[complex], picked: bytearray, group_terms: list[tuple[int, complex]]) -> complex:
    """One target's total: the lanes it picked and its group terms, in lane order (C loops)."""
    total = 0j
    done = 0
    for place, term in group_terms:
        if place > done:
            total = reduce(add, compress(lanes[done:place], picked[done:place]), total)
            done = place
        total += term
    if done:
        total = reduce(add, compress(lanes[done:], picked[done:]), total)
    else:  # no group terms: no copies of the lanes
        total = reduce(add, compress(lanes, picked), total)
    return total


def _add_feeders(estate: Estate, engine: Engine, inflow: dict[str, list[float]], params: Mapping[str, float],
                 tagged: tuple[str, ...]) -> None:
    """Every published feeder's rate, added to the instances its events reach."""
    names = engine.names
    for fid in sorted(estate.feeders):
        feeder = estate.feeders[fid]
        if not feeder.publish or feeder.rate <= 0 or cache_only(estate, fid):
            continue
        for targets, factor in reach_groups(engine, fid, feeder.distribution, tuple(feeder.tags),
                                            feeder.sharing_group, params, tagged):
            for target in targets:
                inflow[names[target]][1] += factor * feeder.rate

