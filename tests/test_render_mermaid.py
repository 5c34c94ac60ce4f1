"""The Mermaid output is valid Mermaid: parsed and rendered by mermaid.js itself in headless Chromium.

Needs Debian's `chromium` and a local copy of mermaid.js (`npm install mermaid` somewhere, then
MERMAID_JS=/that/node_modules/mermaid/dist/mermaid.min.js); skipped with the reason otherwise.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from chromium import Page
from test_render import HOSTILE

from planner.pipeline import load_estate
from planner.render import DrawOptions, build_diagram, load_styles
from planner.render.mermaid import mermaid_source

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CANDIDATES = [os.environ.get("MERMAID_JS", ""), str(ROOT / "node_modules/mermaid/dist/mermaid.min.js"),
              str(ROOT / ".ci/node/node_modules/mermaid/dist/mermaid.min.js")]
MERMAID_JS = next((Path(c) for c in CANDIDATES if c and Path(c).is_file()), None)

pytestmark = [
    pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed"),
    pytest.mark.skipif(MERMAID_JS is None, reason="mermaid.js not found: npm install mermaid and set MERMAID_JS"),
]

PAGE = """<!DOCTYPE html><html><head><meta charset="utf-8"><script src="{js}"></script></head><body>
<pre id="out">pending</pre><script>
mermaid.initialize({{startOnLoad: false, securityLevel: "strict"}});
const diagrams = {diagrams};
(async () => {{
  const results = [];
  for (const [name, text] of Object.entries(diagrams)) {{
    try {{ await mermaid.render("d" + results.length, text); results.push(name + "=OK"); }}
    catch (e) {{ results.push(name + "=ERROR " + String(e.message || e).replace(/\\s+/g, " ")); }}
  }}
  document.getElementById("out").textContent = results.join("\\n");
}})();
</script></body></html>
"""


def _run(diagrams: dict[str, str], tmp_path: Path) -> dict[str, str]:
    page = tmp_path / "page.html"
    payload = json.dumps(diagrams).replace("</", "<\\/")
    page.write_text(PAGE.format(js=MERMAID_JS.as_uri() if MERMAID_JS else "", diagrams=payload), encoding="utf-8")
    command = [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
               "--disable-background-networking", f"--user-data-dir={tmp_path / 'p'}",
               "--allow-file-access-from-files", "--virtual-time-budget=30000", "--dump-dom", page.as_uri()]
    done = subprocess.run(command, capture_output=True, text=True, timeout=180, check=False)
    match = re.search(r'<pre id="out">(.*?)</pre>', done.stdout, re.S)
    assert match, done.stderr[-2000:]
    return dict(line.split("=", 1) for line in match.group(1).splitlines())


def test_mermaid_js_accepts_every_view(tmp_path: Path) -> None:
    styles = load_styles()
    hostile = tmp_path / "hostile.yaml"
    hostile.write_text(HOSTILE, encoding="utf-8")
    diagrams: dict[str, str] = {}
    for path in sorted((ROOT / "examples").glob("*/topology.yaml")):
        estate = load_estate(path).estate
        name = path.parent.name
        diagrams[name] = mermaid_source(build_diagram(estate)[0], styles)
        diagrams[f"{name}-collapsed"] = mermaid_source(build_diagram(estate, DrawOptions(collapse=True))[0], styles)
        origin = sorted(estate.instances)[0]
        diagrams[f"{name}-flow"] = mermaid_source(build_diagram(estate, DrawOptions(flow=f"{origin}:all"))[0], styles)
    diagrams["hostile"] = mermaid_source(build_diagram(load_estate(hostile).estate)[0], styles)
    diagrams["broken-on-purpose"] = "flowchart LR\n  a -->|x| b[\"unclosed\n"  # proves errors are detected
    results = _run(diagrams, tmp_path)
    assert results.pop("broken-on-purpose").startswith("ERROR")
    assert results == dict.fromkeys(results, "OK")
    assert len(results) == len(diagrams) - 1


# Boxes in the rendered SVG, in page pixels: every subgraph's rectangle and title (empty titles, like
# those of the legend's columns, left out), every node, every edge label with text, and points along
# every edge (200 per edge), each after mermaid.js 11 laid the diagram out at its natural size.
GEOMETRY = """(async (source) => {
  const holder = document.getElementById("holder");
  holder.innerHTML = (await mermaid.render("diagram" + Date.now(), source)).svg;
  const svg = holder.querySelector("svg");
  svg.setAttribute("width", svg.viewBox.baseVal.width);
  svg.style.maxWidth = "none";
  const box = (e) => { const r = e.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; };
  const name = (e) => e.id.replace(/^diagram[0-9]+-/, "");
  const clusters = [...svg.querySelectorAll("g.cluster")].map((c) => ({
    id: name(c), box: box(c.querySelector("rect")), title: box(c.querySelector(".cluster-label")),
    text: c.querySelector(".cluster-label").textContent.trim()}));
  const nodes = [...svg.querySelectorAll("g.node")].map((n) => ({id: name(n), box: box(n)}));
  const labels = [...svg.querySelectorAll("g.edgeLabel")].filter((l) => l.textContent.trim())
    .map((l) => ({id: l.textContent.trim(), box: box(l)}));
  const edges = [...svg.querySelectorAll("path.flowchart-link")].map((p) => {
    const m = p.getScreenCTM(), length = p.getTotalLength(), points = [];
    for (let i = 0; i <= 200; i++) {
      const q = p.getPointAtLength(length * i / 200);
      points.push([q.x * m.a + q.y * m.c + m.e, q.x * m.b + q.y * m.d + m.f]);
    }
    return {id: name(p), points};
  });
  return {clusters, nodes, labels, edges, size: [svg.viewBox.baseVal.width, svg.viewBox.baseVal.height]};
})"""
GEOMETRY_PAGE = """<!DOCTYPE html><html><head><meta charset="utf-8"><script src="{js}"></script></head>
<body style="margin:0"><div id="holder"></div>
<script>mermaid.initialize({{startOnLoad: false, securityLevel: "strict"}});</script></body></html>
"""
Box = list[float]
LEGEND_HEIGHT_LIMIT = 1.5


def _overlap(a: Box, b: Box) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _inside(point: list[float], box: Box) -> bool:
    return box[0] < point[0] < box[2] and box[1] < point[1] < box[3]


def layout_defects(geometry: dict[str, Any]) -> list[str]:
    """What runs over a subgraph title, a title wider than its subgraph, edge labels over each other,
    a legend not compact.

    Compact: the legend is no wider than the estate (the box around every other node and titled
    subgraph) and at most LEGEND_HEIGHT_LIMIT times as tall: mermaid stacks the two, so the estate
    keeps at least 40% of the drawing's height."""
    defects = []
    clusters = {c["id"]: c for c in geometry["clusters"]}
    titled = [c for c in geometry["clusters"] if c["text"]]
    for cluster in titled:
        title, name = cluster["title"], f"title of {cluster['id']}"
        defects += [f"{name} x node {n['id']}" for n in geometry["nodes"] if _overlap(title, n["box"])]
        defects += [f"{name} x edge label {lb['id']!r}" for lb in geometry["labels"] if _overlap(title, lb["box"])]
        defects += [f"{name} x title of {o['id']}" for o in titled if o is not cluster and _overlap(title, o["title"])]
        defects += [f"{name} x edge {e['id']}" for e in geometry["edges"]
                    if any(_inside(point, title) for point in e["points"])]
        box = cluster["box"]
        if title[0] < box[0] or title[2] > box[2]:
            defects.append(f"{name} wider than its subgraph")
    labels = geometry["labels"]
    defects += [f"edge label {a['id']!r} x edge label {b['id']!r}"
                for n, a in enumerate(labels) for b in labels[n + 1:] if _overlap(a["box"], b["box"])]
    if "legend" in clusters:
        legend = clusters["legend"]["box"]
        drawn = [n["box"] for n in geometry["nodes"] if not n["id"].startswith("flowchart-legend_")]
        drawn += [c["box"] for c in titled if c["id"] != "legend"]
        estate = [min(b[0] for b in drawn), min(b[1] for b in drawn),
                  max(b[2] for b in drawn), max(b[3] for b in drawn)]
        width, height = legend[2] - legend[0], legend[3] - legend[1]
        estate_width, estate_height = estate[2] - estate[0], estate[3] - estate[1]
        if width > estate_width or height > LEGEND_HEIGHT_LIMIT * estate_height:
            defects.append(f"legend {width:.0f}x{height:.0f} not compact beside the estate "
                           f"{estate_width:.0f}x{estate_height:.0f}")
    return defects


def mermaid_geometry(sources: dict[str, str], tmp_path: Path) -> dict[str, dict[str, Any]]:
    page_file = tmp_path / "geometry.html"
    page_file.write_text(GEOMETRY_PAGE.format(js=MERMAID_JS.as_uri() if MERMAID_JS else ""), encoding="utf-8")
    screenshots = os.environ.get("MERMAID_SCREENSHOTS")
    found = {}
    with Page(width=1400, height=1000) as page:
        page.open(page_file.as_uri())
        for name, source in sources.items():
            found[name] = page.evaluate(f"{GEOMETRY}({json.dumps(source)})")
            if screenshots:
                page.resize(int(found[name]["size"][0]) + 1, int(found[name]["size"][1]) + 1)
                page.screenshot(Path(screenshots) / f"{name}.png")
    return found


def test_no_layout_defect_in_any_example(tmp_path: Path) -> None:
    """The examples as mermaid.js draws them: nothing runs over a subgraph's title and the legend
    stays compact (issue 21). MERMAID_SCREENSHOTS=a/folder keeps a screenshot of each rendering."""
    styles = load_styles()
    sources = {path.parent.name: mermaid_source(build_diagram(load_estate(path).estate)[0], styles)
               for path in sorted((ROOT / "examples").glob("*/topology.yaml"))}
    geometry = mermaid_geometry(sources, tmp_path)
    assert len(geometry) == len(sources) >= 3
    for name, found in geometry.items():
        assert "legend" in {c["id"] for c in found["clusters"]}, name
        assert found["nodes"] and found["labels"] and found["edges"], name
    defects = {name: layout_defects(found) for name, found in geometry.items()}
    assert defects == {name: [] for name in defects}


def test_layout_defects_are_detected() -> None:
    """The checker itself: a title crossed by a node, an edge label and an edge; a wide legend, a tall one;
    two edge labels over each other."""
    title = [100.0, 0.0, 300.0, 40.0]
    found = {"clusters": [{"id": "k", "box": [0.0, 0.0, 400.0, 300.0], "title": title, "text": "k"},
                          {"id": "legend", "box": [0.0, 300.0, 500.0, 400.0], "title": [0.0] * 4, "text": ""}],
             "nodes": [{"id": "n", "box": [250.0, 30.0, 350.0, 80.0]},
                       {"id": "flowchart-legend_x", "box": [0.0, 300.0, 500.0, 400.0]}],
             "labels": [{"id": "1k/day", "box": [90.0, 10.0, 120.0, 20.0]}],
             "edges": [{"id": "e", "points": [[50.0, -50.0], [200.0, 20.0], [200.0, 100.0]]}]}
    assert layout_defects(found) == ["title of k x node n", "title of k x edge label '1k/day'", "title of k x edge e",
                                     "legend 500x100 not compact beside the estate 400x300"]
    found["nodes"][1]["box"] = found["clusters"][1]["box"] = [0.0, 300.0, 400.0, 751.0]
    assert layout_defects(found)[-1] == "legend 400x451 not compact beside the estate 400x300"
    found["nodes"][1]["box"] = found["clusters"][1]["box"] = [0.0, 300.0, 400.0, 750.0]
    assert layout_defects(found) == ["title of k x node n", "title of k x edge label '1k/day'", "title of k x edge e"]
    found["labels"].append({"id": "zmq", "box": [110.0, 15.0, 140.0, 25.0]})
    assert layout_defects(found)[-1] == "edge label '1k/day' x edge label 'zmq'"
