"""The database, stack and misp_app roles applied to fresh Debian 12 and Debian 13 roots, services
managed, MISP installed from a bundle, with no network access.

Each root (debootstrap minbase) runs in its own PID, network and mount namespaces: the services'
fixed ports (3306, 6379, 80, 443, 9001) do not collide with this machine's, and every process
started in it ends with the namespace. Ansible reaches the root through community.general.chroot,
whose chroot command is wrapped in nsenter. The namespace has only a loopback interface, so the
run is air-gapped: Debian packages come from a local repository inside the root (made when the
root is built, from the roles' own package lists), MISP from a bundle made by `misp-planner bundle`
from a git repository of a test double of MISP's tree (tests/chroot/misp: its app/Console/cake
answers setSetting with MISP's ZeroMQ hook, runUpdates, User init and start_worker; its front
controller sets the session cookie flags as CakePHP does and keeps its session in Redis).

Checked: a first run succeeds; MariaDB, Redis, PHP-FPM, Apache and supervisord run with the sized
values (read back from the running services); /servers/getVersion answers 200 through Apache and
PHP-FPM; the workers run in the sized numbers; a second run changes nothing; check mode with a
bigger buffer pool reports the change with a diff and writes nothing.

Needs root, debootstrap, unshare/nsenter, git and composer; skipped otherwise. Roots are built
once and cached as tarballs (MISP_PLANNER_CHROOT_CACHE, default /var/cache/misp-planner-chroot),
named after the package list, so a changed list builds a new one (the bare root is reused).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ansible_runner
import pytest
import yaml
from test_bundle import bundle, make_misp_repository, needs_tools
from test_roles import BIN, CHROOT_DIR, PLAYBOOKS, collections_path, instance_sizing

pytestmark = [pytest.mark.slow, pytest.mark.chroot]

CACHE = Path(os.environ.get("MISP_PLANNER_CHROOT_CACHE", "/var/cache/misp-planner-chroot"))
# suite -> (misp_platform, PHP version of the platform)
SUITES = {"bookworm": ("debian-12", "8.2"), "trixie": ("debian-13", "8.4")}
# A below-50M instance with a local database: the stack role then includes the database role.
EXAMPLE, INSTANCE = "sector-isac", "isac-hub"
REDIS_PASSWORD = "chroot-test-redis-password-0123456789"


def _why_not() -> str | None:
    if not sys.platform.startswith("linux"):
        return "a chroot needs Linux"
    if os.geteuid() != 0:
        return "building and entering a chroot needs root"
    for tool in ("debootstrap", "chroot", "unshare", "nsenter", "mount"):
        if shutil.which(tool) is None and not Path(f"/usr/sbin/{tool}").exists():
            return f"{tool} is not installed (apt-get install debootstrap util-linux)"
    return None


def role_packages(php: str) -> list[str]:
    """What the roles install on a platform, from their own vars files."""
    roles = PLAYBOOKS / "roles"
    stack = yaml.safe_load((roles / "stack/vars/main.yml").read_text())
    packages = set(stack["stack_packages"]) | {f"php{php}-{ext}" for ext in stack["stack_php_extensions"]}
    packages |= set(yaml.safe_load((roles / "database/vars/main.yml").read_text())["database_packages"])
    packages |= set(yaml.safe_load((roles / "misp_app/vars/main.yml").read_text())["misp_app_packages"])
    return sorted(packages)


@dataclass
class Root:
    path: Path
    suite: str
    platform: str
    php: str
    chroot_exe: Path  # runs chroot inside the namespaces

    def run(self, *argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(self.chroot_exe), str(self.path), *argv], capture_output=True, text=True,
                              check=check)


@dataclass
class First:
    root: Root
    run: ansible_runner.Runner


@pytest.fixture(scope="session")
def misp_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    needs_tools()
    tmp = tmp_path_factory.mktemp("bundle")
    return bundle(make_misp_repository(tmp), tmp / "bundle")


def _namespace_pid(holder: subprocess.Popen[bytes], root: Path) -> int:
    """The host PID of the namespace's first process (unshare's child), once /proc is mounted."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        children = Path(f"/proc/{holder.pid}/task/{holder.pid}/children").read_text().split()
        if children and (root / "run" / "namespace-ready").exists():
            return int(children[0])
        assert holder.poll() is None, "unshare ended early"
        time.sleep(0.1)
    raise AssertionError("the namespace did not come up")


@contextmanager
def _root(suite: str, tmp: Path) -> Iterator[Root]:
    platform, php = SUITES[suite]
    packages = role_packages(php)
    recipe = (CHROOT_DIR / "build_root.sh").read_text() + " ".join(packages)
    tarball = CACHE / f"{suite}-{hashlib.sha256(recipe.encode()).hexdigest()[:12]}.tar"
    env = {**os.environ, "PATH": f"{os.environ['PATH']}:/usr/sbin:/sbin"}
    started = time.monotonic()
    subprocess.run(["bash", str(CHROOT_DIR / "build_root.sh"), suite, str(tarball), *packages], check=True, env=env)
    path = tmp / "root"
    path.mkdir()
    subprocess.run(["tar", "-C", str(path), "-xf", str(tarball)], check=True)
    print(f"\n{suite} root ready in {time.monotonic() - started:.0f}s at {path}")

    # PID 1 of the namespace is a shell (so Ansible's service facts pick the roots' init scripts);
    # it mounts /proc for the root and brings the loopback interface up.
    script = (f"mount -t proc proc {path}/proc && ip link set lo up && touch {path}/run/namespace-ready"
              " && while :; do sleep 60; done")
    holder = subprocess.Popen(["unshare", "--pid", "--net", "--mount", "--fork", "--kill-child", "sh", "-c", script],
                              env=env)
    try:
        pid = _namespace_pid(holder, path)
        chroot_exe = tmp / "chroot-in-namespace"
        chroot_exe.write_text(f"#!/bin/sh\nexec nsenter --target {pid} --pid --net --mount chroot \"$@\"\n")
        chroot_exe.chmod(0o755)
        yield Root(path, suite, platform, php, chroot_exe)
    finally:
        holder.kill()  # --kill-child: the namespace's processes end with it
        holder.wait()
        subprocess.run(["rm", "-rf", "--one-file-system", str(path)], check=False)


@pytest.fixture(scope="module")
def first_runs(tmp_path_factory: pytest.TempPathFactory, misp_bundle: Path) -> Iterator[dict[str, First]]:
    """Every suite's root with the roles applied once. The first runs go in parallel: most of
    their time is package installation and waiting on services, and the suites share nothing."""
    reason = _why_not()
    if reason:
        pytest.skip(reason)
    with ExitStack() as stack:
        roots = {suite: stack.enter_context(_root(suite, tmp_path_factory.mktemp(suite))) for suite in SUITES}
        started = {
            suite: _start(tmp_path_factory.mktemp(f"{suite}-first"), "first", root, _sizing(), misp_bundle)
            for suite, root in roots.items()
        }
        yield {suite: First(roots[suite], _finish(*started[suite])) for suite in SUITES}


def _sizing() -> dict[str, Any]:
    """The instance's sizing, with its memory scaled down to fit a test machine (the values read
    back from the running services are these)."""
    sizing = instance_sizing(EXAMPLE, INSTANCE)
    sizing["mariadb"]["innodb_buffer_pool_size"] = 256 * 1024 * 1024
    sizing["mariadb"]["innodb_log_file_size"] = 64 * 1024 * 1024
    sizing["redis_gib"] = 0.25
    return sizing


def _inventory(root: Root, sizing: dict[str, Any], misp_bundle: Path) -> dict[str, Any]:
    host = {
        "ansible_connection": "community.general.chroot",
        "ansible_host": str(root.path),
        "ansible_chroot_exe": str(root.chroot_exe),
        "ansible_python_interpreter": "/usr/bin/python3",
        "misp_platform": root.platform,
        "misp_instance_id": INSTANCE,
        "misp_baseurl": "https://isac-hub.example.org",
        "misp_sizing": sizing,
        "misp_version": "v2.5.42",
        "misp_bundle": str(misp_bundle),
        "misp_uuid": "5b4b8d40-4c3f-4f3e-9a51-6c1f0e8e4a10",
        "misp_host_org": {"name": "ISAC", "uuid": "0d6c3b9e-1f2a-4e5b-8c7d-9a0b1c2d3e4f"},
        "misp_zmq_enabled": True,  # its hook needs the ZeroMQ Redis password set first
        # Test-only values; real ones come from ansible-vault or the environment.
        "misp_database_password": "chroot-test-database-password",
        "misp_redis_password": REDIS_PASSWORD,
        "misp_supervisor_password": "chroot-test-supervisor-password",
        "misp_security_salt": "chroot-test-security-salt-0123456789",
        "misp_encryption_key": "chroot-test-encryption-key-0123456789",
    }
    return {"all": {"children": {"misp_chroot": {"hosts": {f"chroot-{root.suite}": host}}}}}


def _start(tmp: Path, name: str, root: Root, sizing: dict[str, Any], misp_bundle: Path,
           cmdline: str = "", playbook: str = "stack.yml") -> tuple[str, Root, threading.Thread, ansible_runner.Runner]:
    private = tmp / name
    private.mkdir()
    inventory = private / "hosts.json"
    inventory.write_text(json.dumps(_inventory(root, sizing, misp_bundle)))
    thread, run = ansible_runner.run_async(
        private_data_dir=str(private),
        playbook=str(CHROOT_DIR / playbook),
        inventory=str(inventory),
        cmdline=cmdline or None,
        envvars={
            "ANSIBLE_COLLECTIONS_PATH": str(collections_path(tmp)),
            # The chroot connection supports pipelining: fewer file transfers per task, and become
            # to the web user needs no world-readable temporary files.
            "ANSIBLE_PIPELINING": "True",
            "PATH": f"{BIN}:{os.environ['PATH']}:/usr/sbin:/sbin",
        },
        quiet=True,
    )
    return name, root, thread, run


def _finish(name: str, root: Root, thread: threading.Thread, run: ansible_runner.Runner) -> ansible_runner.Runner:
    started = time.monotonic()
    thread.join()
    print(f"{root.suite} {name}: {run.status} (waited {time.monotonic() - started:.0f}s), stats {run.stats}")
    assert run.status == "successful", f"{root.suite} {name}:\n" + run.stdout.read()[-8000:]
    return run


def _apply(tmp: Path, name: str, root: Root, sizing: dict[str, Any], misp_bundle: Path,
           cmdline: str = "", playbook: str = "stack.yml") -> ansible_runner.Runner:
    started = time.monotonic()
    run = _finish(*_start(tmp, name, root, sizing, misp_bundle, cmdline, playbook))
    print(f"{root.suite} {name} took {time.monotonic() - started:.0f}s")
    return run


def _changed(run: ansible_runner.Runner) -> int:
    return int(sum((run.stats or {}).get("changed", {}).values()))


def _changed_tasks(run: ansible_runner.Runner) -> list[str]:
    return [
        str(event["event_data"].get("task"))
        for event in run.events
        if event.get("event") in ("runner_on_ok", "runner_item_on_ok")
        and event["event_data"].get("res", {}).get("changed")
    ]


def _settings(path: Path) -> dict[str, str]:
    values = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith(("#", ";", "[")):
            key, _sep, value = line.partition("=") if "=" in line else line.partition(" ")
            values[key.strip()] = value.strip()
    return values


@pytest.mark.parametrize("suite", list(SUITES))
def test_stack_database_and_misp_from_a_bundle(
    suite: str, first_runs: dict[str, First], misp_bundle: Path, tmp_path: Path
) -> None:
    sizing = _sizing()
    root, first = first_runs[suite].root, first_runs[suite].run
    assert _changed(first) > 0

    # MariaDB runs with the sized values, on localhost only.
    query = "SELECT @@innodb_buffer_pool_size, @@max_connections, @@innodb_log_file_size, @@bind_address"
    values = root.run("mariadb", "--batch", "--skip-column-names", "-e", query).stdout.split()
    mariadb = sizing["mariadb"]
    assert values == [str(mariadb["innodb_buffer_pool_size"]), str(mariadb["max_connections"]),
                      str(mariadb["innodb_log_file_size"]), "127.0.0.1"]
    tables = root.run("mariadb", "--batch", "--skip-column-names", "-e", "SELECT name, uuid FROM misp.organisations")
    assert tables.stdout.split() == ["ISAC", "0d6c3b9e-1f2a-4e5b-8c7d-9a0b1c2d3e4f"]  # named after User init

    # Redis: password and sized maxmemory.
    redis = root.run("redis-cli", "--no-auth-warning", "-a", REDIS_PASSWORD, "CONFIG", "GET", "maxmemory").stdout
    assert redis.split()[1] == str(int(sizing["redis_gib"] * 1024) * 1024 * 1024)
    assert "NOAUTH" in root.run("redis-cli", "PING", check=False).stdout

    # Apache -> PHP-FPM -> MISP's front controller, session in Redis, sized PHP values.
    answer = root.run("curl", "-ksS", "-w", "\n%{http_code}", "https://127.0.0.1/servers/getVersion").stdout
    body, status = answer.rsplit("\n", 1)
    assert status == "200", body
    version = json.loads(body)
    assert version["version"] == "2.5.42"
    assert version["memory_limit"] == sizing["php"]["memory_limit"]
    assert version["max_execution_time"] == str(sizing["php"]["max_execution_time"])
    assert version["session.save_handler"] == "redis"
    pool = _settings(root.path / f"etc/php/{root.php}/fpm/pool.d/misp.conf")
    assert pool["pm.max_children"] == str(sizing["php"]["fpm_max_children"])
    assert root.run("curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "http://127.0.0.1/").stdout == "301"

    # supervisord runs the sized number of workers per queue.
    status_lines = root.run("supervisorctl", "status", check=False).stdout.splitlines()
    running: dict[str, int] = {}
    for line in status_lines:
        name, state = line.split()[:2]
        assert state == "RUNNING", status_lines
        queue = name.split(":")[1].rsplit("_", 1)[0]
        running[queue] = running.get(queue, 0) + 1
    expected = {queue: count for queue, count in sizing["workers"].items() if count} | {"scheduler": 1}
    assert running == expected

    # The admin key comes from User init; the settings are in MISP's config.php, the switch included.
    key = (root.path / "root/misp-admin-key").read_text().strip()
    assert len(key) == 40 and (root.path / "root/misp-admin-key").stat().st_mode & 0o077 == 0
    config = json.loads(root.run("php", "-r", "$config = []; include $argv[1]; echo json_encode($config);",
                                 "/var/www/MISP/app/Config/config.php").stdout)
    assert config["Plugin"]["ZeroMQ_enable"] is True
    assert config["MISP"]["correlation_limit"] == str(sizing["correlation"]["limit"])

    # Idempotent: a second run changes nothing.
    second = _apply(tmp_path, "second", root, sizing, misp_bundle)
    assert _changed(second) == 0, _changed_tasks(second)

    # Check mode with a new sizing reports the change (with a diff) and leaves the file alone.
    cnf = root.path / "etc/mysql/mariadb.conf.d/z-misp.cnf"
    before = cnf.read_text()
    bigger = json.loads(json.dumps(sizing))
    bigger["mariadb"]["innodb_buffer_pool_size"] = sizing["mariadb"]["innodb_buffer_pool_size"] * 2
    check = _apply(tmp_path, "check", root, bigger, misp_bundle, cmdline="--check --diff", playbook="database.yml")
    task = "Tune MariaDB from the planner's sizing"
    diffs = [
        event for event in check.events
        if event.get("event") == "runner_on_ok" and event["event_data"].get("task") == task
    ]
    assert diffs and diffs[0]["event_data"]["res"]["changed"]
    assert str(bigger["mariadb"]["innodb_buffer_pool_size"]) in json.dumps(diffs[0]["event_data"]["res"].get("diff"))
    assert cnf.read_text() == before
