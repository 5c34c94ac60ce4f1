"""Command-line conventions: every printable code explained, formats honoured or refused, `-` for
standard input, shell completion, `init`, one table of exit codes, the version."""

from __future__ import annotations

import json
import re
import sys
import tomllib
from pathlib import Path

import pytest
from ruamel.yaml import YAML
from typer.testing import CliRunner

from planner import __version__, exitcodes
from planner.ansible.runner import ApplyResult, HostSummary
from planner.cli import app
from planner.codes import CODES
from planner.rules import all_rules

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "national-csirt" / "topology.yaml"
runner = CliRunner()


def emitted_codes() -> set[str]:
    """Every code literal in the planner's source: what the tool can print."""
    found: set[str] = set()
    for path in (ROOT / "planner").rglob("*.py"):
        found |= set(re.findall(r"\"(MP\d{3})\"", path.read_text(encoding="utf-8")))
    return found


def corpus_codes() -> set[str]:
    found: set[str] = set()
    for log in (ROOT / "tests" / "errors").glob("*.log"):
        found |= set(re.findall(r"\b(?:error|warning|info) (MP\d{3}):", log.read_text(encoding="utf-8")))
    return found


def test_every_code_the_tool_prints_is_documented_once() -> None:
    rules = {r.code for r in all_rules()}
    emitted = emitted_codes()
    assert emitted - rules - set(CODES) == set(), "codes printed but neither a rule nor in planner/codes.py"
    assert set(CODES) - emitted == set(), "codes in planner/codes.py that nothing prints"
    assert rules & set(CODES) == set()
    assert corpus_codes() <= emitted | rules


@pytest.mark.parametrize("code", sorted(corpus_codes() | emitted_codes()))
def test_explain_works_for_every_code(code: str) -> None:
    result = runner.invoke(app, ["explain", code])
    assert result.exit_code == 0, result.output
    assert result.output.startswith(code)


def test_explain_input_codes_show_an_example_from_the_error_corpus() -> None:
    result = runner.invoke(app, ["explain", "MP101"])
    assert "unknown key" in result.output
    assert re.search(r"Example \(`misp-planner validate tests/errors/[\w-]+\.yaml`\)", result.output)
    assert "error MP101:" in result.output


def test_rules_formats_are_honoured_or_refused() -> None:
    as_json = json.loads(runner.invoke(app, ["rules", "--format", "json"]).output)
    as_yaml = YAML(typ="safe", pure=True).load(runner.invoke(app, ["rules", "--format", "yaml"]).output)
    assert as_yaml == as_json
    table = runner.invoke(app, ["rules"]).output
    assert table.startswith("code") and "MP210" in table
    refused = runner.invoke(app, ["rules", "--format", "xml"])
    assert refused.exit_code == exitcodes.USAGE


@pytest.mark.parametrize("command", [["inspect", "--format", "toml"], ["size", "--format", "yaml"],
                                     ["flows", "--origin", "hub", "-d", "all", "--format", "yaml"],
                                     ["validate", "--format", "yaml"]])
def test_unknown_formats_are_usage_errors(command: list[str]) -> None:
    result = runner.invoke(app, [command[0], str(EXAMPLE), *command[1:]])
    assert result.exit_code == exitcodes.USAGE, result.output


def test_dash_reads_standard_input() -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    from_file = runner.invoke(app, ["inspect", str(EXAMPLE), "--format", "json"])
    from_stdin = runner.invoke(app, ["inspect", "-", "--format", "json"], input=text)
    assert from_stdin.exit_code == 0, from_stdin.output
    assert json.loads(from_stdin.stdout)["instances"] == json.loads(from_file.stdout)["instances"]


def test_findings_on_standard_input_show_the_line() -> None:
    broken = EXAMPLE.read_text(encoding="utf-8").replace("    community: national\n", "    comunity: national\n", 1)
    result = runner.invoke(app, ["validate", "-"], input=broken)
    assert result.exit_code == exitcodes.FINDINGS
    assert re.search(r"<stdin>:\d+:5: error MP101: unknown key 'comunity'", result.output)
    assert "|     comunity: national" in result.output  # the excerpt of the line, read from stdin


def test_shell_completion_is_offered() -> None:
    result = runner.invoke(app, ["--show-completion", "bash"])
    assert result.exit_code == 0
    assert "_misp_planner_completion" in result.output or "complete" in result.output
    assert "--install-completion" in runner.invoke(app, ["--help"]).output


def test_init_writes_a_commented_topology_that_validates_clean(tmp_path: Path) -> None:
    target = tmp_path / "topology.yaml"
    result = runner.invoke(app, ["init", str(target), "--name", "acme-estate", "--org", "ACME CERT",
                                 "--url", "https://misp.acme.example"])
    assert result.exit_code == 0, result.output
    text = target.read_text(encoding="utf-8")
    assert text.count("\n#") >= 10 and "docs/language.md" in text
    assert 'name: "acme-estate"' in text and "acme-cert: {name: \"ACME CERT\"}" in text
    checked = runner.invoke(app, ["validate", str(target)])
    assert checked.exit_code == 0 and "0 errors, 0 warnings, 0 infos" in checked.output
    again = runner.invoke(app, ["init", str(target)])
    assert again.exit_code == exitcodes.USAGE and "exists" in again.output


def test_init_asks_on_a_terminal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("planner.cli._interactive", lambda: True)
    target = tmp_path / "t.yaml"
    result = runner.invoke(app, ["init", str(target)], input="lab\nLab Org\nhttps://misp.lab.example\n")
    assert result.exit_code == 0, result.output
    assert "Estate name" in result.output
    text = target.read_text(encoding="utf-8")
    assert 'name: "lab"' in text and "https://misp.lab.example" in text


def test_init_refuses_values_that_would_not_validate(tmp_path: Path) -> None:
    result = runner.invoke(app, ["init", str(tmp_path / "t.yaml"), "--name", "Not An Id"])
    assert result.exit_code == exitcodes.USAGE
    assert "MP109" in result.output and not (tmp_path / "t.yaml").exists()


def test_readme_lists_every_exit_code() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert exitcodes.table() in readme
    assert len(set(exitcodes.MEANINGS)) == len(exitcodes.MEANINGS) == 8


@pytest.mark.parametrize(("rc", "unreachable", "expected"), [
    (0, 0, exitcodes.OK), (2, 0, exitcodes.RUN_FAILED), (1, 0, exitcodes.RUN_FAILED),
    (4, 1, exitcodes.UNREACHABLE), (6, 1, exitcodes.UNREACHABLE), (2, 1, exitcodes.UNREACHABLE)])
def test_apply_exit_codes_say_what_went_wrong(rc: int, unreachable: int, expected: int) -> None:
    result = ApplyResult(rc=rc, status="failed", hosts={"hub": HostSummary(unreachable=unreachable)},
                         artifact_dir=Path("."))
    assert result.exit_code == expected


def test_apply_without_ansible_playbook_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "inventory").mkdir()
    (tmp_path / "site.yml").write_text("[]\n")
    (tmp_path / "inventory" / "hosts.yml").write_text("all: {}\n")
    monkeypatch.setattr(sys, "executable", str(tmp_path / "nowhere" / "python"))
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    result = runner.invoke(app, ["apply", str(tmp_path)])
    assert result.exit_code == exitcodes.NO_ANSIBLE
    assert "MP033" in result.output and "ansible-playbook is not installed" in result.output


def test_version_is_one_value_with_a_changelog_entry() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.output == f"misp-planner {__version__}\n"
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert pyproject["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "planner.__version__"}
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    assert re.search(rf"^## {re.escape(__version__)} ", changelog, re.MULTILINE), "CHANGELOG.md lacks this version"
