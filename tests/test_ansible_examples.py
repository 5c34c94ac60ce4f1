"""The bundled examples' generated projects applied to MISP test doubles (tests/misp_test_server, a
test double of MISP's REST contract as recorded on MISP 2.5.1, not MISP): the first apply succeeds,
the second changes nothing, check mode after it reports nothing, and no user the play created keeps
a key without the topology's pinning."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import EXAMPLES
from misp_test_server.examples import LOOPBACK, example_estate
from ruamel.yaml import YAML

from planner.pipeline import load_estate
from planner.units import format_seconds

# The two examples the recordings were made with (issue 15); large-estate is the scale example.
APPLIED = [p for p in EXAMPLES if p.parent.name in ("national-csirt", "sector-isac")]


@pytest.mark.parametrize("example", APPLIED, ids=[p.parent.name for p in APPLIED])
def test_example_applies_then_converges(example: Path, tmp_path: Path) -> None:
    with example_estate(example, tmp_path) as run:
        first = run.apply()
        assert first.rc == 0, {h: s.failures for h, s in first.hosts.items()}
        second = run.apply()
        assert second.rc == 0 and second.changed == 0, {h: s.changed_tasks for h, s in second.hosts.items()}
        snapshots = {iid: run.doubles[iid].state.snapshot() for iid in run.managed}
        check = run.apply(check=True)
        assert check.rc == 0 and check.changed == 0, {h: s.changed_tasks for h, s in check.hosts.items()}
        assert snapshots == {iid: run.doubles[iid].state.snapshot() for iid in run.managed}
        # What someone changed by hand in MISP's UI is put back by the next apply, field by field
        # (module_utils/misp_api.py edit): every organisation renamed, the sync permission of every
        # role the topology defines flipped.
        planned_roles, planned_feeds = {}, {}
        for iid in run.managed:
            state = run.doubles[iid].state
            planned = YAML(typ="safe").load((run.project / "host_vars" / iid / "misp.yml").read_text())
            planned_roles[iid] = {r["name"] for r in planned["misp_roles"]}
            for org in state.orgs.values():
                org["name"] += " (renamed by hand)"
            for role in state.roles.values():
                if role["name"] in planned_roles[iid]:
                    role["perm_sync"] = not role["perm_sync"]
            planned_feeds[iid] = {f["name"]: f["disable_correlation"] for f in planned["misp_feeds"]}
            for feed in state.feeds.values():
                if feed["name"] in planned_feeds[iid]:
                    feed["settings"] = json.dumps({"csv": {"delimiter": ";"},
                                                   "disable_correlation": not planned_feeds[iid][feed["name"]]})
        restored = run.apply()
        assert restored.rc == 0, {h: s.failures for h, s in restored.hosts.items()}
        assert restored.changed >= len(run.managed) + sum(map(len, planned_roles.values())) \
            + sum(map(len, planned_feeds.values()))
        for iid in run.managed:
            state, before = run.doubles[iid].state, snapshots[iid]
            assert {o["uuid"]: o["name"] for o in state.orgs.values()} == {
                o["uuid"]: o["name"] for o in before["orgs"].values()}, iid
            assert {r["name"]: r["perm_sync"] for r in state.roles.values()} == {
                r["name"]: r["perm_sync"] for r in before["roles"].values()}, iid
            # a feed's correlation setting set back, its other settings kept
            kept = {"csv": {"delimiter": ";"}}
            assert {f["name"]: json.loads(f["settings"]) for f in state.feeds.values()
                    if f["name"] in planned_feeds[iid]} == {
                name: {**kept, "disable_correlation": off} for name, off in planned_feeds[iid].items()}
        for iid in run.managed:
            # Every key the play made carries the pinning the topology gives its link or tool, and expires.
            planned = YAML(typ="safe").load((run.project / "host_vars" / iid / "misp.yml").read_text())
            pinning = {item["key_comment"]: item["allowed_ips"]
                       for item in planned["misp_links_as_remote"] + planned["misp_handed_keys"]}
            state = run.doubles[iid].state
            for key in state.keys.values():
                if key["user_id"] == "1":
                    continue  # the site admin's own key, made at install
                assert key["comment"] in pinning, (iid, key["comment"])
                assert (key["allowed_ips"] or []) == pinning[key["comment"]], (iid, key["comment"])
                assert pinning[key["comment"]] in ([], LOOPBACK) and int(key["expiration"]) > 0, (iid, key)


@pytest.mark.parametrize("example", APPLIED, ids=[p.parent.name for p in APPLIED])
def test_every_interval_of_the_example_is_scheduled(example: Path, tmp_path: Path) -> None:
    """The generated project holds a job for every pull (its `every`, or daily), every `push.every` and
    every `fetch_every`; the cron role turns them into lines (tests/test_ansible_e2e.py)."""
    from planner.ansible.project import generate_project
    from planner.sizing import size_estate

    estate = load_estate(example).estate
    generate_project(estate, size_estate(estate), tmp_path)
    jobs = set()
    for iid, inst in estate.instances.items():
        if inst.managed:
            planned = YAML(typ="safe").load((tmp_path / "host_vars" / iid / "misp.yml").read_text())
            jobs |= {(iid, job["job"], job["every"]) for job in planned["misp_schedules"]}
    wanted = set()
    for conn in estate.connections:
        if estate.instances[conn.initiator].managed:
            if conn.pull is not None:
                wanted.add((conn.initiator, "pull", format_seconds(conn.pull.every or 86400)))
            if conn.push is not None and conn.push.every is not None:
                wanted.add((conn.initiator, "push", format_seconds(conn.push.every)))
    for feeder in estate.feeders.values():
        if feeder.feed is not None and estate.instances[feeder.into].managed:
            job = "cache" if feeder.feed.cache_only else "fetch"
            wanted.add((feeder.into, job, format_seconds(feeder.feed.fetch_every or 86400)))
    assert wanted and wanted <= jobs, wanted - jobs


def test_a_link_taken_out_of_an_example_is_reported_then_pruned(tmp_path: Path) -> None:
    example = next(p for p in APPLIED if p.parent.name == "sector-isac")
    with example_estate(example, tmp_path) as run:
        assert run.apply().rc == 0
        estate = load_estate(run.topology).estate
        conn = next(c for c in estate.connections
                    if estate.instances[c.initiator].managed and estate.instances[c.remote].managed)
        initiator, remote = run.doubles[conn.initiator].state, run.doubles[conn.remote].state
        entry = next(s for s in initiator.servers.values() if s["url"] == run.doubles[conn.remote].url)
        key = next(k for k in remote.keys.values() if f"{conn.initiator} -> {conn.remote}" in k["comment"])
        document = YAML().load(run.topology.read_text())
        del document["sync"][conn.index]
        with run.topology.open("w") as out:
            YAML().dump(document, out)
        run.regenerate()
        # A sharing group may still need the entry to list the remote: then it stays, listing only.
        planned = YAML(typ="safe").load((run.project / "host_vars" / conn.initiator / "misp.yml").read_text())
        listed = any(k["remote"] == conn.remote for k in planned["misp_links_as_initiator"])
        reported = run.apply()
        assert reported.rc == 0, {h: s.failures for h, s in reported.hosts.items()}
        if listed:
            server = initiator.servers[int(entry["id"])]
            assert server["push"] is False and server["pull"] is False, server
        else:
            assert any(entry["name"] in w for w in reported.hosts[conn.initiator].warnings)
        assert any(key["comment"] in w for w in reported.hosts[conn.remote].warnings)
        assert int(key["id"]) in remote.keys
        pruned = run.apply(misp_prune=True)
        assert pruned.rc == 0, {h: s.failures for h, s in pruned.hosts.items()}
        assert (int(entry["id"]) in initiator.servers) is listed and int(key["id"]) not in remote.keys
        again = run.apply(misp_prune=True)
        assert again.rc == 0 and again.changed == 0, {h: s.changed_tasks for h, s in again.hosts.items()}
