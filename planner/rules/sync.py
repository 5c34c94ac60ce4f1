"""Rules about the sync entries between two instances: echo loops and redundant entries (judged on
the events the engine says they carry, planner/rules/witness.py), duplicate entries, and the
`internal` flag."""

from __future__ import annotations

from collections.abc import Iterator

from planner.diagnostics import Finding, Severity
from planner.estate import Connection, Estate
from planner.flows import EventSpec
from planner.flows.rules import Copy, Group, Link
from planner.rules import rule
from planner.rules.common import direction_path
from planner.rules.witness import carries, depends_on_tags, describe, first_event, link_of


def _opposite_pairs(estate: Estate) -> Iterator[tuple[Connection, Connection]]:
    """(earlier, later) entries where one instance's entry points at the other and vice versa."""
    seen: dict[tuple[str, str], list[Connection]] = {}
    for later in estate.connections:
        for earlier in seen.get((later.remote, later.initiator), ()):
            yield earlier, later
        seen.setdefault((later.initiator, later.remote), []).append(later)


@rule("MP210", Severity.WARNING, "Two instances push to each other over separate entries", """
    When A has a server entry pushing to B and B has one pushing to A, an event A publishes that
    both entries carry arrives on B published, B re-publishes it and pushes it straight back to A
    over its own entry; A refuses it only because its timestamp is not newer (docs/misp-behaviour.md#rules-in-brief
    item 5, #receiving-a-push: a received push is re-published with no pass-along, so a link back to
    the sender is tried too). Each such event crosses the link twice. Whether an event is carried
    both ways is the propagation engine's answer for concrete events (every level, creator and the
    tags the two entries' filters name): entries whose tag filters are disjoint (`push_to_nodes`
    one way, `push_to_central` the other) echo nothing, and the rule says nothing. When only an
    event carrying tags of both include lists at once would echo, the topology cannot say whether
    such events exist: the finding is then info. A pull arriving over an entry is not pushed back
    over that same entry (#pull step 8), so one entry with both push and pull exchanges data both
    ways without the echo.""")
def echo_loops(estate: Estate) -> Iterator[Finding]:
    for earlier, later in _opposite_pairs(estate):
        if earlier.push is None or later.push is None:
            continue
        out, back = link_of(estate, earlier, "push"), link_of(estate, later, "push")
        event = _echoed(estate, out, back) or _echoed(estate, back, out)
        if event is None:
            continue
        maybe = depends_on_tags(event)
        yield estate.finding(
            "MP210", Severity.INFO if maybe else Severity.WARNING,
            f"'{later.initiator}' and '{later.remote}' push to each other over two entries "
            f"(sync[{earlier.index}] and sync[{later.index}]): {describe(event)} is pushed back to where it came from"
            + (" (if events carry these tags together)" if maybe else ""),
            f"keep one entry, on '{earlier.initiator}', with push and pull, and remove sync[{later.index}]"
            + ("; or keep the two push filters' tags apart" if maybe else ""),
            direction_path(later, "push"))


def _echoed(estate: Estate, out: Link, back: Link) -> EventSpec | None:
    """The first event created on ``out.source`` that ``out`` delivers published and ``back`` sends back."""
    return first_event(estate, out.source, (out.filter, back.filter),
                       lambda event, copy, group: carries(back, carries(out, copy, event, group), event, group)
                       is not None)


@rule("MP211", Severity.ERROR, "Duplicate server entry for the same initiator and remote", """
    A sync entry is one MISP server entry on the initiator (docs/misp-behaviour.md#sync-concepts). Two entries from the
    same initiator to the same remote make every publish push the event twice (the second copy is
    refused as not newer, #what-a-push-sends step 7) and every pull list the same index twice. The planner
    identifies a server entry by the remote URL and the remote host organisation, so it cannot
    provision two of them for one pair either: merge their push and pull settings into one entry.""")
def duplicate_entries(estate: Estate) -> Iterator[Finding]:
    first: dict[tuple[str, str], Connection] = {}
    for conn in estate.connections:
        pair = (conn.initiator, conn.remote)
        if pair in first:
            yield estate.finding(
                "MP211", Severity.ERROR,
                f"sync[{conn.index}] is a second entry from '{conn.initiator}' to '{conn.remote}' "
                f"(the first is sync[{first[pair].index}])",
                f"merge it into sync[{first[pair].index}]: one entry can push and pull, each with its own filter",
                conn.path)
        else:
            first[pair] = conn


@rule("MP212", Severity.INFO, "The same data is both pushed and pulled between two instances", """
    Data can move from A to B either by A pushing (an entry on A) or by B pulling (an entry on B).
    When both carry the same events, every event B could pull has already been pushed to it; the
    pull then only re-reads the event index to skip what it holds (docs/misp-behaviour.md#pull step 3), which costs a
    request per pull and adds a second set of filters that reviewers must keep in step. The
    propagation engine decides, for concrete events (every level, creator and the tags the filters
    name), whether both directions carry one: a push and a pull over disjoint tag filters move
    different data and are not reported (nor is data only an event carrying tags of both lists
    would show). It is harmless as a catch-up for pushes missed while B was
    down; otherwise keep one of the two.""")
def push_and_pull_same_way(estate: Estate) -> Iterator[Finding]:
    for earlier, later in _opposite_pairs(estate):
        # later.initiator == earlier.remote; data earlier.initiator -> later.initiator moves by
        # earlier's push or later's pull, and the other way by earlier's pull or later's push.
        for pusher, puller in ((earlier, later), (later, earlier)):
            if pusher.push is None or puller.pull is None:
                continue
            push, pull = link_of(estate, pusher, "push"), link_of(estate, puller, "pull")

            def both(event: EventSpec, copy: Copy, group: Group | None, push: Link = push, pull: Link = pull) -> bool:
                return carries(push, copy, event, group) is not None and carries(pull, copy, event, group) is not None

            event = first_event(estate, push.source, (push.filter, pull.filter), both)
            if event is None or depends_on_tags(event):
                continue  # an info rule has no lower level for "only if events carry both tags"
            yield estate.finding(
                "MP212", Severity.INFO,
                f"data from '{pusher.initiator}' to '{puller.initiator}' is pushed by sync[{pusher.index}] "
                f"and pulled again by sync[{puller.index}]: both carry {describe(event)}",
                "drop one of the two unless the pull is a deliberate catch-up for missed pushes",
                direction_path(puller, "pull"))


@rule("MP213", Severity.ERROR, "internal: true between instances with different host organisations", """
    MISP's internal flag switches off the downgrades and lets organisation- and community-only data
    and local tags cross a link, and it is only accepted when the remote's host organisation is the
    local host organisation (docs/misp-behaviour.md#rules-in-brief item 6, #internal-links, #planner-checks item 3).
    Between instances run by
    different organisations MISP silently saves the entry with internal off (#observed), so the flows the
    topology promises would not happen.""")
def internal_across_orgs(estate: Estate) -> Iterator[Finding]:
    for conn in estate.connections:
        if not conn.internal:
            continue
        local = estate.instances[conn.initiator].host_org
        remote = estate.instances[conn.remote].host_org
        if local != remote:
            yield estate.finding(
                "MP213", Severity.ERROR,
                f"sync[{conn.index}] is internal but '{conn.initiator}' is run by '{local}' and "
                f"'{conn.remote}' by '{remote}'",
                "set 'internal: false': MISP only keeps internal links between instances of the same host organisation",
                (*conn.path, "internal"))
