#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: misp-planner contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: misp_server
short_description: Ensure a MISP server entry (sync connection) exists on the initiator
description:
  - Matches the entry by O(remote_url) and the remote's host organisation UUID O(remote_org_uuid)
    and updates it in place; creates it when absent (misp-planner docs/misp-behaviour.md#server-entry, #rest-endpoints).
  - Push rules are evaluated locally against local tag and organisation ids, so tag names are
    resolved to this instance's tag ids (tags that do not exist yet are created, otherwise an
    include list would silently become empty) and organisation UUIDs to local ids (misp-planner docs/misp-behaviour.md#push-and-pull-rules).
    Pull rules are evaluated on the remote, so they keep tag names and organisation UUIDs.
  - O(authkey) is only sent when it is not empty (a fresh key for this link); MISP keeps the stored
    key otherwise.
  - With O(listing_only=true) the entry exists only so that sharing groups can list the remote
    (topology spec section 7, misp-planner docs/misp-behaviour.md#sharing-groups); push and pull are off and, when no key is given, a
    random key that authenticates nothing is stored.
options:
  misp_url: {description: Base URL of the initiator., type: str, required: true}
  misp_api_key: {description: Site admin API key of the initiator., type: str, required: true}
  validate_certs: {description: Verify the TLS certificate of the initiator., type: bool, default: true}
  timeout: {description: HTTP timeout in seconds., type: int, default: 60}
  name: {description: Label of the entry., type: str, required: true}
  remote_url: {description: The remote's MISP.baseurl., type: str, required: true}
  remote_org_uuid: {description: UUID of the remote's host organisation., type: str, required: true}
  authkey: {description: A new key of the sync user on the remote., type: str, default: ""}
  push: {description: Push events., type: bool, default: false}
  pull: {description: Pull events., type: bool, default: false}
  push_sightings: {description: Push sightings., type: bool, default: false}
  push_galaxy_clusters: {description: Push custom galaxy clusters., type: bool, default: false}
  pull_galaxy_clusters: {description: Pull custom galaxy clusters., type: bool, default: false}
  push_analyst_data: {description: Push analyst notes, opinions and relationships., type: bool, default: false}
  pull_analyst_data: {description: Pull analyst notes, opinions and relationships., type: bool, default: false}
  caching_enabled: {description: Cache remote values for correlation., type: bool, default: false}
  unpublish_event: {description: Pushed events arrive unpublished., type: bool, default: false}
  internal: {description: Internal link (both ends share the host organisation)., type: bool, default: false}
  self_signed: {description: Accept a self-signed certificate on the remote., type: bool, default: false}
  ca_pem:
    description:
      - PEM certificate of the CA that signed the remote's certificate (the topology's C(tls.ca)). MISP stores it
        as the entry's C(cert_file) from C(submitted_cert) (ServersController::add/edit). The API does not show a
        stored CA's content, so the CA is sent when the entry has none.
    type: str
    default: ""
  push_rules:
    description: "C({tags: {OR: [names], NOT: [names]}, orgs: {OR: [uuids], NOT: [uuids]}})."
    type: dict
    default: {}
  pull_rules:
    description:
      - "C({tags: {OR: [names], NOT: [names]}, orgs: {OR: [uuids], NOT: [uuids]}, url_params: {filter: value}})."
      - C(url_params) are event-index filters MISP merges into the pull's index request; it stores them as a JSON
        string (Server::getEventIndexFromServer).
    type: dict
    default: {}
  listing_only: {description: Entry exists only for sharing group server lists., type: bool, default: false}
author: [misp-planner]
"""

EXAMPLES = r"""
- name: Hub pushes TLP:CLEAR to the partner
  misp_planner.misp.misp_server:
    misp_url: https://misp.csirt.example
    misp_api_key: "{{ misp_admin_key }}"
    name: partner-misp
    remote_url: https://misp.partner.example
    remote_org_uuid: 0b8c0bb6-5f3c-4e7c-9f0e-2c1d7a9a0001
    authkey: "{{ new_key | default('') }}"
    push: true
    push_rules: {tags: {OR: ["tlp:clear"], NOT: ["tlp:red"]}}
  no_log: true
"""

RETURN = r"""
server:
  description: The entry's id, name, url and flags (never the key).
  returned: success
  type: dict
"""

import base64
import json
import secrets

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.misp_planner.misp.plugins.module_utils.misp_api import (
    MISP_COMMON_ARGS, MispApi, MispError, as_bool, run, scrub)

FLAGS = ("push", "pull", "push_sightings", "push_galaxy_clusters", "pull_galaxy_clusters", "caching_enabled",
         "unpublish_event", "internal", "self_signed", "push_analyst_data", "pull_analyst_data")


def _lists(rules, key):
    part = rules.get(key) or {}
    return list(part.get("OR") or []), list(part.get("NOT") or [])


def canonical(text):
    """A rules JSON string as a comparable value: lists sorted, ids as strings."""
    try:
        value = json.loads(text) if isinstance(text, str) and text else (text or {})
    except ValueError:
        return text

    def norm(v):
        if isinstance(v, dict):
            return dict((k, norm(x)) for k, x in v.items())
        if isinstance(v, list):
            return sorted(str(x) for x in v)
        return v
    return norm(value)


class Resolver:
    def __init__(self, api, check_mode):
        self.api = api
        self.check_mode = check_mode
        self.created_tags = []

    def tag_id(self, name):
        # POST /tags/search, not GET /tags/search/<name>: in the path, the ':' of a namespaced tag
        # ("tlp:clear") is read as a named parameter and nothing is found (MISP 2.5.1). The search
        # treats '%' as a wildcard, so only an exact name counts.
        found = self.api.post("/tags/search", dict(tag=name)) or []
        for item in found:
            tag = item.get("Tag", item)
            if tag.get("name") == name:
                return str(tag["id"])
        self.created_tags.append(name)
        if self.check_mode:
            return "new:%s" % name
        created = self.api.post("/tags/add", dict(name=name))
        return str(created.get("Tag", created)["id"])

    def org_id(self, uuid):
        org = self.api.org_by_uuid(uuid)
        if org is None:
            if self.check_mode:
                return "new:%s" % uuid
            raise MispError("organisation %s named in a push filter is not on %s" % (uuid, self.api.base))
        return str(org["id"])


def push_rules_json(rules, resolver):
    tags_or, tags_not = _lists(rules, "tags")
    orgs_or, orgs_not = _lists(rules, "orgs")
    value = {"tags": {"OR": [resolver.tag_id(t) for t in tags_or], "NOT": [resolver.tag_id(t) for t in tags_not]},
             "orgs": {"OR": [resolver.org_id(o) for o in orgs_or], "NOT": [resolver.org_id(o) for o in orgs_not]}}
    return json.dumps(value, sort_keys=True)


def pull_rules_json(rules):
    tags_or, tags_not = _lists(rules, "tags")
    orgs_or, orgs_not = _lists(rules, "orgs")
    value = {"tags": {"OR": tags_or, "NOT": tags_not}, "orgs": {"OR": orgs_or, "NOT": orgs_not},
             "type_attributes": {"NOT": []}, "type_objects": {"NOT": []},
             "url_params": json.dumps(rules["url_params"], sort_keys=True) if rules.get("url_params") else ""}
    return json.dumps(value, sort_keys=True)


def submitted(pem):
    """A CA certificate as ServersController takes it: base64 of the PEM text."""
    return base64.b64encode(pem.encode("ascii")).decode("ascii")


def main():
    rules_spec = dict(type="dict", default={})
    spec = dict(MISP_COMMON_ARGS, name=dict(type="str", required=True), remote_url=dict(type="str", required=True),
                remote_org_uuid=dict(type="str", required=True), authkey=dict(type="str", default="", no_log=True),
                push_rules=rules_spec, pull_rules=dict(type="dict", default={}),
                listing_only=dict(type="bool", default=False), ca_pem=dict(type="str", default=""))
    for flag in FLAGS:
        spec[flag] = dict(type="bool", default=False)
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True)
    p = module.params

    def action():
        api = MispApi(module)
        resolver = Resolver(api, module.check_mode)
        remote_org = api.org_by_uuid(p["remote_org_uuid"])
        if remote_org is None and not module.check_mode:
            raise MispError("the remote's organisation %s is not on %s" % (p["remote_org_uuid"], api.base))
        wanted = dict(name=p["name"], url=p["remote_url"].rstrip("/"),
                      remote_org_id=str(remote_org["id"]) if remote_org else "new:%s" % p["remote_org_uuid"])
        for flag in FLAGS:
            wanted[flag] = False if p["listing_only"] and flag in ("push", "pull") else p[flag]
        wanted["push_rules"] = push_rules_json(p["push_rules"], resolver)
        wanted["pull_rules"] = pull_rules_json(p["pull_rules"])
        found = api.find_server(p["remote_url"], p["remote_org_uuid"])
        if found is None:
            key = p["authkey"] or (secrets.token_hex(20) if p["listing_only"] else "")
            shown = dict(wanted)
            if not module.check_mode:
                if not key:
                    raise MispError("no key for the new server entry %s -> %s: the remote's sync key was not "
                                    "minted or provided" % (api.base, p["remote_url"]))
                body = dict(wanted, authkey=key)
                if p["ca_pem"]:
                    body["submitted_cert"] = submitted(p["ca_pem"])
                created = api.post("/servers/add", body)
                if not created.get("Server"):
                    raise MispError("server entry %s was not created" % p["name"])
                shown = scrub(created["Server"])
            return dict(changed=True, server=scrub(shown), created_tags=resolver.created_tags,
                        diff=dict(before={}, after=wanted))
        current = found["Server"]
        changes = {}
        for key, value in wanted.items():
            if key in FLAGS:
                if as_bool(current.get(key, False)) != value:
                    changes[key] = value
            elif key in ("push_rules", "pull_rules"):
                if canonical(current.get(key)) != canonical(value):
                    changes[key] = value
            elif str(current.get(key, "")).rstrip("/") != str(value):
                changes[key] = value
        before = dict((k, current.get(k)) for k in changes)
        after = dict(changes)
        if p["ca_pem"] and not current.get("cert_file"):
            changes["submitted_cert"] = submitted(p["ca_pem"])
            before["cert_file"], after["cert_file"] = None, "(the CA of tls.ca)"
        if p["authkey"]:
            changes["authkey"] = p["authkey"]
            before["authkey"], after["authkey"] = "(previous key)", "(new key)"
        result = dict(changed=bool(changes) or bool(resolver.created_tags), server=scrub(current),
                      created_tags=resolver.created_tags)
        if changes:
            result["diff"] = dict(before=before, after=after)
            if not module.check_mode:
                api.post("/servers/edit/%s" % current["id"], changes)
                result["server"] = scrub(dict(current, **changes))
        return result

    run(module, action)


if __name__ == "__main__":
    main()
