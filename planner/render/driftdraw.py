"""The drift diagram (`draw FILE --drift drift.json`): the planned estate with what `drift` found
on the server entries marked: entries that run but are not planned dashed red (to a node of their
own when their URL is no instance of the topology), planned links missing from the running estate
grey, links whose entry differs or whose connection test fails in the "changed" style."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

from planner.diagnostics import Finding, PlannerError, Severity
from planner.estate import Estate
from planner.render.graph import Change, Diagram, DrawOptions, Edge, Node, node_id
from planner.units import plural


def read_drift(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise PlannerError([Finding("MP030", Severity.ERROR, f"{path} is not a drift report ({error})",
                                    "write one with `misp-planner drift FILE --format json > drift.json`")],
                           exit_code=3) from None
    if not isinstance(data, dict) or not isinstance(data.get("differences"), list):
        raise PlannerError([Finding("MP030", Severity.ERROR, f"{path} is not a drift report (no differences list)",
                                    "write one with `misp-planner drift FILE --format json > drift.json`")],
                           exit_code=3)
    return data


def drift_diagram(diagram: Diagram, estate: Estate, drift: dict[str, Any]) -> Diagram:
    marks: dict[tuple[str, str], Change] = {}
    extra_edges: list[Edge] = []
    extra_nodes: list[Node] = []
    for n, item in enumerate(drift["differences"]):
        link = item.get("link") if isinstance(item, dict) else None
        if not isinstance(link, dict):
            continue
        tail, remote = node_id("i", str(link["initiator"])), str(link["remote"])
        head = node_id("i", remote) if remote in estate.instances else f"drift_{n}"
        if item["kind"] == "extra":
            if remote not in estate.instances:
                extra_nodes.append(Node(id=head, kind="external", title=remote, change="extra"))
            extra_edges.append(Edge(id=f"drift_edge_{n}", tail=tail, head=head, kind="push",
                                    lines=("not in the topology",), initiator=tail, change="extra"))
        else:
            marks[(tail, head)] = "missing" if item["kind"] == "missing" else "changed"
    edges = [replace(e, change=marks[(e.tail, e.head)]) if e.initiator is not None and (e.tail, e.head) in marks
             else e for e in diagram.edges]
    summary = f"Drift of {estate.name}: {plural(len(drift['differences']), 'difference')}"
    return replace(diagram, title=summary, nodes=(*diagram.nodes, *extra_nodes),
                   edges=(*edges, *extra_edges))


def draw_drift(estate: Estate, drift_file: Path, output: Path, options: DrawOptions | None = None,
               styles_file: Path | None = None) -> list[str]:
    from planner.render import draw

    drift = read_drift(drift_file)  # a bad drift file is reported before any layout
    return draw(estate, output, options, styles_file, lambda diagram: drift_diagram(diagram, estate, drift))
