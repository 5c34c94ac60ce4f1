"""Graphviz renderer: Diagram -> dot source -> svg/png/pdf through the `dot` binary.

Labels are Graphviz HTML-like labels built from escaped text, so quotes, dashes, <, >, & and any
unicode in names cannot break the dot syntax (containerlab's users hit exactly that).
"""

from __future__ import annotations

import html
import shutil
import unicodedata

import graphviz

from planner.diagnostics import Finding, PlannerError, Severity
from planner.render.graph import Diagram, Edge, Node
from planner.render.styles import Styles
from planner.render.titles import crossed_titles

FORMATS = ("svg", "png", "pdf", "dot")


def text(value: str) -> str:
    """Plain text for inside an HTML-like label; numeric references keep the dot file ASCII-safe.

    Control characters (a YAML "\\x01" escape can put one in a name) are not allowed in XML, so the
    SVG would not parse: they become spaces.
    """
    visible = "".join(" " if unicodedata.category(c) == "Cc" else c for c in value)
    escaped = html.escape(visible, quote=True).encode("ascii", "xmlcharrefreplace").decode("ascii")
    # Graphviz still reads its own escapes (\\E, \\N, ...) in HTML-like text once references are decoded,
    # so a backslash is written doubled; and it drops a text that is a lone "]".
    return escaped.replace("\\", "&#92;&#92;").replace("]", "&#93;")


def _label(title: str | None, lines: tuple[str, ...], align: str = "CENTER") -> str:
    parts = [f"<B>{text(title)}</B>"] if title else []
    parts += [text(line) for line in lines]
    return "<" + f'<BR ALIGN="{align}"/>'.join(parts) + (f'<BR ALIGN="{align}"/>' if align != "CENTER" else "") + ">"


def _overlay(attrs: dict[str, str], extra: dict[str, str]) -> dict[str, str]:
    """Attributes of a view (flow, diff) over a base style; `style` lists are joined, not replaced."""
    merged = {**attrs, **extra}
    if "style" in attrs and "style" in extra:
        merged["style"] = ",".join(dict.fromkeys(f"{attrs['style']},{extra['style']}".split(",")))
    return merged


def _node_attrs(styles: Styles, node: Node) -> dict[str, str]:
    attrs = dict(styles.get("nodes", node.kind).graphviz)
    if node.flow is not None:
        attrs.update(styles.get("flow", node.flow).graphviz)
    if node.change is not None:
        attrs = _overlay(attrs, styles.get("diff", node.change).graphviz)
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
    if edge.change is not None:
        attrs = _overlay(attrs, styles.get("diff", edge.change).graphviz)
    return attrs


LINES = {"solid": "\u2500", "dashed": "\u254c", "dotted": "\u00b7 ", "bold": "\u2501"}


def _glyph(attrs: dict[str, str]) -> str:
    """An edge style drawn in text: line pattern, the arrowheads, and the initiator's dot."""
    style = attrs.get("style", "solid")
    line = next((LINES[s] for s in ("bold", "dashed", "dotted") if s in style), LINES["solid"])
    both = attrs.get("dir") == "both"
    tail = attrs.get("arrowtail", "none") if both else "none"
    head = attrs.get("arrowhead", "normal")
    start = ("\u25c0" if "normal" in tail else "") + ("\u25cf" if "dot" in tail else "")
    end = "\u25b6" if "normal" in head else ""
    return f'<FONT COLOR="{text(attrs.get("color", "black"))}">{text(start + (line * 6).strip() + end)}</FONT>'


def _swatch(attrs: dict[str, str]) -> str:
    """A node or cluster style as a small box with its fill, border colour and dash."""
    style = attrs.get("style", "")
    table_style = ",".join(s for s in ("rounded", "dashed") if s in style) or "solid"
    width = "3" if "bold" in style or float(attrs.get("penwidth", "1")) >= 2.5 else "1"
    return (f'<TABLE BORDER="{width}" CELLBORDER="0" STYLE="{table_style}" COLOR="{text(attrs.get("color", "black"))}"'
            f' BGCOLOR="{text(attrs.get("fillcolor", "white"))}"><TR><TD WIDTH="46" HEIGHT="14"> </TD></TR></TABLE>')


def _legend(graph: graphviz.Digraph, diagram: Diagram, styles: Styles) -> None:
    """One table node: a sample of every style the diagram uses, with its sentence.

    A single node keeps the legend compact whatever the layout; each row carries an ID and a
    tooltip, so the SVG names the styles it explains (tests check it lists exactly those used).
    """
    rows = ['<TR><TD COLSPAN="2" ALIGN="CENTER"><B>Legend</B></TD></TR>']
    for section, key in diagram.styles_used():
        style = styles.get(section, key)
        ident = f"legend_{section}_{key.replace('-', '_')}"
        if section == "clusters" or section == "nodes":
            sample = _swatch(style.graphviz)
        elif section == "flow" and key not in ("path", "idle"):
            sample = _swatch({**styles.get("nodes", "instance").graphviz, **style.graphviz})
        elif section == "edges":
            sample = _glyph(style.graphviz)
        elif section in ("flow", "diff"):
            sample = _glyph(_overlay(styles.get("edges", "push").graphviz, style.graphviz))
        else:
            sample = "<I>label</I>"
        rows.append(f'<TR><TD ALIGN="CENTER">{sample}</TD><TD ALIGN="LEFT" ID="{ident}" TOOLTIP="{text(key)}"'
                    f' HREF="#{ident}">{text(style.legend)}</TD></TR>')
    table = ('<<TABLE BORDER="1" COLOR="#a0aec0" CELLBORDER="0" CELLSPACING="2" CELLPADDING="2" STYLE="rounded">'
             + "".join(rows) + "</TABLE>>")
    graph.node("legend", label=table, shape="plaintext", fontsize="10", id="legend", margin="0")


def placed_source(diagram: Diagram, styles: Styles) -> tuple[str, bytes | None]:
    """:func:`dot_source` with every community title where no edge runs over it, if one of the two
    places does: laid out once with the titles at the top, checked (:mod:`planner.render.titles`),
    and the crossed titles moved to the bottom when that leaves fewer crossings. A collapsed
    diagram (one node per community) has no titles to cross. With the source, the SVG of it that
    the check laid out (None where nothing was laid out), so that it is not laid out again."""
    source = dot_source(diagram, styles)
    if diagram.collapsed or not diagram.clusters or shutil.which(diagram.engine) is None:
        return source, None
    svg = render_bytes(source, "svg", diagram.engine)
    crossed = crossed_titles(svg.decode("utf-8"))
    if not crossed:
        return source, svg
    moved = dot_source(diagram, styles, frozenset(crossed))
    moved_svg = render_bytes(moved, "svg", diagram.engine)
    still = crossed_titles(moved_svg.decode("utf-8"))
    return (moved, moved_svg) if sum(map(len, still.values())) < sum(map(len, crossed.values())) else (source, svg)


def dot_source(diagram: Diagram, styles: Styles, titles_below: frozenset[str] = frozenset()) -> str:
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
            # The title at the top left, or the bottom left where an edge would run over it
            # (placed_source); edges enter members on their west side and leave on their east.
            sub.attr(label=_label(cluster.title, cluster.lines), id=cluster.id, fontsize="13", labeljust="l",
                     labelloc="b" if cluster.id in titles_below else "t",
                     **styles.get("clusters", cluster.kind).graphviz)
            for node in by_cluster.get(cluster.id, []):
                add_node(sub, node)
    for node in by_cluster.get(None, []):
        add_node(graph, node)
    # Feeders in the first column, consumers in the last, and their edges enter an instance from the
    # west and leave it to the east (rankdir LR): an edge from a feeder ranked beside a community, or
    # into the instance's top, runs over the community's title.
    for rank, kind in (("min", "feeder"), ("max", "consumer")):
        ends = [node.id for node in diagram.nodes if node.kind == kind]
        if ends and not diagram.collapsed:
            graph.body.append(f"\t{{rank={rank}; {'; '.join(ends)}}}\n")
    for edge in diagram.edges:
        label = _label(None, edge.lines, "LEFT") if edge.lines else None
        ports = {}
        if not diagram.collapsed and edge.kind == "feeder":
            ports["headport"] = "w"
        elif not diagram.collapsed and edge.kind.startswith("consumer"):
            ports["tailport"] = "e"
        graph.edge(edge.tail, edge.head, id=edge.id, **({"label": label} if label else {}),
                   **ports, **_edge_attrs(styles, edge, diagram.flow_view))
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
