"""Rules about the network and software between the two ends of a link: zones and versions."""

from __future__ import annotations

from collections.abc import Iterator

from planner.diagnostics import Finding, Severity
from planner.estate import Estate
from planner.rules import rule
from planner.rules.common import version_line


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
