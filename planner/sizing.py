"""How big each managed instance must be, derived from the topology (issue 4, REFERENCE §7).

The model in three steps, each a function below (docs/sizing.md explains it for architects):

1. **Volume flow** (:func:`volumes`). An instance holds its own stock and growth, what its feeders
   write, and what sync brings in. Sync inflow comes from the propagation engine
   (:mod:`planner.flows`): for every source (instance or feeder) and distribution level, the
   instances an event reaches receive that level's share of the source's data. Shares and the
   share of events passing a tag include-filter are named parameters (``planner/data/sizing.yaml``,
   overridable with ``defaults.sizing_parameters``).
2. **Resources** (:func:`size_instance`): disk, RAM, vCPU, MariaDB, PHP, workers, Redis and
   correlation advice, each a monotone formula of the horizon volume, users and links, so more
   data or more users never lowers a recommendation.
3. **Overrides**: ``sizing:`` in the topology wins over computed values and is listed.

Every constant lives in the data file with its source; this module holds only formulas.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache, reduce
from importlib import resources
from itertools import compress
from operator import add
from typing import Any

from planner.estate import Estate, Instance
from planner.misp import VOLUME_THRESHOLD_ATTRIBUTES, Distribution

GIB = 2**30
MIB = 2**20
SECONDS_PER_DAY = 86400
BUFFER_POOL_CHUNK = 128 * MIB  # innodb_buffer_pool_chunk_size default: the pool is a multiple of it

LEVEL_SHARE = {
    Distribution.ORGANISATION: "share_organisation",
    Distribution.COMMUNITY: "share_community",
    Distribution.CONNECTED: "share_connected",
    Distribution.ALL: "share_all",
    Distribution.SHARING_GROUP: "share_sharing_group",
}


# --- parameters ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ParameterSpec:
    name: str
    value: float
    unit: str
    minimum: float
    maximum: float
    means: str
    source: str


@cache
def parameter_specs() -> dict[str, ParameterSpec]:
    """The data file, parsed once: name -> spec."""
    from ruamel.yaml import YAML

    text = resources.files("planner").joinpath("data/sizing.yaml").read_text(encoding="utf-8")
    data = YAML(typ="safe").load(text)
    return {name: ParameterSpec(name, float(entry["value"]), str(entry["unit"]), float(entry["min"]),
                                float(entry["max"]), str(entry["means"]), str(entry["source"]))
            for name, entry in data["parameters"].items()}


def topology_parameters(estate: Estate) -> dict[str, float]:
    """``defaults.sizing_parameters`` as written (may hold unknown names; rules report them)."""
    return dict(estate.topology.defaults.sizing_parameters)


def parameter_problems(estate: Estate) -> list[tuple[str, str, str]]:
    """(name, message, hint) for every override that is unknown or out of its bounds."""
    import difflib

    specs = parameter_specs()
    problems = []
    for name, value in sorted(topology_parameters(estate).items()):
        spec = specs.get(name)
        if spec is None:
            close = difflib.get_close_matches(name, list(specs), n=1, cutoff=0.6)
            hint = f"did you mean '{close[0]}'?" if close else "see docs/sizing.md for the parameter names"
            problems.append((name, f"unknown sizing parameter '{name}'", hint))
        elif not spec.minimum <= value <= spec.maximum:
            problems.append((name, f"sizing parameter '{name}' = {value:g} is outside "
                                   f"{spec.minimum:g}..{spec.maximum:g}", f"{spec.means} ({spec.unit})"))
    return problems


def effective_parameters(estate: Estate) -> dict[str, float]:
    """Data-file defaults with the topology's valid overrides applied (invalid ones are ignored
    here and reported as findings by planner.rules.sizing)."""
    specs = parameter_specs()
    values = {name: spec.value for name, spec in specs.items()}
    bad = {name for name, _, _ in parameter_problems(estate)}
    for name, value in topology_parameters(estate).items():
        if name not in bad:
            values[name] = float(value)
    return values


# --- volume flow ---------------------------------------------------------------------------------


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


def own_stock(instance: Instance, params: Mapping[str, float]) -> int:
    """The stock the file gives, or the representative stock of its coarse volume class."""
    if instance.attributes:
        return instance.attributes
    if instance.volume_class == "above-50M":
        return int(params["class_stock_above_50m"])
    if instance.volume_class == "below-50M":
        return int(params["class_stock_below_50m"])
    return 0


def _pass_tags(estate: Estate) -> tuple[str, ...]:
    """Tags that pass every include filter and hit no exclude filter: the hypothetical curated
    event that a tag include-filter lets through."""
    include: set[str] = set()
    exclude: set[str] = set()
    for conn in estate.connections:
        for _, _, _, direction in conn.flows():
            include.update(direction.tags.include)
            exclude.update(direction.tags.exclude)
    return tuple(sorted(include - exclude))


def reach_factors(estate: Estate, origin: str, distribution: Distribution, tags: tuple[str, ...],
                  sharing_group: str | None, params: Mapping[str, float],
                  pass_tags: tuple[str, ...] | None = None) -> dict[str, float]:
    """Instance -> share of the origin's events at this level that end up there (origin excluded).

    An instance the engine reaches with the event as described counts fully. When the event
    carries no tags of its own, a tag include-filter would stop it although real events carry
    tags; an instance reached only by an event carrying the tags that pass the include filters
    counts for ``share_tag_include``.
    """
    from planner.flows import engine_of

    engine = engine_of(estate)
    tagged = _pass_tags(estate) if pass_tags is None else pass_tags
    return {engine.names[target]: factor
            for targets, factor in _reach_groups(engine, origin, distribution, tags, sharing_group, params, tagged)
            for target in targets}


def _reach_groups(engine: Any, origin: str, distribution: Distribution, tags: tuple[str, ...],
                  sharing_group: str | None, params: Mapping[str, float],
                  tagged: tuple[str, ...]) -> list[tuple[set[int], float]]:
    """:func:`reach_factors` as (instance indices, factor) groups, disjoint, origin excluded."""
    from planner.flows import Engine, EventSpec, FlowError

    assert isinstance(engine, Engine)
    event = EventSpec(origin, distribution, tags, sharing_group)
    try:
        origin_index = engine.index[engine.resolve(event)[0]]
        if tags or not tagged:
            base, wider = engine.reach_indices(event), set[int]()
        else:
            base, wider = engine.reach_indices_with(event, tagged)
    except FlowError:
        return []  # an event that cannot exist (e.g. a feeder's org outside its group) carries nothing
    base.discard(origin_index)
    groups = [(base, 1.0)]
    if not tags and tagged:
        wider = wider - base
        wider.discard(origin_index)
        groups.append((wider, params["share_tag_include"]))
    return groups


def sync_inflow(estate: Estate, params: Mapping[str, float]) -> dict[str, tuple[float, float]]:
    """Instance -> (stock, per day) arriving through sync from every source in the estate.

    Sources: every instance's own data (managed or not: an external instance's `volume` is its
    outflow), split over distribution levels by the share parameters, and every published feeder
    (its one level and tags). Stock travels like new data: links are assumed bootstrapped by a
    full push or pull, which transfers every published event the link may carry (REFERENCE §1.4,
    §2.4). An `unpublish` push delivers a copy that goes no further (the engine ends the chain).

    Each target's inflow is a float sum, and float sums depend on their order: every target adds
    one term per (source in id order, level, group) it is reached by, always in that order, so
    that results do not depend on how the reaches are computed. Level `all` reaches nearly every
    instance from every source (``N^2`` terms): its reaches come from the engine as one bit set of
    sources per target, and each target's terms are picked and added by C loops (``compress``,
    ``reduce``) in source order, between the few terms of the other levels.
    """
    from planner.flows import bit_bytes, engine_of

    engine = engine_of(estate)  # shared with the other stages
    names: list[str] = engine.names  # instance ids in id order; a target is its index here
    published = params["share_published"]
    tagged = _pass_tags(estate)
    sources = [(sid, own_stock(estate.instances[sid], params) * published,
                estate.instances[sid].growth_per_day * published) for sid in names]
    sources = [(sid, stock, rate) for sid, stock, rate in sources if stock > 0 or rate > 0]
    share_all = params[LEVEL_SHARE[Distribution.ALL]]
    flooding = [sid for sid, _, _ in sources] if share_all > 0 else []

    # Summation order: per source, the levels in LEVEL_SHARE order, the sharing-group level last.
    lanes_levels = (Distribution.ORGANISATION, Distribution.COMMUNITY, Distribution.CONNECTED, Distribution.ALL)
    assert tuple(LEVEL_SHARE) == (*lanes_levels, Distribution.SHARING_GROUP)
    # A term depends on the source, level and factor, not on the target: source k's term of level l
    # (0-3 above) with factor f (0: reached by the untagged event, 1: only by the tagged one) is lane
    # 8k + 2l + f, and a target adds the lanes it picks in lane order. Sharing-group terms (one per
    # group, in group order) come after source k's lanes: at place 8k + 8 among them.
    # A term is complex(stock, rate): complex addition adds the two parts as two float additions, so
    # one sum gives both totals, each exactly as if summed alone (half the loops).
    tag_share = params["share_tag_include"]
    lanes: list[complex] = []
    for _, stock, rate in sources:
        for level in lanes_levels:
            part = params[LEVEL_SHARE[level]]  # the share over one group (the level's only one)
            lanes += (complex(part * 1.0 * stock, part * 1.0 * rate),
                      complex(part * tag_share * stock, part * tag_share * rate))
    picks = [array("I") for _ in names]  # per target: lanes of levels 0-2 (level `all`: from bit sets)
    group_terms: list[list[tuple[int, complex]]] = [[] for _ in names]
    groups_of: dict[str, list[str]] = {}  # org -> the groups it is a member of, in id order
    for gid in sorted(estate.sharing_groups):
        for org in set(estate.sharing_groups[gid].orgs):  # (a list: an org written twice is one member)
            groups_of.setdefault(org, []).append(gid)
    for k, (sid, stock, rate) in enumerate(sources):
        for nth, level in enumerate(lanes_levels[:3]):
            if params[LEVEL_SHARE[level]] <= 0:
                continue
            for f, (targets, _) in enumerate(_reach_groups(engine, sid, level, (), None, params, tagged)):
                for target in targets:
                    picks[target].append(8 * k + 2 * nth + f)
        share = params[LEVEL_SHARE[Distribution.SHARING_GROUP]]
        gids = groups_of.get(estate.instances[sid].host_org, [])
        for gid in gids if share > 0 else ():
            part = share / len(gids)
            for targets, factor in _reach_groups(engine, sid, Distribution.SHARING_GROUP, (), gid, params, tagged):
                entry = (8 * k + 8, complex(part * factor * stock, part * factor * rate))  # one tuple, shared
                for target in targets:
                    group_terms[target].append(entry)

    # Level `all`: which sources' events each target holds, as bit sets over `flooding` (= sources).
    count = len(flooding)
    reached = engine.reach_all_bits(flooding, ()) if count else []
    reached_tagged = engine.reach_all_bits(flooding, tagged) if count and tagged else []
    position = {sid: k for k, sid in enumerate(flooding)}
    width = len(lanes)
    inflow: dict[str, list[float]] = {}
    for v, name in enumerate(names):
        picked = bytearray(width)
        if count:
            mine = 1 << position[name] if name in position else 0  # a source is not its own target
            base = reached[v] & ~mine
            picked[6::8] = bit_bytes(base, count)
            if reached_tagged:
                picked[7::8] = bit_bytes(reached_tagged[v] & ~base & ~mine, count)
        for lane in picks[v]:
            picked[lane] = 1
        total = 0j
        done = 0
        for place, term in group_terms[v]:
            if place > done:
                total = reduce(add, compress(lanes[done:place], picked[done:place]), total)
                done = place
            total += term
        if done:
            total = reduce(add, compress(lanes[done:], picked[done:]), total)
        else:  # no group terms: no copies of the lanes
            total = reduce(add, compress(lanes, picked), total)
        inflow[name] = [total.real, total.imag]
        picks[v], group_terms[v] = array("I"), []  # done with: free as we go

    for fid in sorted(estate.feeders):
        feeder = estate.feeders[fid]
        if not feeder.publish or feeder.rate <= 0 or _cache_only(estate, fid):
            continue
        for targets, factor in _reach_groups(engine, fid, feeder.distribution, tuple(feeder.tags),
                                             feeder.sharing_group, params, tagged):
            for target in targets:
                inflow[names[target]][1] += factor * feeder.rate
    return {iid: (inflow[iid][0], inflow[iid][1]) for iid in estate.instances}


def _cache_only(estate: Estate, feeder_id: str) -> bool:
    feeder = estate.feeders[feeder_id]
    return feeder.via == "feed" and feeder.feed is not None and feeder.feed.cache_only


def feeders_into(estate: Estate, instance_id: str) -> list[str]:
    return _index(estate).feeders.get(instance_id, [])


@dataclass(frozen=True)
class _Index:
    """Per instance: its feeders, its connections and its consumers, built once per estate (a
    national estate has thousands of instances and tens of thousands of connections)."""

    feeders: dict[str, list[str]]
    connections: dict[str, list[Any]]
    consumers: dict[str, int]


def _index(estate: Estate) -> _Index:
    return estate.memo("sizing_index", _make_index)


def _make_index(estate: Estate) -> _Index:
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
    return _Index(feeders, connections, consumers)


def volumes(estate: Estate, params: Mapping[str, float] | None = None) -> dict[str, Volume]:
    """Every instance's volume (managed or not: unmanaged ones matter as sources and cache targets)."""
    params = params if params is not None else effective_parameters(estate)
    inflow = sync_inflow(estate, params)
    days = estate.horizon_seconds / SECONDS_PER_DAY
    result = {}
    for iid in sorted(estate.instances):
        inst = estate.instances[iid]
        # REFERENCE §3.2: a feed that only caches creates no events (it counts for Redis instead).
        feeders = sum(estate.feeders[f].rate for f in feeders_into(estate, iid) if not _cache_only(estate, f))
        result[iid] = Volume(own_stock(inst, params), inst.growth_per_day, feeders,
                             inflow[iid][0], inflow[iid][1], days)
    return result


# --- resources -----------------------------------------------------------------------------------


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


def _ceil_to(value: float, step: float) -> float:
    return math.ceil(value / step - 1e-9) * step if value > 0 else 0.0


def _even(value: int) -> int:
    return value + (value % 2)


def _class(attributes: int) -> str:
    return "above-50M" if attributes >= VOLUME_THRESHOLD_ATTRIBUTES else "below-50M"


def crosses_in_days(volume: Volume) -> int | None:
    """Days until the instance holds 50M attributes: 0 when it already does, None when it never will."""
    if volume.now >= VOLUME_THRESHOLD_ATTRIBUTES:
        return 0
    if volume.per_day <= 0:
        return None
    return math.ceil((VOLUME_THRESHOLD_ATTRIBUTES - volume.now) / volume.per_day)


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
    conns = _index(estate).connections.get(iid, [])
    feeders = feeders_into(estate, iid)
    return Load(
        users=inst.users,
        links=len(conns),
        initiated_jobs=sum(1 for c in conns if c.initiator == iid),
        pushes=sum(1 for c in conns if c.initiator == iid and c.push is not None),
        consumers=_index(estate).consumers.get(iid, 0),
        api_feeders=sum(1 for f in feeders if estate.feeders[f].via == "api"),
        feeds=sum(1 for f in feeders if estate.feeders[f].via == "feed"),
        sandbox=any(estate.feeders[f].kind == "sandbox" for f in feeders),
        low_value_feeders=tuple(f for f in feeders if estate.feeder_value(f) == "low"),
        cached_attributes=sum(vols[c.remote].horizon for c in conns if c.initiator == iid and c.caching),
    )


def size_instance(estate: Estate, iid: str, vols: Mapping[str, Volume], params: Mapping[str, float]) -> InstanceSizing:
    inst = estate.instances[iid]
    p = params
    vol = vols[iid]
    load = instance_load(estate, iid, vols)
    n = vol.horizon
    large = n >= VOLUME_THRESHOLD_ATTRIBUTES
    reasons: list[str] = []

    # Disk (REFERENCE §7.1 drivers: data, attachments, logs, age).
    db_bytes = n * p["database_bytes_per_attribute"]
    logs_bytes = db_bytes * p["logs_share_of_database"]
    attachment_share = p["attachments_share_of_database"] + (p["sandbox_attachment_share"] if load.sandbox else 0)
    attachment_bytes = db_bytes * attachment_share
    headroom = p["disk_headroom"]
    base_disk = p["disk_base_gib"] * GIB

    # Memory: the hot working set in the buffer pool (REFERENCE §7.2, §7.4).
    # Capped at what one host should carry: beyond it the dataset belongs on several instances
    # (REFERENCE §7.4), which MP250 advises.
    pool_need = min(p["buffer_pool_max_bytes"],
                    max(p["buffer_pool_min_bytes"], db_bytes * p["buffer_pool_share_of_database"]))

    # PHP-FPM children: busy-hour users plus one request per link, consumer and API tool.
    fpm = max(int(p["fpm_children_min"]),
              math.ceil(load.users * p["concurrent_user_share"])
              + math.ceil(p["requests_per_link"] * (load.links + load.consumers + load.api_feeders)))

    # Background workers per queue (REFERENCE §6.3).
    workers = {
        "default": max(int(p["workers_default_min"]), 1 + load.initiated_jobs + load.feeds),
        "prio": max(int(p["workers_prio_min"]), 1 + load.pushes),
        "email": max(int(p["workers_email_min"]), math.ceil(load.users / p["users_per_email_worker"])),
        "cache": max(int(p["workers_cache_min"]), math.ceil(load.users / p["users_per_cache_worker"])),
        "update": int(p["workers_update"]),
    }
    worker_total = sum(workers.values())

    # Redis: base + feed caches (~1.2 GB for all default feeds, REFERENCE §3.4) + server caches.
    per_feed = p["redis_all_default_feeds_bytes"] / p["default_feed_count"]
    redis_bytes = (p["redis_base_gib"] * GIB + load.feeds * per_feed
                   + load.cached_attributes * p["redis_bytes_per_cached_value"]) * p["redis_headroom"]
    redis_need_gib = _ceil_to(redis_bytes / GIB, 0.25)
    redis_gib = redis_need_gib

    app_bytes = (p["os_ram_gib"] * GIB + fpm * p["php_child_rss_mib"] * MIB
                 + worker_total * p["worker_rss_mib"] * MIB + redis_bytes)
    ram_round = p["ram_round_gib"]
    ram_min = p["ram_min_gib"]

    def ram_gib_for(bytes_: float) -> int:
        return int(max(ram_min, _ceil_to(bytes_ / GIB, ram_round)))

    local_ram = ram_gib_for(max(pool_need / p["ram_share_buffer_pool_local"], pool_need + app_bytes))

    # vCPU: users, data to correlate and search, and daily ingest (REFERENCE §7.1 reference points).
    cpu_users = math.ceil(load.users / p["users_per_vcpu"])
    cpu_data = math.ceil(n / p["attributes_per_vcpu"])
    cpu_ingest = math.ceil(vol.per_day / p["inflow_per_vcpu_per_day"])
    vcpu_min, vcpu_max = int(p["vcpu_min"]), int(p["vcpu_max"])
    local_vcpu = min(vcpu_max, _even(max(vcpu_min, cpu_users + cpu_data + cpu_ingest)))

    dedicated_needed = n >= p["dedicated_db_attributes"] or pool_need >= p["dedicated_db_buffer_pool_gib"] * GIB
    database = "dedicated" if dedicated_needed else "local"
    overrides: list[str] = []
    o = inst.sizing
    if o.database is not None and o.database != database:
        overrides.append(f"database: {o.database} (computed {database})")
    if o.database is not None:
        database = o.database

    if database == "dedicated":
        # The database host gets at least the pool the working set needs, and never a smaller pool
        # than the same instance would get with a local database (so growing never shrinks it).
        misp_ram = ram_gib_for(app_bytes)
        local_pool = local_ram * GIB * p["ram_share_buffer_pool_local"]
        db_ram_min = ram_gib_for(max(pool_need, local_pool) / p["ram_share_buffer_pool_dedicated"])
        ram = max(local_ram, misp_ram + db_ram_min)
        misp_vcpu = min(vcpu_max, _even(max(vcpu_min, cpu_users + cpu_ingest)))
        db_vcpu = min(vcpu_max, _even(max(vcpu_min, cpu_data)))
        vcpu = max(local_vcpu, misp_vcpu + db_vcpu)
        misp_disk = int(_ceil_to(base_disk / GIB + attachment_bytes * headroom / GIB, p["disk_round_gib"]))
        db_disk = int(_ceil_to(base_disk / GIB + (db_bytes + logs_bytes) * headroom / GIB, p["disk_round_gib"]))
        disk = misp_disk + db_disk
    else:
        ram = local_ram
        vcpu = local_vcpu
        disk = int(_ceil_to(base_disk / GIB + (db_bytes + logs_bytes + attachment_bytes) * headroom / GIB,
                            p["disk_round_gib"]))
    computed = {"ram_gib": ram, "disk_gib": disk, "vcpu": vcpu, "redis_gib": redis_need_gib,
                "database": "dedicated" if dedicated_needed else "local"}

    if o.ram is not None:
        overridden = o.ram / GIB
        overrides.append(f"ram: {overridden:g} GiB (computed {ram} GiB)")
        ram = math.ceil(overridden) if overridden >= 1 else 1
    if o.disk is not None:
        overridden = o.disk / GIB
        overrides.append(f"disk: {overridden:g} GiB (computed {disk} GiB)")
        disk = math.ceil(overridden)
    if o.vcpu is not None:
        overrides.append(f"vcpu: {o.vcpu} (computed {vcpu})")
        vcpu = o.vcpu
    if o.redis is not None:
        overridden = o.redis / GIB
        overrides.append(f"redis: {overridden:g} GiB (computed {redis_need_gib:g} GiB)")
        redis_gib = round(overridden, 3)

    # Hosts: where the total goes. The buffer pool takes its share of the host running MariaDB
    # (installers give it 50% of RAM, REFERENCE §7.2), never less than the working set would need
    # unless an override made the host too small (then MP302 warns).
    if database == "dedicated":
        if o.ram is None:
            # The database host is sized from the working set alone, so that more users (a bigger
            # MISP host) never shrink the pool; any rounding surplus goes to the MISP host.
            db_host_ram = db_ram_min
            misp_host_ram = ram - db_host_ram
        else:
            misp_host_ram = min(ram_gib_for(app_bytes), max(1, ram // 2))
            db_host_ram = ram - misp_host_ram
        pool = db_host_ram * GIB * p["ram_share_buffer_pool_dedicated"]
        # An override of the total is split in the computed proportions.
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
    pool_bytes = max(BUFFER_POOL_CHUNK, int(pool // BUFFER_POOL_CHUNK) * BUFFER_POOL_CHUNK)

    log_file = max(p["innodb_log_file_min_bytes"],
                   min(p["innodb_log_file_max_bytes"], pool_bytes * p["innodb_log_file_share_of_buffer_pool"]))
    mariadb = {
        "innodb_buffer_pool_size": pool_bytes,
        "innodb_log_file_size": int(_ceil_to(log_file, MIB)),
        "innodb_io_capacity": int(p["innodb_io_capacity"]),
        "innodb_io_capacity_max": int(p["innodb_io_capacity_max"]),
        "innodb_buffer_pool_instances": int(max(1, min(p["buffer_pool_instances_max"], pool_bytes // GIB))),
        "max_connections": int(max(p["max_connections_min"], fpm + worker_total + p["max_connections_margin"])),
    }
    php = {
        "memory_limit": f"{int(p['php_memory_limit_large_mib' if large else 'php_memory_limit_mib'])}M",
        "max_execution_time": int(p["php_max_execution_time_large" if large else "php_max_execution_time"]),
        "fpm_max_children": fpm,
        "upload_max_filesize": f"{int(p['php_upload_max_mib'])}M",
        "post_max_size": f"{int(p['php_upload_max_mib'])}M",
    }
    correlation = correlation_advice(estate, inst, load, large, p)
    if "MISP.correlation_engine" in inst.settings:
        explicit = str(inst.settings["MISP.correlation_engine"])
        if explicit != correlation["engine"]:
            overrides.append(f"correlation engine: {explicit} from settings (advised {correlation['engine']})")
        correlation["engine"] = explicit

    crosses = crosses_in_days(vol)
    growth_per_year = vol.per_day * 365 * p["database_bytes_per_attribute"] * (
        1 + p["logs_share_of_database"] + attachment_share) / GIB

    final = {"ram_gib": ram, "disk_gib": disk, "vcpu": vcpu, "redis_gib": redis_gib, "database": database}
    reasons.extend(_reasons(vol, load, crosses, computed, final, pool_need, db_bytes, fpm, workers, large, p))
    return InstanceSizing(
        instance=iid, volume=vol, volume_class=_class(vol.now), volume_class_at_horizon=_class(vol.horizon),
        crosses_50m_in_days=crosses, vcpu=vcpu, ram_gib=ram, disk_gib=disk,
        disk_growth_gib_per_year=round(growth_per_year, 1), database=database, hosts=hosts,
        mariadb=mariadb, php=php, workers=workers, redis_gib=redis_gib, redis_needed_gib=redis_need_gib,
        correlation=correlation, overrides=overrides, reasons=reasons, computed=computed,
    )


def correlation_advice(estate: Estate, inst: Instance, load: Load, large: bool,
                       p: Mapping[str, float]) -> dict[str, Any]:
    """Engine, explicit limit and what to switch off (REFERENCE §7.3, §7.4)."""
    single_org = len(inst.orgs) == 1
    # NoAcl ignores who may see what: right only where every user belongs to one org and the
    # instance serves itself (REFERENCE §7.3 "single-org endpoint instances").
    engine = "NoAcl" if single_org and inst.purpose in ("endpoint", "ingest", "analysis") else "Default"
    limit = int(p["correlation_limit"])
    advice = [f"set MISP.correlation_limit explicitly to {limit}: the code default is 20 when unset "
              "while the settings page shows 100 (REFERENCE §7.3)"]
    if engine == "NoAcl":
        advice.append("use the NoAcl correlation engine: one organisation's users only, so ACL-aware "
                      "correlation costs without protecting anything (REFERENCE §7.3)")
    for fid in load.low_value_feeders:
        feeder = estate.feeders[fid]
        where = "feed setting disable_correlation" if feeder.via == "feed" else "disable_correlation on its attributes"
        advice.append(f"disable correlation for low-value bulk feeder '{fid}' ({where}, REFERENCE §7.3, §7.4)")
    if large:
        advice.append("above 50M attributes: use correlation exclusions for over-correlating values and keep "
                      "MISP.enable_advanced_correlations off (REFERENCE §7.3, §7.4)")
    return {"engine": engine, "limit": limit, "advice": advice}


def _gib(value: float) -> str:
    return f"{value:.1f} GiB" if value < 10 else f"{value:.0f} GiB"


def _count(value: float) -> str:
    from planner.units import format_count

    return format_count(value)


def _reasons(vol: Volume, load: Load, crosses: int | None, computed: Mapping[str, Any], final: Mapping[str, Any],
             pool_need: float, db_bytes: float, fpm: int, workers: Mapping[str, int], large: bool,
             p: Mapping[str, float]) -> list[str]:
    """One sentence per headline number, about the computed value (and the override, if any)."""

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
        out.append("Already above 50M attributes: provisioning changes at that size (REFERENCE §7.1, §7.4).")
    elif crosses is not None and crosses <= vol.horizon_days:
        out.append(f"Crosses 50M attributes in {crosses} days, within the horizon (REFERENCE §7.1).")
    out.append(f"Disk {computed['disk_gib']} GiB{overridden('disk_gib', ' GiB')}: a {_gib(db_bytes / GIB)} database "
               f"at {p['database_bytes_per_attribute']:g} B/attribute (measured), plus logs, "
               f"attachments{' (sandbox samples)' if load.sandbox else ''}, {p['disk_headroom']:g}x headroom "
               "and the system.")
    out.append(f"RAM {computed['ram_gib']} GiB{overridden('ram_gib', ' GiB')}: a buffer pool of at least "
               f"{_gib(pool_need / GIB)} for the hot working set, {fpm} PHP children, "
               f"{sum(workers.values())} workers and Redis.")
    out.append(f"{computed['vcpu']} vCPU{overridden('vcpu', '')} for {load.users} users, "
               f"{_count(vol.horizon)} attributes to correlate and {_count(vol.per_day)}/day of ingest.")
    if final["database"] != computed["database"]:
        out.append(f"Database {final['database']}, as the topology sets (the model advises {computed['database']}: "
                   "a dedicated host above 50M attributes at the horizon, REFERENCE §7.4).")
    elif final["database"] == "dedicated":
        out.append("Database on its own host: above 50M attributes at the horizon or a very large buffer pool "
                   "(REFERENCE §7.4).")
    else:
        out.append("Database on the MISP host: below 50M attributes at the horizon (REFERENCE §7.4).")
    out.append(f"Workers: {workers['default']} default for {load.initiated_jobs} server entries and {load.feeds} "
               f"feeds, {workers['prio']} prio for {load.pushes} pushing entries (REFERENCE §6.3).")
    out.append(f"Redis {computed['redis_gib']:g} GiB{overridden('redis_gib', ' GiB')}: cache, sessions and jobs, "
               f"{load.feeds} cached feed(s) at ~1.2 GB for all 84 default feeds (REFERENCE §3.4) and "
               f"{_count(load.cached_attributes)} cached sync values.")
    if large:
        out.append("PHP memory_limit and max_execution_time raised for large exports (REFERENCE §7.1).")
    return out


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


def iter_sized(sizing: EstateSizing) -> Iterable[InstanceSizing]:
    return (sizing.instances[iid] for iid in sorted(sizing.instances))


# --- output --------------------------------------------------------------------------------------

COLUMNS = ("instance", "class now → horizon", "attributes now → horizon", "per day", "vCPU", "RAM GiB",
           "disk GiB", "database", "buffer pool", "PHP children", "workers d/p/e/c/u", "Redis GiB", "correlation")


def summary_rows(sizing: EstateSizing) -> list[tuple[str, ...]]:
    """One row of display strings per managed instance, in id order (table and Markdown)."""
    from planner.units import format_count

    rows: list[tuple[str, ...]] = []
    for s in iter_sized(sizing):
        w = s.workers
        rows.append((
            s.instance,
            s.volume_class if s.volume_class == s.volume_class_at_horizon
            else f"{s.volume_class} → {s.volume_class_at_horizon}",
            f"{format_count(s.volume.now)} → {format_count(s.volume.horizon)}",
            format_count(s.volume.per_day),
            str(s.vcpu),
            str(s.ram_gib),
            str(s.disk_gib),
            s.database,
            _gib(s.mariadb["innodb_buffer_pool_size"] / GIB),
            str(s.php["fpm_max_children"]),
            f"{w['default']}/{w['prio']}/{w['email']}/{w['cache']}/{w['update']}",
            f"{s.redis_gib:g}",
            f"{s.correlation['engine']}, limit {s.correlation['limit']}",
        ))
    return rows


def _markdown_cell(text: str) -> str:
    return text.replace("|", "\\|")


def sizing_markdown(sizing: EstateSizing, title: str | None = None) -> str:
    """The sizing as a Markdown table plus the reasons and overrides of each instance."""
    lines: list[str] = []
    if title:
        lines += [f"# Sizing: {title}", ""]
    lines += ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(_markdown_cell(c) for c in row) + " |" for row in summary_rows(sizing)]
    for s in iter_sized(sizing):
        lines += ["", f"## {s.instance}", ""]
        lines += [f"- {_markdown_cell(r)}" for r in s.reasons]
        if s.overrides:
            lines += ["", "Overrides from the topology:", ""]
            lines += [f"- {_markdown_cell(o)}" for o in s.overrides]
        lines += ["", "Correlation advice:", ""]
        lines += [f"- {_markdown_cell(a)}" for a in s.correlation["advice"]]
    if not sizing.instances:
        lines += ["", "No managed instances."]
    return "\n".join(lines) + "\n"


def sizing_json_text(sizing: EstateSizing) -> str:
    from planner.jsonout import json_text

    return json_text(sizing.to_json())


def print_sizing_table(sizing: EstateSizing, console: Any) -> None:
    """A rich table per estate and each instance's reasons under it."""
    from rich.table import Table

    table = Table(title="Sizing per managed instance", show_lines=False)
    for column in COLUMNS:
        table.add_column(column, overflow="fold")
    for row in summary_rows(sizing):
        table.add_row(*row)
    console.print(table)
    for s in iter_sized(sizing):
        console.print(f"\n[bold]{s.instance}[/bold]")
        for reason in s.reasons:
            console.print(f"  • {reason}", markup=False)
        for override in s.overrides:
            console.print(f"  override: {override}", markup=False)
        for advice in s.correlation["advice"]:
            console.print(f"  correlation: {advice}", markup=False)
