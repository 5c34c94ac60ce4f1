"""The ways people write numbers in a topology file: counts, rates, durations, sizes.

Each parser takes what YAML gave (an int, a float or a string) and returns a plain number, or
raises ``ValueError`` with a message that says what is accepted. They are pure and total: any
input either parses or raises ValueError, nothing else (a property test holds them to that).
"""

from __future__ import annotations

import math
import re

COUNT_SUFFIX = {"": 1, "k": 10**3, "M": 10**6, "G": 10**9}
# Spec §1: a month is 30 days and a year 365 days, for rates and durations alike.
DAYS_PER = {"hour": 1 / 24, "day": 1.0, "week": 7.0, "month": 30.0, "year": 365.0}
SECONDS_PER = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400, "mo": 30 * 86400, "y": 365 * 86400}
SIZE_SUFFIX = {"B": 1, "KiB": 2**10, "MiB": 2**20, "GiB": 2**30, "TiB": 2**40, "PiB": 2**50}

_NUMBER = r"(?P<number>\d+(?:\.\d+)?)"
_COUNT_RE = re.compile(rf"^{_NUMBER}\s*(?P<unit>[kMG]?)$")
_RATE_RE = re.compile(rf"^{_NUMBER}\s*(?P<unit>[kMG]?)\s*/\s*(?P<per>hour|day|week|month|year)$")
_DURATION_RE = re.compile(rf"^{_NUMBER}\s*(?P<unit>s|m|h|d|w|mo|y)$")
_SIZE_RE = re.compile(rf"^{_NUMBER}\s*(?P<unit>B|KiB|MiB|GiB|TiB|PiB)$")

MAX_COUNT = 10**15


def _finite_non_negative(value: float, what: str, written: object = None) -> float:
    if not math.isfinite(value) or value < 0:
        shown = f"'{written}' is not valid: " if written is not None else ""
        raise ValueError(f"{shown}{what} must be a finite number of zero or more")
    return value


def parse_count(value: object) -> int:
    """``250``, ``12k``, ``1.5M``, ``50M``, ``2G`` -> an integer count."""
    if isinstance(value, bool):
        raise ValueError("expected a count such as 250, 12k, 1.5M or 2G, not true/false")
    if isinstance(value, int):
        number: float = value
    elif isinstance(value, float):
        number = value
    elif isinstance(value, str) and (m := _COUNT_RE.match(value.strip())):
        number = float(m["number"]) * COUNT_SUFFIX[m["unit"]]
    else:
        raise ValueError(f"'{value}' is not a count; write 250, 12k, 1.5M or 2G (k=10^3, M=10^6, G=10^9)")
    _finite_non_negative(number, "a count", value)
    if number > MAX_COUNT:
        raise ValueError(f"'{value}' is larger than any MISP estate ({MAX_COUNT:.0e} at most)")
    return round(number)


def parse_rate_per_day(value: object) -> float:
    """``20k/day``, ``500/hour``, ``3M/month`` (30 days), ``40M/year`` (365 days) -> per day."""
    if isinstance(value, str) and (m := _RATE_RE.match(value.strip())):
        number = float(m["number"]) * COUNT_SUFFIX[m["unit"]]
        _finite_non_negative(number, "a rate")
        if number > MAX_COUNT:
            raise ValueError(f"'{value}' is larger than any MISP estate")
        return number / DAYS_PER[m["per"]]
    raise ValueError(f"'{value}' is not a rate; write a count per period: 20k/day, 500/hour, "
                     "3M/month or 40M/year")


def parse_duration_seconds(value: object) -> int:
    """``15m``, ``1h``, ``1d``, ``2w``, ``6mo`` (30 days), ``3y`` (365 days) -> seconds."""
    if isinstance(value, str) and (m := _DURATION_RE.match(value.strip())):
        seconds = float(m["number"]) * SECONDS_PER[m["unit"]]
        if seconds > 100 * SECONDS_PER["y"]:
            raise ValueError(f"'{value}' is longer than a century")
        return round(seconds)
    raise ValueError(f"'{value}' is not a duration; write 15m, 1h, 1d, 2w, 6mo or 3y")


def parse_size_bytes(value: object) -> int:
    """``512MiB``, ``16GiB``, ``2TiB`` (binary units) -> bytes."""
    if isinstance(value, str) and (m := _SIZE_RE.match(value.strip())):
        size = float(m["number"]) * SIZE_SUFFIX[m["unit"]]
        if size > SIZE_SUFFIX["PiB"] * 1024:
            raise ValueError(f"'{value}' is larger than any MISP host")
        return round(size)
    if isinstance(value, str) and re.match(r"^\d+(?:\.\d+)?\s*[kKMGTP]B?$", value.strip()):
        raise ValueError(f"'{value}' has a decimal or ambiguous unit; write binary units: 512MiB, 16GiB, 2TiB")
    raise ValueError(f"'{value}' is not a size; write 512MiB, 16GiB or 2TiB")


def format_count(value: float) -> str:
    """The inverse of parse_count for display: 12000000 -> '12M', 1500 -> '1.5k', 999600 -> '1M'.

    Three significant digits, never an exponent (which parse_count would not read back).
    """
    if not math.isfinite(value):
        return str(value)
    rounded = float(f"{value:.3g}")  # round first, so 999600 becomes 1M rather than '1e+03k'
    for unit in ("G", "M", "k"):
        scale = COUNT_SUFFIX[unit]
        if rounded >= scale:
            return f"{_plain(rounded / scale)}{unit}"
    return _plain(value)


def _plain(number: float) -> str:
    if number == int(number):
        return str(int(number))
    text = f"{number:.3g}"
    return text if "e" not in text else f"{number:.10f}".rstrip("0").rstrip(".")


def format_seconds(seconds: int) -> str:
    for unit in ("y", "mo", "w", "d", "h", "m"):
        step = SECONDS_PER[unit]
        if seconds >= step and seconds % step == 0:
            return f"{seconds // step}{unit}"
    return f"{seconds}s"


def plural(count: int, noun: str, nouns: str | None = None) -> str:
    """``1 feeder``, ``2 feeders``: a count with its noun in the right number (``nouns`` when the
    plural is not the noun + s)."""
    return f"{count} {noun if count == 1 else nouns or noun + 's'}"
