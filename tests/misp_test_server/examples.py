"""The bundled examples applied to MISP test doubles (not MISP): one double per instance of the
example, its URLs pointed at the doubles and every pinned address at 127.0.0.1 (the doubles enforce
`allowed_ips`, and every request here comes from loopback); the operators of the unmanaged
instances do their part of the handover by hand, as harness.Estate.prepare_external does."""

from __future__ import annotations

import io
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from misp_test_server.harness import VAULT_PASSWORD, apply_with_env
from misp_test_server.server import RunningDouble, dispatch
from planner.ansible.project import env_name, generate_project
from planner.ansible.runner import ApplyResult
from planner.pipeline import load_estate
from planner.sizing import size_estate

LOOPBACK = ["127.0.0.1/32"]


@dataclass
class ExampleEstate:
    doubles: dict[str, RunningDouble]
    managed: list[str]
    topology: Path
    project: Path
    env: dict[str, str] = field(default_factory=dict)

    def regenerate(self) -> None:
        """The project again from the (edited) topology; the runner's artifacts stay."""
        import shutil

        for child in self.project.iterdir():
            if child.name != "artifacts":
                shutil.rmtree(child) if child.is_dir() else child.unlink()
        estate = load_estate(self.topology).estate
        generate_project(estate, size_estate(estate), self.project)

    def apply(self, check: bool = False, **more: Any) -> ApplyResult:
        (self.topology.parent / "cron").mkdir(exist_ok=True)
        extravars: dict[str, Any] = {
            "misp_provision_stack": False, "ansible_connection": "local", "ansible_become": False,
            "ansible_python_interpreter": sys.executable,
            "misp_cron_file": f"{self.topology.parent}/cron/{{{{ inventory_hostname }}}}", **more}
        return apply_with_env(self.project, self.env, check, extravars)


def _pin_to_loopback(node: Any) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "allowed_ips":
                node[key] = list(LOOPBACK)
            else:
                _pin_to_loopback(value)
    elif isinstance(node, list):
        for item in node:
            _pin_to_loopback(item)


@contextmanager
def example_estate(example: Path, tmp: Path) -> Iterator[ExampleEstate]:
    yaml = YAML()
    document = yaml.load(example.read_text(encoding="utf-8"))
    doubles = {iid: RunningDouble(iid) for iid in document["instances"]}
    try:
        for iid, instance in document["instances"].items():
            instance["url"] = doubles[iid].url
        _pin_to_loopback(document)
        topology = tmp / "topology.yaml"
        out = io.StringIO()
        yaml.dump(document, out)
        topology.write_text(out.getvalue(), encoding="utf-8")
        estate = load_estate(topology).estate
        managed = [iid for iid, inst in estate.instances.items() if inst.managed]
        run = ExampleEstate(doubles, managed, topology, tmp / "ansible")
        run.env = {env_name("MISP_ADMIN_KEY", iid): doubles[iid].state.admin_key for iid in managed}
        run.env.update(MISP_KEYS_VAULT_PASSWORD=VAULT_PASSWORD, MISP_PLANNER_KEYS_DIR=str(tmp / "minted-keys"))
        for iid, inst in estate.instances.items():
            if inst.managed:
                continue
            # The partner's operator: their host org carries the topology's UUID, and for each of our
            # initiators an org, a sync user and a key (handover/<instance>.md).
            state, admin = doubles[iid].state, doubles[iid].state.admin_key
            host = estate.organisations[inst.host_org]
            dispatch(state, "POST", "/admin/organisations/edit/1", admin, "127.0.0.1",
                     {"name": host.name, "uuid": host.uuid})
            for conn in estate.connections:
                if conn.remote != iid or not estate.instances[conn.initiator].managed:
                    continue
                org = estate.organisations[estate.instances[conn.initiator].host_org]
                status, created = dispatch(state, "POST", "/admin/organisations/add", admin, "127.0.0.1",
                                           {"name": org.name, "uuid": org.uuid, "local": False})
                org_id = created["Organisation"]["id"] if status == 200 else \
                    dispatch(state, "GET", f"/organisations/view/{org.uuid}", admin, "127.0.0.1", None)[1][
                        "Organisation"]["id"]
                _, user = dispatch(state, "POST", "/admin/users/add", admin, "127.0.0.1",
                                   {"email": f"sync-{conn.initiator}-{conn.index}@partner.example",
                                    "org_id": org_id, "role_id": 5})
                _, minted = dispatch(state, "POST", f"/auth_keys/add/{user['User']['id']}", admin, "127.0.0.1",
                                     {"comment": f"for {conn.initiator}", "allowed_ips": LOOPBACK})
                run.env[env_name("MISP_SYNC_KEY", conn.initiator, iid)] = minted["AuthKey"]["authkey_raw"]
        run.project.mkdir()
        generate_project(estate, size_estate(estate), run.project)
        yield run
    finally:
        for double in doubles.values():
            double.stop()


__all__ = ["ExampleEstate", "example_estate"]
