#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: misp-planner contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: misp_organisation
short_description: Ensure an organisation exists on a MISP instance, matched by UUID
description:
  - Reads the organisation with O(uuid); creates it when absent, otherwise updates the fields that differ.
  - With O(host_org=true) and no organisation with O(uuid), the instance's current host organisation
    (C(MISP.host_org_id)) is renamed and given O(uuid), so that peers recognise it (misp-planner docs/misp-behaviour.md#preparing-both-ends).
options:
  misp_url: {description: Base URL of the MISP instance., type: str, required: true}
  misp_api_key: {description: Site admin API key., type: str, required: true}
  validate_certs: {description: Verify the TLS certificate., type: bool, default: true}
  timeout: {description: HTTP timeout in seconds., type: int, default: 60}
  name: {description: Organisation name (unique on the instance)., type: str, required: true}
  uuid: {description: Organisation UUID, the stable key., type: str, required: true}
  local: {description: Whether the organisation has users on this instance., type: bool, default: false}
  nationality: {description: Nationality., type: str}
  sector: {description: Sector., type: str}
  type: {description: Type of organisation., type: str}
  host_org: {description: Adopt the current host organisation when the UUID is unknown., type: bool, default: false}
author: [misp-planner]
"""

EXAMPLES = r"""
- name: National CSIRT exists with its estate-wide UUID
  misp_planner.misp.misp_organisation:
    misp_url: https://misp.example
    misp_api_key: "{{ misp_admin_key }}"
    name: National CSIRT
    uuid: 5d9c1f0e-3a2b-4c4d-9e8f-0a1b2c3d4e5f
    local: true
"""

RETURN = r"""
organisation:
  description: The organisation as the instance stores it (id, name, uuid, local).
  returned: success
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.misp_planner.misp.plugins.module_utils.misp_api import (
    MISP_COMMON_ARGS, MispApi, as_bool, create, edit, run, scrub)

FIELDS = ("name", "uuid", "local", "nationality", "sector", "type")


def differs(current, key, value):
    if key == "local":
        return as_bool(current.get(key)) != value
    if key == "uuid":
        return str(current.get(key, "")).lower() != value.lower()
    return str(current.get(key) or "") != str(value)


def main():
    spec = dict(MISP_COMMON_ARGS, name=dict(type="str", required=True), uuid=dict(type="str", required=True),
                local=dict(type="bool", default=False), nationality=dict(type="str"), sector=dict(type="str"),
                type=dict(type="str"), host_org=dict(type="bool", default=False))
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True)
    p = module.params

    def action():
        api = MispApi(module)
        wanted = dict((k, p[k]) for k in FIELDS if p[k] is not None)
        current = api.org_by_uuid(p["uuid"])
        if current is None and p["host_org"]:
            setting = api.get("/servers/getSetting/MISP.host_org_id", allow_404=True) or {}
            host_id = str(setting.get("value") or "0")
            if host_id not in ("", "0"):
                found = api.get("/organisations/view/%s" % host_id, allow_404=True) or {}
                current = found.get("Organisation")
        if current is None:
            created = create(module, api, "/admin/organisations/add", "Organisation", p["name"], wanted)
            return dict(changed=True, organisation=scrub(created), diff=dict(before={}, after=wanted))
        changes = dict((k, v) for k, v in wanted.items() if differs(current, k, v))
        return edit(module, api, "/admin/organisations/edit/%s" % current["id"], "Organisation", current, changes)

    run(module, action)


if __name__ == "__main__":
    main()
