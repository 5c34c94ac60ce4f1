"""Mermaid renderer: Diagram -> `flowchart` text for Markdown files and issue trackers.

Every user-supplied string goes through `text()`, which replaces the characters Mermaid's grammar
or its HTML labels give meaning to with Mermaid's `#NNN;` entity codes; labels are always quoted.
Mermaid cannot draw a marker and an arrowhead on the same end, so sync edges say in words who
opens the connection ("opened by hub").

Layout, as mermaid.js 11 (dagre) draws it: tests/test_render_mermaid.py renders every example and
checks that nothing runs over a subgraph title and that the legend stays compact.
"""

from __future__ import annotations

import unicodedata

from planner.render.graph import Diagram, Edge, Node
from planner.render.styles import Styles

# `#` first in spirit: every listed character becomes an entity, so a literal "#34;" in a name stays text.
_SPECIAL = frozenset('"#&<>|`[]{}()\\;')

# (open, close) of the node shape per style; see mermaid.js.org/syntax/flowchart.html#node-shapes
SHAPES = {
    "instance": ("(", ")"),
    "external": ("(", ")"),
    "feeder": ("[/", "/]"),
    "consumer": ("[[", "]]"),
    "community": ("[[", "]]"),
    "community-untrusted": ("[[", "]]"),
}


def text(value: str) -> str:
    # A newline would end the statement; other control characters have no business in a label.
    cleaned = " ".join("".join(" " if unicodedata.category(c) == "Cc" else c for c in value).split())
    return "".join(f"#{ord(c)};" if c in _SPECIAL else c for c in cleaned)


def _label(title: str | None, lines: tuple[str, ...]) -> str:
    parts = [f"<b>{text(title)}</b>"] if title else []
    parts += [text(line) for line in lines]
    return '"' + "<br/>".join(parts) + '"'


def _arrow(edge: Edge) -> str:
    """Link syntax: arrowheads where data arrives, dashed for pull and zmq, thick for push+pull."""
    line = {"pull": "dotted", "consumer-zmq": "dotted", "consumer-expansion": "dotted", "push-pull": "thick"}.get(
        edge.kind, "solid")
    body = {"solid": ("---", "-->"), "dotted": ("-.-", "-.->"), "thick": ("===", "==>")}[line][edge.forward]
    return ("<" if edge.backward else "") + body


def mermaid_source(diagram: Diagram, styles: Styles) -> str:
    out = [f"%% {text(diagram.title)}"]
    out += [f"%% {text(note)}" for note in diagram.notes]
    # Room below a subgraph's title (two lines: name, description) before its members; with less,
    # mermaid draws the title over the first member (flowchart config `subGraphTitleMargin`).
    out.append('%%{init: {"flowchart": {"subGraphTitleMargin": {"top": 10, "bottom": 40}}}}%%')
    direction = "TB" if diagram.collapsed else "LR"
    out.append(f"flowchart {direction}")
    by_cluster: dict[str | None, list[Node]] = {}
    placed = _placement(diagram)
    for node in diagram.nodes:
        by_cluster.setdefault(placed[node.id], []).append(node)

    def node_line(node: Node, indent: str) -> str:
        opening, closing = SHAPES[node.kind]
        return f"{indent}{node.id}{opening}{_label(node.title, node.lines)}{closing}"

    # The estate and the legend each in a subgraph with no link out: mermaid lays each out on its own,
    # in the subgraph's own `direction` (mermaid.js.org/syntax/flowchart.html#direction-in-subgraphs),
    # and stacks the two, so the legend's width does not stretch a column of the estate.
    out.append('  subgraph estate[" "]')
    out.append(f"    direction {direction}")
    for cluster in diagram.clusters:
        out.append(f"    subgraph {cluster.id}[{_label(cluster.title, cluster.lines)}]")
        # Heeded when nothing links out of the community: mermaid then lays it out on its own, by
        # default across the estate's direction.
        out.append(f"      direction {direction}")
        out += [node_line(node, "      ") for node in by_cluster.get(cluster.id, [])]
        out.append("    end")
    out += [node_line(node, "    ") for node in by_cluster.get(None, [])]
    out.append("  end")
    link_styles: list[str] = []
    _edges(diagram, styles, out, link_styles)
    legend, legend_classes, legend_columns = _legend(diagram, styles, link_styles)
    if legend:
        # Top to bottom, the legend's unlinked parts sit side by side: three columns.
        out += ['  subgraph legend["<b>Legend</b>"]', "    direction TB"]
        out += legend
        out.append("  end")
    for section, key in diagram.styles_used():
        if section in ("nodes", "flow") and key not in ("path", "idle"):
            out.append(f"  classDef {section}_{key.replace('-', '_')} {styles.get(section, key).mermaid}")
        if section == "clusters":
            out.append(f"  classDef cluster_{key.replace('-', '_')} {styles.get(section, key).mermaid}")
    out.append("  classDef legend_text fill:#ffffff,stroke:#ffffff")
    for node in diagram.nodes:
        out.append(f"  class {node.id} nodes_{node.kind.replace('-', '_')}")
        if node.flow is not None:
            out.append(f"  class {node.id} flow_{node.flow}")
        if node.change is not None:
            out.append(f"  style {node.id} {styles.get('diff', node.change).mermaid}")
    out += [f"  class {ident} {cls}" for ident, cls in legend_classes]
    for cluster in diagram.clusters:
        out.append(f"  style {cluster.id} {styles.get('clusters', cluster.kind).mermaid}")
    out.append("  style estate fill:none,stroke:none")
    out += [f"  style {column} fill:none,stroke:none" for column in legend_columns]
    out += link_styles
    return "\n".join(out) + "\n"


def _placement(diagram: Diagram) -> dict[str, str | None]:
    """The subgraph each node is drawn in: its community's, and for a feeder writing into the
    instances of one community only, that community's. Left outside, a feeder sits in the same
    column as the community's first members, so dagre puts it above or below the subgraph and its
    edge enters through the top, where the title is. (Consumers stay outside: inside, they widen
    the community to the column of the subgraph a sync link leads to, and dagre stacks the two.)"""
    placed = {node.id: node.cluster for node in diagram.nodes}
    neighbours: dict[str, set[str | None]] = {}
    for edge in diagram.edges:
        neighbours.setdefault(edge.tail, set()).add(placed[edge.head])
        neighbours.setdefault(edge.head, set()).add(placed[edge.tail])
    for node in diagram.nodes:
        around = neighbours.get(node.id, set())
        if node.kind == "feeder" and len(around) == 1:
            placed[node.id] = next(iter(around))
    return placed


def _edges(diagram: Diagram, styles: Styles, out: list[str], link_styles: list[str]) -> None:
    """Each edge's line, and its link style (numbered as Mermaid numbers links: in order)."""
    for number, edge in enumerate(diagram.edges):
        lines = edge.lines
        if edge.initiator is not None:
            lines = (f"opened by {edge.initiator}", *lines)
        label = f"|{_label(None, lines)}|" if lines else ""
        out.append(f"  {edge.tail} {_arrow(edge)}{label} {edge.head}")
        css = styles.get("edges", edge.kind).mermaid
        if edge.on_path:
            css = styles.get("flow", "path").mermaid
        elif diagram.flow_view:
            css = styles.get("flow", "idle").mermaid
        if edge.change is not None:
            css = styles.get("diff", edge.change).mermaid
        link_styles.append(f"  linkStyle {number} {css}")


def _legend(diagram: Diagram, styles: Styles, link_styles: list[str]
            ) -> tuple[list[str], list[tuple[str, str]], list[str]]:
    """The legend's lines, (node, class) pairs and column subgraphs, one entry per style the diagram
    uses; the legend's sample links are numbered after the diagram's edges."""
    count = len(diagram.edges)
    shapes: list[str] = []
    links: list[str] = []
    legend_classes: list[tuple[str, str]] = []
    sentences: list[str] = []
    for section, key in diagram.styles_used():
        style = styles.get(section, key)
        ident = f"legend_{section}_{key.replace('-', '_')}"
        if section == "clusters":
            shapes.append(f"{ident}[{_label(None, (style.mermaid_legend,))}]")
            legend_classes.append((ident, f"cluster_{key.replace('-', '_')}"))
        elif section == "nodes" or (section == "flow" and key not in ("path", "idle")):
            opening, closing = SHAPES.get(key, ("(", ")"))
            shapes.append(f"{ident}{opening}{_label(None, (style.mermaid_legend,))}{closing}")
            legend_classes.append((ident, f"{section}_{key.replace('-', '_')}"))
        elif section in ("edges", "flow", "diff"):
            sample = Edge(id=ident, tail=f"{ident}_a", head=f"{ident}_b", kind=key if section == "edges" else "push",
                          forward=key != "pull", backward=key in ("pull", "push-pull", "consumer-expansion"))
            sentence = _label(None, (style.mermaid_legend,))
            links.append(f'{ident}_a[" "] {_arrow(sample)}|{sentence}| {ident}_b[" "]')
            css = style.mermaid
            link_styles.append(f"  linkStyle {count} {css}")
            count += 1
        else:
            sentences.append(style.legend)
    # The columns: the shapes, the sample links, the label sentences; in a column laid out left to
    # right, the unlinked entries stack.
    legend: list[str] = []
    columns = {"legend_shapes": shapes, "legend_links": links}
    for column, lines in columns.items():
        if lines:
            legend += [f'    subgraph {column}[" "]', "      direction LR"]
            legend += [f"      {line}" for line in lines] + ["    end"]
    if sentences:
        legend.append(f"    legend_labels[{_label('labels on edges and in nodes', tuple(sentences))}]")
        legend_classes.append(("legend_labels", "legend_text"))
    return legend, legend_classes, [column for column, lines in columns.items() if lines]
