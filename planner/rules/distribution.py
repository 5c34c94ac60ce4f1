"""Rules about where distribution levels take data: connected data beyond one hop, community data
pulled out of its community, untrusted communities without filters, sharing groups whose links
refuse their events.

Where reach decides the verdict, the rules ask the propagation engine (planner/flows, the same
answers as `misp-planner flows`) about concrete events and name the event in the finding
(planner/rules/witness.py); MP216 judges a link's filter itself.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace

from planner.diagnostics import Finding, Severity, YamlPath
from planner.estate import Connection, Estate
from planner.flows import EventSpec, FlowError, engine_of, feeder_event, propagate
from planner.flows.rules import ALL, Copy, Group, Link
from planner.misp import Distribution
from planner.model import Direction, PolicyData, SharingGroup
from planner.rules import rule
from planner.rules.common import (
    Mode,
    community,
    crosses_communities,
    direction_path,
    flows,
    has_tag_include,
    private,
    untrusted,
)
from planner.rules.witness import carries, describe, feeder_events, first_event, link_of, reach, tag_choices


@rule("MP214", Severity.WARNING, "Connected-communities data expected two or more hops away", """
    Distribution "connected communities" (2) reaches exactly the instances one sync hop away,
    where it arrives as "community" (1) and stops being pushed; a pull by the next instance can
    still fetch that copy, but only as "organisation" (0) data owned by the puller's host
    organisation, and an internal link keeps the level (docs/misp-behaviour.md#what-a-push-sends, #pull table,
    #multi-hop "Consequences", #internal-links, #planner-checks item 5). The rule asks the
    propagation engine where the policy's event at "connected" goes: it reports a target only when
    that event never arrives there while the same event at "all" does, so a second hop by pull or
    over an internal link, which `flows` shows arriving, is not reported.""")
def connected_beyond_one_hop(estate: Estate) -> Iterator[Finding]:
    for n, policy in enumerate(estate.policies):
        event = _connected_event(estate, policy.data)
        if event is None:
            continue
        try:
            flow, wide = propagate(estate, event), propagate(estate, replace(event, distribution=Distribution.ALL))
        except FlowError:
            continue  # the policy check reports an event that cannot exist
        for k, target in enumerate(policy.must_reach):
            where = target.instance
            if where is None or where in flow.reaches or where not in wide.reaches:
                continue  # arrives, or no level gets there: the policy check itself reports that
            held = [i for i in flow.reaches if i != flow.origin_instance]
            yield estate.finding(
                "MP214", Severity.WARNING,
                f"policy '{policy.name}' expects connected-communities data from '{flow.origin_instance}' on "
                f"'{where}': {describe(flow.event)} stops at {', '.join(repr(i) for i in held) or 'its origin'}, "
                f"while at 'all' it arrives by {' -> '.join(wide.paths[where])}",
                "connected data stops one hop from its origin (arriving as community); connect the two "
                "instances directly, or use distribution all or a sharing group",
                ("policies", n, "must_reach", k))


def _connected_event(estate: Estate, data: PolicyData) -> EventSpec | None:
    """The event a policy asserts about when it is at "connected communities", or None."""
    if data.origin in estate.feeders:
        event = feeder_event(estate, data.origin)
        level = data.distribution if data.distribution is not None else event.distribution
        return replace(event, distribution=level) if level is Distribution.CONNECTED else None
    if data.origin is None or data.distribution is not Distribution.CONNECTED:
        return None
    return EventSpec(data.origin, Distribution.CONNECTED, tuple(data.tags), None, data.org)


@rule("MP215", Severity.WARNING, "Community-level data pulled across a community boundary", """
    A pull fetches everything the remote sync user can see, and "this community only" (1) is
    visible to every organisation on an instance, sync users of peers included; the puller stores
    it as "organisation" (0) data (docs/misp-behaviour.md#distribution-levels, #pull step 2 and table, #multi-hop).
    So when an instance of another community pulls, the holder's community-only events leave the
    community. It matters when the holder's community is private (its data is not meant to leave,
    spec §3) or the puller's community is untrusted. The rule asks the propagation engine for a
    community-level event on the holder that the pull carries and where it ends up: a warning when
    it lands in an untrusted community or travels on beyond the puller; info when it stops on a
    trusted puller (MISP counts the organisations that sync with an instance as part of its
    community: the usual partnering pattern) or when only events with the tags the pull's include
    list names cross (whether community-only events carry them depends on the tags in use). A push
    never sends community data (#what-a-push-sends).""")
def community_data_pulled_out(estate: Estate) -> Iterator[Finding]:
    for holder, puller, mode, direction, conn in flows(estate):
        if mode != "pull" or not crosses_communities(estate, holder, puller):
            continue
        if not (private(estate, holder) or untrusted(estate, puller)):
            continue
        link = link_of(estate, conn, "pull")

        def pulled(event: EventSpec, copy: Copy, group: Group | None, link: Link = link) -> bool:
            return event.distribution is Distribution.COMMUNITY and carries(link, copy, event, group) is not None

        event = first_event(estate, holder, (direction,), pulled)
        if event is None:
            continue  # the pull's filters refuse every community-level event of the holder
        home = community(estate, holder)
        beyond = sorted(i for i in reach(estate, event) if i != puller and community(estate, i) != home)
        why = (f"community '{community(estate, puller)}' is untrusted" if untrusted(estate, puller)
               else f"community '{home}' is private")
        onward = f", and on to {', '.join(repr(i) for i in beyond)}" if beyond else ""
        severe = not event.tags and (untrusted(estate, puller) or bool(beyond))
        yield estate.finding(
            "MP215", Severity.WARNING if severe else Severity.INFO,
            f"'{puller}' pulls from '{holder}': {describe(event)} leaves community '{home}' as organisation "
            f"data of '{estate.instances[puller].host_org}'{onward} ({why})",
            f"let '{holder}' push instead (a push never sends community-only data), or bind the sync user "
            f"on '{holder}' to a server entry whose push rules filter what '{puller}' may list",
            direction_path(conn, "pull"))


def _outgoing(estate: Estate) -> dict[str, list[tuple[str, Mode, Direction, Connection]]]:
    out: dict[str, list[tuple[str, Mode, Direction, Connection]]] = {}
    for source, target, mode, direction, conn in flows(estate):
        out.setdefault(source, []).append((target, mode, direction, conn))
    return out


def _private_leaks(estate: Estate) -> dict[tuple[int, Mode], tuple[str, ...]]:
    return estate.memo("private_leaks", _find_private_leaks)  # MP216 and MP217 both ask


def _find_private_leaks(estate: Estate) -> dict[tuple[int, Mode], tuple[str, ...]]:
    """Links into an untrusted community that an untagged event published at "all" by the host
    organisation of an instance of a private community reaches, with the chain of instances it took
    (the propagation engine's paths, `misp-planner flows`). The engine searches all these origins
    at once (:meth:`planner.flows.Engine.matrix_all`); the link of the hop entering the untrusted
    community is the first entry, in file order, that carries the event there. O(matrix row per
    private instance)."""
    origins = sorted(i for i, inst in estate.instances.items() if estate.communities[inst.community].private)
    links: dict[tuple[str, str], list[Link]] = {}
    for link in engine_of(estate).links:
        if untrusted(estate, link.target) and crosses_communities(estate, link.source, link.target):
            links.setdefault((link.source, link.target), []).append(link)
    leaks: dict[tuple[int, Mode], tuple[str, ...]] = {}
    if not links:
        return leaks
    exposed = {i for i in estate.instances if untrusted(estate, i)}
    for flow in engine_of(estate).matrix_all(origins):
        event = flow.event
        for holder in sorted(exposed.intersection(flow.reaches) - {flow.origin_instance}):
            chain = flow.paths[holder]  # made on demand: most holders are not asked about
            k = next((k for k in range(1, len(chain)) if (chain[k - 1], chain[k]) in links), None)
            if k is None:
                continue  # within the origin's own (untrusted) community
            entering = sorted((link for link in links[chain[k - 1], chain[k]]
                               if carries(link, (ALL, None, True), event, None) is not None),
                              key=lambda link: (link.connection, link.mode))
            if entering and (entering[0].connection, entering[0].mode) not in leaks:
                leaks[entering[0].connection, entering[0].mode] = chain[:k + 1]
    return leaks


@rule("MP216", Severity.WARNING, "Sync with an untrusted community without a tag include filter", """
    Whatever a link does not filter, it carries: a push sends every published event at "all",
    "connected" or an allowing sharing group (docs/misp-behaviour.md#what-a-push-sends), a pull takes everything
    the remote
    sync user can see (#pull). Towards an untrusted community that means anything an analyst
    publishes too widely; from one, it means importing whatever its members publish. A tag include
    list (push_rules / pull_rules tags.OR, #push-and-pull-rules) makes the link carry only what was explicitly
    marked for it, e.g. tlp:clear.""")
def untrusted_without_filter(estate: Estate) -> Iterator[Finding]:
    leaks = _private_leaks(estate)
    for source, target, mode, direction, conn in flows(estate):
        if not crosses_communities(estate, source, target):
            continue
        if not (untrusted(estate, source) or untrusted(estate, target)) or has_tag_include(direction):
            continue
        if (conn.index, mode) in leaks:
            continue  # MP217 reports this edge with the private community it leaks
        towards = "to" if untrusted(estate, target) else "from"
        other = target if towards == "to" else source
        yield estate.finding(
            "MP216", Severity.WARNING,
            f"sync[{conn.index}] {mode}es data from '{source}' to '{target}', {towards} untrusted community "
            f"'{community(estate, other)}', without a tag include list",
            f"add {mode}: {{tags: {{include: [\"tlp:clear\"]}}}} (or the tags that may cross)",
            direction_path(conn, mode))


@rule("MP217", Severity.ERROR, "Data of a private community reaches an untrusted community unfiltered", """
    A private community's data is not meant to leave it unless a connection says so explicitly
    (spec §3). Events published at "all" travel every push link through chained re-publication
    and every pull (docs/misp-behaviour.md#rules-in-brief items 4-5, #multi-hop), so a chain of links without a tag
    include list (#push-and-pull-rules) carries them from the private community into an untrusted
    one, however many hops away. The rule asks the propagation engine where an untagged event
    published at "all" by each private instance's host organisation goes (org filters and
    unpublishing pushes included) and points at the link where its chain enters the untrusted
    community.""")
def private_to_untrusted(estate: Estate) -> Iterator[Finding]:
    by_index = {conn.index: conn for conn in estate.connections}
    for (index, mode), path in sorted(_private_leaks(estate).items()):
        conn = by_index[index]
        source_community = community(estate, path[0])
        target = path[-1]
        yield estate.finding(
            "MP217", Severity.ERROR,
            f"an untagged event published at 'all' by '{estate.instances[path[0]].host_org}' on '{path[0]}' "
            f"in private community '{source_community}' reaches '{target}' in untrusted community "
            f"'{community(estate, target)}' through sync[{index}] {mode}",
            f"give sync[{index}] {mode} a tag include list (e.g. tlp:clear), or filter the link where data "
            f"leaves '{source_community}'",
            direction_path(conn, mode),
            related=("path: " + " -> ".join(path),))


@dataclass(frozen=True)
class _Refusal:
    conn: Connection
    mode: Mode
    source: str
    target: str
    reason: str


def _group_refusals(estate: Estate, group: SharingGroup, holders: set[str],
                 out: dict[str, list[tuple[str, Mode, Direction, Connection]]],
                 ) -> list[_Refusal]:
    """Which flows out of possible holders refuse a sharing group's events (docs/misp-behaviour.md#what-a-push-sends
    rule 5,
    #pull table, #sharing-groups).

    Push: the remote's host organisation must be a member (checked even on roaming groups), and
    unless the group roams or the link is internal the remote must be on the server list. Pull:
    the puller's host organisation (its sync user's organisation on the remote) must be a member.
    Returns the refused flows with their reasons, by source in id order.
    """
    members = set(group.orgs)
    listed = set(group.instances)
    refused: list[_Refusal] = []
    for source in sorted(holders):
        for target, mode, _direction, conn in out.get(source, []):
            org = estate.instances[target].host_org
            reason = ""
            if org not in members:
                reason = f"'{target}' is run by '{org}', which is not a member of the group"
            elif mode == "push" and not group.roaming and not conn.internal and target not in listed:
                reason = f"'{target}' is not in the group's instance list"
            if reason:
                refused.append(_Refusal(conn, mode, source, target, reason))
    return refused


@rule("MP218", Severity.WARNING, "A sharing group's instance is reachable only over links that refuse it", """
    A sharing-group event is pushed only where the remote's host organisation is a member of the
    group (checked on every push, roaming or not) and, unless the group roams or the link is
    internal, the remote is on the group's server list; a pull fetches it only if the puller's
    host organisation is a member (docs/misp-behaviour.md#what-a-push-sends rule 5, #pull table, #sharing-groups,
    #planner-checks item 6). An
    instance the group lists (or, for a roaming group, a member's instance) that can be reached
    from the group's other holders only over links failing those checks never receives the
    group's events, although the group says it should. The rule asks the propagation engine
    where an untagged event of the group, created on each listed instance by a member
    organisation (and each publishing feeder's events at the group), goes: a warning names the event and
    where it is held. When the event arrives only if it carries a tag some link on the way
    includes (a tag-gated hub), whether it does depends on the tags in use: info.""")
def sharing_group_unreachable(estate: Estate) -> Iterator[Finding]:
    out = _outgoing(estate)
    for gid in sorted(estate.sharing_groups):
        group = estate.sharing_groups[gid]
        members = set(group.orgs)
        hosting = [i for i, inst in sorted(estate.instances.items()) if members & set(inst.orgs)]
        targets: list[tuple[str, YamlPath]]
        if group.roaming:
            targets = [(i, ("sharing_groups", gid)) for i in hosting if estate.instances[i].host_org in members]
        else:
            targets = [(i, ("sharing_groups", gid, "instances", k)) for k, i in enumerate(group.instances)]
        listed = {i for i, _ in targets}
        events = [_group_event(estate, gid, i) for i in hosting if i in listed]
        # a feeder's unpublished events wait for an analyst, who publishes them as the instance's own
        events += [event for _, event in feeder_events(estate, sorted(
            fid for fid, feeder in estate.feeders.items() if feeder.sharing_group == gid and feeder.publish))]
        holders = {event: reach(estate, event) for event in events}
        for target, path in targets:
            missing = [e for e in events if e.origin != target and target not in holders[e]]
            if not missing:
                continue
            held: set[str] = set().union(*(holders[e] for e in missing))
            refused = [r for r in _group_refusals(estate, group, held, out) if r.target not in held]
            tagged = _tagged_reach(estate, missing, target, held, out)
            # the refusals of links into the target explain it best; else (untagged events stopped
            # short of it for good) any link the event could not take
            direct = [r for r in refused if r.target == target]
            blocking = direct if direct or tagged is not None else refused
            if group.roaming and not blocking and tagged is None:
                continue  # a roaming group goes where links lead; no link is not a refusal
            related = tuple(f"sync[{r.conn.index}] {r.mode} {r.source} -> {r.target}: {r.reason}" for r in blocking)
            origins = ", ".join(repr(e.origin) for e in missing)
            if tagged is not None:
                yield estate.finding(
                    "MP218", Severity.INFO,
                    f"sharing group '{gid}' reaches '{target}' from {origins} only when its events are tagged "
                    f"{', '.join(tagged)}: {describe(missing[0])} does not arrive",
                    "tag the group's events for the links on the way, or let those links take the group's "
                    "events untagged", path, related=related)
                continue
            cause = "the links from its holders refuse the group's events" if blocking else "no sync link leads there"
            yield estate.finding(
                "MP218", Severity.WARNING,
                f"sharing group '{gid}' never reaches '{target}' from {origins}: {cause} "
                f"({describe(missing[0])} is held on {', '.join(sorted(held))} only)",
                "add the remote's host organisation to the group's orgs and the remote to its instances, "
                "or connect the instance over a link that carries the group",
                path, related=related)


def _group_event(estate: Estate, gid: str, origin: str) -> EventSpec:
    """An event of the group created on ``origin`` by its first local organisation that is a member."""
    members = estate.sharing_groups[gid].orgs
    org = next(org for org in estate.instances[origin].orgs if org in members)
    return EventSpec(origin, Distribution.SHARING_GROUP, (), gid, org)


def _tagged_reach(estate: Estate, missing: list[EventSpec], target: str, held: set[str],
                  out: dict[str, list[tuple[str, Mode, Direction, Connection]]]) -> tuple[str, ...] | None:
    """A tag (or tags) with which every event of ``missing`` reaches ``target``, tried among those the
    include lists of the links out of ``held`` name (a tag-gated hub): None when no such tag does."""
    filters = [direction for source in sorted(held) for _t, _m, direction, _c in out.get(source, [])
               if direction.tags.include]
    for tags in tag_choices(filters)[1:]:
        if all(target in reach(estate, replace(e, tags=tuple(sorted({*e.tags, *tags})))) for e in missing):
            return tags
    return None


@rule("MP219", Severity.ERROR, "Two sharing groups with the same name on one instance", """
    MISP keeps a sharing group's name unique on an instance (app/Model/SharingGroup.php: `$validate`
    "A sharing group with this name already exists.", and `beforeValidate` appends `_<random number>`
    to a new group whose name is taken, whether the API creates it or a sync captures it;
    docs/misp-behaviour.md#sharing-groups for groups in general). So the second of two groups with one
    name arrives renamed, the generated project would set the name back at every run (which the same
    validation refuses), and users could not tell the two apart. A group's
    name is its `name:`, else its id; every instance that holds two groups (on their server lists,
    or where their members create events) needs the names to differ.""")
def duplicate_group_names(estate: Estate) -> Iterator[Finding]:
    reported: set[tuple[str, str]] = set()
    held: dict[str, list[str]] = {}
    for iid, gid in estate.sharing_group_holders():
        held.setdefault(iid, []).append(gid)
    for iid, gids in sorted(held.items()):
        if not estate.instances[iid].managed:
            continue  # not provisioned by the planner: MISP's own renaming is the operator's business
        first: dict[str, str] = {}
        for gid in gids:
            name = estate.sharing_groups[gid].name or gid
            if name not in first:
                first[name] = gid
            elif (first[name], gid) not in reported:
                reported.add((first[name], gid))
                yield estate.finding(
                    "MP219", Severity.ERROR,
                    f"sharing groups '{first[name]}' and '{gid}' are both named '{name}' and both held on '{iid}'",
                    f"give sharing_groups.{gid} a name of its own",
                    ("sharing_groups", gid, "name") if estate.sharing_groups[gid].name else ("sharing_groups", gid))
