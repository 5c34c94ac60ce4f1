#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: misp-planner contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: misp_user
short_description: Ensure a MISP user exists in an organisation with a role, matched by e-mail
description:
  - Creates the user when no user has O(email); otherwise moves it to the wanted organisation and role.
  - Users are created with C(change_pw=false), C(termsaccepted=true) and no notification, so that API
    keys of sync and tool users work at once (misp-planner docs/misp-behaviour.md#preparing-both-ends, #observed).
  - C(/admin/users/add) also creates an auth key for the new user, without comment, address pinning
    or expiry (MISP 2.5.1, UsersController::admin_add). That key is deleted at once; on every run,
    any key of the user with no comment and no C(allowed_ips) is deleted too (RV(deleted_keys)).
    Keys with a comment are kept, in particular those misp_authkey mints ("misp-planner ...").
options:
  misp_url: {description: Base URL of the MISP instance., type: str, required: true}
  misp_api_key: {description: Site admin API key., type: str, required: true}
  validate_certs: {description: Verify the TLS certificate., type: bool, default: true}
  timeout: {description: HTTP timeout in seconds., type: int, default: 60}
  email: {description: E-mail address, the stable key., type: str, required: true}
  org_uuid: {description: UUID of the user's organisation (must exist on the instance)., type: str, required: true}
  role_id: {description: Role id (5 is Sync user on a fresh install); or give O(role_name)., type: int}
  role_name: {description: "Role name, looked up on the instance (role ids differ between instances).", type: str}
  disabled: {description: Whether the account is disabled., type: bool, default: false}
author: [misp-planner]
"""

EXAMPLES = r"""
- name: Sync user for the hub exists on the partner
  misp_planner.misp.misp_user:
    misp_url: https://misp.partner.example
    misp_api_key: "{{ misp_admin_key }}"
    email: sync-hub@misp.csirt.example
    org_uuid: 5d9c1f0e-3a2b-4c4d-9e8f-0a1b2c3d4e5f
    role_id: 5
"""

RETURN = r"""
user:
  description: The user (id, email, org_id, role_id), without any key.
  returned: success
  type: dict
deleted_keys:
  description: Ids of the user's unlabelled, unpinned auth keys that were (or in check mode would be) deleted.
  returned: success
  type: list
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.misp_planner.misp.plugins.module_utils.misp_api import (
    MISP_COMMON_ARGS, MispApi, MispError, as_bool, run, scrub)


def unlabelled_unpinned(key):
    """A key nobody labelled nor pinned: the one /admin/users/add creates, or one made by hand alike."""
    return not str(key.get("comment") or "").strip() and not key.get("allowed_ips")


def delete_unlabelled_keys(api, user_id, check_mode):
    doomed = sorted((str(key["id"]) for key in api.keys_of(user_id) if unlabelled_unpinned(key)), key=int)
    if not check_mode:
        for key_id in doomed:
            api.post("/auth_keys/delete/%s" % key_id)
    return doomed


def main():
    spec = dict(MISP_COMMON_ARGS, email=dict(type="str", required=True), org_uuid=dict(type="str", required=True),
                role_id=dict(type="int"), role_name=dict(type="str"), disabled=dict(type="bool", default=False))
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True,
                           required_one_of=[("role_id", "role_name")], mutually_exclusive=[("role_id", "role_name")])
    p = module.params

    def action():
        api = MispApi(module)
        if p["role_name"]:
            role = api.role_by_name(p["role_name"])
            if role is None and not module.check_mode:
                raise MispError("role %s of user %s is not on %s" % (p["role_name"], p["email"], api.base))
            # In check mode a role the play would create has no id yet.
            p["role_id"] = int(role["id"]) if role else 0
        org = api.org_by_uuid(p["org_uuid"])
        if org is None and not module.check_mode:
            raise MispError("organisation %s of user %s is not on %s" % (p["org_uuid"], p["email"], api.base))
        org_id = str(org["id"]) if org else None
        found = api.user_by_email(p["email"])
        wanted = dict(email=p["email"], org_id=org_id, role_id=str(p["role_id"]), disabled=p["disabled"])
        if found is None:
            after, deleted = dict(wanted), []
            if not module.check_mode:
                # change_pw is a "0"/"1" string in MISP's OpenAPI document, the other flags booleans.
                body = dict(wanted, change_pw="0", termsaccepted=True, notify=False, autoalert=False)
                created = api.post("/admin/users/add", body)
                if not created.get("User"):
                    raise MispError("user %s was not created: %s" % (p["email"], scrub(created)))
                after = created["User"]
                deleted = delete_unlabelled_keys(api, after["id"], False)
            return dict(changed=True, user=scrub(after), deleted_keys=deleted, diff=dict(before={}, after=wanted))
        user = found.get("User", found)
        deleted = delete_unlabelled_keys(api, user["id"], module.check_mode)
        changes = {}
        if org_id is None or str(user.get("org_id")) != org_id:
            changes["org_id"] = org_id
        if str(user.get("role_id")) != str(p["role_id"]):
            changes["role_id"] = str(p["role_id"])
        if as_bool(user.get("disabled", False)) != p["disabled"]:
            changes["disabled"] = p["disabled"]
        result = dict(changed=bool(changes) or bool(deleted), user=scrub(user), deleted_keys=deleted)
        if deleted:
            changes["deleted_keys"] = deleted
        if changes:
            result["diff"] = dict(before=dict((k, user.get(k)) for k in changes if k != "deleted_keys"),
                                  after=changes)
            edits = dict((k, v) for k, v in changes.items() if k != "deleted_keys")
            if edits and not module.check_mode:
                api.post("/admin/users/edit/%s" % user["id"], edits)
        return result

    run(module, action)


if __name__ == "__main__":
    main()
