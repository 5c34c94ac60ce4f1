"""Every example's outputs tell the same story about volume: the diagram label, the report, `size`
and sizing.json show the same now -> horizon attributes for every managed instance."""

from __future__ import annotations

import html
import json
from pathlib import Path

import pytest

from planner.pipeline import load_estate
from planner.sizing import size_estate, sizing_markdown
from planner.sizing.output import class_text
from planner.units import format_count

EXAMPLES = sorted(p for p in (Path(__file__).resolve().parent.parent / "examples").iterdir()
                  if (p / "topology.yaml").exists())


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.name)
def test_outputs_agree_on_now_and_horizon(example: Path) -> None:
    committed = json.loads((example / "sizing.json").read_text(encoding="utf-8"))["instances"]
    sizing = size_estate(load_estate(example / "topology.yaml").estate)
    assert {iid: s.to_json()["attributes"] for iid, s in sizing.instances.items()} == {
        iid: item["attributes"] for iid, item in committed.items()}
    diagram = html.unescape((example / "diagram.dot").read_text(encoding="utf-8"))
    report = (example / "report" / "report.md").read_text(encoding="utf-8")
    size_md = sizing_markdown(sizing)
    for iid, item in committed.items():
        now, horizon = format_count(item["attributes"]["now"]), format_count(item["attributes"]["horizon"])
        assert f"{now} → {horizon} attributes" in diagram, iid
        volume_class = class_text(item["volume_class"], item.get("volume_class_at_horizon"))
        assert f"| {iid} | {volume_class} | {now} | {horizon} |" in report, iid
        assert f"| {iid} |" in size_md and f"| {now} → {horizon} |" in size_md, iid
