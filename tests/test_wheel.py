"""The wheel a user installs carries everything: built from the source, installed in a fresh virtual
environment outside the source tree, `build` writes an Ansible project that passes
`ansible-playbook --syntax-check` and `ansible-lint --offline --profile production`, and `explain`
prints its examples. The collection also builds on its own with `ansible-galaxy collection build`.

Slow (a minute: the fresh environment installs every dependency, from pip's cache when it can).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
import yaml

from planner import __version__

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
# What a wheel is built from (setup.py, MANIFEST.in): copied, so the build writes nothing in the checkout.
SOURCES = ("pyproject.toml", "setup.py", "MANIFEST.in", "README.md", "planner", "playbooks", "tests/rules",
           "tests/errors")

pytestmark = pytest.mark.slow


def run(args: list[str | Path], cwd: Path, env: dict[str, str] | None = None,
        timeout: int = 900) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{args}: exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    source = tmp_path_factory.mktemp("source")
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", "*.whl", "*.tar.gz")
    for name in SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, source / name, ignore=ignore)
        else:
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(ROOT / name, source / name)
    out = tmp_path_factory.mktemp("dist")
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", out, "."], cwd=source)
    (built,) = out.glob("misp_planner-*.whl")
    return built


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtual environment with the wheel and its dependencies; its bin folder."""
    venv = tmp_path_factory.mktemp("venv")
    run([sys.executable, "-m", "venv", venv], cwd=venv)
    run([venv / "bin" / "python", "-m", "pip", "install", "-q", wheel], cwd=venv)
    return venv / "bin"


def test_the_wheel_holds_the_collection_and_the_examples(wheel: Path) -> None:
    import zipfile

    names = set(zipfile.ZipFile(wheel).namelist())
    assert "planner/_collection/galaxy.yml" in names
    assert "planner/_collection/plugins/modules/misp_server.py" in names
    assert "planner/_collection/roles/stack/tasks/main.yml" in names
    assert "planner/_examples/rules/MP210/fail.yaml" in names
    assert any(n.startswith("planner/_examples/errors/") and n.endswith(".log") for n in names)
    assert not any("__pycache__" in n for n in names)


def test_build_from_the_wheel_passes_the_ansible_gates(installed: Path, tmp_path: Path) -> None:
    work = tmp_path / "work"  # outside the source tree: nothing of the checkout can be found from here
    shutil.copytree(ROOT / "examples" / "sector-isac", work / "sector-isac",
                    ignore=shutil.ignore_patterns("report", "*.svg", "*.png"))
    env = {**os.environ, "PATH": f"{installed}{os.pathsep}{os.environ.get('PATH', '')}", "NO_COLOR": "1"}
    env.pop("PYTHONPATH", None)
    where = run([installed / "python", "-c", "import planner; print(planner.__file__)"], cwd=work, env=env)
    assert not where.stdout.startswith(str(ROOT)), "the test imported the checkout, not the wheel"
    run([installed / "misp-planner", "build", "sector-isac/topology.yaml", "-o", "out"], cwd=work, env=env)
    project = work / "out" / "ansible"
    collection = project / "collections" / "ansible_collections" / "misp_planner" / "misp"
    assert (collection / "plugins" / "modules" / "misp_server.py").is_file()
    assert (collection / "roles" / "stack" / "tasks" / "main.yml").is_file()
    ansible_env = {**env, "ANSIBLE_CONFIG": str(project / "ansible.cfg")}
    # ansible-playbook comes with the wheel's dependencies: `apply` needs nothing else.
    run([installed / "ansible-playbook", "--syntax-check", "site.yml"], cwd=project, env=ansible_env)
    # ansible-lint is a test tool, not a dependency: the one of the test environment, with that
    # environment's ansible first on PATH (it refuses an ansible CLI of another version).
    run([BIN / "ansible-lint", "--offline", "--profile", "production", "--nocolor"], cwd=project,
        env={**ansible_env, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"})


def test_explain_from_the_wheel_prints_its_examples(installed: Path, tmp_path: Path) -> None:
    rule = run([installed / "misp-planner", "explain", "MP210"], cwd=tmp_path)
    assert "Failing example" in rule.stdout and "Passing example" in rule.stdout
    language = run([installed / "misp-planner", "explain", "MP101"], cwd=tmp_path)
    assert "error MP101:" in language.stdout
    version = run([installed / "misp-planner", "--version"], cwd=tmp_path)
    assert version.stdout == f"misp-planner {__version__}\n"


def test_the_collection_builds_on_its_own(tmp_path: Path) -> None:
    galaxy = yaml.safe_load((ROOT / "playbooks" / "galaxy.yml").read_text(encoding="utf-8"))
    run([BIN / "ansible-galaxy", "collection", "build", ROOT / "playbooks", "--output-path", tmp_path], cwd=tmp_path)
    tarball = tmp_path / f"misp_planner-misp-{galaxy['version']}.tar.gz"
    with tarfile.open(tarball) as archive:
        names = set(archive.getnames())
    assert {"MANIFEST.json", "CHANGELOG.md", "plugins/modules/misp_server.py", "roles/stack/tasks/main.yml"} <= names
    changelog = (ROOT / "playbooks" / "CHANGELOG.md").read_text(encoding="utf-8")
    assert f"## {galaxy['version']}" in changelog, "the collection's changelog lacks its version"
