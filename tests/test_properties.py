"""Property tests: the parsers are total, and no mutation of an example makes the CLI crash.

"Total" means: any input gives a value or a ValueError, never another exception. The mutation
tests break the bundled examples the way people and tools do (a key deleted, renamed or repeated,
a value of the wrong type, garbage bytes, a truncated file) and run `validate` and `inspect` on
the result: the answer must always be findings and an exit code in 0-3, never a traceback.
"""

from __future__ import annotations

import contextlib
import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from planner.cli import app
from planner.load import load_file
from planner.misp import Distribution
from planner.model import _parse_cidr, _parse_feed_url, _parse_id, _parse_url, _parse_uuid, _parse_version
from planner.units import (
    SECONDS_PER,
    format_count,
    format_seconds,
    parse_count,
    parse_duration_seconds,
    parse_rate_per_day,
    parse_size_bytes,
)
from planner.yamlout import dump_yaml

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("*/topology.yaml"))
FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
CLI = settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

runner = CliRunner()

# Anything YAML can give a parser, plus strings that look almost right.
quantity_like = st.from_regex(r"\A-?\d{0,20}(\.\d{0,5})?\s?(k|M|G|T|KiB|MiB|GiB|TiB|PiB|B|s|m|h|d|w|mo|y)?"
                              r"(\s?/\s?(hour|day|week|month|year|fortnight))?\Z")
yaml_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=30) | quantity_like,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=6,
)

PARSERS: list[Callable[[object], object]] = [
    parse_count, parse_rate_per_day, parse_duration_seconds, parse_size_bytes, Distribution.parse,
    _parse_id, _parse_uuid, _parse_url, _parse_feed_url, _parse_cidr, _parse_version,
]


@pytest.mark.parametrize("parse", PARSERS, ids=[getattr(p, "__name__", str(p)) for p in PARSERS])
@FAST
@given(value=yaml_values)
def test_parsers_are_total(parse: Callable[[object], object], value: object) -> None:
    with contextlib.suppress(ValueError):
        parse(value)


@FAST
@given(number=st.integers(min_value=0, max_value=10**15))
def test_count_display_round_trip(number: int) -> None:
    # format_count keeps three significant digits: parsing it back is within half a percent.
    back = parse_count(format_count(number))
    assert abs(back - number) <= max(0.005 * number, 0.5)


@FAST
@given(amount=st.integers(min_value=0, max_value=99), unit=st.sampled_from(sorted(SECONDS_PER)))
def test_duration_display_round_trip(amount: int, unit: str) -> None:
    seconds = parse_duration_seconds(f"{amount}{unit}")
    assert parse_duration_seconds(format_seconds(seconds)) == seconds


@FAST
@given(amount=st.integers(min_value=0, max_value=10**6), per=st.sampled_from(["hour", "day", "week", "month", "year"]))
def test_rate_is_linear(amount: int, per: str) -> None:
    days = {"hour": 1 / 24, "day": 1, "week": 7, "month": 30, "year": 365}[per]
    assert parse_rate_per_day(f"{amount}/{per}") == pytest.approx(amount / days)
    assert parse_rate_per_day(f"{amount}k/{per}") == pytest.approx(1000 * amount / days)


@FAST
@given(level=st.sampled_from(list(Distribution)))
def test_distribution_word_and_integer_round_trip(level: Distribution) -> None:
    assert Distribution.parse(level.word) is level
    assert Distribution.parse(int(level)) is level


@FAST
@given(value=st.floats(min_value=0, max_value=1e12, allow_nan=False))
def test_count_accepts_every_finite_non_negative_number(value: float) -> None:
    assert parse_count(value) == round(value)


# --- mutations of the examples through the CLI --------------------------------------------------


def _paths(data: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a value inside data (mapping keys and list indexes)."""
    found: list[tuple[Any, ...]] = []
    items: list[tuple[Any, Any]] = list(data.items()) if isinstance(data, dict) else (
        list(enumerate(data)) if isinstance(data, list) else [])
    for key, value in items:
        found.append((*prefix, key))
        found.extend(_paths(value, (*prefix, key)))
    return found


def _parent(data: Any, path: tuple[Any, ...]) -> Any:
    for part in path[:-1]:
        data = data[part]
    return data


EXAMPLE_DATA = {p: load_file(p).data for p in EXAMPLES}
EXAMPLE_PATHS = {p: _paths(d) for p, d in EXAMPLE_DATA.items()}


def _refuse_constant(name: str) -> None:
    raise AssertionError(f"{name} in JSON output")


def _check_cli(path: Path) -> None:
    for args in (["validate", str(path)], ["inspect", str(path)], ["validate", "--format", "json", str(path)],
                 ["inspect", "--format", "json", str(path)]):
        result = runner.invoke(app, args)
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise AssertionError(f"{args[0]} raised {result.exception!r} on:\n{path.read_bytes()[:3000]!r}") \
                from result.exception
        assert 0 <= result.exit_code <= 3, (args, result.output)
        assert "Traceback" not in result.output
        if "json" in args and result.stdout:
            json.loads(result.stdout, parse_constant=_refuse_constant)  # strict JSON: no NaN or Infinity


@st.composite
def data_mutation(draw: st.DrawFn) -> tuple[Path, Any]:
    import copy

    example = draw(st.sampled_from(EXAMPLES))
    data = copy.deepcopy(EXAMPLE_DATA[example])
    path = draw(st.sampled_from(EXAMPLE_PATHS[example]))
    parent = _parent(data, path)
    key = path[-1]
    kind = draw(st.sampled_from(["delete", "retype", "rename"]))
    if kind == "delete":
        del parent[key]
    elif kind == "retype":
        parent[key] = draw(yaml_values)
    elif isinstance(parent, dict):
        new_key = draw(st.text(min_size=1, max_size=12) | st.sampled_from(["version", "name", "sync", "orgs", "from"]))
        parent[new_key] = parent.pop(key)
    else:
        parent.insert(0, parent.pop(key))
    return example, data


@pytest.mark.parametrize("unused", [None])  # one test id; hypothesis does the looping
@CLI
@given(mutation=data_mutation())
def test_data_mutations_never_crash(tmp_path: Path, unused: None, mutation: tuple[Path, Any]) -> None:
    _, data = mutation
    target = tmp_path / "mutated.yaml"
    try:
        text = dump_yaml(data)
    except Exception:  # a mutation the YAML writer cannot express (not the planner's concern)
        return
    target.write_text(text, encoding="utf-8")
    _check_cli(target)


@st.composite
def text_mutation(draw: st.DrawFn) -> bytes:
    example = draw(st.sampled_from(EXAMPLES))
    raw = example.read_bytes()
    lines = raw.splitlines(keepends=True)
    kind = draw(st.sampled_from(["garbage", "duplicate-line", "delete-line", "truncate", "indent", "swap-lines"]))
    at = draw(st.integers(min_value=0, max_value=len(lines) - 1))
    if kind == "garbage":
        offset = draw(st.integers(min_value=0, max_value=len(raw)))
        junk = draw(st.binary(min_size=1, max_size=8) | st.sampled_from(
            [b"\x00", b"\xe9", b"\t", b"&a *a", b"!!python/object:os.system", b": :", b"{", b"\xef\xbb\xbf", b"\r"]))
        return raw[:offset] + junk + raw[offset:]
    if kind == "duplicate-line":
        lines.insert(at, lines[at])
    elif kind == "delete-line":
        del lines[at]
    elif kind == "truncate":
        return raw[: draw(st.integers(min_value=0, max_value=len(raw)))]
    elif kind == "indent":
        lines[at] = b" " * draw(st.integers(min_value=1, max_value=3)) + lines[at]
    else:
        other = draw(st.integers(min_value=0, max_value=len(lines) - 1))
        lines[at], lines[other] = lines[other], lines[at]
    return b"".join(lines)


@pytest.mark.parametrize("unused", [None])
@CLI
@given(content=text_mutation())
def test_text_mutations_never_crash(tmp_path: Path, unused: None, content: bytes) -> None:
    target = tmp_path / "mutated.yaml"
    target.write_bytes(content)
    _check_cli(target)


@FAST
@given(content=st.binary(max_size=200) | st.text(max_size=200).map(str.encode))
def test_arbitrary_bytes_never_crash_the_loader(content: bytes) -> None:
    from planner.diagnostics import PlannerError
    from planner.load import load_bytes

    try:
        load_bytes(content, "fuzz.yaml")
    except PlannerError as error:
        assert error.exit_code == 3 and error.findings


def test_nan_and_infinity_are_refused_as_counts() -> None:
    for value in (math.nan, math.inf, -math.inf):
        with pytest.raises(ValueError):
            parse_count(value)


yaml_tokens = st.sampled_from([
    "a:", "b: 1", "- ", "  ", "    ", "&x ", "*x", "&y ", "*y", "[", "]", "{", "}", ", ", "<<: ", "!!str ", "!!map ",
    "!foo ", "? ", ": ", "|", ">", "'q'", '"q', "---", "...", "%YAML 1.2", "#c", "\t", "~", "1e9", "0x1F", "é",
])
yaml_lines = st.lists(st.lists(yaml_tokens, max_size=6).map("".join), min_size=1, max_size=12).map("\n".join)


@FAST
@given(text=yaml_lines)
def test_yaml_shaped_text_never_crashes_the_loader(text: str) -> None:
    from planner.diagnostics import PlannerError
    from planner.load import load_text

    try:
        doc = load_text(text, "fuzz.yaml")
    except PlannerError as error:
        assert error.exit_code == 3 and error.findings
    else:
        assert isinstance(doc.data, dict)
