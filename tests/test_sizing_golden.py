"""The sizing of every example is committed beside it (``examples/<name>/sizing.json`` and
``sizing.md``) and produced by the `size` command. After a deliberate change to the model or its
parameters, regenerate and review every diff by eye:

    UPDATE_GOLDEN=1 .venv/bin/pytest tests/test_sizing_golden.py
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from typer.testing import CliRunner

from planner.cli import app

UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"
runner = CliRunner()


def size_output(example: Path, fmt: str) -> str:
    result = runner.invoke(app, ["size", str(example), "--format", fmt])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"size raised {result.exception!r}") from result.exception
    assert result.exit_code == 0, result.output
    return result.stdout


def check_golden(path: Path, text: str) -> None:
    if UPDATE:
        path.write_text(text, encoding="utf-8")
    assert path.is_file(), f"missing {path}: run UPDATE_GOLDEN=1 .venv/bin/pytest tests/test_sizing_golden.py"
    assert text == path.read_text(encoding="utf-8"), f"{path} is stale (see this module's docstring)"


def test_sizing_json_golden(example: Path) -> None:
    text = size_output(example, "json")
    check_golden(example.parent / "sizing.json", text)
    data = json.loads(text)
    assert text == json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"  # sorted, stable
    assert data["instances"], "every example has managed instances"


def test_sizing_markdown_golden(example: Path) -> None:
    check_golden(example.parent / "sizing.md", size_output(example, "md"))


def test_size_is_deterministic(example: Path) -> None:
    assert size_output(example, "json") == size_output(example, "json")


def test_size_table_lists_every_managed_instance_with_reasons(example: Path) -> None:
    text = size_output(example, "table")
    data = json.loads(size_output(example, "json"))
    for iid, item in data["instances"].items():
        assert iid in text
        assert item["reasons"][0][:40] in text


def test_size_of_unreadable_file_is_a_finding_not_a_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\nname: [\n", encoding="utf-8")
    result = runner.invoke(app, ["size", str(bad)])
    assert result.exit_code in (1, 2, 3)
    assert "Traceback" not in result.output


def test_size_reports_sizing_findings_and_exits_1_on_errors(tmp_path: Path) -> None:
    topology = tmp_path / "t.yaml"
    topology.write_text(
        "version: 1\nname: t\ndefaults: {sizing_parameters: {share_al: 0.1}}\n"
        "organisations: {o: {name: O}}\ncommunities: {c: {}}\n"
        "instances: {a: {community: c, host_org: o, url: https://a.example}}\n", encoding="utf-8")
    result = runner.invoke(app, ["size", str(topology), "--format", "json"])
    assert result.exit_code == 1
    assert "MP304" in result.stderr and "did you mean 'share_all'?" in result.stderr
    assert json.loads(result.stdout)["instances"]["a"]["vcpu"] >= 2


def test_size_without_managed_instances(tmp_path: Path) -> None:
    topology = tmp_path / "t.yaml"
    topology.write_text(
        "version: 1\nname: t\norganisations: {o: {name: O}}\ncommunities: {c: {}}\n"
        "instances: {a: {community: c, host_org: o, url: https://a.example, managed: false}}\n", encoding="utf-8")
    assert json.loads(size_output(topology, "json")) == {"instances": {}}
    assert "No managed instances." in size_output(topology, "md")
    assert "Sizing per managed instance" in size_output(topology, "table")
