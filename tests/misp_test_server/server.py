"""A TEST DOUBLE of MISP's REST contract, for the Ansible modules' tests. It is not MISP.

It keeps state in memory, serves real HTTP on 127.0.0.1, and enforces the validation rules the
modules depend on as REFERENCE.md describes them (§1.2-§1.5, §2.6, §3.3, §6.1, §11): required
fields, 40-character keys shown once, remote org by id or UUID, `internal` only towards the host
org, role "Sync user", connection tests that call the remote test server's `/servers/getVersion`
over HTTP with the stored key. Several run side by side on different ports.

Every request is recorded (method, path, JSON body) so that the contract test can check the
bodies against MISP's OpenAPI document, and every key it issues is recorded so that tests can
search generated files, logs and runner artifacts for them.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import json
import re
import secrets
import string
import threading
import time
import urllib.error
import urllib.request
import uuid as uuidlib
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

VERSION = "2.5.1"
KEY_ALPHABET = string.ascii_letters + string.digits
KEY_PATTERN = re.compile(r"^[A-Za-z0-9]{40}$")  # AppModel::validateAuthkey (REFERENCE §1.2)

# Default roles of a fresh install (REFERENCE §1.5, §11), with the permissions sync depends on.
ROLES: dict[int, dict[str, Any]] = {
    1: {"name": "admin", "perm_site_admin": True, "perm_sync": True, "perm_sighting": True, "perm_admin": True},
    2: {"name": "Org Admin", "perm_site_admin": False, "perm_sync": False, "perm_sighting": True, "perm_admin": True},
    3: {"name": "User", "perm_site_admin": False, "perm_sync": False, "perm_sighting": True, "perm_admin": False},
    4: {"name": "Publisher", "perm_site_admin": False, "perm_sync": False, "perm_sighting": True, "perm_admin": False},
    5: {"name": "Sync user", "perm_site_admin": False, "perm_sync": True, "perm_sighting": True, "perm_admin": False},
    6: {"name": "Read Only", "perm_site_admin": False, "perm_sync": False, "perm_sighting": False, "perm_admin": False},
}

SERVER_FLAGS = ("push", "pull", "push_sightings", "push_galaxy_clusters", "pull_galaxy_clusters",
                "push_analyst_data", "pull_analyst_data", "caching_enabled", "unpublish_event",
                "publish_without_email", "self_signed", "internal", "skip_proxy", "remove_missing_tags")
# ServersController::edit's editable fields (REFERENCE §1.4).
SERVER_EDITABLE = (*SERVER_FLAGS, "url", "remote_org_id", "name", "cert_file", "client_cert_file",
                   "push_rules", "pull_rules", "authkey", "submitted_cert")
DEFAULT_PUSH_RULES = '{"tags":{"OR":[],"NOT":[]},"orgs":{"OR":[],"NOT":[]}}'
DEFAULT_PULL_RULES = ('{"tags":{"OR":[],"NOT":[]},"orgs":{"OR":[],"NOT":[]},"type_attributes":{"NOT":[]},'
                      '"type_objects":{"NOT":[]},"url_params":""}')
FEED_REQUIRED = ("source_format", "url", "name", "input_source", "provider")  # REFERENCE §3.3


class ApiError(Exception):
    def __init__(self, status: int, payload: dict[str, Any]) -> None:
        super().__init__(payload.get("message", ""))
        self.status = status
        self.payload = payload


def refuse(status: int, message: str, errors: dict[str, list[str]] | None = None) -> ApiError:
    return ApiError(status, {"saved": False, "name": message, "message": message, "url": "",
                             "errors": errors or {}})


def new_key() -> str:
    return "".join(secrets.choice(KEY_ALPHABET) for _ in range(40))


def as_bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.lower() in ("1", "true")
    return bool(value)


@dataclass
class Recorded:
    method: str
    path: str
    body: Any


@dataclass
class MispTestDouble:
    """State of one fake MISP instance."""

    name: str
    orgs: dict[int, dict[str, Any]] = field(default_factory=dict)
    users: dict[int, dict[str, Any]] = field(default_factory=dict)
    keys: dict[int, dict[str, Any]] = field(default_factory=dict)
    servers: dict[int, dict[str, Any]] = field(default_factory=dict)
    feeds: dict[int, dict[str, Any]] = field(default_factory=dict)
    tags: dict[int, dict[str, Any]] = field(default_factory=dict)
    sharing_groups: dict[int, dict[str, Any]] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    requests: list[Recorded] = field(default_factory=list)
    issued_keys: list[str] = field(default_factory=list)
    lock: threading.RLock = field(default_factory=threading.RLock)
    admin_key: str = ""
    url: str = ""

    def __post_init__(self) -> None:
        # A fresh install: org 1 "ORGNAME" with a random UUID is the host org, user 1 is its admin.
        self.orgs[1] = {"id": "1", "name": "ORGNAME", "uuid": str(uuidlib.uuid4()), "local": True,
                        "nationality": "", "sector": "", "type": ""}
        self.users[1] = {"id": "1", "email": "admin@admin.test", "org_id": "1", "role_id": "1", "disabled": False}
        self.settings = {"MISP.host_org_id": 1, "MISP.baseurl": "", "MISP.external_baseurl": "",
                         "MISP.uuid": str(uuidlib.uuid4()), "Plugin.ZeroMQ_enable": False}
        self.admin_key = self._mint(1, "initial admin key", 0, [], record=False)

    def snapshot(self) -> dict[str, Any]:
        """Everything an apply may change, as a comparable value."""
        import copy

        with self.lock:
            return copy.deepcopy({"orgs": self.orgs, "users": self.users, "keys": self.keys, "servers": self.servers,
                                  "feeds": self.feeds, "tags": self.tags, "sharing_groups": self.sharing_groups,
                                  "settings": self.settings})

    # keys -------------------------------------------------------------------------------------

    def _mint(self, user_id: int, comment: str, expiration: int, allowed_ips: list[str], record: bool = True) -> str:
        raw = new_key()
        kid = next_id(self.keys)
        self.keys[kid] = {"id": str(kid), "uuid": str(uuidlib.uuid4()), "user_id": str(user_id),
                          "hash": hashlib.sha256(raw.encode()).hexdigest(), "authkey_start": raw[:4],
                          "authkey_end": raw[-4:], "comment": comment, "expiration": str(expiration),
                          "allowed_ips": allowed_ips or None, "read_only": False}
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
                return user
        raise refuse(403, "Authentication failed. Please make sure you pass the API key of an API enabled user "
                     "along in the Authorization header.")

    # helpers ----------------------------------------------------------------------------------

    def org(self, ref: Any) -> dict[str, Any] | None:
        """An organisation by local id or UUID (MISP accepts both for remote_org_id, REFERENCE §1.4)."""
        text = str(ref)
        if text.isdigit():
            return self.orgs.get(int(text))
        return next((o for o in self.orgs.values() if o["uuid"].lower() == text.lower()), None)

    def role(self, user: dict[str, Any]) -> dict[str, Any]:
        return ROLES[int(user["role_id"])]

    def server_item(self, server: dict[str, Any], with_key: bool = False) -> dict[str, Any]:
        hidden = {"ca_pem"} if with_key else {"ca_pem", "authkey"}  # the CA file's content is not in the API
        shown = {k: v for k, v in server.items() if k not in hidden}
        return {"Server": shown, "Organisation": self.orgs.get(int(server["org_id"]), {}),
                "RemoteOrg": self.orgs.get(int(server["remote_org_id"]), {}), "User": []}

    def sg_item(self, group: dict[str, Any]) -> dict[str, Any]:
        return {"SharingGroup": {k: v for k, v in group.items() if k not in ("orgs", "servers")},
                "Organisation": self.orgs.get(int(group["org_id"]), {}),
                "SharingGroupOrg": [{"org_id": oid, "extend": False, "Organisation": self.orgs[int(oid)]}
                                    for oid in group["orgs"]],
                "SharingGroupServer": [{"server_id": sid, "all_orgs": False,
                                        "Server": self.servers.get(int(sid), {"id": "0", "name": "Local instance"})}
                                       for sid in group["servers"]]}


Handler = Callable[["MispTestDouble", dict[str, Any], Any, list[str]], Any]
ROUTES: list[tuple[str, re.Pattern[str], Handler, str]] = []


def route(method: str, pattern: str, access: str = "admin") -> Callable[[Handler], Handler]:
    """access: "admin" (site admin), "any" (any authenticated user)."""
    def register(fn: Handler) -> Handler:
        ROUTES.append((method, re.compile(f"^{pattern}$"), fn, access))
        return fn
    return register


def body_of(body: Any, wrapper: str) -> dict[str, Any]:
    """MISP accepts `{"Server": {...}}` as well as the bare object (REFERENCE §1.4)."""
    if not isinstance(body, dict):
        raise refuse(400, "The request body is not a JSON object.")
    inner = body.get(wrapper, body)
    return dict(inner) if isinstance(inner, dict) else {}


def next_id(table: dict[int, Any]) -> int:
    return max(table, default=0) + 1


# version, settings -----------------------------------------------------------------------------

@route("GET", "/servers/getVersion", access="any")
def get_version(m: MispTestDouble, user: dict[str, Any], body: Any, args: list[str]) -> Any:
    role = m.role(user)
    answer = {"version": VERSION, "perm_sync": role["perm_sync"], "perm_sighting": role["perm_sighting"],
              "perm_galaxy_editor": role["perm_sync"], "perm_analyst_data": role["perm_sync"],
              "request_encoding": ["gzip"], "filter_sightings": True}
    if role["perm_sync"]:
        answer["uuid"] = m.settings["MISP.uuid"]  # only for sync users (REFERENCE §1.4)
    return answer


@route("POST", "/servers/postTest", access="any")
def post_test(m: MispTestDouble, user: dict[str, Any], body: Any, args: list[str]) -> Any:
    return {"body": json.dumps(body), "headers": {}}


@route("GET", r"/servers/getSetting/([A-Za-z0-9_.]+)")
def get_setting(m: MispTestDouble, user: dict[str, Any], body: Any, args: list[str]) -> Any:
    name = args[0]
    if not re.match(r"^[A-Za-z]+\.[A-Za-z0-9_]+$", name):
        raise refuse(404, "Setting not found.")
    return {"name": name, "value": m.settings.get(name, ""), "type": "string"}


@route("POST", r"/servers/serverSettingsEdit/([A-Za-z0-9_.]+)")
def edit_setting(m: MispTestDouble, user: dict[str, Any], body: Any, args: list[str]) -> Any:
    if not isinstance(body, dict) or "value" not in body:
        raise refuse(400, "Invalid input. Expected: {\"value\": \"new value\"}")
    name, value = args[0], body["value"]
    if name == "MISP.host_org_id" and m.org(value) is None:
        raise refuse(403, "Invalid organisation.")
    m.settings[name] = value
    return {"saved": True, "success": True, "name": "Field updated", "message": "Field updated", "url": ""}


# organisations ---------------------------------------------------------------------------------

@route("GET", r"/organisations/view/([0-9a-fA-F-]+)", access="any")
def view_org(m: MispTestDouble, user: dict[str, Any], body: Any, args: list[str]) -> Any:
    org = m.org(args[0])
    if org is None:
        raise refuse(404, "Invalid organisation")
    return {"Organisation": org}


def _check_org_fields(m: MispTestDouble, data: dict[str, Any], current: dict[str, Any] | None) -> None:
    name = data.get("name", current["name"] if current else None)
    if not name:
        raise refuse(403, "The organisation could not be saved.", {"name": ["Please enter a name."]})
    for other in m.orgs.values():
        if other is current:
            continue
        if other["name"].lower() == str(name).lower():
            # REFERENCE §11: a duplicate name is refused, match by UUID first.
            raise refuse(403, "The organisation could not be saved.",
                         {"name": ["An organisation with this name already exists."]})
        if "uuid" in data and other["uuid"].lower() == str(data["uuid"]).lower():
            raise refuse(403, "The organisation could not be saved.",
                         {"uuid": ["An organisation with this UUID already exists."]})


@route("POST", "/admin/organisations/add")
def add_org(m: MispTestDouble, user: dict[str, Any], body: Any, args: list[str]) -> Any:
    data = body_of(body, "Organisation")
    _check_org_fields(m, data, None)
    oid = next_id(m.orgs)
    org = {"id": str(oid), "name": data["name"], "uuid": data.get("uuid") or str(uuidlib.uuid4()),
           "local": as_bool(data.get("local", True)), "nationality": data.get("nationality") or "",
           "sector": data.get("sector") or "", "type": data.get("type") or ""}
    m.orgs[oid] = org
    return {"Organisation": org}


@route("POST", r"/admin/organisations/edit/(\d+)")
def edit_org(m: MispTestDouble, user: dict[str, Any], body: Any, args: list[str]) -> Any:
    org = m.orgs.get(int(args[0]))
    if org is None:
        raise refuse(404, "Invalid organisation")
    data = body_of(body, "Organisation")
    _check_org_fields(m, data, org)
    for key in ("name", "uuid", "nationality", "sector", "type"):
        if key in data:
            org[key] = data[key]
    if "local" in data:
        org["local"] = as_bool(data["local"])
    return {"Organisation": org}


# users and keys --------------------------------------------------------------------------------

@route("GET", "/admin/users")
def list_users(m: MispTestDouble, user: dict[str, Any], body: Any, args: list[str]) -> Any:
    return [{"User": u, "Role": {"id": u["role_id"], **m.role(u)}, "Organisation": m.orgs[int(u["org_id"])]}
            for u in m.users.values()]


@route("POST", "/admin/users/add")
def add_user(m: MispTestDouble, user: dict[str, Any], body: Any, args: list[str]) -> Any:
    data = body_of(body, "User")
    email = data.get("email")
    if not email or "@" not in str(email):
        raise refuse(403, "The user could not be saved.", {"email": ["An email address is required."]})
    if any(u["email"].lower() == str(email).lower() for u in m.users.values()):
        raise refuse(403, "The user could not be saved.", {"email": ["An account with this email already exists."]})
    role_id = int(data.get("role_id", 3))
    if role_id not in ROLES:
        raise refuse(403, "Invalid role")
    org_id = str(data.get("org_id", user["org_id"]))
    if m.org(org_id) is None:
        raise refuse(403, "Invalid organisation")
    uid = next_id(m.users)
    new = {"id": str(uid), "email": email, "org_id": org_id, "role_id": str(role_id),
           "disabled": as_bool(data.get("disabled", False)),
           "change_pw": as_bool(data.get("change_pw", True)),
           "termsaccepted": as_bool(data.get("termsaccepted", False)),
           # the legacy field is not a usable key with advanced authkeys on (REFERENCE §11)
           "authkey": new_key()}
    m.users[uid] = new
    return {"User": new}


@route("POST", r"/admin/users/edit/(\d+)")
def edit_user(m: MispTestDouble, user: dict[str, Any], body: Any, args: list[str]) -> Any:
    target = m.users.get(int(args[0]))
    if target is None:
        raise refuse(404, "Invalid user")
    data = body_of(body, "User")
    if "role_id" in data and int(data["role_id"]) not in ROLES:
        raise refuse(403, "Invalid role")
    if "org_id" in data and m.org(data["org_id"]) is None:
        raise refuse(403, "Invalid organisation")
    for key in ("email", "org_id", "role_id"):
        if key in data:
            target[key] = str(data[key])
    if "disabled" in data:
        target["disabled"] = as_bool(data["disabled"])
    return {"User": target}


@route("POST", "/auth_keys")
def search_keys(m: MispTestDouble, user: dict[str, Any], body: Any, args: list[str]) -> Any:
    wanted = str(body.get("user_id", "")) if isinstance(body, dict) else ""
    return [{"AuthKey": {k: v for k, v in key.items() if k != "hash"}} for key in m.keys.values()
            if not wanted or key["user_id"] == wanted]


def _cidrs(value: Any) -> list[str]:
    """allowed_ips as an array or a comma/newline separated string (REFERENCE §1.5)."""
    ips = value or []
    if isinstance(ips, str):
        ips = [part.strip() for part in re.split(r"[,\n]", ips) if part.strip()]
    for cidr in ips:
        try:
            ipaddress.ip_network(cidr, strict=False)
        except ValueError:
            raise refuse(403, "The auth key could not be saved.",
                         {"allowed_ips": [f"Invalid IP address {cidr}"]}) from None
    return list(ips)


@route("POST", r"/auth_keys/add/(\d+)")
def add_key(m: MispTestDouble, user: dict[str, Any], body: Any, args: list[str]) -> Any:
    owner = m.users.get(int(args[0]))
    if owner is None:
        raise refuse(404, "Invalid user")
    data = body_of(body, "AuthKey")
    ips = _cidrs(data.get("allowed_ips"))
    expiration = data.get("expiration", 0) or 0
    if isinstance(expiration, str) and not expiration.isdigit():
        expiration = int(time.mktime(time.strptime(expiration, "%Y-%m-%d")))
    # A key supplied by the caller is ignored: a random one is generated (REFERENCE §11).
    raw = m._mint(int(owner["id"]), str(data.get("comment", "")), int(expiration), list(ips))
    key = next(k for k in m.keys.values() if k["authkey_start"] == raw[:4] and k["authkey_end"] == raw[-4:])
    return {"AuthKey": {**{k: v for k, v in key.items() if k != "hash"}, "authkey_raw": raw}}


@route("POST", r"/auth_keys/edit/(\d+)")
def edit_key(m: MispTestDouble, user: dict[str, Any], body: Any, args: list[str]) -> Any:
    key = m.keys.get(int(args[0]))
    if key is None:
        raise refuse(404, "Invalid auth key")
    data = body_of(body, "AuthKey")
    if "allowed_ips" in data:
        key["allowed_ips"] = _cidrs(data["allowed_ips"]) or None
    if "comment" in data:
        key["comment"] = str(data["comment"])
    return {"AuthKey": {k: v for k, v in key.items() if k != "hash"}}


@route("POST", r"/auth_keys/delete/(\d+)")
def delete_key(m: MispTestDouble, user: dict[str, Any], body: Any, args: list[str]) -> Any:
    if m.keys.pop(int(args[0]), None) is None:
        raise refuse(404, "Invalid auth key")
    return {"saved": True, "success": True, "message": "AuthKey deleted."}


# servers ---------------------------------------------------------------------------------------

def _check_rules(data: dict[str, Any]) -> None:
    for key in ("push_rules", "pull_rules"):
        if key in data:
            try:
                if not isinstance(data[key], str):
                    raise ValueError
                json.loads(data[key])
            except ValueError:
                raise refuse(403, "The server could not be saved.", {key: ["Invalid JSON."]}) from None


def _internal_allowed(m: MispTestDouble, remote_org_id: str) -> bool:
    # REFERENCE §1.2, §11: internal is forced to 0 unless the remote org is the host org.
    return str(m.settings.get("MISP.host_org_id")) == str(remote_org_id)


@route("GET", "/servers/index")
def list_servers(m: MispTestDouble, user: dict[str, Any], body: Any, args: list[str]) -> Any:
    return [m.server_item(s) for s in m.servers.values()]


@route("POST", "/servers/add")
def add_server(m: MispTestDouble, user: dict[str, Any], body: Any, args: list[str]) -> Any:
    data = body_of(body, "Server")
    if not data.get("url"):
        # MISP 2.5.1 answers a SQL error here, not a validation message (REFERENCE §11).
        raise ApiError(500, {"name": "An Internal Error Has Occurred.", "message": "An Internal Error Has Occurred.",
                             "url": "/servers/add"})
    for required in ("name", "remote_org_id", "authkey"):
        if not data.get(required):
            raise refuse(403, f"Server could not be added: the field {required} is mandatory.")
    if not KEY_PATTERN.match(str(data["authkey"])):
        raise refuse(403, "The server could not be saved.", {"authkey": ["A authkey is 40 alphanumeric characters."]})
    remote = m.org(data["remote_org_id"])
    if remote is None:
        raise refuse(403, "Invalid remote organisation.")
    _check_rules(data)
    sid = next_id(m.servers)
    server: dict[str, Any] = {"id": str(sid), "name": data["name"], "url": str(data["url"]).rstrip("/"),
                              "authkey": data["authkey"], "org_id": str(user["org_id"]),
                              "remote_org_id": remote["id"], "push_rules": data.get("push_rules", DEFAULT_PUSH_RULES),
                              "pull_rules": data.get("pull_rules", DEFAULT_PULL_RULES), "priority": str(sid),
                              "cert_file": None, "client_cert_file": None}
    for flag in SERVER_FLAGS:
        server[flag] = as_bool(data.get(flag, False))
    if server["internal"] and not _internal_allowed(m, remote["id"]):
        server["internal"] = False
    _store_cert(server, data)
    m.servers[sid] = server
    return m.server_item(server, with_key=True)  # echoes the key, as MISP 2.5.1 does (REFERENCE §11)


@route("POST", r"/servers/edit/(\d+)")
def edit_server(m: MispTestDouble, user: dict[str, Any], body: Any, args: list[str]) -> Any:
    server = m.servers.get(int(args[0]))
    if server is None:
        raise refuse(404, "Invalid server")
    data = body_of(body, "Server")
    unknown = set(data) - set(SERVER_EDITABLE)
    if unknown:
        raise refuse(403, f"Fields not editable: {sorted(unknown)}")
    _check_rules(data)
    if data.get("authkey"):
        if not KEY_PATTERN.match(str(data["authkey"])):
            raise refuse(403, "The server could not be saved.",
                         {"authkey": ["A authkey is 40 alphanumeric characters."]})
        server["authkey"] = data["authkey"]
    if "remote_org_id" in data:
        remote = m.org(data["remote_org_id"])
        if remote is None:
            raise refuse(403, "Invalid remote organisation.")
        server["remote_org_id"] = remote["id"]
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
            raise refuse(403, "The server could not be saved.", {"submitted_cert": ["Invalid certificate."]})
        server["cert_file"] = f"{server['id']}.pem"
        server["ca_pem"] = pem


@route("GET", r"/servers/testConnection/(\d+)")
def test_connection(m: MispTestDouble, user: dict[str, Any], body: Any, args: list[str]) -> Any:
    server = m.servers.get(int(args[0]))
    if server is None:
        raise refuse(404, "Invalid server")
    request = urllib.request.Request(server["url"] + "/servers/getVersion",
                                     headers={"Authorization": server["authkey"], "Accept": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            remote = json.loads(response.read())
    except urllib.error.HTTPError as error:
        return {"status": 4 if error.code in (401, 403) else 3}
    except (urllib.error.URLError, OSError, ValueError):
        return {"status": 2}
    if not remote.get("perm_sync") and not remote.get("perm_sighting"):
        status = 7
    elif not remote.get("perm_sync"):
        status = 8
    else:
        status = 1
    return {"status": status, "version": remote.get("version"), "local_version": VERSION, "mismatch": "proposal",
            "newer": "", "post": 1 if status == 1 else None, "uuid": remote.get("uuid")}


# tags, feeds -----------------------------------------------------------------------------------

@route("GET", r"/tags/search/(.+)", access="any")
def search_tags(m: MispTestDouble, user: dict[str, Any], body: Any, args: list[str]) -> Any:
    term = urllib.request.unquote(args[0]).lower()
    return [{"Tag": t} for t in m.tags.values() if term in t["name"].lower()]


@route("POST", "/tags/add")
def add_tag(m: MispTestDouble, user: dict[str, Any], body: Any, args: list[str]) -> Any:
    data = body_of(body, "Tag")
    name = data.get("name")
    if not name:
        raise refuse(403, "The tag could not be added.", {"name": ["A name is required."]})
    if any(t["name"] == name for t in m.tags.values()):
        raise refuse(403, "The tag could not be added.", {"name": ["A tag with this name already exists."]})
    tid = next_id(m.tags)
    m.tags[tid] = {"id": str(tid), "name": name, "colour": data.get("colour", "#ffffff"), "exportable": True}
    return {"Tag": m.tags[tid]}


def _feed_values(m: MispTestDouble, data: dict[str, Any], feed: dict[str, Any]) -> None:
    for key in ("name", "provider", "url", "source_format", "input_source", "distribution", "sharing_group_id"):
        if key in data:
            feed[key] = str(data[key])
    for key in ("enabled", "caching_enabled", "publish", "lookup_visible"):
        if key in data:
            feed[key] = as_bool(data[key])
    if feed["source_format"] not in ("misp", "freetext", "csv", "1"):
        raise refuse(403, "The feed could not be saved.", {"source_format": ["Invalid source format."]})
    if feed["input_source"] not in ("network", "local"):
        raise refuse(403, "The feed could not be saved.", {"input_source": ["Invalid input source."]})
    if feed["distribution"] == "4" and int(feed.get("sharing_group_id") or 0) not in m.sharing_groups:
        raise refuse(403, "The feed could not be saved.", {"sharing_group_id": ["Invalid sharing group."]})


@route("GET", "/feeds")
def list_feeds(m: MispTestDouble, user: dict[str, Any], body: Any, args: list[str]) -> Any:
    return [{"Feed": f} for f in m.feeds.values()]


@route("POST", "/feeds/add")
def add_feed(m: MispTestDouble, user: dict[str, Any], body: Any, args: list[str]) -> Any:
    data = body_of(body, "Feed")
    missing = [k for k in FEED_REQUIRED if not data.get(k)]
    if missing:
        raise refuse(403, f"Feed could not be added: the fields {missing} are mandatory.")
    fid = next_id(m.feeds)
    feed: dict[str, Any] = {"id": str(fid), "distribution": "0", "sharing_group_id": "0", "enabled": False,
                            "caching_enabled": False, "publish": False, "lookup_visible": False,
                            "source_format": "freetext", "input_source": "network"}
    _feed_values(m, data, feed)
    m.feeds[fid] = feed
    return {"Feed": feed}


@route("POST", r"/feeds/edit/(\d+)")
def edit_feed(m: MispTestDouble, user: dict[str, Any], body: Any, args: list[str]) -> Any:
    feed = m.feeds.get(int(args[0]))
    if feed is None:
        raise refuse(404, "Invalid feed")
    _feed_values(m, body_of(body, "Feed"), feed)
    return {"Feed": feed}


# sharing groups --------------------------------------------------------------------------------

@route("GET", "/sharing_groups")
def list_sgs(m: MispTestDouble, user: dict[str, Any], body: Any, args: list[str]) -> Any:
    return [m.sg_item(g) for g in m.sharing_groups.values()]


def _sg(m: MispTestDouble, ref: str) -> dict[str, Any]:
    group = m.sharing_groups.get(int(ref))
    if group is None:
        raise refuse(404, "Invalid sharing group")
    return group


@route("GET", r"/sharing_groups/view/(\d+)")
def view_sg(m: MispTestDouble, user: dict[str, Any], body: Any, args: list[str]) -> Any:
    return m.sg_item(_sg(m, args[0]))


@route("POST", "/sharing_groups/add")
def add_sg(m: MispTestDouble, user: dict[str, Any], body: Any, args: list[str]) -> Any:
    data = body_of(body, "SharingGroup")
    for required in ("name", "releasability"):
        if required not in data:
            raise refuse(403, f"Sharing group could not be added: the field {required} is mandatory.")
    if any(g["uuid"] == data.get("uuid") for g in m.sharing_groups.values()):
        raise refuse(403, "The sharing group could not be saved.", {"uuid": ["UUID already in use."]})
    gid = next_id(m.sharing_groups)
    roaming = as_bool(data.get("roaming", False))
    group = {"id": str(gid), "uuid": data.get("uuid") or str(uuidlib.uuid4()), "name": data["name"],
             "releasability": data["releasability"], "description": data.get("description", ""),
             "roaming": roaming, "active": as_bool(data.get("active", True)), "local": True,
             "org_id": str(user["org_id"]), "organisation_uuid": m.orgs[int(user["org_id"])]["uuid"],
             # A non-roaming group created over REST without servers lists "this instance" (REFERENCE §1.5).
             "orgs": [], "servers": [] if roaming else ["0"]}
    m.sharing_groups[gid] = group
    return m.sg_item(group)


@route("POST", r"/sharing_groups/edit/(\d+)")
def edit_sg(m: MispTestDouble, user: dict[str, Any], body: Any, args: list[str]) -> Any:
    group = _sg(m, args[0])
    data = body_of(body, "SharingGroup")
    for key in ("name", "releasability", "description"):
        if key in data:
            group[key] = data[key]
    if "roaming" in data:
        group["roaming"] = as_bool(data["roaming"])
    return m.sg_item(group)


@route("POST", r"/sharing_groups/addOrg/(\d+)/(\d+)")
def sg_add_org(m: MispTestDouble, user: dict[str, Any], body: Any, args: list[str]) -> Any:
    group = _sg(m, args[0])
    if m.org(args[1]) is None:
        raise refuse(404, "Invalid organisation")
    if args[1] not in group["orgs"]:
        group["orgs"].append(args[1])
    return {"saved": True, "success": True, "message": "Organisation added to the sharing group."}


@route("POST", r"/sharing_groups/removeOrg/(\d+)/(\d+)")
def sg_remove_org(m: MispTestDouble, user: dict[str, Any], body: Any, args: list[str]) -> Any:
    group = _sg(m, args[0])
    if args[1] not in group["orgs"]:
        raise refuse(404, "Organisation is not in the sharing group")
    group["orgs"].remove(args[1])
    return {"saved": True, "success": True, "message": "Organisation removed from the sharing group."}


@route("POST", r"/sharing_groups/addServer/(\d+)/(\d+)")
def sg_add_server(m: MispTestDouble, user: dict[str, Any], body: Any, args: list[str]) -> Any:
    group = _sg(m, args[0])
    if args[1] != "0" and int(args[1]) not in m.servers:
        raise refuse(404, "Invalid server")
    if args[1] not in group["servers"]:
        group["servers"].append(args[1])
    return {"saved": True, "success": True, "message": "Server added to the sharing group."}


@route("POST", r"/sharing_groups/removeServer/(\d+)/(\d+)")
def sg_remove_server(m: MispTestDouble, user: dict[str, Any], body: Any, args: list[str]) -> Any:
    group = _sg(m, args[0])
    if args[1] not in group["servers"]:
        raise refuse(404, "Server is not in the sharing group")
    group["servers"].remove(args[1])
    return {"saved": True, "success": True, "message": "Server removed from the sharing group."}


# HTTP ------------------------------------------------------------------------------------------

def dispatch(m: MispTestDouble, method: str, path: str, key: str, client_ip: str, body: Any) -> tuple[int, Any]:
    with m.lock:
        m.requests.append(Recorded(method, path, body))
        try:
            user = m.authenticate(key, client_ip)
            for route_method, pattern, handler, access in ROUTES:
                match = pattern.match(path)
                if match and route_method == method:
                    if access == "admin" and not m.role(user)["perm_site_admin"]:
                        raise refuse(403, "You do not have permission to use this functionality.")
                    return 200, handler(m, user, body, list(match.groups()))
            raise refuse(404, f"Could not find {path} ({method}) on this test double")
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
        status, payload = dispatch(self.double, method, self.path.split("?")[0].rstrip("/") or "/",
                                   self.headers.get("Authorization", ""), self.client_address[0], body)
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
