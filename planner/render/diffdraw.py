"""The diff diagram: the HEAD estate with what a change adds, removes and changes marked.

Both estates are drawn with the same options; elements are matched by their diagram ids (instances,
feeders, consumers, communities) and sync edges by initiator -> remote, like `diff` matches
connections, so a reordered file marks nothing. Removed elements are drawn from BASE in the
"removed" style, inside their community when it still exists.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from planner.diff import EstateDiff
from planner.estate import Estate
from planner.render import format_of, load_styles, render
from planner.render.graph import Diagram, DrawOptions, Edge, Node, build_diagram


def _edge_key(edge: Edge) -> tuple[str, str, str]:
    return (edge.tail, edge.head, "sync" if edge.initiator is not None else edge.kind)


def _keyed(edges: tuple[Edge, ...]) -> dict[tuple[str, str, str, int], Edge]:
    keyed: dict[tuple[str, str, str, int], Edge] = {}
    for edge in edges:
        n = 0
        while (*_edge_key(edge), n) in keyed:
            n += 1
        keyed[(*_edge_key(edge), n)] = edge
    return keyed


def diff_diagram(base: Diagram, head: Diagram, changes: EstateDiff) -> Diagram:
    base_nodes = {n.id: n for n in base.nodes}
    head_ids = {n.id for n in head.nodes}
    nodes: list[Node] = []
    for node in head.nodes:
        before = base_nodes.get(node.id)
        if before is None:
            nodes.append(replace(node, change="added"))
        elif (before.kind, before.title, before.lines) != (node.kind, node.title, node.lines):
            nodes.append(replace(node, change="changed"))
        else:
            nodes.append(node)
    cluster_ids = {c.id for c in head.clusters}
    clusters = list(head.clusters)
    for cluster in base.clusters:
        if cluster.id not in cluster_ids and any(n.cluster == cluster.id and n.id not in head_ids for n in base.nodes):
            clusters.append(cluster)
            cluster_ids.add(cluster.id)
    nodes += [replace(n, change="removed", cluster=n.cluster if n.cluster in cluster_ids else None)
              for n in base.nodes if n.id not in head_ids]
    old, new = _keyed(base.edges), _keyed(head.edges)
    edges: list[Edge] = []
    for key, edge in new.items():
        was = old.get(key)
        if was is None:
            edges.append(replace(edge, change="added"))
        elif (was.kind, was.lines) != (edge.kind, edge.lines):
            edges.append(replace(edge, change="changed"))
        else:
            edges.append(edge)
    edges += [replace(edge, id=f"removed_{edge.id}", change="removed") for key, edge in old.items() if key not in new]
    marked = sum(1 for n in nodes if n.change is not None) + sum(1 for e in edges if e.change is not None)
    title = f"Change to {head.title.split(':')[0]}: {marked} element{'s' if marked != 1 else ''} marked"
    return replace(head, title=title, notes=(changes.summary(),), clusters=tuple(clusters),
                   nodes=tuple(nodes), edges=tuple(edges))


def draw_diff(base: Estate, head: Estate, changes: EstateDiff, output: Path) -> None:
    fmt = format_of(output)
    options = DrawOptions()
    base_diagram, _ = build_diagram(base, options)
    head_diagram, _ = build_diagram(head, options)
    diagram = diff_diagram(base_diagram, head_diagram, changes)
    data = render(diagram, load_styles(None), fmt)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_bytes(data)
