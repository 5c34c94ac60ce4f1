"""Reading MISP's records the way the planner's language speaks of them: ids from names, filters
from push/pull rules, the instance a URL names. Shared by import and drift."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from planner.ansible.project import MARK
from planner.flows.versions import default_sync_role
from planner.live.snapshot import Snapshot

_MARKED = re.compile(rf"^(?P<id>[a-z][a-z0-9-]{{0,62}}) \({re.escape(MARK)}\)$")


def slug(text: str, fallback: str = "x") -> str:
    """A topology id from a MISP name: lower case, runs of other characters become '-'."""
    value = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:63].strip("-")
    if not value or not value[0].isalpha():
        value = f"{fallback}-{value}".strip("-")[:63]
    return value


def marked_id(name: str) -> str | None:
    """The topology id in a name the play gave (`hub (misp-planner)`), None for a hand-made name."""
    match = _MARKED.match(name or "")
    return match.group("id") if match else None


def url_key(url: Any) -> str:
    return str(url or "").rstrip("/").lower()


def host_id(url: str) -> str:
    return slug((urlsplit(url).hostname or "remote").split(".")[0], "misp")


def truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.lower() in ("1", "true")
    return bool(value)


@dataclass(frozen=True)
class Filter:
    """A push or pull filter: tag names and organisation UUIDs (lists as MISP stores them)."""

    tags_include: tuple[str, ...] = ()
    tags_exclude: tuple[str, ...] = ()
    orgs_include: tuple[str, ...] = ()
    orgs_exclude: tuple[str, ...] = ()


def _rules(text: Any) -> dict[str, Any]:
    try:
        value = json.loads(text) if isinstance(text, str) and text else text
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _pair(rules: dict[str, Any], key: str) -> tuple[list[str], list[str]]:
    part = rules.get(key) or {}
    if not isinstance(part, dict):
        return [], []
    return [str(x) for x in part.get("OR") or []], [str(x) for x in part.get("NOT") or []]


def entry_filter(shot: Snapshot, server: dict[str, Any], direction: str) -> Filter:
    """Push rules hold the initiator's local tag and organisation ids; pull rules tag names and
    organisation UUIDs, evaluated on the remote (ServersController::add, Server::fetchServer)."""
    rules = _rules(server.get(f"{direction}_rules"))
    tags_or, tags_not = _pair(rules, "tags")
    orgs_or, orgs_not = _pair(rules, "orgs")
    if direction == "push":
        tags_or = [shot.tags.get(t, t) for t in tags_or]
        tags_not = [shot.tags.get(t, t) for t in tags_not]
        orgs_or = [shot.org_uuid(o) or o for o in orgs_or]
        orgs_not = [shot.org_uuid(o) or o for o in orgs_not]
    return Filter(tuple(tags_or), tuple(tags_not), tuple(o.lower() for o in orgs_or),
                  tuple(o.lower() for o in orgs_not))


def server_record(entry: dict[str, Any]) -> dict[str, Any]:
    server: dict[str, Any] = entry.get("Server", entry)
    return server


def remote_org_uuid(entry: dict[str, Any]) -> str:
    return str((entry.get("RemoteOrg") or {}).get("uuid", "")).lower()


def entries_by_link(shot: Snapshot) -> dict[tuple[str, str], dict[str, Any]]:
    """An instance's server entries by (remote URL, remote org UUID), the key :func:`planned_link`
    gives a link the generated project makes: how drift pairs what runs with what is planned."""
    return {(url_key(server_record(e)["url"]), remote_org_uuid(e)): e for e in shot.servers}


def planned_link(link: dict[str, Any]) -> tuple[str, str]:
    """The key of a planned link (an item of a host's ``misp_links_as_initiator``) among
    :func:`entries_by_link`."""
    return url_key(link["remote_url"]), str(link["remote_org"]["uuid"]).lower()


def sync_user_ids(shot: Snapshot, org_uuid: str) -> set[str]:
    """The users of an organisation whose role may sync (perm_sync) and is not a site admin's: the sync
    users peers hold keys of (a site admin's role syncs too, but no generated link holds its key)."""
    def sync_only(role_id: Any) -> bool:
        role = shot.roles.get(str(role_id), {})
        return truthy(role.get("perm_sync")) and not truthy(role.get("perm_site_admin"))

    return {str(u["User"]["id"]) for u in shot.users
            if shot.org_uuid(u["User"]["org_id"]) == org_uuid and sync_only(u["User"]["role_id"])}


def unusual_sync_role(initiator: Snapshot, remote: Snapshot | None, internal: bool) -> str | None:
    """The role of the initiator's sync user on the remote (when the remote was read), unless it is the
    one the planner chooses anyway (planner.flows.versions.sync_role: MISP's Sync user, or the planner's
    internal one on an internal link to a remote whose roles have perm_sync_internal)."""
    if remote is None:
        return None
    host_uuid = initiator.host_org.get("uuid", "").lower()
    users = sync_user_ids(remote, host_uuid)
    roles = sorted({remote.role_name(u["User"]["role_id"]) for u in remote.users if str(u["User"]["id"]) in users})
    same_org = host_uuid == remote.host_org.get("uuid", "").lower()
    default = default_sync_role(internal and same_org, remote.version)
    return roles[0] if len(roles) == 1 and roles[0] != default else None
