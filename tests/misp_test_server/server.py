"""A TEST DOUBLE of MISP's REST contract, for the Ansible modules' tests. It is not MISP.

It keeps state in memory, serves real HTTP on 127.0.0.1, and answers the way real MISP 2.5.1
answered the exchanges recorded in tests/fixtures/misp_recorded.json (tests/test_misp_recorded.py
replays every one of them against this double and compares status, answer shape and key values):
the `{"response": [...]}` wrapper of `/sharing_groups`, string ids, 405 for unknown servers,
organisations and groups, tag search that finds nothing by `GET /tags/search/<name with ':'>`,
the auth key `/admin/users/add` creates on its own, `POST /auth_keys` that ignores its user filter,
echoed server keys, the two preinstalled default feeds and the six default roles, and the lax
validation of edits. Where the recordings say nothing it falls back on MISP's documented rules
(40-character keys shown once, remote org by id or UUID, `internal` only towards the host org,
connection tests that call the remote's `/servers/getVersion` over HTTP with the stored key).

Several run side by side on different ports. Every request is recorded (method, path, JSON body)
so that the contract test can check the bodies against MISP's OpenAPI document, and every key it
issues is recorded so that tests can search generated files, logs and runner artifacts for them.
What it does not do: events are stored but never synchronised (`/servers/pull` answers as an empty
pull would), nothing is published anywhere, feeds are never fetched.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import hashlib
import ipaddress
import json
import re
import secrets
import string
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid as uuidlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

VERSION = "2.5.1"
KEY_ALPHABET = string.ascii_letters + string.digits
KEY_PATTERN = re.compile(r"^[A-Za-z0-9]{40}$")  # AppModel::validateAuthkey
UUID_PATTERN = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")

# Default roles of a fresh 2.5.1 install with their perm_* flags, as GET /roles lists them.
PERMS = ("perm_add", "perm_modify", "perm_modify_org", "perm_publish", "perm_delegate", "perm_sync", "perm_admin",
         "perm_audit", "perm_auth", "perm_site_admin", "perm_regexp_access", "perm_tagger", "perm_template",
         "perm_sharing_group", "perm_tag_editor", "perm_sighting", "perm_object_template", "perm_publish_zmq",
         "perm_publish_kafka", "perm_decaying", "perm_galaxy_editor", "perm_warninglist",
         "perm_view_feed_correlations", "perm_analyst_data", "perm_skip_otp")
_ROLE_TABLE = (  # id, name, flags in PERMS order, permission, permission_description, default
    (1, "admin", "1111111111111111111111110", "3", "publish", False),
    (2, "Org Admin", "1111101110011111011110010", "3", "publish", False),
    (3, "User", "1110000110010001000110010", "2", "manage_org", True),
    (4, "Publisher", "1111100110010001011110010", "3", "publish", False),
    (5, "Sync user", "1111110110010111011110010", "3", "publish", False),
    (6, "Read Only", "0000000110000000000000000", "0", "read_only", False),
)
INSTALLED = "2026-01-01 00:00:00"
ROLES: dict[int, dict[str, Any]] = {
    rid: {"id": str(rid), "name": name, "created": INSTALLED, "modified": INSTALLED,
          **{perm: flag == "1" for perm, flag in zip(PERMS, flags, strict=True)},
          "default_role": default, "memory_limit": None, "max_execution_time": None,
          "restricted_to_site_admin": False, "enforce_rate_limit": False, "rate_limit_count": "0",
          "permission": permission, "permission_description": description, "default": default}
    for rid, name, flags, permission, description, default in _ROLE_TABLE}
NO_ROLE: dict[str, Any] = dict.fromkeys(PERMS, False)  # MISP stores any role_id an edit gives
# Role flags of later releases that /admin/roles/add and /edit accept (the generated project installs a
# 2.5.4x): perm_sync_internal from 2.5.8 / 2.4.206 (release notes v2.5.8), perm_server_sign and
# perm_sync_authoritative alike. A role created here has them; the stock roles keep 2.5.1's columns.
LATER_PERMS = ("perm_server_sign", "perm_sync_internal", "perm_sync_authoritative")

SERVER_FLAGS = ("push", "pull", "push_sightings", "push_galaxy_clusters", "pull_galaxy_clusters",
                "push_analyst_data", "pull_analyst_data", "caching_enabled", "unpublish_event",
                "publish_without_email", "self_signed", "internal", "skip_proxy", "remove_missing_tags")
# ServersController::edit's editable fields.
SERVER_EDITABLE = (*SERVER_FLAGS, "url", "remote_org_id", "name", "cert_file", "client_cert_file",
                   "push_rules", "pull_rules", "authkey", "submitted_cert")
DEFAULT_PUSH_RULES = '{"tags":{"OR":[],"NOT":[]},"orgs":{"OR":[],"NOT":[]}}'
DEFAULT_PULL_RULES = ('{"tags":{"OR":[],"NOT":[]},"orgs":{"OR":[],"NOT":[]},"type_attributes":{"NOT":[]},'
                      '"type_objects":{"NOT":[]},"url_params":""}')
DEFAULT_FEED_RULES = '{"tags":{"OR":[],"NOT":[]},"orgs":{"OR":[],"NOT":[]},"url_params":""}'  # set by feeds/edit
# The default feeds a fresh install lists (disabled, default: true).
DEFAULT_FEEDS = (("CIRCL OSINT Feed", "CIRCL", "https://www.circl.lu/doc/misp/feed-osint"),
                 ("The Botvrij.eu Data", "Botvrij.eu", "https://www.botvrij.eu/data/feed-osint"))
INTERNAL_ERROR = "An Internal Error Has Occurred."  # what 2.5.1 answers when a required field is missing

# Settings the double knows: type, level, test, extra fields getSetting shows. Others answer 404.
SETTINGS: dict[str, dict[str, Any]] = {
    "MISP.host_org_id": {"type": "numeric", "level": 0, "test": "testLocalOrgStrict", "default": 1},
    "MISP.baseurl": {"type": "string", "level": 0, "test": "testBaseURL", "null": True, "default": ""},
    "MISP.external_baseurl": {"type": "string", "level": 0, "test": "testBaseURL", "null": True, "default": ""},
    "MISP.uuid": {"type": "string", "level": 0, "test": "testUuid", "default": ""},
    "MISP.welcome_text_top": {"type": "string", "level": 2, "test": "testForEmpty", "default": ""},
    "MISP.correlation_engine": {"type": "string", "level": 0, "test": "testForCorrelationEngine", "null": True,
                                "options": {"Default": "Default Correlation Engine", "NoAcl": "No ACL Engine"},
                                "default": "Default"},
    "MISP.default_event_distribution": {"type": "numeric", "level": 0, "test": "testForEmpty", "default": 1},
    # Server.php serverSettings: true drops every correlation (correlationAfterHook); `correlation: off`.
    "MISP.completely_disable_correlation": {"type": "boolean", "level": 0, "test": "testBoolFalse", "null": True,
                                            "default": False},
    "MISP.disable_emailing": {"type": "boolean", "level": 0, "test": "testBool", "default": True,
                              "blocked": "E-mailing is blocked."},
    "Plugin.Sightings_policy": {"type": "numeric", "level": 1, "test": "testForEmpty", "default": 0},
    # Server.php serverSettings (MISP PR #5856): authkeys masked in the legacy audit log when true.
    "Security.do_not_log_authkeys": {"type": "boolean", "level": 0, "test": "testBool", "default": False},
    "Plugin.ZeroMQ_enable": {"type": "boolean", "level": 2, "test": "testBool", "default": False},
    "Plugin.ZeroMQ_event_notifications_enable": {"type": "boolean", "level": 2, "test": "testBool", "default": False},
    "Plugin.ZeroMQ_object_notifications_enable": {"type": "boolean", "level": 2, "test": "testBool",
                                                  "default": False},
    "Plugin.ZeroMQ_attribute_notifications_enable": {"type": "boolean", "level": 2, "test": "testBool",
                                                     "default": False},
    "Plugin.ZeroMQ_sighting_notifications_enable": {"type": "boolean", "level": 2, "test": "testBool",
                                                    "default": False},
}


class ApiError(Exception):
    def __init__(self, status: int, payload: dict[str, Any]) -> None:
        super().__init__(payload.get("message", ""))
        self.status = status
        self.payload = payload


def failed(model: str, action: str, errors: Any, url: str | None = None, message: str = "") -> ApiError:
    """MISP's saveFailResponse: 403 with `errors` (a dict, list or text)."""
    message = message or f"Could not {action} {model}"
    return ApiError(403, {"saved": False, "name": message, "message": message,
                          "url": url or f"/{_URL_MODELS.get(model, model.lower() + 's')}/{action}", "errors": errors})


_URL_MODELS = {"Organisation": "admin/organisations", "User": "admin/users", "auth_key": "auth_keys",
               "SharingGroup": "sharing_groups", "feed": "feeds"}


def refused(status: int, message: str, path: str) -> ApiError:
    """An exception answer (NotFoundException 404, MethodNotAllowedException 405, 500)."""
    return ApiError(status, {"name": message, "message": message, "url": path})


def succeeded(message: str, url: str, **extra: Any) -> dict[str, Any]:
    return {"saved": True, "success": True, "name": message, "message": message, "url": url, **extra}


def new_key() -> str:
    return "".join(secrets.choice(KEY_ALPHABET) for _ in range(40))


def as_bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.lower() in ("1", "true")
    return bool(value)


def now() -> str:
    return str(int(time.time()))


def now_text() -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())


def pick(record: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {k: record[k] for k in keys if k in record}


@dataclass
class Recorded:
    method: str
    path: str
    body: Any


@dataclass
class MispTestDouble:
    """State of one fake MISP instance. Records are kept with the fields MISP answers with."""

    name: str
    orgs: dict[int, dict[str, Any]] = field(default_factory=dict)
    users: dict[int, dict[str, Any]] = field(default_factory=dict)
    keys: dict[int, dict[str, Any]] = field(default_factory=dict)
    servers: dict[int, dict[str, Any]] = field(default_factory=dict)
    feeds: dict[int, dict[str, Any]] = field(default_factory=dict)
    tags: dict[int, dict[str, Any]] = field(default_factory=dict)
    roles: dict[int, dict[str, Any]] = field(default_factory=lambda: copy.deepcopy(ROLES))
    sharing_groups: dict[int, dict[str, Any]] = field(default_factory=dict)
    sg_orgs: dict[int, dict[str, Any]] = field(default_factory=dict)  # SharingGroupOrg rows
    sg_servers: dict[int, dict[str, Any]] = field(default_factory=dict)  # SharingGroupServer rows
    events: dict[int, dict[str, Any]] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    requests: list[Recorded] = field(default_factory=list)
    issued_keys: list[str] = field(default_factory=list)
    lock: threading.RLock = field(default_factory=threading.RLock)
    admin_key: str = ""
    url: str = ""
    path: str = ""  # of the request being answered, for error answers
    query: dict[str, str] = field(default_factory=dict)  # of the request being answered (limit, page)

    def __post_init__(self) -> None:
        # A fresh install: org 1 "ORGNAME" with a random UUID is the host org, user 1 its admin,
        # two default feeds.
        self.orgs[1] = {"id": "1", "name": "ORGNAME", "date_created": INSTALLED, "date_modified": INSTALLED,
                        "description": "Automatically generated admin organisation", "type": "ADMIN",
                        "nationality": "", "sector": "", "created_by": "0", "uuid": str(uuidlib.uuid4()),
                        "contacts": None, "local": True, "restricted_to_domain": None, "landingpage": None}
        self.users[1] = {"id": "1", "org_id": "1", "server_id": "0", "email": "admin@admin.test", "autoalert": False,
                         "invited_by": "0", "gpgkey": None, "certif_public": "", "nids_sid": "4000000",
                         "termsaccepted": False, "newsread": "0", "role_id": "1", "change_pw": True,
                         "contactalert": False, "disabled": False, "expiration": None, "current_login": "0",
                         "last_login": "0", "last_api_access": "0", "force_logout": False, "date_created": None,
                         "date_modified": now(), "last_pw_change": None}
        self.settings = {name: spec["default"] for name, spec in SETTINGS.items()}
        self.settings["MISP.uuid"] = str(uuidlib.uuid4())
        for name, provider, url in DEFAULT_FEEDS:
            fid = next_id(self.feeds)
            self.feeds[fid] = {**_feed_record(fid), "name": name, "provider": provider, "url": url,
                               "distribution": "3", "default": True, "fixed_event": False, "settings": None}
        self.admin_key = self._mint(1, "Initial auto-generated key", 0, [], record=False)

    @contextlib.contextmanager
    def lock_released(self) -> Iterator[None]:
        """Lets other requests in while this one waits on a remote, as a real MISP does: two doubles
        testing each other's links at once would otherwise each hold its lock waiting for the other.
        Inside, the double's state (``path``, ``query`` of the request being answered included) is
        other requests' to change: read what the handler needs before."""
        self.lock.release()
        try:
            yield
        finally:
            self.lock.acquire()

    def snapshot(self) -> dict[str, Any]:
        """Everything an apply may change, as a comparable value (not where keys were used from)."""
        with self.lock:
            keys = {kid: {k: v for k, v in key.items() if k != "unique_ips"} for kid, key in self.keys.items()}
            return copy.deepcopy({"orgs": self.orgs, "users": self.users, "keys": keys, "servers": self.servers,
                                  "feeds": self.feeds, "tags": self.tags, "roles": self.roles,
                                  "sharing_groups": self.sharing_groups,
                                  "sg_orgs": self.sg_orgs, "sg_servers": self.sg_servers,
                                  "settings": self.settings})

    # keys -------------------------------------------------------------------------------------

    def _mint(self, user_id: int, comment: str, expiration: int, allowed_ips: list[str], record: bool = True) -> str:
        raw = new_key()
        kid = next_id(self.keys)
        self.keys[kid] = {"id": str(kid), "uuid": str(uuidlib.uuid4()), "authkey_start": raw[:4],
                          "authkey_end": raw[-4:], "created": now(), "expiration": str(expiration),
                          "read_only": False, "user_id": str(user_id), "comment": comment,
                          "allowed_ips": allowed_ips or None, "unique_ips": [],
                          "hash": hashlib.sha256(raw.encode()).hexdigest()}
        if record:
            self.issued_keys.append(raw)
        return raw

    def authenticate(self, raw: str, client_ip: str) -> dict[str, Any]:
        digest = hashlib.sha256(raw.encode()).hexdigest()
        for key in self.keys.values():
            if key["hash"] != digest:
                continue
            if int(key["expiration"]) and int(key["expiration"]) < time.time():
                break
            if key["allowed_ips"] and not any(ipaddress.ip_address(client_ip) in ipaddress.ip_network(c, strict=False)
                                              for c in key["allowed_ips"]):
                break
            user = self.users.get(int(key["user_id"]))
            if user and not user["disabled"]:
                if client_ip not in key["unique_ips"]:
                    key["unique_ips"].append(client_ip)
                return user
        raise ApiError(403, {"name": "Authentication failed. Please make sure you pass the API key of an API "
                                     "enabled user along in the Authorization header.",
                             "message": "Authentication failed.", "url": self.path})

    def key_item(self, key: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in key.items() if k != "hash"}

    # helpers ----------------------------------------------------------------------------------

    def org(self, ref: Any) -> dict[str, Any] | None:
        """An organisation by local id or UUID (MISP accepts both in paths and for remote_org_id)."""
        text = str(ref)
        if text.isdigit():
            return self.orgs.get(int(text))
        return next((o for o in self.orgs.values() if o["uuid"].lower() == text.lower()), None)

    def role(self, user: dict[str, Any]) -> dict[str, Any]:
        return self.roles.get(int(user["role_id"]), NO_ROLE)

    def server_item(self, server: dict[str, Any], with_key: bool = False) -> dict[str, Any]:
        """A `/servers/index` entry (no key), or the `{"Server": ...}` answer of add/edit (key echoed)."""
        if with_key:
            return {"Server": {k: v for k, v in server.items() if k != "ca_pem"}}
        org_fields = ("id", "name", "uuid", "nationality", "sector", "type")
        shown = {k: v for k, v in server.items() if k not in ("authkey", "ca_pem")}
        return {"Server": {**shown, "cache_timestamp": False},
                "Organisation": pick(self.orgs.get(int(server["org_id"]), {}), *org_fields),
                "RemoteOrg": pick(self.orgs.get(int(server["remote_org_id"]), {}), *org_fields), "User": []}

    def sg_rows(self, gid: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        orgs = [row for row in self.sg_orgs.values() if row["sharing_group_id"] == str(gid)]
        servers = [row for row in self.sg_servers.values() if row["sharing_group_id"] == str(gid)]
        return orgs, servers

    def sg_members(self, gid: int) -> tuple[list[str], list[str]]:
        """(org ids, server ids) of a group; server id "0" is this instance."""
        orgs, servers = self.sg_rows(gid)
        return [row["org_id"] for row in orgs], [row["server_id"] for row in servers]

    def sg_item(self, group: dict[str, Any]) -> dict[str, Any]:
        """A group as `/sharing_groups/add` and `/edit` answer it."""
        orgs, servers = self.sg_rows(int(group["id"]))
        return {"SharingGroup": dict(group),
                "SharingGroupOrg": [{**row, "Organisation": pick(self.orgs.get(int(row["org_id"]), {}),
                                                                 "id", "name", "uuid")} for row in orgs],
                "SharingGroupServer": [row if row["server_id"] == "0" else
                                       {**row, "Server": pick(self.servers.get(int(row["server_id"]), {}),
                                                              "id", "url", "name")} for row in servers],
                "Organisation": pick(self.orgs[int(group["org_id"])], "id", "name", "uuid")}


def _feed_record(fid: int) -> dict[str, Any]:
    return {"id": str(fid), "name": "", "provider": "", "url": "", "rules": None, "enabled": False,
            "distribution": "0", "sharing_group_id": "0", "tag_id": "0", "default": False, "source_format": "freetext",
            "fixed_event": True, "delta_merge": False, "event_id": "0", "publish": False, "override_ids": False,
            "settings": "[]", "input_source": "network", "delete_local_file": False, "lookup_visible": False,
            "headers": None, "caching_enabled": False, "force_to_ids": False, "orgc_id": "0",
            "tag_collection_id": "0"}


Handler = Callable[["MispTestDouble", dict[str, Any], Any, list[str]], Any]
ROUTES: list[tuple[str, re.Pattern[str], Handler, str]] = []


def route(method: str, pattern: str, access: str = "admin") -> Callable[[Handler], Handler]:
    """access: "admin" (site admin), "any" (any authenticated user). method "ANY": GET or POST."""
    def register(fn: Handler) -> Handler:
        ROUTES.append((method, re.compile(f"^{pattern}$"), fn, access))
        return fn
    return register


def body_of(body: Any, wrapper: str) -> dict[str, Any]:
    """MISP accepts `{"Server": {...}}` as well as the bare object."""
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise refused(400, "The request body is not a JSON object.", "")
    inner = body.get(wrapper, body)
    return dict(inner) if isinstance(inner, dict) else {}


def next_id(table: dict[int, Any]) -> int:
    return max(table, default=0) + 1


def paged(m: MispTestDouble, items: list[Any]) -> list[Any]:
    """CakePHP's paginator as MISP's index endpoints use it: `limit` and `page` (from 1), all without."""
    limit = m.query.get("limit", "")
    if not limit.isdigit() or int(limit) == 0:
        return items
    page = int(m.query["page"]) if m.query.get("page", "").isdigit() else 1
    start = (max(page, 1) - 1) * int(limit)
    return items[start:start + int(limit)]


# version, settings, roles ----------------------------------------------------------------------

@route("GET", "/servers/getVersion", access="any")
def get_version(m: MispTestDouble, user: dict[str, Any], body: Any, args: list[str]) -> Any:
    role = m.role(user)
    answer = {"version": VERSION, "perm_sync": role["perm_sync"], "perm_sighting": role["perm_sighting"],
              "perm_galaxy_editor": role["perm_galaxy_editor"], "perm_analyst_data": role["perm_analyst_data"],
              "request_encoding": ["gzip"], "filter_sightings": True}
    if role["perm_sync"]:
        answer["uuid"] = m.settings["MISP.uuid"]  # only for sync users
    return answer


@route("POST", "/servers/postTest", access="any")
def post_test(m: MispTestDouble, user: dict[str, Any], body: Any, args: list[str]) -> Any:
    return {"body": json.dumps(body), "headers": {}}


@route("GET", "/roles")
def list_roles(m: MispTestDouble, user: dict[str, Any], body: Any, args: list[str]) -> Any:
    return [{"Role": dict(role)} for role in m.roles.values()]


def _role_flags(m: MispTestDouble, data: dict[str, Any], role: dict[str, Any]) -> None:
    for key, value in data.items():
        if key in (*PERMS, *LATER_PERMS):
            role[key] = as_bool(value)
        elif key not in ("name", "id"):
            raise failed("Role", "edit" if role.get("id") else "add", {key: ["Unknown field."]})


@route("POST", "/admin/roles/add")
def add_role(m: MispTestDouble, user: dict[str, Any], body: Any, args: list[str]) -> Any:
    """RolesController::admin_add: a name (unique) and the perm_* flags given; others false."""
    data = body_of(body, "Role")
    name = str(data.get("name") or "")
    if not name:
        raise failed("Role", "add", {"name": ["A role needs a name."]})
    if any(r["name"] == name for r in m.roles.values()):
        raise failed("Role", "add", {"name": ["A role with this name already exists."]})
    rid = next_id(m.roles)
    role = {"id": str(rid), "name": name, "created": now_text(), "modified": now_text(),
            **dict.fromkeys((*PERMS, *LATER_PERMS), False), "default_role": False, "memory_limit": "",
            "max_execution_time": "", "restricted_to_site_admin": False, "enforce_rate_limit": False,
            "rate_limit_count": "0", "permission": "0", "permission_description": "read_only", "default": False}
    _role_flags(m, data, role)
    m.roles[rid] = role
    return {"Role": dict(role)}


@route("POST", r"/admin/roles/edit/(\d+)")
def edit_role(m: MispTestDouble, user: dict[str, Any], body: Any, args: list[str]) -> Any:
    role = m.roles.get(int(args[0]))
    if role is None:
        raise refused(404, "Invalid Role", m.path)
    _role_flags(m, body_of(body, "Role"), role)
    role["modified"] = now_text()
    return {"Role": dict(role)}


def _setting(m: MispTestDouble, name: str) -> dict[str, Any]:
    spec = SETTINGS.get(name)
    if spec is None:
        raise refused(404, f"Setting {name} is invalid.", m.path)
    return spec


@route("GET", r"/servers/getSetting/([A-Za-z0-9_.]+)")
def get_setting(m: MispTestDouble, user: dict[str, Any], body: Any, args: list[str]) -> Any:
    name = args[0]
    spec = _setting(m, name)
    answer: dict[str, Any] = {"level": spec["level"], "description": f"{name} (test double)",
                              "value": m.settings[name], "test": spec["test"], "type": spec["type"]}
    if name == "MISP.baseurl" and m.settings[name] != m.url:
        answer["errorMessage"] = "The currently set baseurl does not match the URL through which you have accessed " \
                                 "the page."
    if spec.get("null"):
        answer["null"] = True
    if name == "MISP.host_org_id":
        answer["optionsSource"] = {}
        answer["options"] = {o["id"]: o["name"] for o in m.orgs.values() if o["local"]}
    elif "options" in spec:
        answer["options"] = spec["options"]
    answer["name"] = name
    return answer


@route("POST", r"/servers/serverSettingsEdit/([A-Za-z0-9_.]+)")
def edit_setting(m: MispTestDouble, user: dict[str, Any], body: Any, args: list[str]) -> Any:
    name = args[0]
    spec = _setting(m, name)
    if not isinstance(body, dict) or "value" not in body:
        raise failed("Server", "serverSettingsEdit", "Invalid input. Expected: {\"value\": \"new value\"}")
    value = body["value"]
    if "blocked" in spec:
        raise failed("Server", "serverSettingsEdit", spec["blocked"])
    if "options" in spec and value not in spec["options"]:
        raise failed("Server", "serverSettingsEdit", "Please select a valid option from the list of available "
                     "engines: ")
    if spec["type"] == "numeric":
        value = int(value) if str(value).lstrip("-").isdigit() else value  # text is accepted as is
    elif spec["type"] == "boolean":
        value = as_bool(value)
    m.settings[name] = value
    return succeeded("Field updated", "/servers/serverSettingsEdit")


# organisations ---------------------------------------------------------------------------------

@route("GET", r"/organisations/view/([0-9a-fA-F-]+)", access="any")
def view_org(m: MispTestDouble, user: dict[str, Any], body: Any, args: list[str]) -> Any:
    org = m.org(args[0])
    if org is None:
        raise refused(404, "Invalid organisation", m.path)
    users = sum(1 for u in m.users.values() if u["org_id"] == org["id"])
    return {"Organisation": {**{k: v for k, v in org.items() if k != "landingpage"}, "user_count": str(users)}}


@route("GET", r"/organisations(?:/index)?(?:/scope:(\w+))?", access="any")
def list_orgs(m: MispTestDouble, user: dict[str, Any], body: Any, args: list[str]) -> Any:
    """OrganisationsController::index: local organisations, or every one with scope `all` (named
    parameter `/scope:all` or `?scope=all`)."""
    scope = args[0] or m.query.get("scope", "local")
    shown = [o for o in m.orgs.values() if scope == "all" or (scope == "external") != bool(o["local"])]
    return paged(m, [{"Organisation": {**{k: v for k, v in o.items() if k != "landingpage"},
                                       "user_count": str(sum(1 for u in m.users.values() if u["org_id"] == o["id"]))}}
                     for o in shown])


def _check_org_fields(m: MispTestDouble, data: dict[str, Any], current: dict[str, Any] | None) -> None:
    action = "edit" if current else "add"
    for other in m.orgs.values():
        if other is current:
            continue
        if "uuid" in data and other["uuid"].lower() == str(data["uuid"]).lower():
            raise failed("Organisation", action, {"uuid": ["An organisation with this UUID already exists."]})
        if "name" in data and data["name"] and other["name"].lower() == str(data["name"]).lower():
            raise failed("Organisation", action, {"name": ["An organisation with this name already exists."]})


@route("POST", "/admin/organisations/add")
def add_org(m: MispTestDouble, user: dict[str, Any], body: Any, args: list[str]) -> Any:
    data = body_of(body, "Organisation")
    _check_org_fields(m, data, None)  # a missing name is accepted: the org gets an empty one
    oid = next_id(m.orgs)
    org = {"id": str(oid), "name": data.get("name") or "", "date_created": now_text(), "date_modified": now_text(),
           "description": data.get("description"), "type": data.get("type") or "",
           "nationality": data.get("nationality") or "", "sector": data.get("sector") or "",
           "created_by": user["id"], "uuid": data.get("uuid") or str(uuidlib.uuid4()), "contacts": None,
           "local": as_bool(data.get("local", True)), "restricted_to_domain": None, "landingpage": None}
    m.orgs[oid] = org
    return {"Organisation": dict(org)}


@route("POST", r"/admin/organisations/edit/(\d+)")
def edit_org(m: MispTestDouble, user: dict[str, Any], body: Any, args: list[str]) -> Any:
    org = m.orgs.get(int(args[0]))
    if org is None:
        raise refused(404, "Invalid organisation", m.path)
    data = body_of(body, "Organisation")
    _check_org_fields(m, data, org)
    for key in ("name", "uuid", "nationality", "sector", "type", "description"):
        if key in data:
            org[key] = data[key]
    if "local" in data:
        org["local"] = as_bool(data["local"])
    org["date_modified"] = now_text()
    org["restricted_to_domain"] = org["restricted_to_domain"] or []
    return {"Organisation": dict(org)}


# users and keys --------------------------------------------------------------------------------

USER_INDEX_FIELDS = ("id", "org_id", "server_id", "email", "autoalert", "invited_by", "gpgkey", "certif_public",
                     "nids_sid", "termsaccepted", "newsread", "role_id", "change_pw", "contactalert", "disabled",
                     "expiration", "current_login", "last_login", "last_api_access", "force_logout", "date_created",
                     "date_modified", "last_pw_change")


@route("GET", "/admin/users")
def list_users(m: MispTestDouble, user: dict[str, Any], body: Any, args: list[str]) -> Any:
    return paged(m, [{"User": pick(u, *USER_INDEX_FIELDS),
                      "Role": {"id": u["role_id"], **pick(m.role(u), "name", "perm_auth", "perm_site_admin",
                                                          "perm_admin")},
                      "Organisation": pick(m.orgs.get(int(u["org_id"]), {}), "id", "name")}
                     for u in m.users.values()])


@route("GET", r"/admin/users/view/(\d+)")
def view_user(m: MispTestDouble, user: dict[str, Any], body: Any, args: list[str]) -> Any:
    target = m.users.get(int(args[0]))
    if target is None:
        raise refused(404, "Invalid user", m.path)
    shown = {k: v for k, v in target.items() if k != "server_id"}
    shown["totp"] = "*****"
    return {"User": {**shown, "orgAdmins": []}, "Role": {k: v for k, v in m.role(target).items() if k != "default"},
            "UserSetting": [], "Organisation": dict(m.orgs.get(int(target["org_id"]), {}))}


@route("POST", "/admin/users/add")
def add_user(m: MispTestDouble, user: dict[str, Any], body: Any, args: list[str]) -> Any:
    data = body_of(body, "User")
    email = str(data.get("email") or "")
    if not re.fullmatch(r"[^@\s]+@[^@\s]+", email):
        raise failed("User", "add", {"email": ["Please enter a valid email address."]})
    if any(u["email"].lower() == email.lower() for u in m.users.values()):
        raise failed("User", "add", {"email": ["An account with this email address already exists."]})
    org_id = str(data.get("org_id", user["org_id"]))
    if m.org(org_id) is None:
        raise failed("User", "add", ["Invalid organisation"])
    role_id = int(data.get("role_id", 3))
    if role_id not in m.roles:
        raise failed("User", "add", {"role_id": ["Invalid role"]})
    uid = next_id(m.users)
    new = {"id": str(uid), "password": secrets.token_hex(8), "org_id": org_id, "server_id": "0", "email": email,
           "autoalert": as_bool(data.get("autoalert", False)), "invited_by": user["id"], "gpgkey": "",
           "certif_public": "", "nids_sid": str(1000000 + uid), "termsaccepted": as_bool(data.get("termsaccepted")),
           "newsread": "0", "role_id": str(role_id), "change_pw": as_bool(data.get("change_pw", True)),
           "contactalert": False, "disabled": as_bool(data.get("disabled", False)), "expiration": None,
           "current_login": "0", "last_login": "0", "force_logout": False, "date_created": now(),
           "date_modified": now(), "sub": None, "external_auth_required": False, "external_auth_key": "",
           "last_api_access": "0", "notification_daily": False, "notification_weekly": False,
           "notification_monthly": False, "totp": None, "hotp_counter": None, "last_pw_change": now(),
           "totp_is_set": "0"}
    m.users[uid] = new
    # MISP creates an auth key for the new user: no comment, no allowed_ips, never expires.
    raw = m._mint(uid, "", 0, [])
    return {"User": {**new, "authkey": raw}}


@route("POST", r"/admin/users/edit/(\d+)")
def edit_user(m: MispTestDouble, user: dict[str, Any], body: Any, args: list[str]) -> Any:
    target = m.users.get(int(args[0]))
    if target is None:
        raise refused(404, "Invalid user", m.path)
    data = body_of(body, "User")
    for key in ("email", "org_id", "role_id"):  # unknown roles and organisations are stored as given
        if key in data:
            target[key] = str(data[key])
    if "disabled" in data:
        target["disabled"] = as_bool(data["disabled"])
    target["date_modified"] = now()
    return {"User": dict(target)}


def _key_list(m: MispTestDouble, user_id: str | None) -> list[dict[str, Any]]:
    return [{"AuthKey": m.key_item(key), "User": pick(m.users.get(int(key["user_id"]), {}), "id", "email")}
            for key in m.keys.values() if user_id is None or key["user_id"] == user_id]


@route("POST", "/auth_keys")
def search_keys(m: MispTestDouble, user: dict[str, Any], body: Any, args: list[str]) -> Any:
    return _key_list(m, None)  # a user_id in the body is NOT a filter: every key comes back


@route("GET", r"/auth_keys/index(?:/(\d+))?")
def index_keys(m: MispTestDouble, user: dict[str, Any], body: Any, args: list[str]) -> Any:
    return paged(m, _key_list(m, args[0]))


def _cidrs(value: Any, action: str) -> list[str]:
    """allowed_ips as an array or a comma/newline separated string."""
    ips = value or []
    if isinstance(ips, str):
        ips = [part.strip() for part in re.split(r"[,\n]", ips) if part.strip()]
    for cidr in ips:
        try:
            ipaddress.ip_network(cidr, strict=False)
        except ValueError:
            raise failed("auth_key", action, {"allowed_ips": [f"{cidr} is not valid IP range"]}) from None
    return list(ips)


@route("POST", r"/auth_keys/add/(\d+)")
def add_key(m: MispTestDouble, user: dict[str, Any], body: Any, args: list[str]) -> Any:
    owner = m.users.get(int(args[0]))
    if owner is None:
        raise failed("auth_key", "add", {"user_id": ["User doesn't exists"]})
    data = body_of(body, "AuthKey")
    ips = _cidrs(data.get("allowed_ips"), "add")
    expiration = data.get("expiration", 0) or 0  # a date in the past is accepted
    if isinstance(expiration, str) and not expiration.isdigit():
        expiration = int(time.mktime(time.strptime(expiration, "%Y-%m-%d")))
    # A key supplied by the caller is ignored: a random one is generated.
    raw = m._mint(int(owner["id"]), str(data.get("comment", "")), int(expiration), list(ips))
    key = m.keys[max(m.keys)]
    key["read_only"] = as_bool(data.get("read_only", False))
    return {"AuthKey": {**m.key_item(key), "authkey_raw": raw}}


@route("POST", r"/auth_keys/edit/(\d+)")
def edit_key(m: MispTestDouble, user: dict[str, Any], body: Any, args: list[str]) -> Any:
    key = m.keys.get(int(args[0]))
    if key is None:
        raise refused(404, "Invalid AuthKey.", m.path)
    data = body_of(body, "AuthKey")
    if "allowed_ips" in data:
        key["allowed_ips"] = _cidrs(data["allowed_ips"], "edit") or None
    if "comment" in data:
        key["comment"] = str(data["comment"])
    # The edit answer shows the stored forms: expiration as a number, allowed_ips as a JSON text.
    shown = {**m.key_item(key), "expiration": int(key["expiration"]), "unique_ips": None,
             "allowed_ips": json.dumps(key["allowed_ips"], separators=(",", ":")) if key["allowed_ips"] else None}
    owner = m.users.get(int(key["user_id"]), {})
    return {"AuthKey": shown, "User": pick(owner, "id", "org_id")}


@route("POST", r"/auth_keys/delete/(\d+)")
def delete_key(m: MispTestDouble, user: dict[str, Any], body: Any, args: list[str]) -> Any:
    if m.keys.pop(int(args[0]), None) is None:
        raise refused(404, "Invalid AuthKey.", m.path)
    return succeeded("AuthKey deleted.", m.path, id=int(args[0]))


# servers ---------------------------------------------------------------------------------------

def _check_rules(data: dict[str, Any]) -> None:
    for key in ("push_rules", "pull_rules"):
        if key in data:
            try:
                if not isinstance(data[key], str):
                    raise ValueError
                json.loads(data[key])
            except ValueError:
                raise failed("Server", "add", {key: ["Invalid JSON."]}) from None


def _internal_allowed(m: MispTestDouble, remote_org_id: str) -> bool:
    # internal is forced to 0 unless the remote org is the host org.
    return str(m.settings.get("MISP.host_org_id")) == str(remote_org_id)


@route("GET", "/servers/index")
def list_servers(m: MispTestDouble, user: dict[str, Any], body: Any, args: list[str]) -> Any:
    return paged(m, [m.server_item(s) for s in m.servers.values()])


@route("POST", "/servers/add")
def add_server(m: MispTestDouble, user: dict[str, Any], body: Any, args: list[str]) -> Any:
    data = body_of(body, "Server")
    if not data.get("url"):
        raise refused(500, INTERNAL_ERROR, "/servers/add")  # a SQL error, not a validation message
    for required in ("name", "remote_org_id", "authkey"):
        if not data.get(required):
            raise failed("Server", "add", {required: ["This field is mandatory."]})
    if not KEY_PATTERN.match(str(data["authkey"])):
        raise failed("Server", "add", {"authkey": ["A authkey is 40 alphanumeric characters."]})
    remote = m.org(data["remote_org_id"])
    if remote is None:
        raise failed("Server", "add", {"Organisation": "Invalid Remote Organisation"})
    _check_rules(data)
    # No duplicate check: the same URL and remote org a second time make a second entry.
    sid = next_id(m.servers)
    server: dict[str, Any] = {"id": str(sid), "name": data["name"], "url": str(data["url"]).rstrip("/"),
                              "authkey": data["authkey"], "org_id": str(user["org_id"])}
    for flag in SERVER_FLAGS:
        server[flag] = as_bool(data.get(flag, False))
    server.update({"lastpulledid": None, "lastpushedid": None, "organization": None, "remote_org_id": remote["id"],
                   "pull_rules": data.get("pull_rules", DEFAULT_PULL_RULES),
                   "push_rules": data.get("push_rules", DEFAULT_PUSH_RULES), "cert_file": None,
                   "client_cert_file": None, "priority": str(sid)})
    if server["internal"] and not _internal_allowed(m, remote["id"]):
        server["internal"] = False
    _store_cert(server, data)
    m.servers[sid] = server
    return m.server_item(server, with_key=True)  # echoes the key in clear, as MISP 2.5.1 does


@route("POST", r"/servers/edit/(\d+)")
def edit_server(m: MispTestDouble, user: dict[str, Any], body: Any, args: list[str]) -> Any:
    server = m.servers.get(int(args[0]))
    if server is None:
        raise refused(404, "Invalid server", m.path)
    data = body_of(body, "Server")
    unknown = set(data) - set(SERVER_EDITABLE)
    if unknown:
        raise failed("Server", "edit", f"Fields not editable: {sorted(unknown)}")
    _check_rules(data)
    if data.get("authkey"):
        if not KEY_PATTERN.match(str(data["authkey"])):
            raise failed("Server", "edit", {"authkey": ["A authkey is 40 alphanumeric characters."]})
        server["authkey"] = data["authkey"]
    if "remote_org_id" in data:
        remote = m.org(data["remote_org_id"])
        server["remote_org_id"] = remote["id"] if remote else str(data["remote_org_id"])  # stored even if unknown
    for key, value in data.items():
        if key in SERVER_FLAGS:
            server[key] = as_bool(value)
        elif key in ("name", "push_rules", "pull_rules", "cert_file", "client_cert_file"):
            server[key] = value
        elif key == "url":
            server["url"] = str(value).rstrip("/")
    if server["internal"] and not _internal_allowed(m, server["remote_org_id"]):
        server["internal"] = False
    _store_cert(server, data)
    return m.server_item(server, with_key=True)


def _store_cert(server: dict[str, Any], data: dict[str, Any]) -> None:
    """`submitted_cert` (base64 PEM) becomes app/files/certs/<id>.pem; the API shows only its name."""
    if data.get("submitted_cert"):
        pem = base64.b64decode(str(data["submitted_cert"])).decode("ascii")
        if "BEGIN CERTIFICATE" not in pem:
            raise failed("Server", "edit", {"submitted_cert": ["Invalid certificate."]})
        server["cert_file"] = f"{server['id']}.pem"
        server["ca_pem"] = pem


@route("POST", r"/servers/delete/(\d+)")
def delete_server(m: MispTestDouble, user: dict[str, Any], body: Any, args: list[str]) -> Any:
    if m.servers.pop(int(args[0]), None) is None:
        raise refused(404, "Invalid server", m.path)
    for rid in [rid for rid, row in m.sg_servers.items() if row["server_id"] == args[0]]:
        del m.sg_servers[rid]
    # sic: MISP 2.5.1 puts the message where the id and url should be.
    return succeeded("Server deleted", "/servers/delete/Server deleted", id="Server deleted")


@route("ANY", r"/servers/testConnection/(\d+)")
def test_connection(m: MispTestDouble, user: dict[str, Any], body: Any, args: list[str]) -> Any:
    server = m.servers.get(int(args[0]))
    if server is None:
        raise refused(404, "Invalid server", m.path)
    request = urllib.request.Request(server["url"] + "/servers/getVersion",
                                     headers={"Authorization": server["authkey"], "Accept": "application/json"})
    try:
        with m.lock_released(), urllib.request.urlopen(request, timeout=10) as response:
            remote = json.loads(response.read())
    except urllib.error.HTTPError as error:
        return {"status": 4 if error.code in (401, 403) else 3, "client_certificate": None}
    except (urllib.error.URLError, OSError, ValueError):
        return {"status": 2, "client_certificate": None}
    if not remote.get("perm_sync") and not remote.get("perm_sighting"):
        status = 7
    elif not remote.get("perm_sync"):
        status = 8
    else:
        status = 1
    return {"status": status, "local_version": VERSION, "version": remote.get("version"), "mismatch": "proposal",
            "newer": False, "post": 1 if status == 1 else None, "response_encoding": None,
            "request_encoding": remote.get("request_encoding", []), "client_certificate": None,
            "uuid": remote.get("uuid")}


@route("GET", r"/servers/pull/(\d+)(?:/\w+)?")
def pull(m: MispTestDouble, user: dict[str, Any], body: Any, args: list[str]) -> Any:
    if int(args[0]) not in m.servers:
        raise refused(404, "Invalid server", m.path)
    text = ("Pull completed. 0 events pulled, 0 events could not be pulled, 0 proposals pulled, 0 sightings pulled, "
            "0 clusters pulled, 0 analyst data pulled.")  # the double synchronises nothing
    return succeeded(text, f"/servers/pull/{args[0]}", id=args[0])


# tags ------------------------------------------------------------------------------------------

def _tag_like(term: str) -> Callable[[str], bool]:
    """MISP's LIKE: `%` is a wildcard, otherwise the whole name, case-insensitive."""
    pattern = re.compile("^" + ".*".join(re.escape(p) for p in term.lower().split("%")) + "$")
    return lambda name: bool(pattern.match(name.lower()))


@route("GET", r"/tags/search/(.+)", access="any")
def search_tags_get(m: MispTestDouble, user: dict[str, Any], body: Any, args: list[str]) -> Any:
    term = urllib.parse.unquote(args[0])
    if ":" in term:
        return []  # the ':' of a namespaced tag is read as a named parameter: nothing is ever found
    like = _tag_like(term)
    return [{"Tag": dict(t)} for t in m.tags.values() if like(t["name"])]


@route("POST", "/tags/search", access="any")
def search_tags_post(m: MispTestDouble, user: dict[str, Any], body: Any, args: list[str]) -> Any:
    term = str(body.get("tag", "")) if isinstance(body, dict) else ""
    like = _tag_like(term)
    return [{"Tag": dict(t)} for t in m.tags.values() if term and like(t["name"])]


@route("GET", r"/tags(?:/index)?", access="any")
def list_tags(m: MispTestDouble, user: dict[str, Any], body: Any, args: list[str]) -> Any:
    return {"Tag": paged(m, [dict(t) for t in m.tags.values()])}  # TagsController::index: wrapped in "Tag"


@route("POST", "/tags/add")
def add_tag(m: MispTestDouble, user: dict[str, Any], body: Any, args: list[str]) -> Any:
    data = body_of(body, "Tag")
    name = data.get("name")
    if not name:
        raise refused(500, INTERNAL_ERROR, "/tags/add")
    existing = next((t for t in m.tags.values() if t["name"] == name), None)
    if existing:
        return {"Tag": dict(existing)}  # an existing tag is answered as if it had been added
    tid = next_id(m.tags)
    colour = "#" + hashlib.sha256(name.encode()).hexdigest()[:6]
    m.tags[tid] = {"id": str(tid), "name": name, "colour": data.get("colour", colour), "exportable": True,
                   "org_id": "0", "user_id": "0", "hide_tag": False, "numerical_value": None, "is_galaxy": False,
                   "is_custom_galaxy": False, "local_only": False}
    _tag_fields(m, data, m.tags[tid])
    return {"Tag": dict(m.tags[tid])}


def _tag_fields(m: MispTestDouble, data: dict[str, Any], tag: dict[str, Any]) -> None:
    """The fields of Tag (app/Model/Tag.php) the modules set; an org_id must name an organisation (0: all)."""
    for key in ("exportable", "local_only", "hide_tag"):
        if key in data:
            tag[key] = as_bool(data[key])
    if "org_id" in data:
        if str(data["org_id"]) != "0" and m.org(str(data["org_id"])) is None:
            raise failed("Tag", "edit", {"org_id": ["Invalid organisation."]})
        tag["org_id"] = str(data["org_id"])
    if data.get("colour"):
        if not re.fullmatch(r"#[0-9a-fA-F]{6}", str(data["colour"])):
            raise failed("Tag", "edit", {"colour": ["Invalid colour."]})
        tag["colour"] = str(data["colour"])


@route("POST", r"/tags/edit/(\d+)")
def edit_tag(m: MispTestDouble, user: dict[str, Any], body: Any, args: list[str]) -> Any:
    tag = m.tags.get(int(args[0]))
    if tag is None:
        raise refused(404, "Invalid tag", m.path)
    _tag_fields(m, body_of(body, "Tag"), tag)
    return {"Tag": dict(tag)}


# feeds -----------------------------------------------------------------------------------------

def _feed_values(data: dict[str, Any], feed: dict[str, Any], editing: bool = False) -> None:
    for key in ("name", "provider", "url", "source_format", "input_source", "distribution", "sharing_group_id"):
        if key in data:
            feed[key] = str(data[key])
    for key in ("enabled", "caching_enabled", "publish", "lookup_visible"):
        if key in data:
            feed[key] = as_bool(data[key])
    if "settings" in data:
        # FeedsController::add and ::edit store json_encode of the settings given; edit decodes a JSON text first.
        settings = data["settings"]
        if editing and isinstance(settings, str):
            settings = json.loads(settings)
        feed["settings"] = json.dumps(settings if settings not in (None, {}) else [], separators=(",", ":"))


@route("GET", "/feeds(?:/index)?")
def list_feeds(m: MispTestDouble, user: dict[str, Any], body: Any, args: list[str]) -> Any:
    return paged(m, [{"Feed": {**f, "cache_timestamp": False}} for f in m.feeds.values()])


@route("POST", "/feeds/add")
def add_feed(m: MispTestDouble, user: dict[str, Any], body: Any, args: list[str]) -> Any:
    data = body_of(body, "Feed")
    if not data.get("url"):
        raise refused(500, INTERNAL_ERROR, "/feeds/add")
    # No duplicate check on the URL, and an unknown sharing_group_id is accepted.
    fid = next_id(m.feeds)
    feed = _feed_record(fid)
    _feed_values(data, feed)
    m.feeds[fid] = feed
    return {"Feed": dict(feed)}


@route("POST", r"/feeds/edit/(\d+)")
def edit_feed(m: MispTestDouble, user: dict[str, Any], body: Any, args: list[str]) -> Any:
    feed = m.feeds.get(int(args[0]))
    if feed is None:
        raise refused(404, "Invalid Feed.", m.path)
    data = body_of(body, "Feed")
    if "url" in data and not data["url"]:
        raise failed("feed", "edit", {"url": ["This field cannot be left blank"]})
    _feed_values(data, feed, editing=True)  # any distribution is stored, 9 included
    feed["rules"] = feed["rules"] or DEFAULT_FEED_RULES
    return {"Feed": dict(feed)}


# sharing groups --------------------------------------------------------------------------------

def _find_sg(m: MispTestDouble, ref: str) -> dict[str, Any] | None:
    if ref.isdigit():
        return m.sharing_groups.get(int(ref))
    return next((g for g in m.sharing_groups.values() if g["uuid"].lower() == ref.lower()), None)


def _add_sg_server_row(m: MispTestDouble, gid: str, server_id: str) -> None:
    rid = next_id(m.sg_servers)
    m.sg_servers[rid] = {"id": str(rid), "sharing_group_id": gid, "server_id": server_id, "all_orgs": False}


@route("GET", "/sharing_groups")
def list_sgs(m: MispTestDouble, user: dict[str, Any], body: Any, args: list[str]) -> Any:
    groups = []
    for group in m.sharing_groups.values():
        orgs, servers = m.sg_rows(int(group["id"]))
        groups.append({
            "SharingGroup": {**pick(group, "id", "uuid", "name", "description", "releasability", "local", "active",
                                    "roaming"), "org_count": str(len(orgs))},
            "Organisation": pick(m.orgs[int(group["org_id"])], "id", "name", "uuid"),
            "SharingGroupOrg": [{**row, "Organisation": pick(m.orgs.get(int(row["org_id"]), {}), "name", "id", "uuid")}
                                for row in orgs],
            "SharingGroupServer": [{"all_orgs": row["all_orgs"], "server_id": row["server_id"],
                                    "sharing_group_id": row["sharing_group_id"],
                                    "Server": pick(m.servers.get(int(row["server_id"]), {}), "name", "id") or []}
                                   for row in servers],
            "editable": True, "deletable": True})
    return {"response": paged(m, groups)}  # wrapped, for backward compatibility


@route("GET", r"/sharing_groups/view/([0-9a-fA-F-]+)")
def view_sg(m: MispTestDouble, user: dict[str, Any], body: Any, args: list[str]) -> Any:
    group = _find_sg(m, args[0])
    if group is None:
        raise refused(405, "Sharing group doesn&#039;t exist or you do not have permission to access it.", m.path)
    orgs, servers = m.sg_rows(int(group["id"]))
    owner = m.orgs[int(group["org_id"])]
    local = {"id": "0", "name": "Local instance", "url": m.settings["MISP.baseurl"]}
    return {"SharingGroup": {**group, "sync_org_name": owner["name"], "sync_org": pick(owner, "id", "name", "uuid")},
            "Organisation": dict(owner),
            "SharingGroupOrg": [{**row, "Organisation": pick(m.orgs.get(int(row["org_id"]), {}), "id", "name", "uuid")}
                                for row in orgs],
            "SharingGroupServer": [{**row, "Server": local if row["server_id"] == "0" else
                                    pick(m.servers.get(int(row["server_id"]), {}), "id", "name", "url")}
                                   for row in servers]}


@route("POST", "/sharing_groups/add")
def add_sg(m: MispTestDouble, user: dict[str, Any], body: Any, args: list[str]) -> Any:
    data = body_of(body, "SharingGroup")
    roaming = as_bool(data.get("roaming", False))
    existing = next((g for g in m.sharing_groups.values() if data.get("uuid") and g["uuid"] == data["uuid"]), None)
    if existing is None and not data.get("name"):
        raise failed("SharingGroup", "add", "Could not save sharing group.")
    if existing is None:
        gid = next_id(m.sharing_groups)
        owner = m.orgs[int(user["org_id"])]
        existing = {"id": str(gid), "name": data["name"], "releasability": data.get("releasability", ""),
                    "description": data.get("description", ""), "uuid": data.get("uuid") or str(uuidlib.uuid4()),
                    "organisation_uuid": owner["uuid"], "org_id": owner["id"], "sync_user_id": user["id"],
                    "active": as_bool(data.get("active", True)), "created": now_text(), "modified": now_text(),
                    "local": False, "roaming": roaming}
        m.sharing_groups[gid] = existing
    # The creator org is not made a member, but a non-roaming group gets "this instance" (server 0)
    # in its server list; with a UUID that exists already, the group is answered as it is, with
    # one more server 0 row.
    if not roaming:
        _add_sg_server_row(m, existing["id"], "0")
    return m.sg_item(existing)


@route("POST", r"/sharing_groups/edit/([0-9a-fA-F-]+)")
def edit_sg(m: MispTestDouble, user: dict[str, Any], body: Any, args: list[str]) -> Any:
    group = _find_sg(m, args[0])
    if group is None:
        raise refused(404, "Invalid sharing group.", m.path)
    data = body_of(body, "SharingGroup")
    for key in ("name", "releasability", "description"):
        if data.get(key):  # an empty name keeps the old one (answered 200)
            group[key] = data[key]
    if "roaming" in data:
        group["roaming"] = as_bool(data["roaming"])
    group["modified"] = now_text()
    return m.sg_item(group)


def _quick_edit(m: MispTestDouble, args: list[str], kind: str) -> tuple[dict[str, Any], Any]:
    """SharingGroupsController's addOrg/removeOrg/addServer/removeServer preamble: 405 for unknowns."""
    group = _find_sg(m, args[0])
    if group is None:
        raise refused(405, "Invalid sharing group or no editing rights.", m.path)
    if kind == "org":
        member = m.org(args[1])
        if member is None:
            raise refused(405, "Invalid organisation.", m.path)
    else:
        member = m.servers.get(int(args[1])) if args[1].isdigit() else None
        if member is None:  # server 0, this instance, is not a server entry
            raise refused(405, "Invalid Server.", m.path)
    return group, member


@route("POST", r"/sharing_groups/addOrg/([0-9a-fA-F-]+)/([0-9a-fA-F-]+)")
def sg_add_org(m: MispTestDouble, user: dict[str, Any], body: Any, args: list[str]) -> Any:
    group, org = _quick_edit(m, args, "org")
    orgs, _ = m.sg_members(int(group["id"]))
    if org["id"] in orgs:
        raise failed("SharingGroup", "addOrg",
                     message="Could not add Organisation to SharingGroup",
                     errors="Organisation is already in the sharing group.")
    rid = next_id(m.sg_orgs)
    m.sg_orgs[rid] = {"id": str(rid), "sharing_group_id": group["id"], "org_id": org["id"],
                      "extend": as_bool((body or {}).get("extend", False))}
    return succeeded("Organisation added to the sharing group.", "/sharing_groups/addOrg")


@route("POST", r"/sharing_groups/removeOrg/([0-9a-fA-F-]+)/([0-9a-fA-F-]+)")
def sg_remove_org(m: MispTestDouble, user: dict[str, Any], body: Any, args: list[str]) -> Any:
    group, org = _quick_edit(m, args, "org")
    rows = [rid for rid, row in m.sg_orgs.items() if row["sharing_group_id"] == group["id"]
            and row["org_id"] == org["id"]]
    if not rows:
        raise failed("SharingGroup", "removeOrg",
                     message="Could not remove Organisation from SharingGroup",
                     errors="Organisation is not in the sharing group.")
    del m.sg_orgs[rows[0]]
    return succeeded("Organisation removed from the sharing group.", "/sharing_groups/removeOrg")


@route("POST", r"/sharing_groups/addServer/([0-9a-fA-F-]+)/(\d+)")
def sg_add_server(m: MispTestDouble, user: dict[str, Any], body: Any, args: list[str]) -> Any:
    group, server = _quick_edit(m, args, "server")
    _, servers = m.sg_members(int(group["id"]))
    if server["id"] in servers:
        raise failed("SharingGroup", "addServer",
                     message="Could not add Server to SharingGroup",
                     errors="Server is already in the sharing group.")
    _add_sg_server_row(m, group["id"], server["id"])
    return succeeded("Server added to the sharing group.", "/sharing_groups/addServer")


@route("POST", r"/sharing_groups/removeServer/([0-9a-fA-F-]+)/(\d+)")
def sg_remove_server(m: MispTestDouble, user: dict[str, Any], body: Any, args: list[str]) -> Any:
    group, server = _quick_edit(m, args, "server")
    _, servers = m.sg_members(int(group["id"]))
    if server["id"] not in servers:
        raise failed("SharingGroup", "removeServer",
                     message="Could not remove Server from SharingGroup",
                     errors="Server is not in the sharing group.")
    # What 2.5.1 was recorded doing: removeServer/1/1 deleted SharingGroupServer row 1 (server 0 of
    # the group) and kept the row of server 1; the same call again answered "could not be removed".
    # The double deletes the row whose id is the server id, which reproduces both answers.
    if m.sg_servers.pop(int(server["id"]), None) is None:
        raise failed("SharingGroup", "removeServer",
                     message="Could not remove Server from SharingGroup",
                     errors="Server could not be removed from the sharing group.")
    return succeeded("Server removed from the sharing group.", "/sharing_groups/removeServer")


# events (minimal: stored, listed, published; never synchronised) -------------------------------

@route("POST", "/events/add")
def add_event(m: MispTestDouble, user: dict[str, Any], body: Any, args: list[str]) -> Any:
    data = body_of(body, "Event")
    distribution = str(data.get("distribution", "1"))
    group_id = "0"
    if distribution == "4":
        group = _find_sg(m, str(data.get("sharing_group_id", "")))
        if group is None:
            raise refused(405, "Invalid Sharing Group or not authorised.", "/events/add")
        group_id = group["id"]
    eid = next_id(m.events)
    org = m.orgs[int(user["org_id"])]
    attributes = []
    for index, attribute in enumerate(data.get("Attribute") or [], start=1):
        attributes.append({"id": str(sum(len(e["Attribute"]) for e in m.events.values()) + index),
                           "type": attribute.get("type", ""), "category": attribute.get("category", ""),
                           "to_ids": as_bool(attribute.get("to_ids", False)), "uuid": str(uuidlib.uuid4()),
                           "event_id": str(eid), "distribution": "5", "timestamp": now(), "comment": "",
                           "sharing_group_id": "0", "deleted": False, "disable_correlation": False,
                           "object_id": "0", "object_relation": None, "first_seen": None, "last_seen": None,
                           "value": str(attribute.get("value", "")), "Galaxy": [], "ShadowAttribute": []})
    event = {"id": str(eid), "orgc_id": org["id"], "org_id": org["id"], "date": time.strftime("%Y-%m-%d"),
             "threat_level_id": str(data.get("threat_level_id", "4")), "info": str(data.get("info", "")),
             "published": False, "uuid": str(uuidlib.uuid4()), "attribute_count": str(len(attributes)),
             "analysis": str(data.get("analysis", "0")), "timestamp": now(), "distribution": distribution,
             "proposal_email_lock": False, "locked": False, "publish_timestamp": "0", "sharing_group_id": group_id,
             "disable_correlation": False, "extends_uuid": "", "protected": None,
             "event_creator_email": user["email"], "Attribute": attributes}
    m.events[eid] = event
    org_short = {**pick(org, "id", "name", "uuid"), "local": org["local"]}
    return {"Event": {**{k: v for k, v in event.items() if k != "Attribute"}, "Org": org_short, "Orgc": org_short,
                      "Attribute": attributes, "ShadowAttribute": [], "RelatedEvent": [], "Galaxy": [], "Object": [],
                      "EventReport": [], "CryptographicKey": []}}


@route("POST", r"/events/publish/(\d+)")
def publish_event(m: MispTestDouble, user: dict[str, Any], body: Any, args: list[str]) -> Any:
    event = m.events.get(int(args[0]))
    if event is None:
        raise refused(404, "Invalid event", m.path)
    event["published"], event["publish_timestamp"] = True, now()
    return succeeded("Event published without alerts", m.path, id=args[0])


@route("GET", "/events/index")
def list_events(m: MispTestDouble, user: dict[str, Any], body: Any, args: list[str]) -> Any:
    answer = []
    for event in m.events.values():
        org = pick(m.orgs[int(event["org_id"])], "id", "name", "uuid")
        summary = {k: v for k, v in event.items() if k not in ("Attribute", "event_creator_email")}
        answer.append({**summary, "sighting_timestamp": "0", "Org": org, "Orgc": org, "EventTag": []})
    return answer


@route("GET", r"/attributes/attributeStatistics/(type|category)/([01])", access="any")
def attribute_statistics(m: MispTestDouble, user: dict[str, Any], body: Any, args: list[str]) -> Any:
    """AttributesController::attributeStatistics: count per type (or category), as text; with percentage
    1 the shares. Every stored attribute is counted (the double has no ACL on attributes)."""
    counts: dict[str, int] = {}
    for event in m.events.values():
        for attribute in event["Attribute"]:
            counts[attribute[args[0]]] = counts.get(attribute[args[0]], 0) + 1
    total = sum(counts.values()) or 1
    if args[1] == "1":
        return {name: f"{round(100 * n / total, 3)}%" for name, n in sorted(counts.items())}
    return {name: str(n) for name, n in sorted(counts.items())}


# HTTP ------------------------------------------------------------------------------------------

def dispatch(m: MispTestDouble, method: str, path: str, key: str, client_ip: str, body: Any,
             query: dict[str, str] | None = None) -> tuple[int, Any]:
    with m.lock:
        m.requests.append(Recorded(method, path, body))
        m.path = path
        m.query = query or {}
        try:
            user = m.authenticate(key, client_ip)
            for route_method, pattern, handler, access in ROUTES:
                match = pattern.match(path)
                if match and route_method in (method, "ANY"):
                    if access == "admin" and not m.role(user)["perm_site_admin"]:
                        raise refused(403, "You do not have permission to use this functionality.", path)
                    return 200, handler(m, user, body, list(match.groups()))
            raise refused(404, f"Could not find {path} ({method}) on this test double", path)
        except ApiError as error:
            return error.status, error.payload


class _Handler(BaseHTTPRequestHandler):
    double: MispTestDouble

    def _serve(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        path, _, query = self.path.partition("?")
        status, payload = dispatch(self.double, method, path.rstrip("/") or "/", self.headers.get("Authorization", ""),
                                   self.client_address[0], body, dict(urllib.parse.parse_qsl(query)))
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_PUT(self) -> None:
        self._serve("POST")

    def log_message(self, format: str, *args: Any) -> None:
        return


class RunningDouble:
    """A test double serving on 127.0.0.1 in a thread until ``stop()``."""

    def __init__(self, name: str, port: int = 0) -> None:
        self.state = MispTestDouble(name)
        handler = type(f"Handler_{name}", (_Handler,), {"double": self.state})
        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), handler)
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.state.url = self.url
        self.thread = threading.Thread(target=self.httpd.serve_forever, name=f"misp-double-{name}", daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
