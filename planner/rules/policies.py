"""Policies (spec §9): the architect's data-flow assertions, checked against the propagation engine."""

from __future__ import annotations

from collections.abc import Iterator

from planner.diagnostics import Finding, Severity
from planner.estate import Estate
from planner.flows import Engine, EventSpec, Flow, FlowError, engine_of, feeder_event
from planner.misp import Distribution
from planner.model import Policy, PolicyData, Target
from planner.rules import rule

MAX_RELATED = 5  # paths shown per violated policy; the message gives the total


def selected_events(estate: Estate, data: PolicyData) -> list[EventSpec]:
    """The hypothetical events a policy's `data` selects; omitted fields range over every possibility.

    Instance origins: every local organisation as creator, every level, and for sharing-group every
    group that organisation is a member of. Feeder origins: the feeder's own events (its
    distribution, group, tags and org), selected when they match what `data` gives; a policy's tags
    select feeder events that carry all of them.
    """
    events: list[EventSpec] = []
    origins = [data.origin] if data.origin else [*sorted(estate.instances), *sorted(estate.feeders)]
    for origin in origins:
        if origin in estate.feeders:
            event = feeder_event(estate, origin)
            if ((data.distribution is None or data.distribution == event.distribution)
                    and (data.sharing_group is None or data.sharing_group == event.sharing_group)
                    and (data.org is None or data.org == event.org)
                    and set(data.tags) <= set(event.tags)):
                events.append(event)
            continue
        orgs = [data.org] if data.org else list(estate.instances[origin].orgs)
        levels = [data.distribution] if data.distribution is not None else list(Distribution)
        for org in orgs:
            if org not in estate.instances[origin].orgs:
                continue
            for level in levels:
                if level is not Distribution.SHARING_GROUP:
                    events.append(EventSpec(origin, level, tuple(data.tags), None, org))
                    continue
                groups = [data.sharing_group] if data.sharing_group else sorted(estate.sharing_groups)
                events.extend(EventSpec(origin, level, tuple(data.tags), gid, org) for gid in groups
                              if org in estate.sharing_groups[gid].orgs)
    return events


def _instances(estate: Estate, target: Target) -> list[str]:
    if target.instance is not None:
        return [target.instance]
    return sorted(iid for iid, inst in estate.instances.items() if inst.community == target.community)


def _describe(event: EventSpec) -> str:
    group = f" (group {event.sharing_group})" if event.sharing_group else ""
    tags = f", tags {', '.join(event.tags)}" if event.tags else ""
    return f"an event from {event.origin} by {event.org} at {event.distribution.word}{group}{tags}"


def _violations(estate: Estate, engine: Engine, policy: Policy,
                events: list[EventSpec]) -> Iterator[tuple[str, EventSpec, Flow, str]]:
    """(key, event, flow, instance) for each selected event that breaks the policy."""
    must = sorted({i for t in policy.must_reach for i in _instances(estate, t)})
    must_not = sorted({i for t in policy.must_not_reach for i in _instances(estate, t)})
    for event in events:
        try:
            flow = engine.propagate(event)
        except FlowError:
            continue  # an event MISP would not let this org create; selection already skips most
        for inst in must:
            if inst not in flow.reaches:
                yield "must_reach", flow.event, flow, inst
        for inst in must_not:
            # The instance where the event is created does not count as "reached".
            if inst in flow.reaches and inst != flow.origin_instance:
                yield "must_not_reach", flow.event, flow, inst


@rule("MP201", Severity.ERROR, "a policy is violated by the propagation model",
      """Policies (spec §9) state where data must or must not go. The planner checks them against
      MISP's propagation rules (docs/misp-behaviour.md#what-a-push-sends to #internal-links: push drops organisation
      and community data
      and downgrades connected to community; pull fetches what the remote sync user can see and
      downgrades; published copies are re-published and pushed onwards; filters, sharing groups
      and the internal flag apply per hop). Omitted `data` fields range over every origin
      (instances and feeders), every local organisation, every level and every group. A
      violation means a real event would go (or fail to go) where the policy says it must not
      (or must): change the sync connections, filters or sharing groups, or the policy.""")
def check_policies(estate: Estate) -> Iterator[Finding]:
    if not estate.policies:
        return
    engine = engine_of(estate)
    for n, policy in enumerate(estate.policies):
        path = ("policies", n)
        events = selected_events(estate, policy.data)
        if not events:
            yield estate.finding("MP201", Severity.ERROR,
                                 f"policy '{policy.name}' selects no event the estate can create",
                                 "check data.origin, data.org, data.distribution and data.sharing_group: a feeder "
                                 "only creates its own kind of event, and an organisation only uses groups it "
                                 "belongs to", (*path, "data"))
            continue
        found: dict[str, list[tuple[EventSpec, Flow, str]]] = {}
        for key, event, flow, inst in _violations(estate, engine, policy, events):
            found.setdefault(key, []).append((event, flow, inst))
        for key, hits in found.items():
            event, flow, inst = hits[0]
            targets = sorted({h[2] for h in hits})
            if key == "must_reach":
                message = (f"policy '{policy.name}' is violated: {_describe(event)} never reaches {inst}"
                           + (f" ({len(hits)} selected events miss {', '.join(targets)})" if len(hits) > 1 else ""))
                held = ", ".join(f"{i} ({lvl.word})" for i, lvl in flow.reaches.items())
                related = [f"that event is held by: {held}"]
                hint = "add a sync connection (or relax a filter or sharing group) on the way to the target"
            else:
                message = (f"policy '{policy.name}' is violated: {_describe(event)} reaches {inst}"
                           + (f" ({len(hits)} violations, reaching {', '.join(targets)})" if len(hits) > 1 else ""))
                related = []
                for ev, fl, target in hits[:MAX_RELATED]:
                    related.append(f"{_describe(ev)} reaches {target} at {fl.reaches[target].word} via "
                                   + " -> ".join(fl.paths.get(target, (target,))))
                hint = "add a filter (tags or orgs) or remove the connection on the path shown"
            yield estate.finding("MP201", Severity.ERROR, message, hint, path, tuple(related))
