"""Every snippet of README.md and docs/tutorial.md runs as written.

- ```sh blocks run with bash -e: README's in a folder holding links to examples/ and tests/errors/,
  the tutorial's in one empty folder, block after block. The README's setup commands (scripts/demo.sh
  and scripts/test.sh, which create the environment this test runs in, and the wheel install, which
  tests/test_wheel.py runs) are only syntax-checked, and the files they name must exist.
- ```console blocks: each `$ command` runs from the repository root and prints exactly the lines
  that follow it.
- ```yaml blocks of the README are topologies: each validates with exit 0.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
SETUP = ("bash scripts/", "pip wheel")  # commands that build environments: syntax-checked only
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.M | re.S)


def blocks(path: Path, kind: str) -> list[str]:
    return [body for lang, body in FENCE.findall(path.read_text(encoding="utf-8")) if lang == kind]


def env() -> dict[str, str]:
    return {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", "NO_COLOR": "1",
            "COLUMNS": "200"}


def bash(script: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", "-e", "-c", script], cwd=cwd, env=env(), capture_output=True, text=True,
                          timeout=600)


def test_the_readme_has_the_snippets_this_test_runs() -> None:
    readme = ROOT / "README.md"
    assert len(blocks(readme, "sh")) >= 4 and blocks(readme, "console") and blocks(readme, "yaml")
    untyped = [body for lang, body in FENCE.findall(readme.read_text(encoding="utf-8")) if not lang]
    assert untyped == [], "give every README block a language: sh and console run, text does not"


def test_readme_setup_commands_are_valid_and_name_existing_files() -> None:
    for body in blocks(ROOT / "README.md", "sh"):
        if body.startswith(SETUP):
            check = subprocess.run(["bash", "-n", "-c", body], capture_output=True, text=True)
            assert check.returncode == 0, check.stderr
            for word in shlex.split(body):
                if word.startswith("scripts/"):
                    assert (ROOT / word).is_file(), word


def test_readme_shell_snippets_run(tmp_path: Path) -> None:
    for name in ("examples", "tests"):
        (tmp_path / name).symlink_to(ROOT / name, target_is_directory=True)
    ran = 0
    for body in blocks(ROOT / "README.md", "sh"):
        if body.startswith(SETUP):
            continue
        done = bash(body, tmp_path)
        assert done.returncode == 0, f"{body}\n{done.stdout}\n{done.stderr}"
        ran += 1
    assert ran >= 1


def test_readme_console_snippets_print_what_they_show() -> None:
    for body in blocks(ROOT / "README.md", "console"):
        for session in re.split(r"^(?=\$ )", body, flags=re.M):
            if not session.strip():
                continue
            command, _, expected = session[2:].partition("\n")
            done = subprocess.run(shlex.split(command), cwd=ROOT, env=env(), capture_output=True, text=True,
                                  timeout=300)
            assert done.stdout + done.stderr == expected, command


@pytest.mark.parametrize("index", range(len(blocks(ROOT / "README.md", "yaml"))))
def test_readme_topologies_validate(index: int, tmp_path: Path) -> None:
    topology = tmp_path / "topology.yaml"
    topology.write_text(blocks(ROOT / "README.md", "yaml")[index], encoding="utf-8")
    done = subprocess.run([str(BIN / "misp-planner"), "validate", str(topology)], env=env(), capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_tutorial_runs_from_an_empty_folder(tmp_path: Path) -> None:
    steps = blocks(ROOT / "docs" / "tutorial.md", "sh")
    assert len(steps) >= 6
    for step in steps:
        done = bash(step, tmp_path)
        assert done.returncode == 0, f"{step}\n{done.stdout}\n{done.stderr}"
    assert (tmp_path / "out" / "ansible" / "collections" / "ansible_collections" / "misp_planner" / "misp"
            / "galaxy.yml").is_file()
    checked = bash("misp-planner validate topology.yaml", tmp_path)
    assert "MP201" not in checked.stdout
