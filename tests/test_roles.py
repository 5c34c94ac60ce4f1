"""The roles in playbooks/roles: sizing reaches the rendered configuration (golden files), the roles
pass ansible-lint's production profile, and a playbook using them passes --syntax-check.

Golden files live in tests/chroot/golden/<example>-<instance>/: `sizing.json` (the instance's sizing
when they were made, so the roles' golden files do not churn with every sizing change) and the files
rendered from it. The semantic test uses the sizing computed now. Regenerate both with
`MISP_PLANNER_REGEN_GOLDEN=1 .venv/bin/pytest tests/test_roles.py`.
"""

from __future__ import annotations

import configparser
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import ansible_runner
import pytest

from planner.pipeline import load_estate
from planner.sizing import size_estate

ROOT = Path(__file__).resolve().parent.parent
PLAYBOOKS = ROOT / "playbooks"
CHROOT_DIR = ROOT / "tests" / "chroot"
GOLDEN = CHROOT_DIR / "golden"
BIN = Path(sys.executable).parent

# Two managed instances of different volume classes (asserted below, so a change in the examples
# that makes them alike fails loudly instead of silently testing nothing).
PAIR = (("large-estate", "bulk-ingest"), ("sector-isac", "isac-hub"))


@pytest.fixture(scope="module", autouse=True)
def venv_on_path() -> Iterator[None]:
    """ansible-runner finds ansible-playbook on PATH; the venv's bin may not be on it."""
    saved = os.environ["PATH"]
    os.environ["PATH"] = f"{BIN}{os.pathsep}{saved}"
    yield
    os.environ["PATH"] = saved


def collections_path(tmp: Path) -> Path:
    """An ANSIBLE_COLLECTIONS_PATH in which playbooks/ is the collection misp_planner.misp."""
    target = tmp / "collections" / "ansible_collections" / "misp_planner"
    target.mkdir(parents=True, exist_ok=True)
    link = target / "misp"
    if not link.exists():
        link.symlink_to(PLAYBOOKS, target_is_directory=True)
    return tmp / "collections"


def instance_sizing(example: str, instance: str) -> dict[str, Any]:
    loaded = load_estate(ROOT / "examples" / example / "topology.yaml")
    sizing: dict[str, Any] = size_estate(loaded.estate).to_json()["instances"][instance]
    return sizing


def render(tmp: Path, instance: str, sizing: dict[str, Any], extra: dict[str, Any] | None = None) -> Path:
    """Render the roles' sizing templates for one instance with Ansible (ansible-runner, local)."""
    out = tmp / "rendered"
    out.mkdir(parents=True)
    private = tmp / "runner"
    private.mkdir()
    extravars = {"render_out": str(out), "misp_sizing": sizing, "misp_instance_id": instance, **(extra or {})}
    run = ansible_runner.run(
        private_data_dir=str(private),
        playbook=str(CHROOT_DIR / "render.yml"),
        inventory=f"localhost ansible_connection=local ansible_python_interpreter={sys.executable}",
        extravars=extravars,
        envvars={"ANSIBLE_COLLECTIONS_PATH": str(collections_path(tmp))},
        quiet=True,
    )
    assert run.status == "successful", run.stdout.read()
    return out


def ini(path: Path, section: str) -> dict[str, str]:
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    parser.read_string(path.read_text())
    return dict(parser[section])


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], Path]:
    """Each instance of PAIR rendered from the sizing computed now."""
    return {
        (example, instance): render(tmp_path_factory.mktemp(instance), instance, instance_sizing(example, instance))
        for example, instance in PAIR
    }


def test_golden_files(tmp_path: Path) -> None:
    for example, instance in PAIR:
        golden = GOLDEN / f"{example}-{instance}"
        if os.environ.get("MISP_PLANNER_REGEN_GOLDEN"):
            shutil.rmtree(golden, ignore_errors=True)
            golden.mkdir(parents=True)
            sizing_text = json.dumps(instance_sizing(example, instance), indent=2, sort_keys=True) + "\n"
            (golden / "sizing.json").write_text(sizing_text)
        out = render(tmp_path / instance, instance, json.loads((golden / "sizing.json").read_text()))
        if os.environ.get("MISP_PLANNER_REGEN_GOLDEN"):
            shutil.copytree(out, golden, dirs_exist_ok=True)
        produced = sorted(p.name for p in out.iterdir())
        assert sorted([*produced, "sizing.json"]) == sorted(p.name for p in golden.iterdir()), golden
        for name in produced:
            assert (out / name).read_text() == (golden / name).read_text(), f"{golden / name} differs"


def test_mariadb_and_php_follow_sizing(rendered: dict[tuple[str, str], Path]) -> None:
    sizes = {pair: instance_sizing(*pair) for pair in PAIR}
    big, small = (sizes[pair] for pair in PAIR)
    assert {big["volume_class"], small["volume_class"]} == {"above-50M", "below-50M"}

    seen: dict[str, list[str]] = {}
    for pair, out in rendered.items():
        sizing = sizes[pair]
        db = ini(out / "z-misp.cnf", "mariadb")
        for key in ("innodb_buffer_pool_size", "innodb_log_file_size", "innodb_io_capacity",
                    "max_connections"):
            assert db[key] == str(sizing["mariadb"][key]), (pair, key)
            seen.setdefault(f"mariadb.{key}", []).append(db[key])
        assert "innodb_buffer_pool_instances" not in db  # removed in MariaDB 10.6: it would not start
        assert db["bind-address"] == "127.0.0.1"  # hardening: localhost unless a dedicated host says otherwise

        php = _php_ini(out / "php-fpm-99-misp.ini")
        for key in ("memory_limit", "max_execution_time", "upload_max_filesize", "post_max_size"):
            assert php[key] == str(sizing["php"][key]), (pair, key)
            seen.setdefault(f"php.{key}", []).append(php[key])
        assert "memory_limit" not in _php_ini(out / "php-cli-99-misp.ini")

        pool = _php_ini(out / "fpm-pool-misp.conf")
        children = sizing["php"]["fpm_max_children"]
        assert pool["pm.max_children"] == str(children)
        spare = [int(pool[k]) for k in ("pm.min_spare_servers", "pm.start_servers", "pm.max_spare_servers")]
        assert 1 <= spare[0] <= spare[1] <= spare[2] <= children  # what php-fpm requires to start

        workers = (out / "misp-workers.conf").read_text()
        for queue, count in sizing["workers"].items():
            if count:
                assert re.search(rf"\[program:{queue}\]\n(?:.*\n)*?numprocs={count}\n", workers), (pair, queue)
        redis = (out / "redis-misp.conf").read_text()
        assert f"maxmemory {int(float(sizing['redis_gib']) * 1024)}mb" in redis

    # Wherever sizing gives the two instances different values, the rendered files differ too.
    for key, (a, b) in seen.items():
        section, name = key.split(".")
        assert (a != b) == (big[section][name] != small[section][name]), key
    assert seen["mariadb.innodb_buffer_pool_size"][0] != seen["mariadb.innodb_buffer_pool_size"][1]


def test_dedicated_database_host_listens_for_its_clients(tmp_path: Path) -> None:
    """On a dedicated DB host (clients given by the generator) MariaDB listens beyond localhost."""
    example, instance = PAIR[0]
    sizing = instance_sizing(example, instance)
    assert sizing["database"] == "dedicated"
    out = render(tmp_path, instance, sizing,
                 {"misp_database_clients": ["10.0.0.5"], "misp_database_bind_address": "10.0.0.9"})
    db = ini(out / "z-misp.cnf", "mariadb")
    assert db["bind-address"] == "10.0.0.9"
    assert db["innodb_buffer_pool_size"] == str(sizing["mariadb"]["innodb_buffer_pool_size"])


def _php_ini(path: Path) -> dict[str, str]:
    """key = value lines of a php.ini or php-fpm pool file (comments and sections skipped)."""
    values = {}
    for line in path.read_text().splitlines():
        if "=" in line and not line.lstrip().startswith((";", "[")):
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


def test_ansible_lint_production_profile() -> None:
    lint = BIN / "ansible-lint"
    if not lint.exists():
        pytest.skip(f"{lint} is not installed (pip install -e '.[test]')")
    result = subprocess.run(
        [str(lint), "--offline", "--profile", "production", "--nocolor", "playbooks/roles"],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_syntax_check_of_a_site_playbook(tmp_path: Path) -> None:
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(json.dumps({
        "misp_databases": {"hosts": {"hub-db": {}}},
        "misp_instances": {"hosts": {"hub": {}}},
    }))
    env = {**os.environ, "ANSIBLE_COLLECTIONS_PATH": str(collections_path(tmp_path))}
    result = subprocess.run(
        [str(BIN / "ansible-playbook"), "--syntax-check", "-i", str(inventory), str(CHROOT_DIR / "site.yml")],
        cwd=tmp_path, capture_output=True, text=True, check=False, env=env,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_shared_variable_is_documented() -> None:
    """The ansible helper writes host_vars from playbooks/roles/README.md: every `misp_*` variable the
    roles read (role-internal `misp_app_*` aside) must be documented there."""
    readme = (PLAYBOOKS / "roles" / "README.md").read_text()
    used: set[str] = set()
    for path in (PLAYBOOKS / "roles").rglob("*"):
        if path.suffix in {".yml", ".j2"}:
            used |= set(re.findall(r"\b(misp_[a-z_]+)\b(?!\.log)", path.read_text()))
    shared = {name for name in used if not name.startswith("misp_app_") and name != "misp_planner"}
    assert shared, "no shared variables found: the scan is broken"
    assert sorted(name for name in shared if f"`{name}`" not in readme) == []


def _apply_settings(tmp: Path, name: str, cake: Path, extra: dict[str, Any]) -> ansible_runner.Runner:
    private = tmp / name
    private.mkdir()
    host = {
        "ansible_connection": "local",
        "ansible_python_interpreter": sys.executable,
        # The role runs cake as the web user; here FakeCake runs as whoever runs the test.
        "ansible_become": False,
        "misp_app_cake": str(cake),
        "misp_app_settings_reader": [str(cake), "dump"],
        "misp_baseurl": "https://hub.example.org",
        "misp_uuid": "5b4b8d40-4c3f-4f3e-9a51-6c1f0e8e4a10",
        "misp_host_org": {"name": "CSIRT", "uuid": "0d6c3b9e-1f2a-4e5b-8c7d-9a0b1c2d3e4f"},
        "misp_sizing": instance_sizing(*PAIR[1]),
        "misp_redis_password": "r" * 32,
        "misp_supervisor_password": "s" * 16,
        "misp_security_salt": "t" * 32,
        "misp_encryption_key": "k" * 32,
        **extra,
    }
    inventory = private / "hosts.json"
    inventory.write_text(json.dumps({"all": {"hosts": {"hub": host}}}))
    run = ansible_runner.run(
        private_data_dir=str(private),
        playbook=str(CHROOT_DIR / "settings.yml"),
        inventory=str(inventory),
        envvars={"ANSIBLE_COLLECTIONS_PATH": str(collections_path(tmp))},
        quiet=True,
    )
    assert run.status == "successful", run.stdout.read()[-4000:]
    return run


def _set_calls(cake: Path) -> list[str]:
    log = cake.parent / "calls.log"
    calls = [line.split()[2] for line in log.read_text().splitlines() if line.startswith("Admin setSetting")]
    assert calls == sorted(set(calls), key=calls.index)  # no setting written twice in one run
    log.write_text("")
    return calls


@pytest.mark.slow
def test_settings_are_written_only_when_they_differ(tmp_path: Path) -> None:
    """misp_app's setSetting tasks against FakeCake: everything is set once, nothing on the second
    run, and only a setting that drifted (changed in the UI) on the third."""
    cake = tmp_path / "cake" / "fake_cake.py"
    cake.parent.mkdir()
    shutil.copy(CHROOT_DIR / "fake_cake.py", cake)
    # ZeroMQ on: FakeCake's ZeroMQ hook fails (NOAUTH, as MISP's) unless its Redis password is set first.
    extra = {"misp_settings": {"Plugin.Sightings_policy": 2, "MISP.disablerestalert": True}, "misp_zmq_enabled": True}

    _apply_settings(tmp_path, "first", cake, extra)
    state = json.loads((cake.parent / "settings.json").read_text())
    first = _set_calls(cake)
    assert len(first) == len(state) > 40
    assert state["MISP.baseurl"] == "https://hub.example.org"
    assert state["MISP.external_baseurl"] == "https://hub.example.org"
    assert state["MISP.uuid"] == "5b4b8d40-4c3f-4f3e-9a51-6c1f0e8e4a10"
    assert state["MISP.correlation_engine"] == instance_sizing(*PAIR[1])["correlation"]["engine"]
    assert state["SimpleBackgroundJobs.enabled"] == 1  # "true" stored as MISP stores it
    assert state["Plugin.ZeroMQ_enable"] == 1
    assert first.index("Plugin.ZeroMQ_redis_password") < first.index("Plugin.ZeroMQ_enable")
    assert set(first[-2:]) == {"Plugin.ZeroMQ_enable", "SimpleBackgroundJobs.enabled"}  # switches last
    assert state["Plugin.Sightings_policy"] == "2"  # the topology's settings come on top
    assert state["Security.password_policy_length"] == "12"

    _apply_settings(tmp_path, "second", cake, extra)
    assert _set_calls(cake) == []

    state["MISP.baseurl"] = "https://changed-in-the-ui.example.org"
    (cake.parent / "settings.json").write_text(json.dumps(state))
    _apply_settings(tmp_path, "third", cake, extra)
    assert _set_calls(cake) == ["MISP.baseurl"]


def _run_tasks(tmp: Path, name: str, role: str, tasks: str, hostvars: dict[str, Any],
               gather: bool = False) -> ansible_runner.Runner:
    """One task file of a role on this machine (tests/chroot/tasks.yml); the run may fail."""
    private = tmp / name
    private.mkdir()
    host = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable,
            "ansible_become": False, **hostvars}
    inventory = private / "hosts.json"
    inventory.write_text(json.dumps({"all": {"hosts": {"hub": host}}}))
    return ansible_runner.run(
        private_data_dir=str(private),
        playbook=str(CHROOT_DIR / "tasks.yml"),
        inventory=str(inventory),
        extravars={"role": role, "tasks": tasks, "gather": gather},
        envvars={"ANSIBLE_COLLECTIONS_PATH": str(collections_path(tmp))},
        quiet=True,
    )


def _failure(run: ansible_runner.Runner) -> str:
    return " ".join(
        str(event["event_data"]["res"].get("msg", ""))
        for event in run.events if event.get("event") == "runner_on_failed"
    )


def test_session_cookie_flags_stay_settable_by_misp(rendered: dict[tuple[str, str], Path]) -> None:
    """php_admin_flag locks a flag: CakePHP's ini_set() of it then fails and every request answers
    500 ("Unable to configure the session"). php_flag sets the same default and leaves it settable."""
    for out in rendered.values():
        pool = _php_ini(out / "fpm-pool-misp.conf")
        for flag in ("session.cookie_secure", "session.cookie_httponly"):
            assert pool[f"php_flag[{flag}]"] == "on"
            assert f"php_admin_flag[{flag}]" not in pool


def test_no_file_test_runs_on_the_controller() -> None:
    """Jinja's `is file`/`is exists`/`is directory` look at the controller's disk: a role asking them
    about the managed host's files (composer's autoloader did) gets the wrong answer. stat instead."""
    offenders = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in sorted((PLAYBOOKS / "roles").rglob("*.yml"))
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if re.search(r"\bis\s+(not\s+)?(file|exists|directory|link|mount)\b", line)
    ]
    assert offenders == []


def test_libfuzzy_dev_is_installed_for_pydeep2() -> None:
    """pydeep2 has no wheel for Python 3.13 (Debian 13) and builds against libfuzzy's headers."""
    import yaml

    packages = yaml.safe_load((PLAYBOOKS / "roles/misp_app/vars/main.yml").read_text())["misp_app_packages"]
    assert {"libfuzzy-dev", "gcc", "python3-dev"} <= set(packages)


def test_mariadb_never_falls_back_to_listening_everywhere(tmp_path: Path) -> None:
    """With remote clients the bind address comes from the host's facts; without them the
    pre-flight fails and names the variable to set, instead of binding 0.0.0.0."""
    sizing = instance_sizing(*PAIR[0])
    common = {"misp_sizing": sizing, "misp_database_password": "d" * 16, "misp_database_clients": ["10.0.0.5"],
              "misp_memory_check": False}
    blind = _run_tasks(tmp_path, "no-facts", "database", "checks", common)
    assert blind.status == "failed"
    assert "misp_database_bind_address" in _failure(blind)
    seeing = _run_tasks(tmp_path, "facts", "database", "checks", common, gather=True)
    assert seeing.status == "successful", _failure(seeing)


def test_memory_preflight_fails_when_the_sizing_does_not_fit(tmp_path: Path) -> None:
    sizing = instance_sizing(*PAIR[1])
    pool_mb = sizing["mariadb"]["innodb_buffer_pool_size"] // 1048576
    common = {"misp_sizing": sizing, "misp_baseurl": "https://hub.example.org", "misp_platform": "debian-12",
              "misp_redis_password": "r" * 32, "misp_supervisor_password": "s" * 16,
              "misp_database_password": "d" * 16}
    for role, tasks, variable in (("stack", "memory", "stack_memory_mb"), ("database", "checks", "database_memory_mb")):
        small = _run_tasks(tmp_path, f"{role}-small", role, tasks, {**common, variable: pool_mb // 2})
        assert small.status == "failed", role
        assert "misp_memory_check: false" in _failure(small) and f"{pool_mb} MiB" in _failure(small), role
        big = _run_tasks(tmp_path, f"{role}-big", role, tasks, {**common, variable: pool_mb * 4})
        assert big.status == "successful", (role, _failure(big))
        skipped = _run_tasks(tmp_path, f"{role}-skip", role, tasks,
                             {**common, variable: pool_mb // 2, "misp_memory_check": False})
        assert skipped.status == "successful", (role, _failure(skipped))


@pytest.mark.slow
def test_admin_key_is_kept_only_after_user_init_succeeds(tmp_path: Path) -> None:
    cake = tmp_path / "cake" / "fake_cake.py"
    cake.parent.mkdir()
    shutil.copy(CHROOT_DIR / "fake_cake.py", cake)
    key = tmp_path / "admin-key"
    hostvars = {"misp_app_cake": str(cake), "misp_app_admin_key_file": str(key)}

    failed = _run_tasks(tmp_path, "no-schema", "misp_app", "admin_key", hostvars)
    assert failed.status == "failed"
    assert not key.exists()  # a later run tries again

    (cake.parent / "schema-imported").touch()
    created = _run_tasks(tmp_path, "schema", "misp_app", "admin_key", hostvars)
    assert created.status == "successful", _failure(created)
    assert key.read_text() == "a" * 40 + "\n"
    assert key.stat().st_mode & 0o077 == 0

    again = _run_tasks(tmp_path, "again", "misp_app", "admin_key", hostvars)
    assert again.status == "successful"
    assert int(sum((again.stats or {}).get("changed", {}).values())) == 0


def test_supervisord_is_started_only_once_misp_is_in_place() -> None:
    """The workers' logs live in MISP's app/tmp/logs (as MISP's installer has them): supervisord
    refuses to start before misp_app has put MISP there, and the folder cannot be made earlier
    (the checkout needs an empty directory). Every task and handler of the stack role that starts
    supervisord must therefore wait for MISP's tree; misp_app starts it at its end. (The chroot
    test cannot see this one: Debian's sysvinit script reports success when supervisord exits.)"""
    import yaml

    roles = PLAYBOOKS / "roles"
    starts = []
    for path in (roles / "stack/tasks/main.yml", roles / "stack/handlers/main.yml"):
        for task in yaml.safe_load(path.read_text()):
            service = task.get("ansible.builtin.service")
            if not service:
                continue
            names = [service["name"]] if "loop" not in task else [str(item) for item in task["loop"]]
            if any("supervisor" in name for name in names):
                starts.append((path.name, task["name"], str(task.get("when", ""))))
    assert len(starts) == 2, starts
    for file, name, when in starts:
        assert re.search(r"stack_misp_present\w*\.stat\.exists", when), (file, name, when)
    misp_app = yaml.safe_load((roles / "misp_app/tasks/settings.yml").read_text())
    assert misp_app[-2]["ansible.builtin.service"] == {"name": "supervisor", "state": "started", "enabled": True}
