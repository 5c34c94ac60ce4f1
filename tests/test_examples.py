"""Every bundled example validates cleanly and resolves into an estate."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from planner.cli import app
from planner.pipeline import load_estate

runner = CliRunner()


def test_example_validates(example: Path) -> None:
    result = runner.invoke(app, ["validate", str(example)])
    assert result.exit_code == 0, result.output
    assert "0 errors" in result.output


def test_example_resolves_with_graph(example: Path) -> None:
    estate = load_estate(example).estate
    assert set(estate.graph.nodes) == set(estate.instances)
    flows = sum(1 for c in estate.connections for _ in c.flows())
    assert estate.graph.number_of_edges() == flows
