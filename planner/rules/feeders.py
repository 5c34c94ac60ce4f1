"""Rules about automatic feeders: where bulk data lands and how far their events travel."""

from __future__ import annotations

from collections.abc import Iterator

from planner.diagnostics import Finding, Severity
from planner.estate import Estate
from planner.flows import propagate
from planner.misp import Distribution
from planner.rules import rule
from planner.rules.common import community
from planner.rules.witness import describe, feeder_events, feeder_reach


def creates_events(estate: Estate, feeder_id: str) -> bool:
    """A cache-only feed is kept for lookups and creates no events (docs/misp-behaviour.md#feeds caching_enabled)."""
    feeder = estate.feeders[feeder_id]
    return not (feeder.feed is not None and feeder.feed.cache_only)


def low_value_feeders(estate: Estate, published: bool = False) -> list[str]:
    """The low-value feeders that create events, in id order; with ``published``, only those that
    publish them (only published events travel, docs/misp-behaviour.md#rules-in-brief rule 2)."""
    return [fid for fid, feeder in sorted(estate.feeders.items()) if estate.feeder_value(fid) == "low"
            and creates_events(estate, fid) and (feeder.publish or not published)]


@rule("MP220", Severity.WARNING, "Low-value bulk feeder's events leave the community of its instance", """
    Automatic tools (sandboxes, honeypots, scanners, bulk OSINT feeds) produce large volumes of
    rarely curated data that mostly needs correlation. The MISP training's advice, restated in
    docs/misp-behaviour.md#hardware-guidance and #above-50m-attributes, is to keep them on separate instances
    ("internal MISP clouds") and share only curated subsets onward. The rule asks the propagation
    engine where the feeder's own events go (its distribution, sharing group, tags, creator and
    publish flag, #feeds): when they reach instances of another community, the bulk data crosses
    the boundary and the finding names the event and where it arrives. A feeder whose events stay
    on its instance (organisation level, or never published) is not reported, whatever the
    instance shares of other data.""")
def bulk_feeder_on_sharing_instance(estate: Estate) -> Iterator[Finding]:
    for fid, event in feeder_events(estate, low_value_feeders(estate, published=True)):
        feeder = estate.feeders[fid]
        home = community(estate, feeder.into)
        if all(community(estate, i) == home for i in feeder_reach(estate, fid, event)):
            continue
        flow = propagate(estate, event)
        away = [i for i in flow.reaches if community(estate, i) != home]
        yield estate.finding(
            "MP220", Severity.WARNING,
            f"low-value {feeder.kind} feeder '{fid}' writes into '{feeder.into}', and {describe(flow.event)} "
            f"reaches {', '.join(repr(i) for i in away)} outside community '{home}' "
            f"(by {' -> '.join(flow.paths[away[0]])})",
            "give automatic feeders their own ingest instance and let the sharing instance pull only curated "
            "events from it (e.g. a pull with a tag include list), or keep the feeder's events at organisation "
            "level, unpublished",
            ("feeders", fid, "into"))


@rule("MP221", Severity.WARNING, "Feeder publishes its events at 'all' or 'connected'", """
    A published event at "connected communities" is pushed to every push-enabled link, and one at
    "all communities" floods every reachable instance through chained re-publication
    (docs/misp-behaviour.md#rules-in-brief items 3-5, #multi-hop). An automatic feeder that
    publishes such events sends its whole output down every link at its own rate; feeders should
    publish with distribution organisation or a sharing group unless a flood is intended
    (#planner-checks item 4, #feeds). The rule asks the propagation engine where the feeder's own
    events go (its tags and creator against the links' filters) and reports the feeder only when
    they reach another instance, naming how many.""")
def feeder_floods(estate: Estate) -> Iterator[Finding]:
    flooding = [fid for fid, feeder in sorted(estate.feeders.items()) if feeder.publish and creates_events(estate, fid)
                and feeder.distribution in (Distribution.ALL, Distribution.CONNECTED)]
    for fid, event in feeder_events(estate, flooding):
        feeder = estate.feeders[fid]
        others = sorted(feeder_reach(estate, fid, event) - {feeder.into})
        if not others:
            continue  # no link carries its events: nothing floods
        shown = ", ".join(repr(i) for i in others[:3]) + (f" and {len(others) - 3} more" if len(others) > 3 else "")
        yield estate.finding(
            "MP221", Severity.WARNING,
            f"feeder '{fid}' publishes its events at '{feeder.distribution.word}': {describe(event)} reaches "
            f"{shown} from '{feeder.into}'",
            "use distribution organisation or a sharing group, or publish: false and let analysts "
            "publish what should travel",
            ("feeders", fid, "distribution"))
