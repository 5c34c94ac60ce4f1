"""The seed's design advice about very large instances."""

from __future__ import annotations

from collections.abc import Iterator

from planner.diagnostics import Finding, Severity
from planner.estate import Estate
from planner.misp import VOLUME_THRESHOLD_ATTRIBUTES
from planner.rules import rule
from planner.rules.common import crosses_communities, flows
from planner.rules.feeders import creates_events


def _millions(count: int) -> str:
    return f"{count / 1_000_000:.0f}M"


@rule("MP250", Severity.INFO, "Instance above 50M attributes also ingests automatic feeders or shares externally", """
    The MISP training ties provisioning and design to whether a dataset is below or above about
    50 million attributes, and to whether automatic tools feed the instance and whether it
    publishes to external communities (docs/misp-behaviour.md#hardware-guidance "Recommended MISP Setup"). Above
    that size
    the advice is to keep automatic, low-value feeders on separate instances, share curated
    subsets onward, and keep correlation under control (#above-50m-attributes). An instance that crosses the
    threshold within the horizon (own stock, local growth, feeders and sync inflow, as computed by
    `misp-planner size`) and also takes bulk feeders or publishes to another community is a
    candidate for splitting: bulk ingest on one instance, curated sharing on another.""")
def large_and_mixed(estate: Estate) -> Iterator[Finding]:
    from planner.sizing import size_estate

    sizing = size_estate(estate)
    outward: dict[str, set[str]] = {}
    for source, target, _mode, _direction, _conn in flows(estate):
        if crosses_communities(estate, source, target):
            outward.setdefault(source, set()).add(target)
    for iid in sorted(sizing.instances):
        attributes = sizing.instances[iid].volume.horizon
        if attributes <= VOLUME_THRESHOLD_ATTRIBUTES:
            continue
        bulk = [fid for fid in sorted(estate.feeders) if estate.feeders[fid].into == iid
                and estate.feeder_value(fid) == "low" and creates_events(estate, fid)]
        roles = []
        if bulk:
            roles.append(f"ingests low-value feeders {', '.join(bulk)}")
        if iid in outward:
            roles.append(f"shares with {', '.join(sorted(outward[iid]))} in other communities")
        if not roles:
            continue
        if iid in outward:
            hint = ("above ~50M attributes keep bulk automatic data and external sharing on separate instances: "
                    "ingest on one, curated sharing on another (`misp-planner size` shows the volume breakdown)")
        else:
            hint = ("consider one ingest instance per large automatic dataset, NoAcl correlation and correlation "
                    "disabled on bulk feeds (`misp-planner size` shows the volume breakdown)")
        yield estate.finding(
            "MP250", Severity.INFO,
            f"'{iid}' reaches about {_millions(attributes)} attributes by the horizon and {' and '.join(roles)}",
            hint, ("instances", iid, "volume") if estate.topology.instances[iid].volume else ("instances", iid))
