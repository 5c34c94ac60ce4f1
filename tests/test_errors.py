"""The error corpus: each broken topology in tests/errors/ gives exactly its expected diagnostics.

Netlab style: ``tests/errors/<name>.yaml`` is the input, ``tests/errors/<name>.log`` the expected
text. The first line of a .log is ``exit code: N``; the rest is exactly what
``misp-planner validate tests/errors/<name>.yaml`` prints when run from the repository root.

After a deliberate change to a message, regenerate the .log files and review every diff by eye:

    UPDATE_GOLDEN=1 .venv/bin/pytest tests/test_errors.py

Files too big to commit (a 10 MB value, a file over the size limit) are written at runtime.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import Result
from typer.testing import CliRunner

from planner.cli import app
from planner.limits import MAX_FILE_BYTES, MAX_STRING_CHARS

ROOT = Path(__file__).resolve().parent.parent
CORPUS_DIR = ROOT / "tests" / "errors"
CORPUS = sorted(CORPUS_DIR.glob("*.yaml"))
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"

runner = CliRunner()


def run(args: list[str]) -> Result:
    result = runner.invoke(app, args)
    # A user's mistake must end in a clean exit with a code, never in an exception.
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"validate raised {result.exception!r}") from result.exception
    assert "Traceback" not in result.output
    return result


@pytest.fixture(autouse=True)
def _at_repo_root(monkeypatch: pytest.MonkeyPatch) -> None:
    # Paths in the expected text are relative to the repository root, so the text is stable.
    monkeypatch.chdir(ROOT)


def test_corpus_is_large_enough() -> None:
    assert len(CORPUS) >= 50


@pytest.mark.skipif(UPDATE, reason="the .log files are being regenerated")
def test_every_input_has_expected_output_and_back() -> None:
    inputs = {p.stem for p in CORPUS}
    logs = {p.stem for p in CORPUS_DIR.glob("*.log")}
    assert inputs - logs == set(), "inputs without a .log; run with UPDATE_GOLDEN=1 and review"
    assert logs - inputs == set(), ".log files without an input"


@pytest.mark.parametrize("path", CORPUS, ids=[p.stem for p in CORPUS])
def test_corpus_file(path: Path) -> None:
    relative = path.relative_to(ROOT).as_posix()
    result = run(["validate", relative])
    actual = f"exit code: {result.exit_code}\n{result.stdout}"
    golden = path.with_suffix(".log")
    if UPDATE:
        golden.write_text(actual, encoding="utf-8", newline="\n")
    expected = golden.read_text(encoding="utf-8")
    assert actual == expected
    # Every corpus file is broken: errors (exit 1) or unreadable (exit 3).
    assert result.exit_code in (1, 3)
    # Every finding names its line and column and gives a hint.
    for line in result.stdout.splitlines():
        if f"{relative}:" in line and ": error MP" in line:
            assert line.startswith(f"{relative}:") and line.split(":")[1].isdigit(), line
    assert "hint: " in result.stdout


@pytest.mark.parametrize("path", CORPUS, ids=[p.stem for p in CORPUS])
def test_corpus_file_machine_formats(path: Path) -> None:
    relative = path.relative_to(ROOT).as_posix()
    human = run(["validate", relative])
    as_json = run(["validate", "--format", "json", relative])
    sarif = run(["validate", "--format", "sarif", relative])
    assert as_json.exit_code == sarif.exit_code == human.exit_code
    findings = json.loads(as_json.stdout)["findings"]
    assert findings and all(f["code"].startswith("MP") and f["hint"] for f in findings)
    results = json.loads(sarif.stdout)["runs"][0]["results"]
    assert [r["ruleId"] for r in results] == [f["code"] for f in findings]
    # inspect refuses the same file with the same exit code, and prints no data.
    inspected = run(["inspect", relative])
    assert inspected.exit_code == human.exit_code
    assert inspected.stdout == ""
    assert f"error {findings[0]['code']}" in inspected.stderr


def test_estate_size_limits(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # 20,000 instances take a while to write out; the limit is lowered instead of the file raised.
    import planner.estate

    monkeypatch.setattr(planner.estate, "MAX_INSTANCES", 1)
    path = tmp_path / "two.yaml"
    path.write_text("version: 1\nname: two\norganisations: {csirt: {name: CSIRT}}\ncommunities: {national: {}}\n"
                    "instances:\n  a: {community: national, host_org: csirt, url: https://a.example}\n"
                    "  b: {community: national, host_org: csirt, url: https://b.example}\n"
                    "sync: [{initiator: a, remote: b, pull: true}]\n", encoding="utf-8")
    result = run(["validate", str(path)])
    assert result.exit_code == 1
    assert "error MP012: the estate is too large: 2 instances (at most 1) and 1 sync entries (at most " \
        in result.stdout


def test_ten_megabyte_value(tmp_path: Path) -> None:
    path = tmp_path / "big-string.yaml"
    path.write_text("version: 1\nname: corpus\ndescription: " + "x" * (10 * 1024 * 1024) + "\n", encoding="utf-8")
    result = run(["validate", str(path)])
    assert result.exit_code == 3
    first = result.stdout.splitlines()[0]
    assert first == (f"{path}:3:14: error MP011: a value is {10 * 1024 * 1024:,} characters long "
                     f"(the limit is {MAX_STRING_CHARS:,})")
    assert "  at description" in result.stdout
    assert len(result.stdout) < 2000  # the value itself is not echoed in full


def test_file_over_the_size_limit(tmp_path: Path) -> None:
    path = tmp_path / "huge.yaml"
    line = b"# " + b"padding " * 127 + b"\n"
    with path.open("wb") as out:
        out.write(b"version: 1\n")
        for _ in range(MAX_FILE_BYTES // len(line) + 1):
            out.write(line)
    size = path.stat().st_size
    result = run(["validate", str(path)])
    assert result.exit_code == 3
    assert result.stdout.splitlines()[0] == (
        f"{path}: error MP008: file is too large ({size} bytes; the limit is {MAX_FILE_BYTES})")


def test_missing_file_and_directory(tmp_path: Path) -> None:
    missing = run(["validate", str(tmp_path / "absent.yaml")])
    assert missing.exit_code == 3
    assert "error MP001: cannot read the file" in missing.stdout
    folder = run(["validate", str(tmp_path)])
    assert folder.exit_code == 3
    assert "error MP001: is a directory" in folder.stdout


def test_several_files_worst_exit_code_wins() -> None:
    result = run(["validate", "tests/errors/unknown-key-typo.yaml", "tests/errors/empty-file.yaml",
                  "examples/sector-isac/topology.yaml"])
    assert result.exit_code == 3
    assert "MP101" in result.stdout and "MP003" in result.stdout
    # The valid example may get design-rule warnings; the two broken files give one error each.
    assert "\n3 files checked: 2 errors, " in result.stdout
