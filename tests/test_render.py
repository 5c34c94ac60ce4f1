"""Diagrams: golden dot/Mermaid text of every example, SVG structure, legend, escaping, views, styles.

Golden files are the diagrams committed beside each example (`examples/<name>/diagram.dot`, `.mmd`);
regenerate them with `UPDATE_GOLDEN=1 pytest tests/test_render.py` and review the diff.
"""

from __future__ import annotations

import os
import re
import shutil
import unicodedata
import xml.etree.ElementTree as ET
from pathlib import Path
from textwrap import dedent

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from planner.cli import app
from planner.pipeline import load_estate
from planner.render import DrawOptions, build_diagram, load_styles, render
from planner.render.graph import AUTO_COLLAPSE_INSTANCES, node_id
from planner.render.mermaid import mermaid_source
from planner.render.mermaid import text as mermaid_text

runner = CliRunner()
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"
SVG = "{http://www.w3.org/2000/svg}"
needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz 'dot' is not installed")


def _golden(path: Path, text: str) -> None:
    if UPDATE or not path.exists():
        if not UPDATE:
            pytest.fail(f"{path} is missing; run with UPDATE_GOLDEN=1 to create it")
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8"), f"{path} differs; UPDATE_GOLDEN=1 regenerates it"


def test_dot_golden(example: Path) -> None:
    diagram, _notes = build_diagram(load_estate(example).estate)
    _golden(example.parent / "diagram.dot", render(diagram, load_styles(), "dot").decode())


def test_mermaid_golden(example: Path) -> None:
    diagram, _notes = build_diagram(load_estate(example).estate)
    _golden(example.parent / "diagram.mmd", render(diagram, load_styles(), "mmd").decode())


def _svg_ids(svg: bytes) -> dict[str, ET.Element]:
    root = ET.fromstring(svg)
    return {g.get("id", ""): g for g in root.iter(f"{SVG}g")}


def _texts(element: ET.Element) -> str:
    return " ".join("".join(t.itertext()) for t in element.iter(f"{SVG}text"))


@needs_dot
def test_svg_has_every_cluster_instance_edge_and_exact_legend(example: Path) -> None:
    estate = load_estate(example).estate
    diagram, _notes = build_diagram(estate)
    styles = load_styles()
    ids = _svg_ids(render(diagram, styles, "svg"))
    for cid in {i.community for i in estate.instances.values()}:
        cluster = ids[f"cluster_{node_id('k', cid)}"]
        assert cid in _texts(cluster)
    for iid in estate.instances:
        assert iid in _texts(ids[node_id("i", iid)])
    for conn in estate.connections:
        assert f"e_sync_{conn.index}" in ids
    for fid in estate.feeders:
        assert node_id("f", fid) in ids and f"e_feeder_{node_id('f', fid)}" in ids
    for cid in estate.consumers:
        assert node_id("c", cid) in ids and f"e_consumer_{node_id('c', cid)}" in ids
    used = diagram.styles_used()
    # Graphviz names a table cell's anchor "a_<ID>": one per legend row.
    drawn = {i.removeprefix("a_") for i in ids if i.startswith("a_legend_")}
    assert drawn == {f"legend_{s}_{k.replace('-', '_')}" for s, k in used}
    legend_text = _texts(ids["legend"])
    for section, key in used:
        assert styles.get(section, key).legend in legend_text, (section, key)


def test_legend_lists_only_styles_the_diagram_uses() -> None:
    estate = load_estate(Path(__file__).parent.parent / "examples/sector-isac/topology.yaml").estate
    diagram, _notes = build_diagram(estate)
    used = diagram.styles_used()
    kinds = {("nodes", n.kind) for n in diagram.nodes} | {("edges", e.kind) for e in diagram.edges}
    assert {u for u in used if u[0] in ("nodes", "edges")} == kinds
    assert ("clusters", "untrusted") not in used  # this estate has no untrusted community
    assert ("edges", "consumer-zmq") in used and ("edges", "consumer-expansion") not in used
    mmd = mermaid_source(diagram, load_styles())
    assert "legend_edges_consumer_zmq_a" in mmd and "legend_clusters_untrusted" not in mmd


ARROWS = dedent("""\
    version: 1
    name: arrows
    organisations: {a: {name: A}, b: {name: B}}
    communities: {home: {}, away: {}}
    instances:
      hub: {community: home, host_org: a, url: https://hub.example}
      ingest: {community: home, host_org: a, url: https://ingest.example}
      partner: {community: away, host_org: b, url: https://partner.example, managed: false}
    sync:
      - {initiator: hub, remote: ingest, internal: true, pull: {every: 1h}}
      - initiator: hub
        remote: partner
        push: {tags: {include: ["tlp:white"], exclude: ["tlp:red"]}}
        pull: true
        sightings: true
      - {initiator: ingest, remote: partner, push: true, unpublish: true}
    """)


def test_sync_edges_put_arrows_where_data_arrives_and_name_the_initiator(tmp_path: Path) -> None:
    path = tmp_path / "arrows.yaml"
    path.write_text(ARROWS, encoding="utf-8")
    diagram, _notes = build_diagram(load_estate(path).estate)
    edges = {e.id: e for e in diagram.edges}
    pull = edges["e_sync_0"]  # hub pulls from ingest: data flows ingest -> hub
    assert (pull.tail, pull.head, pull.kind) == ("i_hub", "i_ingest", "pull")
    assert not pull.forward and pull.backward and pull.initiator == "hub"
    assert pull.lines == ("#0 pull: every 1h · internal",)  # #n: its sync entry; flags on the last line
    both = edges["e_sync_1"]
    assert both.kind == "push-pull" and both.forward and both.backward
    assert both.lines == ("#1 push: tags +tlp:white -tlp:red", "#1 pull: everything · sightings")
    push = edges["e_sync_2"]
    assert (push.kind, push.forward, push.backward, push.lines) == ("push", True, False, ("unpublish",))
    dot = render(diagram, load_styles(), "dot").decode()
    assert re.search(r"i_hub -> i_ingest \[.*arrowhead=none.*arrowtail=normaldot", dot)
    assert re.search(r"i_hub -> i_partner \[.*arrowhead=normal.*arrowtail=normaldot", dot)
    assert re.search(r"i_ingest -> i_partner \[.*arrowhead=normal.*arrowtail=dot", dot)
    mmd = mermaid_source(diagram, load_styles())
    assert 'i_hub <-.-|"opened by hub' in mmd and 'i_hub <==>|"opened by hub' in mmd
    assert 'i_ingest -->|"opened by ingest<br/>unpublish"| i_partner' in mmd
    assert [n.kind for n in diagram.nodes if n.id == "i_partner"] == ["external"]


HOSTILE = dedent('''\
    version: 1
    name: hostile
    description: 'Quotes " and <script>alert(1)</script> & -- dashes'
    organisations:
      a: {name: 'Org "A" <b>bold</b> & Söhne \u2013 ünïcode 🙂'}
      b: {name: 'B|pipe;semi#hash `tick` [x] {y} (z) \\ end'}
    communities:
      c-1: {trust: trusted, description: 'desc with "quotes" -> arrows --> and ]]>'}
      c-2: {trust: untrusted}
    instances:
      end:
        community: c-1
        host_org: a
        url: https://a.example
      x-y:
        community: c-2
        host_org: b
        url: https://b.example
        managed: false
    sync:
      - initiator: end
        remote: x-y
        push: {tags: {include: ['tlp:clear', 'misp-galaxy:threat-actor="APT <28>"'], exclude: ['a|b']}}
    consumers:
      siem:
        kind: siem
        product: 'Splunk "Enterprise" <9> & co'
        from: end
        via: zmq
    ''')


@pytest.fixture
def hostile(tmp_path: Path) -> Path:
    path = tmp_path / "hostile.yaml"
    path.write_text(HOSTILE, encoding="utf-8")
    return path


HOSTILE_STRINGS = ('Org "A" <b>bold</b> & Söhne \u2013 ünïcode 🙂', "B|pipe;semi#hash `tick` [x] {y} (z) \\ end",
                   'misp-galaxy:threat-actor="APT <28>"', 'Splunk "Enterprise" <9> & co')


@needs_dot
def test_hostile_names_render_as_text_in_svg(hostile: Path) -> None:
    diagram, _notes = build_diagram(load_estate(hostile).estate)
    svg = render(diagram, load_styles(), "svg")
    text = _texts(ET.fromstring(svg))  # parses: the SVG is well-formed
    for value in HOSTILE_STRINGS:
        assert value in text, value
    assert "<script" not in svg.decode()
    dot = render(diagram, load_styles(), "dot").decode()
    assert dot.isascii()  # every non-ASCII character is a numeric reference inside an HTML label


def _mermaid_unescape(value: str) -> str:
    return re.sub(r"#(\d+);", lambda m: chr(int(m.group(1))), value)


def test_hostile_names_are_escaped_in_mermaid(hostile: Path) -> None:
    mmd = mermaid_source(build_diagram(load_estate(hostile).estate)[0], load_styles())
    labels = re.findall(r'"([^"]*)"', mmd)  # every label is quoted, so no quote may survive inside one
    for value in HOSTILE_STRINGS:
        assert any(value in _mermaid_unescape(label).replace("<br/>", "\n") for label in labels), value
    for label in labels:
        inner = label.replace("<br/>", "").replace("<b>", "").replace("</b>", "")
        assert not set(inner) & set('"<>|`'), label
    assert "i_end(" in mmd and "i_x_y(" in mmd  # ids cannot collide with Mermaid's `end` keyword


@pytest.mark.parametrize("value", ['a"b', "<x>", "a|b", "#35;", "x & y", "`code`", "line\nbreak", "end"])
def test_mermaid_text_round_trips(value: str) -> None:
    escaped = mermaid_text(value)
    assert not set(escaped) & set('"<>|`\n')
    assert _mermaid_unescape(escaped) == " ".join(value.split())


def test_flow_view_marks_levels_and_path() -> None:
    estate = load_estate(Path(__file__).parent.parent / "examples/sector-isac/topology.yaml").estate
    diagram, _notes = build_diagram(estate, DrawOptions(flow="bank-a-misp:all"))
    nodes = {n.id: n for n in diagram.nodes}
    assert nodes["i_bank_a_misp"].flow == "origin"
    assert nodes["i_isac_hub"].flow == "reached" and "holds a copy at all" in nodes["i_isac_hub"].lines[-1]
    assert nodes["i_bank_b_misp"].flow == "reached"
    assert nodes["i_bank_c_misp"].flow == "unreached"  # the hub's push to bank C needs tlp tags
    on_path = {e.id for e in diagram.edges if e.on_path}
    assert on_path == {"e_sync_0", "e_sync_1"}
    assert ("flow", "path") in diagram.styles_used() and ("flow", "idle") in diagram.styles_used()
    assert "flow of an event from bank-a-misp at distribution all" in diagram.title


def test_flow_view_errors_are_usage_errors(example: Path) -> None:
    for bad in ("nosuch:all", "hub", "hub:bogus"):
        result = runner.invoke(app, ["draw", str(example), "-o", "x.dot", "--flow", bad])
        assert result.exit_code == 2, result.output


def test_collapse_communities_aggregates_edges() -> None:
    estate = load_estate(Path(__file__).parent.parent / "examples/large-estate/topology.yaml").estate
    diagram, _notes = build_diagram(estate, DrawOptions(collapse=True))
    assert {n.id for n in diagram.nodes} == {"k_national", "k_public"}
    assert diagram.clusters == ()
    (edge,) = diagram.edges
    assert edge.kind == "aggregate" and edge.lines == ("1 connection: 1 push",)
    assert edge.forward and not edge.backward  # data only flows national -> public
    national = next(n for n in diagram.nodes if n.id == "k_national")
    assert "4 instances" in national.lines[0] and "3 connections inside" in national.lines[-1]
    assert next(n for n in diagram.nodes if n.id == "k_public").kind == "community-untrusted"


def test_focus_draws_a_neighbourhood() -> None:
    estate = load_estate(Path(__file__).parent.parent / "examples/large-estate/topology.yaml").estate
    diagram, notes = build_diagram(estate, DrawOptions(focus="north", depth=1))
    instances = {n.title for n in diagram.nodes if n.kind in ("instance", "external")}
    assert instances == {"north", "national-hub"}
    assert {e.id for e in diagram.edges if e.id.startswith("e_sync")} == {"e_sync_1"}
    assert "neighbourhood of north, depth 1" in notes[0]
    wider, _ = build_diagram(estate, DrawOptions(focus="north", depth=2))
    assert {n.title for n in wider.nodes if n.kind == "instance"} == set(estate.instances)


def test_large_estates_collapse_automatically_and_say_so() -> None:
    estate = load_estate(Path(__file__).parent.parent / "examples/large-estate/topology.yaml").estate
    diagram, notes = build_diagram(estate, DrawOptions(auto_collapse=3))
    assert diagram.collapsed and notes and "collapsed automatically" in notes[0]
    assert notes[0] in diagram.notes  # shown under the title too
    assert AUTO_COLLAPSE_INSTANCES >= 100


@needs_dot
def test_draw_command_formats(example: Path, tmp_path: Path) -> None:
    magic = {"svg": b"<?xml", "png": b"\x89PNG", "pdf": b"%PDF", "dot": b"digraph", "mmd": b"%%"}
    for fmt, start in magic.items():
        out = tmp_path / f"d.{fmt}"
        result = runner.invoke(app, ["draw", str(example), "-o", str(out)])
        assert result.exit_code == 0, result.output
        assert out.read_bytes().startswith(start), fmt


def test_draw_unknown_extension_is_a_usage_error(example: Path, tmp_path: Path) -> None:
    result = runner.invoke(app, ["draw", str(example), "-o", str(tmp_path / "d.jpeg")])
    assert result.exit_code == 2
    assert not (tmp_path / "d.jpeg").exists()


def test_styles_file_overrides_and_rejects_typos(tmp_path: Path) -> None:
    example = Path(__file__).parent.parent / "examples/national-csirt/topology.yaml"  # has a push+pull link
    styles = tmp_path / "styles.yaml"
    styles.write_text("edges:\n  push-pull:\n    graphviz: {color: '#123456'}\n    legend: both ways, custom\n")
    out = tmp_path / "d.dot"
    default = runner.invoke(app, ["draw", str(example), "-o", str(out)])
    assert default.exit_code == 0 and "#123456" not in out.read_text()
    result = runner.invoke(app, ["draw", str(example), "-o", str(out), "--styles", str(styles)])
    assert result.exit_code == 0, result.output
    assert "#123456" in out.read_text() and "both ways, custom" in out.read_text()
    styles.write_text("edges:\n  push-pul:\n    legend: typo\n")
    result = runner.invoke(app, ["draw", str(example), "-o", str(out), "--styles", str(styles)])
    assert result.exit_code == 2 and "push-pul" in result.output
    styles.write_text("- not a mapping\n")
    assert runner.invoke(app, ["draw", str(example), "-o", str(out), "--styles", str(styles)]).exit_code == 2


def test_rendering_is_deterministic(example: Path) -> None:
    estate = load_estate(example).estate
    first = render(build_diagram(estate)[0], load_styles(), "dot")
    second = render(build_diagram(load_estate(example).estate)[0], load_styles(), "dot")
    assert first == second


@needs_dot
@settings(max_examples=15, deadline=None)
@given(st.lists(st.text(min_size=1, max_size=30), min_size=1, max_size=12))
@example(["]", "\\E", "a\\Nb", "\\"])  # Graphviz dropped a lone "]" and read \E, \N as its own escapes
def test_any_text_survives_graphviz_and_mermaid(names: list[str]) -> None:
    """Property: whatever a name holds, dot accepts the label, the SVG parses and shows it, and the
    Mermaid escaping round-trips to the same visible text."""
    from planner.render.dot import dot_source, render_bytes
    from planner.render.graph import Diagram, Node

    visible = [" ".join("".join(" " if unicodedata.category(c) == "Cc" else c for c in n).split()) for n in names]
    nodes = tuple(Node(id=f"n{i}", kind="instance", title=f"n{i}", lines=(name,)) for i, name in enumerate(names))
    diagram = Diagram(title="property", notes=(), clusters=(), nodes=nodes, edges=())
    svg = ET.fromstring(render_bytes(dot_source(diagram, load_styles()), "svg", "dot"))
    shown = {g.get("id"): " ".join(_texts(g).split()) for g in svg.iter(f"{SVG}g")}
    for i, expected in enumerate(visible):
        assert expected in shown[f"n{i}"]
    for name, expected in zip(names, visible, strict=True):
        escaped = mermaid_text(name)
        assert not set(escaped) & set('"<>|`\n')
        assert _mermaid_unescape(escaped) == expected


def test_collapsed_flow_view_counts_copies_per_community(tmp_path: Path) -> None:
    path = tmp_path / "arrows.yaml"
    path.write_text(ARROWS, encoding="utf-8")
    estate = load_estate(path).estate
    diagram, _ = build_diagram(estate, DrawOptions(collapse=True, flow="hub:all"))
    nodes = {n.id: n for n in diagram.nodes}
    # ingest only sends to hub (hub pulls from it); the push to the partner needs tag tlp:white
    assert nodes["k_home"].flow == "origin" and nodes["k_away"].flow == "unreached"
    assert nodes["k_home"].lines[-1] == "1 of 2 hold a copy: 1 at all"
    (edge,) = diagram.edges
    assert edge.lines == ("2 connections: 1 push, 1 push+pull",) and edge.forward and edge.backward


def test_no_edge_runs_over_a_community_title(example: Path) -> None:
    """The committed renderings (issue 21: an edge and its label ran through "national · trusted")."""
    from planner.render.titles import crossed_titles

    for svg in (example.parent / "diagram.svg", example.parent / "report" / "diagram.svg"):
        assert crossed_titles(svg.read_text(encoding="utf-8")) == {}, svg


def test_title_check_sees_an_edge_over_a_title() -> None:
    """The check can fail: an edge drawn through a cluster's title, and its label on it."""
    from planner.render.titles import crossed_titles

    svg = ('<svg xmlns="http://www.w3.org/2000/svg"><g id="cluster_k_a" class="cluster">'
           '<text text-anchor="start" x="100" y="-200" font-size="13.00">national · trusted</text></g>'
           '<g id="e_feeder_f_x" class="edge"><path d="M50,-210C90,-208 150,-204 300,-190"/></g>'
           '<g id="e_sync_0" class="edge"><path d="M0,0C1,1 2,2 3,3"/>'
           '<text x="120" y="-198" font-size="9.00">push: everything</text></g>'
           '<g id="e_sync_1" class="edge"><path d="M0,0C10,0 20,0 30,0"/></g></svg>')
    assert crossed_titles(svg) == {"cluster_k_a": ["e_feeder_f_x", "e_sync_0"]}
