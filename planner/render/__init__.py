"""Diagrams of an estate: one graph model (graph.py), thin renderers (dot.py, mermaid.py), styles as data."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from planner.estate import Estate
from planner.render.dot import placed_source, render_bytes
from planner.render.graph import Diagram, DrawOptions, build_diagram, usage_error
from planner.render.mermaid import mermaid_source
from planner.render.styles import Styles, load_styles

FORMATS = ("svg", "png", "pdf", "dot", "mmd")

__all__ = ["FORMATS", "Diagram", "DrawOptions", "build_diagram", "draw", "format_of", "load_styles", "render",
           "render_formats"]


def format_of(path: Path) -> str:
    fmt = path.suffix.lower().lstrip(".")
    if fmt not in FORMATS:
        raise usage_error(f"cannot tell the diagram format from '{path.name}'",
                          "end the output name in " + ", ".join(f".{f}" for f in FORMATS))
    return fmt


def render(diagram: Diagram, styles: Styles, fmt: str) -> bytes:
    return render_formats(diagram, styles, (fmt,))[fmt]


def render_formats(diagram: Diagram, styles: Styles, formats: tuple[str, ...]) -> dict[str, bytes]:
    """The diagram in each of ``formats``, Graphviz's from one placement of the titles (whose SVG
    is reused): a layout of a national estate takes seconds."""
    out = {fmt: mermaid_source(diagram, styles).encode("utf-8") for fmt in formats if fmt == "mmd"}
    if any(fmt != "mmd" for fmt in formats):
        source, svg = placed_source(diagram, styles)
        for fmt in formats:
            if fmt != "mmd":
                out[fmt] = svg if fmt == "svg" and svg is not None else render_bytes(source, fmt, diagram.engine)
    return out


def draw(estate: Estate, output: Path, options: DrawOptions | None = None,
         styles_file: Path | None = None, marked: Callable[[Diagram], Diagram] | None = None) -> list[str]:
    """Write the diagram to ``output`` (format from its extension), through ``marked`` when given
    (drift marks what differs); returns notes for stderr."""
    fmt = format_of(output)
    styles = load_styles(styles_file)
    diagram, notes = build_diagram(estate, options)
    data = render(marked(diagram) if marked else diagram, styles, fmt)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_bytes(data)
    return notes
