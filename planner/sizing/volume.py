"""Volume: the attributes each instance holds now and at the horizon, by where they come from.

One job: own stock and growth (:mod:`planner.sizing.sources`), feeders, and the sync inflow of
:mod:`planner.sizing.inflow`, added up per instance. O(N + feeders) for N instances, after the
inflow.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from planner.estate import Estate
from planner.misp import VOLUME_THRESHOLD_ATTRIBUTES
from planner.sizing.inflow import sync_inflow
from planner.sizing.parameters import SECONDS_PER_DAY, effective_parameters
from planner.sizing.sources import cache_only, feeders_into, index_of, own_stock


@dataclass(frozen=True)
class Volume:
    """Attributes held by one instance: today and their daily increase, by where they come from."""

    own_stock: int
    own_per_day: float
    feeders_per_day: float
    sync_stock: float
    sync_per_day: float
    horizon_days: float

    @property
    def now(self) -> int:
        return math.ceil(self.own_stock + self.sync_stock)

    @property
    def per_day(self) -> float:
        return self.own_per_day + self.feeders_per_day + self.sync_per_day

    @property
    def horizon(self) -> int:
        return math.ceil(self.own_stock + self.sync_stock + self.per_day * self.horizon_days)


def volumes(estate: Estate, params: Mapping[str, float] | None = None) -> dict[str, Volume]:
    """Every instance's volume (managed or not: unmanaged ones matter as sources and cache targets)."""
    params = params if params is not None else effective_parameters(estate)
    inflow = sync_inflow(estate, params)
    days = estate.horizon_seconds / SECONDS_PER_DAY
    result = {}
    for iid in sorted(estate.instances):
        inst = estate.instances[iid]
        # docs/misp-behaviour.md#feeds: a feed that only caches creates no events (it counts for Redis instead).
        feeders = sum(estate.feeders[f].rate for f in feeders_into(estate, iid) if not cache_only(estate, f))
        sync_stock, sync_per_day = inflow[iid]
        result[iid] = Volume(own_stock(inst, params), inst.growth_per_day, feeders,
                             bootstrapped(estate, iid, sync_stock, sync_per_day), sync_per_day, days)
    return result


def bootstrapped(estate: Estate, iid: str, sync_stock: float, sync_per_day: float) -> float:
    """The part of the remotes' retained stock an instance receives once, when its links are set up.

    Each link says what it carries first (`sync[].bootstrap`): `full`, what MISP's first full push or
    pull sends (every published event the link may carry); `none`, new data only; or a duration,
    the stock of that last period, at most the daily inflow times that period. The instance takes
    the most its receiving links carry: a stock that reached it through one link is not held back
    by another. New data arrives as growth afterwards (``sync_per_day``), whatever the bootstrap.
    """
    best: float | None = 0.0  # None: full
    for conn in index_of(estate).connections.get(iid, []):
        receives = (conn.initiator == iid and conn.pull is not None) or (conn.remote == iid and conn.push is not None)
        if not receives:
            continue
        bootstrap = conn.bootstrap
        if bootstrap == "full":
            best = None
            break
        if bootstrap != "none" and best is not None:
            best = max(best, float(bootstrap) / SECONDS_PER_DAY)
    if best is None:
        return sync_stock
    return min(sync_stock, sync_per_day * best)


def volume_class(attributes: int) -> str:
    return "above-50M" if attributes >= VOLUME_THRESHOLD_ATTRIBUTES else "below-50M"


def crosses_in_days(volume: Volume) -> int | None:
    """Days until the instance holds 50M attributes: 0 when it already does, None when it never will."""
    if volume.now >= VOLUME_THRESHOLD_ATTRIBUTES:
        return 0
    if volume.per_day <= 0:
        return None
    return math.ceil((VOLUME_THRESHOLD_ATTRIBUTES - volume.now) / volume.per_day)
