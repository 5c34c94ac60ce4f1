"""The events behind a verdict: rules about where data goes ask the propagation engine about
concrete events and name the one that shows what they report (no rules are registered here).

An event is an origin, a distribution level, a creator organisation and a set of tags
(:class:`planner.flows.EventSpec`). Whether a link carries it is the engine's answer: its hop rules
(:func:`planner.flows.rules.transfer`) and filters (:func:`planner.flows.rules.matches`) for one
hop, :func:`planner.flows.propagate` for where it ends up. A verdict that depends on the tags in
use (an event carrying tags of two different include lists, which the topology cannot say exists)
is only a possibility: rules report it at info level.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace

from planner.estate import Connection, Estate
from planner.flows import EventSpec, FlowError, engine_of, feeder_event
from planner.flows.rules import ORG, Copy, Group, Link, matches, transfer
from planner.misp import Distribution
from planner.model import Direction
from planner.rules.common import Mode

# The levels a witness is looked for at, widest first: the first found is the one a finding names.
LEVELS_WIDEST_FIRST = (Distribution.ALL, Distribution.CONNECTED, Distribution.COMMUNITY, Distribution.ORGANISATION)


def link_of(estate: Estate, conn: Connection, mode: Mode) -> Link:
    """The engine's link for one direction of a sync entry."""
    links: dict[tuple[int, Mode], Link] = estate.memo(
        "links_by_entry", lambda e: {(link.connection, link.mode): link for link in engine_of(e).links})
    return links[conn.index, mode]


def reach(estate: Estate, event: EventSpec) -> frozenset[str]:
    """The instances holding a copy of ``event`` once every sync job has run (the engine's
    :meth:`~planner.flows.Engine.reach`: no paths), kept per event: several rules and targets ask
    about the same events."""
    known: dict[EventSpec, frozenset[str]] = estate.memo("reach_of_event", lambda _: {})
    if event not in known:
        known[event] = engine_of(estate).reach(event)
    return known[event]


def feeder_events(estate: Estate, feeder_ids: Iterable[str]) -> Iterator[tuple[str, EventSpec]]:
    """(feeder id, the events it creates) for the feeders whose events can exist in this estate; the
    others (e.g. a sharing group its organisation is not a member of) are left to the checks that
    report them, not judged here."""
    engine = engine_of(estate)
    for fid in feeder_ids:
        event = feeder_event(estate, fid)
        try:
            engine.resolve(event)
        except FlowError:
            continue
        yield fid, event


def published_on_instance(estate: Estate, event: EventSpec, instance: str) -> EventSpec:
    """A published feeder's ``event`` as the same event created on ``instance`` by its creator: it
    travels alike, and the engine's answer for it is shared with the rules asking about the
    instance. A creator that is not local there (a MISP feed's) keeps the feeder as origin."""
    return replace(event, origin=instance) if event.org in estate.instances[instance].orgs else event


def feeder_reach(estate: Estate, feeder_id: str, event: EventSpec) -> frozenset[str]:
    """The instances holding a published feeder's ``event`` once every sync job has run, its own
    instance included."""
    return reach(estate, published_on_instance(estate, event, estate.feeders[feeder_id].into))


def tag_choices(filters: Iterable[Direction]) -> list[tuple[str, ...]]:
    """The tag sets worth asking about, fewest tags first: none; each tag an include list names; and
    one tag of every include list together (the only event some pairs of filters both let through).
    O(tags of the filters)."""
    filters = list(filters)
    excluded = {tag for f in filters for tag in f.tags.exclude}
    choices: list[tuple[str, ...]] = [()]
    choices += [(tag,) for tag in sorted({tag for f in filters for tag in f.tags.include} - excluded)]
    combined: set[str] = set()
    for f in filters:
        allowed = sorted(set(f.tags.include) - excluded)
        if f.tags.include and not combined.intersection(allowed):
            if not allowed:
                return choices  # this filter lets no tag set through that the others allow
            combined.add(allowed[0])
    if len(combined) > 1:
        choices.append(tuple(sorted(combined)))
    return choices


def depends_on_tags(event: EventSpec) -> bool:
    """Whether the event needs tags of two include lists at once: the topology cannot say such an
    event exists, so what it shows is a possibility (info), not a certainty."""
    return len(event.tags) > 1


def start_copy(event: EventSpec) -> Copy:
    """The published original on the origin instance (spec §10: created, then published)."""
    level = int(event.distribution)
    return (level, event.org if level == ORG else None, True)


def carries(link: Link, copy: Copy | None, event: EventSpec, group: Group | None) -> Copy | None:
    """The copy ``link`` delivers of ``event`` held as ``copy`` on its source, or None: only a
    published copy travels (docs/misp-behaviour.md#rules-in-brief rule 2), tag rules match the
    event's tags and org rules its creator (#push-and-pull-rules), the hop rules decide the rest."""
    if copy is None or not copy[2]:
        return None
    assert event.org is not None
    if not matches(link.filter.tags, event.tags) or not matches(link.filter.orgs, (event.org,)):
        return None
    return transfer(link, copy[0], copy[1], group)


def events_on(estate: Estate, origin: str, tag_sets: list[tuple[str, ...]]) -> Iterator[EventSpec]:
    """Events created on instance ``origin``, fewest tags first, then by creator (host organisation
    first), then widest level first; sharing-group events once per group the creator belongs to.
    On a managed instance a creator's users never put on a tag reserved to another organisation
    (``tags.{name}.org``, which the generated project creates there as the tag's org_id:
    TagsController::attachTagToObject refuses it to other organisations' users, site admins
    excepted; the planner takes events as tagged by their creator's users). An instance run by
    someone else has its own tags."""
    groups = estate.sharing_groups
    reserved = {name: tag.org for name, tag in estate.tags.items()
                if tag.org is not None} if estate.instances[origin].managed else {}
    for tags in tag_sets:
        for org in estate.instances[origin].orgs:
            if any(reserved.get(tag, org) != org for tag in tags):
                continue
            for level in LEVELS_WIDEST_FIRST:
                yield EventSpec(origin, level, tags, None, org)
            for gid in sorted(g for g in groups if org in groups[g].orgs):
                yield EventSpec(origin, Distribution.SHARING_GROUP, tags, gid, org)


def first_event(estate: Estate, origin: str, filters: Iterable[Direction],
                travels: Callable[[EventSpec, Copy, Group | None], bool]) -> EventSpec | None:
    """The first event of :func:`events_on` for which ``travels(event, original, group)`` holds."""
    groups = engine_of(estate).groups
    for event in events_on(estate, origin, tag_choices(filters)):
        group = groups[event.sharing_group] if event.sharing_group is not None else None
        if travels(event, start_copy(event), group):
            return event
    return None


def describe(event: EventSpec) -> str:
    """``an event tagged tlp:clear created on 'one' by 'a' at 'all'`` (what a finding names)."""
    level = f"sharing group '{event.sharing_group}'" if event.sharing_group else f"'{event.distribution.word}'"
    kind = f"an event tagged {', '.join(event.tags)}" if event.tags else "an untagged event"
    return f"{kind} created on '{event.origin}' by '{event.org}' at {level}"
