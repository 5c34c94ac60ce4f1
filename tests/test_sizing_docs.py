"""docs/sizing.md shows what the code gives: its worked example is rendered through `size`, and its
parameter table is the data file's (planner/data/sizing.yaml). Run this file as a script to rewrite
the parameter table after a change of the data file."""

from __future__ import annotations

import re
import sys
from pathlib import Path

from planner.pipeline import load_estate_text
from planner.sizing import parameter_specs, size_estate, sizing_markdown

DOC = Path(__file__).resolve().parent.parent / "docs" / "sizing.md"
START, END = "<!-- parameter table: planner/data/sizing.yaml -->", "<!-- end of parameter table -->"


def worked_example() -> tuple[str, str, str]:
    """(topology, the `size --format md` table the page shows, the page's bullet list)."""
    section = DOC.read_text(encoding="utf-8").split("### Worked example", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```(?:yaml|text)\n(.*?)```", section, re.S)
    return blocks[0], blocks[1], section.rsplit("```", 1)[1]


def test_worked_example_is_what_size_prints() -> None:
    topology, shown, bullets = worked_example()
    sizing = size_estate(load_estate_text(topology, "worked-example.yaml").estate)
    table = sizing_markdown(sizing).split("\n")[:3]
    assert shown.strip("\n").split("\n") == table
    # every headline figure of the bullets (in bold) is a cell of the row `size` prints
    cells = {cell.strip() for cell in table[2].split("|")}
    for figure in re.findall(r"\*\*([^*]+)\*\*", bullets):
        assert figure in cells, f"{figure} is not in {sorted(cells)}"


def _value(value: float) -> str:
    return f"{value:,.0f}" if value == int(value) and abs(value) >= 10_000 else f"{value:g}"


def parameter_table() -> str:
    rows = ["| parameter | default | unit | what it means | source |", "|---|---|---|---|---|"]
    for spec in parameter_specs().values():
        cells = [f"`{spec.name}`", _value(spec.value), spec.unit, spec.means, spec.source]
        rows.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(rows) + "\n"


def test_parameter_table_is_the_data_file() -> None:
    shown = DOC.read_text(encoding="utf-8").split(START, 1)[1].split(END, 1)[0].strip("\n") + "\n"
    assert shown == parameter_table(), "docs/sizing.md is stale: run python tests/test_sizing_docs.py"


if __name__ == "__main__":
    text = DOC.read_text(encoding="utf-8")
    before, rest = text.split(START, 1)
    DOC.write_text(before + START + "\n" + parameter_table() + END + rest.split(END, 1)[1], encoding="utf-8")
    sys.exit(0)
