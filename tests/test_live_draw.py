"""`draw FILE --drift drift.json`: what `drift` found, on the planned estate's diagram."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import ROOT
from typer.testing import CliRunner

from planner.cli import app

runner = CliRunner()
EXAMPLE = ROOT / "examples" / "national-csirt" / "topology.yaml"


def test_extra_entries_are_dashed_red_and_missing_links_grey(tmp_path: Path) -> None:
    drift = {"estate": "national-csirt", "drift": True, "instances": {}, "differences": [
        {"instance": "hub", "section": "servers", "key": "https://misp.elsewhere.example", "kind": "extra",
         "fields": [], "link": {"initiator": "hub", "remote": "https://misp.elsewhere.example"}},
        {"instance": "hub", "section": "servers", "key": "partner-misp", "kind": "missing", "fields": [],
         "link": {"initiator": "hub", "remote": "partner-misp"}},
        {"instance": "hub", "section": "organisations", "key": "Utopia Telecom", "kind": "different",
         "fields": [{"field": "name", "planned": "Utopia Telecom", "live": "Telco"}]}]}
    report = tmp_path / "drift.json"
    report.write_text(json.dumps(drift), encoding="utf-8")
    out = tmp_path / "drift.dot"
    result = runner.invoke(app, ["draw", str(EXAMPLE), "-o", str(out), "--drift", str(report)])
    assert result.exit_code == 0, result.output
    dot = out.read_text(encoding="utf-8")
    extra = next(line for line in dot.splitlines() if "not in the topology" in line)
    assert "#c53030" in extra and "dashed" in extra and "i_hub" in extra
    assert "misp.elsewhere.example" in dot
    missing = next(line for line in dot.splitlines() if line.strip().startswith("i_hub -> i_partner_misp"))
    assert "#a0aec0" in missing
    assert "drift: a server entry that runs but is not in the topology" in dot
    assert "drift: a planned link missing from the running estate" in dot
    plain = tmp_path / "plain.dot"
    assert runner.invoke(app, ["draw", str(EXAMPLE), "-o", str(plain)]).exit_code == 0
    assert "drift:" not in plain.read_text(encoding="utf-8")


def test_a_file_that_is_not_a_drift_report_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "drift.json"
    bad.write_text("{not json", encoding="utf-8")
    result = runner.invoke(app, ["draw", str(EXAMPLE), "-o", str(tmp_path / "d.dot"), "--drift", str(bad)])
    assert result.exit_code == 3 and "not a drift report" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
