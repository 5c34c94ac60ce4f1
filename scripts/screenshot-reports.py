"""examples/*/report.png: each example's report.html as a reviewer opens it in Chromium, 1400 px
wide, the top of the page (title, summary and the fitted diagram), for a look without a browser.

Run by scripts/regenerate-golden.sh after the reports are rewritten; needs Debian's chromium.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from chromium import CHROMIUM, Page  # noqa: E402


def main() -> int:
    if CHROMIUM is None:
        sys.stderr.write("chromium is not installed: examples/*/report.png not rewritten\n")
        return 0
    with Page(width=1400, height=1400) as page:
        for report in sorted(ROOT.glob("examples/*/report/report.html")):
            page.open(report.as_uri())
            page.screenshot(report.parent.parent / "report.png")
            print(f"wrote {report.parent.parent / 'report.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
