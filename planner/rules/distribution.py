"""Rules about where distribution levels take data: connected data beyond one hop, community data
pulled out of its community, untrusted communities without filters, sharing groups whose links
refuse their events.

These rules read the sync graph structurally (which links exist, with which flags and filters);
the exact per-event answer is the propagation engine's (`misp-planner flows`) and the policies'.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass

import networkx as nx

from planner.diagnostics import Finding, Severity, YamlPath
from planner.estate import Connection, Estate
from planner.misp import Distribution
from planner.model import Direction, SharingGroup
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


@rule("MP214", Severity.WARNING, "Connected-communities data expected two or more hops away", """
    Distribution "connected communities" (2) reaches exactly the instances one sync hop away,
    where it arrives as "community" (1) and stops; a pull by the next instance can still fetch that
    copy, but only as "organisation" (0) data owned by the puller's host organisation
    (docs/misp-behaviour.md#what-a-push-sends, #pull table, #multi-hop "Consequences", #planner-checks item 5). A
    policy that expects connected data on an
    instance two or more hops from its origin relies on a flow MISP does not provide.""")
def connected_beyond_one_hop(estate: Estate) -> Iterator[Finding]:
    for n, policy in enumerate(estate.policies):
        origin, distribution = policy.data.origin, policy.data.distribution
        if origin in estate.feeders:
            distribution = distribution if distribution is not None else estate.feeders[origin].distribution
            origin = estate.feeders[origin].into
        if origin is None or distribution is not Distribution.CONNECTED:
            continue
        for k, target in enumerate(policy.must_reach):
            if target.instance is None or target.instance == origin:
                continue
            try:
                hops = nx.shortest_path_length(estate.graph, origin, target.instance)
            except nx.NetworkXNoPath:
                continue  # no route at all: the policy check itself reports that
            if hops >= 2:
                yield estate.finding(
                    "MP214", Severity.WARNING,
                    f"policy '{policy.name}' expects connected-communities data from '{origin}' on "
                    f"'{target.instance}', {hops} sync hops away",
                    "connected data stops one hop from its origin (arriving as community); connect the two "
                    "instances directly, or use distribution all or a sharing group",
                    ("policies", n, "must_reach", k))


@rule("MP215", Severity.WARNING, "Community-level data pulled across a community boundary", """
    A pull fetches everything the remote sync user can see, and "this community only" (1) is
    visible to every organisation on an instance, sync users of peers included; the puller stores
    it as "organisation" (0) data (docs/misp-behaviour.md#distribution-levels, #pull step 2 and table, #multi-hop).
    So when an
    instance of another community pulls, the holder's community-only events leave the community,
    silently. It matters when the holder's community is private (its data is not meant to leave,
    spec §3) or the puller's community is untrusted. A push never sends community data (#what-a-push-sends).""")
def community_data_pulled_out(estate: Estate) -> Iterator[Finding]:
    for holder, puller, mode, direction, conn in flows(estate):
        if mode != "pull" or not crosses_communities(estate, holder, puller):
            continue
        if not (private(estate, holder) or untrusted(estate, puller)):
            continue
        if has_tag_include(direction) and estate.instances[puller].managed and not untrusted(estate, puller):
            continue  # the puller we run only takes explicitly tagged events: a deliberate choice
        why = (f"community '{community(estate, puller)}' is untrusted" if untrusted(estate, puller)
               else f"community '{community(estate, holder)}' is private")
        yield estate.finding(
            "MP215", Severity.WARNING,
            f"'{puller}' pulls from '{holder}': community-only events on '{holder}' leave community "
            f"'{community(estate, holder)}' ({why})",
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
    """Edges into an untrusted community that untagged data from a private community reaches.

    A breadth-first walk per private community of what a published, untagged event at "all"
    would do: it crosses every flow without a tag include list (an untagged event cannot match
    one, docs/misp-behaviour.md#push-and-pull-rules) and without an org include list; a copy that arrives by an
    unpublishing
    push is held but goes no further (#multi-hop). Returns edge -> the chain of instances it took.
    O(private communities x flows).
    """
    leaks: dict[tuple[int, Mode], tuple[str, ...]] = {}
    # The open flows once: (target, edge, passes the event on, enters an untrusted community).
    open_out: dict[str, list[tuple[str, tuple[int, Mode], bool, bool]]] = {}
    for source, target, mode, direction, conn in flows(estate):
        if not (has_tag_include(direction) or direction.orgs.include):
            enters = untrusted(estate, target) and crosses_communities(estate, source, target)
            open_out.setdefault(source, []).append(
                (target, (conn.index, mode), not (mode == "push" and conn.unpublish), enters))
    for cid in sorted(c for c, com in estate.communities.items() if com.private):
        starts = sorted(i for i, inst in estate.instances.items() if inst.community == cid)
        parent: dict[str, str | None] = dict.fromkeys(starts)  # instances holding a published copy

        def chain(node: str, parent: dict[str, str | None] = parent) -> tuple[str, ...]:
            path = [node]
            while (up := parent[path[-1]]) is not None:
                path.append(up)
            return tuple(reversed(path))

        queue = deque(starts)
        while queue:
            node = queue.popleft()
            for target, edge, passes_on, enters in open_out.get(node, ()):
                if enters and edge not in leaks:
                    leaks[edge] = (*chain(node), target)
                if passes_on and target not in parent:
                    parent[target] = node
                    queue.append(target)
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
    include list
    (#push-and-pull-rules) carries them from the private community into an untrusted one, however many hops away.
    The finding points at the link where the chain enters the untrusted community.""")
def private_to_untrusted(estate: Estate) -> Iterator[Finding]:
    by_index = {conn.index: conn for conn in estate.connections}
    for (index, mode), path in sorted(_private_leaks(estate).items()):
        conn = by_index[index]
        source_community = community(estate, path[0])
        target = path[-1]
        yield estate.finding(
            "MP217", Severity.ERROR,
            f"untagged data published at 'all' in private community '{source_community}' reaches "
            f"'{target}' in untrusted community '{community(estate, target)}' through sync[{index}] {mode}",
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


def _group_edges(estate: Estate, group: SharingGroup, holders: set[str],
                 out: dict[str, list[tuple[str, Mode, Direction, Connection]]],
                 ) -> tuple[dict[str, list[tuple[str, bool]]], list[_Refusal]]:
    """Which flows out of possible holders carry a sharing group's events (docs/misp-behaviour.md#what-a-push-sends
    rule 5,
    #pull table, #sharing-groups).

    Push: the remote's host organisation must be a member (checked even on roaming groups), and
    unless the group roams or the link is internal the remote must be on the server list. Pull:
    the puller's host organisation (its sync user's organisation on the remote) must be a member.
    Returns source -> [(target, passes on)] and the refused flows with their reasons.
    """
    members = set(group.orgs)
    listed = set(group.instances)
    accepted: dict[str, list[tuple[str, bool]]] = {}
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
            else:
                accepted.setdefault(source, []).append((target, not (mode == "push" and conn.unpublish)))
    return accepted, refused


def _reachable(accepted: dict[str, list[tuple[str, bool]]], start: str) -> set[str]:
    seen = {start}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        for target, passes_on in accepted.get(node, []):
            if target not in seen:
                seen.add(target)
                if passes_on:
                    queue.append(target)
    return seen


@rule("MP218", Severity.WARNING, "A sharing group's instance is reachable only over links that refuse it", """
    A sharing-group event is pushed only where the remote's host organisation is a member of the
    group (checked on every push, roaming or not) and, unless the group roams or the link is
    internal, the remote is on the group's server list; a pull fetches it only if the puller's
    host organisation is a member (docs/misp-behaviour.md#what-a-push-sends rule 5, #pull table, #sharing-groups,
    #planner-checks item 6). An
    instance the group lists (or, for a roaming group, a member's instance) that can be reached
    from the group's other holders only over links failing those checks never receives the
    group's events, although the group says it should.""")
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
        origins = sorted({i for i in hosting if i in listed}
                         | {f.into for f in estate.feeders.values() if f.sharing_group == gid})
        # Only instances with a member organisation or a group feeder can ever hold the group's
        # events: accepted flows lead only to member-run instances.
        holders = set(hosting) | set(origins)
        accepted, refused = _group_edges(estate, group, holders, out)
        reach = {o: _reachable(accepted, o) for o in origins}
        for target, path in targets:
            missing = [o for o in origins if o != target and target not in reach[o]]
            if not missing:
                continue
            held: set[str] = set().union(*(reach[o] for o in missing))
            blocking = [r for r in refused if r.source in held]
            if group.roaming and not blocking:
                continue  # a roaming group goes where links lead; no link is not a refusal
            related = tuple(f"sync[{r.conn.index}] {r.mode} {r.source} -> {r.target}: {r.reason}" for r in blocking)
            cause = "the links from its holders refuse the group's events" if blocking else "no sync link leads there"
            yield estate.finding(
                "MP218", Severity.WARNING,
                f"sharing group '{gid}' never reaches '{target}' from {', '.join(repr(o) for o in missing)}: {cause}",
                "add the remote's host organisation to the group's orgs and the remote to its instances, "
                "or connect the instance over a link that carries the group",
                path, related=related)
