"""The sources of an instance's data and load: its own stock, feeders, connections, consumers.

One job: what the topology says each instance produces or serves: its own stock, the index of
feeders, connections and consumers per instance (made once per estate, O(N + F + feeders +
consumers)), and :class:`Load`, what drives PHP children, workers, Redis and vCPU (O(links of the
instance + feeders into it) per instance).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from planner.estate import Estate, Instance

if TYPE_CHECKING:
    from planner.sizing.volume import Volume


def own_stock(instance: Instance, params: Mapping[str, float]) -> int:
    """The stock the file gives, or the representative stock of its coarse volume class."""
    if instance.attributes:
        return instance.attributes
    if instance.volume_class == "above-50M":
        return int(params["class_stock_above_50m"])
    if instance.volume_class == "below-50M":
        return int(params["class_stock_below_50m"])
    return 0


def cache_only(estate: Estate, feeder_id: str) -> bool:
    """A feed that only caches: it creates no events (docs/misp-behaviour.md#feeds)."""
    feeder = estate.feeders[feeder_id]
    return feeder.via == "feed" and feeder.feed is not None and feeder.feed.cache_only


def feeders_into(estate: Estate, instance_id: str) -> list[str]:
    return index_of(estate).feeders.get(instance_id, [])


@dataclass(frozen=True)
class Index:
    """Per instance: its feeders, its connections and its consumers, built once per estate (a
    national estate has thousands of instances and tens of thousands of connections)."""

    feeders: dict[str, list[str]]
    connections: dict[str, list[Any]]
    consumers: dict[str, int]


def index_of(estate: Estate) -> Index:
    return estate.memo("sizing_index", _make_index)


def _make_index(estate: Estate) -> Index:
    feeders: dict[str, list[str]] = {}
    for fid in sorted(estate.feeders):
        feeders.setdefault(estate.feeders[fid].into, []).append(fid)
    connections: dict[str, list[Any]] = {}
    for conn in estate.connections:
        connections.setdefault(conn.initiator, []).append(conn)
        connections.setdefault(conn.remote, []).append(conn)
    consumers: dict[str, int] = {}
    for consumer in estate.consumers.values():
        consumers[consumer.from_] = consumers.get(consumer.from_, 0) + 1
    return Index(feeders, connections, consumers)


@dataclass(frozen=True)
class Load:
    """What an instance serves, besides data: people, links, consumers, feeds."""

    users: int
    links: int  # sync connections touching the instance (either end)
    initiated_jobs: int  # server entries on it that push or pull (scheduled jobs on the default queue)
    pushes: int  # flows it pushes (publish fan-out on the prio queue)
    consumers: int  # consumers reading from it
    api_feeders: int  # tools writing through the API
    feeds: int  # MISP feeds it fetches or caches (via: feed)
    sandbox: bool  # fed by a sandbox (samples on disk)
    low_value_feeders: tuple[str, ...]
    cached_attributes: int  # attributes of remotes whose values it caches (caching: true links)


def instance_load(estate: Estate, iid: str, vols: Mapping[str, Volume]) -> Load:
    inst = estate.instances[iid]
    conns = index_of(estate).connections.get(iid, [])
    feeders = feeders_into(estate, iid)
    return Load(
        users=inst.users,
        links=len(conns),
        initiated_jobs=sum(1 for c in conns if c.initiator == iid),
        pushes=sum(1 for c in conns if c.initiator == iid and c.push is not None),
        consumers=index_of(estate).consumers.get(iid, 0),
        api_feeders=sum(1 for f in feeders if estate.feeders[f].via == "api"),
        feeds=sum(1 for f in feeders if estate.feeders[f].via == "feed"),
        sandbox=any(estate.feeders[f].kind == "sandbox" for f in feeders),
        low_value_feeders=tuple(f for f in feeders if estate.feeder_value(f) == "low"),
        cached_attributes=sum(vols[c.remote].horizon for c in conns if c.initiator == iid and c.caching),
    )
