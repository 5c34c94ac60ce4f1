"""The estate prepared for the searches: links, groups, tag and org filters, and their indices.

One job: everything about the estate that does not depend on the event, computed once when the
engine is made (``engine_of``): the links (:func:`planner.flows.rules.links_of`) in order and per
instance, the flows that can carry low-level copies, the hop rules of levels 0-3 tabulated per
link, the filter indices, and the checks that turn an :class:`EventSpec` into an origin, creator
org and published flag. Preparing is O(F + N) for F links and N instances (a second on a national
estate); :meth:`PreparedEstate.tag_blocked` is O(tag-filtered links) once per tag set and
:meth:`PreparedEstate.org_blocking` O(org-filtered links) once per recent org.
"""

from __future__ import annotations

from collections.abc import Iterable

from planner.estate import Estate
from planner.flows.events import EventSpec, FlowError, unknown
from planner.flows.rules import (
    ALL,
    COMMUNITY,
    CONNECTED,
    GROUP,
    ORG,
    Copy,
    Group,
    carries_low_levels,
    links_of,
    matches,
    transfer,
)
from planner.misp import FEED_FORMATS_KEEPING_CREATOR, Distribution


class PreparedEstate:
    """The estate's links and indices, prepared once; the searches are built on top of it."""

    def __init__(self, estate: Estate) -> None:
        self.estate = estate
        self.links = tuple(links_of(estate))
        out: dict[str, list[int]] = {iid: [] for iid in estate.instances}
        into: dict[str, list[int]] = {iid: [] for iid in estate.instances}
        for n, link in enumerate(self.links):
            out[link.source].append(n)
            into[link.target].append(n)
        self.out: dict[str, tuple[int, ...]] = {iid: tuple(v) for iid, v in out.items()}
        self.into: dict[str, tuple[int, ...]] = {iid: tuple(v) for iid, v in into.items()}  # for why-not
        # The flows that can carry an organisation or community copy at all: pulls and internal
        # pushes (docs/misp-behaviour.md#what-a-push-sends rule 2). Most copies a search meets are such copies.
        self.out_low: dict[str, tuple[int, ...]] = {
            iid: tuple(n for n in v if carries_low_levels(self.links[n])) for iid, v in out.items()}
        self.names = sorted(estate.instances)
        self.index = {iid: k for k, iid in enumerate(self.names)}
        self._index_filters()
        self.groups = {gid: Group(frozenset(g.orgs), frozenset(g.instances), g.roaming)
                       for gid, g in estate.sharing_groups.items()}
        # transfer() of a group copy depends on the flow and the group only: filled as searches go.
        self._group_hops: dict[Group, dict[int, Copy | None]] = {}
        self._tabulate_hops()
        # Per instance index: its flows by target index and as a set (for the walk in timing).
        self.target_at = tuple(self.index[link.target] for link in self.links)
        self.via_to: list[dict[int, tuple[int, ...]]] = []
        for iid in self.names:
            by_target: dict[int, tuple[int, ...]] = {}
            for n in self.out[iid]:
                by_target[self.target_at[n]] = (*by_target.get(self.target_at[n], ()), n)
            self.via_to.append(by_target)
        self.out_flows = [frozenset(self.out[iid]) for iid in self.names]

    def _index_filters(self) -> None:
        """Filters are indexed once: tag rules are evaluated per distinct tag set, org rules looked up
        by creator org, so that an event costs nothing for the (usual) unfiltered flows."""
        self.tag_filtered = tuple(n for n, link in enumerate(self.links)
                                  if link.filter.tags.include or link.filter.tags.exclude)
        self.org_excluding: dict[str, set[int]] = {}
        self.org_including: list[tuple[int, frozenset[str]]] = []
        for n, link in enumerate(self.links):
            for org in link.filter.orgs.exclude:
                self.org_excluding.setdefault(org, set()).add(n)
            if link.filter.orgs.include:
                self.org_including.append((n, frozenset(link.filter.orgs.include)))
        # The include-filtered flows, and per org those whose include list names it: the flows an
        # org's events are refused by are the difference (a set operation, not a scan per org).
        self.including = frozenset(n for n, _ in self.org_including)
        self.included_by: dict[str, set[int]] = {}
        for n, allowed in self.org_including:
            for org in allowed:
                self.included_by.setdefault(org, set()).add(n)
        self._tag_blocked: dict[frozenset[str], frozenset[int]] = {}
        # Tags that never leave the instance they are put on: MISP strips non-exportable tags from every
        # event it sends, and local tags from those it sends over links that are not internal
        # (docs/misp-behaviour.md#what-a-push-sends; Event::__updateEventForSync). Filters on the origin's
        # links see them; filters further on do not (a local tag carried over an internal link is not
        # followed).
        self.staying = frozenset(name for name, tag in self.estate.tags.items()
                                 if not tag.exportable or tag.local_only)
        self._org_blocked: dict[str, frozenset[int]] = {}  # the flows refusing an org's events

    def _tabulate_hops(self) -> None:
        """transfer() of levels 0-3 tabulated per flow (the searches' inner loop): hops[n][level]. The
        one case depending on the copy, a pull at level 0, needs the remote sync user's org (the link's
        ``viewer``) to own the copy (docs/misp-behaviour.md#pull step 2): `out_org` lists such pulls per
        viewer. For these levels transfer() reads only the flow's mode, flags, owner, viewer and levels:
        flows alike in those share one row, computed once."""
        rows: dict[tuple[str, bool, bool, str, str, frozenset[int] | None], tuple[Copy | None, ...]] = {}
        hops = []
        for link in self.links:
            shape = (link.mode, link.internal, link.unpublish, link.owner, link.viewer, link.levels)
            row = rows.get(shape)
            if row is None:
                row = rows[shape] = tuple(transfer(link, level, link.viewer, None)
                                          for level in (ORG, COMMUNITY, CONNECTED, ALL))
            hops.append(row)
        self.hops = tuple(hops)
        # The flows that can carry a level-0 copy owned by a given org: pulls by that org's instances
        # and internal pushes (docs/misp-behaviour.md#pull step 2, #internal-links), in the order of out_low; most
        # level-0
        # copies a search meets have nowhere to go, and this finds that without a loop.
        self.out_org: dict[str, tuple[tuple[int, ...], dict[str, tuple[int, ...]]]] = {}
        for iid, low in self.out_low.items():
            pushes = tuple(n for n in low if self.links[n].mode == "push")
            owners = {self.links[n].viewer for n in low if self.links[n].mode == "pull"}
            self.out_org[iid] = (pushes, {org: tuple(n for n in low if self.links[n].mode == "push"
                                                     or self.links[n].viewer == org) for org in owners})

    def resolve(self, event: EventSpec) -> tuple[str, str, bool]:
        """(origin instance, creator org, published) of an event, or FlowError."""
        estate = self.estate
        keeps_creator = False  # a MISP feed's events keep their creator, local to the instance or not
        if event.origin in estate.feeders:
            feeder = estate.feeders[event.origin]
            instance, published = feeder.into, feeder.publish
            org = event.org or estate.feeder_org(event.origin)
            keeps_creator = feeder.feed is not None and feeder.feed.format in FEED_FORMATS_KEEPING_CREATOR
        elif event.origin in estate.instances:
            instance, published = event.origin, True  # spec §10: "...then published"
            org = event.org or estate.instances[instance].host_org
        else:
            raise FlowError(unknown("origin", event.origin, [*estate.instances, *estate.feeders]))
        local = estate.instances[instance].orgs
        if org not in estate.organisations:
            raise FlowError(unknown("organisation", org, list(estate.organisations)))
        if org not in local and not keeps_creator:
            raise FlowError(f"organisation '{org}' has no users on instance '{instance}' "
                            f"(its local organisations: {', '.join(local)})")
        if event.distribution == Distribution.SHARING_GROUP:
            if event.sharing_group is None:
                raise FlowError("distribution sharing-group needs a sharing group")
            if event.sharing_group not in self.groups:
                raise FlowError(unknown("sharing group", event.sharing_group, list(self.groups)))
            if org not in self.groups[event.sharing_group].orgs:
                # docs/misp-behaviour.md#distribution-levels: an organisation can only use a group it is authorised for.
                raise FlowError(f"organisation '{org}' is not a member of sharing group '{event.sharing_group}'")
        elif event.sharing_group is not None:
            raise FlowError(f"a sharing group is only used with distribution sharing-group, "
                            f"not {event.distribution.word}")
        return instance, org, published

    def group_of(self, event: EventSpec) -> Group | None:
        """The sharing group of an event, if it has one."""
        return self.groups[event.sharing_group] if event.sharing_group is not None else None

    def stays(self, tags: Iterable[str]) -> bool:
        """Whether some of ``tags`` never leave the origin, so that links further on see fewer tags."""
        return not self.staying.isdisjoint(tags)

    def exported(self, tags: frozenset[str]) -> frozenset[str]:
        """The tags a copy arriving from another instance carries."""
        return tags - self.staying

    def tag_blocked(self, tags: frozenset[str]) -> frozenset[int]:
        """The flows whose tag rules refuse events carrying ``tags``."""
        if tags not in self._tag_blocked:
            self._tag_blocked[tags] = frozenset(n for n in self.tag_filtered
                                                if not matches(self.links[n].filter.tags, tags))
        return self._tag_blocked[tags]

    def org_blocking(self, orgc: str) -> frozenset[int]:
        """The flows whose org rules refuse events created by ``orgc`` (docs/misp-behaviour.md#push-and-pull-rules:
        org rules
        match the event's creator org). Kept apart from the flows the tags' rules refuse."""
        by_org = self._org_blocked.get(orgc)
        if by_org is None:
            if len(self._org_blocked) >= 64:
                # One set per creator org can hold most of the estate's filtered flows, and a matrix
                # asks for thousands of orgs in turn (each a few times in a row): keep the recent ones.
                self._org_blocked.clear()
            by_org = self._org_blocked[orgc] = frozenset(
                (self.including - self.included_by.get(orgc, set())) | self.org_excluding.get(orgc, set()))
        return by_org

    def group_hop(self, n: int, group: Group | None) -> Copy | None:
        """transfer() of a copy of ``group`` over flow ``n``: it depends on the flow and the group only
        (not on the copy's owner), so it is kept once found."""
        assert group is not None
        hops = self._group_hops.setdefault(group, {})
        if n not in hops:
            hops[n] = transfer(self.links[n], GROUP, None, group)
        return hops[n]
