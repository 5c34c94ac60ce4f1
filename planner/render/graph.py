"""The engine-neutral diagram model, built once from an Estate and drawn by thin renderers.

A Diagram holds plain text only (no markup): renderers escape for their own language. Every style
named here is a key of `data/styles.yaml`; the legend is derived from the styles a diagram uses, so it
lists every style drawn and nothing else.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

import networkx as nx

from planner.diagnostics import Finding, PlannerError, Severity
from planner.estate import Connection, Estate, Instance
from planner.misp import VOLUME_THRESHOLD_ATTRIBUTES, Distribution
from planner.model import Direction
from planner.units import format_count, format_seconds, plural

# Above this many instances or connections the default view draws one node per community: dot's
# layout time grows steeply with clustered, labelled edges (measured: 180 connections take ~8 s,
# 390 take ~60 s on 2 cores), and nobody reads such a picture anyway (issue 8).
AUTO_COLLAPSE_INSTANCES = 150
AUTO_COLLAPSE_CONNECTIONS = 150
# The collapsed view uses dot (tidy, ranked) while it is small, and sfdp (force-directed, near-linear)
# beyond: dot on a few hundred labelled edges already takes tens of seconds.
DOT_MAX_NODES, DOT_MAX_EDGES = 60, 80
# Edge labels dominate layout time on big collapsed views (5,000 instances: ~6 s of CPU with labels,
# 0.3 s without) and are unreadable there anyway; above this many edges the counts move to tooltips.
LABELLED_EDGES_MAX = 500
MAX_FILTER_ITEMS = 4  # per list on an edge label; the rest is counted ("+3 more")

LEGEND_ORDER = ("clusters", "nodes", "edges", "labels", "flow", "diff")
FlowRole = Literal["origin", "reached", "unreached"]
Change = Literal["added", "removed", "changed", "extra", "missing"]  # the last two: drift view


@dataclass(frozen=True)
class Cluster:
    id: str
    kind: str  # clusters.<kind>
    title: str
    lines: tuple[str, ...] = ()


@dataclass(frozen=True)
class Node:
    id: str
    kind: str  # nodes.<kind>
    title: str
    lines: tuple[str, ...] = ()
    cluster: str | None = None
    flow: FlowRole | None = None  # flow view only
    change: Change | None = None  # diff view only


@dataclass(frozen=True)
class Edge:
    id: str
    tail: str  # sync: the initiator; feeder -> instance; instance -> consumer
    head: str
    kind: str  # edges.<kind>
    lines: tuple[str, ...] = ()
    forward: bool = True  # data flows tail -> head
    backward: bool = False  # data flows head -> tail
    initiator: str | None = None  # sync edges: the instance that opens the connection
    labels: tuple[str, ...] = ()  # labels.<key> notations used in `lines`
    on_path: bool = False  # flow view: a hop the event takes
    hover: str | None = None  # text shown on hover (SVG tooltip) when the label is left out
    change: Change | None = None  # diff view only


@dataclass(frozen=True)
class Diagram:
    title: str
    notes: tuple[str, ...]
    clusters: tuple[Cluster, ...]
    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...]
    engine: str = "dot"
    flow_view: bool = False
    collapsed: bool = False

    def styles_used(self) -> list[tuple[str, str]]:
        """(section, key) of every style drawn, in the styles file's section order, keys sorted."""
        used: set[tuple[str, str]] = set()
        used.update(("clusters", c.kind) for c in self.clusters)
        used.update(("nodes", n.kind) for n in self.nodes)
        used.update(("edges", e.kind) for e in self.edges)
        used.update(("labels", label) for e in self.edges for label in e.labels)
        # What the lines inside a node say, for the kinds of node drawn with them.
        used.update(("labels", f"node-{kind}") for kind in ("instance", "feeder")
                    if any(n.kind == kind or (kind == "instance" and n.kind == "external") for n in self.nodes))
        used.update(("flow", n.flow) for n in self.nodes if n.flow is not None)
        if any(e.on_path for e in self.edges):
            used.add(("flow", "path"))
        if self.flow_view and not all(e.on_path for e in self.edges):
            used.add(("flow", "idle"))
        used.update(("diff", n.change) for n in self.nodes if n.change is not None)
        used.update(("diff", e.change) for e in self.edges if e.change is not None)
        return sorted(used, key=lambda item: (LEGEND_ORDER.index(item[0]), item[1]))


@dataclass(frozen=True)
class DrawOptions:
    flow: str | None = None  # "ORIGIN:LEVEL" or "ORIGIN:sharing-group:GROUP"
    collapse: bool = False
    focus: str | None = None
    depth: int = 1
    auto_collapse: int = AUTO_COLLAPSE_INSTANCES
    auto_collapse_connections: int = AUTO_COLLAPSE_CONNECTIONS


def usage_error(message: str, hint: str) -> PlannerError:
    return PlannerError([Finding("MP031", Severity.ERROR, message, hint)], exit_code=2)


def node_id(kind: str, ident: str) -> str:
    """Ids in the language are `[a-z][a-z0-9-]*`, so '-' -> '_' keeps them unique and bare-word safe."""
    return f"{kind}_{ident.replace('-', '_')}"


def sizing_of(estate: Estate) -> dict[str, dict[str, Any]]:
    """Per-instance sizing JSON, or nothing while the sizing module is not installed."""
    try:
        from planner.sizing import size_estate  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        return {}
    instances: dict[str, dict[str, Any]] = size_estate(estate).to_json()["instances"]
    return instances


def volume_class(inst: Instance, sizing: dict[str, Any] | None) -> str:
    if sizing and sizing.get("volume_class"):
        from planner.sizing.output import class_text

        return class_text(str(sizing["volume_class"]), sizing.get("volume_class_at_horizon"))
    if inst.volume_class:
        return inst.volume_class
    # docs/misp-behaviour.md#above-50m-attributes: the coarse class changes at 50 million attributes.
    return "above-50M" if inst.attributes >= VOLUME_THRESHOLD_ATTRIBUTES else "below-50M"


def _number(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def attributes_text(attributes: dict[str, Any]) -> str:
    from planner.sizing.output import attributes_text as text

    return text(attributes)


def instance_lines(estate: Estate, inst: Instance, sizing: dict[str, Any] | None) -> tuple[str, ...]:
    org = estate.organisations[inst.host_org].name
    zone = f" · zone {inst.zone}" if inst.zone else ""
    lines = [f"{inst.purpose} · {org}{zone}"]
    headline = volume_class(inst, sizing)
    if sizing and "attributes" in sizing:
        # The same now -> horizon figures as `size` and sizing.json (own stock, feeders and sync).
        headline = f"{attributes_text(sizing['attributes'])} attributes · {headline}"
    elif inst.attributes:
        headline = f"{format_count(inst.attributes)} attributes · {headline}"
    if sizing and "database" in sizing.get("hosts", {}):
        hosts = sizing["hosts"]
        headline += (f" · MISP host {hosts['misp']['ram_gib']} GiB / {hosts['misp']['vcpu']} vCPU"
                     f" · database host {hosts['database']['ram_gib']} GiB / {hosts['database']['vcpu']} vCPU")
    elif sizing:
        headline += f" · {_number(sizing['ram_gib'])} GiB RAM · {sizing['vcpu']} vCPU"
    lines.append(headline)
    if not inst.managed:
        lines.append(f"run by {org}")
    return tuple(lines)


def _match(label: str, includes: Iterable[str], excludes: Iterable[str]) -> str | None:
    items = [f"+{v}" for v in includes] + [f"-{v}" for v in excludes]
    if not items:
        return None
    shown = items[:MAX_FILTER_ITEMS]
    more = f" (+{len(items) - MAX_FILTER_ITEMS} more)" if len(items) > MAX_FILTER_ITEMS else ""
    return f"{label} {' '.join(shown)}{more}"


def direction_text(mode: str, direction: Direction, both: bool) -> tuple[str | None, set[str]]:
    """One label line for one direction; None when there is nothing to say beyond the edge style."""
    parts: list[str] = []
    used: set[str] = set()
    if direction.every is not None:
        parts.append(f"every {format_seconds(direction.every)}")
        used.add("every")
    tags = _match("tags", direction.tags.include, direction.tags.exclude)
    if tags:
        parts.append(tags)
        used.add("tags")
    orgs = _match("orgs", direction.orgs.include, direction.orgs.exclude)
    if orgs:
        parts.append(orgs)
        used.add("orgs")
    if not parts and not both:
        return None, used
    return f"{mode}: {'; '.join(parts) if parts else 'everything'}", used


def connection_edge(conn: Connection) -> Edge:
    both = conn.push is not None and conn.pull is not None
    kind = "push-pull" if both else ("push" if conn.push is not None else "pull")
    lines: list[str] = []
    used: set[str] = set()
    for mode, direction in (("push", conn.push), ("pull", conn.pull)):
        if direction is not None:
            text, labels = direction_text(mode, direction, both)
            used |= labels
            if text:
                # The entry's number: two edges' labels side by side still say which is whose.
                lines.append(f"#{conn.index} {text}")
                used.add("entry")
    flags = [flag for flag, on in (("internal", conn.internal), ("unpublish", conn.unpublish),
                                   ("sightings", conn.sightings)) if on]
    if flags:
        # On the entry's last line: a label a line shorter meets its neighbours' less often.
        if lines:
            lines[-1] += " · " + " · ".join(flags)
        else:
            lines.append(" · ".join(flags))
        used.update(flags)
    return Edge(id=f"e_sync_{conn.index}", tail=node_id("i", conn.initiator), head=node_id("i", conn.remote),
                kind=kind, lines=tuple(lines), forward=conn.push is not None, backward=conn.pull is not None,
                initiator=conn.initiator, labels=tuple(sorted(used)))


def parse_flow(estate: Estate, spec: str) -> Any:
    """`ORIGIN:LEVEL` (or `ORIGIN:sharing-group:GROUP`) -> the flows module's EventSpec."""
    from planner.flows import EventSpec  # type: ignore[import-not-found,unused-ignore]

    parts = spec.split(":")
    if len(parts) not in (2, 3):
        raise usage_error(f"--flow '{spec}' is not ORIGIN:DISTRIBUTION",
                          "for example --flow hub:connected or --flow hub:sharing-group:finance")
    origin, level_word = parts[0], parts[1]
    if origin not in estate.instances and origin not in estate.feeders:
        raise usage_error(f"--flow: '{origin}' is neither an instance nor a feeder",
                          "name an instance or feeder id of this estate")
    try:
        level = Distribution.parse(int(level_word) if level_word.isdigit() else level_word)
    except ValueError as exc:
        raise usage_error(f"--flow: {exc}", "for example --flow hub:connected") from exc
    group = parts[2] if len(parts) == 3 else None
    if (level is Distribution.SHARING_GROUP) != (group is not None):
        raise usage_error("--flow: a sharing group goes with the sharing-group level, and only with it",
                          "write ORIGIN:sharing-group:GROUP")
    if group is not None and group not in estate.sharing_groups:
        raise usage_error(f"--flow: unknown sharing group '{group}'", "name a sharing group of this estate")
    return EventSpec(origin=origin, distribution=level, sharing_group=group)


def _path_hops(estate: Estate, paths: dict[str, tuple[str, ...]]) -> set[tuple[str, str]]:
    return {(chain[i], chain[i + 1]) for chain in paths.values() for i in range(len(chain) - 1)}


def _carries(conn: Connection, hops: set[tuple[str, str]]) -> bool:
    return any((src, dst) in hops for src, dst, _mode, _direction in conn.flows())


def build_diagram(estate: Estate, options: DrawOptions | None = None,
                  sizing: dict[str, dict[str, Any]] | None = None) -> tuple[Diagram, list[str]]:
    """The diagram to draw, and notes for stderr (e.g. that a large estate was collapsed)."""
    options = options or DrawOptions()
    notes: list[str] = []
    flow = None
    if options.flow:
        from planner.flows import propagate  # type: ignore[import-not-found,unused-ignore]

        flow = propagate(estate, parse_flow(estate, options.flow))
    if options.focus is not None:
        if options.focus not in estate.instances:
            raise usage_error(f"--focus: unknown instance '{options.focus}'", "name an instance id of this estate")
        if options.depth < 0:
            raise usage_error("--depth must be 0 or more", "for example --depth 1")
        keep = set(nx.single_source_shortest_path_length(estate.graph.to_undirected(as_view=True),
                                                         options.focus, cutoff=options.depth))
        notes.append(f"neighbourhood of {options.focus}, depth {options.depth}: "
                     f"{len(keep)} of {plural(len(estate.instances), 'instance')}")
        shown = sum(1 for c in estate.connections if c.initiator in keep and c.remote in keep)
        if shown > options.auto_collapse_connections:
            notes.append(f"{shown} connections in view: the layout may take minutes; a smaller --depth is faster")
        return _detailed(estate, sizing_of(estate) if sizing is None else sizing, keep, flow, notes, options), notes
    collapse = options.collapse
    too_many = [f"{count} {what} (more than {limit})" for count, limit, what in (
        (len(estate.instances), options.auto_collapse, "instances"),
        (len(estate.connections), options.auto_collapse_connections, "connections")) if count > limit]
    if not collapse and too_many:
        collapse = True
        notes.append(f"{' and '.join(too_many)}: communities collapsed automatically; "
                     "use --focus INSTANCE --depth N for detail")
    if collapse:
        return _collapsed(estate, flow, notes), notes
    # Sizing only labels the detailed view: a collapsed view of thousands of instances skips it.
    sizing = sizing_of(estate) if sizing is None else sizing
    return _detailed(estate, sizing, set(estate.instances), flow, notes, options), notes


def _flow_title(flow: Any) -> str:
    event = flow.event
    group = f" ({event.sharing_group})" if event.sharing_group else ""
    return f"flow of an event from {event.origin} at distribution {event.distribution.word}{group}"


def _detailed(estate: Estate, sizing: dict[str, dict[str, Any]], keep: set[str], flow: Any,
              notes: list[str], options: DrawOptions) -> Diagram:
    nodes: list[Node] = []
    reaches: dict[str, Distribution] = dict(flow.reaches) if flow is not None else {}
    hops = _path_hops(estate, flow.paths) if flow is not None else set()
    origin_instance = flow.origin_instance if flow is not None else None
    timing = set(flow.timing_dependent) if flow is not None else set()
    communities = sorted({estate.instances[i].community for i in keep})
    clusters = []
    for cid in communities:
        community = estate.communities[cid]
        lines: tuple[str, ...] = (community.description,) if community.description else ()
        title = f"{cid} · {community.trust}" + ("" if community.private else " · not private")
        clusters.append(Cluster(id=f"cluster_{node_id('k', cid)}", kind=community.trust, title=title, lines=lines))
    for iid in sorted(keep):
        inst = estate.instances[iid]
        lines = instance_lines(estate, inst, sizing.get(iid))
        role: FlowRole | None = None
        if flow is not None:
            if iid in reaches:
                role = "origin" if iid == origin_instance else "reached"
                held = f"holds a copy at {reaches[iid].word}"
                lines = (*lines, held + (" (depends on job timing)" if iid in timing else ""))
            else:
                role = "unreached"
        nodes.append(Node(id=node_id("i", iid), kind="instance" if inst.managed else "external", title=iid,
                          lines=lines, cluster=f"cluster_{node_id('k', inst.community)}", flow=role))
    edges = [replace_path(connection_edge(c), _carries(c, hops))
             for c in estate.connections if c.initiator in keep and c.remote in keep]
    _feeders_and_consumers(estate, keep, flow, nodes, edges)
    title = f"MISP estate {estate.name}"
    if options.focus is not None:
        title += f": around {options.focus} (depth {options.depth})"
    if flow is not None:
        title += f": {_flow_title(flow)}"
    return Diagram(title=title, notes=tuple(notes), clusters=tuple(clusters), nodes=tuple(nodes),
                   edges=tuple(edges), flow_view=flow is not None)


def _feeders_and_consumers(estate: Estate, keep: set[str], flow: Any, nodes: list[Node], edges: list[Edge]) -> None:
    """The detailed layout's feeders and consumers of the kept instances, with their edges."""
    role: FlowRole | None
    lines: tuple[str, ...]
    for fid in sorted(estate.feeders):
        feeder = estate.feeders[fid]
        if feeder.into not in keep:
            continue
        org = estate.organisations[estate.feeder_org(fid)].name
        published = "published" if feeder.publish else "not published"
        group = f" ({feeder.sharing_group})" if feeder.sharing_group else ""
        lines = (f"{feeder.kind} · {estate.feeder_value(fid)} value · {org}",
                 f"{feeder.distribution.word}{group} · {published}")
        via = f"feed {feeder.feed.format}, every {format_seconds(feeder.feed.fetch_every)}" \
            if feeder.feed is not None and feeder.feed.fetch_every else f"via {feeder.via}"
        if feeder.feed is not None and feeder.feed.cache_only:
            via += " · cache only"
        role = None
        if flow is not None:
            role = "origin" if flow.event.origin == fid else "unreached"
        nodes.append(Node(id=node_id("f", fid), kind="feeder", title=fid, lines=lines, flow=role))
        edges.append(Edge(id=f"e_feeder_{node_id('f', fid)}", tail=node_id("f", fid),
                          head=node_id("i", feeder.into), kind="feeder",
                          lines=(f"{format_count(feeder.rate)}/day · {via}",),
                          on_path=flow is not None and flow.event.origin == fid))
    for cid in sorted(estate.consumers):
        consumer = estate.consumers[cid]
        if consumer.from_ not in keep:
            continue
        lines = (f"{consumer.kind}" + (f" · {consumer.product}" if consumer.product else ""),)
        transport: str = consumer.via
        if consumer.via == "api":
            every = f" every {format_seconds(consumer.every)}" if consumer.every else ""
            transport = f"api {consumer.format}{every}"
        if consumer.sightings:
            transport += " · sightings back"
        nodes.append(Node(id=node_id("c", cid), kind="consumer", title=cid, lines=lines))
        edges.append(Edge(id=f"e_consumer_{node_id('c', cid)}", tail=node_id("i", consumer.from_),
                          head=node_id("c", cid), kind=f"consumer-{consumer.via}", lines=(transport,),
                          backward=consumer.sightings))


def replace_path(edge: Edge, on_path: bool) -> Edge:
    if not on_path:
        return edge
    from dataclasses import replace

    return replace(edge, on_path=True)


@dataclass
class _Aggregate:
    connections: int = 0
    modes: Counter[str] = field(default_factory=Counter)
    forward: bool = False
    backward: bool = False
    on_path: bool = False


def _many(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")


def _aggregates(estate: Estate, hops: set[tuple[str, str]]) -> tuple[Counter[str], dict[tuple[str, str], _Aggregate]]:
    """Connections inside each community, and those between each pair of communities, aggregated."""
    inside: Counter[str] = Counter()
    pairs: dict[tuple[str, str], _Aggregate] = {}
    for conn in estate.connections:
        a, b = estate.instances[conn.initiator].community, estate.instances[conn.remote].community
        if a == b:
            inside[a] += 1
            continue
        key = (min(a, b), max(a, b))
        agg = pairs.setdefault(key, _Aggregate())
        agg.connections += 1
        agg.modes["push+pull" if conn.push and conn.pull else ("push" if conn.push else "pull")] += 1
        for src, _dst, _mode, _direction in conn.flows():
            src_community = estate.instances[src].community
            if src_community == key[0]:
                agg.forward = True
            else:
                agg.backward = True
        agg.on_path |= _carries(conn, hops)
    return inside, pairs


def _collapsed(estate: Estate, flow: Any, notes: list[str]) -> Diagram:
    members: dict[str, list[Instance]] = defaultdict(list)
    for inst in estate.instances.values():
        members[inst.community].append(inst)
    hops = _path_hops(estate, flow.paths) if flow is not None else set()
    inside, pairs = _aggregates(estate, hops)
    feeders = Counter(estate.instances[f.into].community for f in estate.feeders.values())
    consumers = Counter(estate.instances[c.from_].community for c in estate.consumers.values())
    reaches: dict[str, Distribution] = dict(flow.reaches) if flow is not None else {}
    nodes = []
    for cid in sorted(estate.communities):
        community = estate.communities[cid]
        insts = members.get(cid, [])
        others = sum(1 for i in insts if not i.managed)
        run_by_others = f" ({others} run by others)" if others else ""
        lines = [f"{community.trust} · {_many(len(insts), 'instance')}{run_by_others}"]
        stock = sum(i.attributes for i in insts)
        if stock:
            lines.append(f"{format_count(stock)} attributes")
        extra = [f"{_many(inside[cid], 'connection')} inside"] if inside[cid] else []
        extra += [_many(feeders[cid], "feeder")] if feeders[cid] else []
        extra += [_many(consumers[cid], "consumer")] if consumers[cid] else []
        if extra:
            lines.append(" · ".join(extra))
        role: FlowRole | None = None
        if flow is not None:
            held = Counter(reaches[i.id].word for i in insts if i.id in reaches)
            if held:
                origin_here = estate.instances[flow.origin_instance].community == cid
                role = "origin" if origin_here else "reached"
                lines.append(f"{sum(held.values())} of {len(insts)} hold a copy: "
                             + ", ".join(f"{n} at {w}" for w, n in sorted(held.items())))
            else:
                role = "unreached"
        kind = "community" if community.trust == "trusted" else "community-untrusted"
        nodes.append(Node(id=node_id("k", cid), kind=kind, title=cid, lines=tuple(lines), flow=role))
    edges = []
    labelled = len(pairs) <= LABELLED_EDGES_MAX
    if not labelled:
        notes.append(f"{_many(len(pairs), 'link')} between communities: their counts are in tooltips, not labels")
    for (a, b), agg in sorted(pairs.items()):
        modes = ", ".join(f"{n} {m}" for m, n in sorted(agg.modes.items()))
        text = f"{_many(agg.connections, 'connection')}: {modes}"
        edges.append(Edge(id=f"e_agg_{node_id('k', a)}__{node_id('k', b)}", tail=node_id("k", a),
                          head=node_id("k", b), kind="aggregate", lines=(text,) if labelled else (),
                          forward=agg.forward, backward=agg.backward, on_path=agg.on_path,
                          hover=None if labelled else f"{a} - {b}: {text}"))
    title = f"MISP estate {estate.name}: {plural(len(estate.instances), 'instance')}, one node per community"
    if flow is not None:
        title += f": {_flow_title(flow)}"
    engine = "dot" if len(nodes) <= DOT_MAX_NODES and len(edges) <= DOT_MAX_EDGES else "sfdp"
    return Diagram(title=title, notes=tuple(notes), clusters=(), nodes=tuple(nodes), edges=tuple(edges),
                   engine=engine, flow_view=flow is not None, collapsed=True)
