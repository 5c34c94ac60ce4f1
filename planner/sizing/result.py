"""The result of sizing: one recommendation per managed instance, in the contract's JSON shape.

One job: the data types the sizing returns and :meth:`InstanceSizing.to_json` (the shape of
``sizing.json``). O(instances) to serialise.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from planner.sizing.volume import Volume


@dataclass
class InstanceSizing:
    """The recommendation for one managed instance; :meth:`to_json` is the contract shape."""

    instance: str
    volume: Volume
    volume_class: str
    volume_class_at_horizon: str
    crosses_50m_in_days: int | None
    vcpu: int
    ram_gib: int
    disk_gib: int
    disk_growth_gib_per_year: float
    database: str
    hosts: dict[str, dict[str, int]]
    storage: dict[str, float]
    largest_event: int
    php_memory_need_mib: int
    logs: dict[str, Any]
    mariadb: dict[str, int]
    php: dict[str, Any]
    workers: dict[str, int]
    redis_gib: float
    redis_needed_gib: float
    correlation: dict[str, Any]
    overrides: list[str] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    computed: dict[str, Any] = field(default_factory=dict)  # values before overrides

    def to_json(self) -> dict[str, Any]:
        v = self.volume
        return {
            "volume_class": self.volume_class,
            "volume_class_at_horizon": self.volume_class_at_horizon,
            "attributes": {
                "now": v.now,
                "horizon": v.horizon,
                "inflow_per_day": round(v.per_day, 1),
                "horizon_days": round(v.horizon_days, 1),
                "breakdown": {"own_stock": v.own_stock, "sync_stock": round(v.sync_stock),
                              "own_per_day": round(v.own_per_day, 1),
                              "feeders_per_day": round(v.feeders_per_day, 1),
                              "sync_per_day": round(v.sync_per_day, 1)},
            },
            "crosses_50m_in_days": self.crosses_50m_in_days,
            "vcpu": self.vcpu,
            "ram_gib": self.ram_gib,
            "disk_gib": self.disk_gib,
            "disk_growth_gib_per_year": self.disk_growth_gib_per_year,
            "database": self.database,
            "hosts": self.hosts,
            "storage": dict(self.storage),
            "largest_event": self.largest_event,
            "logs": dict(self.logs),
            "mariadb": dict(self.mariadb),
            "php": dict(self.php),
            "workers": dict(self.workers),
            "redis_gib": self.redis_gib,
            "correlation": dict(self.correlation),
            "overrides": list(self.overrides),
            "reasons": list(self.reasons),
        }


@dataclass
class EstateSizing:
    instances: dict[str, InstanceSizing]
    parameters: dict[str, float] = field(default_factory=dict)
    volumes: dict[str, Volume] = field(default_factory=dict)  # every instance, managed or not

    def to_json(self) -> dict[str, Any]:
        return {"instances": {iid: self.instances[iid].to_json() for iid in sorted(self.instances)}}


def iter_sized(sizing: EstateSizing) -> Iterable[InstanceSizing]:
    return (sizing.instances[iid] for iid in sorted(sizing.instances))
