"""`generate` uses the language additions of issue 18: the sync user's organisation, role and email,
the topology's roles and tags, peer_url, analyst data, entry names and pull url_params."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from planner.ansible.project import generate_project
from planner.misp import INTERNAL_SYNC_ROLE, STOCK_ROLES
from planner.pipeline import load_estate
from planner.sizing import size_estate

TOPOLOGY = """\
version: 1
name: lang
defaults: {misp_version: "2.5"}
organisations:
  csirt: {name: CSIRT}
  partner: {name: Partner}
communities:
  national: {}
instances:
  hub: {community: national, host_org: csirt, url: https://hub.example, peer_url: https://hub.dmz.example}
  edge: {community: national, host_org: csirt, url: https://edge.example}
  partner-misp: {community: national, host_org: partner, url: https://partner.example}
  old: {community: national, host_org: csirt, url: https://old.example, misp_version: "2.5.1"}
roles:
  reader: {name: Pull only, perm_auth: true, perm_sync: true}
tags:
  "route:hub": {exportable: false, org: partner, hide_tag: true}
sync:
  - {initiator: edge, remote: hub, pull: true, push: true, internal: true}
  - initiator: partner-misp
    remote: hub
    name: HUB
    pull: {url_params: {distribution: [all], searchanalysis: 2}}
    analyst_data: pull
    sync_user: {org: csirt, role: reader, email: puller@partner.example}
  - {initiator: edge, remote: old, pull: true, internal: true}
"""


def host_vars(tmp_path: Path) -> dict[str, dict[str, Any]]:
    topology = tmp_path / "topology.yaml"
    topology.write_text(TOPOLOGY, encoding="utf-8")
    estate = load_estate(topology).estate
    generate_project(estate, size_estate(estate), tmp_path / "out")
    return {iid: YAML(typ="safe").load((tmp_path / "out" / "host_vars" / iid / "misp.yml").read_text("utf-8"))
            for iid in ("hub", "edge", "partner-misp", "old")}


def test_generate_uses_the_language_additions(tmp_path: Path) -> None:
    hv = host_vars(tmp_path)
    hub = hv["hub"]
    # peer_url: announced as MISP.external_baseurl, used by the peers' server entries
    assert hub["misp_settings"]["MISP.external_baseurl"] == "https://hub.dmz.example"
    assert hub["misp_settings"]["MISP.baseurl"] == "https://hub.example"
    entries = {e["remote"]: e for e in hv["edge"]["misp_links_as_initiator"]}
    assert entries["hub"]["remote_url"] == "https://hub.dmz.example"
    assert entries["hub"]["name"] == "hub (misp-planner)"
    named = hv["partner-misp"]["misp_links_as_initiator"][0]
    assert named["name"] == "HUB"
    assert (named["push_analyst_data"], named["pull_analyst_data"]) == (False, True)
    assert named["pull_rules"]["url_params"] == {"distribution": ["all"], "searchanalysis": 2}
    # sync users: org, role, email; an internal link on 2.5 gets the role with perm_sync_internal
    users = {u["initiator"]: u for u in hub["misp_links_as_remote"]}
    assert users["edge"]["sync_role"] == INTERNAL_SYNC_ROLE and users["edge"]["sync_org"]["name"] == "CSIRT"
    assert users["partner-misp"]["sync_user"] == "puller@partner.example"
    assert users["partner-misp"]["sync_org"]["name"] == "CSIRT" and users["partner-misp"]["sync_role"] == "Pull only"
    assert {r["name"]: r["permissions"] for r in hub["misp_roles"]} == {
        INTERNAL_SYNC_ROLE: sorted(STOCK_ROLES[INTERNAL_SYNC_ROLE]), "Pull only": ["perm_auth", "perm_sync"]}
    assert "perm_sync_internal" in STOCK_ROLES[INTERNAL_SYNC_ROLE]
    # before 2.5.8 the internal flag alone keeps the levels: MISP's Sync user, no role to create
    assert [u["sync_role"] for u in hv["old"]["misp_links_as_remote"]] == ["Sync user"]
    assert hv["old"]["misp_roles"] == []
    # the topology's tags on every instance, with the organisation they are reserved to known there
    for iid, data in hv.items():
        assert data["misp_tags"] == [{"name": "route:hub", "exportable": False, "local_only": False,
                                      "hide_tag": True, "org_uuid": load_org_uuid(tmp_path, "partner"),
                                      "colour": ""}], iid
        assert "partner" in {o["id"] for o in data["misp_orgs"]} or iid == "partner-misp"


def load_org_uuid(tmp_path: Path, org: str) -> str:
    return load_estate(tmp_path / "topology.yaml").estate.organisations[org].uuid
