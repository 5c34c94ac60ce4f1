"""Handover documents: what the operator of an instance we do not manage must do on their side.

A sync link has two ends. Where one end is run by someone else (`managed: false`), the play can do
only ours; `handover/<instance>.md` tells their operator, precisely, the rest: the organisation to
create with which UUID, the sync user and its role, the key and its pinning, the server entry and
its flags and filters, and the jobs to schedule. It is written by `generate` from the same data as
the play's variables, so the two never disagree.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any, Protocol

from planner.ansible.keys import KEYS_DIR_ENV, default_keys_dir
from planner.estate import Connection, Estate
from planner.misp import DEFAULT_PULL_EVERY, ROLE_IDS, STOCK_ROLES, SYNC_USER_ROLE
from planner.units import format_seconds


def _filters(rules: dict[str, Any], orgs: dict[str, str]) -> str:
    parts = []
    for what in ("tags", "orgs"):
        lists = rules.get(what) or {}
        for key, word in (("OR", "only"), ("NOT", "never")):
            names = [orgs.get(v, v) for v in lists.get(key) or []]
            if names:
                parts.append(f"{word} {what} {', '.join(f'`{n}`' for n in names)}")
    return "; ".join(parts) or "none"


def _org(estate: Estate, org_id: str) -> str:
    org = estate.organisations[org_id]
    return f"**{org.name}** with UUID `{org.uuid}`"


class LinkLike(Protocol):
    """planner.ansible.project.Link, as far as a handover reads it."""

    @property
    def initiator(self) -> str: ...
    @property
    def remote(self) -> str: ...
    @property
    def connection(self) -> Connection | None: ...


def _we_initiate(estate: Estate, link: dict[str, Any], initiator: str) -> list[str]:
    ours = estate.instances[initiator]
    pins = ", ".join(f"`{ip}`" for ip in link.get("allowed_ips") or []) or f"the egress address of `{initiator}`"
    return [
        f"### `{initiator}` ({ours.url}) connects to you",
        "",
        f"1. Create the organisation {_org(estate, ours.host_org)} (not local: it is ours). Keep the UUID:",
        "   MISP matches organisations across instances by UUID.",
        *_sync_user_step(estate, link),
        f"3. Give it an auth key: comment `{link['key_comment']}`, allowed IPs {pins},",
        "   an expiry of a year at most. Delete the key MISP created with the user (no comment, no",
        "   pinning).",
        f"4. Send us the key over a channel you trust; we keep it in `{link['key_env']}` or our vault.",
        "",
    ]


def _sync_user_step(estate: Estate, link: dict[str, Any]) -> list[str]:
    """Step 2 of :func:`_we_initiate`: the sync user, in its organisation (sync_user.org), with its role."""
    org = link["sync_org"]
    where = "that organisation" if org["uuid"] == link["initiator_org"]["uuid"] else \
        f"the organisation {org['name']} (UUID `{org['uuid']}`)"
    if link["sync_role"] == SYNC_USER_ROLE:
        role = f"   **Sync user** (role id {ROLE_IDS['sync_user']} on a fresh install), never an admin role."
    else:
        flags = ", ".join(f"`{flag}`" for flag in sorted(_role_flags(estate, link["sync_role"])))
        role = f"   **{link['sync_role']}**, a role you create with exactly these permissions: {flags}."
    return [f"2. Create a user `{link['sync_user']}` in {where} with the role", role]


def _role_flags(estate: Estate, name: str) -> frozenset[str]:
    """The flags of a role by its name in MISP: one of `roles:`, or one the planner knows."""
    for rid, role in estate.roles.items():
        if (role.name or rid) == name:
            return role.permissions()
    return STOCK_ROLES.get(name, frozenset())


def _you_initiate(estate: Estate, link: dict[str, Any], conn: Connection, keys_note: str) -> list[str]:
    remote = estate.instances[conn.remote]
    orgs = {o.uuid: o.name for o in estate.organisations.values()}
    lines = [
        f"### You connect to `{conn.remote}` ({remote.url})",
        "",
        f"We created, on `{conn.remote}`: your organisation, a user `{link['sync_user']}` with the role "
        f"**{link['sync_role']}**, and a key for it",
        f"(comment `{link['key_comment']}`, pinned to "
        f"{', '.join(f'`{ip}`' for ip in link['allowed_ips']) or 'no address: tell us your egress address'}),",
        f"kept encrypted in `{keys_note}/{conn.remote}/sync-{link['id']}.vault`; we send it to you over a channel "
        "you trust.",
        "",
        f"1. Create the organisation {_org(estate, remote.host_org)} (not local).",
        "2. Add a server entry (Sync Actions → Add server):",
        f"   - URL `{remote.peer_url}`, remote organisation: the one above, authkey: the key we sent;",
        f"   - push: {'yes' if conn.push else 'no'}, pull: {'yes' if conn.pull else 'no'}, "
        f"push sightings: {'yes' if conn.sightings else 'no'}, unpublish event: {'yes' if conn.unpublish else 'no'}, "
        "internal: no;",
    ]
    if conn.push is not None:
        push_filter = {"tags": {"OR": conn.push.tags.include, "NOT": conn.push.tags.exclude},
                       "orgs": {"OR": conn.push.orgs.include, "NOT": conn.push.orgs.exclude}}
        lines.append(f"   - push filter: {_filters(push_filter, orgs)};")
    if conn.pull is not None:
        pull_filter = {"tags": {"OR": conn.pull.tags.include, "NOT": conn.pull.tags.exclude},
                       "orgs": {"OR": conn.pull.orgs.include, "NOT": conn.pull.orgs.exclude}}
        lines.append(f"   - pull filter: {_filters(pull_filter, orgs)};")
    if conn.tls_ca:
        lines.append(f"   - the CA of `{conn.remote}`: `{conn.tls_ca}` (we send it with the key);")
    lines.append(f"   - certificate verification: {'on' if conn.tls_verify else 'off (self-signed)'}.")
    if conn.pull is not None:
        every = format_seconds(conn.pull.every or DEFAULT_PULL_EVERY)
        lines.append(f"3. Schedule the pull every {every}: cron calling "
                     "`/var/www/MISP/app/Console/cake Server pull <your admin user id> <server id> full`.")
    lines.append("")
    return lines


def handover_documents(estate: Estate, links: Sequence[LinkLike],
                       as_initiator: Callable[[Any], dict[str, Any]],
                       as_remote: Callable[[Any], dict[str, Any]]) -> Iterator[tuple[str, str]]:
    """``(path, text)`` of one document per unmanaged instance linked with a managed one; the link data
    comes from the same functions that write the play's variables."""
    keys_note = f"${KEYS_DIR_ENV} (default {default_keys_dir(estate.name)})"
    sections: dict[str, list[str]] = {}
    for link in links:
        conn = link.connection
        initiator, remote = estate.instances[link.initiator], estate.instances[link.remote]
        if conn is None or initiator.managed == remote.managed:
            continue
        if initiator.managed:
            data = {**as_remote(link), **as_initiator(link)}
            sections.setdefault(link.remote, []).extend(_we_initiate(estate, data, link.initiator))
        else:
            sections.setdefault(link.initiator, []).extend(_you_initiate(estate, as_remote(link), conn, keys_note))
    for pid, body in sorted(sections.items()):
        partner = estate.instances[pid]
        header = [
            f"# Handover to the operator of `{pid}` ({partner.url})",
            "",
            f"Written by misp-planner for the estate `{estate.name}`. Your side of each sync link with our",
            "instances is below; ours is provisioned by our Ansible. Your host organisation must be",
            f"{_org(estate, partner.host_org)}: if your MISP's host organisation has another UUID, tell us",
            "and we will correct our topology (MISP tells organisations apart by UUID).",
            "",
        ]
        yield f"handover/{pid}.md", "\n".join(header + body).rstrip() + "\n"


__all__ = ["handover_documents"]
