"""The sizing model held against public field reports (tests/calibration/points.yaml).

Every point is a one-instance topology describing what a report gives (hardware, table sizes,
symptoms), the figure the model computes for it and the ratio it must stay within, so that a change
of the model or its parameters that drifts from the evidence fails here. docs/sizing.md shows the
same table, rendered by :func:`calibration_table` (the last test keeps it in step; run this file
as a script to rewrite it).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from planner.pipeline import load_estate_text
from planner.sizing import InstanceSizing, size_estate

ROOT = Path(__file__).resolve().parent.parent
POINTS_FILE = ROOT / "tests" / "calibration" / "points.yaml"
DOC = ROOT / "docs" / "sizing.md"
START, END = "<!-- calibration table: tests/test_sizing_calibration.py -->", "<!-- end of calibration table -->"

FIGURES: dict[str, tuple[str, Callable[[InstanceSizing], float]]] = {
    "vcpu": ("vCPU", lambda s: s.vcpu),
    "ram_gib": ("RAM GiB", lambda s: s.ram_gib),
    "database_gib": ("database GiB", lambda s: s.storage["attributes_gib"] + s.storage["correlations_gib"]),
    "correlations_gib": ("correlations GiB", lambda s: s.storage["correlations_gib"]),
    "logs_gib": ("logs GiB", lambda s: s.storage["logs_gib"]),
    "redis_gib": ("Redis GiB", lambda s: s.redis_gib),
    "php_memory_mib": ("PHP memory MiB MISP asks", lambda s: s.php_memory_need_mib),
    "memory_limit_mib": ("memory_limit MiB", lambda s: int(s.php["memory_limit"].rstrip("M"))),
}


@cache
def points() -> list[dict[str, Any]]:
    data = YAML(typ="safe").load(POINTS_FILE.read_text(encoding="utf-8"))
    return list(data["points"])


def topology_of(point: dict[str, Any]) -> str:
    """The one-instance topology a point describes (instance `a`, plus any sections it adds), as
    JSON (which YAML reads)."""
    extra = YAML(typ="safe").load(point.get("topology", "")) or {}
    feeders = {f"feed{n}": {"kind": "osint-feed", "into": "a", "via": "feed",
                            "feed": {"url": f"https://feed{n}.example", "cache_only": True}}
               for n in range(point.get("cached_feeds", 0))}
    topology = {
        "version": 1, "name": "calibration", "defaults": {"horizon": point.get("horizon", "1d")},
        "organisations": {"o": {"name": "O"}}, "communities": {"c": {}},
        "instances": {"a": {"community": "c", "host_org": "o", "url": "https://a.example", **point["instance"]},
                      **extra.get("instances", {})},
        "feeders": feeders, "sync": extra.get("sync", []),
    }
    return json.dumps(topology)


def _flow(value: Any) -> str:
    """A mapping as the table shows it: YAML flow style."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_flow(v)}" for k, v in value.items()) + "}"
    return str(value).lower() if isinstance(value, bool) else str(value)


def model_figure(point: dict[str, Any]) -> float:
    sized = size_estate(load_estate_text(topology_of(point), "calibration.yaml").estate).instances["a"]
    return float(FIGURES[point["figure"]][1](sized))


@pytest.mark.parametrize("point", points(), ids=lambda p: f"{p['source']}-{p['figure']}")
def test_model_stays_within_the_stated_ratio_of_the_report(point: dict[str, Any]) -> None:
    low, high = point["ratio"]
    ratio = model_figure(point) / point["value"]
    assert low <= ratio <= high, f"{point['source']}: model/reported = {ratio:.2f}, stated {low}..{high}"


def test_enough_public_points_each_with_a_source() -> None:
    assert len(points()) >= 12
    for point in points():
        assert point["url"].startswith("https://") and point["reported"] and point["use"] in ("check", "fit",
                                                                                               "formula")
        assert point["figure"] in FIGURES


def calibration_table() -> str:
    rows = ["| source | reported | input (assumed) | figure | reported | model | model / reported | stated | use |",
            "|---|---|---|---|---|---|---|---|---|"]
    for point in points():
        model = model_figure(point)
        name, _ = FIGURES[point["figure"]]
        inputs = _flow(point["instance"]) if point["instance"] else ""
        if point.get("cached_feeds"):
            inputs += f"{point['cached_feeds']} cached feeds"
        if point.get("topology"):
            inputs += " + " + " ".join(point["topology"].split())
        if point.get("horizon"):
            inputs += f", horizon {point['horizon']}"
        assumed = f" ({point['assumed']})" if point.get("assumed") else ""
        low, high = point["ratio"]
        cells = [f"[{point['source']}]({point['url']})", point["reported"], f"`{inputs}`{assumed}", name,
                 f"{point['value']:g}", f"{model:g}", f"{model / point['value']:.2f}", f"{low:g}-{high:g}",
                 point["use"]]
        rows.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(rows) + "\n"


def test_docs_show_the_table_the_model_gives() -> None:
    text = DOC.read_text(encoding="utf-8")
    shown = text.split(START, 1)[1].split(END, 1)[0].strip("\n") + "\n"
    assert shown == calibration_table(), "docs/sizing.md is stale: run python tests/test_sizing_calibration.py"


if __name__ == "__main__":
    text = DOC.read_text(encoding="utf-8")
    before, rest = text.split(START, 1)
    after = rest.split(END, 1)[1]
    DOC.write_text(before + START + "\n" + calibration_table() + END + after, encoding="utf-8")
    sys.exit(0)
