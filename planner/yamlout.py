"""Deterministic YAML output for plain data: block style, keys in the order given, sequences indented
under their key (what yamllint, and so ansible-lint's `yaml` rule, expects).

A small emitter of our own rather than a YAML library's: the data is always plain (mappings with
string keys, lists, strings, numbers, booleans, None), and the library emitters in pure Python
spent most of `generate`'s time on a national estate. Strings that YAML 1.1 or 1.2 could read as
anything but a string are written as JSON strings, which are valid YAML double-quoted scalars.

`generate` writes millions of scalars for a large estate, most of them repeats (keys, names,
UUIDs, URLs), so the emitter remembers how it wrote each string and handles the common types
(exact str, dict, list, bool, int) inline; anything else takes the general path (`_inline`).
"""

from __future__ import annotations

import math
import re
from json.encoder import encode_basestring
from typing import Any

# Plain (unquoted) only for text that no YAML reader takes for a number, a boolean, null, a
# comment, an anchor, a tag or a flow collection.
_PLAIN = re.compile(r"[A-Za-z_/][A-Za-z0-9 _./@+()=,-]*(?::[A-Za-z0-9_./@+()=,-]+)*[A-Za-z0-9_./@+()=-]?")
_RESERVED = {"y", "n", "yes", "no", "on", "off", "true", "false", "null", "nan", "inf"}

# How each string was written, plain or quoted. Bounded: cleared when full, so memory does not
# grow with the estate; only the speed depends on it, never the output.
_WRITTEN: dict[str, str] = {}
_WRITTEN_LIMIT = 1 << 16


def _text(text: str) -> str:
    written = _WRITTEN.get(text)
    if written is None:
        if _PLAIN.fullmatch(text) and text.lower() not in _RESERVED and not text.endswith(" ") and " #" not in text:
            written = text
        else:
            written = encode_basestring(text)  # json.dumps(text, ensure_ascii=False) without its per-call encoder
        if len(_WRITTEN) >= _WRITTEN_LIMIT:
            _WRITTEN.clear()
        _WRITTEN[text] = written
    return written


def _scalar(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError("YAML output of a non-finite number")
        return repr(value)
    return _text(str(value))


def _inline(value: Any) -> str:
    if isinstance(value, dict):
        return "{}"
    if isinstance(value, list):
        return "[]"
    return _scalar(value)


def _block(value: Any) -> bool:
    """Whether a value takes lines of its own under its key or dash (a non-empty mapping or list)."""
    return isinstance(value, dict | list) and bool(value)


def _mapping(data: dict[Any, Any], first: str, pad: str, out: list[str]) -> None:
    """Lines of a non-empty mapping whose keys are indented by ``pad``; the first line starts with
    ``first`` instead (``pad`` itself, or a list's dash when the mapping is a list item)."""
    written = _WRITTEN.get
    append = out.append
    inner = pad + "  "
    lead = first
    for key, item in data.items():
        name = written(key) if type(key) is str else None
        if name is None:
            name = _text(str(key))
        kind = type(item)
        if kind is str:
            append(f"{lead}{name}: {written(item) or _text(item)}")
        elif kind is dict or kind is list:
            if not item:
                append(f"{lead}{name}: {'{}' if kind is dict else '[]'}")
            elif kind is dict:
                append(f"{lead}{name}:")
                _mapping(item, inner, inner, out)
            else:
                append(f"{lead}{name}:")
                _sequence(item, inner, out)
        elif kind is bool:
            append(f"{lead}{name}: {'true' if item else 'false'}")
        elif kind is int:
            append(f"{lead}{name}: {item}")
        elif _block(item):  # a subclass of dict or list
            append(f"{lead}{name}:")
            if isinstance(item, dict):
                _mapping(item, inner, inner, out)
            else:
                _sequence(item, inner, out)
        else:
            append(f"{lead}{name}: {_inline(item)}")
        lead = pad


def _sequence(items: list[Any], pad: str, out: list[str]) -> None:
    """Lines of a non-empty list whose dashes are indented by ``pad``."""
    written = _WRITTEN.get
    append = out.append
    inner = pad + "  "
    dash = pad + "- "
    for item in items:
        kind = type(item)
        if kind is str:
            append(dash + (written(item) or _text(item)))
        elif kind is dict and item:
            _mapping(item, dash, inner, out)
        elif _block(item):
            if isinstance(item, dict):
                _mapping(item, dash, inner, out)
            else:
                append(pad + "-")
                _sequence(item, inner, out)
        else:
            append(dash + _inline(item))


def dump_yaml(data: Any) -> str:
    """YAML text of plain data; a mapping or a list at the top.

    The lines of a top-level mapping's entries do not depend on each other, so the text of a
    mapping is the text of its entries' one-entry mappings, joined."""
    if not isinstance(data, dict | list):
        return _scalar(data) + "\n"
    if not data:
        return _inline(data) + "\n"
    out: list[str] = []
    if isinstance(data, dict):
        _mapping(data, "", "", out)
    else:
        _sequence(data, "", out)
    return "\n".join(out) + "\n"
