"""Hosts: vCPU, RAM and disk of an instance, the database on its host or its own, and overrides.

One job: from the horizon volume, the load and the services' needs, the resources of the instance
(docs/misp-behaviour.md#hardware-guidance, #database-php-redis, #above-50m-attributes), each a monotone formula so
that more data or more users never lowers
a recommendation; then the topology's ``sizing:`` overrides, and the split of the total between
the MISP host and a dedicated database host, with the buffer pool the database gets. O(1) per
instance.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from planner.misp import VOLUME_THRESHOLD_ATTRIBUTES
from planner.model import SizingOverrides
from planner.sizing.drivers import Drivers
from planner.sizing.parameters import GIB, MIB, ceil_to, even
from planner.sizing.services import Services
from planner.sizing.sources import Load
from planner.sizing.volume import Volume


@dataclass(frozen=True)
class Data:
    """What the horizon volume takes on disk and in the buffer pool."""

    attributes: int  # at the horizon
    large: bool  # at least 50M attributes at the horizon
    attribute_bytes: float  # attributes, tags, events, objects
    correlation_bytes: float
    logs_bytes: float
    attachment_share: float
    attachment_bytes: float
    pool_need: float  # the buffer pool for the hot working set
    correlations: float

    @property
    def database_bytes(self) -> float:
        """Everything MariaDB holds but the logs."""
        return self.attribute_bytes + self.correlation_bytes


def correlation_bytes_each(drivers: Drivers, p: Mapping[str, float]) -> float:
    return p["correlation_bytes_legacy" if drivers.era == "legacy" else "correlation_bytes_compact"]


def data_needs(vol: Volume, load: Load, drivers: Drivers, p: Mapping[str, float]) -> Data:
    n = vol.horizon
    # Disk (docs/misp-behaviour.md#hardware-guidance drivers: data, correlation ratio, attachments,
    # logs, age).
    attribute_bytes = n * p["database_bytes_per_attribute"]
    correlation_bytes = drivers.correlations * correlation_bytes_each(drivers, p)
    db_bytes = attribute_bytes + correlation_bytes
    attachment_share = p["attachments_share_of_database"] + (p["sandbox_attachment_share"] if load.sandbox else 0)
    # Memory: the hot working set in the buffer pool (docs/misp-behaviour.md#database-php-redis, #above-50m-attributes).
    # Capped at what one host should carry: beyond it the dataset belongs on several instances
    # (docs/misp-behaviour.md#above-50m-attributes), which MP250 advises.
    pool_need = min(p["buffer_pool_max_bytes"],
                    max(p["buffer_pool_min_bytes"], db_bytes * p["buffer_pool_share_of_database"]))
    logs = drivers.log_bytes + db_bytes * p["logs_share_of_database"]
    return Data(n, n >= VOLUME_THRESHOLD_ATTRIBUTES, attribute_bytes, correlation_bytes, logs,
                attachment_share, attribute_bytes * attachment_share, pool_need, drivers.correlations)


def advised_database(data: Data, p: Mapping[str, float]) -> str:
    """A dedicated database host above 50M attributes at the horizon or for a very large pool."""
    dedicated = (data.attributes >= p["dedicated_db_attributes"]
                 or data.pool_need >= p["dedicated_db_buffer_pool_gib"] * GIB)
    return "dedicated" if dedicated else "local"


def chosen_database(override: SizingOverrides, advised: str, overrides: list[str]) -> str:
    """The topology's database placement if it sets one (noted in ``overrides``), else the advice."""
    if override.database is not None and override.database != advised:
        overrides.append(f"database: {override.database} (computed {advised})")
    return override.database if override.database is not None else advised


@dataclass(frozen=True)
class Totals:
    """The computed resources of an instance, and how a dedicated database splits them."""

    ram_gib: int
    vcpu: int
    disk_gib: int
    app_bytes: float  # RAM of everything but the buffer pool
    # With a dedicated database (zero otherwise): the MISP host's RAM, the database host's least
    # RAM, and the parts of vCPU and disk.
    misp_ram: int = 0
    db_ram_min: int = 0
    misp_vcpu: int = 0
    db_vcpu: int = 0
    misp_disk: int = 0
    db_disk: int = 0


def ram_gib_for(bytes_: float, p: Mapping[str, float]) -> int:
    return int(max(p["ram_min_gib"], ceil_to(bytes_ / GIB, p["ram_round_gib"])))


def host_totals(data: Data, services: Services, load: Load, vol: Volume, database: str,
                p: Mapping[str, float]) -> Totals:
    """The resources of the instance. With a dedicated database the MISP host gets the application
    memory and the database host the rest (the pool), so that the web host never carries it."""
    app_bytes = (p["os_ram_gib"] * GIB + services.fpm * p["php_child_rss_mib"] * MIB
                 + services.worker_total * p["worker_rss_mib"] * MIB + services.redis_bytes)
    pool_need = data.pool_need
    local_ram = ram_gib_for(max(pool_need / p["ram_share_buffer_pool_local"], pool_need + app_bytes), p)

    # vCPU: users, data to search, correlations and daily ingest (docs/misp-behaviour.md#hardware-guidance
    # reference points, MISP/MISP#7396). The shares add up before rounding: a tiny instance needs no
    # whole core for each.
    cpu_users = load.users / p["users_per_vcpu"]
    cpu_data = data.attributes / p["attributes_per_vcpu"] + data.correlations / p["correlations_per_vcpu"]
    cpu_ingest = vol.per_day / p["inflow_per_vcpu_per_day"]
    vcpu_min, vcpu_max = int(p["vcpu_min"]), int(p["vcpu_max"])
    local_vcpu = min(vcpu_max, even(max(vcpu_min, math.ceil(cpu_users + cpu_data + cpu_ingest - 1e-9))))
    headroom = p["disk_headroom"]
    base_disk = p["disk_base_gib"] * GIB
    if database != "dedicated":
        disk = int(ceil_to(base_disk / GIB + (data.database_bytes + data.logs_bytes + data.attachment_bytes)
                           * headroom / GIB, p["disk_round_gib"]))
        return Totals(local_ram, local_vcpu, disk, app_bytes)
    # The database host gets at least the pool the working set needs, and never a smaller pool
    # than the same instance would get with a local database (so growing never shrinks it).
    misp_ram = ram_gib_for(app_bytes, p)
    local_pool = local_ram * GIB * p["ram_share_buffer_pool_local"]
    db_ram_min = ram_gib_for(max(pool_need, local_pool) / p["ram_share_buffer_pool_dedicated"], p)
    misp_vcpu = min(vcpu_max, even(max(vcpu_min, math.ceil(cpu_users + cpu_ingest - 1e-9))))
    db_vcpu = min(vcpu_max, even(max(vcpu_min, math.ceil(cpu_data - 1e-9))))
    misp_disk = int(ceil_to(base_disk / GIB + data.attachment_bytes * headroom / GIB, p["disk_round_gib"]))
    db_disk = int(ceil_to(base_disk / GIB + (data.database_bytes + data.logs_bytes) * headroom / GIB,
                          p["disk_round_gib"]))
    # RAM is the two hosts' sum, which can be less than one host's: the pool takes 3/4 of a database
    # host of its own instead of 1/2 of a shared one. vCPU never drops below the single host's.
    return Totals(misp_ram + db_ram_min, max(local_vcpu, misp_vcpu + db_vcpu),
                  misp_disk + db_disk, app_bytes, misp_ram, db_ram_min, misp_vcpu, db_vcpu, misp_disk, db_disk)


@dataclass(frozen=True)
class Final:
    """The resources after the topology's overrides."""

    ram_gib: int
    disk_gib: int
    vcpu: int
    redis_gib: float


def overridden(override: SizingOverrides, totals: Totals, redis_need_gib: float, overrides: list[str]) -> Final:
    """The topology's ``sizing:`` values where it sets them, each noted in ``overrides``."""
    ram, disk, vcpu, redis_gib = totals.ram_gib, totals.disk_gib, totals.vcpu, redis_need_gib
    o = override
    if o.ram is not None:
        value = o.ram / GIB
        overrides.append(f"ram: {value:g} GiB (computed {ram} GiB)")
        ram = math.ceil(value) if value >= 1 else 1
    if o.disk is not None:
        value = o.disk / GIB
        overrides.append(f"disk: {value:g} GiB (computed {disk} GiB)")
        disk = math.ceil(value)
    if o.vcpu is not None:
        overrides.append(f"vcpu: {o.vcpu} (computed {vcpu})")
        vcpu = o.vcpu
    if o.redis is not None:
        value = o.redis / GIB
        overrides.append(f"redis: {value:g} GiB (computed {redis_need_gib:g} GiB)")
        redis_gib = round(value, 3)
    return Final(ram, disk, vcpu, redis_gib)


def split_hosts(override: SizingOverrides, database: str, totals: Totals, final: Final, pool_need: float,
                p: Mapping[str, float]) -> tuple[dict[str, dict[str, int]], float]:
    """(hosts, buffer pool bytes): where the total goes. The buffer pool takes its share of the host
    running MariaDB (installers give it 50% of RAM, docs/misp-behaviour.md#database-php-redis), never less than the
    working
    set would need unless an override made the host too small (then MP302 warns)."""
    o, ram, vcpu, disk = override, final.ram_gib, final.vcpu, final.disk_gib
    if database == "dedicated":
        if o.ram is None:
            # The MISP host gets the application memory and nothing more: the web host never carries
            # the buffer pool. The database host gets the pool at its dedicated share, sized from the
            # working set alone (so that more users never shrink it).
            misp_host_ram = totals.misp_ram
            db_host_ram = ram - misp_host_ram
            pool = totals.db_ram_min * GIB * p["ram_share_buffer_pool_dedicated"]
        else:
            misp_host_ram = min(ram_gib_for(totals.app_bytes, p), max(1, ram // 2))
            db_host_ram = ram - misp_host_ram
            pool = db_host_ram * GIB * p["ram_share_buffer_pool_dedicated"]
        # An override of the total is split in the computed proportions.
        misp_vcpu, db_vcpu, misp_disk, db_disk = totals.misp_vcpu, totals.db_vcpu, totals.misp_disk, totals.db_disk
        host_vcpu = misp_vcpu if o.vcpu is None else max(1, round(vcpu * misp_vcpu / (misp_vcpu + db_vcpu)))
        host_disk = misp_disk if o.disk is None else max(1, round(disk * misp_disk / (misp_disk + db_disk)))
        hosts = {
            "misp": {"ram_gib": misp_host_ram, "vcpu": host_vcpu, "disk_gib": host_disk},
            "database": {"ram_gib": db_host_ram, "vcpu": max(1, vcpu - host_vcpu),
                         "disk_gib": max(1, disk - host_disk)},
        }
    else:
        pool = ram * GIB * p["ram_share_buffer_pool_local"]
        hosts = {"misp": {"ram_gib": ram, "vcpu": vcpu, "disk_gib": disk}}
    if o.ram is None:
        pool = max(pool, pool_need)
    return hosts, pool


def disk_growth_gib_per_year(vol: Volume, data: Data, drivers: Drivers, p: Mapping[str, float]) -> float:
    """Database, logs and attachments added per year at today's rate (access logs stop growing once a
    retention deletes as much as is written; the event history never does)."""
    database = (p["database_bytes_per_attribute"]
                + drivers.correlations_per_attribute * correlation_bytes_each(drivers, p))
    per_attribute = (database * (1 + p["logs_share_of_database"])
                     + p["database_bytes_per_attribute"] * data.attachment_share)
    logs = drivers.log_history_bytes_per_day if drivers.log_retention_days is not None else drivers.log_bytes_per_day
    return (vol.per_day * per_attribute + logs) * 365 / GIB
