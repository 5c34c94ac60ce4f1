#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: misp-planner contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: misp_server_test
short_description: Test the connection of a MISP server entry
description:
  - Finds the entry by O(remote_url) and O(remote_org_uuid) and runs MISP's connection test
    (C(/servers/testConnection), misp-planner docs/misp-behaviour.md#rest-endpoints). Never changes anything.
  - O(mode=test) fails unless the status is 1 (OK). O(mode=probe) only reports RV(working), which
    is false when the entry is missing or the key no longer works; the playbook then mints a key.
options:
  misp_url: {description: Base URL of the initiator., type: str, required: true}
  misp_api_key: {description: Site admin API key of the initiator., type: str, required: true}
  validate_certs: {description: Verify the TLS certificate., type: bool, default: true}
  timeout: {description: HTTP timeout in seconds., type: int, default: 60}
  remote_url: {description: The remote's MISP.baseurl., type: str, required: true}
  remote_org_uuid: {description: UUID of the remote's host organisation., type: str, required: true}
  mode: {description: test or probe., type: str, choices: [test, probe], default: test}
author: [misp-planner]
"""

EXAMPLES = r"""
- name: The hub reaches the partner
  misp_planner.misp.misp_server_test:
    misp_url: https://misp.csirt.example
    misp_api_key: "{{ misp_admin_key }}"
    remote_url: https://misp.partner.example
    remote_org_uuid: 0b8c0bb6-5f3c-4e7c-9f0e-2c1d7a9a0001
"""

RETURN = r"""
working: {description: Whether the test answered status 1., returned: always, type: bool}
status: {description: MISP's status code, 0 when the entry is missing., returned: always, type: int}
message: {description: What the status means., returned: always, type: str}
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.misp_planner.misp.plugins.module_utils.misp_api import (
    MISP_COMMON_ARGS, MispApi, MispError, run)

# ServersController::testConnection statuses (misp-planner docs/misp-behaviour.md#rest-endpoints).
STATUS = {
    1: "OK",
    2: "the remote is unreachable",
    3: "unexpected error on the remote",
    4: "authentication failed: the key is wrong, expired, or not allowed from this address",
    5: "the sync user must change its password",
    6: "the sync user has not accepted the terms",
    7: "the remote user has neither perm_sync nor perm_sighting (role is not Sync user)",
    8: "the remote user can only push sightings",
}


def main():
    spec = dict(MISP_COMMON_ARGS, remote_url=dict(type="str", required=True),
                remote_org_uuid=dict(type="str", required=True),
                mode=dict(type="str", choices=["test", "probe"], default="test"))
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True)
    p = module.params

    def action():
        api = MispApi(module)
        found = api.find_server(p["remote_url"], p["remote_org_uuid"])
        if found is None:
            status, message = 0, "no server entry for %s on %s" % (p["remote_url"], api.base)
        else:
            try:
                answer = api.get("/servers/testConnection/%s" % found["Server"]["id"])
                status = int(answer.get("status", 3))
            except MispError as error:
                if p["mode"] == "test":
                    raise
                answer, status = {}, 3
                message = str(error)
            message = STATUS.get(status, "unknown status %s" % status)
        result = dict(changed=False, working=status == 1, status=status, message=message)
        if p["mode"] == "test" and status != 1:
            module.fail_json(msg="connection %s -> %s: %s" % (api.base, p["remote_url"], message), **result)
        return result

    run(module, action)


if __name__ == "__main__":
    main()
