"""The topology language: quantities, distributions, derived UUIDs, defaults, and the CLI's contract.

Expected numbers are worked out by hand from the spec (§1: k=10^3, M=10^6, G=10^9; a month is 30
days, a year 365 days; sizes are binary), not copied from the code.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from typer.testing import CliRunner

from planner import __version__
from planner.cli import app
from planner.diagnostics import Position
from planner.estate import PLANNER_NAMESPACE, Estate, derived_uuid, resolve
from planner.load import load_text
from planner.misp import Distribution
from planner.parse import parse_topology
from planner.pipeline import load_estate
from planner.units import (
    format_count,
    format_seconds,
    parse_count,
    parse_duration_seconds,
    parse_rate_per_day,
    parse_size_bytes,
)

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "national-csirt" / "topology.yaml"
DAY = 86400

runner = CliRunner()


# --- quantities ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("written", "expected"), [
    (250, 250), ("250", 250), ("12k", 12_000), ("1.5M", 1_500_000), ("50M", 50_000_000),
    ("2G", 2_000_000_000), ("0", 0), (" 3k ", 3_000), ("2.5k", 2_500), (7.0, 7),
])
def test_count(written: object, expected: int) -> None:
    assert parse_count(written) == expected


@pytest.mark.parametrize("written", ["many", "12K", "1.5 million", "2T", "-5", "12kk", "", "1e6", True, None, [1]])
def test_count_rejects(written: object) -> None:
    with pytest.raises(ValueError, match="count"):
        parse_count(written)


def test_count_rejects_negative_and_infinite_numbers() -> None:
    for value in (-1, -0.5, float("inf"), float("nan")):
        with pytest.raises(ValueError, match="zero or more"):
            parse_count(value)
    with pytest.raises(ValueError, match="larger than any MISP estate"):
        parse_count("2000000G")


@pytest.mark.parametrize(("written", "per_day"), [
    ("20k/day", 20_000), ("500/hour", 12_000), ("3M/month", 100_000), ("40M/year", 40_000_000 / 365),
    ("7k/week", 1_000), ("1.5k/day", 1_500), ("20k / day", 20_000), ("0/day", 0),
])
def test_rate(written: str, per_day: float) -> None:
    assert parse_rate_per_day(written) == pytest.approx(per_day)


@pytest.mark.parametrize("written", ["20k", "20k per day", "5k/fortnight", "20k/Day", "/day", 150_000, "-1/day"])
def test_rate_rejects(written: object) -> None:
    with pytest.raises(ValueError, match="not a rate"):
        parse_rate_per_day(written)


@pytest.mark.parametrize(("written", "seconds"), [
    ("15m", 900), ("1h", 3_600), ("1d", DAY), ("2w", 14 * DAY), ("6mo", 180 * DAY), ("3y", 3 * 365 * DAY),
    ("30s", 30), ("1.5h", 5_400),
])
def test_duration(written: str, seconds: int) -> None:
    assert parse_duration_seconds(written) == seconds


@pytest.mark.parametrize("written", ["1 hour", "60", 60, "1H", "3 years", "2months", "h"])
def test_duration_rejects(written: object) -> None:
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration_seconds(written)


def test_duration_longer_than_a_century_is_refused() -> None:
    assert parse_duration_seconds("100y") == 100 * 365 * DAY
    with pytest.raises(ValueError, match="century"):
        parse_duration_seconds("101y")


@pytest.mark.parametrize(("written", "size"), [
    ("512MiB", 512 * 2**20), ("16GiB", 16 * 2**30), ("2TiB", 2 * 2**40), ("1.5GiB", 3 * 2**29), ("100B", 100),
])
def test_size(written: str, size: int) -> None:
    assert parse_size_bytes(written) == size


def test_size_rejects_decimal_units_with_a_specific_message() -> None:
    for written in ("64GB", "16G", "2T", "512M"):
        with pytest.raises(ValueError, match="binary units"):
            parse_size_bytes(written)
    with pytest.raises(ValueError, match="not a size"):
        parse_size_bytes("large")
    with pytest.raises(ValueError, match="not a size"):
        parse_size_bytes(16 * 2**30)  # a bare number has no unit: refuse rather than guess


def test_display_formats() -> None:
    assert format_count(12_000_000) == "12M"
    assert format_count(1_500) == "1.5k"
    assert format_count(250) == "250"
    assert format_seconds(3_600) == "1h"
    assert format_seconds(180 * DAY) == "6mo"
    assert format_seconds(3 * 365 * DAY) == "3y"
    assert format_seconds(90) == "90s"


# --- distribution levels ------------------------------------------------------------------------


@pytest.mark.parametrize(("written", "level"), [
    ("organisation", 0), ("community", 1), ("connected", 2), ("all", 3), ("sharing-group", 4),
    (0, 0), (1, 1), (2, 2), (3, 3), (4, 4),
])
def test_distribution(written: object, level: int) -> None:
    parsed = Distribution.parse(written)
    assert parsed == level
    assert Distribution.parse(parsed.word) is parsed


@pytest.mark.parametrize("written", [5, -1, "public", "Community", "2", True, False, None, 2.0, "your organisation"])
def test_distribution_rejects(written: object) -> None:
    with pytest.raises(ValueError, match="distribution level"):
        Distribution.parse(written)


# --- derived UUIDs ------------------------------------------------------------------------------


def test_derived_uuid_is_uuid5_and_deterministic() -> None:
    value = derived_uuid("national-csirt", "organisation", "csirt")
    assert value == derived_uuid("national-csirt", "organisation", "csirt")
    parsed = uuid.UUID(value)
    assert parsed.version == 5
    assert value == str(uuid.uuid5(PLANNER_NAMESPACE, "national-csirt/organisation/csirt"))
    others = {derived_uuid("other-estate", "organisation", "csirt"),
              derived_uuid("national-csirt", "instance", "csirt"),
              derived_uuid("national-csirt", "organisation", "bank-a")}
    assert value not in others and len(others) == 3


MINIMAL = """\
version: 1
name: lang-test
defaults:
  misp_version: "2.5.1"
  platform: debian-12
  users: 40
  managed: true
  horizon: 2y
  tls_verify: false
  settings: {MISP.correlation_engine: NoAcl, Plugin.ZeroMQ_enable: false}
  sizing: {ram: 32GiB}
organisations:
  csirt: {name: National CSIRT}
  bank-a: {name: Bank A, uuid: 5D9C1F0E-3A2B-4C4D-9E8F-0A1B2C3D4E5F}
communities:
  national: {}
instances:
  hub:
    community: national
    host_org: csirt
    url: https://misp.csirt.example/
    users: 400
    settings: {Plugin.ZeroMQ_enable: true}
    sizing: {disk: 2TiB}
  edge:
    community: national
    host_org: bank-a
    orgs: [csirt, bank-a]
    url: https://edge.bank-a.example:8443
    platform: ubuntu-24.04
    misp_version: 2.5
    managed: false
    volume: above-50M
sync:
  - initiator: edge
    remote: hub
    pull: true
  - initiator: hub
    remote: edge
    push: {tags: {include: ["tlp:green"]}}
    tls: {verify: true}
feeders:
  sandbox: {kind: sandbox, into: hub, rate: 3M/month}
  osint:
    kind: osint-feed
    into: hub
    via: feed
    feed: {url: "https://feeds.example/export?format=misp&days=30", fetch_every: 1d}
"""


def _estate(text: str) -> Estate:

    doc = load_text(text, "minimal.yaml")
    topology, findings = parse_topology(doc)
    assert topology is not None, findings
    estate, findings = resolve(topology, doc)
    assert estate is not None, findings
    return estate


def test_defaults_are_applied_and_instance_values_win() -> None:
    estate = _estate(MINIMAL)
    hub, edge = estate.instances["hub"], estate.instances["edge"]
    assert (hub.misp_version, hub.platform, hub.users, hub.managed) == ("2.5.1", "debian-12", 400, True)
    assert (edge.misp_version, edge.platform, edge.users, edge.managed) == ("2.5", "ubuntu-24.04", 40, False)
    assert hub.settings == {"MISP.correlation_engine": "NoAcl", "Plugin.ZeroMQ_enable": True}
    assert edge.settings == {"MISP.correlation_engine": "NoAcl", "Plugin.ZeroMQ_enable": False}
    assert (hub.sizing.ram, hub.sizing.disk) == (32 * 2**30, 2 * 2**40)
    assert (edge.sizing.ram, edge.sizing.disk) == (32 * 2**30, None)
    assert estate.horizon_seconds == 2 * 365 * DAY
    # tls_verify comes from defaults unless the entry says otherwise.
    assert [c.tls_verify for c in estate.connections] == [False, True]
    # host_org first, then the other local organisations, without repeats.
    assert edge.orgs == ("bank-a", "csirt")
    # The trailing '/' is dropped as MISP does; ansible_host defaults to the url's host name.
    assert hub.url == "https://misp.csirt.example"
    assert (hub.ansible_host, edge.ansible_host) == ("misp.csirt.example", "edge.bank-a.example")
    assert edge.volume_class == "above-50M" and edge.attributes == 0
    assert estate.feeders["sandbox"].rate == pytest.approx(100_000)
    assert estate.feeder_org("sandbox") == "csirt"
    assert estate.feeder_value("sandbox") == "low"
    # A feed URL is fetched as written: its query string stays.
    feed = estate.feeders["osint"].feed
    assert feed is not None and feed.url == "https://feeds.example/export?format=misp&days=30"
    assert feed.fetch_every == DAY and feed.format == "misp"


def test_built_in_defaults_and_uuids() -> None:
    text = MINIMAL.split("defaults:")[0] + "organisations:" + MINIMAL.split("organisations:")[1]
    estate = _estate(text)
    hub = estate.instances["hub"]
    assert (hub.misp_version, hub.platform, hub.purpose, hub.managed) == ("2.5", "ubuntu-24.04", "sharing", True)
    assert estate.instances["edge"].users == 25
    assert estate.horizon_seconds == 3 * 365 * DAY
    assert estate.connections[0].tls_verify is True
    assert estate.communities["national"].trust == "trusted" and estate.communities["national"].private
    csirt, bank = estate.organisations["csirt"], estate.organisations["bank-a"]
    assert csirt.uuid_derived and csirt.uuid == derived_uuid("lang-test", "organisation", "csirt")
    assert not bank.uuid_derived and bank.uuid == "5d9c1f0e-3a2b-4c4d-9e8f-0a1b2c3d4e5f"
    assert hub.uuid == derived_uuid("lang-test", "instance", "hub")


def test_graph_has_one_edge_per_direction() -> None:
    estate = _estate(MINIMAL)
    edges = sorted((u, v, d["mode"]) for u, v, d in estate.graph.edges(data=True))
    assert edges == [("hub", "edge", "pull"), ("hub", "edge", "push")]


def test_yaml_1_2_no_is_a_string() -> None:
    estate = _estate(MINIMAL.replace("bank-a: {name: Bank A,", "bank-a: {name: Bank A, nationality: no,"))
    assert estate.organisations["bank-a"].nationality == "no"


# --- the CLI's contract -------------------------------------------------------------------------


def test_inspect_is_byte_identical_across_runs_and_processes() -> None:
    first = runner.invoke(app, ["inspect", str(EXAMPLE)])
    second = runner.invoke(app, ["inspect", str(EXAMPLE)])
    assert first.exit_code == second.exit_code == 0
    assert first.stdout == second.stdout
    as_json = [runner.invoke(app, ["inspect", "--format", "json", str(EXAMPLE)]).stdout for _ in range(2)]
    assert as_json[0] == as_json[1]
    # Two fresh interpreters with different hash seeds: no set or dict ordering leaks into the output.
    outputs = []
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        done = subprocess.run([sys.executable, "-m", "planner", "inspect", str(EXAMPLE)], env=env,
                              capture_output=True, check=True, cwd=ROOT)
        outputs.append(done.stdout)
    assert outputs[0] == outputs[1] == first.stdout.encode()


def test_inspect_fills_in_defaults_and_uuids() -> None:
    import json

    result = runner.invoke(app, ["inspect", "--format", "json", str(EXAMPLE)])
    data = json.loads(result.stdout)
    estate = load_estate(EXAMPLE).estate
    for oid, org in estate.organisations.items():
        assert data["organisations"][oid]["uuid"] == org.uuid
    for iid in estate.instances:
        assert {"platform", "misp_version", "users", "uuid", "orgs"} <= set(data["instances"][iid])
    assert list(data["instances"]) == sorted(data["instances"])


def test_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.stdout == f"misp-planner {__version__}\n"
    done = subprocess.run([sys.executable, "-m", "planner", "--version"], capture_output=True, text=True,
                          check=False, cwd=ROOT)
    assert (done.returncode, done.stdout) == (0, f"misp-planner {__version__}\n")


SINGLE = """\
version: 1
name: single
organisations: {csirt: {name: National CSIRT}}
communities: {national: {}}
instances: {hub: {community: national, host_org: csirt, url: "https://misp.csirt.example"}}
"""


def test_exit_codes(tmp_path: Path) -> None:
    broken = "tests/errors/ref-instance-community.yaml"
    unreadable = "tests/errors/empty-file.yaml"
    clean = tmp_path / "single.yaml"
    clean.write_text(SINGLE, encoding="utf-8")
    cases = [
        (["validate", str(clean)], 0),
        (["inspect", str(EXAMPLE)], 0),
        (["validate", str(ROOT / broken)], 1),
        (["inspect", str(ROOT / broken)], 1),
        (["validate", "--format", "yamlish", str(EXAMPLE)], 2),
        (["validate"], 2),
        (["no-such-command"], 2),
        (["validate", "--no-such-option", str(EXAMPLE)], 2),
        (["validate", str(ROOT / unreadable)], 3),
        (["inspect", str(ROOT / unreadable)], 3),
        (["inspect", str(ROOT / "no-such-file.yaml")], 3),
    ]
    for args, code in cases:
        result = runner.invoke(app, args)
        assert result.exit_code == code, (args, result.output)
        assert result.exception is None or isinstance(result.exception, SystemExit), args


def test_inspect_puts_diagnostics_on_stderr() -> None:
    result = runner.invoke(app, ["inspect", str(ROOT / "tests/errors/ref-instance-community.yaml")])
    assert result.stdout == ""
    assert "error MP150: unknown community 'nationl'" in result.stderr


def test_merge_keys_share_values_and_explicit_keys_win() -> None:
    text = SINGLE.replace(
        'instances: {hub: {community: national, host_org: csirt, url: "https://misp.csirt.example"}}\n',
        "instances:\n"
        "  hub: &base\n    community: national\n    host_org: csirt\n    url: https://misp.csirt.example\n"
        "    users: 10\n"
        "  edge:\n    users: 99\n    <<: *base\n    url: https://edge.csirt.example\n")
    estate = _estate(text)
    edge = estate.instances["edge"]
    assert (edge.community, edge.host_org, edge.users, edge.url) == (
        "national", "csirt", 99, "https://edge.csirt.example")
    doc = estate.document
    assert doc.where(("instances", "edge", "users")) == Position(12, 12)
    assert doc.where(("instances", "edge", "url")) == Position(14, 10)


def test_human_format_escapes_control_characters_and_aligns_the_caret_after_tabs() -> None:
    from planner.diagnostics import Finding, Severity, format_human

    finding = Finding("MP109", Severity.ERROR, "key 'hub\x1b[2J' is not a valid id", "rename it", "t.yaml",
                      Position(1, 8), ("instances", "hub\x1b[2J"))
    text = format_human([finding], {"t.yaml": ["\tname:\tbad value"]})
    assert "\x1b" not in text
    assert "key 'hub\\x1b[2J' is not a valid id" in text and "at instances.hub\\x1b[2J" in text
    source, caret = text.splitlines()[2:4]
    assert source == "  1 | \tname:\tbad value"
    assert caret == "    | \t     \t^"


def test_redefined_anchor_follows_yaml_and_prints_no_python_warning() -> None:
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        doc = load_text("a: &x 1\nb: &x 2\nc: *x\n", "anchors.yaml")
    assert doc.data == {"a": 1, "b": 2, "c": 2}
    assert caught == []


def _values(data: object, path: tuple[str | int, ...] = ()) -> list[tuple[tuple[str | int, ...], object]]:
    found: list[tuple[tuple[str | int, ...], object]] = [(path, data)]
    items = list(data.items()) if isinstance(data, dict) else list(enumerate(data)) if isinstance(data, list) else []
    for key, value in items:
        found.extend(_values(value, (*path, key)))
    return found


@pytest.mark.parametrize("example", sorted((ROOT / "examples").glob("*/topology.yaml")),
                         ids=lambda p: p.parent.name)
def test_every_text_value_is_found_where_its_position_says(example: Path) -> None:
    from planner.load import load_file

    doc = load_file(example)
    checked = 0
    for path, value in _values(doc.data):
        if not isinstance(value, str) or "\n" in value or not path:
            continue
        position = doc.positions[path]
        text = doc.lines[position.line - 1][position.column - 1:]
        # The first word is enough: a long plain value may continue on the next lines.
        first_word = value.split()[0] if value.split() else ""
        assert text.lstrip("'\"").startswith(first_word), (path, position, text)
        key_position = doc.key_positions.get(path)
        if key_position is not None:
            key_text = doc.lines[key_position.line - 1][key_position.column - 1:]
            assert key_text.lstrip("'\"").startswith(str(path[-1])), (path, key_position, key_text)
        checked += 1
    assert checked > 50
