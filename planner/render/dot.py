"""Graphviz renderer: Diagram -> dot source -> svg/png/pdf through the `dot` binary.

Labels are Graphviz HTML-like labels built from escaped text, so quotes, dashes, <, >, & and any
unicode in names cannot break the dot syntax (containerlab's users hit exactly that).
"""

from __future__ import annotations

import html
import itertools
import shutil

import graphviz

from planner.diagnostics import Finding, PlannerError, Severity
from planner.render.graph import Diagram, Edge, Node
from planner.render.styles import Styles

FORMATS = ("svg", "png", "pdf", "dot")


def text(value: str) -> str:
    """Plain text for inside an HTML-like label; numeric references keep the dot file ASCII-safe."""
    return html.escape(value, quote=True).encode("ascii", "xmlcharrefreplace").decode("ascii")


def _label(title: str | None, lines: tuple[str, ...], align: str = "CENTER") -> str:
    parts = [f"<B>{text(title)}</B>"] if title else []
    parts += [text(line) for line in lines]
    return "<" + f'<BR ALIGN="{align}"/>'.join(parts) + (f'<BR ALIGN="{align}"/>' if align != "CENTER" else "") + ">"


def _node_attrs(styles: Styles, node: Node) -> dict[str, str]:
    attrs = dict(styles.get("nodes", node.kind).graphviz)
    if node.flow is not None:
        attrs.update(styles.get("flow", node.flow).graphviz)
    return attrs


def _edge_attrs(styles: Styles, edge: Edge, flow_view: bool) -> dict[str, str]:
    attrs = dict(styles.get("edges", edge.kind).graphviz)
    if edge.kind == "aggregate":  # direction comes from the data, not the style
        attrs["dir"] = "both"
        attrs["arrowhead"] = "normal" if edge.forward else "none"
        attrs["arrowtail"] = "normal" if edge.backward else "none"
    if edge.hover:
        attrs["tooltip"] = edge.hover
    if edge.on_path:
        attrs.update(styles.get("flow", "path").graphviz)
    elif flow_view:
        attrs.update(styles.get("flow", "idle").graphviz)
    return attrs


def _legend(graph: graphviz.Digraph, diagram: Diagram, styles: Styles) -> None:
    """A sample of every style the diagram uses, with its sentence; `id`s make it testable.

    Node samples and the tails of edge samples share one rank, so in a left-to-right layout the
    legend is one column of samples with a column of edge heads beside it.
    """
    with graph.subgraph(name="cluster_legend") as legend:
        legend.attr(label=_label("Legend", ()), id="legend", style="rounded", color="#a0aec0",
                    fillcolor="#ffffff", fontsize="12")
        label_rows: list[str] = []
        column: list[str] = []
        for section, key in diagram.styles_used():
            style = styles.get(section, key)
            ident = f"legend_{section}_{key.replace('-', '_')}"
            sentence = _label(None, (style.legend,))
            if section == "clusters":
                legend.node(ident, label=sentence, id=ident, shape="box", fontsize="10", **style.graphviz)
                column.append(ident)
            elif section == "nodes" or (section == "flow" and key not in ("path", "idle")):
                attrs = dict(style.graphviz)
                if section == "flow":
                    attrs = {**styles.get("nodes", "instance").graphviz, **style.graphviz}
                legend.node(ident, label=sentence, id=ident, fontsize="10", **attrs)
                column.append(ident)
            elif section in ("edges", "flow"):
                attrs = dict(style.graphviz) if section == "edges" else {
                    **styles.get("edges", "push").graphviz, **style.graphviz}
                legend.node(f"{ident}_a", label="", shape="point", width="0.05", color="#a0aec0")
                legend.node(f"{ident}_b", label="", shape="point", width="0.05", color="#a0aec0")
                legend.edge(f"{ident}_a", f"{ident}_b", id=ident, label=sentence, fontsize="10", **attrs)
                column += [f"{ident}_a", f"{ident}_b"]
            else:
                label_rows.append(f'<TR><TD ALIGN="LEFT" ID="{ident}">{text(style.legend)}</TD></TR>')
        if label_rows:
            table = ('<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="1"><TR><TD ALIGN="LEFT"><B>edge labels'
                     "</B></TD></TR>" + "".join(label_rows) + "</TABLE>>")
            legend.node("legend_labels", label=table, shape="plaintext", fontsize="10", id="legend_labels")
            column.append("legend_labels")
        if column:
            with legend.subgraph() as same:
                same.attr(rank="same")
                for member in column:
                    same.node(member)
        # In a left-to-right layout an edge inside one rank runs bottom-up: chain them reversed so the
        # legend reads top to bottom in the styles file's order.
        for upper, lower in itertools.pairwise(column):
            if not (upper.endswith("_a") and lower == upper[:-2] + "_b"):
                legend.edge(lower, upper, style="invis")


def dot_source(diagram: Diagram, styles: Styles) -> str:
    notes = tuple(diagram.notes)
    graph = graphviz.Digraph(
        name="estate",
        graph_attr={"rankdir": "LR" if not diagram.collapsed else "TB", "fontname": styles.font,
                    "label": _label(diagram.title, notes), "labelloc": "t", "fontsize": "16",
                    "nodesep": "0.35", "ranksep": "0.9", "newrank": "true", "compound": "true",
                    "outputorder": "edgesfirst", "overlap": "false"},
        node_attr={"fontname": styles.font, "fontsize": "11", "margin": "0.15,0.08"},
        edge_attr={"fontname": styles.font, "fontsize": "9"},
    )
    by_cluster: dict[str | None, list[Node]] = {}
    for node in diagram.nodes:
        by_cluster.setdefault(node.cluster, []).append(node)

    def add_node(target: graphviz.Digraph, node: Node) -> None:
        target.node(node.id, label=_label(node.title, node.lines), id=node.id, **_node_attrs(styles, node))

    for cluster in diagram.clusters:
        with graph.subgraph(name=cluster.id) as sub:
            sub.attr(label=_label(cluster.title, cluster.lines), id=cluster.id, fontsize="13",
                     **styles.get("clusters", cluster.kind).graphviz)
            for node in by_cluster.get(cluster.id, []):
                add_node(sub, node)
    for node in by_cluster.get(None, []):
        add_node(graph, node)
    for edge in diagram.edges:
        label = _label(None, edge.lines, "LEFT") if edge.lines else None
        graph.edge(edge.tail, edge.head, id=edge.id, **({"label": label} if label else {}),
                   **_edge_attrs(styles, edge, diagram.flow_view))
    _legend(graph, diagram, styles)
    source: str = graph.source
    return source


def render_bytes(source: str, fmt: str, engine: str) -> bytes:
    if fmt == "dot":
        return source.encode("utf-8")
    if shutil.which(engine) is None and shutil.which("dot") is None:
        raise PlannerError([Finding("MP032", Severity.ERROR, "Graphviz is not installed: the 'dot' program is missing",
                                    "install it (Debian/Ubuntu: apt-get install graphviz), or draw to .dot or .mmd")],
                           exit_code=3)
    data: bytes = graphviz.Source(source, engine=engine).pipe(format=fmt)
    return data
