"""Where does the data go: MISP's propagation model over a resolved estate (spec §10).

The question: an event created on instance X (by X's host org, or by one of X's local
organisations, or by a feeder writing into X) with distribution D and tags T is published. Which
instances end up holding a copy, at which level, after every push and pull has run until nothing
changes? ``reaches`` lists every instance that may end up with a copy (what a `must_not_reach`
policy needs), ``paths`` the chain of the copy reported, ``timing_dependent`` the instances whose
outcome depends on the order of sync jobs.

This package's public face: :func:`propagate`, :func:`flow_matrix`, :func:`engine_of`,
:class:`Engine`, :class:`EventSpec`, :class:`Flow`, :class:`FlowError`, :func:`feeder_event` and
the output functions. One module per job:

* :mod:`~planner.flows.rules`: MISP's hop rules as tables, each with its source (the only place
  those facts live);
* :mod:`~planner.flows.prepared`: the estate prepared once (links, groups, filters, indices);
* :mod:`~planner.flows.search`: one event (states, first copy, paths); level `all` by the flood of
  :mod:`~planner.flows.flood`; :mod:`~planner.flows.timing`: its timing-dependent holders;
* :mod:`~planner.flows.all_origins`: level `all` for many origins at once (bit sets, blocks), with
  :mod:`~planner.flows.paths` (lazy path trees) and :mod:`~planner.flows.bits`;
* :mod:`~planner.flows.output`: spec §10 JSON and the tables of `misp-planner flows`;
* :mod:`~planner.flows.events`: the data types.

:class:`Engine` assembles the searches (each a class on top of :class:`PreparedEstate`) and runs the
matrix: ``N x (4 + groups)`` events, the level-`all` rows searched in blocks of origins. Complexity:
one event is ``O(F x depth)`` for ``F`` sync flows (:mod:`~planner.flows.search`); the matrix is
``Theta(N^2)`` in its output, made one row at a time as it is read. Timings on synthetic estates up
to 5,000 instances: ``benchmarks/RESULTS.md`` (``bench_flows.py`` times the matrix alone).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

from planner.estate import Estate
from planner.flows.all_origins import AllOriginsSearch
from planner.flows.bits import bit_bytes
from planner.flows.events import EventSpec, Flow, FlowError, feeder_event
from planner.flows.output import FORMATS, build_event, flow_table, flow_to_json, flows_report, matrix_table
from planner.flows.prepared import PreparedEstate
from planner.flows.search import EventSearch
from planner.misp import Distribution

__all__ = ["FORMATS", "Engine", "EventSpec", "Flow", "FlowError", "PreparedEstate", "bit_bytes", "build_event",
           "engine_of", "feeder_event", "flow_matrix", "flow_table", "flow_to_json", "flows_report",
           "matrix_table", "propagate"]

# Engine.matrix_all's search tables hold bit sets of instances x origins: at most this many bits per
# block of origins (one block up to 2,500 instances; at 5,000, blocks of 1,000 origins, about 40 MiB).
_SEARCH_BITS = 5_000_000


class Engine(AllOriginsSearch, EventSearch):
    """The estate's flows prepared once; :meth:`propagate` answers one event, :meth:`matrix` all."""

    def matrix(self, tags: tuple[str, ...] = ()) -> Iterator[Flow]:
        """:func:`flow_matrix` (for events carrying ``tags``), one row at a time as it is read: the
        level-`all` rows of many origins are searched at once (as bit sets, :meth:`matrix_all`) and
        each row's dicts are made when it is reached, so the whole matrix (``Theta(N^2)`` holders)
        is never in memory."""
        events = [replace(event, tags=tags) if tags else event for event in self.matrix_events()]
        if self.stays(tags):  # each origin's links see other tags than the rest: one search per event
            yield from map(self.propagate, events)
            return
        batch = self.matrix_all([event.origin for event in events if event.distribution == Distribution.ALL], tags)
        for event in events:  # matrix_all's rows come in the order of `events`
            yield next(batch) if event.distribution == Distribution.ALL else self.propagate(event)

    def reach_all_bits(self, origins: list[str], tags: tuple[str, ...] = ()) -> list[int]:
        """:meth:`AllOriginsSearch.reach_all_bits`; with tags that never leave their origin each origin's links
        see other tags than the rest, so each origin is searched on its own."""
        if not self.stays(tags):
            return super().reach_all_bits(origins, tags)
        held = [0] * len(self.names)
        for i, origin in enumerate(origins):
            event = EventSpec(origin, Distribution.ALL, tags, None, self.estate.instances[origin].host_org)
            for k in self.reach_indices(event):
                held[k] |= 1 << i
        return held

    def matrix_all(self, origins: list[str], tags: tuple[str, ...] = ()) -> Iterator[Flow]:
        """Level `all`, with ``tags``, created by each origin's host org, for all ``origins`` at once
        (:mod:`planner.flows.all_origins`). A property test checks that this equals :meth:`propagate`
        of each event. The tables grow with instances x origins, so origins are searched in blocks
        of at most ``_SEARCH_BITS`` such bits, each block when its first row is read: one block for
        a sector estate, a few for a national one, whose tables would otherwise weigh hundreds of
        MiB."""
        width = max(1, _SEARCH_BITS // max(1, len(self.names)))
        for first in range(0, len(origins), width):
            yield from self.matrix_block(origins[first:first + width], tags)

    def matrix_events(self) -> list[EventSpec]:
        """Every instance x every level; level sharing-group once per group its host org is in."""
        events: list[EventSpec] = []
        for iid in sorted(self.estate.instances):
            host = self.estate.instances[iid].host_org
            for level in Distribution:
                if level == Distribution.SHARING_GROUP:
                    events.extend(EventSpec(iid, level, sharing_group=gid)
                                  for gid in sorted(self.groups) if host in self.groups[gid].orgs)
                else:
                    events.append(EventSpec(iid, level))
        return events


def engine_of(estate: Estate) -> Engine:
    """The estate's engine, prepared once and shared by every stage that asks (sizing, rules, the
    matrix): preparing it takes a second on a national estate."""
    return estate.memo("engine", Engine)


def propagate(estate: Estate, event: EventSpec) -> Flow:
    """Where one event goes. Raises FlowError for an event that cannot exist in this estate."""
    return engine_of(estate).propagate(event)


def flow_matrix(estate: Estate) -> Iterator[Flow]:
    """Every origin instance x every distribution level (sharing-group: once per group the host org
    is a member of; an instance whose host org is in no group has no sharing-group row), one row at
    a time: a national estate's matrix does not fit in memory whole."""
    return engine_of(estate).matrix()
