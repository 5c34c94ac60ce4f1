"""Rules about the network and software of instances and links: zones, plaintext http, host names,
versions (skew, installability and end of life, from the table of planner/compat.py)."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit

from planner.compat import end_of_life, install_problem, supported_lines, version_line
from planner.diagnostics import Finding, Severity, YamlPath
from planner.estate import Connection, Estate
from planner.rules import rule
from planner.rules.common import crosses_communities, untrusted


@rule("MP240", Severity.ERROR, "Sync initiator's zone cannot open connections to the remote's zone", """
    Every MISP sync job, push or pull, is an HTTPS request the initiating instance opens to the
    remote's URL (docs/misp-behaviour.md#sync-concepts: the server entry lives on the initiator, which calls the
    remote's
    /events endpoints for both directions). `defaults.zones` says which network zone may open
    connections to which (spec §4); a zone may always reach itself, and reach is not transitive
    (a firewall allowing internal -> dmz and dmz -> internet does not allow internal -> internet).
    An entry whose initiator cannot reach its remote never syncs; move the entry to the other
    side (a pull becomes a push there) or open the path. Instances without a zone are not
    checked.""")
def zone_unreachable(estate: Estate) -> Iterator[Finding]:
    if not estate.zones:
        return
    for conn in estate.connections:
        source, target = estate.instances[conn.initiator].zone, estate.instances[conn.remote].zone
        if source is None or target is None or source == target:
            continue
        reaches = estate.zones.get(source)
        if reaches is None or target in reaches:
            continue
        flip = " (the other side can: swap initiator and remote, turning pull into push)" \
            if source in estate.zones.get(target, ()) else ""
        yield estate.finding(
            "MP240", Severity.ERROR,
            f"sync[{conn.index}]: '{conn.initiator}' in zone '{source}' cannot open connections to "
            f"'{conn.remote}' in zone '{target}'",
            f"zone '{source}' reaches {', '.join(reaches) or 'nothing'}{flip}",
            (*conn.path, "initiator"))


@rule("MP241", Severity.WARNING, "MISP version skew across a link", """
    MISP's connection test compares major and minor versions and reports 2.4 <-> 2.5 links as
    "Incompatible" and their syncs as "aborted", although pushes and pulls do run (docs/misp-behaviour.md#rules-in-brief
    item 7, #version-skew, GitHub MISP/MISP#10253); features are negotiated per remote version (#version-skew), and
    2.4 left its grace period in 2025 (#versions). The validation checklist recommends the same minor
    version on both ends and flagging 2.4 ends (#planner-checks item 9).""")
def version_skew(estate: Estate) -> Iterator[Finding]:
    for conn in estate.connections:
        local = version_line(estate.instances[conn.initiator].misp_version)
        remote = version_line(estate.instances[conn.remote].misp_version)
        if local != remote:
            yield estate.finding(
                "MP241", Severity.WARNING,
                f"sync[{conn.index}] links '{conn.initiator}' (MISP {local}) and '{conn.remote}' (MISP {remote})",
                "upgrade the older end; until then expect 'Incompatible' in the connection test and "
                "'aborted' in the sync log although data moves",
                conn.path)


def _link_crosses_in_clear(estate: Estate, conn: Connection) -> bool:
    """Whether a link's requests go over plain http between instances of different host organisations."""
    init, remote = estate.instances[conn.initiator], estate.instances[conn.remote]
    return urlsplit(remote.url).scheme == "http" and init.host_org != remote.host_org


@rule("MP242", Severity.ERROR, "Plaintext http sync into an untrusted community", """
    Every sync request carries the remote sync user's API key in its Authorization header and the
    events in its body (docs/misp-behaviour.md#sync-concepts, #preparing-both-ends: the server entry
    stores the key and sends it with each push and pull). Over `http://` both cross the network in
    clear. Between a trusted community and an untrusted one, anyone on the path can read the data
    and replay the key. Use https.""")
def plaintext_into_untrusted(estate: Estate) -> Iterator[Finding]:
    for conn in estate.connections:
        if _link_crosses_in_clear(estate, conn) and _touches_untrusted(estate, conn):
            yield _plaintext_finding(estate, conn, "MP242", Severity.ERROR)


@rule("MP243", Severity.WARNING, "Plaintext http sync between different host organisations", """
    Every sync request carries the remote sync user's API key in its Authorization header and the
    events in its body (docs/misp-behaviour.md#sync-concepts, #preparing-both-ends). Over `http://`
    both cross the network in clear; between instances run by different organisations that network
    is rarely one either of them controls. (Into an untrusted community it is an error, MP242;
    between instances of one host organisation, e.g. a lab or a container network, it is left
    alone.)""")
def plaintext_between_orgs(estate: Estate) -> Iterator[Finding]:
    for conn in estate.connections:
        if _link_crosses_in_clear(estate, conn) and not _touches_untrusted(estate, conn):
            yield _plaintext_finding(estate, conn, "MP243", Severity.WARNING)


def _touches_untrusted(estate: Estate, conn: Connection) -> bool:
    return crosses_communities(estate, conn.initiator, conn.remote) and (
        untrusted(estate, conn.initiator) or untrusted(estate, conn.remote))


def _plaintext_finding(estate: Estate, conn: Connection, code: str, severity: Severity) -> Finding:
    init, remote = estate.instances[conn.initiator], estate.instances[conn.remote]
    return estate.finding(
        code, severity,
        f"sync[{conn.index}]: '{conn.initiator}' (run by '{init.host_org}') talks to '{conn.remote}' (run by "
        f"'{remote.host_org}') over {remote.url}: the sync key and the events cross in clear",
        f"serve '{conn.remote}' over https and change instances.{conn.remote}.url to https://",
        (*conn.path, "remote"))


def _instance_value(estate: Estate, iid: str, key: str) -> YamlPath:
    """The line that sets an instance's `key` (the instance, else defaults, else the instance itself)."""
    if getattr(estate.topology.instances[iid], key) is not None:
        return ("instances", iid, key)
    if getattr(estate.topology.defaults, key) is not None:
        return ("defaults", key)
    return ("instances", iid)


def _by_line(estate: Estate, problems: dict[str, str], key: str) -> Iterator[tuple[YamlPath, str, list[str]]]:
    """(line, problem, instances) with instances sharing the line that causes their problem grouped:
    a default reported once, not once per instance."""
    grouped: dict[tuple[YamlPath, str], list[str]] = {}
    for iid in sorted(problems):
        grouped.setdefault((_instance_value(estate, iid, key), problems[iid]), []).append(iid)
    for (path, problem), instances in grouped.items():
        yield path, problem, instances


def _names(instances: list[str]) -> str:
    return ", ".join(repr(i) for i in instances)


@rule("MP244", Severity.ERROR, "MISP version that cannot be installed on the instance's platform", """
    Each MISP release line requires a PHP range (app/composer.json: 2.4 needs PHP >= 7.4 and < 8,
    2.5 PHP >= 8.1; docs/misp-behaviour.md#versions), and MISP's installers use the PHP the
    distribution ships (Ubuntu 24.04: 8.3, Debian 12: 8.2, Debian 13: 8.4; #platforms). A
    combination outside that range cannot be installed as generated. The table and its sources are
    planner/compat.py.""")
def version_cannot_install(estate: Estate) -> Iterator[Finding]:
    found = {iid: answer for iid, inst in estate.instances.items()
             if inst.managed and (answer := install_problem(inst.misp_version, inst.platform))}
    for path, problem, instances in _by_line(estate, {iid: text for iid, (text, _) in found.items()}, "misp_version"):
        yield estate.finding(
            "MP244", Severity.ERROR, f"{_names(instances)}: {problem}",
            f"use misp_version {' or '.join(repr(v) for v in supported_lines())}, or a platform whose PHP fits",
            path, related=tuple(f"source: {source}" for source in found[instances[0]][1]))


@rule("MP245", Severity.WARNING, "MISP version past end of life", """
    2.4 left its grace period with the v2.4.206 / v2.5.8 release of 2025-03-19 and received
    security fixes until the end of 2025 (docs/misp-behaviour.md#versions); an instance on an
    unsupported line gets no fixes and drifts from its peers' sync features (#version-skew). The
    table and its sources are planner/compat.py.""")
def version_end_of_life(estate: Estate) -> Iterator[Finding]:
    problems = {iid: reason for iid, inst in estate.instances.items() if (reason := end_of_life(inst.misp_version))}
    for path, reason, instances in _by_line(estate, problems, "misp_version"):
        yield estate.finding(
            "MP245", Severity.WARNING, f"{_names(instances)}: {reason}",
            f"plan the upgrade to {' or '.join(repr(v) for v in supported_lines())}", path)


@rule("MP246", Severity.WARNING, "Host name with an underscore", """
    Host names are letters, digits and hyphens (RFC 1123 section 2.1, RFC 952); publicly trusted
    certificates cannot name a host with `_` (CA/Browser Forum ballot SC12, 2019), and URL
    validators and TLS libraries may refuse such a name. Docker service and container names are the
    usual source (MISP's docker training environment names its instances that way), so it is a
    warning: it works on a container network, rarely beyond. MISP's server entries store the URL
    peers connect to (docs/misp-behaviour.md#server-entry).""")
def underscore_host(estate: Estate) -> Iterator[Finding]:
    for iid, inst in sorted(estate.instances.items()):
        host = urlsplit(inst.url).hostname or ""
        if "_" in host:
            yield estate.finding(
                "MP246", Severity.WARNING,
                f"'{iid}' is reached at {inst.url}, whose host name '{host}' holds an underscore",
                f"use a host name with hyphens instead (e.g. {host.replace('_', '-')}) in instances.{iid}.url",
                ("instances", iid, "url"))
