#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: misp-planner contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: misp_feed
short_description: Ensure a MISP feed entry exists, matched by its name
description:
  - The feed is the one named O(name) (the topology's feeder id): it is created when no feed has that
    name, otherwise the fields that differ are updated, its URL included.
  - A feed the play did not create is never changed, even with the same URL (a fresh MISP lists
    its default feeds, e.g. "CIRCL OSINT Feed", disabled; MISP allows several feeds with one URL).
    Such feeds are reported in RV(foreign_feeds) and in a warning, and the play's feed is created
    beside them.
  - The distribution is what events created from the feed get; a feeder's events should stay at
    organisation level (0) unless propagation is intended (misp-planner docs/misp-behaviour.md#feeds).
options:
  misp_url: {description: Base URL of the MISP instance., type: str, required: true}
  misp_api_key: {description: Site admin API key., type: str, required: true}
  validate_certs: {description: Verify the TLS certificate., type: bool, default: true}
  timeout: {description: HTTP timeout in seconds., type: int, default: 60}
  url: {description: Feed URL., type: str, required: true}
  name: {description: Feed name, the stable key., type: str, required: true}
  provider: {description: Provider shown in MISP., type: str, required: true}
  source_format: {description: Feed format., type: str, choices: [misp, freetext, csv], default: misp}
  enabled: {description: Fetching allowed., type: bool, default: true}
  caching_enabled: {description: Cache values for lookups., type: bool, default: false}
  distribution: {description: Distribution of created events (0-5)., type: int, default: 0}
  sharing_group_uuid: {description: Sharing group when O(distribution=4)., type: str}
  publish: {description: Publish events created from the feed., type: bool, default: false}
  disable_correlation:
    description:
      - The feed's C(disable_correlation) setting; events fetched from a MISP-format feed get it
        (app/Model/Feed.php __prepareEvent), so their attributes do not correlate. The feed's other
        settings (a CSV delimiter, an exclusion regex) are kept.
    type: bool
    default: false
author: [misp-planner]
"""

EXAMPLES = r"""
- name: CIRCL OSINT feed on the ingest instance
  misp_planner.misp.misp_feed:
    misp_url: https://misp-ingest.example
    misp_api_key: "{{ misp_admin_key }}"
    url: https://www.circl.lu/doc/misp/feed-osint
    name: osint-circl
    provider: CIRCL
"""

RETURN = r"""
feed: {description: The feed as stored., returned: success, type: dict}
foreign_feeds:
  description: Feeds with the same URL that the play did not create and left as they are (id, name).
  returned: success
  type: list
"""

import json

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.misp_planner.misp.plugins.module_utils.misp_api import (
    MISP_COMMON_ARGS, MispApi, MispError, as_bool, create, edit, run, scrub)

BOOLS = ("enabled", "caching_enabled", "publish")


def settings_of(feed):
    """A feed's settings: MISP stores them as JSON text ("[]" when empty, null on default feeds)."""
    value = feed.get("settings")
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            value = None
    return value if isinstance(value, dict) else {}


def sharing_group_id(api, uuid, check_mode):
    for item in api.sharing_groups():
        group = item.get("SharingGroup", item)
        if str(group.get("uuid", "")).lower() == uuid.lower():
            return str(group["id"])
    if check_mode:
        return "new:%s" % uuid
    raise MispError("sharing group %s is not on %s" % (uuid, api.base))


def main():
    spec = dict(MISP_COMMON_ARGS, url=dict(type="str", required=True), name=dict(type="str", required=True),
                provider=dict(type="str", required=True),
                source_format=dict(type="str", choices=["misp", "freetext", "csv"], default="misp"),
                enabled=dict(type="bool", default=True), caching_enabled=dict(type="bool", default=False),
                distribution=dict(type="int", default=0), sharing_group_uuid=dict(type="str"),
                publish=dict(type="bool", default=False), disable_correlation=dict(type="bool", default=False))
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True,
                           required_if=[("distribution", 4, ("sharing_group_uuid",))])
    p = module.params

    def action():
        api = MispApi(module)
        wanted = dict(url=p["url"], name=p["name"], provider=p["provider"], source_format=p["source_format"],
                      input_source="network", distribution=str(p["distribution"]),
                      sharing_group_id=sharing_group_id(api, p["sharing_group_uuid"], module.check_mode)
                      if p["distribution"] == 4 else "0")
        for flag in BOOLS:
            wanted[flag] = p[flag]
        if p["disable_correlation"]:
            wanted["settings"] = dict(disable_correlation=True)
        found, foreign = None, []
        for item in api.get("/feeds") or []:
            feed = item.get("Feed", item)
            if feed.get("name") == p["name"] and not as_bool(feed.get("default", False)):  # never a default feed
                found = found or feed
            elif feed.get("url", "").rstrip("/") == p["url"].rstrip("/"):
                foreign.append(dict(id=str(feed.get("id")), name=feed.get("name")))
        for other in foreign:
            module.warn("feed %s (%s) has the URL of feed %s but was not created by this play: left untouched"
                        % (other["id"], other["name"], p["name"]))
        if found is None:
            shown = create(module, api, "/feeds/add", "Feed", p["url"], wanted)
            return dict(changed=True, feed=scrub(shown), foreign_feeds=foreign, diff=dict(before={}, after=wanted))
        changes = {}
        settings = settings_of(found)
        if as_bool(settings.get("disable_correlation", False)) != p["disable_correlation"]:
            settings["disable_correlation"] = p["disable_correlation"]
            changes["settings"] = settings
        for key, value in wanted.items():
            if key == "settings":
                continue
            if key in BOOLS:
                if as_bool(found.get(key, False)) != value:
                    changes[key] = value
            elif str(found.get(key, "")) != str(value):
                changes[key] = value
        result = edit(module, api, "/feeds/edit/%s" % found["id"], "Feed", found, changes)
        result["foreign_feeds"] = foreign
        return result

    run(module, action)


if __name__ == "__main__":
    main()
