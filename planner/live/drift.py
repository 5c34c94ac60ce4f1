"""`misp-planner drift`: what the running managed instances hold that the topology does not plan,
and what they lack.

The plan is what `generate` would provision (the Ansible project's host variables, so drift and
apply never disagree on what "planned" means); the live side is each instance's snapshot. Per
managed instance: MISP version and MISP.uuid, the host and local organisations (name, UUID),
settings, server entries (missing, extra, each field, filters by tag name and organisation UUID),
the sync users and the pinning of their keys, sharing groups (organisations, servers, roaming),
feeds, the feeder and consumer users; and whether each link's connection test passes
(ServersController::testConnection; status 1 is "OK"). Reading only: nothing is written.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from planner.ansible.project import planned_host_vars
from planner.estate import Estate
from planner.live.client import LiveError, MispClient
from planner.live.entries import Filter, entries_by_link, entry_filter, planned_link, server_record, truthy, url_key
from planner.live.snapshot import Snapshot
from planner.units import plural

SERVER_FLAGS = ("push", "pull", "push_sightings", "push_galaxy_clusters", "pull_galaxy_clusters",
                "caching_enabled", "unpublish_event", "internal", "self_signed")
CONNECTION_OK = 1  # ServersController::testConnection's status for a working link


@dataclass(frozen=True)
class Difference:
    instance: str
    section: str  # version, organisations, settings, servers, sync_users, sharing_groups, feeds, users, links
    key: str  # what it is about: an org, a setting, a link's remote...
    kind: str  # missing | extra | different | failing
    fields: tuple[tuple[str, Any, Any], ...] = ()  # (field, planned, live)
    link: tuple[str, str] | None = None  # (initiator, remote) of a server entry, for `draw --drift`

    def as_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"instance": self.instance, "section": self.section, "key": self.key,
                                "kind": self.kind,
                                "fields": [{"field": f, "planned": p, "live": v} for f, p, v in self.fields]}
        if self.link is not None:
            data["link"] = {"initiator": self.link[0], "remote": self.link[1]}
        return data


@dataclass
class DriftReport:
    estate: str
    read: dict[str, str] = field(default_factory=dict)  # instance -> live MISP version
    unreadable: dict[str, LiveError] = field(default_factory=dict)
    differences: list[Difference] = field(default_factory=list)

    @property
    def drifted(self) -> bool:
        return bool(self.differences)

    def as_json(self) -> dict[str, Any]:
        return {"estate": self.estate, "drift": self.drifted,
                "instances": {**{i: {"read": True, "version": v} for i, v in self.read.items()},
                              **{i: {"read": False, "code": e.code, "error": str(e)}
                                 for i, e in self.unreadable.items()}},
                "differences": [d.as_json() for d in self.differences]}


def _same(planned: Any, live: Any) -> bool:
    if isinstance(planned, bool) or isinstance(live, bool):
        return truthy(planned) == truthy(live)
    return str(planned if planned is not None else "") == str(live if live is not None else "")


def planned_settings(plan: dict[str, Any]) -> dict[str, Any]:
    """The MISP settings the generated project sets on an instance (its host_vars): drift reads and compares these."""
    return {**plan["misp_settings"], **plan["misp_zmq_settings"]}


class _Comparer:
    def __init__(self, estate: Estate, iid: str, shot: Snapshot, plan: dict[str, Any]) -> None:
        self.e = estate
        self.iid = iid
        self.shot = shot
        self.plan = plan
        self.found: list[Difference] = []

    def add(self, section: str, key: str, kind: str, *fields: tuple[str, Any, Any],
            link: tuple[str, str] | None = None) -> None:
        self.found.append(Difference(self.iid, section, key, kind, tuple(fields), link))

    def compare(self) -> list[Difference]:
        planned_version = str(self.e.instances[self.iid].misp_version)
        live = self.shot.version
        if not (live == planned_version or live.startswith(planned_version + ".")):
            self.add("version", "MISP", "different", ("version", planned_version, live))
        if self.plan["misp_uuid"] and self.shot.uuid != str(self.plan["misp_uuid"]).lower():
            self.add("settings", "MISP.uuid", "different", ("value", self.plan["misp_uuid"], self.shot.uuid))
        self.organisations()
        self.settings()
        self.servers()
        self.sync_users()
        self.sharing_groups()
        self.feeds()
        self.api_users()
        return self.found

    def organisations(self) -> None:
        by_uuid = {str(o.get("uuid", "")).lower(): o for o in self.shot.orgs.values()}
        host = self.plan["misp_host_org"]
        if str(self.shot.host_org.get("uuid", "")).lower() != host["uuid"]:
            self.add("organisations", host["name"], "different",
                     ("host organisation uuid", host["uuid"], self.shot.host_org.get("uuid")))
        planned = [{**host, "local": True}, *self.plan["misp_orgs"]]
        for org in planned:
            live = by_uuid.get(str(org["uuid"]).lower())
            if live is None:
                self.add("organisations", org["name"], "missing", ("uuid", org["uuid"], None))
            elif live.get("name") != org["name"]:
                self.add("organisations", org["name"], "different", ("name", org["name"], live.get("name")))
        wanted = {str(o["uuid"]).lower() for o in planned}
        for uuid, live in sorted(by_uuid.items()):
            if uuid not in wanted and truthy(live.get("local")):
                self.add("organisations", str(live.get("name")), "extra", ("uuid", None, uuid))

    def settings(self) -> None:
        wanted = planned_settings(self.plan)
        for name, value in sorted(wanted.items()):
            live = self.shot.settings.get(name)
            same = url_key(value) == url_key(live) if name.endswith("baseurl") else _same(value, live)
            if not same:
                self.add("settings", name, "different", ("value", value, live))

    def servers(self) -> None:
        entries = entries_by_link(self.shot)
        matched: set[tuple[str, str]] = set()
        for link in self.plan["misp_links_as_initiator"]:
            key = planned_link(link)
            pair = (self.iid, link["remote"])
            entry = entries.get(key)
            if entry is None:
                self.add("servers", link["remote"], "missing", ("url", link["remote_url"], None), link=pair)
                continue
            matched.add(key)
            if link["listing_only"]:
                continue
            server = server_record(entry)
            fields: list[tuple[str, Any, Any]] = [(flag, link[flag], truthy(server.get(flag))) for flag in SERVER_FLAGS
                      if truthy(server.get(flag)) != bool(link[flag])]
            for direction in ("push", "pull"):
                if not link[direction]:
                    continue
                planned = _planned_filter(link[f"{direction}_rules"])
                live = entry_filter(self.shot, server, direction)
                for name in ("tags_include", "tags_exclude", "orgs_include", "orgs_exclude"):
                    want, have = sorted(getattr(planned, name)), sorted(getattr(live, name))
                    if want != have:
                        fields.append((f"{direction}.{name.replace('_', '.')}", want, have))
            if fields:
                self.add("servers", link["remote"], "different", *fields, link=pair)
        for key, entry in sorted(entries.items()):
            if key not in matched:
                server = server_record(entry)
                remote = next((i for i, inst in self.e.instances.items() if url_key(inst.url) == key[0]), key[0])
                self.add("servers", remote, "extra", ("url", None, server.get("url")),
                         ("name", None, server.get("name")), link=(self.iid, remote))

    def sync_users(self) -> None:
        users = {str(u["User"]["email"]).lower(): u["User"] for u in self.shot.users}
        for link in self.plan["misp_links_as_remote"]:
            user = users.get(link["sync_user"].lower())
            if user is None:
                self.add("sync_users", link["sync_user"], "missing", ("link", link["id"], None))
                continue
            fields: list[tuple[str, Any, Any]] = []
            # By name: the planner's own roles get whatever id MISP gives them (planner.flows.versions.sync_role).
            if self.shot.role_name(user["role_id"]) != link["sync_role"]:
                fields.append(("role", link["sync_role"], self.shot.role_name(user["role_id"])))
            if self.shot.org_uuid(user["org_id"]) != str(link["initiator_org"]["uuid"]).lower():
                fields.append(("organisation", link["initiator_org"]["name"],
                               self.shot.orgs.get(str(user["org_id"]), {}).get("name")))
            keys = [k for k in self.shot.keys if k.get("comment") == link["key_comment"]]
            if keys and sorted(keys[-1].get("allowed_ips") or []) != sorted(link["allowed_ips"]):
                fields.append(("allowed_ips", link["allowed_ips"], keys[-1].get("allowed_ips") or []))
            if fields:
                self.add("sync_users", link["sync_user"], "different", *fields)

    def sharing_groups(self) -> None:
        servers = {str(server_record(e)["id"]): server_record(e)["url"] for e in self.shot.servers}
        live = {str(g["SharingGroup"]["uuid"]).lower(): g for g in self.shot.sharing_groups}
        wanted: set[str] = set()
        for group in self.plan["misp_sharing_groups"]:
            uuid = str(group["uuid"]).lower()
            wanted.add(uuid)
            item = live.get(uuid)
            if item is None:
                self.add("sharing_groups", group["name"], "missing", ("uuid", uuid, None))
                continue
            record = item["SharingGroup"]
            fields: list[tuple[str, Any, Any]] = [
                (k, group[k], record.get(k)) for k in ("name", "releasability", "roaming")
                if not _same(group[k], record.get(k))]
            orgs = sorted(str(r["Organisation"]["uuid"]).lower() for r in item.get("SharingGroupOrg") or [])
            if orgs != sorted(str(o).lower() for o in group["organisations"]):
                fields.append(("organisations", sorted(group["organisations"]), orgs))
            if not group["roaming"]:
                local = url_key(self.plan["misp_baseurl"])
                rows = {local if str(r["server_id"]) == "0" else url_key(servers.get(str(r["server_id"]), ""))
                        for r in item.get("SharingGroupServer") or []}
                planned = {url_key(u) for u in group["servers"]}
                if local not in planned:
                    rows.discard(local)  # "this instance" stays in every group MISP creates
                if rows != planned:
                    fields.append(("servers", sorted(planned), sorted(rows)))
            if fields:
                self.add("sharing_groups", group["name"], "different", *fields)
        for uuid, item in sorted(live.items()):
            if uuid not in wanted:
                self.add("sharing_groups", str(item["SharingGroup"]["name"]), "extra", ("uuid", None, uuid))

    def feeds(self) -> None:
        live = {str(f["name"]): f for f in self.shot.feeds}
        for feed in self.plan["misp_feeds"]:
            record = live.pop(feed["name"], None)
            if record is None:
                self.add("feeds", feed["name"], "missing", ("url", feed["url"], None))
                continue
            fields = [(k, feed[k], record.get(k)) for k in ("url", "source_format", "enabled", "caching_enabled",
                                                            "distribution", "publish")
                      if not _same(feed[k], record.get(k))]
            if fields:
                self.add("feeds", feed["name"], "different", *fields)
        for name, record in sorted(live.items()):
            if truthy(record.get("enabled")):
                self.add("feeds", name, "extra", ("url", None, record.get("url")))

    def api_users(self) -> None:
        users = {str(u["User"]["email"]).lower(): u["User"] for u in self.shot.users}
        for wanted in self.plan["misp_api_users"]:
            user = users.get(wanted["email"].lower())
            if user is None:
                self.add("users", wanted["email"], "missing", ("for", wanted["for"], None))
            elif str(user["role_id"]) != str(wanted["role_id"]):
                self.add("users", wanted["email"], "different", ("role_id", wanted["role_id"], user["role_id"]))


def _planned_filter(rules: dict[str, Any]) -> Filter:
    tags, orgs = rules.get("tags", {}), rules.get("orgs", {})
    return Filter(tuple(tags.get("OR", [])), tuple(tags.get("NOT", [])),
                  tuple(str(o).lower() for o in orgs.get("OR", [])), tuple(str(o).lower() for o in orgs.get("NOT", [])))


def plans(estate: Estate) -> dict[str, dict[str, Any]]:
    """What `generate` provisions on each managed instance (its host variables), computed once."""
    return estate.memo("planned_host_vars", planned_host_vars)


def compare(estate: Estate, shots: dict[str, Snapshot | LiveError]) -> DriftReport:
    report = DriftReport(estate.name)
    for iid, plan in plans(estate).items():
        shot = shots.get(iid)
        if isinstance(shot, Snapshot):
            report.read[iid] = shot.version
            report.differences.extend(_Comparer(estate, iid, shot, plan).compare())
        elif isinstance(shot, LiveError):
            report.unreadable[iid] = shot
    return report


def connection_tests(estate: Estate, shots: dict[str, Snapshot | LiveError], clients: dict[str, MispClient],
                     report: DriftReport) -> None:
    """Each planned link's connection test, on the initiator (it calls the remote)."""
    for iid, plan in plans(estate).items():
        shot, client = shots.get(iid), clients.get(iid)
        if not isinstance(shot, Snapshot) or client is None:
            continue
        entries = entries_by_link(shot)
        for link in plan["misp_links_as_initiator"]:
            entry = entries.get(planned_link(link))
            if link["listing_only"] or entry is None:
                continue
            try:
                answer = client.get(f"/servers/testConnection/{server_record(entry)['id']}")
                status = answer.get("status") if isinstance(answer, dict) else None
            except LiveError as error:
                status = str(error)
            if status != CONNECTION_OK:
                report.differences.append(Difference(iid, "links", link["remote"], "failing",
                                                     (("connection test", CONNECTION_OK, status),),
                                                     (iid, link["remote"])))


# --- formats ------------------------------------------------------------------------------------

def format_json(report: DriftReport) -> str:
    return json.dumps(report.as_json(), indent=2, sort_keys=True) + "\n"


def _field_text(fields: tuple[tuple[str, Any, Any], ...]) -> str:
    return "; ".join(f"{f}: planned {_shown(p)}, live {_shown(v)}" for f, p, v in fields)


def _shown(value: Any) -> str:
    if value is None:
        return "none"
    return json.dumps(value) if not isinstance(value, str) else value


def format_human(report: DriftReport) -> str:
    lines = []
    for iid, error in sorted(report.unreadable.items()):
        lines.append(error.line(iid))
    for d in report.differences:
        lines.append(f"{d.instance}: {d.section}: {d.kind} {d.key}" + (f" ({_field_text(d.fields)})"
                                                                       if d.fields else ""))
    lines.append(summary(report))
    return "\n".join(lines) + "\n"


def format_markdown(report: DriftReport) -> str:
    lines = [f"## Drift of `{report.estate}`", "", summary(report), ""]
    if report.unreadable:
        lines += ["| instance | not read |", "|---|---|"]
        lines += [f"| {i} | {e.code}: {e} |" for i, e in sorted(report.unreadable.items())]
        lines.append("")
    if report.differences:
        lines += ["| instance | section | what | kind | planned → live |", "|---|---|---|---|---|"]
        for d in report.differences:
            cells = "<br>".join(f"{f}: {_shown(p)} → {_shown(v)}" for f, p, v in d.fields)
            lines.append(f"| {d.instance} | {d.section} | {d.key} | {d.kind} | {cells} |")
    return "\n".join(lines) + "\n"


def summary(report: DriftReport) -> str:
    read = f"{len(report.read)} instance{'s' if len(report.read) != 1 else ''} read"
    if report.unreadable:
        read += f", {len(report.unreadable)} not read"
    if not report.differences:
        return f"No drift: {read}; they hold what the topology plans."
    drifted = sorted({d.instance for d in report.differences})
    return f"Drift: {plural(len(report.differences), 'difference')} on {', '.join(drifted)}; {read}."
