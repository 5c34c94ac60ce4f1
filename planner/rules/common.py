"""Small questions several rule families ask about an estate (no rules are registered here)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Literal

from planner.diagnostics import YamlPath
from planner.estate import Connection, Estate
from planner.model import Direction

Mode = Literal["push", "pull"]


def community(estate: Estate, instance: str) -> str:
    return estate.instances[instance].community


def crosses_communities(estate: Estate, a: str, b: str) -> bool:
    return community(estate, a) != community(estate, b)


def untrusted(estate: Estate, instance: str) -> bool:
    return estate.communities[community(estate, instance)].trust == "untrusted"


def private(estate: Estate, instance: str) -> bool:
    return estate.communities[community(estate, instance)].private


def direction_path(conn: Connection, mode: Mode) -> YamlPath:
    """The line that enables one direction of a connection: `sync[n].push` or `sync[n].pull`."""
    return (*conn.path, mode)


def flows(estate: Estate) -> Iterator[tuple[str, str, Mode, Direction, Connection]]:
    """Every data flow of the estate: (from, to, mode, filter, connection), in file order."""
    for conn in estate.connections:
        for source, target, mode, direction in conn.flows():
            yield source, target, mode, direction, conn


def has_tag_include(direction: Direction) -> bool:
    """An include list lets only explicitly tagged events through (docs/misp-behaviour.md#push-and-pull-rules,
    tags.OR)."""
    return bool(direction.tags.include)


def setting(estate: Estate, instance: str, name: str) -> tuple[object, YamlPath | None]:
    """An instance's explicit MISP setting and the line that sets it (instance first, then defaults)."""
    if name in estate.topology.instances[instance].settings:
        return estate.topology.instances[instance].settings[name], ("instances", instance, "settings", name)
    if name in estate.topology.defaults.settings:
        return estate.topology.defaults.settings[name], ("defaults", "settings", name)
    return None, None


def is_false(value: object) -> bool:
    """MISP's setSetting accepts true/false, 1/0 and their spellings (docs/misp-behaviour.md#setting-settings)."""
    return value is False or value == 0 or (isinstance(value, str) and value.strip().lower() in ("false", "0"))
