"""The seed's design advice about very large instances."""

from __future__ import annotations

from collections.abc import Iterator

from planner.diagnostics import Finding, Severity
from planner.estate import Estate
from planner.misp import VOLUME_THRESHOLD_ATTRIBUTES
from planner.rules import rule
from planner.rules.common import crosses_communities, flows
from planner.rules.feeders import low_value_feeders
from planner.rules.witness import feeder_events, feeder_reach


def _millions(count: int) -> str:
    return f"{count / 1_000_000:.0f}M"


@rule("MP250", Severity.INFO, "Instance above 50M attributes mixes low-value bulk data with sharing or user work", """
    The MISP training ties provisioning and design to whether a dataset is below or above about
    50 million attributes, and to whether automatic tools feed the instance and whether it
    publishes to external communities (docs/misp-behaviour.md#hardware-guidance "Recommended MISP
    Setup"). Above that size the advice is to keep automatic, low-value feeders (sandboxes,
    honeypots, bulk OSINT) on instances of their own and share only curated subsets onward
    (#above-50m-attributes). The rule reports an instance that crosses the threshold within the
    horizon (own stock, local growth, feeders and sync inflow, as computed by `misp-planner size`)
    and holds such bulk data, written into it or arriving by sync (the propagation engine follows
    each published low-value feeder's events), while it also shares with another community or
    serves another purpose than ingest. A dedicated ingest instance (`purpose: ingest`) follows the
    advice and is not reported: when its bulk data leaves the community MP220 says so, and its
    correlation advice is in `size`; nor is a large instance holding no bulk data, whatever it
    shares.""")
def large_and_mixed(estate: Estate) -> Iterator[Finding]:
    from planner.sizing import size_estate

    sizing = size_estate(estate)
    outward: dict[str, set[str]] = {}
    for source, target, _mode, _direction, _conn in flows(estate):
        if crosses_communities(estate, source, target):
            outward.setdefault(source, set()).add(target)
    written, synced = _bulk_holders(estate)
    for iid in sorted(sizing.instances):
        attributes = sizing.instances[iid].volume.horizon
        purpose = estate.instances[iid].purpose
        bulk, arriving = written.get(iid, []), synced.get(iid, [])
        if attributes <= VOLUME_THRESHOLD_ATTRIBUTES or not (bulk or arriving) or purpose == "ingest":
            continue
        held = [f"ingests low-value feeders {', '.join(bulk)}"] if bulk else []
        held += [f"receives by sync the events of low-value feeders {', '.join(arriving)}"] if arriving else []
        role = (f"shares with {', '.join(sorted(outward[iid]))} in other communities" if iid in outward
                else f"serves as a {purpose} instance")
        yield estate.finding(
            "MP250", Severity.INFO,
            f"'{iid}' reaches about {_millions(attributes)} attributes by the horizon, {' and '.join(held)}, "
            f"and {role}",
            "above ~50M attributes keep bulk automatic data on an ingest instance of its own and let this one "
            "receive only curated events (e.g. a tag include list); `misp-planner size` shows the volume breakdown",
            ("instances", iid, "volume") if estate.topology.instances[iid].volume else ("instances", iid))


def _bulk_holders(estate: Estate) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """Per instance, the low-value feeders writing into it, and those whose published events reach
    it by sync (their own instance left out)."""
    written: dict[str, list[str]] = {}
    for fid in low_value_feeders(estate):
        written.setdefault(estate.feeders[fid].into, []).append(fid)
    synced: dict[str, list[str]] = {}
    for fid, event in feeder_events(estate, low_value_feeders(estate, published=True)):
        for iid in sorted(feeder_reach(estate, fid, event) - {estate.feeders[fid].into}):
            synced.setdefault(iid, []).append(fid)
    return written, synced
