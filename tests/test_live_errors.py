"""`import` and `drift` against instances that cannot be read, and what they never show: a clear
message per instance (never a traceback) while the others are still read; keys never in outputs,
messages or `ps`; each endpoint read once per instance; index endpoints paged. Against MISP test
doubles (tests/misp_test_server, not MISP)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT
from misp_test_server.server import RunningDouble, dispatch

from planner import exitcodes
from planner.live import client as live_client
from planner.live.client import MispClient
from planner.live.snapshot import read_instance


class _NotMisp(BaseHTTPRequestHandler):
    delay = 0.0

    def do_GET(self) -> None:
        time.sleep(self.delay)
        body = b"<html><body>It works!</body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        return


@pytest.fixture
def web_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _NotMisp)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def doubles() -> Iterator[dict[str, RunningDouble]]:
    running = {name: RunningDouble(name) for name in ("good", "badkey", "user")}
    yield running
    for double in running.values():
        double.stop()


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "planner", *args], capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": str(ROOT), **env}, check=False)


def user_key(double: RunningDouble, role_id: int) -> str:
    state = double.state
    _, user = dispatch(state, "POST", "/admin/users/add", state.admin_key, "127.0.0.1",
                       {"email": f"role{role_id}@test.example", "org_id": 1, "role_id": role_id})
    _, minted = dispatch(state, "POST", f"/auth_keys/add/{user['User']['id']}", state.admin_key, "127.0.0.1", {})
    return str(minted["AuthKey"]["authkey_raw"])


def test_each_unreadable_instance_gets_its_message_and_the_others_are_read(
        doubles: dict[str, RunningDouble], web_server: str, tmp_path: Path) -> None:
    good = doubles["good"]
    env = {"MISP_ADMIN_KEY_GOOD": good.state.admin_key,
           "MISP_ADMIN_KEY_BADKEY": "B" * 40,
           "MISP_ADMIN_KEY_USER": user_key(doubles["user"], 3),
           "MISP_ADMIN_KEY_WEB": "W" * 40,
           "MISP_ADMIN_KEY_CLOSED": "C" * 40,
           "MISP_ADMIN_KEY_TLS": "T" * 40}
    out = tmp_path / "imported.yaml"
    result = cli("import", f"good={good.url}", f"badkey={doubles['badkey'].url}", f"user={doubles['user'].url}",
                 f"web={web_server}", f"closed=http://127.0.0.1:{closed_port()}",
                 f"tls={good.url.replace('http://', 'https://')}", "nokey=https://misp.nokey.example",
                 "-o", str(out), env=env)
    assert result.returncode == exitcodes.INSTANCE_UNREADABLE, result.stderr
    assert "Traceback" not in result.stderr
    lines = [line.split(": ", 2) for line in result.stderr.splitlines() if line.startswith("error MP")]
    messages = {instance: message for _, instance, message in lines}
    codes = {instance: code.split()[1] for code, instance, _ in lines}
    assert set(messages) == {"badkey", "user", "web", "closed", "tls", "nokey"}, result.stderr
    assert codes == {"closed": "MP050", "tls": "MP051", "badkey": "MP052", "user": "MP053", "web": "MP054",
                     "nokey": "MP055"}
    assert "refused the API key" in messages["badkey"]
    assert "site admin" in messages["user"]
    assert "MISP instance" in messages["web"]
    assert "cannot be reached" in messages["closed"]
    assert "TLS" in messages["tls"]
    assert "MISP_ADMIN_KEY_NOKEY" in messages["nokey"]
    text = out.read_text(encoding="utf-8")
    assert "  good:" in text and "badkey" not in text
    assert cli("validate", str(out), env={}).returncode == 0


def test_keys_never_appear_in_outputs_messages_or_ps(doubles: dict[str, RunningDouble], tmp_path: Path) -> None:
    """A slow server keeps `import` running while `ps` lists every process's command line."""
    _NotMisp.delay = 3.0
    slow = ThreadingHTTPServer(("127.0.0.1", 0), _NotMisp)
    threading.Thread(target=slow.serve_forever, daemon=True).start()
    try:
        good = doubles["good"]
        keys = {"MISP_ADMIN_KEY_GOOD": good.state.admin_key, "MISP_ADMIN_KEY_SLOW": "S" * 40,
                "MISP_ADMIN_KEY_BADKEY": "K" * 40}
        out = tmp_path / "imported.yaml"
        process = subprocess.Popen(
            [sys.executable, "-m", "planner", "import", f"good={good.url}", f"badkey={doubles['badkey'].url}",
             f"slow=http://127.0.0.1:{slow.server_address[1]}", "-o", str(out)],
            cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT), **keys}, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True)
        time.sleep(1.5)
        listing = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True, check=True).stdout
        stdout, stderr = process.communicate(timeout=60)
    finally:
        _NotMisp.delay = 0.0
        slow.shutdown()
        slow.server_close()
    assert "planner import" in listing  # ps saw the command while it ran
    written = out.read_text(encoding="utf-8")
    for key in keys.values():
        assert key not in listing and key not in stdout and key not in stderr and key not in written
    drift_topology = tmp_path / "estate.yaml"
    drift_topology.write_text(written, encoding="utf-8")
    drift = cli("drift", str(drift_topology), "--format", "json", env=keys)
    assert drift.returncode == exitcodes.OK, drift.stdout + drift.stderr
    for key in keys.values():
        assert key not in drift.stdout and key not in drift.stderr


def test_each_endpoint_is_read_once(doubles: dict[str, RunningDouble]) -> None:
    good = doubles["good"]
    read_instance(MispClient(good.url, good.state.admin_key), "good")
    paths = Counter(r.path for r in good.state.requests)
    assert paths and max(paths.values()) == 1, paths
    assert {r.method for r in good.state.requests} == {"GET"}
    assert {"/servers/getVersion", "/servers/index", "/sharing_groups", "/feeds/index", "/admin/users",
            "/auth_keys/index", "/tags", "/organisations/index/scope:all"} <= set(paths)


def test_index_endpoints_are_read_page_by_page(doubles: dict[str, RunningDouble],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    good = doubles["good"]
    for n in range(4):
        dispatch(good.state, "POST", "/admin/organisations/add", good.state.admin_key, "127.0.0.1",
                 {"name": f"Org {n}", "local": n % 2 == 0})
    monkeypatch.setattr(live_client, "PAGE_LIMIT", 2)
    shot = read_instance(MispClient(good.url, good.state.admin_key), "good")
    assert len(shot.orgs) == 5  # the install's organisation and four more, local or not: scope all
    assert sum(r.path == "/organisations/index/scope:all" for r in good.state.requests) == 3  # 2 + 2 + 1


def test_a_key_from_an_ansible_vault(doubles: dict[str, RunningDouble], tmp_path: Path) -> None:
    from ansible.parsing.vault import VaultLib, VaultSecret

    good = doubles["good"]
    vault = tmp_path / "vault.yml"
    secret = VaultLib([("default", VaultSecret(b"vault password for a test"))])
    vault.write_bytes(secret.encrypt(f"vault_misp_admin_keys:\n  good: {good.state.admin_key}\n"))
    result = cli("import", f"good={good.url}", "-o", "-", "--vault", str(vault),
                 env={"MISP_VAULT_PASSWORD": "vault password for a test"})
    assert result.returncode == 0 and "  good:" in result.stdout, result.stderr
    wrong = cli("import", f"good={good.url}", "-o", "-", "--vault", str(vault), env={"MISP_VAULT_PASSWORD": "no"})
    assert wrong.returncode == exitcodes.UNREADABLE and "password does not open it" in wrong.stderr
    assert "Traceback" not in wrong.stderr


def test_an_instance_with_correlation_switched_off_is_imported_as_correlation_off(
        doubles: dict[str, RunningDouble]) -> None:
    """MISP.completely_disable_correlation is what `correlation: off` provisions; imported back as
    the language's key, the sizing of the imported file counts no correlation tables."""
    from planner.live.importer import import_estate
    from planner.pipeline import load_estate_text
    from planner.sizing import size_estate

    good = doubles["good"]
    state = good.state
    dispatch(state, "POST", "/servers/serverSettingsEdit/MISP.completely_disable_correlation", state.admin_key,
             "127.0.0.1", {"value": True})
    text = import_estate("t", {"good": read_instance(MispClient(good.url, state.admin_key), "good")}).text
    estate = load_estate_text(text, "imported.yaml").estate
    assert estate.instances["good"].correlation == "off"
    assert "completely_disable_correlation" not in text
    assert size_estate(estate).instances["good"].correlation["enabled"] is False
