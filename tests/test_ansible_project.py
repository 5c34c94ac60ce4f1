"""The generated Ansible project: structure, determinism, secrets, and the Ansible gates
(`ansible-playbook --syntax-check`, `ansible-lint --offline --profile production`) per example."""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess
import sys
from enum import IntEnum, StrEnum
from pathlib import Path
from typing import Any

import pytest
from conftest import EXAMPLES
from hypothesis import given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from planner import yamlout
from planner.ansible.project import generate_project, numbers_only
from planner.output import write_files, write_text
from planner.pipeline import load_estate
from planner.sizing import size_estate
from planner.yamlout import dump_yaml

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
        assert load(project / "host_vars" / iid / "sizing.yml")["misp_sizing"] == numbers_only(sizing[iid])
        assert "reasons" not in numbers_only(sizing[iid]) and sizing[iid]["reasons"]


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


# --- byte-identical output: a golden project, the README's lists, the YAML writer, the file writer ---------------

GOLDEN = Path(__file__).resolve().parent / "golden" / "ansible" / "sector-isac"


def _estate_files(project: Path) -> dict[str, bytes]:
    """The files that hold the estate (not the fixed playbook, config and collection copied verbatim)."""
    names = ["README.md", "inventory/hosts.yml", "group_vars/all.yml"]
    names += sorted(p.relative_to(project).as_posix() for p in (project / "host_vars").rglob("*.yml"))
    return {name: (project / name).read_bytes() for name in names}


def test_generated_estate_files_match_the_golden_project(tmp_path: Path) -> None:
    example = next(p for p in EXAMPLES if p.parent.name == "sector-isac")
    files = _estate_files(generate(example, tmp_path))
    if os.environ.get("UPDATE_GOLDEN"):
        shutil.rmtree(GOLDEN, ignore_errors=True)
        for name, data in files.items():
            (GOLDEN / name).parent.mkdir(parents=True, exist_ok=True)
            (GOLDEN / name).write_bytes(data)
    assert GOLDEN.is_dir(), f"missing {GOLDEN}: run UPDATE_GOLDEN=1 .venv/bin/pytest tests/test_ansible_project.py"
    golden = {p.relative_to(GOLDEN).as_posix(): p.read_bytes() for p in GOLDEN.rglob("*") if p.is_file()}
    assert sorted(files) == sorted(golden)
    for name, data in files.items():
        assert data == golden[name], f"{name} differs from {GOLDEN / name} (UPDATE_GOLDEN=1 after a deliberate change)"


def test_readme_and_handover_for_an_initiator_run_by_someone_else(tmp_path: Path) -> None:
    # Bank C (unmanaged) pulls from the hub instead of the hub pushing to it: our hub gets a sync user
    # and mints a key for Bank C's operator; no remote of ours is run by someone else any more.
    example = next(p for p in EXAMPLES if p.parent.name == "sector-isac")
    text = example.read_text(encoding="utf-8")
    old = "  - initiator: isac-hub\n    remote: bank-c-misp\n    push:"
    assert old in text
    topology = tmp_path / "topology.yaml"
    topology.write_text(text.replace(old, "  - initiator: bank-c-misp\n    remote: isac-hub\n"
                                          "    allowed_ips: [203.0.113.7/32]\n    pull:"), encoding="utf-8")
    project = generate(topology, tmp_path / "out")
    readme = (project / "README.md").read_text(encoding="utf-8")
    key_file = "isac-hub/sync-bank-c-misp--isac-hub.vault"
    key_line = (f"- `{key_file}`: `sync-bank-c-misp@misp.bank-c.example` on `isac-hub` (sync link of bank-c-misp, "
                "run by someone else), pinned to 203.0.113.7/32")
    assert readme.count(key_line) == 1, readme
    assert "- (none: every remote is managed here)" in readme
    handover = (project / "handover" / "bank-c-misp.md").read_text(encoding="utf-8")
    assert "### You connect to `isac-hub`" in handover and key_file in handover
    assert "`203.0.113.7/32`" in handover and "pull: yes" in handover
    hub = load(project / "host_vars/isac-hub/misp.yml")
    assert [k["initiator_managed"] for k in hub["misp_links_as_remote"] if k["initiator"] == "bank-c-misp"] == [False]


def reference_dump(data: Any) -> str:
    """The straightforward emitter that `planner.yamlout` replaced, kept as its specification: each
    scalar decided on its own, each list item's mapping rendered apart and spliced after its dash."""
    def scalar(value: Any) -> str:
        if value is None:
            return "null"
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, int):
            return str(value)
        if isinstance(value, float):
            if not math.isfinite(value):
                raise ValueError("non-finite")
            return repr(value)
        text = str(value)
        plain = re.fullmatch(r"[A-Za-z_/][A-Za-z0-9 _./@+()=,-]*(?::[A-Za-z0-9_./@+()=,-]+)*[A-Za-z0-9_./@+()=-]?",
                             text)
        if plain and text.lower() not in {"y", "n", "yes", "no", "on", "off", "true", "false", "null", "nan", "inf"} \
                and not text.endswith(" ") and " #" not in text:
            return text
        return json.dumps(text, ensure_ascii=False)

    def inline(value: Any) -> str:
        return "{}" if isinstance(value, dict) else "[]" if isinstance(value, list) else scalar(value)

    def lines(value: Any, indent: int, out: list[str]) -> None:
        pad = " " * indent
        if isinstance(value, dict):
            for key, item in value.items():
                if isinstance(item, dict | list) and item:
                    out.append(f"{pad}{scalar(str(key))}:")
                    lines(item, indent + 2, out)
                else:
                    out.append(f"{pad}{scalar(str(key))}: {inline(item)}")
            return
        for item in value:
            if isinstance(item, dict) and item:
                nested: list[str] = []
                lines(item, indent + 2, nested)
                out.append(f"{pad}- {nested[0][indent + 2:]}")
                out.extend(nested[1:])
            elif isinstance(item, list) and item:
                out.append(f"{pad}-")
                lines(item, indent + 2, out)
            else:
                out.append(f"{pad}- {inline(item)}")

    if not isinstance(data, dict | list):
        return scalar(data) + "\n"
    if not data:
        return inline(data) + "\n"
    out: list[str] = []
    lines(data, 0, out)
    return "\n".join(out) + "\n"


class Level(IntEnum):
    low = 1


class Word(StrEnum):
    yes = "yes"


class Tagged(dict[str, Any]):
    pass


_tricky_text = st.text(alphabet=st.sampled_from(list("aZ09 _-.:#/@'\"=,{}[]&*!|>%`?\\\nKé\u212a")), max_size=8) \
    | st.sampled_from(["yes", "No", "ON", "null", "~", "1.5", "0x1F", "2024-01-01", "-", "- a", "a: b", "a #b",
                       "trailing ", "tlp:green", "https://misp.example/x", "20436fa1-3024", "inf", "y"])
_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | _tricky_text
_plain = st.recursive(_scalars, lambda inner: st.lists(inner, max_size=4)
                      | st.dictionaries(_tricky_text | st.integers() | st.booleans(), inner, max_size=4), max_leaves=30)


@settings(max_examples=400, deadline=None)
@given(data=_plain)
def test_yaml_writer_matches_the_reference_emitter(data: Any) -> None:
    assert dump_yaml(data) == reference_dump(data)


# Keys are written as text (the emitter's contract), so only string keys read back as they were.
_plain_text_keys = st.recursive(_scalars, lambda inner: st.lists(inner, max_size=4)
                                | st.dictionaries(_tricky_text, inner, max_size=4), max_leaves=30)


@settings(max_examples=100, deadline=None)
@given(data=st.dictionaries(_tricky_text, _plain_text_keys, min_size=1, max_size=4))
def test_yaml_writer_reads_back_as_the_same_data(data: dict[str, Any]) -> None:
    text = dump_yaml(data)
    assert YAML(typ="safe", pure=True).load(text) == data
    # What generate relies on to write a DB host's sizing once: a mapping's text is its entries' texts joined.
    assert text == "".join(dump_yaml({key: value}) for key, value in data.items())


def test_yaml_writer_is_the_same_when_its_memory_of_strings_is_cleared(monkeypatch: pytest.MonkeyPatch) -> None:
    data = {"a": ["yes", "x", {"k": "yes", "l": ["tlp:green", "1"]}], "b": {"yes": "x", "k": "a #b"}, "c": "x"}
    expected = reference_dump(data)
    monkeypatch.setattr(yamlout, "_WRITTEN_LIMIT", 2)
    yamlout._WRITTEN.clear()
    assert dump_yaml(data) == expected
    assert len(yamlout._WRITTEN) <= 2


def test_yaml_writer_takes_subclasses_like_their_base_types() -> None:
    data = {"level": Level.low, "word": Word.yes, 1: Tagged(a=Word.yes), "empty": Tagged(), "n": [Tagged(x=1), []]}
    assert dump_yaml(data) == reference_dump(data)
    assert dump_yaml(Tagged(a=1)) == reference_dump(Tagged(a=1))
    with pytest.raises(ValueError):
        dump_yaml({"a": [float("inf")]})


def test_write_files_writes_what_write_text_writes(tmp_path: Path) -> None:
    files = [("a.txt", "é\n"), ("host_vars/x/misp.yml", "---\nx: 1\n"), ("host_vars/x/sizing.yml", ""),
             ("host_vars/y/misp.yml", "y\n"), ("a.txt", "again\n")]  # the last one replaces the first
    write_files(tmp_path / "batch", (f for f in files))
    for relative, text in files:
        write_text(tmp_path / "single", relative, text)
    batch = {p.relative_to(tmp_path / "batch"): p.read_bytes() for p in (tmp_path / "batch").rglob("*") if p.is_file()}
    single = {p.relative_to(tmp_path / "single"): p.read_bytes() for p in (tmp_path / "single").rglob("*")
              if p.is_file()}
    assert batch == single and batch[Path("a.txt")] == b"again\n"


@pytest.mark.parametrize("relative", ["../outside.txt", "host_vars/../../outside.txt", "/tmp/outside.txt",
                                      "link/outside.txt", "link/sub/outside.txt", "dangling/outside.txt",
                                      "host_vars/x/../../../outside.txt", "file-link"])
def test_write_files_refuses_to_write_outside_the_folder(tmp_path: Path, relative: str) -> None:
    root, outside = tmp_path / "root", tmp_path / "elsewhere"
    root.mkdir()
    outside.mkdir()
    (root / "link").symlink_to(outside, target_is_directory=True)
    (root / "dangling").symlink_to(outside / "missing", target_is_directory=True)
    (root / "file-link").symlink_to(outside / "outside.txt")
    relative = relative.replace("/tmp", str(tmp_path))
    with pytest.raises(ValueError, match="outside the output folder"):
        write_text(root, relative, "nope")
    with pytest.raises(ValueError, match="outside the output folder"):
        write_files(root, [("fine.txt", "fine"), ("host_vars/x/misp.yml", "fine"), (relative, "nope")])
    assert (root / "fine.txt").read_text() == "fine"  # written as it came, before the refused one
    assert sorted(p.name for p in outside.rglob("*")) == [] and not (tmp_path / "outside.txt").exists()


def test_write_files_follows_a_link_that_stays_inside_the_folder_as_write_text_does(tmp_path: Path) -> None:
    for name, write in (("batch", lambda root: write_files(root, [("alias.txt", "new")])),
                        ("single", lambda root: write_text(root, "alias.txt", "new"))):
        root = tmp_path / name
        root.mkdir()
        (root / "real.txt").write_text("old")
        (root / "alias.txt").symlink_to(root / "real.txt")
        write(root)
        assert (root / "real.txt").read_text() == "new" and (root / "alias.txt").is_symlink()
