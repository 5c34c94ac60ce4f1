"""`misp-planner diff`: structure, reach, findings, policies and sizing between two estates."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from planner.cli import app
from planner.diff import Change, EstateDiff, ReachChange, diff_estates
from planner.diff_output import format_markdown
from planner.pipeline import load_estate_text

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = ROOT / "tests" / "golden" / "diff"
runner = CliRunner()

BASE = """\
version: 1
name: diff-test
organisations:
  csirt: {name: CSIRT}
  bank: {name: Bank}
  partner: {name: Partner}
communities:
  national: {trust: trusted}
  partners: {trust: trusted, private: false}
instances:
  hub: {community: national, host_org: csirt, orgs: [bank], url: https://hub.example,
        volume: {attributes: 10M, growth: 10k/day}}
  relay: {community: national, host_org: csirt, url: https://relay.example,
          volume: {attributes: 1M, growth: 1k/day}}
  partner: {community: partners, host_org: partner, url: https://partner.example, managed: false}
sync:
  - {initiator: hub, remote: relay, push: {tags: {include: ["tlp:green"]}}}
  - {initiator: relay, remote: partner, push: true}
policies:
  - name: amber stays home
    data: {tags: ["tlp:amber"]}
    must_not_reach: {community: partners}
"""


def untagged(row: ReachChange) -> bool:
    """The row covers events without tags (either explicitly, or because it holds for any tags)."""
    return not row.tags or "untagged" in row.tags


def diff_of(base: str, head: str) -> EstateDiff:
    return diff_estates(load_estate_text(base, "base.yaml").estate, load_estate_text(head, "head.yaml").estate)


def test_same_file_has_no_diff() -> None:
    result = diff_of(BASE, BASE)
    assert not result.changed
    assert result.summary().startswith("No changes")


def test_reordering_the_file_is_no_change() -> None:
    lines = BASE.splitlines()
    # Swap the two sync entries and the order of the instances; the estate is the same.
    start = lines.index("sync:")
    reordered = "\n".join([*lines[:start + 1], lines[start + 2], lines[start + 1], *lines[start + 3:]]) + "\n"
    reordered = reordered.replace(
        "  relay: {community: national, host_org: csirt, url: https://relay.example,\n"
        "          volume: {attributes: 1M, growth: 1k/day}}\n", "")
    reordered = reordered.replace(
        "sync:\n", "  relay: {community: national, host_org: csirt, url: https://relay.example,\n"
                   "          volume: {attributes: 1M, growth: 1k/day}}\nsync:\n")
    assert reordered != BASE
    assert not diff_of(BASE, reordered).changed


def test_filter_change_widens_reach_two_hops_away() -> None:
    # Dropping the include filter on hub -> relay lets untagged 'all' events through relay on to
    # the partner, two hops from the change.
    head = BASE.replace('push: {tags: {include: ["tlp:green"]}}', "push: true")
    result = diff_of(BASE, head)
    change = next(c for c in result.structure if c.section == "sync")
    assert change.key == "hub -> relay" and change.kind == "changed"
    assert ("push.tags.include", ["tlp:green"], []) in change.fields
    all_level = next(r for r in result.reach if r.origin == "hub" and r.distribution == "all" and untagged(r))
    assert set(all_level.gained) == {"relay", "partner"}
    assert result.wider_reach


def test_narrowing_is_not_wider_reach() -> None:
    head = BASE.replace("{initiator: relay, remote: partner, push: true}",
                        '{initiator: relay, remote: partner, push: {tags: {include: ["tlp:clear"]}}}')
    result = diff_of(BASE, head)
    assert result.changed and not result.wider_reach
    assert any("partner" in r.lost for r in result.reach)


def test_added_and_removed_elements() -> None:
    head = BASE.replace("  partner: {community: partners, host_org: partner, url: https://partner.example, "
                        "managed: false}\n",
                        "  partner: {community: partners, host_org: partner, url: https://partner.example, "
                        "managed: false}\n  spare: {community: national, host_org: csirt, url: https://spare.example}\n")
    head = head.replace("  - {initiator: relay, remote: partner, push: true}\n",
                        "  - {initiator: spare, remote: hub, pull: true}\n")
    head += ("feeders:\n  sandbox: {kind: sandbox, into: spare, rate: 5k/day}\n"
             "consumers:\n  siem: {kind: siem, from: hub, via: api, format: json}\n"
             "sharing_groups:\n  circle: {orgs: [csirt, bank], instances: [hub]}\n")
    result = diff_of(BASE, head)
    kinds = {(c.section, c.key, c.kind) for c in result.structure}
    assert ("instances", "spare", "added") in kinds
    assert ("sync", "spare -> hub", "added") in kinds
    assert ("sync", "relay -> partner", "removed") in kinds
    assert ("feeders", "sandbox", "added") in kinds
    assert ("consumers", "siem", "added") in kinds
    assert ("sharing_groups", "circle", "added") in kinds
    hub_all = next(r for r in result.reach if r.origin == "hub" and r.distribution == "all" and untagged(r))
    assert "partner" not in hub_all.gained


def test_flags_and_levels() -> None:
    # Internal flag on a same-host-org link keeps the level: relay receives 'connected' data as
    # connected instead of community.
    head = BASE.replace('{initiator: hub, remote: relay, push: {tags: {include: ["tlp:green"]}}}',
                        '{initiator: hub, remote: relay, internal: true, push: {tags: {include: ["tlp:green"]}}}')
    result = diff_of(BASE, head)
    change = next(c for c in result.structure if c.key == "hub -> relay")
    assert ("internal", False, True) in change.fields
    tagged = [r for r in result.reach if r.origin == "hub" and r.tags == ("tlp:green",)]
    assert tagged, "the internal flag changes where tlp:green events go"


def test_policy_verdict_and_findings_change() -> None:
    # Opening relay -> partner to everything is fine for untagged data, but dropping the amber
    # exclusion on a new direct link makes the policy fail.
    head = BASE.replace("  - {initiator: relay, remote: partner, push: true}\n",
                        "  - {initiator: relay, remote: partner, push: true}\n"
                        "  - {initiator: hub, remote: partner, push: true}\n")
    result = diff_of(BASE, head)
    before = diff_of(BASE, BASE)
    assert not before.policies
    assert ("amber stays home", "holds", "violated") in result.policies or any(
        f.code == "MP201" for f in result.new_findings)


def test_sizing_deltas() -> None:
    head = BASE.replace("volume: {attributes: 10M, growth: 10k/day}", "volume: {attributes: 80M, growth: 10k/day}")
    result = diff_of(BASE, head)
    keys = {(i, k) for i, k, _, _ in result.sizing}
    assert ("hub", "volume_class") in keys
    change = next(c for c in result.sizing if c[:2] == ("hub", "volume_class"))
    assert change[2:] == ("below-50M", "above-50M")


def test_sizing_inputs_and_bootstrap_are_listed_as_changed() -> None:
    # The resolved form leaves these out (their effect shows in sizing); a reviewer still decides on them.
    head = BASE.replace("volume: {attributes: 1M, growth: 1k/day}}",
                        "volume: {attributes: 1M, growth: 1k/day, largest_event: 50k}, correlation: off,\n"
                        "          log_retention: 30d}")
    head = head.replace("{initiator: relay, remote: partner, push: true}",
                        "{initiator: relay, remote: partner, push: true, bootstrap: 90d}")
    result = diff_of(BASE, head)
    relay = next(c for c in result.structure if c.key == "relay")
    assert {f[0] for f in relay.fields} == {"correlation", "largest_event", "log_retention"}
    assert ("log_retention", None, 30 * 86400) in relay.fields
    link = next(c for c in result.structure if c.key == "relay -> partner")
    assert link.fields == (("bootstrap", "full", 90 * 86400),)


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_cli_exit_codes_and_json(tmp_path: Path) -> None:
    base = _write(tmp_path, "base.yaml", BASE)
    head = _write(tmp_path, "head.yaml", BASE.replace('push: {tags: {include: ["tlp:green"]}}', "push: true"))
    same = runner.invoke(app, ["diff", str(base), str(base), "--exit-code"])
    assert same.exit_code == 0, same.output
    changed = runner.invoke(app, ["diff", str(base), str(head), "--exit-code", "--format", "json"])
    assert changed.exit_code == 2, changed.output
    data = json.loads(changed.stdout)
    assert data["changed"] and data["wider_reach"]
    gate = runner.invoke(app, ["diff", str(base), str(head), "--fail-on", "wider-reach"])
    assert gate.exit_code == 1
    narrower = runner.invoke(app, ["diff", str(head), str(base), "--fail-on", "wider-reach"])
    assert narrower.exit_code == 0, narrower.output
    usage = runner.invoke(app, ["diff", str(base)])
    assert usage.exit_code == 2
    broken = _write(tmp_path, "broken.yaml", BASE.replace("host_org: partner", "host_org: nobody"))
    bad = runner.invoke(app, ["diff", str(base), str(broken)])
    assert bad.exit_code == 1 and "unknown organisation 'nobody'" in bad.output


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_cli_git_revision(tmp_path: Path) -> None:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.org",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.org"}
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True, env=env)
    topology = _write(tmp_path, "topology.yaml", BASE)
    subprocess.run(["git", "add", "topology.yaml"], cwd=tmp_path, check=True, env=env)
    subprocess.run(["git", "commit", "-qm", "base"], cwd=tmp_path, check=True, env=env)
    topology.write_text(BASE.replace('push: {tags: {include: ["tlp:green"]}}', "push: true"), encoding="utf-8")
    result = runner.invoke(app, ["diff", "--git", "HEAD", str(topology), "--exit-code"])
    assert result.exit_code == 2, result.output
    assert "hub -> relay" in result.stdout
    missing = runner.invoke(app, ["diff", "--git", "no-such-rev", str(topology)])
    assert missing.exit_code == 2 and "no-such-rev" in missing.output


def test_markdown_golden() -> None:
    """A realistic change to the national CSIRT example, as the pull-request comment."""
    base_file = ROOT / "examples" / "national-csirt" / "topology.yaml"
    head_file = GOLDEN / "national-csirt-head.yaml"
    base = load_estate_text(base_file.read_text(encoding="utf-8"), "examples/national-csirt/topology.yaml")
    head = load_estate_text(head_file.read_text(encoding="utf-8"), "tests/golden/diff/national-csirt-head.yaml")
    text = format_markdown(diff_estates(base.estate, head.estate))
    golden = GOLDEN / "national-csirt.md"
    if os.environ.get("UPDATE_GOLDEN"):
        golden.write_text(text, encoding="utf-8")
    assert text == golden.read_text(encoding="utf-8"), "regenerate with UPDATE_GOLDEN=1 and review the Markdown"


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")
def test_diff_diagram_marks_added_removed_and_changed(tmp_path: Path) -> None:
    import xml.etree.ElementTree as ET

    head = BASE.replace('push: {tags: {include: ["tlp:green"]}}', "push: true")
    head = head.replace("  - {initiator: relay, remote: partner, push: true}\n",
                        "  - {initiator: hub, remote: partner, pull: true}\n")
    base_file, head_file = _write(tmp_path, "base.yaml", BASE), _write(tmp_path, "head.yaml", head)
    out = tmp_path / "diff.svg"
    result = runner.invoke(app, ["diff", str(base_file), str(head_file), "-o", str(out)])
    assert result.exit_code == 0, result.output
    svg = ET.parse(out).getroot()
    ns = {"svg": "http://www.w3.org/2000/svg"}
    ids = {g.get("id"): g for g in svg.iter("{http://www.w3.org/2000/svg}g") if g.get("id")}

    def stroke(ident: str) -> str:
        path = ids[ident].find("svg:path", ns)
        assert path is not None
        return str(path.get("stroke"))

    added = next(i for i in ids if i.startswith("e_sync_") and "removed" not in i and stroke(i) == "#2f855a")
    assert added
    removed = [i for i in ids if i.startswith("removed_e_sync_")]
    assert len(removed) == 1 and stroke(removed[0]) == "#c53030"
    assert any(i.startswith("e_sync_") and stroke(i) == "#dd6b20" for i in ids), "hub -> relay is marked changed"
    text = out.read_text(encoding="utf-8")
    for style in ("legend_diff_added", "legend_diff_removed", "legend_diff_changed"):
        assert style in text, f"the legend explains {style}"
    same = runner.invoke(app, ["diff", str(base_file), str(base_file), "-o", str(tmp_path / "same.dot")])
    assert same.exit_code == 0
    assert "legend_diff" not in (tmp_path / "same.dot").read_text(encoding="utf-8")


def test_moved_numbers_pair_findings_as_changed() -> None:
    """Raising one instance's growth moves the numbers of its findings (days to 50M): the same code at
    the same place, reported as changed (old -> new), not as one new and one resolved finding."""
    base = BASE.replace("volume: {attributes: 10M, growth: 10k/day}", "volume: {attributes: 40M, growth: 20k/day}")
    head = BASE.replace("volume: {attributes: 10M, growth: 10k/day}", "volume: {attributes: 40M, growth: 40k/day}")
    result = diff_of(base, head)
    assert result.new_findings == () and result.resolved_findings == ()
    assert result.changed_findings, "the growth change moves the MP301 finding's days"
    before, after = result.changed_findings[0]
    assert before.code == after.code == "MP301" and before.message != after.message
    assert result.reach == ()  # volumes do not change where events go
    assert "0 new / 0 resolved / 1 changed findings" in result.summary()
    md = format_markdown(result)
    assert "| changed | warning | MP301 |" in md and "Nothing to decide" in md


def test_markdown_leads_with_decisions_and_stays_under_githubs_limit() -> None:
    from planner.diff_output import GITHUB_COMMENT_LIMIT

    wide = ReachChange("hub", "all", None, (), ("partner",), (), (), ())
    many = tuple(Change("changed", "instances", f"i{n:05}", (("description", "x" * 40, "y" * 40),))
                 for n in range(3_000))
    result = EstateDiff(structure=many, reach=(wide,), new_findings=(), resolved_findings=(), policies=(
        ("amber stays home", "holds", "violated"),), sizing=())
    md = format_markdown(result)
    assert len(md) < GITHUB_COMMENT_LIMIT
    assert md.index("#### To decide") < md.index("**Wider reach**") < md.index("**Policy verdicts**") \
        < md.index("<details><summary>Structure")
    folded = re.search(r"\*(\d+) more rows left out of this comment\.\*", md)
    assert folded and int(folded.group(1)) + md.count("| changed | instances |") == 3_000
    assert "`misp-planner diff --format json` lists them all" in md


def test_raising_one_growth_on_a_synthetic_estate_changes_findings_only() -> None:
    """The benchmark's change (benchmarks/bench_diff.py) at 150 instances: the growth and the findings
    it moves are changed, nothing is new or resolved, and no flow changes."""
    import sys

    sys.path.insert(0, str(ROOT))
    from benchmarks.synthetic import generate

    base = generate(150)
    head = json.loads(json.dumps(base))
    head["instances"]["i0"]["volume"]["growth"] = "250k/day"
    result = diff_estates(load_estate_text(json.dumps(base), "base.yaml").estate,
                          load_estate_text(json.dumps(head), "head.yaml").estate)
    assert [c.key for c in result.structure] == ["i0"]
    assert result.new_findings == () and result.resolved_findings == () and result.reach == ()
    assert result.changed_findings and all(b.code == a.code for b, a in result.changed_findings)
