"""Bit sets as Python integers: the set bits of one, and bit matrices turned into columns.

One job: the C-speed helpers the bit-set searches share (they go through the integers' binary text
instead of looping per bit). :func:`bits` is O(bits set) searches in an O(width) text;
:func:`transpose` is O(rows x width) done by C loops.
"""

from __future__ import annotations

from collections.abc import Iterator


def bits(value: int) -> Iterator[int]:
    """Positions of the set bits of ``value``, lowest first (C-speed search in its binary text)."""
    text = bin(value)
    last = len(text) - 1
    j = text.rfind("1")
    while j > 1:
        yield last - j
        j = text.rfind("1", 2, j)


_BIT_BYTES = bytes.maketrans(b"01", b"\x00\x01")


def bit_bytes(bits: int, width: int) -> bytes:
    """``width`` bytes, byte ``i`` 1 where bit ``i`` of ``bits`` is set (made by C loops, not per bit)."""
    return bin(bits)[2:].zfill(width)[::-1].encode("ascii").translate(_BIT_BYTES)


def transpose(rows: list[int], width: int) -> Iterator[tuple[int, ...]]:
    """Columns of a bit matrix: ``rows[r]`` holds bit ``c`` of column ``c`` (lowest bit first); each
    column is a tuple of 0/1 by row. The work is done by C loops (binary text, zip), not per bit."""
    texts = [bit_bytes(row, width) for row in rows]
    return zip(*texts, strict=True)
