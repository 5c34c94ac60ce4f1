"""Secure defaults the topology can turn off (issue 9): TLS verification, key pinning, feeder roles.

What the topology cannot turn off (sync users get the Sync user role only, keys get an expiry,
consumers' users are read-only unless they report sightings) is the Ansible generator's job and
is not checked here.
"""

from __future__ import annotations

from collections.abc import Iterator

from planner.certs import read_ca
from planner.diagnostics import Finding, Severity, YamlPath
from planner.estate import Estate
from planner.misp import ROLE_IDS
from planner.rules import rule
from planner.rules.common import community, crosses_communities, untrusted


@rule("MP401", Severity.WARNING, "TLS verification is off on a sync link", """
    A sync entry stores an API key of a user on the remote and sends it with every request
    (docs/misp-behaviour.md#sync-concepts, #preparing-both-ends); with certificate verification off (MISP's
    self_signed flag, which
    disables the peer-name check and, without a CA file, peer verification, #server-entry) anyone on the
    path can impersonate the remote, collect the key and read or inject events. MISP's own
    security audit flags self-signed servers (#hardening). Give the entry the remote's CA
    (`tls.ca`) instead of turning verification off.""")
def tls_off(estate: Estate) -> Iterator[Finding]:
    for conn in estate.connections:
        if conn.tls_verify:
            continue
        explicit = estate.topology.sync[conn.index].tls.verify is not None
        path: YamlPath = (*conn.path, "tls", "verify") if explicit else ("defaults", "tls_verify")
        yield estate.finding(
            "MP401", Severity.WARNING,
            f"sync[{conn.index}] from '{conn.initiator}' to '{conn.remote}' does not verify the remote's "
            f"certificate{'' if explicit else ' (defaults.tls_verify is false)'}",
            "set tls: {verify: true} and give the remote's CA with tls.ca if it is private",
            path)


def _pin_finding(estate: Estate, code: str, severity: Severity, kind: str) -> Iterator[Finding]:
    for conn in estate.connections:
        if conn.allowed_ips or not crosses_communities(estate, conn.initiator, conn.remote):
            continue
        is_untrusted = untrusted(estate, conn.initiator) or untrusted(estate, conn.remote)
        if (kind == "untrusted") != is_untrusted:
            continue
        other = conn.initiator if is_untrusted and not untrusted(estate, conn.remote) else conn.remote
        yield estate.finding(
            code, severity,
            f"sync[{conn.index}] crosses into {kind} community '{community(estate, other)}' but its sync key "
            "is not pinned to the initiator's address",
            f"add allowed_ips: [<egress address of '{conn.initiator}'>/32]",
            conn.path)


@rule("MP402", Severity.WARNING, "Sync key to an untrusted community is not pinned to an address", """
    The key a server entry uses belongs to a sync user on the remote, a role that may add, edit
    and publish events (docs/misp-behaviour.md#preparing-both-ends). MISP's advanced auth keys can be pinned to the
    peer's
    egress addresses with `allowed_ips`, "a good default for sync keys" (#preparing-both-ends, #planner-checks item
    1); a key
    pinned that way is useless to whoever copies it elsewhere. Across a link with an untrusted
    community, where keys are handled by people outside your control, leave no key unpinned.""")
def untrusted_key_unpinned(estate: Estate) -> Iterator[Finding]:
    yield from _pin_finding(estate, "MP402", Severity.WARNING, "untrusted")


@rule("MP403", Severity.INFO, "Sync key to another community is not pinned to an address", """
    Pinning a sync key to the initiator's egress addresses (`allowed_ips`,
    docs/misp-behaviour.md#preparing-both-ends, #planner-checks
    item 1) limits the damage of a leaked key to nothing. Within one community the operators
    usually share the network view; across communities they do not, and a leaked key lets anyone
    publish into the remote as the initiator's host organisation.""")
def other_community_key_unpinned(estate: Estate) -> Iterator[Finding]:
    yield from _pin_finding(estate, "MP403", Severity.INFO, "trusted")


@rule("MP404", Severity.INFO, "API consumer's key is not pinned to an address", """
    A consumer reading via the API (restSearch) holds a key of a user on the instance; pinned to
    the consumer's addresses with `allowed_ips` (docs/misp-behaviour.md#preparing-both-ends, advanced auth keys) the
    key is
    useless anywhere else, and the export user's ACL decides what it can read (#what-exports-lose). Consumers
    are devices on the network (SIEMs, IDS sensors, DNS servers) with fixed addresses, so the pin
    costs nothing.""")
def consumer_key_unpinned(estate: Estate) -> Iterator[Finding]:
    for cid in sorted(estate.consumers):
        consumer = estate.consumers[cid]
        if consumer.via == "api" and not consumer.allowed_ips:
            yield estate.finding(
                "MP404", Severity.INFO,
                f"consumer '{cid}' reads '{consumer.from_}' through the API with a key usable from anywhere",
                f"add allowed_ips: [<address of {consumer.product or cid}>/32]",
                ("consumers", cid, "via"))


@rule("MP405", Severity.INFO, "Publishing API feeder needs the Publisher role", """
    A feeder with `via: api` is a tool holding an API key (spec §5). Creating events needs the
    User role; publishing them, which makes them sync (docs/misp-behaviour.md#rules-in-brief item 2, #feeds), needs
    perm_publish, and the least role with it is Publisher (role id 4 on a fresh install, #preparing-both-ends,
    #observed). Publishing tools therefore run with more power than readers: pin their key with
    `allowed_ips` and keep publish off unless the tool's events must travel unreviewed.""")
def publishing_feeder_role(estate: Estate) -> Iterator[Finding]:
    for fid in sorted(estate.feeders):
        feeder = estate.feeders[fid]
        if feeder.via == "api" and feeder.publish:
            yield estate.finding(
                "MP405", Severity.INFO,
                f"feeder '{fid}' publishes through the API: its user on '{feeder.into}' gets the Publisher role "
                f"(role id {ROLE_IDS['publisher']}), the least role that can publish",
                "pin its key with allowed_ips" if not feeder.allowed_ips else "no action needed; the key is pinned",
                ("feeders", fid, "publish"))


@rule("MP406", Severity.ERROR, "The CA file of a sync link cannot be used", """
    `tls.ca` names the file holding the certificate of the CA that signed the remote's
    certificate; the generated Ansible gives it to the server entry (MISP stores it as the entry's
    `cert_file` and verifies the remote against it, docs/misp-behaviour.md#server-entry). A missing file, a file that is
    not a PEM certificate, or one that holds a private key would leave the link unverifiable or leak
    a secret into the generated project, so the topology is refused until the path is right.
    The path is relative to the topology file's folder.""")
def ca_file_unusable(estate: Estate) -> Iterator[Finding]:
    for conn in estate.connections:
        if conn.tls_ca is None:
            continue
        try:
            read_ca(estate, conn)
        except ValueError as problem:
            yield estate.finding(
                "MP406", Severity.ERROR,
                f"sync[{conn.index}] from '{conn.initiator}' to '{conn.remote}': tls.ca {problem}",
                "give the path of the remote's CA certificate (PEM), relative to the topology file",
                (*conn.path, "tls", "ca"))
