#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: misp-planner contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: misp_authkey
short_description: Mint an advanced auth key for a MISP user, identified by its comment
description:
  - MISP shows a key only once, in the answer to C(/auth_keys/add), and ignores a key supplied by the
    caller (misp-planner docs/misp-behaviour.md#observed). A key is therefore labelled by O(comment) (one label per sync link or tool).
  - With O(rotate=false) an unexpired key with that comment is kept and nothing is returned; only its
    O(allowed_ips) are brought in line with the wanted ones.
  - With O(rotate=true) (the link does not work, or the caller has no copy of the key) a new key is
    minted and returned in RV(authkey), and the older keys with the same comment are deleted, so an
    interrupted run that minted a key nobody stored converges on the next run.
  - The task using this module must set C(no_log=true).
options:
  misp_url: {description: Base URL of the MISP instance holding the user., type: str, required: true}
  misp_api_key: {description: Site admin API key., type: str, required: true}
  validate_certs: {description: Verify the TLS certificate., type: bool, default: true}
  timeout: {description: HTTP timeout in seconds., type: int, default: 60}
  user_email: {description: E-mail of the key's user., type: str, required: true}
  comment: {description: Label naming what the key is for; the stable key of this module., type: str, required: true}
  rotate: {description: Mint a new key even when one with O(comment) exists., type: bool, default: false}
  expires_in_days: {description: Days until the key expires (0 means never)., type: int, default: 365}
  allowed_ips: {description: CIDRs the key may be used from., type: list, elements: str, default: []}
  read_only: {description: Read-only key., type: bool, default: false}
author: [misp-planner]
"""

EXAMPLES = r"""
- name: Sync key for hub -> partner
  misp_planner.misp.misp_authkey:
    misp_url: https://misp.partner.example
    misp_api_key: "{{ misp_admin_key }}"
    user_email: sync-hub@misp.csirt.example
    comment: "misp-planner sync link hub -> partner"
    rotate: true
    allowed_ips: [198.51.100.7/32]
  register: sync_key
  no_log: true
"""

RETURN = r"""
authkey:
  description: The new key, only when one was minted. Never log it.
  returned: when a key was minted
  type: str
minted:
  description: Whether a key was minted.
  returned: always
  type: bool
"""

import json
import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.misp_planner.misp.plugins.module_utils.misp_api import (
    MISP_COMMON_ARGS, MispApi, MispError, run)


def ips(value):
    """allowed_ips as MISP lists it: a list, a JSON list string, or empty."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            value = [part.strip() for part in value.replace("\n", ",").split(",") if part.strip()]
    return sorted(value or [])


def unexpired(key, now):
    expiration = str(key.get("expiration") or "0")
    return not expiration.isdigit() or int(expiration) == 0 or int(expiration) > now


def main():
    spec = dict(MISP_COMMON_ARGS, user_email=dict(type="str", required=True), comment=dict(type="str", required=True),
                rotate=dict(type="bool", default=False), expires_in_days=dict(type="int", default=365),
                allowed_ips=dict(type="list", elements="str", default=[]), read_only=dict(type="bool", default=False))
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True)
    p = module.params

    def action():
        api = MispApi(module)
        found = api.user_by_email(p["user_email"])
        if found is None:
            if module.check_mode:
                return dict(changed=True, minted=False)
            raise MispError("user %s is not on %s" % (p["user_email"], api.base))
        user_id = str(found.get("User", found)["id"])
        now = int(time.time())
        same = [key for key in api.keys_of(user_id) if key.get("comment") == p["comment"]]
        live = [key for key in same if unexpired(key, now)]
        if live and not p["rotate"]:
            # The key stays; its address pinning follows the topology (edited in place, not rotated).
            stale = [key for key in live if ips(key.get("allowed_ips")) != sorted(p["allowed_ips"])]
            if stale and not module.check_mode:
                for key in stale:
                    api.post("/auth_keys/edit/%s" % key["id"], dict(allowed_ips=p["allowed_ips"]))
            result = dict(changed=bool(stale), minted=False)
            if stale:
                result["diff"] = dict(before={"allowed_ips": ips(stale[0].get("allowed_ips"))},
                                      after={"allowed_ips": sorted(p["allowed_ips"])})
            return result
        if module.check_mode:
            return dict(changed=True, minted=False, diff=dict(before={}, after={"comment": p["comment"]}))
        expiration = now + 86400 * p["expires_in_days"] if p["expires_in_days"] > 0 else 0
        body = dict(comment=p["comment"], expiration=expiration, read_only=p["read_only"])
        if p["allowed_ips"]:
            body["allowed_ips"] = p["allowed_ips"]
        created = api.post("/auth_keys/add/%s" % user_id, body)
        raw = (created.get("AuthKey") or {}).get("authkey_raw")
        if not raw:
            raise MispError("no key was returned by %s for %s" % (api.base, p["user_email"]))
        for key in same:
            api.post("/auth_keys/delete/%s" % key["id"])
        return dict(changed=True, minted=True, authkey=raw, replaced=len(same))

    run(module, action)


if __name__ == "__main__":
    main()
