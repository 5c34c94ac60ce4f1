"""Deterministic YAML output for plain data: block style, keys in the order given, sequences indented
under their key (what yamllint, and so ansible-lint's `yaml` rule, expects).

A small emitter of our own rather than a YAML library's: the data is always plain (mappings with
string keys, lists, strings, numbers, booleans, None), and the library emitters in pure Python
spent most of `generate`'s time on a national estate. Strings that YAML 1.1 or 1.2 could read as
anything but a string are written as JSON strings, which are valid YAML double-quoted scalars.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

# Plain (unquoted) only for text that no YAML reader takes for a number, a boolean, null, a
# comment, an anchor, a tag or a flow collection.
_PLAIN = re.compile(r"[A-Za-z_/][A-Za-z0-9 _./@+()=,-]*(?::[A-Za-z0-9_./@+()=,-]+)*[A-Za-z0-9_./@+()=-]?")
_RESERVED = {"y", "n", "yes", "no", "on", "off", "true", "false", "null", "nan", "inf"}


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
    text = str(value)
    if _PLAIN.fullmatch(text) and text.lower() not in _RESERVED and not text.endswith(" ") and " #" not in text:
        return text
    return json.dumps(text, ensure_ascii=False)


def _lines(value: Any, indent: int, out: list[str]) -> None:
    pad = " " * indent
    if isinstance(value, dict):
        for key, item in value.items():
            head = f"{pad}{_scalar(str(key))}:"
            if (isinstance(item, dict) and item) or (isinstance(item, list) and item):
                out.append(head)
                _lines(item, indent + 2, out)
            else:
                out.append(f"{head} {_inline(item)}")
    else:
        for item in value:
            if isinstance(item, dict) and item:
                nested: list[str] = []
                _lines(item, indent + 2, nested)
                out.append(f"{pad}- {nested[0][indent + 2:]}")
                out.extend(nested[1:])
            elif isinstance(item, list) and item:
                out.append(f"{pad}-")
                _lines(item, indent + 2, out)
            else:
                out.append(f"{pad}- {_inline(item)}")


def _inline(value: Any) -> str:
    if isinstance(value, dict):
        return "{}"
    if isinstance(value, list):
        return "[]"
    return _scalar(value)


def dump_yaml(data: Any) -> str:
    """YAML text of plain data; a mapping or a list at the top."""
    if not isinstance(data, dict | list):
        return _scalar(data) + "\n"
    if not data:
        return _inline(data) + "\n"
    out: list[str] = []
    _lines(data, 0, out)
    return "\n".join(out) + "\n"
