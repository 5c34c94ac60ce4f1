"""`misp-planner build`: everything in one folder, atomically, deterministically; nothing on errors."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from planner.cli import app
from planner.output import MARKER

runner = CliRunner()
ROOT = Path(__file__).resolve().parent.parent
ISAC = ROOT / "examples/sector-isac/topology.yaml"
needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz 'dot' is not installed")
OURS = ("findings.json", "estate.json", "sizing.json", "flows.json", "diagram.svg", "diagram.dot", "diagram.mmd",
        "report/report.md", "report/report.html")


def _tree(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def _broken(tmp_path: Path) -> Path:
    """The ISAC estate with a sync connection to an instance that does not exist (an error)."""
    path = tmp_path / "broken.yaml"
    path.write_text(ISAC.read_text().replace("remote: bank-c-misp", "remote: bank-z-misp"))
    return path


@needs_dot
def test_build_writes_every_output(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = runner.invoke(app, ["build", str(ISAC), "-o", str(out)])
    assert result.exit_code == 0, result.output
    for name in (*OURS, MARKER):
        assert (out / name).is_file(), name
    assert json.loads((out / "flows.json").read_text())["flows"][0]["origin"] == "bank-a-misp"
    assert set(json.loads((out / "sizing.json").read_text())["instances"]) >= {"isac-hub", "bank-a-misp"}
    assert json.loads((out / "estate.json").read_text())["name"] == "finance-isac"
    assert "findings" in json.loads((out / "findings.json").read_text())
    assert (out / "diagram.svg").read_text().lstrip().startswith("<?xml")
    if (ROOT / "planner/ansible/project.py").is_file():
        assert (out / "ansible/site.yml").is_file()
    assert "outputs written to" in result.output


@needs_dot
def test_build_is_deterministic(tmp_path: Path) -> None:
    for name in ("a", "b"):
        assert runner.invoke(app, ["build", str(ISAC), "-o", str(tmp_path / name)]).exit_code == 0
    first, second = _tree(tmp_path / "a"), _tree(tmp_path / "b")
    assert first == second


@needs_dot
def test_failed_build_leaves_the_previous_output_untouched(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert runner.invoke(app, ["build", str(ISAC), "-o", str(out)]).exit_code == 0
    before = _tree(out)
    result = runner.invoke(app, ["build", str(_broken(tmp_path)), "-o", str(out)])
    assert result.exit_code == 1
    assert "bank-z-misp" in result.output
    assert _tree(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken.yaml", "out"]  # no staging folder left


def test_build_with_findings_at_error_level_writes_nothing(tmp_path: Path) -> None:
    text = ISAC.read_text().replace("must_not_reach: [bank-c-misp]", "must_not_reach: [bank-a-misp]")
    topo = tmp_path / "t.yaml"
    topo.write_text(text)  # loads fine, but the analysis finds a violated policy (an error)
    out = tmp_path / "out"
    result = runner.invoke(app, ["build", str(topo), "-o", str(out)])
    assert result.exit_code == 1, result.output
    assert "nothing written" in result.output and not out.exists()


@needs_dot
def test_build_refuses_a_folder_it_did_not_create_unless_forced(tmp_path: Path) -> None:
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("someone's own file")
    result = runner.invoke(app, ["build", str(ISAC), "-o", str(out)])
    assert result.exit_code == 2
    assert (out / "notes.txt").read_text() == "someone's own file"
    result = runner.invoke(app, ["build", str(ISAC), "-o", str(out), "--force"])
    assert result.exit_code == 0, result.output
    assert not (out / "notes.txt").exists() and (out / MARKER).is_file()
