"""Advice and reasons: the correlation advice and one sentence per headline number.

One job: the text the sizing shows users beside its numbers (what to switch on or off for
correlation, and why each number is what it is). O(feeders into the instance) per instance.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from planner.estate import Estate, Instance
from planner.misp import CORRELATION_ENGINE_SETTING, CORRELATION_OFF_SETTING
from planner.sizing.drivers import Drivers
from planner.sizing.hosts import Data
from planner.sizing.parameters import GIB
from planner.sizing.services import Services
from planner.sizing.sources import Load
from planner.sizing.volume import Volume
from planner.units import plural


def correlation_advice(estate: Estate, inst: Instance, load: Load, large: bool,
                       p: Mapping[str, float]) -> dict[str, Any]:
    """Engine, explicit limit and what to switch off (docs/misp-behaviour.md#correlation, #above-50m-attributes)."""
    single_org = len(inst.orgs) == 1
    # NoAcl ignores who may see what: right only where every user belongs to one org and the
    # instance serves itself (docs/misp-behaviour.md#correlation "single-org endpoint instances").
    engine = "NoAcl" if single_org and inst.purpose in ("endpoint", "ingest", "analysis") else "Default"
    limit = int(p["correlation_limit"])
    advice = [f"set MISP.correlation_limit explicitly to {limit}: the code default is 20 when unset "
              "while the settings page shows 100 (docs/misp-behaviour.md#correlation)"]
    if engine == "NoAcl":
        advice.append("use the NoAcl correlation engine: one organisation's users only, so ACL-aware "
                      "correlation costs without protecting anything (docs/misp-behaviour.md#correlation)")
    for fid in load.low_value_feeders:
        feeder = estate.feeders[fid]
        if not feeder.correlate:
            continue  # the topology already switches it off
        where = "feed setting disable_correlation" if feeder.via == "feed" else "disable_correlation on its attributes"
        advice.append(f"disable correlation for low-value bulk feeder '{fid}' ({where}, "
                      f"docs/misp-behaviour.md#correlation, #above-50m-attributes)")
    if large:
        advice.append("above 50M attributes: use correlation exclusions for over-correlating values and keep "
                      "MISP.enable_advanced_correlations off (docs/misp-behaviour.md#correlation, "
                      "#above-50m-attributes)")
    return {"engine": engine, "limit": limit, "advice": advice}


def gib(value: float) -> str:
    return f"{value:.1f} GiB" if value < 10 else f"{value:.0f} GiB"


def _count(value: float) -> str:
    from planner.units import format_count

    return format_count(value)


def _disk_reason(computed: Mapping[str, Any], overridden: str, load: Load, data: Data, drivers: Drivers,
                 p: Mapping[str, float]) -> str:
    """What the disk holds: the database with its correlations, the logs and what drives them."""
    correlated = (f"{_count(data.correlations)} correlations ({drivers.correlations_per_attribute:g} per "
                  f"attribute, {drivers.era} tables)" if data.correlations else "no correlations")
    kept = (f"access logs kept {drivers.log_retention_days:g} days, the event history for ever"
            if drivers.log_retention_days is not None else "kept for ever")
    return (f"Disk {computed['disk_gib']} GiB{overridden}: a {gib(data.database_bytes / GIB)} database "
            f"at {p['database_bytes_per_attribute']:g} B/attribute with {correlated}, "
            f"{gib(data.logs_bytes / GIB)} of logs ({gib(drivers.log_bytes_per_day / GIB)}/day from "
            f"{_counted(drivers.sync_jobs_per_day, 'sync job')}, "
            f"{_counted(drivers.api_polls_per_day, 'API poll')}, users and "
            f"new attributes, {kept}), "
            f"attachments{' (sandbox samples)' if load.sandbox else ''}, {p['disk_headroom']:g}x headroom "
            "and the system.")


def _counted(count: float, noun: str) -> str:
    """``1 sync job``, ``2.5 sync jobs``: a per-day rate with its noun in the right number."""
    return f"{count:g} {noun if count == 1 else noun + 's'}"


def reasons(vol: Volume, load: Load, crosses: int | None, computed: Mapping[str, Any], final: Mapping[str, Any],
            data: Data, drivers: Drivers, services: Services, p: Mapping[str, float]) -> list[str]:
    """One sentence per headline number, about the computed value (and the override, if any)."""
    pool_need, fpm, workers, large = data.pool_need, services.fpm, services.workers, data.large

    def overridden(key: str, unit: str) -> str:
        return f" (the topology sets {final[key]:g}{unit})" if final[key] != computed[key] else ""

    years = vol.horizon_days / 365
    out = [
        f"Holds {_count(vol.now)} attributes now ({_count(vol.own_stock)} own, {_count(vol.sync_stock)} "
        f"from sync) and {_count(vol.horizon)} after {years:g} years at {_count(vol.per_day)}/day "
        f"({_count(vol.own_per_day)} own, {_count(vol.feeders_per_day)} feeders, "
        f"{_count(vol.sync_per_day)} sync).",
    ]
    if crosses == 0:
        out.append("Already above 50M attributes: provisioning changes at that size "
                   "(docs/misp-behaviour.md#hardware-guidance, #above-50m-attributes).")
    elif crosses is not None and crosses <= vol.horizon_days:
        out.append(f"Crosses 50M attributes in {crosses} days, within the horizon "
                   f"(docs/misp-behaviour.md#hardware-guidance).")
    out.append(_disk_reason(computed, overridden("disk_gib", " GiB"), load, data, drivers, p))
    out.append(f"RAM {computed['ram_gib']} GiB{overridden('ram_gib', ' GiB')}: a buffer pool of at least "
               f"{gib(pool_need / GIB)} for the hot working set, {fpm} PHP children, "
               f"{sum(workers.values())} workers and Redis.")
    out.append(f"{computed['vcpu']} vCPU{overridden('vcpu', '')} for {load.users} users, "
               f"{_count(vol.horizon)} attributes to search, {_count(data.correlations)} correlations "
               f"and {_count(vol.per_day)}/day of ingest.")
    if final["database"] != computed["database"]:
        out.append(f"Database {final['database']}, as the topology sets (the model advises {computed['database']}: "
                   "a dedicated host above 50M attributes at the horizon, "
                   "docs/misp-behaviour.md#above-50m-attributes).")
    elif final["database"] == "dedicated":
        out.append("Database on its own host: above 50M attributes at the horizon or a very large buffer pool "
                   "(docs/misp-behaviour.md#above-50m-attributes).")
    else:
        out.append("Database on the MISP host: below 50M attributes at the horizon "
                   "(docs/misp-behaviour.md#above-50m-attributes).")
    out.append(f"Workers: {workers['default']} default for "
               f"{plural(load.initiated_jobs, 'server entry', 'server entries')} and {plural(load.feeds, 'feed')}, "
               f"{workers['prio']} prio for "
               f"{plural(load.pushes, 'pushing entry', 'pushing entries')} (docs/misp-behaviour.md#workers).")
    out.append(f"Redis {computed['redis_gib']:g} GiB{overridden('redis_gib', ' GiB')}: cache, sessions and jobs, "
               f"{plural(load.feeds, 'cached feed')} at ~1.2 GB for all 84 default feeds "
               f"(docs/misp-behaviour.md#default-feeds) and "
               f"{_count(load.cached_attributes)} cached sync values.")
    if large:
        out.append("PHP memory_limit and max_execution_time raised for large exports "
                   "(docs/misp-behaviour.md#hardware-guidance).")
    if drivers.largest_event:
        out.append(f"The largest event holds {_count(drivers.largest_event)} attributes: MISP asks for "
                   f"{drivers.php_memory_need_mib} MB of PHP memory to load it (Event::fetchEvent, "
                   "MISP.default_attribute_memory_coefficient / MISP.default_event_memory_divisor, "
                   "MISP/MISP#10171).")
    return out


def correlation_of(estate: Estate, inst: Instance, load: Load, drivers: Drivers, data: Data,
                   p: Mapping[str, float], overrides: list[str]) -> dict[str, Any]:
    """:func:`correlation_advice`, with the engine the topology chooses (`correlation:` or the
    instance's settings, noted in ``overrides`` when it differs from the advice), and what the
    correlations weigh."""
    correlation = correlation_advice(estate, inst, load, data.large, p)
    chosen = {"on": "Default", "noacl": "NoAcl"}.get(drivers.correlation or "")
    explicit = str(inst.settings[CORRELATION_ENGINE_SETTING]) if CORRELATION_ENGINE_SETTING in inst.settings else chosen
    if explicit is not None:
        if explicit != correlation["engine"]:
            overrides.append(f"correlation engine: {explicit} from the topology (advised {correlation['engine']})")
        correlation["engine"] = explicit
    correlation["enabled"] = drivers.correlation != "off"
    if not correlation["enabled"]:
        correlation["advice"] = [f"correlation is off ({CORRELATION_OFF_SETTING}): no correlation tables, "
                                 "no correlation cost"]
    correlation["per_attribute"] = drivers.correlations_per_attribute
    correlation["count_at_horizon"] = round(data.correlations)
    correlation["tables"] = drivers.era
    return correlation
