"""From loaded YAML data to a Topology, with pydantic's errors rewritten as findings.

pydantic reports each error with a location tuple that is the YAML path of the value, so the
Document's position map tells us line and column. Messages are rewritten in plain words, and an
unknown key gets a "did you mean" from the keys allowed at that place.
"""

from __future__ import annotations

import difflib
import types
import typing
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from planner.diagnostics import Finding, Severity, YamlPath, format_path
from planner.load import Document
from planner.model import Topology

# pydantic error type -> (finding code, hint)
_CUSTOM = {
    "mp_id": ("MP109", "rename it: lower-case letters, digits and '-', starting with a letter"),
    "mp_uuid": ("MP112", "write a UUID like 5d9c1f0e-3a2b-4c4d-9e8f-0a1b2c3d4e5f, or leave it out to derive one"),
    "mp_url": ("MP113", "write the instance's base URL, as in MISP.baseurl: https://misp.example.org"),
    "mp_feed_url": ("MP113", "write the URL MISP fetches the feed from: https://www.circl.lu/doc/misp/feed-osint"),
    "mp_cidr": ("MP114", "write an address or network in CIDR form: 198.51.100.7/32"),
    "mp_count": ("MP104", "counts are written 250, 12k, 1.5M, 50M or 2G"),
    "mp_rate": ("MP105", "rates are written 20k/day, 500/hour, 3M/month or 40M/year"),
    "mp_duration": ("MP106", "durations are written 15m, 1h, 1d, 2w, 6mo or 3y"),
    "mp_size": ("MP107", "sizes are written in binary units: 512MiB, 16GiB, 2TiB"),
    "mp_distribution": ("MP108", "use organisation, community, connected, all or sharing-group"),
    "mp_version": ("MP115", "write the MISP version as a quoted string: \"2.5\""),
    "mp_language_version": ("MP111", "set 'version: 1' at the top of the file"),
    "mp_volume": ("MP116", "write below-50M, above-50M, or {attributes: 12M, growth: 20k/day}"),
    "mp_setting": ("MP103", "write MISP settings as 'Setting.name: value'"),
    "mp_empty": ("MP117", "add at least one entry; see the examples folder"),
    "mp_target": ("MP103", "write must_reach: [hub, partner-misp] or must_not_reach: {community: partners}"),
    "mp_url_params": ("MP103", "url_params takes the filters of MISP's event index (EventsController::index): "
                      "distribution, tags, org, analysis, threatlevel, datefrom, ..."),
    "mp_direction": ("MP103", "write 'true', or a filter object: {tags: {include: [\"tlp:green\"]}, every: 1h}"),
    "mp_bootstrap": ("MP106", "write bootstrap: full, none, or a duration of stock to send first: 90d"),
}

# How to write a value of each basic type, for the hint of a type error.
_TYPE_HINTS = {
    "string_type": "write text; quote it (\"...\") if YAML reads it as a number or a boolean",
    "int_type": "write a whole number without quotes",
    "int_parsing": "write a whole number without quotes",
    "int_from_float": "write a whole number without a decimal point",
    "float_type": "write a number without quotes",
    "bool_type": "write true or false without quotes (YAML 1.2 reads yes, no, on and off as text)",
    "dict_type": "write 'key: value' pairs indented under the key, or {key: value}",
    "model_type": "write 'key: value' pairs indented under the key, or {key: value}",
    "model_attributes_type": "write 'key: value' pairs indented under the key, or {key: value}",
    "list_type": "write a list: [a, b], or one '- item' per line",
}

# pydantic's length and range errors in plain words: type -> (message over its context, hint).
_BOUNDS = {
    "string_too_long": ("is longer than {max_length} characters", "shorten it"),
    "string_too_short": ("is empty", "write a value, or remove the entry"),
    "too_long": ("has more than {max_length} entries", "remove entries"),
    "too_short": ("needs at least {min_length} entries", "add entries"),
    "less_than_equal": ("must be at most {le}", "use a smaller value"),
    "greater_than_equal": ("must be at least {ge}", "use a larger value"),
    "finite_number": ("must be a finite number, not infinity or NaN", "write a plain number"),
    "string_pattern_mismatch": ("has characters that are not allowed here (allowed: {pattern})",
                                "remove spaces and other characters outside the allowed set"),
}

_TYPE_WORDS = {
    "string_type": "text", "int_type": "a whole number", "bool_type": "true or false",
    "float_type": "a number", "dict_type": "a mapping", "list_type": "a list",
    "model_type": "a mapping", "model_attributes_type": "a mapping",
    "int_parsing": "a whole number", "int_from_float": "a whole number",
}


def _kind(value: object) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"{str(value).lower()}"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f"'{shown}'"
    return repr(value)


def parse_topology(doc: Document) -> tuple[Topology | None, list[Finding]]:
    try:
        return Topology.model_validate(doc.data), []
    except ValidationError as exc:
        findings = [_finding(doc, error) for error in exc.errors(include_url=False)]
        unique = {(f.code, f.path, f.message): f for f in findings}
        return None, list(unique.values())


def _finding(doc: Document, error: ErrorDetails) -> Finding:
    loc = tuple(error["loc"])
    path: YamlPath = tuple(p for p in loc if p != "[key]")
    on_key = "[key]" in loc
    kind = error["type"]
    value = error.get("input")
    where = doc.where(path, key=on_key)
    at = format_path(path[:-1]) if len(path) > 1 else "the top level"
    # The key the value belongs to: for an item of a list (needs[1]) that is the list's key.
    name = next((str(p) for p in reversed(path) if isinstance(p, str)), "top level")
    subject = f"'{name}'" if not path or isinstance(path[-1], str) else f"an entry of '{name}'"

    if kind == "extra_forbidden":
        key = str(path[-1])
        allowed = allowed_keys(path[:-1], doc.data)
        close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
        hint = f"did you mean '{close[0]}'?" if close else (
            f"allowed keys here: {', '.join(allowed)}" if allowed else "remove it")
        return Finding("MP101", Severity.ERROR, f"unknown key '{key}' in {at}", hint, doc.file,
                       doc.where(path, key=True), path)
    if kind == "missing":
        key = str(path[-1])
        return Finding("MP102", Severity.ERROR, f"missing required key '{key}' in {at}",
                       f"add '{key}:' here", doc.file, doc.where(path[:-1], key=True), path)
    if kind in _CUSTOM:
        code, hint = _CUSTOM[kind]
        message = error["msg"]
        if kind == "mp_empty":
            message = f"'{name}' {message}"
        if on_key:
            message = f"key {message}"
        return Finding(code, Severity.ERROR, message, hint, doc.file, where, path)
    if kind in ("literal_error", "enum"):
        expected = error.get("ctx", {}).get("expected", "")
        return Finding("MP110", Severity.ERROR, f"{_kind(value)} is not allowed for '{name}'",
                       f"use one of: {expected}", doc.file, where, path)
    if kind in _TYPE_WORDS:
        return Finding("MP103", Severity.ERROR, f"{subject} must be {_TYPE_WORDS[kind]}, not {_kind(value)}",
                       _TYPE_HINTS.get(kind, "see the spec for this key's type"), doc.file, where, path)
    if kind in _BOUNDS:
        template, hint = _BOUNDS[kind]
        try:
            bound = template.format(**error.get("ctx", {}))
        except (KeyError, IndexError):
            bound = error["msg"].lower()
        return Finding("MP118", Severity.ERROR, f"{subject} {bound}", hint, doc.file, where, path)
    return Finding("MP103", Severity.ERROR, f"'{name}': {error['msg']}",
                   "see the spec for this key's type", doc.file, where, path)


def allowed_keys(path: YamlPath, data: Any) -> list[str]:
    """The keys the language allows in the mapping at ``path`` (for "did you mean")."""
    annotation: Any = Topology
    for part in path:
        annotation = _step(annotation, part)
        if annotation is None:
            return []
    model = _model_of(annotation)
    if model is None:
        return []
    return sorted(field.alias or name for name, field in model.model_fields.items())


def _unwrap(annotation: Any) -> Any:
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (typing.Union, types.UnionType):
            options = [a for a in typing.get_args(annotation) if a is not type(None)]
            annotation = options[0] if len(options) == 1 else annotation
            if len(options) != 1:
                return annotation
        else:
            return annotation


def _model_of(annotation: Any) -> type[BaseModel] | None:
    annotation = _unwrap(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return None


def _step(annotation: Any, part: str | int) -> Any:
    annotation = _unwrap(annotation)
    model = _model_of(annotation)
    if model is not None:
        for name, field in model.model_fields.items():
            if part in (name, field.alias):
                return field.annotation if not field.metadata else typing.Annotated[
                    (field.annotation, *field.metadata)]
        return None
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is dict and len(args) == 2:
        return args[1]
    if origin is list and args:
        return args[0]
    return None
