"""Runs generated projects against MISP test doubles (not MISP): topology, doubles, env, apply."""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from misp_test_server.server import MispTestDouble, RunningDouble
from planner.ansible.project import env_name, generate_project
from planner.ansible.runner import ApplyResult, apply_project
from planner.pipeline import load_estate
from planner.sizing import size_estate

MANAGED = ("hub", "ingest", "partner")
# A CA certificate (public, made for these tests) for the hub -> partner link's tls.ca.
TEST_CA = (Path(__file__).resolve().parent.parent / "rules" / "MP406" / "certs" / "two-ca.pem").read_text(
    encoding="ascii")
VAULT_PASSWORD = "test vault password, not a secret"
EXTERNAL = "ext"

TOPOLOGY = """\
version: 1
name: e2e-estate
description: three managed test doubles and one run by someone else
defaults: {{tls_verify: false, platform: debian-12}}
organisations:
  csirt: {{name: Test CSIRT}}
  bank: {{name: Test Bank}}
  partner-org: {{name: Test Partner}}
  ext-org: {{name: External Org}}
communities:
  national: {{trust: trusted}}
  partners: {{trust: trusted}}
instances:
  hub: {{community: national, host_org: csirt, orgs: [bank], url: "{hub}", purpose: sharing}}
  ingest: {{community: national, host_org: csirt, url: "{ingest}", purpose: ingest}}
  partner: {{community: partners, host_org: partner-org, url: "{partner}", purpose: sharing, correlation: off}}
  ext: {{community: partners, host_org: ext-org, url: "{ext}", managed: false}}
feeders:
  osint:
    kind: osint-feed
    into: ingest
    via: feed
    # The URL of the default feed a fresh MISP lists: the play must create its own beside it.
    feed: {{url: "https://www.circl.lu/doc/misp/feed-osint", format: misp, fetch_every: 6h}}
    distribution: organisation
    correlate: false
  sandbox: {{kind: sandbox, into: ingest, allowed_ips: [127.0.0.1/32]}}
sync:
{hub_ingest}
  - initiator: hub
    remote: partner
    push:
      tags: {{include: [{push_tags}], exclude: ["tlp:red"]}}
      orgs: {{exclude: [bank]}}
    pull: {{every: 45m, tags: {{exclude: ["tlp:amber"]}}, url_params: {{distribution: [connected, all]}}}}
    sightings: true
    analyst_data: both
    tls: {{ca: partner-ca.pem}}
    allowed_ips: [{partner_ips}]
  - initiator: partner
    remote: hub
    push: {{tags: {{exclude: ["tlp:red"]}}}}
    allowed_ips: [127.0.0.1/32]
  - {{initiator: hub, remote: ext, push: true}}
  - {{initiator: ext, remote: partner, pull: true}}
sharing_groups:
  fin:
    orgs: [csirt, bank, partner-org]
    instances: [hub, partner]  # ingest holds it too: its host org is a member
    releasability: Test finance group
tags:
  # a routing tag: never sent to peers, usable by the CSIRT only
  "route:partner": {{exportable: false, org: csirt, colour: "#1f2937"}}
consumers:
  siem: {{kind: siem, from: hub, via: zmq}}
  ids: {{kind: nids, from: hub, via: api, format: suricata, allowed_ips: [127.0.0.1/32]}}
"""


@dataclass
class Estate:
    doubles: dict[str, RunningDouble]
    topology: Path
    project: Path

    def state(self, name: str) -> MispTestDouble:
        return self.doubles[name].state

    def write(self, push_tags: str = '"tlp:green"', partner_ips: str = "127.0.0.1/32", hub_ingest: bool = True) -> None:
        urls = {name: d.url for name, d in self.doubles.items()}
        link = "  - {initiator: hub, remote: ingest, pull: true, internal: true, allowed_ips: [127.0.0.1/32]}"
        self.topology.write_text(TOPOLOGY.format(push_tags=push_tags, partner_ips=partner_ips,
                                                 hub_ingest=link if hub_ingest else "", **urls), encoding="utf-8")
        (self.topology.parent / "partner-ca.pem").write_text(TEST_CA, encoding="ascii")

    def generate(self) -> None:
        import shutil

        loaded = load_estate(self.topology)
        if self.project.exists():
            keep = self.project / "artifacts"
            for child in self.project.iterdir():
                if child != keep:
                    shutil.rmtree(child) if child.is_dir() else child.unlink()
        self.project.mkdir(parents=True, exist_ok=True)
        generate_project(loaded.estate, size_estate(loaded.estate), self.project)

    @property
    def keys_dir(self) -> Path:
        """Where the play stores the keys it hands over (encrypted with VAULT_PASSWORD)."""
        return self.topology.parent / "minted-keys"

    @property
    def cron_dir(self) -> Path:
        return self.topology.parent / "cron"

    def env(self) -> dict[str, str]:
        env = {env_name("MISP_ADMIN_KEY", name): self.state(name).admin_key for name in MANAGED}
        env[env_name("MISP_SYNC_KEY", "hub", EXTERNAL)] = self.external_key
        env["MISP_KEYS_VAULT_PASSWORD"] = VAULT_PASSWORD
        env["MISP_PLANNER_KEYS_DIR"] = str(self.keys_dir)
        return env

    def extravars(self, **more: Any) -> dict[str, Any]:
        """API phases only; the schedules' cron files go to a folder of the test, written locally."""
        self.cron_dir.mkdir(exist_ok=True)
        chosen = {"misp_provision_stack": False, "ansible_connection": "local", "ansible_become": False,
                "ansible_python_interpreter": sys.executable,
                "misp_cron_file": f"{self.cron_dir}/{{{{ inventory_hostname }}}}", **more}
        return {k: v for k, v in chosen.items() if v is not None}  # None: leave it to the inventory

    def apply(self, check: bool = False, **more: Any) -> ApplyResult:
        return apply_with_env(self.project, self.env(), check, self.extravars(**more))

    def prepare_external(self) -> None:
        """What the operator of the unmanaged instance does by hand: our org, a sync user, a key."""
        from misp_test_server.server import dispatch

        ext = self.state(EXTERNAL)
        loaded = load_estate(self.topology)
        org = loaded.estate.organisations["csirt"]
        key = ext.admin_key
        _, created = dispatch(ext, "POST", "/admin/organisations/add", key, "127.0.0.1",
                              {"name": org.name, "uuid": org.uuid, "local": False})
        _, user = dispatch(ext, "POST", "/admin/users/add", key, "127.0.0.1",
                           {"email": "sync-hub@operator.example", "org_id": created["Organisation"]["id"],
                            "role_id": 5})
        _, minted = dispatch(ext, "POST", f"/auth_keys/add/{user['User']['id']}", key, "127.0.0.1",
                             {"comment": "for the CSIRT hub"})
        self.external_key = minted["AuthKey"]["authkey_raw"]
        ext_org = loaded.estate.organisations["ext-org"]
        dispatch(ext, "POST", "/admin/organisations/edit/1", key, "127.0.0.1",
                 {"name": ext_org.name, "uuid": ext_org.uuid})
        ext.requests.clear()  # only requests the modules send are checked against the contract

    external_key: str = ""

    def secrets(self) -> list[str]:
        found = [self.external_key]
        for double in self.doubles.values():
            found.extend(double.state.issued_keys)
            found.append(double.state.admin_key)
        return [s for s in found if s]


def apply_with_env(project: Path, env: dict[str, str], check: bool, extravars: dict[str, Any]) -> ApplyResult:
    """Apply a generated project with ``env`` (keys, vault password) set for this run only."""
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        return apply_project(project, check=check, extravars=extravars, quiet=True)
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


_SHARED: dict[str, Any] = {}


def shared_estate() -> tuple[Estate, CheckRun, ApplyResult]:
    """One estate for the whole session: (estate, the check-mode run on it while fresh, the first
    real apply). The doubles live until the process ends."""
    if not _SHARED:
        tmp = Path(tempfile.mkdtemp(prefix="misp-e2e-"))
        context = running_estate(tmp)
        estate = context.__enter__()
        _SHARED["context"] = context
        before = {name: d.state.snapshot() for name, d in estate.doubles.items()}
        check = estate.apply(check=True)
        after = {name: d.state.snapshot() for name, d in estate.doubles.items()}
        requests = [r for d in estate.doubles.values() for r in d.state.requests]
        _SHARED["value"] = (estate, CheckRun(check, before, after, requests), estate.apply())
    value: tuple[Estate, CheckRun, ApplyResult] = _SHARED["value"]
    return value


def edited_run() -> tuple[dict[str, Any], ApplyResult]:
    """Once per session, after the first apply: edit a push filter and the link's allowed_ips,
    regenerate, apply again. Returns the hub's server entries before the edit and the run's result."""
    if "edited" not in _SHARED:
        estate, _, _ = shared_estate()
        before = {sid: dict(server) for sid, server in estate.state("hub").servers.items()}
        _SHARED["partner_keys"] = {k["id"]: dict(k) for k in estate.state("partner").keys.values()}
        estate.write(push_tags='"tlp:green", "tlp:clear"', partner_ips="127.0.0.1/32, 10.0.0.0/8")
        estate.generate()
        snapshot = estate.state("hub").snapshot()
        check = estate.apply(check=True)
        _SHARED["edited_check"] = (check, snapshot == estate.state("hub").snapshot())
        _SHARED["edited"] = (before, estate.apply())
    value: tuple[dict[str, Any], ApplyResult] = _SHARED["edited"]
    return value


def partner_keys_before() -> dict[str, Any]:
    """The partner's auth keys just before the edit."""
    edited_run()
    value: dict[str, Any] = _SHARED["partner_keys"]
    return value


def edited_check() -> tuple[ApplyResult, bool]:
    """The check-mode run just before the edited apply, and whether the hub's state stayed as it was."""
    edited_run()
    value: tuple[ApplyResult, bool] = _SHARED["edited_check"]
    return value


@dataclass
class CheckRun:
    result: ApplyResult
    before: dict[str, Any]
    after: dict[str, Any]
    requests: list[Any]


@contextmanager
def running_estate(tmp: Path) -> Iterator[Estate]:
    doubles = {name: RunningDouble(name) for name in (*MANAGED, EXTERNAL)}
    try:
        estate = Estate(doubles, tmp / "topology.yaml", tmp / "ansible")
        estate.write()
        estate.prepare_external()
        estate.generate()
        yield estate
    finally:
        for double in doubles.values():
            double.stop()


__all__ = ["Estate", "edited_check", "edited_run", "partner_keys_before", "running_estate", "shared_estate"]
