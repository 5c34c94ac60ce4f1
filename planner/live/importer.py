"""`misp-planner import`: running instances become a topology file that validates.

Kept from MISP as it is: organisation, instance (MISP.uuid) and sharing group UUIDs, names, local
organisations, server entries (as `sync:` entries, with their filters and flags), the allowed IPs
of the sync users' keys on remotes that were read too, sharing groups with their organisations and
servers, feeds (as feeders), the settings the language holds, the attribute count. Remotes that were
not read become `managed: false` instances. What MISP does not hold is a placeholder with a
comment, and `decisions` lists it for the user: communities and their trust, zones, growth rates,
purposes, pull and fetch schedules (cron on the host, not MISP), the kinds of feeders and
consumers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from planner.ansible.project import MARK
from planner.live.entries import (
    Filter,
    entry_filter,
    host_id,
    marked_id,
    server_record,
    slug,
    sync_user_ids,
    truthy,
    unusual_sync_role,
    url_key,
)
from planner.live.snapshot import SETTING_DEFAULTS, Snapshot
from planner.misp import (
    CORRELATION_OFF_SETTING,
    DISTRIBUTION_WORDS,
    ROLE_IDS,
    STOCK_ROLES,
    ZMQ_SETTINGS,
    Distribution,
)
from planner.units import plural
from planner.yamlout import dump_yaml

IMPORTED_COMMUNITY = "imported"
REMOTE_COMMUNITY = "remote"
PLACEHOLDER = "# placeholder (import): "


@dataclass
class Imported:
    text: str
    decisions: list[str] = field(default_factory=list)


class _Ids:
    """Topology ids from MISP names, unique within a section, in the order they are first asked for."""

    def __init__(self, taken: set[str] | None = None) -> None:
        self.by_key: dict[str, str] = {}
        self.taken = set(taken or ())

    def get(self, key: str, wanted: str) -> str:
        if key not in self.by_key:
            ident, n = wanted, 2
            while ident in self.taken:
                ident, n = f"{wanted[:60]}-{n}", n + 1
            self.taken.add(ident)
            self.by_key[key] = ident
        return self.by_key[key]


@dataclass
class KnownIds:
    """Ids an earlier topology gave, so that a re-import keeps them (`import --ids-from`): organisations
    and sharing groups by UUID, instances by URL, feeders by instance and feed URL."""

    orgs: dict[str, str] = field(default_factory=dict)
    sharing_groups: dict[str, str] = field(default_factory=dict)
    instances: dict[str, str] = field(default_factory=dict)
    feeders: dict[str, str] = field(default_factory=dict)


def known_ids(estate: Any) -> KnownIds:
    return KnownIds(
        orgs={org.uuid.lower(): oid for oid, org in estate.organisations.items()},
        sharing_groups={uuid.lower(): gid for gid, uuid in estate.sharing_group_uuids.items()},
        instances={url_key(inst.url): iid for iid, inst in estate.instances.items()},
        feeders={f"{f.into} {f.feed.url}": fid for fid, f in estate.feeders.items() if f.feed is not None})


def _orgs_by_uuid(shots: dict[str, Snapshot]) -> dict[str, dict[str, Any]]:
    """Every organisation record read, by uuid (the first instance's record where several hold it)."""
    records: dict[str, dict[str, Any]] = {}
    for shot in shots.values():
        for record in shot.orgs.values():
            records.setdefault(str(record.get("uuid", "")).lower(), record)
    return records


class _Importer:
    def __init__(self, name: str, shots: dict[str, Snapshot], known: KnownIds) -> None:
        self.name = name
        self.shots = shots
        self.known = known
        self.org_ids = _Ids()
        self.orgs: dict[str, dict[str, Any]] = {}  # org id -> topology entry
        self.by_url = {url_key(s.url): iid for iid, s in shots.items()}
        self.instance_ids = _Ids(set(shots))
        self.org_records = _orgs_by_uuid(shots)
        self.remotes: dict[str, dict[str, Any]] = {}
        self.decisions: list[str] = []

    def org(self, record: dict[str, Any]) -> str:
        uuid = str(record.get("uuid", "")).lower()
        ident = self.org_ids.get(uuid, self.known.orgs.get(uuid) or slug(str(record.get("name", "")), "org"))
        if ident not in self.orgs:
            entry: dict[str, Any] = {"name": str(record.get("name") or ident), "uuid": uuid}
            for key in ("nationality", "sector", "type"):
                if record.get(key):
                    entry[key] = str(record[key])
            self.orgs[ident] = entry
        return ident

    def org_by_uuid(self, uuid: str) -> str | None:
        record = self.org_records.get(uuid)
        return self.org(record) if record is not None else None

    def instance(self, iid: str, shot: Snapshot) -> dict[str, Any]:
        host = self.org(shot.host_org) if shot.host_org else self.org({"name": f"{iid} host org", "uuid": ""})
        local = sorted((o for o in shot.orgs.values() if truthy(o.get("local")) and o is not shot.host_org
                        and o.get("uuid")), key=lambda o: int(o["id"]))
        entry: dict[str, Any] = {"community": IMPORTED_COMMUNITY, "host_org": host,
                                 "orgs": [self.org(o) for o in local], "url": shot.url, "uuid": shot.uuid,
                                 "misp_version": shot.version, "volume": {"attributes": shot.attributes}}
        if not entry["orgs"]:
            del entry["orgs"]
        settings = {k: v for k, v in shot.settings.items()
                    if k in SETTING_DEFAULTS and v is not None and v != SETTING_DEFAULTS[k]}
        if all(truthy(shot.settings.get(k)) for k in ZMQ_SETTINGS):
            settings = {k: v for k, v in settings.items() if k not in ZMQ_SETTINGS}  # a zmq consumer says it
        if truthy(settings.pop(CORRELATION_OFF_SETTING, False)):
            entry["correlation"] = "off"  # the language's word for it, which sizing reads (no correlation tables)
        if settings:
            entry["settings"] = dict(sorted(settings.items()))
        return entry

    def remote_instance(self, entry: dict[str, Any]) -> str:
        server = server_record(entry)
        known = self.by_url.get(url_key(server["url"]))
        if known:
            return known
        wanted = (self.known.instances.get(url_key(server["url"])) or marked_id(str(server.get("name", "")))
                  or host_id(server["url"]))
        iid = self.instance_ids.get(url_key(server["url"]), wanted)
        if iid not in self.remotes:
            remote_org = entry.get("RemoteOrg") or {}
            self.remotes[iid] = {"community": REMOTE_COMMUNITY, "host_org": self.org(remote_org),
                                 "url": str(server["url"]).rstrip("/"), "managed": False}
        return iid

    def direction(self, flt: Filter) -> dict[str, Any] | bool:
        body: dict[str, Any] = {}
        tags = {k: list(v) for k, v in (("include", flt.tags_include), ("exclude", flt.tags_exclude)) if v}
        orgs = {k: [self.org_by_uuid(u) or u for u in v]
                for k, v in (("include", flt.orgs_include), ("exclude", flt.orgs_exclude)) if v}
        if tags:
            body["tags"] = tags
        if orgs:
            body["orgs"] = orgs
        return body or True

    def sync(self) -> list[dict[str, Any]]:
        links: list[dict[str, Any]] = []
        for iid, shot in self.shots.items():
            for entry in shot.servers:
                server = server_record(entry)
                push, pull = truthy(server.get("push")), truthy(server.get("pull"))
                if not push and not pull:
                    continue  # lists the remote for sharing groups only: sharing_groups say so
                remote = self.remote_instance(entry)
                link: dict[str, Any] = {"initiator": iid, "remote": remote}
                if push:
                    link["push"] = self.direction(entry_filter(shot, server, "push"))
                if pull:
                    link["pull"] = self.direction(entry_filter(shot, server, "pull"))
                for flag, key in (("push_sightings", "sightings"), ("internal", "internal"),
                                  ("unpublish_event", "unpublish"), ("caching_enabled", "caching")):
                    if truthy(server.get(flag)):
                        link[key] = True
                clusters = [d for d in ("push", "pull") if truthy(server.get(f"{d}_galaxy_clusters"))]
                if clusters:
                    link["galaxy_clusters"] = "both" if len(clusters) == 2 else clusters[0]
                if truthy(server.get("self_signed")):
                    link["tls"] = {"verify": False}
                ips = self.allowed_ips(iid, remote)
                if ips:
                    link["allowed_ips"] = ips
                role = self.sync_role(iid, remote, bool(link.get("internal")))
                if role is not None:
                    link["sync_user"] = {"role": role}
                links.append(link)
        if any("pull" in link for link in links):
            self.decisions.append("pulls run daily unless you add `every:` (MISP's API does not show the cron "
                                  "schedule on the host)")
        return links

    def sync_role(self, initiator: str, remote: str, internal: bool) -> str | None:
        """The role of the initiator's sync user on the remote where it is not the planner's default
        (entries.unusual_sync_role); a role the file would have to describe is left to the user."""
        role = unusual_sync_role(self.shots[initiator], self.shots.get(remote), internal)
        if role is None or role in STOCK_ROLES:
            return role
        self.decisions.append(f"the sync user of {initiator} on {remote} has the role '{role}': describe it "
                              "under `roles:` and name it in the link's `sync_user.role`")
        return None

    def allowed_ips(self, initiator: str, remote: str) -> list[str]:
        """The pinning of the initiator's sync key on the remote, when the remote was read."""
        shot = self.shots.get(remote)
        if shot is None:
            return []
        host_uuid = self.shots[initiator].host_org.get("uuid", "").lower()
        users = sync_user_ids(shot, host_uuid)
        keys = [k for k in shot.keys if str(k.get("user_id")) in users]
        named = [k for k in keys if f"sync {initiator} -> {remote}" in str(k.get("comment", ""))]
        ips: list[str] = []
        for key in named or keys:
            ips.extend(str(ip) for ip in key.get("allowed_ips") or [] if str(ip) not in ips)
        return ips

    def sharing_groups(self) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        held: dict[str, list[str]] = {}
        listed: dict[str, list[str]] = {}
        ids = _Ids()
        for iid, shot in self.shots.items():
            servers = {str(server_record(e)["id"]): server_record(e)["url"] for e in shot.servers}
            for item in shot.sharing_groups:
                group = item["SharingGroup"]
                uuid = str(group["uuid"]).lower()
                held.setdefault(uuid, []).append(iid)
                for row in item.get("SharingGroupServer") or []:
                    url = servers.get(str(row.get("server_id")))
                    if url and url_key(url) in self.by_url:
                        listed.setdefault(uuid, []).append(self.by_url[url_key(url)])
                if uuid in found:
                    continue
                gid = ids.get(uuid, self.known.sharing_groups.get(uuid) or slug(str(group["name"]), "group"))
                entry: dict[str, Any] = {
                    "orgs": sorted(self.org_by_uuid(str(r["Organisation"]["uuid"]).lower()) or r["Organisation"]["uuid"]
                                   for r in item.get("SharingGroupOrg") or []),
                    "uuid": uuid}
                if gid != group["name"]:
                    entry["name"] = str(group["name"])
                if truthy(group.get("roaming")):
                    entry["roaming"] = True
                if group.get("releasability"):
                    entry["releasability"] = str(group["releasability"])
                found[uuid] = {"id": gid, **entry}
        groups: dict[str, dict[str, Any]] = {}
        for uuid, entry in found.items():
            gid = entry.pop("id")
            if not entry.get("roaming"):
                # Server 0 ("this instance") is in every group MISP creates: only entries naming
                # other servers tell which instances the group lists.
                entry["instances"] = sorted(set(listed.get(uuid) or held[uuid]))
            groups[gid] = entry
        return dict(sorted(groups.items()))

    def feeders(self, groups: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        feeders: dict[str, dict[str, Any]] = {}
        ids = _Ids()
        for iid, shot in self.shots.items():
            for feed in shot.feeds:
                if truthy(feed.get("default")) and not truthy(feed.get("enabled")):
                    continue  # a preinstalled feed nobody turned on
                fid = ids.get(f"{iid}/{feed['id']}", self.known.feeders.get(f"{iid} {feed['url']}")
                              or marked_id(str(feed.get("name"))) or slug(str(feed["name"]), "feed"))
                level = int(feed.get("distribution") or 0)
                entry: dict[str, Any] = {"kind": "osint-feed", "into": iid,
                                         "distribution": DISTRIBUTION_WORDS[Distribution(min(level, 4))],
                                         "via": "feed",
                                         "feed": {"url": str(feed["url"]), "format": str(feed["source_format"])}}
                if truthy(feed.get("caching_enabled")):
                    entry["feed"]["cache_only"] = True
                if truthy(feed.get("publish")):
                    entry["publish"] = True
                if level == 4:
                    group = next((g for g in shot.sharing_groups
                                  if str(g["SharingGroup"]["id"]) == str(feed.get("sharing_group_id"))), None)
                    uuid = str(group["SharingGroup"]["uuid"]).lower() if group else ""
                    entry["sharing_group"] = next((gid for gid, g in groups.items() if g["uuid"] == uuid), uuid)
                feeders[fid] = entry
        for iid, tool, entry in self.tool_users("feeder"):
            feeders[ids.get(f"{iid}/user/{tool}", tool)] = entry
        if feeders:
            self.decisions.append("feeders: `kind` and `rate` are placeholders, and so is the `distribution` of those "
                                  "writing through the API (the tool chooses it); fetches run daily unless you add "
                                  "`feed.fetch_every`")
        return feeders

    def tool_users(self, role: str) -> list[tuple[str, str, dict[str, Any]]]:
        """Feeders and consumers from the API users the play made for them (`feeder-<id>@<host>`,
        `consumer-<id>@<host>`, keys labelled `misp-planner feeder <id>`); hand-made users stay users."""
        found = []
        for iid, shot in self.shots.items():
            for item in shot.users:
                user = item["User"]
                match = re.fullmatch(rf"{role}-([a-z][a-z0-9-]{{0,62}})@[^@]+", str(user["email"]))
                if match is None:
                    continue
                tool = match.group(1)
                role_id = int(user["role_id"])
                ips: list[str] = []
                for key in shot.keys:
                    if key.get("comment") == f"{MARK} {role} {tool}" and str(key.get("user_id")) == str(user["id"]):
                        ips.extend(str(ip) for ip in key.get("allowed_ips") or [] if str(ip) not in ips)
                entry: dict[str, Any] = {"kind": "other", "via": "api"}
                if role == "feeder":
                    entry["into"] = iid
                    if role_id == ROLE_IDS["publisher"]:
                        entry["publish"] = True
                    org = shot.orgs.get(str(user["org_id"]))
                    if org is not None and org is not shot.host_org:
                        entry["org"] = self.org(org)
                else:
                    entry["from"] = iid
                    entry["format"] = "json"
                    if role_id != ROLE_IDS["read_only"]:
                        entry["sightings"] = True
                if ips:
                    entry["allowed_ips"] = ips
                found.append((iid, tool, entry))
        return found

    def consumers(self) -> dict[str, dict[str, Any]]:
        consumers: dict[str, dict[str, Any]] = {}
        for iid, shot in self.shots.items():
            if all(truthy(shot.settings.get(k)) for k in ZMQ_SETTINGS):
                consumers[f"{iid}-zmq"] = {"kind": "other", "from": iid, "via": "zmq"}
        zmq = [c["from"] for c in consumers.values()]
        for _, tool, entry in self.tool_users("consumer"):
            consumers[tool] = entry
        if zmq:
            self.decisions.append("consumers: ZeroMQ is enabled on " + ", ".join(zmq)
                                  + "; name the subscribers (one `via: zmq` consumer stands for them)")
        if consumers:
            self.decisions.append("consumers: `kind`, `format` and `every` are placeholders")
        return consumers


def import_estate(name: str, shots: dict[str, Snapshot], known: KnownIds | None = None) -> Imported:
    """A topology for the instances read (in the order given) and the remotes they name."""
    importer = _Importer(name, shots, known or KnownIds())
    instances = {iid: importer.instance(iid, shot) for iid, shot in shots.items()}
    sync = importer.sync()
    instances.update(importer.remotes)
    groups = importer.sharing_groups()
    feeders = importer.feeders(groups)
    consumers = importer.consumers()
    communities: dict[str, Any] = {IMPORTED_COMMUNITY: {"trust": "trusted"}}
    if importer.remotes:
        communities[REMOTE_COMMUNITY] = {"trust": "trusted"}
    document: dict[str, Any] = {"version": 1, "name": name,
                                "description": f"Imported from {plural(len(shots), 'running MISP instance')}.",
                                "organisations": dict(sorted(importer.orgs.items())),
                                "communities": communities, "instances": instances}
    for key, value in (("feeders", feeders), ("sync", sync), ("sharing_groups", groups), ("consumers", consumers)):
        if value:
            document[key] = value
    decisions = [
        f"communities: every instance read is in `{IMPORTED_COMMUNITY}`"
        + (f", every remote in `{REMOTE_COMMUNITY}`" if importer.remotes else "")
        + "; group them into your communities and set each one's trust",
        # log_retention is a cron job on the host (cake Log accessLogRetention), not a MISP setting
        "instances: `purpose`, `zone`, `users`, `volume.growth` and `log_retention` are not in MISP; add them for "
        "sizing and zone checks",
        *importer.decisions]
    return Imported(_annotated(dump_yaml(document), decisions), decisions)


_COMMENTS = {
    f"community: {IMPORTED_COMMUNITY}": "communities are not in MISP",
    f"community: {REMOTE_COMMUNITY}": "communities are not in MISP",
    "trust: trusted": "set the community's trust",
    "kind: osint-feed": "the feeder's kind is not in MISP",
    "kind: other": "the tool's kind is not in MISP",
    "format: json": "the consumer's export format is not in MISP",
}


def _annotated(text: str, decisions: list[str]) -> str:
    header = ["# Imported by `misp-planner import` from running MISP instances. To decide:"]
    header.extend(f"#   - {d}" for d in decisions)
    lines = []
    for line in text.splitlines():
        note = _COMMENTS.get(line.strip())
        lines.append(f"{line}  {PLACEHOLDER}{note}" if note else line)
    return "\n".join([*header, *lines]) + "\n"
