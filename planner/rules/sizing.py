"""Sizing findings (MP3xx): volume thresholds, overrides below what the model computes, Redis for
feed caching, and invalid sizing parameters. The numbers come from planner.sizing."""

from __future__ import annotations

from collections.abc import Iterator

from planner.diagnostics import Finding, Severity
from planner.estate import Estate
from planner.misp import VOLUME_THRESHOLD_ATTRIBUTES
from planner.rules import rule
from planner.sizing import LEVEL_SHARE, effective_parameters, parameter_problems, size_estate, topology_parameters
from planner.units import format_count


@rule("MP301", Severity.WARNING, "Instance crosses 50 million attributes within the horizon", """
    Provisioning a MISP instance depends heavily on whether its dataset is below or above ~50
    million attributes (docs/misp-behaviour.md#hardware-guidance, the CIRCL deployment deck).
    Above it, bulk feeders belong on separate instances, correlation needs NoAcl/exclusions/an
    explicit limit, and the database may need its own host
    (docs/misp-behaviour.md#above-50m-attributes). An instance that starts below and grows past it
    within the sizing horizon should be designed for the larger class now, or split before it gets
    there. The planner's sizing is that of the horizon volume already (a dedicated database host,
    raised PHP limits): the decision left to the reader is whether the instance should cross at all.""")
def crosses_threshold(estate: Estate) -> Iterator[Finding]:
    sizing = size_estate(estate)
    for iid, sized in sorted(sizing.instances.items()):
        days = sized.crosses_50m_in_days
        vol = sized.volume
        if days is None or days == 0 or days > vol.horizon_days:
            continue
        yield estate.finding(
            "MP301", Severity.WARNING,
            f"instance '{iid}' grows from {format_count(vol.now)} to {format_count(VOLUME_THRESHOLD_ATTRIBUTES)} "
            f"attributes in about {days} days{_when(days)} at {format_count(vol.per_day)}/day, "
            f"within the {vol.horizon_days / 365:g}-year horizon",
            "the sizing already provisions it for its volume at the horizon (above-50M); to keep it below, "
            f"{_split_advice(estate, iid)} (docs/misp-behaviour.md#above-50m-attributes); `misp-planner size` shows "
            "where its volume comes from",
            ("instances", iid))


def _split_advice(estate: Estate, iid: str) -> str:
    """How to keep the instance below the threshold: an ingest instance already is the separate
    instance the advice asks for, so its feeders are spread over more of them."""
    if estate.instances[iid].purpose == "ingest":
        return "spread its feeders over more ingest instances"
    return "keep bulk feeders and low-value data on a separate instance"


def _when(days: int) -> str:
    if days >= 365:
        return f" ({days / 365:.1f} years)"
    if days >= 60:
        return f" (~{round(days / 30)} months)"
    return ""


@rule("MP302", Severity.WARNING, "Sizing override below the computed minimum", """
    `sizing:` overrides win over the computed values. RAM below the computed value means the
    MariaDB buffer pool no longer holds the hot working set (docs/misp-behaviour.md#database-php-redis,
    #above-50m-attributes: the database
    performs far better when its indexes fit in memory); disk below it runs out before the horizon
    at ~2.5 KB per attribute plus its correlations and logs (docs/sizing.md).""")
def override_below_minimum(estate: Estate) -> Iterator[Finding]:
    sizing = size_estate(estate)
    for iid, sized in sorted(sizing.instances.items()):
        override = estate.instances[iid].sizing
        for key, value, unit in (("ram", override.ram, "ram_gib"), ("disk", override.disk, "disk_gib")):
            if value is None:
                continue
            computed = sized.computed[unit]
            gib = value / 2**30
            if gib < computed:
                yield estate.finding(
                    "MP302", Severity.WARNING,
                    f"instance '{iid}' sets sizing.{key} to {gib:g} GiB, below the {computed} GiB the model "
                    f"computes for {format_count(sized.volume.horizon)} attributes at the horizon",
                    f"raise sizing.{key} to at least {computed}GiB, or lower the volume it receives; "
                    "`misp-planner size` lists the reasons",
                    ("instances", iid, "sizing", key))


@rule("MP303", Severity.WARNING, "Feed or server caching without the Redis memory for it", """
    Cached feeds and servers keep their values in Redis: caching all default feeds takes ~1.2 GB
    (docs/misp-behaviour.md#default-feeds, #hardware-guidance), and a sync server with caching enabled caches the
    remote's values. A
    `sizing.redis` override below what the instance's cached feeds and servers need makes Redis
    evict or refuse writes, and feed lookups silently miss.""")
def redis_for_caching(estate: Estate) -> Iterator[Finding]:
    sizing = size_estate(estate)
    caching = {f.into for f in estate.feeders.values() if f.via == "feed"}
    caching |= {c.initiator for c in estate.connections if c.caching}
    for iid, sized in sorted(sizing.instances.items()):
        override = estate.instances[iid].sizing.redis
        if override is None or iid not in caching:
            continue
        gib = override / 2**30
        if gib < sized.redis_needed_gib:
            yield estate.finding(
                "MP303", Severity.WARNING,
                f"instance '{iid}' caches feeds or servers but sets sizing.redis to {gib:g} GiB, below the "
                f"{sized.redis_needed_gib:g} GiB its caches need",
                f"raise sizing.redis to at least {sized.redis_needed_gib:g}GiB, or cache fewer feeds",
                ("instances", iid, "sizing", "redis"))


@rule("MP304", Severity.ERROR, "Unknown or out-of-range sizing parameter", """
    `defaults.sizing_parameters` overrides the named assumptions of the sizing model
    (planner/data/sizing.yaml, docs/sizing.md). A misspelt name would silently change nothing, and
    a share above 1 or a negative size has no meaning, so both are errors.""")
def sizing_parameters(estate: Estate) -> Iterator[Finding]:
    for name, message, hint in parameter_problems(estate):
        yield estate.finding("MP304", Severity.ERROR, message, hint,
                             ("defaults", "sizing_parameters", name))


@rule("MP305", Severity.WARNING, "Distribution shares do not add up to 1", """
    The sizing model splits each instance's own data over the five distribution levels of MISP
    (docs/misp-behaviour.md#distribution-levels) with the parameters share_organisation, share_community,
    share_connected,
    share_all and share_sharing_group. When overrides make them add up to more than 1, data is
    counted more than once; to less than 1, part of it vanishes from every instance's inflow.""")
def shares_add_up(estate: Estate) -> Iterator[Finding]:
    given = topology_parameters(estate)
    if not any(name in given for name in LEVEL_SHARE.values()):
        return
    values = effective_parameters(estate)
    total = sum(values[name] for name in LEVEL_SHARE.values())
    if abs(total - 1) > 1e-6:
        first = next(name for name in LEVEL_SHARE.values() if name in given)
        yield estate.finding(
            "MP305", Severity.WARNING,
            f"the five distribution shares add up to {total:g}, not 1",
            "adjust the share_* overrides so that they add up to 1 (docs/sizing.md §2)",
            ("defaults", "sizing_parameters", first))


@rule("MP306", Severity.WARNING, "The largest event needs more PHP memory than the MISP host has", """
    MISP loads a whole event in one PHP process, and estimates what that takes itself: it fits
    MISP.default_attribute_memory_coefficient / MISP.default_event_memory_divisor attributes (80 / 3 by
    default) in each MB of memory_limit, and refuses the event with "Event fetch potential memory
    exhaustion ... Consider raising the PHP max_memory setting" otherwise (Event::fetchEvent;
    MISP/MISP#10171: one event holding a whole IP list asked for 33 GB). The planner raises
    memory_limit to what MISP asks, but a limit above the host's RAM swaps and crashes the host:
    split the event (one event per day or per source), or give the MISP host that memory.""")
def largest_event_memory(estate: Estate) -> Iterator[Finding]:
    sizing = size_estate(estate)
    for iid, sized in sorted(sizing.instances.items()):
        need_gib = sized.php_memory_need_mib / 1024
        host_gib = sized.hosts["misp"]["ram_gib"]
        if need_gib <= host_gib:
            continue
        yield estate.finding(
            "MP306", Severity.WARNING,
            f"instance '{iid}' receives an event of {format_count(sized.largest_event)} attributes: MISP asks for "
            f"{sized.php_memory_need_mib}M of PHP memory to load it, more than the {host_gib} GiB of its MISP host",
            "split the event (one per day or per source), or give the MISP host that memory with sizing.ram",
            _largest_event_path(estate, iid, sized.largest_event))


def _largest_event_path(estate: Estate, iid: str, largest: int) -> tuple[str | int, ...]:
    """Where the largest event is written: the instance's volume, or the feeder that writes it."""
    if estate.instances[iid].largest_event == largest:
        return ("instances", iid, "volume", "largest_event")
    for fid in sorted(estate.feeders):
        if estate.feeders[fid].into == iid and estate.feeders[fid].largest_event == largest:
            return ("feeders", fid, "largest_event")
    return ("instances", iid)


def sizing_findings(estate: Estate) -> list[Finding]:
    """The MP3xx findings alone, for the `size` command (validate and lint run every rule)."""
    checks = (crosses_threshold, override_below_minimum, redis_for_caching, sizing_parameters, shares_add_up,
              largest_event_memory)
    return [finding for check in checks for finding in check(estate)]
