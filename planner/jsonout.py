"""JSON files the planner writes: sorted keys, UTF-8 as is, two-space indent, one trailing newline.

orjson writes them in C. The standard library's encoder falls back to pure Python as soon as an
indent is asked for, and a national estate's outputs hold millions of values (issue 8).
"""

from __future__ import annotations

from typing import Any

import orjson

_TEXT = orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS | orjson.OPT_APPEND_NEWLINE


def json_text(data: Any) -> str:
    """A whole file, indented: what a reviewer reads and diffs."""
    return json_bytes(data).decode("utf-8")


def json_bytes(data: Any) -> bytes:
    """:func:`json_text` as the UTF-8 bytes of the file, for writing it without a copy as text (a
    national estate's estate.json is 30 MB)."""
    return orjson.dumps(data, option=_TEXT)


def json_line(data: Any) -> str:
    """One value on one line (no newline): a row of a file too large to indent."""
    return orjson.dumps(data, option=orjson.OPT_SORT_KEYS).decode("utf-8")
