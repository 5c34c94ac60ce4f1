"""The review report: contents of report.md/report.html, self-containment, and a real headless-Chromium
load with a screenshot (skipped with a reason where Debian's `chromium` is not installed).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import pytest
from typer.testing import CliRunner

from planner.cli import app
from planner.pipeline import load_estate
from planner.render.report import collect, inline_svg, render_report

runner = CliRunner()
ROOT = Path(__file__).resolve().parent.parent
needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz 'dot' is not installed")


@pytest.fixture(scope="module")
def isac_report() -> dict[str, str]:
    loaded = load_estate(ROOT / "examples/sector-isac/topology.yaml")
    return render_report(loaded, collect(loaded))


class _Assets(HTMLParser):
    """Every attribute that would make the browser fetch something, and every script."""

    def __init__(self) -> None:
        super().__init__()
        self.fetches: list[str] = []
        self.scripts = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "script":
            self.scripts += 1
        for name, value in attrs:
            if name in ("src", "href", "xlink:href") and value and not value.startswith("#"):
                self.fetches.append(value)


@needs_dot
def test_html_is_self_contained_with_inline_svg(isac_report: dict[str, str]) -> None:
    html = isac_report["report.html"]
    assets = _Assets()
    assets.feed(html)
    # Two inline scripts (the explorer's data and the page's code), nothing fetched: links to the
    # rule docs are the only addresses, and a browser follows them only when clicked.
    assert assets.scripts == 2 and [url for url in assets.fetches if "/docs/rules.md#" not in url] == []
    assert "<script src" not in html
    svg = html[html.index("<svg"): html.index("</svg>") + len("</svg>")]
    ET.fromstring(svg)  # the inline SVG is well-formed XML
    assert 'id="i_isac_hub"' in svg and 'id="legend"' in svg
    assert "<?xml" not in html and "<!DOCTYPE svg" not in html


@needs_dot
def test_report_sections(isac_report: dict[str, str]) -> None:
    md, html = isac_report["report.md"], isac_report["report.html"]
    headings = ("## Summary", "## Diagram", "## Inventory", "## Connections", "## Sizing", "## Flow matrix",
                "## Policies", "## Findings")
    assert [md.index(h) for h in headings] == sorted(md.index(h) for h in headings)  # the order a review reads
    assert "![Diagram of the estate](diagram.svg)" in md and "```mermaid\n%% MISP estate" in md
    # connections: who opens, which modes, which filters
    assert "| 0 | bank-a-misp | isac-hub | push + pull | tags -tlp:red | every 1h |" in md
    assert "| 2 | isac-hub | bank-c-misp | push | tags +tlp:white +tlp:green +tlp:clear |  |" in md
    # flow matrix: bank-a's `all` events reach the three instances the sync graph connects
    matrix = md[md.index("## Flow matrix"):]
    row = next(line for line in matrix.splitlines() if line.startswith("| bank-a-misp | "))
    assert "3: bank-a-misp (all), bank-b-misp (all), isac-hub (all)" in row
    # findings from the rules and the policy verdicts
    assert "MP404" in md and "MP404" in html
    assert "| fraud data never reaches Bank C |" in md
    assert md.count("**holds**") + md.count("**violated**") == 2
    assert "<h2 id=\"sizing\">Sizing</h2>" in html


def test_policy_verdict_follows_mp201(tmp_path: Path) -> None:
    text = (ROOT / "examples/sector-isac/topology.yaml").read_text()
    # The second policy now forbids what the first requires: it must be reported violated.
    text = text.replace("must_not_reach: [bank-c-misp]", "must_not_reach: [bank-a-misp]")
    topo = tmp_path / "t.yaml"
    topo.write_text(text)
    loaded = load_estate(topo)
    artifacts = collect(loaded)
    md = render_report(loaded, artifacts)["report.md"]
    if not any(f.code == "MP201" for f in artifacts.findings):
        pytest.skip("the MP201 policy rule is not installed")
    assert re.search(r"\| fraud data never reaches Bank C \|.*\*\*violated\*\*", md)
    assert re.search(r"\| fraud data reaches both member banks .*\*\*holds\*\*", md)


def test_markdown_cells_escape_pipes_and_html(tmp_path: Path) -> None:
    text = (ROOT / "examples/sector-isac/topology.yaml").read_text()
    text = text.replace("name: fraud data never reaches Bank C", "name: 'fraud | <b>never</b> reaches Bank C'")
    topo = tmp_path / "t.yaml"
    topo.write_text(text)
    loaded = load_estate(topo)
    files = render_report(loaded, collect(loaded))
    assert "| fraud \\| &lt;b&gt;never&lt;/b&gt; reaches Bank C |" in files["report.md"]
    assert "fraud | &lt;b&gt;never&lt;/b&gt; reaches Bank C" in files["report.html"]


def test_report_command_writes_both_files(tmp_path: Path) -> None:
    out = tmp_path / "report"
    result = runner.invoke(app, ["report", str(ROOT / "examples/sector-isac/topology.yaml"), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert {p.name for p in out.iterdir()} >= {"report.md", "report.html", "diagram.svg"}


def test_report_of_an_estate_with_errors_is_written_and_exits_1(tmp_path: Path) -> None:
    text = (ROOT / "examples/sector-isac/topology.yaml").read_text()
    topo = tmp_path / "t.yaml"
    topo.write_text(text.replace("must_not_reach: [bank-c-misp]", "must_not_reach: [bank-a-misp]"))
    out = tmp_path / "report"
    result = runner.invoke(app, ["report", str(topo), "-o", str(out)])
    assert result.exit_code == 1, result.output
    assert "MP201" in (out / "report.md").read_text() and "1 error" in result.output


def test_report_of_a_file_with_a_reference_error_lists_the_errors(tmp_path: Path) -> None:
    out = tmp_path / "report"
    result = runner.invoke(app, ["report", str(ROOT / "tests/errors/ref-feeder-into.yaml"), "-o", str(out)])
    assert result.exit_code == 1, result.output
    assert "unknown instance 'ingst'" in result.output and f"report written to {out}" in result.output
    md, html = (out / "report.md").read_text(), (out / "report.html").read_text()
    assert "| <a id=\"finding-0\"></a>error | MP150 | 22:11 `feeders.sandbox.into` | unknown instance 'ingst' |" in md
    assert "unknown instance &#39;ingst&#39;" in html


def test_report_of_an_unreadable_file_writes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "report"
    result = runner.invoke(app, ["report", str(tmp_path / "missing.yaml"), "-o", str(out)])
    assert result.exit_code == 3 and not out.exists()


def test_counts_and_50m_in_words(isac_report: dict[str, str]) -> None:
    from planner.render.report import _crosses

    assert _crosses(0, 55_000_000) == "already above" and _crosses(1, 1) == "in 1 day"
    assert _crosses(240, 8_000_000) == "in 240 days" and _crosses(None, 0) == ""
    plural_after_one = r"\b1 (feeders|consumers|policies|communities|sync connections)\b"
    assert re.search(plural_after_one, isac_report["report.md"]) is None


def test_inline_svg_strips_prolog() -> None:
    svg = '<?xml version="1.0"?>\n<!DOCTYPE svg PUBLIC "x" "y">\n<!-- Generated -->\n<svg a="1"><!-- c --><g/></svg>\n'
    assert inline_svg(svg) == '<svg a="1"><g/></svg>'
    # Graphviz's fixed size goes: the page fits the diagram to its width (the viewBox stays).
    fixed = '<svg width="2091pt" height="502pt"\n viewBox="0 0 2091 501.5"><g/></svg>'
    assert inline_svg(fixed) == '<svg viewBox="0 0 2091 501.5"><g/></svg>'


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CONSOLE = re.compile(r":CONSOLE[:(]")


@needs_dot
@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (apt-get install chromium)")
def test_report_opens_in_headless_chromium_without_console_errors(tmp_path: Path, example: Path) -> None:
    loaded = load_estate(example)
    html = tmp_path / "report.html"
    html.write_text(render_report(loaded, collect(loaded))["report.html"], encoding="utf-8")
    shot = tmp_path / "screenshot.png"
    command = [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={tmp_path / 'p'}",
               "--enable-logging=stderr", "--v=0", "--hide-scrollbars", "--window-size=1400,2400",
               f"--screenshot={shot}", html.as_uri()]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    console = [line for line in done.stderr.splitlines() if CONSOLE.search(line)]
    assert console == [], console
    data = shot.read_bytes()
    assert data.startswith(b"\x89PNG") and len(data) > 20_000  # a rendered page, not a blank one


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (apt-get install chromium)")
def test_chromium_console_check_catches_errors(tmp_path: Path) -> None:
    """The console check above can fail: a page with a script error is caught by the same pattern."""
    page = tmp_path / "bad.html"
    page.write_text("<!DOCTYPE html><html><body><script>console.error('boom'); nope();</script></body></html>")
    command = [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
               f"--user-data-dir={tmp_path / 'p'}", "--enable-logging=stderr", "--v=0", "--dump-dom", page.as_uri()]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert any(CONSOLE.search(line) and "boom" in line for line in done.stderr.splitlines())


def test_example_outputs_are_current(example: Path) -> None:
    """The report committed beside each example is what the planner writes today (golden test).

    `UPDATE_GOLDEN=1` rewrites every committed output of the example: report/, diagram.svg, diagram.png
    (diagram.dot and diagram.mmd are the golden files of tests/test_render.py).
    """
    import os

    from planner.render import DrawOptions, draw
    from planner.render.report import write_report

    loaded = load_estate(example)
    folder = example.parent
    if os.environ.get("UPDATE_GOLDEN") == "1":
        write_report(loaded, folder / "report")
        for fmt in ("svg", "png"):
            draw(loaded.estate, folder / f"diagram.{fmt}", DrawOptions())
    md = render_report(loaded, collect(loaded))["report.md"]
    committed = folder / "report/report.md"
    assert committed.is_file(), f"{committed} is missing; run with UPDATE_GOLDEN=1"
    assert md == committed.read_text(encoding="utf-8"), f"{committed} differs; UPDATE_GOLDEN=1 regenerates it"


def test_markdown_leaves_out_mermaid_beyond_its_edge_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    import planner.render.report as report

    loaded = load_estate(ROOT / "examples/sector-isac/topology.yaml")
    monkeypatch.setattr(report, "MERMAID_MAX_EDGES", 2)
    md = report.render_report(loaded, report.collect(loaded))["report.md"]
    assert "```mermaid" not in md and "too many edges for Mermaid" in md


@needs_dot
def test_hostile_names_cannot_inject_markup(tmp_path: Path) -> None:
    from test_render import HOSTILE

    topo = tmp_path / "hostile.yaml"
    topo.write_text(HOSTILE, encoding="utf-8")
    loaded = load_estate(topo)
    files = render_report(loaded, collect(loaded))
    assert "<script" not in files["report.md"] and "<b>bold</b>" not in files["report.md"]
    html = files["report.html"]
    assert "<b>bold</b>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "Org &quot;A&quot; &lt;b&gt;bold&lt;/b&gt;" in html
    # The page's own two scripts (the explorer's data and its code) and no more: a tag `APT <28>`
    # in the explorer's JSON cannot close its element.
    assets = _Assets()
    assets.feed(html)
    assert assets.scripts == 2 and html.count("</script>") == 2
