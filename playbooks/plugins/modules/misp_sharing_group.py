#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: misp-planner contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: misp_sharing_group
short_description: Ensure a MISP sharing group with its organisations and server list, matched by UUID
description:
  - Creates the group when no group has O(uuid), then adds and removes member organisations and
    server list entries until they are the wanted ones (misp-planner docs/misp-behaviour.md#preparing-both-ends, #sharing-groups).
  - Organisations are named by UUID and must exist on the instance. Servers are named by URL; the
    instance's own URL O(local_url) is MISP's "this instance" entry (server id 0), any other URL
    must have a server entry here (a listing-only one if need be), since MISP drops list entries
    it has no server entry for (misp-planner docs/misp-behaviour.md#observed).
options:
  misp_url: {description: Base URL of the MISP instance., type: str, required: true}
  misp_api_key: {description: Site admin API key., type: str, required: true}
  validate_certs: {description: Verify the TLS certificate., type: bool, default: true}
  timeout: {description: HTTP timeout in seconds., type: int, default: 60}
  uuid: {description: Sharing group UUID, the stable key., type: str, required: true}
  name: {description: Name., type: str, required: true}
  releasability: {description: Releasability statement., type: str, default: ""}
  roaming: {description: Roaming group (no server list)., type: bool, default: false}
  organisations: {description: UUIDs of member organisations., type: list, elements: str, default: []}
  servers: {description: Server list, as MISP.baseurl URLs., type: list, elements: str, default: []}
  local_url: {description: This instance's MISP.baseurl., type: str, required: true}
author: [misp-planner]
"""

EXAMPLES = r"""
- name: Energy sector group on the hub
  misp_planner.misp.misp_sharing_group:
    misp_url: https://misp.csirt.example
    misp_api_key: "{{ misp_admin_key }}"
    uuid: 0c5c1a7e-1d4b-5a52-9b1e-3d0f6a9c2e11
    name: energy-sector
    organisations: [5d9c1f0e-3a2b-4c4d-9e8f-0a1b2c3d4e5f]
    servers: [https://misp.csirt.example]
    local_url: https://misp.csirt.example
"""

RETURN = r"""
sharing_group: {description: The group (id, uuid, name)., returned: success, type: dict}
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.misp_planner.misp.plugins.module_utils.misp_api import (
    MISP_COMMON_ARGS, MispApi, MispError, as_bool, run, scrub)


def find_group(api, uuid):
    for item in api.sharing_groups():
        group = item.get("SharingGroup", item)
        if str(group.get("uuid", "")).lower() == uuid.lower():
            return api.get("/sharing_groups/view/%s" % group["id"])
    return None


def members(found):
    """(org uuid -> org id, server ids) of a group as ``/sharing_groups/view`` shows it. A server can
    be listed twice (MISP adds "this instance" again when a group is added twice); it counts once."""
    orgs = dict((str(m["Organisation"]["uuid"]).lower(), str(m["org_id"])) for m in found.get("SharingGroupOrg", []))
    servers = set(str(m["server_id"]) for m in found.get("SharingGroupServer", []))
    return orgs, servers


def main():
    spec = dict(MISP_COMMON_ARGS, uuid=dict(type="str", required=True), name=dict(type="str", required=True),
                releasability=dict(type="str", default=""), roaming=dict(type="bool", default=False),
                organisations=dict(type="list", elements="str", default=[]),
                servers=dict(type="list", elements="str", default=[]), local_url=dict(type="str", required=True))
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True)
    p = module.params

    def action():
        api = MispApi(module)
        wanted_orgs = {}
        for uuid in p["organisations"]:
            org = api.org_by_uuid(uuid)
            if org is None and not module.check_mode:
                raise MispError("organisation %s of sharing group %s is not on %s" % (uuid, p["name"], api.base))
            wanted_orgs[uuid.lower()] = str(org["id"]) if org else None
        local = p["local_url"].rstrip("/").lower()
        by_url = dict((item["Server"]["url"].rstrip("/").lower(), str(item["Server"]["id"])) for item in api.servers())
        wanted_servers = {}
        for url in [] if p["roaming"] else p["servers"]:
            key = url.rstrip("/").lower()
            if key == local:
                wanted_servers[key] = "0"
            elif key in by_url:
                wanted_servers[key] = by_url[key]
            elif not module.check_mode:
                raise MispError("sharing group %s lists %s, which has no server entry on %s; MISP would drop it"
                                % (p["name"], url, api.base))
            else:
                wanted_servers[key] = None
        fields = dict(name=p["name"], releasability=p["releasability"], roaming=p["roaming"])
        found = find_group(api, p["uuid"])
        changes, before, warnings = {}, {}, []
        if found is None:
            changes["created"] = dict(fields, uuid=p["uuid"])
            # MISP puts "this instance" (server 0) in the list of a new non-roaming group by itself.
            have_orgs, have_ids, group_id = {}, set() if p["roaming"] else set(["0"]), None
            if not module.check_mode:
                created = api.post("/sharing_groups/add", dict(fields, uuid=p["uuid"], active=True))
                if not created.get("SharingGroup"):
                    raise MispError("sharing group %s was not created: %s" % (p["name"], scrub(created)))
                group_id = str(created["SharingGroup"]["id"])
                # Diff against what the group holds now, not against an assumption.
                have_orgs, have_ids = members(api.get("/sharing_groups/view/%s" % group_id))
        else:
            group = found["SharingGroup"]
            group_id = str(group["id"])
            edits = dict((k, v) for k, v in fields.items()
                         if (as_bool(group.get(k)) != v if k == "roaming" else str(group.get(k) or "") != v))
            if edits:
                changes["fields"] = edits
                before["fields"] = dict((k, group.get(k)) for k in edits)
                if not module.check_mode:
                    api.post("/sharing_groups/edit/%s" % group_id, edits)
            have_orgs, have_ids = members(found)
        add_orgs = sorted(set(wanted_orgs) - set(have_orgs))
        remove_orgs = sorted(set(have_orgs) - set(wanted_orgs))
        wanted_ids = set(v for v in wanted_servers.values() if v is not None)
        add_servers = sorted(wanted_ids - have_ids) + [k for k, v in wanted_servers.items() if v is None]
        # Server 0 is "this instance": MISP lists it in every non-roaming group created here and refuses to
        # add or remove it (405 "Invalid Server.", SharingGroupsController on MISP 2.5.1), so it stays.
        remove_servers = sorted(have_ids - wanted_ids - set(["0"]))
        if "0" in add_servers:
            # /sharing_groups/addServer/<id>/0 answers 405 "Invalid Server.": MISP adds this instance
            # only when it creates a group (SharingGroupsController::add).
            add_servers.remove("0")
            warnings.append("sharing group %s does not list this instance (%s) and MISP's API cannot add it; "
                            "add it in the group's edit page" % (p["name"], p["local_url"]))
        if add_orgs or remove_orgs:
            before["organisations"] = sorted(have_orgs)
            changes["organisations"] = sorted(wanted_orgs)
        if add_servers or remove_servers:
            before["servers"] = sorted(have_ids)
            changes["servers"] = sorted(str(v) for v in wanted_servers.values())
        if not module.check_mode:
            for uuid in add_orgs:
                api.post("/sharing_groups/addOrg/%s/%s" % (group_id, wanted_orgs[uuid]))
            for uuid in remove_orgs:
                api.post("/sharing_groups/removeOrg/%s/%s" % (group_id, have_orgs[uuid]))
            for server_id in add_servers:
                api.post("/sharing_groups/addServer/%s/%s" % (group_id, server_id), dict(all_orgs=False))
            for server_id in remove_servers:
                api.post("/sharing_groups/removeServer/%s/%s" % (group_id, server_id))
            if remove_servers:
                # MISP 2.5.1 was seen deleting another entry of the list on removeServer (the row whose
                # id is the server id): check what the list holds now rather than trust the answer.
                _, now_ids = members(api.get("/sharing_groups/view/%s" % group_id))
                if now_ids != wanted_ids:
                    warnings.append("sharing group %s lists servers %s after the update, not %s: fix its server "
                                    "list in MISP's edit page" % (p["name"], sorted(now_ids), sorted(wanted_ids)))
        for warning in warnings:
            module.warn(warning)
        result = dict(changed=bool(changes), sharing_group=dict(id=group_id, uuid=p["uuid"], name=p["name"]))
        if changes:
            result["diff"] = dict(before=before, after=changes)
        return result

    run(module, action)


if __name__ == "__main__":
    main()
