"""The report's "where does this go": every answer `misp-planner flows` would give, precomputed.

One job: the data the report page's explorer reads (no server: the page is a file). For every
origin (instance or feeder), every level it can publish at (sharing-group: once per group its
creator org is in) and every tag choice the page offers, the holders with their level, the path
of each copy and, for every instance not reached, the first reason (:mod:`planner.flows.whynot`):
the same engine and the same answers as `flows --format json`.

The page offers no tags, and each tag some sync filter names (one at a time): only a tag a filter
names can change the answer. The events grow as origins x levels x tags and each answer as the
instances, so the explorer is made for estates up to :data:`EXPLORER_MAX_INSTANCES` instances and
:data:`EXPLORER_MAX_EVENTS` events (tag choices are dropped first); above that the report shows the
flow matrix alone and says so. Answers are written compactly: instances and reasons by number.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from planner.estate import Estate
from planner.flows import EventSpec, FlowError, engine_of, feeder_event
from planner.flows.whynot import why_not
from planner.render.graph import node_id

# The diagram draws instances one by one up to this size (above, communities are collapsed and the
# highlight would have no node to light), and 150 instances x 5 levels of answers weigh about 2 MB.
EXPLORER_MAX_INSTANCES = 150
EXPLORER_MAX_EVENTS = 3_000


def _events(estate: Estate, tag_choices: list[str | None]) -> list[tuple[str | None, EventSpec]]:
    """(the tag chosen, the event) for every answer the page offers: the matrix's rows, then each
    feeder's event, per tag choice."""
    rows = engine_of(estate).matrix_events()
    feeders = [feeder_event(estate, fid) for fid in sorted(estate.feeders)]
    events: list[tuple[str | None, EventSpec]] = []
    for tag in tag_choices:
        tags = (tag,) if tag else ()
        events.extend((tag, replace(row, tags=tags)) for row in rows)
        events.extend((tag, EventSpec(fid, base.distribution, tuple(dict.fromkeys((*base.tags, *tags))),
                                      base.sharing_group, base.org))
                      for fid, base in zip(sorted(estate.feeders), feeders, strict=True))
    return events


def event_key(origin: str, level: str, group: str | None, tag: str | None) -> str:
    """The page's key of one answer (the same function in the page's script: origin|level|group|tag)."""
    return f"{origin}|{level}|{group or ''}|{tag or ''}"


def explorer_data(estate: Estate) -> dict[str, Any] | None:
    """Every answer the page's explorer shows, or None above the documented size."""
    if len(estate.instances) > EXPLORER_MAX_INSTANCES:
        return None
    tags = sorted(estate.sync_filter_tags())
    events = _events(estate, [None, *tags])
    if len(events) > EXPLORER_MAX_EVENTS:
        tags = []
        events = _events(estate, [None])
        if len(events) > EXPLORER_MAX_EVENTS:
            return None
    engine = engine_of(estate)
    names = sorted(estate.instances)
    number = {iid: n for n, iid in enumerate(names)}
    reasons: dict[str, int] = {}
    answers: dict[str, Any] = {}
    for tag, event in events:
        try:
            flow = engine.propagate(event)
        except FlowError:
            continue  # e.g. a feeder whose creator org is not in its group: `validate` reports it
        key = event_key(event.origin, event.distribution.word, event.sharing_group, tag)
        answers[key] = {
            "held": {str(number[i]): level.word for i, level in flow.reaches.items()},
            "paths": {str(number[i]): [number[step] for step in chain] for i, chain in flow.paths.items()},
            "why": {str(number[i]): reasons.setdefault(text, len(reasons))
                    for i, text in why_not(engine, flow).items()},
            "timing": [number[i] for i in flow.timing_dependent],
        }
    return {
        "instances": names,
        "nodes": [node_id("i", iid) for iid in names],
        "origins": [*names, *sorted(estate.feeders)],
        "feeders": {fid: {"node": node_id("f", fid), "into": number[f.into],
                          "level": f.distribution.word, "group": f.sharing_group or ""}
                    for fid, f in sorted(estate.feeders.items())},
        "groups": {gid: sorted(g.orgs) for gid, g in sorted(estate.sharing_groups.items())},
        "host_orgs": [estate.instances[iid].host_org for iid in names],
        "tags": tags,
        "edges": _edges(estate, number),
        "reasons": sorted(reasons, key=reasons.__getitem__),
        "answers": answers,
    }


def _edges(estate: Estate, number: dict[str, int]) -> dict[str, list[str]]:
    """"a b" (instance numbers, a < b) -> the diagram's edges between them: a path's hop lights them."""
    edges: dict[str, list[str]] = {}
    for conn in estate.connections:
        a, b = sorted((number[conn.initiator], number[conn.remote]))
        edges.setdefault(f"{a} {b}", []).append(f"e_sync_{conn.index}")
    return edges
