"""The generated Ansible project: structure, determinism, secrets, and the Ansible gates
(`ansible-playbook --syntax-check`, `ansible-lint --offline --profile production`) per example."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import EXAMPLES
from ruamel.yaml import YAML

from planner.ansible.project import generate_project
from planner.pipeline import load_estate
from planner.sizing import size_estate

BIN = Path(sys.executable).parent
KEY_LIKE = re.compile(rb"(?<![A-Za-z0-9])[A-Za-z0-9]{40}(?![A-Za-z0-9])")


def generate(topology: Path, target: Path) -> Path:
    loaded = load_estate(topology)
    target.mkdir(parents=True, exist_ok=True)
    generate_project(loaded.estate, size_estate(loaded.estate), target)
    return target


def load(path: Path) -> Any:
    return YAML(typ="safe", pure=True).load(path.read_text(encoding="utf-8"))


def ansible_env(project: Path) -> dict[str, str]:
    return {**os.environ, "ANSIBLE_CONFIG": str(project / "ansible.cfg"), "NO_COLOR": "1",
            "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}


@pytest.fixture(scope="module", params=EXAMPLES, ids=[p.parent.name for p in EXAMPLES])
def project(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate(request.param, tmp_path_factory.mktemp(request.param.parent.name))


def test_syntax_check_passes(project: Path) -> None:
    run = subprocess.run([str(BIN / "ansible-playbook"), "--syntax-check", "site.yml"], cwd=project,
                         env=ansible_env(project), capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr


def test_ansible_lint_production_profile_passes(project: Path) -> None:
    run = subprocess.run([str(BIN / "ansible-lint"), "--offline", "--profile", "production", "--nocolor"],
                         cwd=project, env=ansible_env(project), capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout + run.stderr


def test_layout_inventory_and_host_vars(project: Path) -> None:
    for name in ("ansible.cfg", "site.yml", "README.md", "inventory/hosts.yml", "group_vars/all.yml",
                 "collections/ansible_collections/misp_planner/misp/galaxy.yml",
                 "collections/ansible_collections/misp_planner/misp/plugins/modules/misp_server.py"):
        assert (project / name).is_file(), name
    groups = load(project / "inventory/hosts.yml")["all"]["children"]
    for group in groups:
        assert re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", group), f"unsafe group name {group}"
    managed, external = set(groups["managed"]["hosts"]), set(groups["external"]["hosts"] or {})
    assert managed and not managed & external
    assert {p.name for p in (project / "host_vars").iterdir()} >= managed
    readme = (project / "README.md").read_text(encoding="utf-8")
    for host in managed:
        variables = load(project / "host_vars" / host / "misp.yml")
        assert variables["misp_admin_key_env"] in readme
        assert set(load(project / "host_vars" / host / "sizing.yml")) == {"misp_sizing"}


@pytest.mark.parametrize("topology", EXAMPLES, ids=[p.parent.name for p in EXAMPLES])
def test_every_link_has_both_ends_and_every_group_holder_lists_by_server_entries(topology: Path,
                                                                                 tmp_path: Path) -> None:
    estate = load_estate(topology).estate
    project = generate(topology, tmp_path)
    sizing = size_estate(estate).to_json()["instances"]
    hv = {i: load(project / "host_vars" / i / "misp.yml") for i, inst in estate.instances.items() if inst.managed}
    for conn in estate.connections:
        init, remote = estate.instances[conn.initiator], estate.instances[conn.remote]
        if init.managed:
            links = [k for k in hv[conn.initiator]["misp_links_as_initiator"] if k["remote_url"] == remote.url]
            assert links and links[0]["push"] is (conn.push is not None) and links[0]["pull"] is (conn.pull is not None)
            assert links[0]["remote_org"]["uuid"] == estate.organisations[remote.host_org].uuid
            if conn.push is not None:  # names here; the module resolves them to the pusher's tag ids
                assert links[0]["push_rules"]["tags"]["OR"] == list(conn.push.tags.include)
            assert bool(links[0]["key_env"]) is (not remote.managed)
        if init.managed and remote.managed:
            ends = [k for k in hv[conn.remote]["misp_links_as_remote"] if k["initiator"] == conn.initiator]
            assert ends and ends[0]["allowed_ips"] == list(conn.allowed_ips)
            assert ends[0]["initiator_org"]["uuid"] == estate.organisations[init.host_org].uuid
    for gid, group in estate.sharing_groups.items():
        for holder in group.instances:
            if holder not in hv:
                continue
            have = {k["remote"] for k in hv[holder]["misp_links_as_initiator"]}
            assert set(group.instances) - {holder} <= have, f"{holder} cannot list every server of {gid}"
    for iid in hv:
        assert load(project / "host_vars" / iid / "sizing.yml")["misp_sizing"] == sizing[iid]


@pytest.mark.parametrize("topology", EXAMPLES[:1], ids=[p.parent.name for p in EXAMPLES[:1]])
def test_generation_is_deterministic(topology: Path, tmp_path: Path) -> None:
    first, second = generate(topology, tmp_path / "a"), generate(topology, tmp_path / "b")
    files = sorted(p.relative_to(first) for p in first.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(second) for p in second.rglob("*") if p.is_file())
    for relative in files:
        assert (first / relative).read_bytes() == (second / relative).read_bytes(), relative


def _tasks(playbook: Path) -> list[dict[str, Any]]:
    return [task for play in load(playbook) for task in play.get("tasks", [])]


def test_every_task_that_handles_a_key_has_no_log(tmp_path: Path) -> None:
    project = generate(EXAMPLES[0], tmp_path)
    handling = 0
    for task in _tasks(project / "site.yml"):
        text = repr(task)
        if any(m in text for m in ("misp_authkey", "misp_server:", "authkey", "lookup('ansible.builtin.env'")) \
                or "misp_planner.misp.misp_server" in task:
            handling += 1
            assert task.get("no_log") is True, task["name"]
    assert handling >= 2


def test_no_secret_in_the_generated_files(tmp_path: Path) -> None:
    for topology in EXAMPLES:
        project = generate(topology, tmp_path / topology.parent.name)
        for path in project.rglob("*"):
            if path.is_file():
                assert not KEY_LIKE.search(path.read_bytes()), f"{path} holds something shaped like a MISP key"
        group_vars = (project / "group_vars/all.yml").read_text(encoding="utf-8")
        assert "lookup('ansible.builtin.env', misp_admin_key_env)" in group_vars


def test_generate_command_writes_atomically_and_refuses_foreign_folders(tmp_path: Path) -> None:
    example = next(p for p in EXAMPLES if p.parent.name == "sector-isac")
    out = tmp_path / "out"
    cli = [sys.executable, "-m", "planner", "generate", str(example), "-o", str(out)]
    first = subprocess.run(cli, capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stderr
    assert (out / "site.yml").is_file() and (out / ".misp-planner").is_file()
    again = subprocess.run(cli, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr  # our own folder is replaced whole
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine", encoding="utf-8")
    refused = subprocess.run([*cli[:-1], str(foreign)], capture_output=True, text=True, timeout=300)
    assert refused.returncode == 2 and (foreign / "notes.txt").is_file()
    forced = subprocess.run([*cli[:-1], str(foreign), "--force"], capture_output=True, text=True, timeout=300)
    assert forced.returncode == 0 and not (foreign / "notes.txt").exists()


def test_apply_refuses_a_folder_that_is_not_a_project(tmp_path: Path) -> None:
    run = subprocess.run([sys.executable, "-m", "planner", "apply", str(tmp_path)], capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 2 and "not a generated Ansible project" in run.stderr
    bad = subprocess.run([sys.executable, "-m", "planner", "apply", str(tmp_path), "-e", "no-equals"],
                         capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and "KEY=VALUE" in bad.stderr
