"""The report in a real browser: Debian's headless Chromium, driven over the DevTools protocol
(tests/chromium.py). For each example and a 500-instance synthetic estate: the diagram is fully
visible at 1400 px; choosing an origin and a level lights exactly the holders `misp-planner flows
--format json` names, and every instance not reached shows its reason; printed to PDF, no page is
blank and the diagram page shows every instance; no console error; no request leaves the page.
"""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from chromium import CHROMIUM, Page
from conftest import ROOT
from typer.testing import CliRunner

from planner.cli import app
from planner.pipeline import Loaded, load_estate
from planner.render.report import collect, render_report

pytestmark = [
    pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (apt-get install chromium)"),
    pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz 'dot' is not installed"),
    pytest.mark.skipif(shutil.which("pdftotext") is None, reason="pdftotext is not installed (apt-get install "
                       "poppler-utils)"),
]
EXAMPLES = sorted(ROOT.glob("examples/*/topology.yaml"))
PAIRS = 20  # random (origin, level) choices per example


@pytest.fixture(scope="module")
def page() -> Iterator[Page]:
    with Page(width=1400, height=1000) as browser:
        yield browser


def _write(loaded: Loaded, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in render_report(loaded, collect(loaded)).items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder / "report.html"


def _pages(pdf: bytes, folder: Path) -> list[str]:
    """The text of each page of a PDF (pdftotext keeps pages apart with form feeds)."""
    path = folder / "report.pdf"
    path.write_bytes(pdf)
    text = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True,
                          check=True).stdout
    return text.split("\f")[:-1]


def _diagram_fits(page: Page) -> None:
    """The diagram box is inside the 1400 px window, and every node drawn is inside the box."""
    box = page.evaluate("""(function () {
        var b = document.querySelector('.diagram').getBoundingClientRect();
        var out = [];
        document.querySelectorAll('.diagram g.node, .diagram g.cluster').forEach(function (g) {
          var r = g.getBoundingClientRect();
          if (r.left < b.left - 1 || r.right > b.right + 1 || r.top < b.top - 1 || r.bottom > b.bottom + 1) {
            out.push(g.id);
          }
        });
        return {left: b.left, right: b.right, height: b.height, outside: out, nodes:
                document.querySelectorAll('.diagram g.node').length};
    })()""")
    assert box["left"] >= 0 and box["right"] <= 1400, box
    assert box["height"] <= 1000, box  # the whole diagram on one screen
    assert box["nodes"] > 0 and box["outside"] == [], box


def _choose(page: Page, origin: str, level: str, group: str = "") -> dict[str, Any]:
    """Pick origin and level (and group) in the page; what the diagram and the answer table show."""
    result: dict[str, Any] = page.evaluate(f"""(function () {{
        function set(id, value) {{
          var s = document.getElementById(id); s.value = value; s.dispatchEvent(new Event('change'));
        }}
        set('x-origin', {json.dumps(origin)});
        set('x-level', {json.dumps(level)});
        if ({json.dumps(group)}) {{ set('x-group', {json.dumps(group)}); }}
        var data = JSON.parse(document.getElementById('explorer-data').textContent);
        function names(cls) {{
          return Array.from(document.querySelectorAll('.diagram g.node.' + cls))
            .map(function (g) {{ return data.instances[data.nodes.indexOf(g.id)]; }});
        }}
        var rows = Array.from(document.querySelectorAll('#answer tbody tr')).map(function (tr) {{
          return Array.from(tr.cells).map(function (td) {{ return td.textContent; }});
        }});
        function values(id) {{
          return Array.from(document.getElementById(id).options).map(function (o) {{ return o.value; }});
        }}
        return {{held: names('held'), unreached: names('unreached'), rows: rows,
                 levels: values('x-level'), groups: values('x-group')}};
    }})()""")
    return result


def _flows(topology: Path, origin: str, level: str | None, group: str) -> dict[str, Any]:
    args = ["flows", str(topology), "--origin", origin, "--format", "json"]
    args += ["--distribution", level] if level else []
    args += ["--sharing-group", group] if group else []
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def _no_console_error_no_request(page: Page) -> None:
    assert page.console_errors() == []
    assert page.requests_leaving() == []


@pytest.mark.parametrize("topology", EXAMPLES, ids=[p.parent.name for p in EXAMPLES])
def test_example_report_in_chromium(page: Page, topology: Path, tmp_path: Path) -> None:
    loaded = load_estate(topology)
    html = _write(loaded, tmp_path)
    page.events.clear()
    page.open(html.as_uri())
    _diagram_fits(page)

    estate = loaded.estate
    origins = [*sorted(estate.instances), *sorted(estate.feeders)]
    rng = random.Random(f"{estate.name}:21")  # the same pairs every run
    for _ in range(PAIRS):
        origin = rng.choice(origins)
        shown = _choose(page, origin, "")
        level = rng.choice(shown["levels"])
        shown = _choose(page, origin, level)
        group = rng.choice(shown["groups"]) if level == "sharing-group" else ""
        if group:
            shown = _choose(page, origin, level, group)
        expected = _flows(topology, origin, None if origin in estate.feeders else level, group)
        assert sorted(shown["held"]) == sorted(expected["reaches"]), (origin, level, group)
        assert sorted(shown["unreached"]) == sorted(expected["not_reached"])
        rows = {row[0]: row for row in shown["rows"]}
        for inst, why in expected["not_reached"].items():
            assert rows[inst][1] == "-" and rows[inst][2] == why  # every instance not reached shows its reason
        for inst, held in expected["reaches"].items():
            assert rows[inst][1].startswith(held)

    pages = _pages(page.pdf(), tmp_path)
    assert pages and all(text.strip() for text in pages), [len(text.strip()) for text in pages]
    diagram = [text for text in pages if "Diagram" in text and f"MISP estate {estate.name}" in text]
    assert diagram, "no page holds the diagram"
    missing = [iid for iid in estate.instances if iid not in diagram[0]]
    assert missing == [], f"instances missing from the printed diagram page: {missing}"
    assert len(pages) <= 12
    _no_console_error_no_request(page)


def test_synthetic_500_instances_static_fallback(page: Page, tmp_path: Path) -> None:
    sys.path.insert(0, str(ROOT))
    from benchmarks.synthetic import generate

    topology = tmp_path / "synthetic.yaml"
    topology.write_text(json.dumps(generate(500)), encoding="utf-8")
    loaded = load_estate(topology)
    html = _write(loaded, tmp_path)
    text = html.read_text(encoding="utf-8")
    assert 'id="explorer-data"' not in text and "more than 150 instances" in text  # the documented fallback
    page.events.clear()
    page.open(html.as_uri())
    _diagram_fits(page)
    pages = _pages(page.pdf(), tmp_path)
    assert pages and all(text.strip() for text in pages)
    printed = "\n".join(pages)
    missing = [iid for iid in loaded.estate.instances if iid not in printed]
    assert missing == []  # every instance is in the printed report (the inventory)
    _no_console_error_no_request(page)


def test_the_checks_can_fail(page: Page, tmp_path: Path) -> None:
    """A script error and a request to the network are caught by the same checks."""
    bad = tmp_path / "bad.html"
    bad.write_text("<!DOCTYPE html><html><body><img src='http://192.0.2.1/x.png'>"
                   "<script>console.error('boom'); nope();</script></body></html>", encoding="utf-8")
    page.events.clear()
    page.open(bad.as_uri())
    errors = page.console_errors()
    assert any("boom" in e for e in errors) and any("nope" in e for e in errors)
    assert page.requests_leaving() == ["http://192.0.2.1/x.png"]
