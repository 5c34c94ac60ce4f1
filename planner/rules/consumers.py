"""Rules about consumers (SIEMs, IDS, DNS firewalls, ...): the context their format keeps, ZeroMQ
exposure, and the sightings they report or read."""

from __future__ import annotations

from collections.abc import Iterator

from planner.diagnostics import Finding, Severity, format_path
from planner.estate import Estate
from planner.misp import (
    EXPORT_FORMAT_KEEPS,
    ONE_WAY_FORMATS,
    SIGHTINGS_POLICY_DEFAULT,
    SIGHTINGS_POLICY_EVERYONE,
    SIGHTINGS_POLICY_SETTING,
    ZMQ_ENABLE_SETTING,
)
from planner.rules import rule
from planner.rules.common import is_false, setting


@rule("MP230", Severity.WARNING, "Consumer's export format loses context it needs", """
    Device and value-list exports (text, hashes, hosts, rpz, netfilter, suricata, snort, csv)
    carry values only: no taxonomies, galaxies, tags, sightings or relationships; STIX 1 does not
    carry taxonomies or galaxies; STIX 2 keeps them only as labels and SDOs that generic tools do
    not interpret (docs/misp-behaviour.md#restsearch-exports, #what-exports-lose). A consumer whose `needs` lists
    context its `format`
    drops will not have it, whatever the events contain. Read the events as MISP json (restSearch
    or ZeroMQ) where the context matters.""")
def format_loses_context(estate: Estate) -> Iterator[Finding]:
    for cid in sorted(estate.consumers):
        consumer = estate.consumers[cid]
        if consumer.via != "api" or consumer.format is None:
            continue
        keeps = EXPORT_FORMAT_KEEPS.get(consumer.format.lower())
        if keeps is None:
            continue
        lost = [need for need in consumer.needs if need not in keeps]
        if lost:
            yield estate.finding(
                "MP230", Severity.WARNING,
                f"consumer '{cid}' needs {', '.join(lost)} but the '{consumer.format}' export does not carry "
                f"{'it' if len(lost) == 1 else 'them'}",
                "read json (restSearch returnFormat json, or via: zmq) where the context matters, or drop the "
                "need if the device cannot use it",
                ("consumers", cid, "format"))


@rule("MP231", Severity.ERROR, "ZeroMQ consumer on an instance whose settings turn ZeroMQ off", """
    A consumer with `via: zmq` subscribes to the instance's ZeroMQ publisher, which runs only when
    Plugin.ZeroMQ_enable is true (docs/misp-behaviour.md#zeromq; default false). The planner enables and exposes
    ZeroMQ on managed instances that have ZeroMQ consumers, but settings in the topology are
    applied verbatim, so an explicit `Plugin.ZeroMQ_enable: false` contradicts the consumer.""")
def zmq_disabled(estate: Estate) -> Iterator[Finding]:
    for cid in sorted(estate.consumers):
        consumer = estate.consumers[cid]
        if consumer.via != "zmq":
            continue
        value, path = setting(estate, consumer.from_, ZMQ_ENABLE_SETTING)
        if path is not None and is_false(value):
            yield estate.finding(
                "MP231", Severity.ERROR,
                f"consumer '{cid}' subscribes to ZeroMQ on '{consumer.from_}', whose settings turn it off",
                f"remove {ZMQ_ENABLE_SETTING} from the settings (the planner enables it for ZeroMQ consumers) "
                "or read via api",
                ("consumers", cid, "via"), related=(f"set at {format_path(path)}",))


@rule("MP232", Severity.WARNING, "ZeroMQ consumer on an instance the planner does not manage", """
    ZeroMQ is off by default and binds to localhost when enabled (docs/misp-behaviour.md#zeromq): someone has to
    enable it, expose it (Plugin.ZeroMQ_host) and protect it with a username, password and network
    ACLs. The planner does that on the instances it manages; on an instance with `managed: false`
    it cannot, so the consumer depends on the other operator doing it.""")
def zmq_unmanaged(estate: Estate) -> Iterator[Finding]:
    for cid in sorted(estate.consumers):
        consumer = estate.consumers[cid]
        if consumer.via == "zmq" and not estate.instances[consumer.from_].managed:
            yield estate.finding(
                "MP232", Severity.WARNING,
                f"consumer '{cid}' subscribes to ZeroMQ on '{consumer.from_}', which the planner does not manage",
                f"ask the operator of '{consumer.from_}' to enable and expose ZeroMQ for it, or read via api",
                ("consumers", cid, "from"))


@rule("MP233", Severity.INFO, "Consumer reports sightings but reads through a one-way channel", """
    Value-list and IDS exports (suricata, snort, rpz, text, hashes, hosts, netfilter) carry only
    values, no attribute identifiers and no sightings (docs/misp-behaviour.md#what-exports-lose), and expansion
    lookups run
    from MISP to the tool. A consumer marked `sightings: true` therefore needs a separate reporter
    that posts hits by value to /sightings/add with its own key (docs/misp-behaviour.md#sightings-api; the training
    points to misp-sighting-tools for NIDS feedback), and that key needs the sighting permission,
    so the consumer's user cannot be read-only.""")
def sightings_one_way(estate: Estate) -> Iterator[Finding]:
    for cid in sorted(estate.consumers):
        consumer = estate.consumers[cid]
        if not consumer.sightings:
            continue
        if consumer.via == "expansion":
            channel = "expansion lookups run from MISP to the tool"
        elif consumer.via == "api" and consumer.format is not None and consumer.format.lower() in ONE_WAY_FORMATS:
            channel = f"the '{consumer.format}' export carries values only"
        else:
            continue
        yield estate.finding(
            "MP233", Severity.INFO,
            f"consumer '{cid}' reports sightings, but {channel}: feedback needs a separate reporter",
            "deploy a sighting reporter (e.g. misp-sighting-tools) posting hits by value to /sightings/add; "
            "the planner gives this consumer's user the sighting permission",
            ("consumers", cid, "sightings"))


@rule("MP234", Severity.WARNING, "Consumer needs sightings the instance's sightings policy hides", """
    Who sees a sighting is decided by Plugin.Sightings_policy (docs/misp-behaviour.md#sightings, #sightings-api):
    with the
    default 0 an organisation sees all sightings only on events it owns, and otherwise only its
    own; 1 shows everything only on events the organisation has itself sighted; 3 adds the host
    organisation's. Only 2 shows every sighting to everyone who can see the event. A consumer that
    needs sightings reads them as its export user, so under any policy but 2 it misses most of
    the feedback other organisations report.""")
def sightings_hidden(estate: Estate) -> Iterator[Finding]:
    for cid in sorted(estate.consumers):
        consumer = estate.consumers[cid]
        if "sightings" not in consumer.needs:
            continue
        value, path = setting(estate, consumer.from_, SIGHTINGS_POLICY_SETTING)
        policy = SIGHTINGS_POLICY_DEFAULT if path is None else value
        if str(policy).strip() != str(SIGHTINGS_POLICY_EVERYONE):
            where = "by default" if path is None else f"at {format_path(path)}"
            yield estate.finding(
                "MP234", Severity.WARNING,
                f"consumer '{cid}' needs sightings, but '{consumer.from_}' has {SIGHTINGS_POLICY_SETTING} "
                f"{policy} ({where}): it sees only part of them",
                f"set {SIGHTINGS_POLICY_SETTING}: {SIGHTINGS_POLICY_EVERYONE} on '{consumer.from_}' if every "
                "reader may see every sighting",
                ("consumers", cid, "needs"))
