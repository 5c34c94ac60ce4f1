# -*- coding: utf-8 -*-
# Copyright: misp-planner contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A small client for MISP's REST API shared by the misp_planner.misp modules.

It uses ansible's own URL helpers only, so nothing has to be installed where the modules run.
Authentication and headers follow docs/misp-behaviour.md#rest-endpoints: ``Authorization: <key>`` and JSON both ways.
Error messages never include request bodies or whole responses: some responses echo keys
(``/servers/add`` returns the remote authkey in clear, docs/misp-behaviour.md#observed).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

from ansible.module_utils.six.moves.urllib.error import HTTPError, URLError
from ansible.module_utils.urls import open_url

MISP_COMMON_ARGS = dict(
    misp_url=dict(type="str", required=True),
    misp_api_key=dict(type="str", required=True, no_log=True),
    validate_certs=dict(type="bool", default=True),
    timeout=dict(type="int", default=60),
)

# Response keys that can carry secrets; they are dropped before anything is returned or diffed.
SECRET_KEYS = frozenset(["authkey", "authkey_raw", "password", "confirm_password", "authkey_start",
                         "authkey_end", "ZeroMQ_password", "Plugin.ZeroMQ_password"])


class MispError(Exception):
    def __init__(self, message, status=None):
        super(MispError, self).__init__(message)
        self.status = status


def scrub(value):
    """A copy of an API value without secret fields, fit for results and diffs."""
    if isinstance(value, dict):
        return dict((k, scrub(v)) for k, v in value.items() if k not in SECRET_KEYS)
    if isinstance(value, list):
        return [scrub(v) for v in value]
    return value


def _error_text(payload):
    """The validation message of an error response, without echoing anything else."""
    if isinstance(payload, dict):
        parts = []
        for key in ("message", "name", "errors"):
            if key in payload and payload[key]:
                parts.append("%s: %s" % (key, json.dumps(scrub(payload[key]), sort_keys=True)))
        return "; ".join(parts)
    return ""


class MispApi:
    def __init__(self, module):
        self.module = module
        self.base = module.params["misp_url"].rstrip("/")
        self.key = module.params["misp_api_key"]
        self.validate_certs = module.params["validate_certs"]
        self.timeout = module.params["timeout"]
        if not self.key:
            module.fail_json(msg="no admin API key for %s: set the vault variable or environment variable "
                                 "named in the project's README" % self.base)

    def request(self, method, path, body=None, allow_404=False):
        data = None if body is None else json.dumps(body)
        headers = {"Authorization": self.key, "Accept": "application/json",
                   "Content-Type": "application/json"}
        try:
            response = open_url(self.base + path, data=data, method=method, headers=headers,
                                validate_certs=self.validate_certs, timeout=self.timeout,
                                follow_redirects="none")
            text = response.read()
        except HTTPError as error:
            if allow_404 and error.code == 404:
                return None
            try:
                payload = json.loads(error.read())
            except Exception:
                payload = None
            raise MispError("%s %s answered HTTP %s %s" % (method, path, error.code, _error_text(payload)),
                            status=error.code)
        except URLError as error:
            raise MispError("%s %s: cannot reach %s (%s)" % (method, path, self.base, error.reason))
        if not text:
            return {}
        try:
            return json.loads(text)
        except ValueError:
            raise MispError("%s %s did not answer JSON (is %s a MISP?)" % (method, path, self.base))

    def get(self, path, allow_404=False):
        return self.request("GET", path, allow_404=allow_404)

    def post(self, path, body=None):
        return self.request("POST", path, {} if body is None else body)

    # Lookups shared by several modules -------------------------------------------------------

    def org_by_uuid(self, uuid):
        """The local organisation record with this UUID, or None (docs/misp-behaviour.md#observed: match by UUID)."""
        found = self.get("/organisations/view/%s" % uuid, allow_404=True)
        if not found:
            return None
        org = found.get("Organisation", found)
        return org if org.get("uuid", "").lower() == uuid.lower() else None

    def servers(self):
        """Server entries, as ``/servers/index`` lists them (docs/misp-behaviour.md#observed: no authkey in it)."""
        return [item for item in self.get("/servers/index") or []]

    def find_server(self, url, remote_org_uuid):
        """The server entry for this remote, matched by URL and remote org UUID."""
        wanted = url.rstrip("/").lower()
        for item in self.servers():
            server = item.get("Server", {})
            remote = item.get("RemoteOrg") or {}
            if server.get("url", "").rstrip("/").lower() == wanted and \
                    (remote_org_uuid is None or remote.get("uuid", "").lower() == remote_org_uuid.lower()):
                return item
        return None

    def sharing_groups(self):
        """Sharing group index entries. MISP answers ``{"response": [...]}`` here (kept for backward
        compatibility, SharingGroupsController::index), a bare list on older versions."""
        answer = self.get("/sharing_groups") or []
        if isinstance(answer, dict):
            answer = answer.get("response") or []
        return list(answer)

    def keys_of(self, user_id):
        """The auth keys of one user. ``GET /auth_keys/index/<user_id>`` filters by user (a
        ``user_id`` in a ``POST /auth_keys`` body does not: every user's keys come back), and the
        answer is filtered here again, so that another user's key is never taken for this user's."""
        listed = self.get("/auth_keys/index/%s" % user_id) or []
        keys = [item.get("AuthKey", item) for item in listed]
        return [key for key in keys if str(key.get("user_id")) == str(user_id)]

    def users(self):
        return self.get("/admin/users") or []

    def role_by_name(self, name):
        """The role with this name, as ``GET /roles`` lists it (its id differs between instances), or None."""
        for item in self.get("/roles") or []:
            role = item.get("Role", item)
            if role.get("name") == name:
                return role
        return None

    def user_by_email(self, email):
        for item in self.users():
            user = item.get("User", item)
            if user.get("email", "").lower() == email.lower():
                return item
        return None


def as_bool(value):
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return value != 0
    return str(value).lower() in ("1", "true", "yes")


def create(module, api, path, model, name, wanted):
    """POST a new object (nothing in check mode) and return it; MISP's answer names its model
    (``{"Tag": {...}}``), and an answer without it means MISP refused the object."""
    if module.check_mode:
        return wanted
    created = api.post(path, wanted)
    if not created.get(model):
        raise MispError("%s %s was not created: %s" % (model.lower(), name, scrub(created)))
    return created[model]


def edit(module, api, path, model, found, changes, before=None):
    """The module's result for an existing object: POST only the fields that differ (``changes``),
    nothing in check mode, with a diff of them (``before``: how to show their old values)."""
    key = model.lower()
    result = {"changed": bool(changes), key: scrub(found)}
    if changes:
        result["diff"] = dict(before=before or dict((k, found.get(k)) for k in changes), after=changes)
        if not module.check_mode:
            edited = api.post(path, changes)
            result[key] = scrub(edited.get(model, dict(found, **changes)))
    return result


def run(module, action):
    """Run a module body, turning API errors into a failed result with a clear message."""
    try:
        module.exit_json(**action())
    except MispError as error:
        module.fail_json(msg=str(error), status=error.status)
