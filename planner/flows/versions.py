"""MISP's version-dependent behaviour: one table, each row with its public source.

A topology's ``misp_version`` is "2.4", "2.5" (the latest release of that line, which is what the
generated project installs) or an exact release such as "2.5.8". :func:`has` says whether a
version shows a behaviour of :data:`VERSION_BEHAVIOUR`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from planner.estate import Connection, Estate
from planner.misp import CORRELATION_REWORK_VERSION, INTERNAL_SYNC_ROLE, STOCK_ROLES, SYNC_USER_ROLE

Release = tuple[int, ...]


@dataclass(frozen=True)
class Behaviour:
    key: str
    since: tuple[Release, ...]  # the first release of each line that has it (later lines have it too)
    what: str
    source: str


INTERNAL_PULL_NEEDS_ROLE = "internal-pull-needs-perm-sync-internal"

VERSION_BEHAVIOUR: dict[str, Behaviour] = {
    INTERNAL_PULL_NEEDS_ROLE: Behaviour(
        INTERNAL_PULL_NEEDS_ROLE, ((2, 4, 206), (2, 5, 8)),
        "an internal pull keeps the distribution only if the remote sync user's role has perm_sync_internal "
        "(the stock Sync user role does not); otherwise it downgrades as a non-internal pull",
        "MISP release notes v2.4.206 / v2.5.8 ([sync:perm_sync_internal]: \"the remote instance now decides "
        "whether a downgrade happens\"); Server::pull reads the remote user's role"),
}


def release(version: str) -> Release:
    """A version as a tuple; "2.5" stands for the latest 2.5 release, later than any 2.5.x named."""
    parts = tuple(int(part) for part in version.split("."))
    return parts if len(parts) >= 3 else (*parts, 10**9)


def correlation_era(misp_version: str) -> str:
    """`legacy` before the 2.4.160 correlation rework, `compact` from it on ("2.4" names the 2.4 line,
    whose current releases have the rework)."""
    return "legacy" if release(misp_version) < CORRELATION_REWORK_VERSION else "compact"


def has(key: str, version: str) -> bool:
    """Whether MISP ``version`` shows the behaviour ``key`` of :data:`VERSION_BEHAVIOUR`."""
    have = release(version)
    for first in VERSION_BEHAVIOUR[key].since:
        if have[:2] == first[:2]:
            return have >= first
    # A line the table does not list: after the newest listed line it has the behaviour, before it not.
    return have[:2] > max(VERSION_BEHAVIOUR[key].since)[:2]


def assumed(version: str) -> str:
    """How `flows` names the version it assumed."""
    return f"{version} (its latest release)" if len(version.split(".")) == 2 else version


def internal_link(estate: Estate, conn: Connection) -> bool:
    """MISP saves `internal` only when the remote's host org is the initiator's (docs/misp-behaviour.md#internal-links,
    ServersController::add); otherwise the entry is silently not internal."""
    return conn.internal and estate.instances[conn.initiator].host_org == estate.instances[conn.remote].host_org


def default_sync_role(internal: bool, remote_version: str) -> str:
    """The role the planner gives a sync user when the file names none: MISP's Sync user, or on an
    internal link (between instances of one host org) to a remote whose roles have perm_sync_internal,
    the planner's Sync user (internal), so that internal pulls keep their levels."""
    return INTERNAL_SYNC_ROLE if internal and has(INTERNAL_PULL_NEEDS_ROLE, remote_version) else SYNC_USER_ROLE


def sync_role(estate: Estate, conn: Connection) -> tuple[str, frozenset[str]]:
    """(name in MISP, permission flags) of the role of a connection's sync user on its remote. Unless the file
    names one: MISP's Sync user, or for an internal link to a remote whose roles have perm_sync_internal, the
    planner's Sync user (internal), so that internal pulls keep their levels."""
    if conn.sync_role is None:
        name = default_sync_role(internal_link(estate, conn), estate.instances[conn.remote].misp_version)
        return name, STOCK_ROLES[name]
    role = estate.roles.get(conn.sync_role)
    if role is not None:
        return role.name or conn.sync_role, role.permissions()
    return conn.sync_role, STOCK_ROLES[conn.sync_role]


def internal_pull_downgrades(estate: Estate, conn: Connection) -> bool:
    """Whether an internal connection's pull downgrades all the same: from 2.5.8 / 2.4.206 the puller keeps the
    levels only if the remote sync user's role has perm_sync_internal, a flag only remotes of those versions have."""
    if not internal_link(estate, conn):
        return False
    if not has(INTERNAL_PULL_NEEDS_ROLE, estate.instances[conn.initiator].misp_version):
        return False
    flagged = "perm_sync_internal" in sync_role(estate, conn)[1]
    return not (flagged and has(INTERNAL_PULL_NEEDS_ROLE, estate.instances[conn.remote].misp_version))


def assumptions(estate: Estate) -> dict[str, Any]:
    """What `flows` states it assumed: each instance's MISP version, the version-dependent behaviours those
    versions show (with their source), and the internal pulls that downgrade because of them."""
    versions = {iid: assumed(estate.instances[iid].misp_version) for iid in sorted(estate.instances)}
    shown = sorted({key for key in VERSION_BEHAVIOUR for inst in estate.instances.values()
                    if has(key, inst.misp_version)})
    downgrades = [{"sync": conn.index, "initiator": conn.initiator, "remote": conn.remote,
                   "role": sync_role(estate, conn)[0]}
                  for conn in estate.connections if conn.pull is not None and internal_pull_downgrades(estate, conn)]
    return {"misp_versions": versions,
            "version_behaviour": {key: {"what": VERSION_BEHAVIOUR[key].what, "source": VERSION_BEHAVIOUR[key].source}
                                  for key in shown},
            "downgraded_internal_pulls": downgrades}


def assumption_lines(estate: Estate) -> str:
    """:func:`assumptions` as the lines under the tables of `flows`."""
    facts = assumptions(estate)
    by_version: dict[str, list[str]] = {}
    for iid, version in facts["misp_versions"].items():
        by_version.setdefault(version, []).append(iid)
    if len(by_version) == 1:
        text = f"MISP version assumed: {next(iter(by_version))} on every instance.\n"
    else:
        listed = "; ".join(f"{version} on {', '.join(ids)}" for version, ids in by_version.items())
        text = f"MISP versions assumed: {listed}.\n"
    for behaviour in facts["version_behaviour"].values():
        text += f"On these versions {behaviour['what']} ({behaviour['source']}).\n"
    for item in facts["downgraded_internal_pulls"]:
        text += (f"sync[{item['sync']}]: {item['initiator']}'s internal pull from {item['remote']} downgrades "
                 f"(1 -> 0, 2 -> 1): its sync user's role '{item['role']}' lacks perm_sync_internal.\n")
    return text
