"""Resolution: a Topology becomes an Estate, the value every later stage works on.

Resolution checks every reference between sections, applies `defaults`, derives the UUIDs the file
leaves out (UUIDv5 from the estate name, so a regenerated estate keeps them), and builds the sync
graph once: a networkx MultiDiGraph whose nodes are instances and whose edges are data flows, one
per direction of each connection (push: initiator -> remote; pull: remote -> initiator).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar, cast
from urllib.parse import urlsplit

import networkx as nx

from planner.diagnostics import Finding, Position, Severity, YamlPath
from planner.limits import MAX_CONNECTIONS, MAX_INSTANCES
from planner.load import Document
from planner.misp import DEFAULT_MISP_VERSION, FEED_FORMATS_KEEPING_CREATOR, STOCK_ROLES, Distribution
from planner.model import (
    Consumer,
    Direction,
    Feeder,
    Policy,
    PullDirection,
    Role,
    SharingGroup,
    SizingOverrides,
    TagDefinition,
    Topology,
)

T = TypeVar("T")

# All project UUIDs hang off this namespace: uuid5(NAMESPACE_URL, "https://misp-planner/").
PLANNER_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://misp-planner/")

DEFAULT_HORIZON_SECONDS = 3 * 365 * 86400  # spec §4: defaults.horizon is 3y unless set
DEFAULT_PLATFORM = "ubuntu-24.04"  # the regularly tested install guide (docs/misp-behaviour.md#platforms)
DEFAULT_PURPOSE = "sharing"
DEFAULT_USERS = 25
# A feeder's `value` when the file does not say: automatic bulk sources are low-value (spec §5).
FEEDER_VALUE_BY_KIND = {"sandbox": "low", "honeypot": "low", "osint-feed": "low", "scanner": "low",
                        "workbench": "high", "other": "high"}


def derived_uuid(estate: str, kind: str, ident: str) -> str:
    return str(uuid.uuid5(PLANNER_NAMESPACE, f"{estate}/{kind}/{ident}"))


@dataclass(frozen=True)
class Org:
    id: str
    name: str
    uuid: str
    uuid_derived: bool
    nationality: str | None
    sector: str | None
    type: str | None
    contacts: tuple[str, ...]


@dataclass(frozen=True)
class Community:
    id: str
    trust: Literal["trusted", "untrusted"]
    private: bool
    description: str


@dataclass(frozen=True)
class Instance:
    id: str
    community: str
    host_org: str
    orgs: tuple[str, ...]  # host_org first, then the other local organisations
    url: str
    purpose: str
    attributes: int  # stock today, created on the instance itself
    growth_per_day: float
    volume_class: str | None  # the coarse class when the file gives only that
    users: int
    zone: str | None
    managed: bool
    misp_version: str
    platform: str
    ansible_host: str
    database_host: str | None  # the dedicated database host's address, when the file gives it
    uuid: str
    settings: dict[str, Any]
    sizing: SizingOverrides
    description: str
    peer_url: str  # what peers store in their server entries: `peer_url`, else `url`
    # Sizing inputs (docs/sizing.md): `correlation:` (None: the advice decides), the volume's
    # correlations per attribute (None: the model's default) and largest event (0: none given),
    # `log_retention` in seconds (the instance's, else the defaults'; None: kept for ever).
    correlation: str | None = None
    correlations_per_attribute: float | None = None
    largest_event: int = 0
    log_retention: int | None = None


SIZING_INPUTS = ("correlation", "correlations_per_attribute", "largest_event", "log_retention")


@dataclass(frozen=True)
class Connection:
    """One `sync:` entry: one MISP server entry on the initiator (spec §6, docs/misp-behaviour.md#sync-concepts)."""

    index: int
    initiator: str
    remote: str
    push: Direction | None
    pull: Direction | None
    sightings: bool
    galaxy_clusters: str
    internal: bool
    unpublish: bool
    caching: bool
    tls_verify: bool
    tls_ca: str | None
    allowed_ips: tuple[str, ...]
    name: str | None = None  # the server entry's name, when the file gives one
    analyst_data: str = "none"
    # The sync user on the remote: its organisation (default: the initiator's host org), its role (an id of
    # `roles:` or a MISP role name; None: the planner's choice, planner.flows.versions.sync_role) and email.
    sync_org: str = ""
    sync_role: str | None = None
    sync_email: str | None = None
    bootstrap: str | int = "full"  # what a new link copies first: full, none or seconds of history

    @property
    def path(self) -> YamlPath:
        return ("sync", self.index)

    @property
    def pull_filter(self) -> PullDirection | None:
        return self.pull if isinstance(self.pull, PullDirection) else None

    def flows(self) -> Iterator[tuple[str, str, Literal["push", "pull"], Direction]]:
        """(from, to, mode, filter) for each direction that carries data."""
        if self.push is not None:
            yield self.initiator, self.remote, "push", self.push
        if self.pull is not None:
            yield self.remote, self.initiator, "pull", self.pull


@dataclass(frozen=True)
class Estate:
    name: str
    description: str
    file: str
    document: Document
    topology: Topology
    horizon_seconds: int
    zones: dict[str, tuple[str, ...]]
    organisations: dict[str, Org]
    communities: dict[str, Community]
    instances: dict[str, Instance]
    connections: tuple[Connection, ...]
    feeders: dict[str, Feeder]
    sharing_groups: dict[str, SharingGroup]
    sharing_group_uuids: dict[str, str]
    consumers: dict[str, Consumer]
    policies: tuple[Policy, ...]
    graph: nx.MultiDiGraph = field(repr=False)
    roles: dict[str, Role] = field(default_factory=dict)
    tags: dict[str, TagDefinition] = field(default_factory=dict)
    # Values derived from the estate by the stages, computed once (an estate never changes once
    # resolved): see memo().
    _memo: dict[str, Any] = field(default_factory=dict, repr=False, compare=False, init=False)

    def memo(self, key: str, compute: Callable[[Estate], T]) -> T:
        """``compute(self)``, computed the first time ``key`` is asked for: several rules and stages
        need the same derived value (a propagation engine, leak paths), and a national estate makes
        each cost seconds."""
        if key not in self._memo:
            self._memo[key] = compute(self)
        return cast(T, self._memo[key])

    def where(self, path: YamlPath) -> Position | None:
        return self.document.where(path)

    def finding(self, code: str, severity: Severity, message: str, hint: str, path: YamlPath,
                related: tuple[str, ...] = ()) -> Finding:
        """A finding pointing at the line of ``path`` in this estate's file."""
        return Finding(code, severity, message, hint, self.file, self.where(path), path, related)

    def feeder_instance(self, feeder_id: str) -> Instance:
        return self.instances[self.feeders[feeder_id].into]

    def feeder_org(self, feeder_id: str) -> str:
        feeder = self.feeders[feeder_id]
        return feeder.org or self.instances[feeder.into].host_org

    def feeder_value(self, feeder_id: str) -> str:
        feeder = self.feeders[feeder_id]
        return feeder.value or FEEDER_VALUE_BY_KIND[feeder.kind]

    def sync_filter_tags(self) -> set[str]:
        """Every tag a sync filter names (include or exclude): the tags that can change where an event goes."""
        tags: set[str] = set()
        for conn in self.connections:
            for _, _, _, direction in conn.flows():
                tags.update(direction.tags.include, direction.tags.exclude)
        return tags

    def sharing_group_holders(self) -> list[tuple[str, str]]:
        """(instance, group) for every instance where a sharing group is created, by group id then
        instance id: the instances of its server list, and every instance where a member
        organisation creates events (its local organisations, its feeders' organisations). MISP
        refuses an event in a group the instance does not hold (405 "Invalid Sharing Group or not
        authorised", EventsController::add on MISP 2.5.1), while `flows` lets any member publish
        into it, so the generated project creates it there and MP219 checks names there."""
        creators: dict[str, set[str]] = {iid: set(inst.orgs) for iid, inst in self.instances.items()}
        for fid, feeder in self.feeders.items():
            creators[feeder.into].add(self.feeder_org(fid))
        pairs: list[tuple[str, str]] = []
        for gid, group in sorted(self.sharing_groups.items()):
            members = set(group.orgs)
            creating = [iid for iid in sorted(self.instances) if members & creators[iid]]
            pairs.extend((iid, gid) for iid in dict.fromkeys(creating if group.roaming
                                                             else [*group.instances, *creating]))
        return pairs


class _Resolver:
    def __init__(self, topology: Topology, doc: Document) -> None:
        self.t = topology
        self.doc = doc
        self.findings: list[Finding] = []

    def error(self, code: str, message: str, hint: str, path: YamlPath) -> None:
        self.findings.append(Finding(code, Severity.ERROR, message, hint, self.doc.file,
                                     self.doc.where(path), path))

    def warn(self, code: str, message: str, hint: str, path: YamlPath) -> None:
        self.findings.append(Finding(code, Severity.WARNING, message, hint, self.doc.file,
                                     self.doc.where(path), path))

    def ref(self, kind: str, value: str | None, known: dict[str, Any] | tuple[str, ...], path: YamlPath,
            section: str) -> bool:
        """Check one reference; report an unknown one with the closest known id."""
        if value is None or value in known:
            return True
        import difflib

        close = difflib.get_close_matches(value, list(known), n=1, cutoff=0.6)
        hint = f"did you mean '{close[0]}'?" if close else f"define '{value}' under '{section}' first"
        self.error("MP150", f"unknown {kind} '{value}'", hint, path)
        return False

    def resolve(self) -> Estate | None:
        t = self.t
        if len(t.instances) > MAX_INSTANCES or len(t.sync) > MAX_CONNECTIONS:
            self.error("MP012", f"the estate is too large: {len(t.instances):,} instances (at most {MAX_INSTANCES:,}) "
                       f"and {len(t.sync):,} sync entries (at most {MAX_CONNECTIONS:,})",
                       "split the estate into several files", ())
            return None
        orgs = self.organisations()
        communities = {cid: Community(cid, c.trust, c.private, c.description) for cid, c in t.communities.items()}
        zones = {zid: tuple(z.reaches) for zid, z in t.defaults.zones.items()}
        for zid, zone in t.defaults.zones.items():
            for i, target in enumerate(zone.reaches):
                self.ref("zone", target, zones, ("defaults", "zones", zid, "reaches", i), "defaults.zones")
        instances = self.instances(zones)
        connections = self.connections(instances)
        sg_uuids = self.sharing_groups()
        self.feeders()
        self.consumers()
        _check_policies(self)
        self.tags()
        if any(f.severity is Severity.ERROR for f in self.findings):
            return None
        graph = build_graph(instances, connections)
        return Estate(
            name=t.name, description=t.description, file=self.doc.file, document=self.doc, topology=t,
            horizon_seconds=t.defaults.horizon or DEFAULT_HORIZON_SECONDS, zones=zones,
            organisations=orgs, communities=communities, instances=instances,
            connections=tuple(connections), feeders=dict(t.feeders), sharing_groups=dict(t.sharing_groups),
            sharing_group_uuids=sg_uuids, consumers=dict(t.consumers), policies=tuple(t.policies),
            graph=graph, roles=dict(t.roles), tags=dict(t.tags),
        )

    def organisations(self) -> dict[str, Org]:
        orgs: dict[str, Org] = {}
        names: dict[str, str] = {}
        uuids: dict[str, str] = {}
        for oid, o in self.t.organisations.items():
            folded = o.name.casefold()
            # MISP compares organisation names case-insensitively (spec §2, docs/misp-behaviour.md#observed).
            if folded in names:
                self.error("MP151", f"organisation name '{o.name}' is already used by '{names[folded]}'",
                           "MISP refuses two organisations with the same name; rename one",
                           ("organisations", oid, "name"))
            names.setdefault(folded, oid)
            org_uuid = o.uuid or derived_uuid(self.t.name, "organisation", oid)
            if org_uuid in uuids:
                self.error("MP152", f"organisation uuid {org_uuid} is already used by '{uuids[org_uuid]}'",
                           "each organisation needs its own UUID", ("organisations", oid, "uuid"))
            uuids.setdefault(org_uuid, oid)
            orgs[oid] = Org(oid, o.name, org_uuid, o.uuid is None, o.nationality, o.sector, o.type,
                            tuple(o.contacts))
        return orgs

    def instances(self, zones: dict[str, tuple[str, ...]]) -> dict[str, Instance]:
        t = self.t
        d = t.defaults
        result: dict[str, Instance] = {}
        urls: dict[str, str] = {}
        if d.zone is not None and zones:
            self.ref("zone", d.zone, zones, ("defaults", "zone"), "defaults.zones")
        for iid, i in t.instances.items():
            base: YamlPath = ("instances", iid)
            self.ref("community", i.community, t.communities, (*base, "community"), "communities")
            self.ref("organisation", i.host_org, t.organisations, (*base, "host_org"), "organisations")
            for n, org in enumerate(i.orgs):
                self.ref("organisation", org, t.organisations, (*base, "orgs", n), "organisations")
            zone = i.zone or d.zone
            if i.zone is not None and zones:
                self.ref("zone", i.zone, zones, (*base, "zone"), "defaults.zones")
            folded_url = i.url.lower()
            if folded_url in urls:
                self.error("MP153", f"url {i.url} is also the url of instance '{urls[folded_url]}'",
                           "every instance has its own MISP.baseurl; peers tell instances apart by it",
                           (*base, "url"))
            urls.setdefault(folded_url, iid)
            volume = i.volume
            settings = {**d.settings, **i.settings}
            # Both sides are already parsed (bytes, not "16GiB"): merge without parsing again.
            sizing = d.sizing.model_copy(update=i.sizing.model_dump(exclude_none=True))
            result[iid] = Instance(
                id=iid, community=i.community, host_org=i.host_org,
                orgs=tuple(dict.fromkeys([i.host_org, *i.orgs])), url=i.url,
                purpose=i.purpose or d.purpose or DEFAULT_PURPOSE,
                attributes=(volume.attributes or 0) if volume else 0,
                growth_per_day=(volume.growth or 0.0) if volume else 0.0,
                volume_class=volume.volume_class if volume else None,
                users=i.users if i.users is not None else (d.users if d.users is not None else DEFAULT_USERS),
                zone=zone,
                managed=i.managed if i.managed is not None else (d.managed if d.managed is not None else True),
                misp_version=i.misp_version or d.misp_version or DEFAULT_MISP_VERSION,
                platform=i.platform or d.platform or DEFAULT_PLATFORM,
                ansible_host=i.ansible_host or (urlsplit(i.url).hostname or iid),
                database_host=i.database_host,
                uuid=i.uuid or derived_uuid(t.name, "instance", iid),
                settings=settings, sizing=sizing, description=i.description, peer_url=i.peer_url or i.url,
                correlation=i.correlation,
                correlations_per_attribute=volume.correlations_per_attribute if volume else None,
                largest_event=(volume.largest_event or 0) if volume else 0,
                log_retention=i.log_retention if i.log_retention is not None else d.log_retention,
            )
        return result

    def connections(self, instances: dict[str, Instance]) -> list[Connection]:
        result: list[Connection] = []
        tls_default = self.t.defaults.tls_verify if self.t.defaults.tls_verify is not None else True
        for n, s in enumerate(self.t.sync):
            base: YamlPath = ("sync", n)
            ok = self.ref("instance", s.initiator, self.t.instances, (*base, "initiator"), "instances")
            ok &= self.ref("instance", s.remote, self.t.instances, (*base, "remote"), "instances")
            if s.push is None and s.pull is None:
                self.error("MP154", "connection neither pushes nor pulls",
                           "add 'push: true' and/or 'pull: true' (or a filter object)", base)
            if ok and s.initiator == s.remote:
                self.error("MP155", f"instance '{s.initiator}' is connected to itself",
                           "a server entry points at another instance; fix initiator or remote",
                           (*base, "remote"))
            self.filter_refs(s.push, (*base, "push"))
            self.filter_refs(s.pull, (*base, "pull"))
            self.ref("organisation", s.sync_user.org, self.t.organisations, (*base, "sync_user", "org"),
                     "organisations")
            role = s.sync_user.role
            if role is not None and role not in self.t.roles and role not in STOCK_ROLES:
                self.ref("role", role, {**self.t.roles, **STOCK_ROLES}, (*base, "sync_user", "role"), "roles")
            elif role in self.t.roles:
                flags = self.t.roles[role].permissions()
                missing = [flag for flag, needed in (("perm_auth", True), ("perm_sync", s.push is not None))
                           if needed and flag not in flags]
                if missing:
                    self.error("MP164", f"role '{role}' of sync[{n}]'s sync user lacks {' and '.join(missing)}",
                               "perm_auth lets its key be used, perm_sync lets it push; add them to "
                               f"roles.{role}", (*base, "sync_user", "role"))
            initiator = self.t.instances.get(s.initiator)
            result.append(Connection(
                index=n, initiator=s.initiator, remote=s.remote, push=s.push, pull=s.pull,
                sightings=s.sightings, galaxy_clusters=s.galaxy_clusters, internal=s.internal,
                unpublish=s.unpublish, caching=s.caching,
                tls_verify=s.tls.verify if s.tls.verify is not None else tls_default,
                tls_ca=s.tls.ca, allowed_ips=tuple(s.allowed_ips), name=s.name, analyst_data=s.analyst_data,
                sync_org=s.sync_user.org or (initiator.host_org if initiator else ""), sync_role=role,
                sync_email=s.sync_user.email, bootstrap=s.bootstrap))
        return result

    def tags(self) -> None:
        for name, tag in self.t.tags.items():
            self.ref("organisation", tag.org, self.t.organisations, ("tags", name, "org"), "organisations")

    def filter_refs(self, direction: Direction | None, path: YamlPath) -> None:
        if direction is None:
            return
        for part in ("include", "exclude"):
            for k, org in enumerate(getattr(direction.orgs, part)):
                self.ref("organisation", org, self.t.organisations, (*path, "orgs", part, k), "organisations")

    def sharing_groups(self) -> dict[str, str]:
        uuids: dict[str, str] = {}
        for gid, g in self.t.sharing_groups.items():
            base: YamlPath = ("sharing_groups", gid)
            for n, org in enumerate(g.orgs):
                self.ref("organisation", org, self.t.organisations, (*base, "orgs", n), "organisations")
            for n, inst in enumerate(g.instances):
                self.ref("instance", inst, self.t.instances, (*base, "instances", n), "instances")
            if g.roaming and g.instances:
                self.warn("MP156", f"sharing group '{gid}' is roaming and also lists instances",
                          "MISP ignores the server list of a roaming group "
                          "(docs/misp-behaviour.md#sharing-groups); drop one",
                          (*base, "roaming"))
            if not g.roaming and not g.instances:
                self.warn("MP157", f"sharing group '{gid}' lists no instances and is not roaming",
                          "its events stay on the instance where they were created; list the instances "
                          "or set 'roaming: true'", base)
            uuids[gid] = g.uuid or derived_uuid(self.t.name, "sharing-group", gid)
        return uuids

    def distribution_group(self, distribution: Distribution | None, group: str | None, path: YamlPath) -> None:
        if distribution is Distribution.SHARING_GROUP and group is None:
            self.error("MP158", "distribution sharing-group needs 'sharing_group: <id>'",
                       "name the sharing group the events go to", (*path, "distribution"))
        elif group is not None:
            if distribution is not None and distribution is not Distribution.SHARING_GROUP:
                self.error("MP158", f"'sharing_group' is set but distribution is {distribution.word}",
                           "set 'distribution: sharing-group' or remove 'sharing_group'",
                           (*path, "sharing_group"))
            self.ref("sharing group", group, self.t.sharing_groups, (*path, "sharing_group"), "sharing_groups")

    def feeders(self) -> None:
        for fid, f in self.t.feeders.items():
            base: YamlPath = ("feeders", fid)
            into_ok = self.ref("instance", f.into, self.t.instances, (*base, "into"), "instances")
            org_ok = self.ref("organisation", f.org, self.t.organisations, (*base, "org"), "organisations")
            self.distribution_group(f.distribution, f.sharing_group, base)
            if f.via == "feed" and f.feed is None:
                self.error("MP159", f"feeder '{fid}' has 'via: feed' but no 'feed:' block",
                           "add feed: {url: ..., format: misp}", (*base, "via"))
            if f.via == "api" and f.feed is not None:
                self.error("MP159", f"feeder '{fid}' has a 'feed:' block but 'via: api'",
                           "set 'via: feed' or remove the 'feed:' block", (*base, "feed"))
            keeps_creator = f.via == "feed" and f.feed is not None and f.feed.format in FEED_FORMATS_KEEPING_CREATOR
            if into_ok and org_ok and f.org is not None and not keeps_creator:
                into = self.t.instances[f.into]
                if f.org != into.host_org and f.org not in into.orgs:
                    self.error("MP160", f"organisation '{f.org}' is not local to instance '{f.into}'",
                               f"add '{f.org}' to instances.{f.into}.orgs, or leave 'org' out to use the "
                               "host organisation", (*base, "org"))

    def consumers(self) -> None:
        for cid, c in self.t.consumers.items():
            base: YamlPath = ("consumers", cid)
            self.ref("instance", c.from_, self.t.instances, (*base, "from"), "instances")
            if c.via == "api" and c.format is None:
                self.error("MP161", f"consumer '{cid}' reads via api but names no 'format'",
                           "set the restSearch returnFormat it needs: json, csv, suricata, rpz, stix2...",
                           (*base, "via"))



def _check_policies(r: _Resolver) -> None:
    """The references and shape of each policy (kept out of _Resolver, whose other checks are per key)."""
    origins = {**r.t.instances, **r.t.feeders}
    for n, p in enumerate(r.t.policies):
        base: YamlPath = ("policies", n)
        r.ref("instance or feeder", p.data.origin, origins, (*base, "data", "origin"),
                 "instances' or 'feeders")
        r.ref("organisation", p.data.org, r.t.organisations, (*base, "data", "org"), "organisations")
        r.distribution_group(p.data.distribution, p.data.sharing_group, (*base, "data"))
        if not p.must_reach and not p.must_not_reach:
            r.error("MP162", f"policy '{p.name}' asserts nothing",
                       "add 'must_reach' or 'must_not_reach'", base)
        for key in ("must_reach", "must_not_reach"):
            for k, target in enumerate(getattr(p, key)):
                tpath: YamlPath = (*base, key, k)
                if (target.instance is None) == (target.community is None):
                    r.error("MP163", "a policy target names exactly one instance or one community",
                               "write an instance id, or {community: id}", tpath)
                r.ref("instance", target.instance, r.t.instances, tpath, "instances")
                r.ref("community", target.community, r.t.communities, (*tpath, "community"),
                         "communities")



def build_graph(instances: dict[str, Instance], connections: list[Connection]) -> nx.MultiDiGraph:
    graph = nx.MultiDiGraph()
    for iid, inst in instances.items():
        graph.add_node(iid, instance=inst)
    for conn in connections:
        for source, target, mode, direction in conn.flows():
            graph.add_edge(source, target, key=(conn.index, mode), connection=conn, mode=mode, filter=direction)
    return graph


def resolve(topology: Topology, doc: Document) -> tuple[Estate | None, list[Finding]]:
    resolver = _Resolver(topology, doc)
    estate = resolver.resolve()
    return estate, resolver.findings


def _words(data: object) -> object:
    """Distribution levels as the spec's words, for people reading `inspect` output."""
    if isinstance(data, dict):
        return {k: (Distribution(v).word if k == "distribution" and isinstance(v, int) else _words(v))
                for k, v in data.items()}
    if isinstance(data, list):
        return [_words(v) for v in data]
    return data


def _direction_data(direction: Direction) -> dict[str, Any]:
    """``dump(direction)`` written out: a national estate has tens of thousands of them, and pydantic's
    serializer takes tens of microseconds for each (a test compares both)."""
    data: dict[str, Any] = {what: {"include": list(match.include), "exclude": list(match.exclude)}
                            for what, match in (("tags", direction.tags), ("orgs", direction.orgs))}
    if direction.every is not None:
        data["every"] = direction.every
    return data


def _connection_data(estate: Estate, conn: Connection) -> dict[str, Any]:
    """One `sync:` entry of :func:`estate_as_data`."""
    from planner.flows.versions import sync_role

    item: dict[str, Any] = {"initiator": conn.initiator, "remote": conn.remote}
    for mode in ("push", "pull"):
        direction = getattr(conn, mode)
        if direction is not None:
            item[mode] = _direction_data(direction)
    if conn.pull_filter is not None and conn.pull_filter.url_params:
        item["pull"]["url_params"] = dict(conn.pull_filter.url_params)
    item.update({"sightings": conn.sightings, "galaxy_clusters": conn.galaxy_clusters,
                 "internal": conn.internal, "unpublish": conn.unpublish, "caching": conn.caching,
                 "tls": {"verify": conn.tls_verify, **({"ca": conn.tls_ca} if conn.tls_ca else {})},
                 "allowed_ips": list(conn.allowed_ips), "analyst_data": conn.analyst_data,
                 # the role as resolved for this estate's versions (planner.flows.versions.sync_role)
                 "sync_user": {"org": conn.sync_org, "role": sync_role(estate, conn)[0],
                               **({"email": conn.sync_email} if conn.sync_email else {})}})
    if conn.name:
        item["name"] = conn.name
    return item


def estate_as_data(estate: Estate) -> dict[str, Any]:
    """The resolved estate as plain data: defaults applied, UUIDs filled in, ids sorted."""
    from dataclasses import asdict

    def dump(model: Any) -> Any:
        return _words(model.model_dump(mode="json", by_alias=True, exclude_none=True))

    instances = {}
    for iid in sorted(estate.instances):
        inst = asdict(estate.instances[iid])
        inst.pop("id")
        for sizing_input in SIZING_INPUTS:  # not in the resolved form (diff's _as_compared adds them back)
            inst.pop(sizing_input)
        if inst["database_host"] is None:
            inst.pop("database_host")
        inst["orgs"] = list(inst["orgs"])
        inst["sizing"] = estate.instances[iid].sizing.model_dump(exclude_none=True)
        instances[iid] = inst
    connections = [_connection_data(estate, conn) for conn in estate.connections]
    feeders = {}
    for fid in sorted(estate.feeders):
        feeder = dump(estate.feeders[fid])
        feeder["org"] = estate.feeder_org(fid)
        feeder["value"] = estate.feeder_value(fid)
        feeders[fid] = feeder
    groups = {}
    for gid in sorted(estate.sharing_groups):
        group = dump(estate.sharing_groups[gid])
        group["uuid"] = estate.sharing_group_uuids[gid]
        group.setdefault("name", gid)
        groups[gid] = group
    return {
        "version": 1,
        "name": estate.name,
        "description": estate.description,
        "defaults": {"horizon_seconds": estate.horizon_seconds,
                     "zones": {z: list(r) for z, r in sorted(estate.zones.items())}},
        "organisations": {oid: {k: (list(v) if isinstance(v, tuple) else v)
                                for k, v in asdict(o).items() if k != "id"}
                          for oid, o in sorted(estate.organisations.items())},
        "communities": {cid: {k: v for k, v in asdict(c).items() if k != "id"}
                        for cid, c in sorted(estate.communities.items())},
        "instances": instances,
        "feeders": feeders,
        "sync": connections,
        "sharing_groups": groups,
        "consumers": {cid: dump(c) for cid, c in sorted(estate.consumers.items())},
        "policies": [dump(p) for p in estate.policies],
        "roles": {rid: dump(role) for rid, role in sorted(estate.roles.items())},
        "tags": {name: dump(tag) for name, tag in sorted(estate.tags.items())},
    }
