"""Which community titles an edge or an edge label runs over, read from Graphviz's SVG.

One job: the geometry check that lets dot.py place each community's title where no edge crosses
it. Graphviz draws a cluster's label over whatever passes there and cannot be told to route around
it, so the diagram is laid out with titles at the top left, checked, and the titles that are
crossed move to the bottom left (:func:`planner.render.dot.placed_source`). Tests use the same check
on every committed example.

Text widths are estimated (Graphviz's SVG gives a text's start, not its width) at 0.6 of the font
size per character, which covers Helvetica's bold capitals; an edge is sampled at 20 points per
Bezier segment. O(edges x segments x titles).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

_SVG = "{http://www.w3.org/2000/svg}"
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
Box = tuple[float, float, float, float]  # x0, y0, x1, y1


def _text_box(text: ET.Element, width_per_size: float) -> Box:
    size = float(text.get("font-size", "14"))
    x, y = float(text.get("x", "0")), float(text.get("y", "0"))
    width = len(text.text or "") * size * width_per_size
    if text.get("text-anchor") == "middle":
        x -= width / 2
    elif text.get("text-anchor") == "end":
        x -= width
    return (x, y - size, x + width, y + size * 0.3)


def _points(path: str) -> list[tuple[float, float]]:
    """Points along an SVG path of cubic Bezier segments (Graphviz's "M x,y C ..." splines)."""
    numbers = [float(n) for n in _NUMBER.findall(path)]
    corners = list(zip(numbers[0::2], numbers[1::2], strict=False))
    points = corners[:1]
    for i in range(1, len(corners) - 2, 3):
        (x0, y0), (x1, y1), (x2, y2), (x3, y3) = corners[i - 1:i + 3]
        for k in range(1, 21):
            t = k / 20
            a, b, c, d = (1 - t) ** 3, 3 * (1 - t) ** 2 * t, 3 * (1 - t) * t * t, t ** 3
            points.append((a * x0 + b * x1 + c * x2 + d * x3, a * y0 + b * y1 + c * y2 + d * y3))
    return points


def crossed_titles(svg: str) -> dict[str, list[str]]:
    """Cluster id -> the ids of the edges whose line or label runs over that cluster's title."""
    root = ET.fromstring(svg)
    titles: list[tuple[str, Box]] = []
    edges: list[ET.Element] = []
    for group in root.iter(f"{_SVG}g"):
        if group.get("class") == "cluster":
            titles += [(group.get("id", ""), _text_box(t, 0.6)) for t in group.findall(f"{_SVG}text")]
        elif group.get("class") == "edge":
            edges.append(group)
    crossed: dict[str, list[str]] = {}

    def mark(cluster: str, edge: str) -> None:
        if edge not in crossed.setdefault(cluster, []):
            crossed[cluster].append(edge)

    for edge in edges:
        ident = edge.get("id", "")
        points = [p for path in edge.findall(f"{_SVG}path") for p in _points(path.get("d", ""))]
        labels = [_text_box(t, 0.55) for t in edge.findall(f"{_SVG}text")]
        for cluster, (x0, y0, x1, y1) in titles:
            if any(x0 <= x <= x1 and y0 <= y <= y1 for x, y in points) or any(
                    lx0 < x1 and lx1 > x0 and ly0 < y1 and ly1 > y0 for lx0, ly0, lx1, ly1 in labels):
                mark(cluster, ident)
    return {cluster: found for cluster, found in crossed.items() if found}
