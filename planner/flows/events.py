"""The vocabulary of the propagation engine: an event asked about, the flow answered, the errors.

One job: the data types every other module of :mod:`planner.flows` and its callers share, and the
event a feeder creates. No search here; everything is O(1) but :func:`unknown` (O(names)).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from planner.estate import Estate
from planner.misp import Distribution


class FlowError(ValueError):
    """The event asked for cannot exist in this estate (unknown origin, org or group)."""


@dataclass(frozen=True)
class EventSpec:
    origin: str  # instance id or feeder id
    distribution: Distribution  # planner.misp.Distribution
    tags: tuple[str, ...] = ()
    sharing_group: str | None = None
    org: str | None = None  # creator org; default: origin's host org / feeder's org


@dataclass(frozen=True)
class Flow:
    event: EventSpec
    origin_instance: str
    reaches: dict[str, Distribution]  # instance id -> level of the copy held there (origin included), in id order
    paths: dict[str, tuple[str, ...]]  # instance id -> one shortest chain of instances, origin first
    timing_dependent: tuple[str, ...]  # instances whose level depends on sync job timing


def feeder_event(estate: Estate, feeder_id: str) -> EventSpec:
    """The events a feeder creates: its distribution, group, tags and creator org (spec §5)."""
    feeder = estate.feeders[feeder_id]
    return EventSpec(feeder_id, feeder.distribution, tuple(feeder.tags), feeder.sharing_group,
                     estate.feeder_org(feeder_id))


def unknown(kind: str, value: str, known: list[str]) -> str:
    """The message for a name that is not in the estate, with the closest known name."""
    close = difflib.get_close_matches(value, known, n=1, cutoff=0.6)
    hint = f"; did you mean '{close[0]}'?" if close else f"; known: {', '.join(sorted(known)) or 'none'}"
    return f"unknown {kind} '{value}'{hint}"
