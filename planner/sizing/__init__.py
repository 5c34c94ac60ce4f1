"""How big each managed instance must be, derived from the topology (issue 4, docs/misp-behaviour.md#sizing).

The model in three steps (docs/sizing.md explains it for architects):

1. **Volume flow** (:func:`volumes`, :mod:`~planner.sizing.volume`). An instance holds its own
   stock and growth, what its feeders write, and what sync brings in. Sync inflow comes from the
   propagation engine (:mod:`planner.flows`, through :mod:`~planner.sizing.inflow`): for every
   source (instance or feeder) and distribution level, the instances an event reaches receive that
   level's share of the source's data. Shares and the share of events passing a tag include-filter
   are named parameters (``planner/data/sizing.yaml``, overridable with
   ``defaults.sizing_parameters``, :mod:`~planner.sizing.parameters`).
2. **Resources** (:func:`size_instance`): disk, RAM, vCPU and the database placement
   (:mod:`~planner.sizing.hosts`), MariaDB, PHP, workers and Redis
   (:mod:`~planner.sizing.services`) and correlation advice (:mod:`~planner.sizing.advice`), each a
   monotone formula of the horizon volume, users and links, so more data or more users never lowers
   a recommendation.
3. **Overrides**: ``sizing:`` in the topology wins over computed values and is listed.

Every constant lives in the data file with its source; the modules hold only formulas. Output
formats: :mod:`~planner.sizing.output`. Complexity: the volume flow dominates (see
:mod:`~planner.sizing.inflow`); each instance's resources are O(1) after it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from planner.estate import Estate
from planner.sizing.advice import correlation_advice, correlation_of, reasons
from planner.sizing.drivers import Drivers, drivers_of
from planner.sizing.hosts import (
    Data,
    advised_database,
    chosen_database,
    data_needs,
    disk_growth_gib_per_year,
    host_totals,
    overridden,
    split_hosts,
)
from planner.sizing.inflow import pass_tags, sync_inflow
from planner.sizing.output import COLUMNS, print_sizing_table, sizing_json_text, sizing_markdown, summary_rows
from planner.sizing.parameters import (
    GIB,
    LEVEL_SHARE,
    MIB,
    ParameterSpec,
    effective_parameters,
    parameter_problems,
    parameter_specs,
    topology_parameters,
)
from planner.sizing.result import EstateSizing, InstanceSizing, iter_sized
from planner.sizing.services import mariadb_settings, php_settings, service_needs
from planner.sizing.sources import Load, cache_only, feeders_into, instance_load, own_stock
from planner.sizing.volume import Volume, crosses_in_days, volume_class, volumes

__all__ = ["COLUMNS", "GIB", "LEVEL_SHARE", "MIB", "EstateSizing", "InstanceSizing", "Load", "ParameterSpec",
           "Volume", "correlation_advice", "crosses_in_days", "effective_parameters", "feeders_into",
           "instance_load", "iter_sized", "own_stock", "parameter_problems", "parameter_specs",
           "print_sizing_table", "size_estate", "size_instance", "sizing_json_text", "sizing_markdown",
           "summary_rows", "sync_inflow", "topology_parameters", "volumes"]

# The names tests/test_sizing_inflow.py imports.
_cache_only, _pass_tags = cache_only, pass_tags


def size_estate(estate: Estate) -> EstateSizing:
    """Sizing of every managed instance of the estate (computed once per estate object: the
    command, the rules and the renderers all ask, and an Estate is not changed after resolution)."""
    return estate.memo("sizing", _size_estate)


def _size_estate(estate: Estate) -> EstateSizing:
    params = effective_parameters(estate)
    vols = volumes(estate, params)
    sized = {iid: size_instance(estate, iid, vols, params)
             for iid in sorted(estate.instances) if estate.instances[iid].managed}
    return EstateSizing(sized, params, vols)


def size_instance(estate: Estate, iid: str, vols: Mapping[str, Volume], params: Mapping[str, float]) -> InstanceSizing:
    """One managed instance: what its data and services need, its hosts after the topology's
    overrides (each listed), their settings, and the reasons."""
    inst, vol, p = estate.instances[iid], vols[iid], params
    load = instance_load(estate, iid, vols)
    drivers = drivers_of(estate, iid, vol, load.users, p)
    data = data_needs(vol, load, drivers, p)
    services = service_needs(load, p)
    overrides: list[str] = []
    advised = advised_database(data, p)
    database = chosen_database(inst.sizing, advised, overrides)
    totals = host_totals(data, services, load, vol, database, p)
    final = overridden(inst.sizing, totals, services.redis_need_gib, overrides)
    hosts, pool = split_hosts(inst.sizing, database, totals, final, data.pool_need, p)
    correlation = correlation_of(estate, inst, load, drivers, data, p, overrides)
    crosses = crosses_in_days(vol)
    computed = {"ram_gib": totals.ram_gib, "disk_gib": totals.disk_gib, "vcpu": totals.vcpu,
                "redis_gib": services.redis_need_gib, "database": advised}
    chosen = {"ram_gib": final.ram_gib, "disk_gib": final.disk_gib, "vcpu": final.vcpu,
              "redis_gib": final.redis_gib, "database": database}
    return InstanceSizing(
        instance=iid, volume=vol, volume_class=volume_class(vol.now), volume_class_at_horizon=volume_class(vol.horizon),
        crosses_50m_in_days=crosses, vcpu=final.vcpu, ram_gib=final.ram_gib, disk_gib=final.disk_gib,
        disk_growth_gib_per_year=round(disk_growth_gib_per_year(vol, data, drivers, p), 1), database=database,
        hosts=hosts, storage=storage_of(data), largest_event=drivers.largest_event,
        php_memory_need_mib=drivers.php_memory_need_mib, logs=logs_of(drivers),
        mariadb=mariadb_settings(pool, services, p),
        php=php_settings(services.fpm, data.large, drivers.largest_event, drivers.php_memory_need_mib, p),
        workers=services.workers, redis_gib=final.redis_gib, redis_needed_gib=services.redis_need_gib,
        correlation=correlation, overrides=overrides,
        reasons=reasons(vol, load, crosses, computed, chosen, data, drivers, services, p), computed=computed,
    )


def storage_of(data: Data) -> dict[str, float]:
    """What the disk holds at the horizon, in GiB (one decimal)."""
    return {"attributes_gib": round(data.attribute_bytes / GIB, 1),
            "correlations_gib": round(data.correlation_bytes / GIB, 1),
            "logs_gib": round(data.logs_bytes / GIB, 1), "attachments_gib": round(data.attachment_bytes / GIB, 1)}


def logs_of(drivers: Drivers) -> dict[str, Any]:
    """The log volume's drivers and the retention the clean-up job enforces (None: kept for ever)."""
    return {"retention_days": None if drivers.log_retention_days is None else round(drivers.log_retention_days, 1),
            "gib_per_day": round(drivers.log_bytes_per_day / GIB, 3),
            "sync_jobs_per_day": round(drivers.sync_jobs_per_day, 1),
            "api_polls_per_day": round(drivers.api_polls_per_day, 1)}
