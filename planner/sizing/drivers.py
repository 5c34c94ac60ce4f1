"""Cost drivers beyond the attribute count: correlations, log volume and the largest event.

One job: what the topology says about the three things that public field reports show drive a MISP
host more than its attribute count (docs/sizing.md §3): correlation density (MISP/MISP#7396,
#8275), log volume from activity times retention (MISP/MISP#9181, #10220, #10281), and the
largest single event, which sets PHP's memory_limit (MISP/MISP#10171). O(links + feeders +
consumers of the instance) per instance.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from planner.estate import Estate
from planner.flows.versions import correlation_era
from planner.misp import (
    ATTRIBUTE_MEMORY_COEFFICIENT,
    CORRELATION_OFF_SETTING,
    DEFAULT_FEED_FETCH_EVERY,
    DEFAULT_PULL_EVERY,
    EVENT_MEMORY_DIVISOR,
)
from planner.sizing.parameters import SECONDS_PER_DAY
from planner.sizing.sources import feeders_into, index_of
from planner.sizing.volume import Volume


@dataclass(frozen=True)
class Drivers:
    """Correlations, logs and the largest event of one instance."""

    correlation: str | None  # off, on or noacl as the topology says; None: the advice decides
    era: str  # legacy (before MISP 2.4.160) or compact correlation tables
    correlations_per_attribute: float  # 0 when correlation is off
    correlated_attributes: int  # at the horizon: all but what non-correlating feeders write
    sync_jobs_per_day: float  # scheduled pulls, pushes and feed fetches it runs or serves
    api_polls_per_day: float  # consumers' requests
    log_retention_days: float | None  # of access_logs; None: kept for ever (MISP's default)
    log_bytes_per_day: float
    log_history_bytes_per_day: float  # the part no retention removes (logs, audit_logs)
    log_bytes: float  # held at the horizon
    largest_event: int  # attributes in the largest event it receives (0: not given)

    @property
    def correlations(self) -> float:
        return self.correlated_attributes * self.correlations_per_attribute

    @property
    def php_memory_need_mib(self) -> int:
        """What MISP itself asks for to load the largest event (Event::fetchEvent's estimate)."""
        return math.ceil(self.largest_event * EVENT_MEMORY_DIVISOR / ATTRIBUTE_MEMORY_COEFFICIENT)


def correlation_mode(estate: Estate, iid: str) -> str | None:
    """The topology's `correlation:`, or off when its settings switch correlation off entirely."""
    chosen = estate.instances[iid].correlation
    if chosen is None and estate.instances[iid].settings.get(CORRELATION_OFF_SETTING) in (True, 1, "1", "true"):
        return "off"
    return chosen


def drivers_of(estate: Estate, iid: str, vol: Volume, users: int, p: Mapping[str, float]) -> Drivers:
    inst = estate.instances[iid]
    mode = correlation_mode(estate, iid)
    density = 0.0 if mode == "off" else (
        inst.correlations_per_attribute if inst.correlations_per_attribute is not None
        else p["correlations_per_attribute"])
    feeders = feeders_into(estate, iid)
    # A feeder with correlate: false writes attributes MISP does not correlate (feed setting or
    # attribute flag disable_correlation, docs/misp-behaviour.md#correlation).
    uncorrelated = sum(estate.feeders[f].rate for f in feeders if not estate.feeders[f].correlate)
    correlated = max(0, vol.horizon - math.ceil(uncorrelated * vol.horizon_days))

    jobs = 0.0
    for conn in index_of(estate).connections.get(iid, []):
        if conn.pull is not None:
            jobs += SECONDS_PER_DAY / (conn.pull.every or DEFAULT_PULL_EVERY)
        if conn.push is not None and conn.push.every is not None:
            jobs += SECONDS_PER_DAY / conn.push.every
    for fid in feeders:
        feeder = estate.feeders[fid]
        if feeder.via == "feed":
            jobs += SECONDS_PER_DAY / ((feeder.feed.fetch_every if feeder.feed else None) or DEFAULT_FEED_FETCH_EVERY)
    polls = api_polls(estate, p).get(iid, 0.0)
    # Event history and sync jobs go to `logs` / `audit_logs`, which MISP never prunes (they hold the
    # event history, MISP/MISP#4735; no retention command exists, #6244, #10281); users' and tools'
    # requests go to `access_logs`, which MISP's own `cake Log accessLogRetention <days>` prunes.
    history_per_day = vol.per_day * p["log_bytes_per_attribute_written"] + jobs * p["log_bytes_per_sync_job"]
    access_per_day = users * p["log_bytes_per_user_day"] + polls * p["log_bytes_per_api_poll"]
    retention = inst.log_retention
    retention_days = retention / SECONDS_PER_DAY if retention is not None else None
    access_days = vol.horizon_days if retention_days is None else min(retention_days, vol.horizon_days)
    held = (history_per_day * vol.horizon_days + vol.now * p["log_bytes_per_attribute_written"]
            + access_per_day * access_days)
    # A whole event travels as one: the largest an instance holds is its own or a directly linked peer's.
    written_largest = largest_written(estate)
    largest = max([written_largest.get(iid, 0),
                   *(written_largest.get(conn.remote if conn.initiator == iid else conn.initiator, 0)
                     for conn in index_of(estate).connections.get(iid, []))])
    return Drivers(mode, correlation_era(inst.misp_version), float(density), correlated, jobs, polls,
                   retention_days, history_per_day + access_per_day, history_per_day, held, largest)


def api_polls(estate: Estate, p: Mapping[str, float]) -> dict[str, float]:
    """Requests per day of the API consumers reading from each instance (one pass per estate)."""
    def count(e: Estate) -> dict[str, float]:
        polls: dict[str, float] = {}
        for consumer in e.consumers.values():
            if consumer.via == "api":
                every = SECONDS_PER_DAY / consumer.every if consumer.every else p["consumer_polls_per_day"]
                polls[consumer.from_] = polls.get(consumer.from_, 0.0) + every
        return polls

    return estate.memo(f"sizing_api_polls_{p['consumer_polls_per_day']}", count)


def largest_written(estate: Estate) -> dict[str, int]:
    """Per instance, the largest event written on it: its own `volume.largest_event` or one of its
    feeders' (one pass per estate)."""
    def collect(e: Estate) -> dict[str, int]:
        largest = {iid: inst.largest_event for iid, inst in e.instances.items() if inst.largest_event}
        for feeder in e.feeders.values():
            if feeder.largest_event:
                largest[feeder.into] = max(largest.get(feeder.into, 0), feeder.largest_event)
        return largest

    return estate.memo("sizing_largest_written", collect)
