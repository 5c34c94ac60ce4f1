"""What a change to an estate does to where data goes: the meaning layer of `misp-planner diff`.

For every origin instance x distribution level (x sharing group), for untagged events and for events
carrying each tag a filter or a policy names: the instances that gain or lose a copy, and the levels
that rise or fall. Comparing the whole matrix of both estates would repeat, for a 2,000-instance
estate, tens of thousands of searches whose answer cannot have changed. So:

* when nothing the propagation engine reads differs (a change of volumes, sizing, descriptions,
  policies), there is nothing to compare;
* level-`all` rows are compared as bit sets for all origins at once (``reach_all_bits`` of each
  side: every holder of a level-`all` event holds it at level `all`, so the holders are the row);
* a row of another level is searched again only where it can differ: its origin or its sharing group
  changed, or on the base estate some copy of it, whatever its tags, could reach the source of a
  link that changed (``may_reach_indices``). An event that reaches no changed link sees the same
  links and hops on both sides, so it goes where it went.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from planner.estate import Estate
from planner.flows.bits import bits
from planner.flows.rules import Link
from planner.misp import Distribution

if TYPE_CHECKING:
    from planner.flows import Engine, EventSpec

Row = tuple[str, int, str]  # origin, level, sharing group ("" for none)
Holders = dict[str, Distribution]


@dataclass(frozen=True)
class ReachChange:
    origin: str
    distribution: str
    sharing_group: str | None
    tags: tuple[str, ...]  # the tagged events this row is about ("untagged" for none); () = any tags
    gained: tuple[str, ...]
    lost: tuple[str, ...]
    raised: tuple[tuple[str, str, str], ...]  # (instance, before, after)
    lowered: tuple[tuple[str, str, str], ...]
    except_tags: tuple[str, ...] = ()  # when set, the row is about any tags but these

    @property
    def label(self) -> str:
        group = f" ({self.sharing_group})" if self.sharing_group else ""
        if self.except_tags:
            tags = f", any tags but {' / '.join(self.except_tags)}"
        else:
            tags = f", {' / '.join(self.tags)}" if self.tags else ""
        return f"{self.origin} @ {self.distribution}{group}{tags}"

    def as_json(self) -> dict[str, Any]:
        return {"origin": self.origin, "distribution": self.distribution, "sharing_group": self.sharing_group,
                "tags": list(self.tags), "except_tags": list(self.except_tags),
                "gained": list(self.gained), "lost": list(self.lost),
                "raised": [list(r) for r in self.raised], "lowered": [list(r) for r in self.lowered]}


def filter_tags(estate: Estate) -> set[str]:
    """Every tag a sync filter or a policy names: the tags whose events a change may send elsewhere."""
    return estate.sync_filter_tags().union(*(policy.data.tags for policy in estate.policies))


@dataclass(frozen=True)
class Scope:
    """Where the two estates differ for the propagation engine (planner/flows/prepared.py reads the
    links with their filters, each instance's host and local organisations, the sharing groups and
    which tags stay home). ``everything``: the organisations or the tag definitions changed, so every
    row is compared. Feeders are not compared: the matrix's origins are instances."""

    sources: frozenset[str]  # instances whose outgoing links (targets, modes, flags, filters) changed
    origins: frozenset[str]  # instances whose host or local organisations changed
    groups: frozenset[str]  # sharing groups whose orgs, server list or roaming changed
    everything: bool = False

    @property
    def empty(self) -> bool:
        return not (self.sources or self.origins or self.groups or self.everything)

    def must_compare(self, engine: Engine, event: EventSpec, touched: set[int]) -> bool:
        """Whether a row below level `all` can differ, whatever its tags: see the module docstring."""
        if self.everything or event.origin in self.origins or event.sharing_group in self.groups:
            return True
        return not touched.isdisjoint(engine.may_reach_indices(event))


def changed_scope(base: Estate, head: Estate) -> Scope:
    from planner.flows import engine_of

    engines = engine_of(base), engine_of(head)
    if sorted(base.organisations) != sorted(head.organisations) or engines[0].staying != engines[1].staying:
        return Scope(frozenset(), frozenset(), frozenset(), everything=True)
    old_links, new_links = (_links_by_source(engine.links) for engine in engines)
    sources = {s for s in set(old_links) | set(new_links) if old_links.get(s) != new_links.get(s)}
    origins = {iid for iid in set(base.instances) & set(head.instances)
               if (base.instances[iid].host_org, base.instances[iid].orgs)
               != (head.instances[iid].host_org, head.instances[iid].orgs)}
    groups = {gid for gid in set(base.sharing_groups) | set(head.sharing_groups)
              if _group(base, gid) != _group(head, gid)}
    return Scope(frozenset(sources), frozenset(origins), frozenset(groups))


def _links_by_source(links: Iterable[Link]) -> dict[str, tuple[Any, ...]]:
    out: dict[str, list[Any]] = {}
    for link in links:  # a connection's index moves when the file is reordered: not compared
        out.setdefault(link.source, []).append(link._replace(connection=0))
    return {source: tuple(links) for source, links in out.items()}


def _group(estate: Estate, gid: str) -> tuple[Any, ...] | None:
    g = estate.sharing_groups.get(gid)
    return None if g is None else (sorted(g.orgs), sorted(g.instances), g.roaming)


def reach_changes(base: Estate, head: Estate) -> list[ReachChange]:
    """Every row whose holders differ, by origin, level and group, merged over the tags as the
    module docstring says. Origins present in only one estate are left out: the structural change
    already names them. Rows that differ only by the tag the event carries are merged, and a change
    that is the same whatever the tags is shown once, for any tags."""
    from planner.flows import engine_of

    scope = changed_scope(base, head)
    if scope.empty:
        return []  # every event goes where it went
    probes: list[tuple[str, ...]] = [(), *((t,) for t in sorted(filter_tags(base) | filter_tags(head)))]
    engines = engine_of(base), engine_of(head)
    origins = sorted(set(base.instances) & set(head.instances))
    searched = _rows_to_search(engines, set(origins), scope)
    changes: dict[Row, dict[tuple[Any, ...], list[str]]] = {}
    for tags in probes:
        label = tags[0] if tags else "untagged"
        for row, before, after in [*_level_all_changes(engines, origins, tags),
                                   *_other_level_changes(engines, searched, tags)]:
            changes.setdefault(row, {}).setdefault(_signature(before, after), []).append(label)
    every = [tags[0] if tags else "untagged" for tags in probes]
    result: list[ReachChange] = []
    for (origin, level, group), by_signature in sorted(changes.items()):
        for (gained, lost, raised, lowered), labels in by_signature.items():
            shown = () if len(labels) == len(probes) else tuple(labels)
            others = tuple(t for t in every if t not in labels)
            # Name the few tags left out rather than the many included: "any tags but tlp:amber".
            but = others if shown and "untagged" in labels and len(others) < len(labels) else ()
            result.append(ReachChange(origin, Distribution(level).word, group or None, shown,
                                      gained, lost, raised, lowered, but))
    return result


def _level_all_changes(engines: tuple[Engine, Engine], origins: list[str], tags: tuple[str, ...]
                       ) -> list[tuple[Row, Holders, Holders]]:
    """Level-`all` rows of every origin at once: per instance, the origins whose copy it holds on
    each side; a bit in one side only is a gained or lost holder of that origin's row."""
    held = [dict(zip(engine.names, engine.reach_all_bits(origins, tags), strict=True)) for engine in engines]
    gained: dict[int, list[str]] = {}
    lost: dict[int, list[str]] = {}
    for instance in sorted(set(held[0]) | set(held[1])):
        old, new = held[0].get(instance, 0), held[1].get(instance, 0)
        for i in bits(old ^ new):
            (gained if new >> i & 1 else lost).setdefault(i, []).append(instance)
    level = Distribution.ALL
    return [((origins[i], int(level), ""), dict.fromkeys(lost.get(i, ()), level),
             dict.fromkeys(gained.get(i, ()), level)) for i in sorted(set(gained) | set(lost))]


def _rows_to_search(engines: tuple[Engine, Engine], origins: set[str], scope: Scope
                    ) -> list[tuple[Row, EventSpec | None, EventSpec | None]]:
    """The rows below level `all` and the sharing-group rows that can differ, with their event on
    each side (None where the row exists on one side only): see the module docstring."""
    rows: list[dict[Row, EventSpec]] = [
        {(e.origin, int(e.distribution), e.sharing_group or ""): e
         for e in engine.matrix_events() if e.origin in origins and e.distribution != Distribution.ALL}
        for engine in engines]
    touched = {engines[0].index[s] for s in scope.sources if s in engines[0].index}
    return [(row, rows[0].get(row), rows[1].get(row)) for row in sorted(set(rows[0]) | set(rows[1]))
            if row not in rows[0] or row not in rows[1] or scope.must_compare(engines[0], rows[0][row], touched)]


def _other_level_changes(engines: tuple[Engine, Engine], rows: list[tuple[Row, EventSpec | None, EventSpec | None]],
                         tags: tuple[str, ...]) -> list[tuple[Row, Holders, Holders]]:
    """:func:`_rows_to_search`'s rows carrying ``tags``, searched on both sides."""
    found: list[tuple[Row, Holders, Holders]] = []
    for row, *events in rows:
        before, after = ({} if event is None else engine.propagate(replace(event, tags=tags)).reaches
                         for engine, event in zip(engines, events, strict=True))
        if before != after:
            found.append((row, before, after))
    return found


def _signature(before: Holders, after: Holders) -> tuple[Any, ...]:
    """(gained, lost, raised, lowered) between two rows' holders."""
    common = sorted(set(before) & set(after))
    return (tuple(sorted(set(after) - set(before))), tuple(sorted(set(before) - set(after))),
            tuple((i, before[i].word, after[i].word) for i in common if after[i] > before[i]),
            tuple((i, before[i].word, after[i].word) for i in common if after[i] < before[i]))
