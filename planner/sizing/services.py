"""Service settings: PHP-FPM children, background workers, Redis, and the MariaDB and PHP settings.

One job: what the services on an instance need (from its load) and the settings written for them
(from the buffer pool its host gives MariaDB). O(1) per instance.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from planner.sizing.parameters import GIB, MIB, ceil_to
from planner.sizing.sources import Load

BUFFER_POOL_CHUNK = 128 * MIB  # innodb_buffer_pool_chunk_size default: the pool is a multiple of it
PHP_MEMORY_STEP_MIB = 256  # a raised memory_limit is rounded up to this


@dataclass(frozen=True)
class Services:
    """What the services of one instance need, before any host is sized."""

    fpm: int  # PHP-FPM children
    workers: dict[str, int]  # background workers per queue
    redis_bytes: float
    redis_need_gib: float

    @property
    def worker_total(self) -> int:
        return sum(self.workers.values())


def service_needs(load: Load, p: Mapping[str, float]) -> Services:
    # PHP-FPM children: busy-hour users plus one request per link, consumer and API tool.
    fpm = max(int(p["fpm_children_min"]),
              math.ceil(load.users * p["concurrent_user_share"])
              + math.ceil(p["requests_per_link"] * (load.links + load.consumers + load.api_feeders)))

    # Background workers per queue (docs/misp-behaviour.md#workers).
    workers = {
        "default": max(int(p["workers_default_min"]), 1 + load.initiated_jobs + load.feeds),
        "prio": max(int(p["workers_prio_min"]), 1 + load.pushes),
        "email": max(int(p["workers_email_min"]), math.ceil(load.users / p["users_per_email_worker"])),
        "cache": max(int(p["workers_cache_min"]), math.ceil(load.users / p["users_per_cache_worker"])),
        "update": int(p["workers_update"]),
    }

    # Redis: base + feed caches (~1.2 GB for all default feeds, docs/misp-behaviour.md#default-feeds) + server caches.
    per_feed = p["redis_all_default_feeds_bytes"] / p["default_feed_count"]
    redis_bytes = (p["redis_base_gib"] * GIB + load.feeds * per_feed
                   + load.cached_attributes * p["redis_bytes_per_cached_value"]) * p["redis_headroom"]
    return Services(fpm, workers, redis_bytes, ceil_to(redis_bytes / GIB, 0.25))


def mariadb_settings(pool: float, services: Services, p: Mapping[str, float]) -> dict[str, int]:
    """The MariaDB settings for a buffer pool of ``pool`` bytes (rounded to whole chunks)."""
    pool_bytes = max(BUFFER_POOL_CHUNK, int(pool // BUFFER_POOL_CHUNK) * BUFFER_POOL_CHUNK)
    log_file = max(p["innodb_log_file_min_bytes"],
                   min(p["innodb_log_file_max_bytes"], pool_bytes * p["innodb_log_file_share_of_buffer_pool"]))
    return {
        "innodb_buffer_pool_size": pool_bytes,
        "innodb_log_file_size": int(ceil_to(log_file, MIB)),
        "innodb_io_capacity": int(p["innodb_io_capacity"]),
        "innodb_io_capacity_max": int(p["innodb_io_capacity_max"]),
        "innodb_buffer_pool_instances": int(max(1, min(p["buffer_pool_instances_max"], pool_bytes // GIB))),
        "max_connections": int(max(p["max_connections_min"],
                                   services.fpm + services.worker_total + p["max_connections_margin"])),
    }


def php_settings(fpm: int, large: bool, largest_event: int, memory_need_mib: int,
                 p: Mapping[str, float]) -> dict[str, Any]:
    """The PHP settings: limits raised for large exports above 50M attributes, and for the largest
    event (what MISP itself asks for to load it, and the time to load it)."""
    memory = max(p["php_memory_limit_large_mib" if large else "php_memory_limit_mib"],
                 ceil_to(memory_need_mib, PHP_MEMORY_STEP_MIB))
    seconds = max(p["php_max_execution_time_large" if large else "php_max_execution_time"],
                  ceil_to(largest_event / p["attributes_per_second_loaded"], 60))
    return {
        "memory_limit": f"{int(memory)}M",
        "max_execution_time": int(seconds),
        "fpm_max_children": fpm,
        "upload_max_filesize": f"{int(p['php_upload_max_mib'])}M",
        "post_max_size": f"{int(p['php_upload_max_mib'])}M",
    }
