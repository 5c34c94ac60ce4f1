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

import pytest
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
