#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: misp-planner contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: misp_tag
short_description: Ensure a MISP tag exists as the topology defines it, matched by name
description:
  - Creates the tag (C(/tags/add)) or edits it (C(/tags/edit/<id>)) so that C(exportable), C(local_only),
    C(hide_tag), the organisation it is reserved to and its colour are as given. Runs before the server
    entries: misp_server only creates tags its push rules name that do not exist yet, and creates them
    exportable, so a routing tag defined here keeps C(exportable=false).
  - Tags are found with C(POST /tags/search), as misp_server does (in a C(GET) path the ':' of a namespaced
    tag is read as a parameter: MISP 2.5.1 finds nothing).
options:
  misp_url: {description: Base URL of the MISP instance., type: str, required: true}
  misp_api_key: {description: Site admin API key., type: str, required: true}
  validate_certs: {description: Verify the TLS certificate., type: bool, default: true}
  timeout: {description: HTTP timeout in seconds., type: int, default: 60}
  name: {description: The tag's name, the stable key., type: str, required: true}
  exportable: {description: Whether MISP sends it with events., type: bool, default: true}
  local_only: {description: Whether it may only be a local tag., type: bool, default: false}
  hide_tag: {description: Hidden from tag pickers., type: bool, default: false}
  org_uuid: {description: UUID of the only organisation that may use it; empty for everyone., type: str, default: ""}
  colour: {description: "C(#rrggbb); empty: MISP's choice.", type: str, default: ""}
author: [misp-planner]
"""

EXAMPLES = r"""
- name: A routing tag that never leaves the instance
  misp_planner.misp.misp_tag:
    misp_url: https://misp.csirt.example
    misp_api_key: "{{ misp_admin_key }}"
    name: "route:central"
    exportable: false
"""

RETURN = r"""
tag:
  description: The tag as MISP answered.
  returned: success
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.misp_planner.misp.plugins.module_utils.misp_api import (
    MISP_COMMON_ARGS, MispApi, MispError, as_bool, create, edit, run, scrub)

FLAGS = ("exportable", "local_only", "hide_tag")


def held(tag, key):
    """A field as compared: flags as booleans, the organisation as an id (0: everyone), the colour lower-case."""
    if key in FLAGS:
        return as_bool(tag.get(key))
    return str(tag.get(key) or ("0" if key == "org_id" else "")).lower()


def main():
    spec = dict(MISP_COMMON_ARGS, name=dict(type="str", required=True),
                exportable=dict(type="bool", default=True), local_only=dict(type="bool", default=False),
                hide_tag=dict(type="bool", default=False), org_uuid=dict(type="str", default=""),
                colour=dict(type="str", default=""))
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True)
    p = module.params

    def action():
        api = MispApi(module)
        org_id = "0"
        if p["org_uuid"]:
            org = api.org_by_uuid(p["org_uuid"])
            if org is None and not module.check_mode:
                raise MispError("organisation %s of tag %s is not on %s" % (p["org_uuid"], p["name"], api.base))
            org_id = str(org["id"]) if org else "NEW"
        wanted = dict((flag, p[flag]) for flag in FLAGS)
        wanted["org_id"] = org_id
        if p["colour"]:
            wanted["colour"] = p["colour"]
        found = next((item.get("Tag", item) for item in api.post("/tags/search", dict(tag=p["name"])) or []
                      if item.get("Tag", item).get("name") == p["name"]), None)
        if found is None:
            tag = create(module, api, "/tags/add", "Tag", p["name"], dict(name=p["name"], **wanted))
            return dict(changed=True, tag=scrub(tag), diff=dict(before={}, after=wanted))
        changes = dict((key, value) for key, value in wanted.items() if held(found, key) != held(wanted, key))
        return edit(module, api, "/tags/edit/%s" % found["id"], "Tag", found, changes)

    run(module, action)


if __name__ == "__main__":
    main()
