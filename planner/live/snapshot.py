"""What the planner reads from each running instance, several instances at once.

Each endpoint is read once per instance (index endpoints page by page; one page unless an instance
holds more than client.PAGE_LIMIT entries); nothing is written. An instance that cannot be read
gets its error, and the others are still read.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from planner.live.client import LiveError, MispClient
from planner.misp import CORRELATION_ENGINE_SETTING, CORRELATION_OFF_SETTING, SIGHTINGS_POLICY_SETTING, ZMQ_SETTINGS

DEFAULT_CONCURRENCY = 8
# The settings import writes into the topology when they differ from MISP's defaults; drift also
# reads every setting the topology plans. Server.php's serverSettings lists them all.
IDENTITY_SETTINGS = ("MISP.uuid", "MISP.host_org_id", "MISP.baseurl")
# MISP's defaults of the settings import reads (Server.php serverSettings): only other values are written.
SETTING_DEFAULTS: dict[str, Any] = {CORRELATION_ENGINE_SETTING: "Default", CORRELATION_OFF_SETTING: False,
                                    SIGHTINGS_POLICY_SETTING: 0, **dict.fromkeys(ZMQ_SETTINGS, False)}
IMPORTED_SETTINGS = tuple(SETTING_DEFAULTS)


@dataclass(frozen=True)
class Target:
    """An instance to read: its id in the topology, URL, admin key and whether to check TLS."""

    id: str
    url: str
    key: str
    verify_tls: bool = True
    settings: tuple[str, ...] = ()  # settings to read beyond IDENTITY_SETTINGS and IMPORTED_SETTINGS

    def __repr__(self) -> str:  # the key is never shown
        return f"Target({self.id!r}, {self.url!r})"


@dataclass
class Snapshot:
    """One instance as its API shows it, in MISP's own shapes (ids are MISP's strings)."""

    id: str
    url: str
    version: str = ""
    settings: dict[str, Any] = field(default_factory=dict)  # name -> value; None: unknown to this MISP
    orgs: dict[str, dict[str, Any]] = field(default_factory=dict)  # local id -> Organisation
    servers: list[dict[str, Any]] = field(default_factory=list)  # /servers/index entries
    users: list[dict[str, Any]] = field(default_factory=list)  # /admin/users entries
    keys: list[dict[str, Any]] = field(default_factory=list)  # AuthKey records
    sharing_groups: list[dict[str, Any]] = field(default_factory=list)
    feeds: list[dict[str, Any]] = field(default_factory=list)  # Feed records
    tags: dict[str, str] = field(default_factory=dict)  # tag id -> name
    roles: dict[str, dict[str, Any]] = field(default_factory=dict)  # role id -> Role (name, perm_* flags)
    attributes: int = 0

    @property
    def uuid(self) -> str:
        return str(self.settings.get("MISP.uuid") or "").lower()

    @property
    def host_org(self) -> dict[str, Any]:
        return self.orgs.get(str(self.settings.get("MISP.host_org_id")), {})

    def role_name(self, role_id: Any) -> str:
        return str(self.roles.get(str(role_id), {}).get("name", role_id))

    def org_uuid(self, org_id: Any) -> str:
        return str(self.orgs.get(str(org_id), {}).get("uuid", "")).lower()


def read_instance(client: MispClient, name: str, extra_settings: Iterable[str] = ()) -> Snapshot:
    version = client.get("/servers/getVersion")
    if not isinstance(version, dict) or "version" not in version:
        raise LiveError("not-misp", f"{client.url}/servers/getVersion did not answer a MISP version; is "
                        f"{client.url} a MISP instance?")
    shot = Snapshot(name, client.url, version=str(version["version"]))
    for setting in dict.fromkeys([*IDENTITY_SETTINGS, *IMPORTED_SETTINGS, *extra_settings]):
        shot.settings[setting] = _setting(client, setting)
    for entry in client.pages("/organisations/index/scope:all"):
        org = entry.get("Organisation", entry)
        shot.orgs[str(org["id"])] = org
    shot.servers = client.pages("/servers/index")
    shot.users = client.pages("/admin/users")
    shot.keys = [entry.get("AuthKey", entry) for entry in client.pages("/auth_keys/index")]
    shot.sharing_groups = client.pages("/sharing_groups")
    shot.feeds = [entry.get("Feed", entry) for entry in client.pages("/feeds/index")]
    tags = client.get("/tags")
    for tag in tags.get("Tag", []) if isinstance(tags, dict) else []:
        shot.tags[str(tag["id"])] = str(tag["name"])
    roles = client.get("/roles")  # RolesController::index
    for entry in roles if isinstance(roles, list) else []:
        role = entry.get("Role", entry)
        shot.roles[str(role["id"])] = role
    counts = client.get("/attributes/attributeStatistics/type/0")
    shot.attributes = sum(int(n) for n in counts.values()) if isinstance(counts, dict) else 0
    return shot


def _setting(client: MispClient, name: str) -> Any:
    try:
        answer = client.get(f"/servers/getSetting/{name}")
    except LiveError as error:
        if error.kind == "not-misp":
            return None  # a setting this MISP version does not know (404)
        raise
    return answer.get("value") if isinstance(answer, dict) else None


Progress = Callable[[int, int, str], None]


def read_estate(targets: list[Target], concurrency: int = DEFAULT_CONCURRENCY,
                progress: Progress | None = None) -> dict[str, Snapshot | LiveError]:
    """Every target read, at most `concurrency` at a time; in the targets' order."""
    results: dict[str, Snapshot | LiveError] = {}
    done = 0

    def read(target: Target) -> tuple[str, Snapshot | LiveError]:
        client = MispClient(target.url, target.key, verify_tls=target.verify_tls)
        try:
            return target.id, read_instance(client, target.id, target.settings)
        except LiveError as error:
            return target.id, error
        except (KeyError, TypeError, ValueError, AttributeError):
            return target.id, LiveError("not-misp", f"{target.url} answered in shapes MISP does not use; is it a "
                                        "MISP instance?")

    with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
        for iid, result in pool.map(read, targets):
            results[iid] = result
            done += 1
            if progress is not None:
                progress(done, len(targets), iid)
    return {t.id: results[t.id] for t in targets}


def stderr_progress(total: int) -> Progress | None:
    """A line per instance on stderr for estates of many instances (none for a handful)."""
    if total < 10:
        return None

    def report(done: int, count: int, iid: str) -> None:
        sys.stderr.write(f"read {done}/{count}: {iid}\n")

    return report
