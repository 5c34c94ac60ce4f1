"""Sync inflow (issue 8): the fast summation gives exactly the floats of the plain one, and the engine
methods it uses answer what :meth:`Engine.reach` and :meth:`Engine.reach_all` answer.

``reference_sync_inflow`` below is the summation as it was written before issue 8: one search per
source, level and group through :meth:`Engine.reach`, and one float addition per (source, level,
group, target) in that order. :func:`planner.sizing.sync_inflow` must give the same floats (``==``,
not approximately), because a float sum depends on its order and the golden files hold its roundings.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_flows_properties import TAGS, estates, events
from test_flows_table import build
from test_sizing_properties import to_estate, worlds

from planner.estate import Estate
from planner.flows import Engine, EventSpec, FlowError
from planner.misp import Distribution
from planner.pipeline import load_estate
from planner.sizing import LEVEL_SHARE, _cache_only, _pass_tags, effective_parameters, own_stock, sync_inflow

sys.path.insert(0, str(ROOT))
from benchmarks.synthetic import generate


def holders(engine: Engine, event: EventSpec) -> frozenset[str]:
    """The instances holding a copy, as :meth:`Engine.propagate` reports them (copies chosen, paths
    built): the oracle for the reach-only searches sizing uses."""
    return frozenset(engine.propagate(event).reaches)


def reference_sync_inflow(estate: Estate, params: dict[str, float]) -> dict[str, tuple[float, float]]:
    """The plain summation (see the module docstring): a test oracle, slow on purpose."""
    engine = Engine(estate)
    tagged = _pass_tags(estate)

    def factors(origin: str, level: Distribution, tags: tuple[str, ...], gid: str | None) -> dict[str, float]:
        event = EventSpec(origin, level, tags, gid)
        try:
            start = engine.resolve(event)[0]
            base = holders(engine, event)
        except FlowError:
            return {}
        wider = holders(engine, EventSpec(origin, level, tagged, gid)) if not tags and tagged else frozenset()
        found = dict.fromkeys(sorted(base - {start}), 1.0)
        found.update(dict.fromkeys(sorted(wider - base - {start}), params["share_tag_include"]))
        return found

    inflow = {iid: [0.0, 0.0] for iid in estate.instances}
    published = params["share_published"]
    for sid in sorted(estate.instances):
        inst = estate.instances[sid]
        stock, rate = own_stock(inst, params) * published, inst.growth_per_day * published
        if stock <= 0 and rate <= 0:
            continue
        for level, share_name in LEVEL_SHARE.items():
            share = params[share_name]
            if share <= 0:
                continue
            groups: list[str | None] = [None]
            if level is Distribution.SHARING_GROUP:
                groups = [g for g in sorted(estate.sharing_groups) if inst.host_org in estate.sharing_groups[g].orgs]
            for gid in groups:
                part = share / len(groups)
                for target, factor in factors(sid, level, (), gid).items():
                    inflow[target][0] += part * factor * stock
                    inflow[target][1] += part * factor * rate
    for fid in sorted(estate.feeders):
        feeder = estate.feeders[fid]
        if feeder.publish and feeder.rate > 0 and not _cache_only(estate, fid):
            for target, factor in factors(fid, feeder.distribution, tuple(feeder.tags), feeder.sharing_group).items():
                inflow[target][1] += factor * feeder.rate
    return {iid: (v[0], v[1]) for iid, v in inflow.items()}


def synthetic(n: int, seed: int, tmp_path: Path) -> Estate:
    path = tmp_path / f"synthetic-{n}-{seed}.yaml"
    path.write_text(json.dumps(generate(n, seed)), encoding="utf-8")
    return load_estate(path).estate


@pytest.mark.parametrize("seed", [0, 1])
def test_synthetic_inflow_is_the_same_floats_as_the_plain_summation(seed: int, tmp_path: Path) -> None:
    # 120 instances: hundreds of terms per target, so a changed order would show in the last bits.
    estate = synthetic(120, seed, tmp_path)
    params = effective_parameters(estate)
    assert sync_inflow(estate, params) == reference_sync_inflow(estate, params)


@pytest.mark.parametrize("changes", [{"share_all": 0.0}, {"share_sharing_group": 0.0, "share_tag_include": 1.0},
                                     {"share_organisation": 0.0, "share_community": 0.0, "share_connected": 0.0}])
def test_inflow_is_the_same_floats_with_shares_switched_off(changes: dict[str, float], tmp_path: Path) -> None:
    estate = synthetic(60, 2, tmp_path)
    params = {**effective_parameters(estate), **changes}
    assert sync_inflow(estate, params) == reference_sync_inflow(estate, params)


def test_example_inflow_is_the_same_floats_as_the_plain_summation(example: Path) -> None:
    estate = load_estate(example).estate
    params = effective_parameters(estate)
    assert sync_inflow(estate, params) == reference_sync_inflow(estate, params)


SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(worlds())
def test_random_world_inflow_is_the_same_floats_as_the_plain_summation(w: Any) -> None:
    estate = to_estate(w)
    params = effective_parameters(estate)
    assert sync_inflow(estate, params) == reference_sync_inflow(estate, params)


@SETTINGS
@given(estates(), st.lists(st.sampled_from(TAGS), max_size=2, unique=True))
def test_reach_indices_is_propagate_reaches(data: Any, tags: list[str]) -> None:
    instances, sync, extra, groups = data
    engine = Engine(build(instances, [*sync, extra], groups))
    for event in events(engine, tuple(tags)):
        assert engine.reach(event) == holders(engine, event), event
        expected = {engine.index[name] for name in holders(engine, event)}
        assert engine.reach_indices(event) == expected, event
        # Other orgs' events on the same engine: its per-org and per-state caches must not leak.
        for org in sorted(set(instances.values())):
            other = EventSpec(event.origin, event.distribution, event.tags, event.sharing_group, org)
            try:
                expected = {engine.index[name] for name in holders(engine, other)}
            except FlowError:
                continue
            assert engine.reach_indices(other) == expected, other


@SETTINGS
@given(estates(), st.lists(st.sampled_from(TAGS), max_size=2, unique=True))
def test_reach_all_bits_is_reach_all_by_instance(data: Any, tags: list[str]) -> None:
    instances, sync, extra, groups = data
    engine = Engine(build(instances, [*sync, extra], groups))
    origins = sorted(instances)
    bits = engine.reach_all_bits(origins, tuple(tags))
    for i, reached in enumerate(engine.reach_all(origins, tuple(tags))):
        assert {engine.names[v] for v in range(len(bits)) if bits[v] >> i & 1} == reached
        assert reached == holders(engine, EventSpec(origins[i], Distribution.ALL, tuple(tags)))
    assert engine.reach_all_bits([], ()) == [0] * len(engine.names)


@SETTINGS
@given(estates(), st.lists(st.sampled_from(TAGS), max_size=2, unique=True),
       st.lists(st.sampled_from(TAGS), max_size=3, unique=True))
def test_reach_indices_with_other_tags_is_both_reaches(data: Any, own: list[str], other: list[str]) -> None:
    instances, sync, extra, groups = data
    engine = Engine(build(instances, [*sync, extra], groups))
    for event in events(engine, tuple(own)):
        with_other = EventSpec(event.origin, event.distribution, tuple(other), event.sharing_group)
        expected = ({engine.index[name] for name in holders(engine, event)},
                    {engine.index[name] for name in holders(engine, with_other)})
        assert engine.reach_indices_with(event, tuple(other)) == expected, (event, other)
