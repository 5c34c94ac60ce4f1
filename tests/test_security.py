"""Secrets never land in outputs; every task that handles one hides it (docs/security.md).

Two walks over what `misp-planner build` writes for every example:
* every file (report, diagrams, JSON, the Ansible project with its collection) is scanned for
  anything shaped like a MISP API key, a literal password or an ansible-vault plaintext marker;
* every task of the generated playbook and of the shipped roles that names a secret (a key, a
  password, the salt or the encryption key) carries `no_log: true`.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from planner.cli import app

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("*/topology.yaml"))
runner = CliRunner()

# A MISP auth key: 40 characters from [A-Za-z0-9] (AppModel::validateAuthkey), with letters of both cases and
# digits (so hex digests and UUIDs do not match).
KEY_LIKE = re.compile(rb"(?<![A-Za-z0-9])(?=[A-Za-z0-9]*[a-z])(?=[A-Za-z0-9]*[A-Z])(?=[A-Za-z0-9]*[0-9])"
                      rb"[A-Za-z0-9]{40}(?![A-Za-z0-9])")
SECRET_NAME = re.compile(r"password|passwd|authkey|auth_key|api_key|admin_key|sync_key|salt|encryption_key|secret",
                         re.IGNORECASE)
# A YAML key naming a secret, with a literal value (not a Jinja expression, not empty, not a variable name).
LITERAL_SECRET = re.compile(rb"^[ \t]*[\w.-]*(password|authkey|api_key|secret):[ \t]*(?![\"']?\{\{)[\"']?[^\s\"'{]{8,}",
                            re.IGNORECASE | re.MULTILINE)


@pytest.fixture(scope="module")
def builds(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    outputs = []
    for topology in EXAMPLES:
        out = tmp_path_factory.mktemp(topology.parent.name) / "build"
        result = runner.invoke(app, ["build", str(topology), "-o", str(out)])
        assert result.exit_code == 0, result.output
        outputs.append(out)
    return outputs


def test_no_secret_shaped_text_in_any_build_output(builds: list[Path]) -> None:
    scanned = 0
    for out in builds:
        for path in out.rglob("*"):
            if not path.is_file():
                continue
            data = path.read_bytes()
            scanned += 1
            assert not KEY_LIKE.search(data), f"{path} holds something shaped like a MISP key"
            assert b"$ANSIBLE_VAULT" not in data or path.suffix not in (".yml", ".yaml"), path
            if path.suffix in (".yml", ".yaml", ".cfg", ".ini", ".j2", ".json"):
                literal = LITERAL_SECRET.search(data)
                assert literal is None, f"{path} holds a literal secret: {literal.group(0)[:60]!r}"
    assert scanned > 50


def _tasks(document: Any) -> list[dict[str, Any]]:
    """Every task of a playbook or a task file, blocks included."""
    found: list[dict[str, Any]] = []
    items = document if isinstance(document, list) else []
    for item in items:
        if not isinstance(item, dict):
            continue
        for key in ("tasks", "pre_tasks", "post_tasks", "handlers", "block", "rescue", "always"):
            found.extend(_tasks(item.get(key)))
        if not any(k in item for k in ("hosts", "block")):
            found.append(item)
    return found


def _names_a_secret(task: dict[str, Any]) -> bool:
    if "ansible.builtin.assert" in task or "assert" in task:
        return False  # an assertion reports which condition failed, never a value
    body = {k: v for k, v in task.items() if k not in ("name", "when", "tags", "no_log", "register", "changed_when",
                                                        "failed_when", "notify", "loop_control")}
    return bool(SECRET_NAME.search(repr(body)))


def test_every_task_handling_a_secret_has_no_log(builds: list[Path]) -> None:
    checked = 0
    project = builds[0] / "ansible"
    files = [project / "site.yml", *sorted((project / "collections").rglob("tasks/*.yml")),
             *sorted((project / "collections").rglob("handlers/*.yml"))]
    assert len(files) > 3
    exposed = []
    for path in files:
        for task in _tasks(yaml.safe_load(path.read_text(encoding="utf-8"))):
            if _names_a_secret(task):
                checked += 1
                if task.get("no_log") is not True:
                    exposed.append(f"{path.relative_to(project)}: {task.get('name')!r}")
    assert not exposed, "tasks handling a secret without no_log: true:\n" + "\n".join(exposed)
    assert checked >= 5, "the walk found the tasks that handle keys and passwords"
