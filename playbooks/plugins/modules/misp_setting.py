#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: misp-planner contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: misp_setting
short_description: Set a MISP server setting through the API
description:
  - Reads the setting with C(/servers/getSetting) and writes it with C(/servers/serverSettingsEdit)
    only when it differs (misp-planner docs/misp-behaviour.md#setting-settings).
options:
  misp_url: {description: Base URL of the MISP instance., type: str, required: true}
  misp_api_key: {description: Site admin API key., type: str, required: true}
  validate_certs: {description: Verify the TLS certificate., type: bool, default: true}
  timeout: {description: HTTP timeout in seconds., type: int, default: 60}
  name: {description: "Setting name, C(Section.key). Use O(name) and O(value), or O(settings).", type: str}
  value: {description: Wanted value (string, number or boolean)., type: raw}
  settings: {description: "Several settings at once, C({Section.key: value}).", type: dict}
  force: {description: Skip MISP's validation of the value., type: bool, default: false}
  sensitive: {description: Hide the value from results and diffs (passwords)., type: bool, default: false}
author: [misp-planner]
"""

EXAMPLES = r"""
- name: Peers know this instance by its URL
  misp_planner.misp.misp_setting:
    misp_url: https://misp.example
    misp_api_key: "{{ misp_admin_key }}"
    settings:
      MISP.baseurl: https://misp.example
      MISP.external_baseurl: https://misp.example
"""

RETURN = r"""
changed_settings: {description: Names of the settings that were (or would be) changed., returned: success, type: list}
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.misp_planner.misp.plugins.module_utils.misp_api import (
    MISP_COMMON_ARGS, MispApi, MispError, run)


def same(current, wanted):
    if isinstance(wanted, bool) or isinstance(current, bool):
        return str(current).lower() in ("1", "true") if wanted in (True, "true", "1", 1) else \
            str(current).lower() in ("0", "false", "", "none")
    return str(current if current is not None else "") == str(wanted)


def main():
    spec = dict(MISP_COMMON_ARGS, name=dict(type="str"), value=dict(type="raw"), settings=dict(type="dict"),
                force=dict(type="bool", default=False), sensitive=dict(type="bool", default=False))
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True, required_together=[("name", "value")],
                           required_one_of=[("name", "settings")], mutually_exclusive=[("name", "settings")])
    p = module.params
    wanted = p["settings"] if p["settings"] is not None else {p["name"]: p["value"]}

    def action():
        api = MispApi(module)
        shown = (lambda v: "(hidden)") if p["sensitive"] else (lambda v: v)
        before, after = {}, {}
        for name in sorted(wanted):
            value = wanted[name]
            current = (api.get("/servers/getSetting/%s" % name, allow_404=True) or {}).get("value")
            if same(current, value):
                continue
            before[name], after[name] = shown(current), shown(value)
            if not module.check_mode:
                answer = api.post("/servers/serverSettingsEdit/%s" % name, dict(value=value, force=p["force"]))
                if isinstance(answer, dict) and answer.get("saved") is False:
                    raise MispError("setting %s was refused: %s" % (name, answer.get("errors", "")))
        result = dict(changed=bool(after), changed_settings=sorted(after))
        if after:
            result["diff"] = dict(before=before, after=after)
        return result

    run(module, action)


if __name__ == "__main__":
    main()
