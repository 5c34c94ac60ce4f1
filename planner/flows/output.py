"""The output formats of `misp-planner flows`: spec §10 JSON, the one-event table, the matrix table.

One job: turn flows into what users read, and the command's options into an event. Every function
here is linear in the size of what it prints (the matrix table: O(rows); JSON: O(holders)).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from planner.estate import Estate
from planner.flows.events import EventSpec, Flow, FlowError, feeder_event, unknown
from planner.misp import Distribution
from planner.units import plural

_WORDS = {level: level.word for level in Distribution}


def flow_to_json(flow: Flow, *, paths: bool = True, not_reached: dict[str, str] | None = None) -> dict[str, Any]:
    """The machine-readable form of spec §10 (plus the creator org and timing_dependent); without
    ``paths`` for the whole matrix in `build`, where they would be most of the bytes. With
    ``not_reached`` (:func:`planner.flows.whynot.why_not`), an added field: instance -> the first
    reason it holds no copy; spec §10's fields stay as they are."""
    event = flow.event
    data: dict[str, Any] = {
        "origin": event.origin,
        "distribution": event.distribution.word,
        "tags": list(event.tags),
        "sharing_group": event.sharing_group,
        "org": event.org,
        # A level-`all` row names thousands of holders: mapped by C loops, not a comprehension.
        "reaches": dict(zip(flow.reaches, map(_WORDS.__getitem__, flow.reaches.values()), strict=True)),
        "timing_dependent": list(flow.timing_dependent),
    }
    if paths:
        data["paths"] = {inst: list(chain) for inst, chain in flow.paths.items()}
    if not_reached is not None:
        data["not_reached"] = not_reached
    return data


# -- output for `misp-planner flows` ------------------------------------------------------------

FORMATS = ("table", "json")


def build_event(estate: Estate, origin: str, distribution: str | None, tags: Iterable[str] = (),
                sharing_group: str | None = None, org: str | None = None) -> EventSpec:
    """The event the `flows` command asks about; FlowError for a bad combination."""
    tag_list = tuple(dict.fromkeys(t.strip() for t in tags if t.strip()))
    if origin in estate.feeders:
        base = feeder_event(estate, origin)
        # spec §10: a feeder's own distribution and group apply.
        if distribution is not None and Distribution.parse(_int_or_word(distribution)) != base.distribution:
            raise FlowError(f"feeder '{origin}' creates events at distribution {base.distribution.word}; "
                            "leave --distribution out")
        if sharing_group is not None and sharing_group != base.sharing_group:
            raise FlowError(f"feeder '{origin}' uses sharing group {base.sharing_group or 'none'}")
        return replace(base, tags=tuple(dict.fromkeys((*base.tags, *tag_list))), org=org or base.org)
    if origin not in estate.instances:
        raise FlowError(unknown("origin", origin, [*estate.instances, *estate.feeders]))
    if distribution is None:
        raise FlowError("--distribution is required when the origin is an instance")
    try:
        level = Distribution.parse(_int_or_word(distribution))
    except ValueError as error:
        raise FlowError(str(error)) from None
    return EventSpec(origin, level, tag_list, sharing_group, org)


def _int_or_word(value: str) -> int | str:
    return int(value) if value.isdigit() else value


def flows_report(estate: Estate, *, origin: str | None, distribution: str | None, tags: Iterable[str] = (),
                 sharing_group: str | None = None, org: str | None = None, fmt: str = "table",
                 matrix: bool = False) -> str:
    """The text `misp-planner flows` prints: one flow or the matrix, as a table or as JSON."""
    import json

    from planner.flows import engine_of
    from planner.flows.versions import assumption_lines, assumptions

    if fmt not in FORMATS:
        raise FlowError(f"unknown format '{fmt}'; use table or json")
    if matrix:
        if origin is not None or distribution is not None or sharing_group is not None or org is not None:
            raise FlowError("--matrix covers every origin and level; leave --origin, --distribution, "
                            "--sharing-group and --org out")
        tag_list = tuple(dict.fromkeys(t.strip() for t in tags if t.strip()))
        flows = list(engine_of(estate).matrix(tag_list))
        if fmt == "json":
            return json.dumps({"estate": estate.name, "tags": list(tag_list),
                               "flows": [flow_to_json(f) for f in flows], "assumed": assumptions(estate)},
                              indent=2, sort_keys=True) + "\n"
        return matrix_table(estate, flows, tag_list) + assumption_lines(estate)
    if origin is None:
        raise FlowError("--origin is required (or use --matrix)")
    from planner.flows.whynot import why_not

    engine = engine_of(estate)
    flow = engine.propagate(build_event(estate, origin, distribution, tags, sharing_group, org))
    reasons = why_not(engine, flow)
    if fmt == "json":
        # spec §10's fields, and (added) why each instance not reached is not and what the answer
        # assumed about MISP's versions
        return json.dumps({**flow_to_json(flow, not_reached=reasons), "assumed": assumptions(estate)},
                          indent=2, sort_keys=True) + "\n"
    return flow_table(estate, flow, reasons) + assumption_lines(estate)


def _render(renderable: Any) -> str:
    import io

    from rich.console import Console

    buffer = io.StringIO()
    # No colour, no terminal probing: the same input prints the same text everywhere.
    Console(file=buffer, width=120, color_system=None, force_terminal=False, soft_wrap=False).print(renderable)
    return buffer.getvalue()


def flow_table(estate: Estate, flow: Flow, not_reached: dict[str, str] | None = None) -> str:
    from rich.table import Table

    event = flow.event
    title = (f"{event.origin} (created by {event.org}) publishes at {event.distribution.word}"
             + (f" for group {event.sharing_group}" if event.sharing_group else "")
             + (f", tags {', '.join(event.tags)}" if event.tags else ", no tags"))
    table = Table()
    for column in ("instance", "level", "path", "note"):
        table.add_column(column)
    for inst, level in flow.reaches.items():
        note = "origin" if inst == flow.origin_instance else ""
        if inst in flow.timing_dependent:
            note = "timing-dependent"
        path = " -> ".join(flow.paths.get(inst, (inst,)))
        table.add_row(inst, level.word, path, note)
    text = title + "\n" + _render(table)
    missing = sorted(set(estate.instances) - set(flow.reaches))
    held = len(flow.reaches)
    text += f"{held} of {plural(len(estate.instances), 'instance')} {'holds' if held == 1 else 'hold'} a copy."
    if not missing:
        text += "\n"
    elif not_reached is None:
        text += f" Not reached: {', '.join(missing)}.\n"
    else:
        text += " Not reached, and why (the first reason):\n"
        text += "".join(f"  {inst}: {not_reached[inst]}\n" for inst in missing)
    if flow.timing_dependent:
        text += ("Timing-dependent: the first copy to arrive wins, and which arrives first depends on when sync "
                 f"jobs run: {', '.join(flow.timing_dependent)}. Shown: the copy with the fewest hops.\n")
    return text


def matrix_table(estate: Estate, flows: list[Flow], tags: tuple[str, ...] = ()) -> str:
    from rich.table import Table

    table = Table()
    table.add_column("origin")
    for level in Distribution:
        table.add_column(level.word, justify="right")
    rows: dict[str, dict[Distribution, list[str]]] = {}
    for flow in flows:
        cell = f"{len(flow.reaches)}{'*' if flow.timing_dependent else ''}"
        if flow.event.sharing_group is not None:
            cell = f"{flow.event.sharing_group}: {cell}"
        rows.setdefault(flow.event.origin, {}).setdefault(flow.event.distribution, []).append(cell)
    for origin in sorted(rows):
        table.add_row(origin, *("\n".join(rows[origin].get(level, ["-"])) for level in Distribution))
    carrying = f"events tagged {', '.join(tags)}" if tags else "untagged events"
    return (f"Instances holding a copy of {carrying}, per origin and level ({estate.name}; "
            "* = timing-dependent):\n"
            + _render(table))
