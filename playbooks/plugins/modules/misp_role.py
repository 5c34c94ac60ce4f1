#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: misp-planner contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: misp_role
short_description: Ensure a MISP role exists with exactly the given permission flags, matched by name
description:
  - Creates the role (C(/admin/roles/add)) when no role has O(name); otherwise sets its C(perm_*) flags
    to O(permissions) (C(/admin/roles/edit/<id>)). Flags not listed are false.
  - Sync users of internal links need C(perm_sync_internal) from MISP 2.5.8 / 2.4.206 on, or their
    peers' pulls downgrade (MISP release notes v2.5.8); MISP's stock Sync user role lacks it.
options:
  misp_url: {description: Base URL of the MISP instance., type: str, required: true}
  misp_api_key: {description: Site admin API key., type: str, required: true}
  validate_certs: {description: Verify the TLS certificate., type: bool, default: true}
  timeout: {description: HTTP timeout in seconds., type: int, default: 60}
  name: {description: The role's name, the stable key., type: str, required: true}
  permissions: {description: The C(perm_*) flags that are true., type: list, elements: str, default: []}
author: [misp-planner]
"""

EXAMPLES = r"""
- name: A sync role that keeps internal pulls' levels
  misp_planner.misp.misp_role:
    misp_url: https://misp.csirt.example
    misp_api_key: "{{ misp_admin_key }}"
    name: Sync user (internal)
    permissions: [perm_add, perm_modify, perm_publish, perm_sync, perm_auth, perm_sync_internal]
"""

RETURN = r"""
role:
  description: The role (id, name and its flags).
  returned: success
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.misp_planner.misp.plugins.module_utils.misp_api import (
    MISP_COMMON_ARGS, MispApi, MispError, as_bool, create, edit, run, scrub)


def main():
    spec = dict(MISP_COMMON_ARGS, name=dict(type="str", required=True),
                permissions=dict(type="list", elements="str", default=[]))
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True)
    p = module.params

    def action():
        api = MispApi(module)
        found = api.role_by_name(p["name"])
        wanted_on = set(p["permissions"])
        if found is None:
            wanted = dict(name=p["name"], **dict((flag, True) for flag in sorted(wanted_on)))
            role = create(module, api, "/admin/roles/add", "Role", p["name"], wanted)
            return dict(changed=True, role=scrub(role), diff=dict(before={}, after=wanted))
        flags = [key for key in found if key.startswith("perm_")]
        unknown = sorted(wanted_on - set(flags))
        if unknown:
            raise MispError("MISP at %s has no role permission %s (it came with a later MISP release)"
                            % (api.base, ", ".join(unknown)))
        changes = dict((flag, flag in wanted_on) for flag in flags if as_bool(found[flag]) != (flag in wanted_on))
        return edit(module, api, "/admin/roles/edit/%s" % found["id"], "Role", found, changes,
                    before=dict((k, as_bool(found[k])) for k in changes))

    run(module, action)


if __name__ == "__main__":
    main()
