#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: misp-planner contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: misp_leftovers
short_description: Report, or remove, the sync entries, users and keys misp-planner made that the topology no longer has
description:
  - A link taken out of the topology leaves its server entry (push and pull still on), its sync user
    and its key on the instances; data keeps flowing where the plan says it no longer goes. This module
    finds them by the mark the play puts on what it creates, and reports each as a warning; with
    O(prune=true) it deletes the server entries and keys and disables the users (MISP keeps a user's
    audit trail and event references, so a user is disabled, not deleted).
  - "The mark: a server entry's name ends with C( (<mark>)); a key's comment starts with C(<mark> ); a
    user is the play's while it holds such a key."
  - Server entries without the mark that the topology does not name are hand-made; they are reported
    and never touched.
options:
  misp_url: {description: Base URL of the MISP instance., type: str, required: true}
  misp_api_key: {description: Site admin API key., type: str, required: true}
  validate_certs: {description: Verify the TLS certificate., type: bool, default: true}
  timeout: {description: HTTP timeout in seconds., type: int, default: 60}
  mark: {description: The mark the play puts on what it creates., type: str, required: true}
  server_entries:
    description: The server entries the topology wants here, each with C(remote_url) and C(remote_org.uuid).
    type: list
    elements: dict
    default: []
  users: {description: E-mail addresses of the users the topology wants here., type: list, elements: str, default: []}
  key_comments: {description: Comments of the keys the topology wants here., type: list, elements: str, default: []}
  prune: {description: Remove what is left over instead of reporting it., type: bool, default: false}
author: [misp-planner]
"""

EXAMPLES = r"""
- name: Entries the topology no longer has
  misp_planner.misp.misp_leftovers:
    misp_url: https://misp.csirt.example
    misp_api_key: "{{ misp_admin_key }}"
    mark: misp-planner
    server_entries: "{{ misp_links_as_initiator }}"
    users: [sync-ingest@ingest.csirt.example]
    key_comments: ["misp-planner sync ingest -> hub (ingest--hub)"]
    prune: false
"""

RETURN = r"""
leftovers:
  description: What the play made that the topology no longer has (server entries, users, keys), by name.
  returned: always
  type: dict
hand_made:
  description: Server entries the topology does not name and the play did not make.
  returned: always
  type: list
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.misp_planner.misp.plugins.module_utils.misp_api import (
    MISP_COMMON_ARGS, MispApi, as_bool, run)


def entry_key(url, org_uuid):
    return (str(url or "").rstrip("/").lower(), str(org_uuid or "").lower())


def main():
    spec = dict(MISP_COMMON_ARGS, mark=dict(type="str", required=True),
                server_entries=dict(type="list", elements="dict", default=[]),
                users=dict(type="list", elements="str", default=[]),
                key_comments=dict(type="list", elements="str", default=[]),
                prune=dict(type="bool", default=False))
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True)
    p = module.params

    def action():
        api = MispApi(module)
        mark = p["mark"]
        wanted_entries = set(entry_key(e.get("remote_url"), (e.get("remote_org") or {}).get("uuid"))
                             for e in p["server_entries"])
        stale_servers, hand_made = [], []
        for item in api.servers():
            server = item.get("Server", {})
            remote = item.get("RemoteOrg") or {}
            if entry_key(server.get("url"), remote.get("uuid")) in wanted_entries:
                continue
            shown = "%s (%s)" % (server.get("name", ""), server.get("url", ""))
            if str(server.get("name", "")).endswith(" (%s)" % mark):
                stale_servers.append((server["id"], shown))
            else:
                hand_made.append(shown)
        # Every key of the instance: /auth_keys/index lists them all for a site admin, without key material.
        keys = [item.get("AuthKey", item) for item in api.get("/auth_keys/index") or []]
        ours = [key for key in keys if str(key.get("comment") or "").startswith(mark + " ")]
        users = dict((str(u.get("User", u)["id"]), u.get("User", u)) for u in api.users())
        wanted_users = set(email.lower() for email in p["users"])
        stale_users = []
        for user_id in sorted(set(str(key["user_id"]) for key in ours), key=int):
            user = users.get(user_id)
            if user and str(user.get("email", "")).lower() not in wanted_users and not as_bool(user.get("disabled")):
                stale_users.append((user_id, user["email"]))
        wanted_comments = set(p["key_comments"])
        stale_keys = [(str(key["id"]), key["comment"]) for key in ours if key["comment"] not in wanted_comments]
        leftovers = dict(server_entries=[s for _, s in stale_servers], users=[e for _, e in stale_users],
                         keys=[c for _, c in stale_keys])
        found = any(leftovers.values())
        for what, names in sorted(leftovers.items()):
            for name in names:
                if p["prune"]:
                    module.warn("%s: removing %s %s, which the topology no longer has" % (api.base, what[:-1], name))
                else:
                    module.warn("%s: %s %s was made by misp-planner for a link or tool the topology no longer has; "
                                "it still works: run `misp-planner apply --prune` to remove it" % (api.base, what[:-1],
                                                                                                   name))
        for name in hand_made:
            module.warn("%s: server entry %s is not in the topology and was not made by misp-planner: left alone"
                        % (api.base, name))
        result = dict(changed=bool(p["prune"] and found), leftovers=leftovers, hand_made=hand_made)
        if p["prune"] and found:
            result["diff"] = dict(before=leftovers, after={})
            if not module.check_mode:
                for server_id, _ in stale_servers:
                    api.post("/servers/delete/%s" % server_id)
                for key_id, _ in stale_keys:
                    api.post("/auth_keys/delete/%s" % key_id)
                for user_id, _ in stale_users:
                    api.post("/admin/users/edit/%s" % user_id, dict(disabled=True))
        return result

    run(module, action)


if __name__ == "__main__":
    main()
