"""The MISP-aware rules (MP2xx, MP4xx): each on its own failing and passing fixture, the catalogue
commands (rules, explain, lint), and the examples' findings.

Fixtures live in tests/rules/<CODE>/{fail,pass}.yaml. A failing fixture's leading comments say
``# expect: CODE at LINE:COLUMN`` for every finding of that code it must yield, no more, no less;
a passing fixture must yield none of its code.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import EXAMPLES, ROOT
from typer.testing import CliRunner

from planner.analyse import analyse
from planner.cli import app
from planner.diagnostics import Finding, PlannerError, Severity
from planner.pipeline import load_estate
from planner.rules import all_rules, get_rule
from planner.rules.catalogue import FIXTURES, docs_markdown, expectations

runner = CliRunner()

# The families this suite owns; every rule they register must come with both fixtures.
OWN_FAMILIES = ("sync", "distribution", "feeders", "consumers", "network", "design", "security")
OWN_RULES = sorted(r.code for r in all_rules() if r.check.__module__.rsplit(".", 1)[-1] in OWN_FAMILIES)
FIXTURE_CODES = sorted(p.name for p in FIXTURES.iterdir() if p.is_dir())
# Every fixture file: fail.yaml / pass.yaml (the documented examples) and the further fail-*.yaml /
# pass-*.yaml cases where a rule judging the graph's shape alone would answer otherwise.
FAILING = sorted(f"{p.parent.name}/{p.name}" for p in FIXTURES.glob("*/fail*.yaml"))
PASSING = sorted(f"{p.parent.name}/{p.name}" for p in FIXTURES.glob("*/pass*.yaml"))


def findings_of(path: Path) -> list[Finding]:
    loaded = load_estate(path)
    return [*loaded.findings, *analyse(loaded.estate)]


def test_every_own_rule_has_both_fixtures() -> None:
    assert len(OWN_RULES) >= 20
    for code in OWN_RULES:
        assert (FIXTURES / code / "fail.yaml").is_file(), code
        assert (FIXTURES / code / "pass.yaml").is_file(), code


def test_every_fixture_directory_names_a_rule() -> None:
    for code in FIXTURE_CODES:
        assert get_rule(code) is not None, f"tests/rules/{code} has no rule"


@pytest.mark.parametrize("fixture", FAILING)
def test_failing_fixture_yields_exactly_the_expected_findings(fixture: str) -> None:
    path = FIXTURES / fixture
    code = path.parent.name
    expected = expectations(path.read_text(encoding="utf-8"))
    assert expected, f"{path} has no '# expect: {code} at LINE:COL' header"
    assert {c for c, _, _, _ in expected} == {code}
    found = [f for f in findings_of(path) if f.code == code]
    rule = get_rule(code)
    assert rule is not None
    seen = sorted((f.position.line, f.position.column, f.severity.value) for f in found if f.position)
    assert seen == sorted((line, col, severity or rule.severity.value) for _, line, col, severity in expected), \
        [f.message for f in found]
    for f in found:
        assert f.file == str(path)
        assert f.message and f.hint


@pytest.mark.parametrize("fixture", PASSING)
def test_passing_fixture_yields_none_of_its_code(fixture: str) -> None:
    path = FIXTURES / fixture
    found = [f for f in findings_of(path) if f.code == path.parent.name]
    assert found == [], [f.message for f in found]


def test_every_fixture_is_a_documented_example_or_a_named_case() -> None:
    for path in FIXTURES.glob("*/*.yaml"):
        assert path.name in ("fail.yaml", "pass.yaml") or path.name.startswith(("fail-", "pass-")), path


@pytest.mark.parametrize("code", FIXTURE_CODES)
def test_fixtures_are_small_valid_estates(code: str) -> None:
    for path in sorted((FIXTURES / code).glob("*.yaml")):
        estate = load_estate(path).estate
        assert 1 <= len(estate.instances) <= 5, path


def test_every_rule_cites_misp_behaviour_or_spec() -> None:
    for r in all_rules():
        if r.code in OWN_RULES:
            assert "docs/misp-behaviour.md#" in r.why or "spec §" in r.why, r.code
            assert r.code.startswith(("MP2", "MP4"))


# --- behaviour beyond the fixtures -----------------------------------------------------------------


def _estate(tmp_path: Path, text: str) -> list[Finding]:
    path = tmp_path / "topology.yaml"
    path.write_text(text, encoding="utf-8")
    return findings_of(path)


BASE = """version: 1
name: t
organisations:
  a: {name: Org A}
  b: {name: Org B}
communities:
  c: {}
  public: {trust: untrusted, private: false}
instances:
  one: {community: c, host_org: a, url: https://one.example}
  two: {community: c, host_org: b, url: https://two.example}
  portal: {community: public, host_org: b, url: https://portal.example}
"""


def codes(findings: list[Finding]) -> list[str]:
    return sorted(f.code for f in findings)


def test_echo_needs_both_pushes(tmp_path: Path) -> None:
    # one pushes, two pulls over its own entry from one: no echo (a pull is not pushed back
    # over the entry it came by, and two has no push), but the redundancy is noted.
    found = _estate(tmp_path, BASE + """sync:
  - {initiator: one, remote: two, push: true}
  - {initiator: two, remote: one, pull: true}
""")
    assert "MP210" not in codes(found)
    assert codes(found).count("MP212") == 1


def test_untrusted_inbound_pull_is_flagged_too(tmp_path: Path) -> None:
    found = _estate(tmp_path, BASE.replace("c: {}", "c: {private: false}") + """sync:
  - {initiator: one, remote: portal, pull: true, allowed_ips: [198.51.100.7/32]}
""")
    mp216 = [f for f in found if f.code == "MP216"]
    assert len(mp216) == 1 and "from untrusted community" in mp216[0].message


def test_private_data_leak_stops_at_an_unpublishing_push(tmp_path: Path) -> None:
    # one -> two arrives unpublished, so two never passes it on to the portal (docs/misp-behaviour.md#multi-hop).
    text = BASE + """sync:
  - {initiator: one, remote: two, push: true, unpublish: true}
  - {initiator: two, remote: portal, push: true, allowed_ips: [198.51.100.7/32]}
"""
    found = _estate(tmp_path, text)
    # two's own community is private too, so its own data still leaks: both are community c.
    leaks = [f for f in found if f.code == "MP217"]
    assert len(leaks) == 1 and "path: two -> portal" in leaks[0].related


def test_private_leak_reports_the_whole_path(tmp_path: Path) -> None:
    text = BASE.replace("  two: {community: c,", "  two: {community: mid,").replace(
        "communities:\n", "communities:\n  mid: {private: false}\n") + """sync:
  - {initiator: one, remote: two, push: true}
  - {initiator: two, remote: portal, push: true, allowed_ips: [198.51.100.7/32]}
"""
    found = _estate(tmp_path, text)
    leaks = [f for f in found if f.code == "MP217"]
    assert len(leaks) == 1
    assert leaks[0].related == ("path: one -> two -> portal",)
    assert "MP216" not in codes(found)  # the same edge is reported once, as the leak


def test_sharing_group_roaming_still_needs_member_remote(tmp_path: Path) -> None:
    # Roaming skips the server list, not the remote-org check (docs/misp-behaviour.md#what-a-push-sends rule 5).
    text = """version: 1
name: t
organisations:
  a: {name: Org A}
  b: {name: Org B}
  h: {name: Hub}
communities:
  c: {}
instances:
  one: {community: c, host_org: a, url: https://one.example}
  hub: {community: c, host_org: h, url: https://hub.example}
  two: {community: c, host_org: b, url: https://two.example}
sync:
  - {initiator: one, remote: hub, push: true}
  - {initiator: hub, remote: two, push: true}
sharing_groups:
  g: {orgs: [a, b], roaming: true}
"""
    found = [f for f in _estate(tmp_path, text) if f.code == "MP218"]
    assert len(found) == 1 and "never reaches 'two' from 'one'" in found[0].message
    assert found[0].related == ("sync[0] push one -> hub: 'hub' is run by 'h', which is not a member of the group",)
    assert "MP218" not in codes(_estate(tmp_path, text.replace("orgs: [a, b]", "orgs: [a, b, h]")))


def test_sharing_group_pull_by_member_reaches(tmp_path: Path) -> None:
    text = BASE + """sync:
  - {initiator: two, remote: one, pull: true}
sharing_groups:
  g: {orgs: [a, b], instances: [one, two]}
"""
    found = [f for f in _estate(tmp_path, text) if f.code == "MP218"]
    # one -> two by pull works (b is a member); nothing carries two's events to one.
    assert len(found) == 1 and "never reaches 'one' from 'two'" in found[0].message
    assert "no sync link leads there" in found[0].message


def test_zone_same_zone_and_unzoned_are_fine(tmp_path: Path) -> None:
    text = BASE.replace("version: 1\n", "version: 1\ndefaults:\n  zones: {dmz: {reaches: []}}\n").replace(
        "https://one.example}", "https://one.example, zone: dmz}").replace(
        "https://two.example}", "https://two.example, zone: dmz}") + """sync:
  - {initiator: one, remote: two, pull: true}
  - {initiator: portal, remote: one, pull: true, allowed_ips: [198.51.100.7/32]}
"""
    assert "MP240" not in codes(_estate(tmp_path, text))


def test_tls_off_by_default_points_at_defaults(tmp_path: Path) -> None:
    text = BASE.replace("version: 1\n", "version: 1\ndefaults: {tls_verify: false}\n") + """sync:
  - {initiator: one, remote: two, pull: true}
  - {initiator: two, remote: one, pull: true, tls: {verify: true}}
"""
    found = [f for f in _estate(tmp_path, text) if f.code == "MP401"]
    assert len(found) == 1 and found[0].dotted_path == "defaults.tls_verify"


def test_consumer_format_judgement(tmp_path: Path) -> None:
    text = BASE + """consumers:
  s1: {kind: siem, from: one, via: api, format: stix2, needs: [taxonomies, sightings], allowed_ips: [10.0.0.1/32]}
  s2: {kind: siem, from: one, via: api, format: opendata, needs: [galaxies], allowed_ips: [10.0.0.2/32]}
  s3: {kind: siem, from: one, via: zmq, needs: [galaxies, sightings]}
"""
    found = [f for f in _estate(tmp_path, text) if f.code == "MP230"]
    # stix2 keeps taxonomies but not sightings; an unknown format and zmq are not judged.
    assert [f.message for f in found] == ["consumer 's1' needs sightings but the 'stix2' export does not carry it"]


def test_large_instance_advice_needs_volume_and_a_mixed_role(tmp_path: Path) -> None:
    text = BASE.replace("https://one.example}", "https://one.example, volume: {attributes: 80M}}") + """sync:
  - {initiator: one, remote: two, push: true}
"""
    assert "MP250" not in codes(_estate(tmp_path, text))  # big, but holds no bulk data
    outward = text + "  - {initiator: one, remote: portal, push: {tags: {include: [x]}}, allowed_ips: [1.2.3.4/32]}\n"
    assert "MP250" not in codes(_estate(tmp_path, outward))  # a big curated hub sharing outward: as advised
    bulk = outward + "feeders:\n  pots: {kind: honeypot, into: one, rate: 10k/day}\n"
    found = [f for f in _estate(tmp_path, bulk) if f.code == "MP250"]
    assert len(found) == 1 and "ingests low-value feeders pots" in found[0].message
    assert "shares with portal" in found[0].message
    ingest = bulk.replace("volume: {attributes: 80M}", "volume: {attributes: 80M}, purpose: ingest")
    assert "MP250" not in codes(_estate(tmp_path, ingest))  # the ingest instance itself: MP220 if bulk leaves


# --- examples --------------------------------------------------------------------------------------


def test_examples_carry_only_advice(example: Path) -> None:
    """The examples are designs to copy: the rules may note things on them, but flag nothing."""
    found = [f for f in findings_of(example) if f.code in OWN_RULES and f.severity is not Severity.INFO]
    assert found == [], [f"{f.code} {f.message}" for f in found]


# --- commands --------------------------------------------------------------------------------------


def test_rules_command_lists_every_rule() -> None:
    result = runner.invoke(app, ["rules"])
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert lines[0].split() == ["code", "severity", "title"]
    for r in all_rules():
        assert any(line.startswith(r.code) and r.title in line for line in lines), r.code


def test_rules_command_json() -> None:
    result = runner.invoke(app, ["rules", "--format", "json"])
    assert result.exit_code == 0
    data = json.loads(result.output)
    assert [r["code"] for r in data["rules"]] == [r.code for r in all_rules()]


def test_explain_shows_why_and_both_examples() -> None:
    result = runner.invoke(app, ["explain", "mp210"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("MP210 (warning): Two instances push to each other")
    assert "#receiving-a-push" in result.output
    assert "Failing example (tests/rules/MP210/fail.yaml)" in result.output
    assert "Passing example (tests/rules/MP210/pass.yaml)" in result.output
    assert "# expect:" not in result.output


def test_explain_unknown_code_is_a_usage_error() -> None:
    result = runner.invoke(app, ["explain", "MP999"])
    assert result.exit_code == 2
    assert "unknown code 'MP999'" in result.output


def test_lint_is_validate(tmp_path: Path) -> None:
    path = FIXTURES / "MP213" / "fail.yaml"
    for fmt in ("human", "json", "sarif"):
        lint = runner.invoke(app, ["lint", str(path), "--format", fmt])
        validate = runner.invoke(app, ["validate", str(path), "--format", fmt])
        assert lint.exit_code == validate.exit_code == 1
        assert lint.output == validate.output


def test_lint_sarif_carries_rule_titles() -> None:
    result = runner.invoke(app, ["lint", str(FIXTURES / "MP210" / "fail.yaml"), "--format", "sarif"])
    assert result.exit_code == 0
    driver = json.loads(result.output)["runs"][0]["tool"]["driver"]
    titles = {r["id"]: r["shortDescription"]["text"] for r in driver["rules"]}
    assert titles["MP210"] == "Two instances push to each other over separate entries"


def test_lint_unreadable_file_exits_3(tmp_path: Path) -> None:
    result = runner.invoke(app, ["lint", str(tmp_path / "missing.yaml")])
    assert result.exit_code == 3


def test_docs_page_is_current() -> None:
    page = ROOT / "docs" / "rules.md"
    assert page.read_text(encoding="utf-8") == docs_markdown(), (
        "docs/rules.md is stale: run `python -m planner.rules.catalogue > docs/rules.md`")


def test_rule_output_is_deterministic() -> None:
    for example in EXAMPLES:
        first = [f.sort_key() for f in findings_of(example)]
        assert first == [f.sort_key() for f in findings_of(example)]


# --- the structural rules agree with the propagation engine on their fixtures ----------------------


def _reaches(code: str, kind: str, origin: str, distribution: str, group: str | None = None) -> dict[str, str]:
    from planner.flows import EventSpec, propagate
    from planner.misp import Distribution

    estate = load_estate(FIXTURES / code / f"{kind}.yaml").estate
    level = Distribution.parse(distribution)
    flow = propagate(estate, EventSpec(origin=origin, distribution=level, sharing_group=group))
    return {i: Distribution(v).word for i, v in flow.reaches.items()}


def test_engine_confirms_connected_data_stops_after_one_hop() -> None:
    assert "three" not in _reaches("MP214", "fail", "one", "connected")
    assert _reaches("MP214", "pass", "one", "connected")["two"] == "community"


def test_engine_confirms_community_data_leaves_by_pull_only() -> None:
    assert _reaches("MP215", "fail", "inside", "community").get("outside") == "organisation"
    assert "outside" not in _reaches("MP215", "pass", "inside", "community")


def test_engine_confirms_private_data_reaches_the_untrusted_portal() -> None:
    assert "portal" in _reaches("MP217", "fail", "one", "all")
    assert "portal" not in _reaches("MP217", "pass", "one", "all")


def test_engine_confirms_the_sharing_group_stops_at_the_hub() -> None:
    assert "two" not in _reaches("MP218", "fail", "one", "sharing-group", "pair")
    assert _reaches("MP218", "pass", "one", "sharing-group", "pair").get("two") == "sharing-group"


# --- every rule on generated estates ----------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_rules_on_synthetic_estates_point_at_lines_and_repeat(tmp_path: Path, seed: int) -> None:
    """The benchmark generator's estates (communities, untrusted ones, groups, feeders, consumers)
    run through every rule: no exception, every finding placed in the file, same result twice."""
    import sys

    sys.path.insert(0, str(ROOT))
    try:
        from benchmarks.synthetic import generate
    finally:
        sys.path.remove(str(ROOT))
    path = tmp_path / "synthetic.yaml"
    path.write_text(json.dumps(generate(60, seed)), encoding="utf-8")
    first = findings_of(path)
    assert first == findings_of(path)
    own = [f for f in first if f.code in OWN_RULES]
    assert own, "the generated estate should trigger some rules"
    for f in own:
        assert f.position is not None and f.position.line >= 1


# --- issue 18: the events behind a verdict; new checks ---------------------------------------------


MISP_FEED = """version: 1
name: t
organisations:
  a: {name: Org A}
  circl: {name: CIRCL}
communities:
  c: {}
instances:
  one: {community: c, host_org: a, url: https://one.example}
feeders:
  osint:
    kind: osint-feed
    into: one
    org: circl
    via: feed
    feed: {url: https://www.circl.lu/doc/misp/feed-osint, format: misp}
"""


def test_misp_format_feed_may_name_its_creator_org(tmp_path: Path) -> None:
    from planner.flows import feeder_event, propagate

    found = _estate(tmp_path, MISP_FEED)
    assert "MP160" not in codes(found)
    estate = load_estate(tmp_path / "topology.yaml").estate
    assert propagate(estate, feeder_event(estate, "osint")).event.org == "circl"
    # a freetext feed's events are created by the feed's own org setting: still a local one
    with pytest.raises(PlannerError) as refused:
        _estate(tmp_path, MISP_FEED.replace("format: misp", "format: freetext"))
    assert codes(refused.value.findings) == ["MP160"]


def test_echo_is_named_by_its_event(tmp_path: Path) -> None:
    found = [f for f in _estate(tmp_path, BASE + """sync:
  - {initiator: one, remote: two, push: {tags: {include: [shared]}}}
  - {initiator: two, remote: one, push: {tags: {include: [shared, back]}}}
""") if f.code == "MP210"]
    assert len(found) == 1 and found[0].severity is Severity.WARNING
    assert "an event tagged shared created on 'one' by 'a' at 'all'" in found[0].message


def test_connected_event_stops_is_named(tmp_path: Path) -> None:
    found = [f for f in findings_of(FIXTURES / "MP214" / "fail.yaml") if f.code == "MP214"]
    assert len(found) == 1
    assert "stops at 'two', while at 'all' it arrives by one -> two -> three" in found[0].message


def test_plaintext_between_one_host_org_is_left_alone(tmp_path: Path) -> None:
    text = BASE.replace("https://two.example", "http://two.example") + """sync:
  - {initiator: one, remote: two, push: true}
"""
    assert codes(_estate(tmp_path, text)).count("MP243") == 1
    assert "MP243" not in codes(_estate(tmp_path, text.replace("host_org: b, url: http://two", "host_org: a, url: http://two")))


def test_version_table_has_a_source_for_every_row() -> None:
    from planner.compat import MISP_LINES, PLATFORMS, install_problem
    from planner.misp import SUPPORTED_PLATFORMS

    assert set(PLATFORMS) == set(SUPPORTED_PLATFORMS)
    assert all(row.source for row in [*MISP_LINES.values(), *PLATFORMS.values()])
    assert all(install_problem("2.5.1", platform) is None for platform in SUPPORTED_PLATFORMS)
    assert all(install_problem("2.4", platform) is not None for platform in SUPPORTED_PLATFORMS)
    assert install_problem("3.0", "debian-12") is None  # a line the table does not know: nothing claimed


def test_feeder_events_that_cannot_exist_are_not_judged(tmp_path: Path) -> None:
    # the feeder's org is not a member of its group: the engine refuses such an event, and the rules
    # asking where feeders' events go pass it over instead of failing (a property test found this)
    found = _estate(tmp_path, BASE + """feeders:
  bench: {kind: workbench, into: one, distribution: sharing-group, sharing_group: g, publish: true}
sync:
  - {initiator: one, remote: two, push: true}
sharing_groups:
  g: {orgs: [b], instances: [one, two]}
""")
    judged = [f for f in found if f.code in ("MP218", "MP220", "MP221")]
    assert [f.code for f in judged] == ["MP218"]  # two's own group events never reach one
    assert "'bench'" not in judged[0].message
