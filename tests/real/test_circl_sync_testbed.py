"""CIRCL's sync test bed (tests/real/circl-sync-testbed/, SOURCE.md there): its tests' assertions as `flows`.

Each test below names the test of MISP/misp-synchronisation it transcribes. Those tests drive single
operations (one push to one server, one pull of one server entry), while `flows` answers where an event
may end up after every job has run; so an assertion about a push alone is checked on the estate with
its pulls switched off, and one about a pull alone on the estate with only that entry, pulling. The
expected levels are the source's own (`expected_distribution_after_pull` and the assertEqual calls).
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from planner.estate import Estate, resolve
from planner.flows import EventSpec, propagate
from planner.flows.versions import assumptions
from planner.load import load_text
from planner.misp import Distribution
from planner.parse import parse_topology

TOPOLOGY = Path(__file__).parent / "circl-sync-testbed" / "topology.yaml"
LEVELS = {0: Distribution.ORGANISATION, 1: Distribution.COMMUNITY, 2: Distribution.CONNECTED, 3: Distribution.ALL}
# topology.conf: "i=j k" -- instance i holds server entries to j and k
LINKED = {1: [2, 5], 2: [1, 3], 3: [2, 4], 4: [3], 5: [1, 6], 6: [7], 7: [6]}
INTERNAL_PAIR = {6, 7}  # testPushForAllServers: `internal_instances = misps_org_admin[-2:]`


def source() -> dict[str, Any]:
    data: dict[str, Any] = YAML(typ="safe").load(TOPOLOGY.read_text(encoding="utf-8"))
    return data


def estate_of(data: dict[str, Any]) -> Estate:
    import json

    document = load_text(json.dumps(data), str(TOPOLOGY))
    topology, findings = parse_topology(document)
    assert topology is not None, findings
    estate, findings = resolve(topology, document)
    assert estate is not None, findings
    return estate


def pushes_only() -> Estate:
    data = source()
    for entry in data["sync"]:
        entry["pull"] = False
    return estate_of(data)


def one_pull(initiator: int, remote: int, **changes: Any) -> Estate:
    """The estate with the one entry `initiator -> remote`, pulling only (what `server_pull` runs)."""
    data = source()
    entry = next(e for e in data["sync"] if e["initiator"] == f"misp-{initiator}" and e["remote"] == f"misp-{remote}")
    data["sync"] = [{**copy.deepcopy(entry), "push": False, **changes}]
    return estate_of(data)


def reached(estate: Estate, origin: int, level: int) -> dict[int, int]:
    flow = propagate(estate, EventSpec(f"misp-{origin}", LEVELS[level]))
    return {int(inst.split("-")[1]): int(lvl) for inst, lvl in flow.reaches.items()}


def test_the_transcription_is_the_source() -> None:
    estate = estate_of(source())
    assert {(c.initiator, c.remote) for c in estate.connections} == {
        (f"misp-{i}", f"misp-{j}") for i, peers in LINKED.items() for j in peers}
    assert estate.instances["misp-7"].host_org == "org-6"
    assert all(c.name == f"MISP_{c.remote.split('-')[1]}" for c in estate.connections)
    assert {c.sync_org for c in estate.connections if c.remote == "misp-6"} == {"org-6"}


@pytest.mark.parametrize("level", [0, 1, 2, 3])
def test_local_share_and_downgrade_on_pull(level: int) -> None:
    """test_sync_*.py TestSyncWithInternalServer.testLocalShareAndDowngradeOnPull: instance 6 pulls from 7
    over the internal entry MISP_7; a role-5 sync user lacks perm_sync_internal, so on 2.5.8+ the pull
    downgrades although the entry is internal: {0: 0, 1: 0, 2: 1, 3: 3}."""
    expected = {0: 0, 1: 0, 2: 1, 3: 3}[level]
    assert reached(one_pull(6, 7), 7, level) == {7: level, 6: expected}


def test_the_downgrade_is_the_versions_and_the_roles() -> None:
    """The same pull before 2.5.8, or with a role that has perm_sync_internal, keeps the levels."""
    older = source()
    older["defaults"]["misp_version"] = "2.5.1"
    entry = next(e for e in older["sync"] if e["initiator"] == "misp-6" and e["remote"] == "misp-7")
    older["sync"] = [{**entry, "push": False}]
    assert reached(estate_of(older), 7, 2) == {7: 2, 6: 2}
    flagged = source()
    flagged["roles"] = {"internal-sync": {"perm_auth": True, "perm_sync": True, "perm_sync_internal": True}}
    entry = next(e for e in flagged["sync"] if e["initiator"] == "misp-6" and e["remote"] == "misp-7")
    flagged["sync"] = [{**entry, "push": False, "sync_user": {"role": "internal-sync"}}]
    assert reached(estate_of(flagged), 7, 1) == {7: 1, 6: 1}


def test_flows_states_the_downgrade() -> None:
    facts = assumptions(estate_of(source()))
    assert facts["misp_versions"]["misp-6"].startswith("2.5")
    assert {(d["initiator"], d["remote"], d["role"]) for d in facts["downgraded_internal_pulls"]} == {
        ("misp-6", "misp-7", "Sync user"), ("misp-7", "misp-6", "Sync user")}


@pytest.mark.parametrize("level", [0, 1, 2, 3])
def test_local_share_and_downgrade_on_push(level: int) -> None:
    """testLocalShareAndDowngradeOnPush: instance 7 pushes to 6 over the internal entry; the level stays."""
    assert reached(pushes_only(), 7, level)[6] == level


def test_event_distribution_level_on_pull() -> None:
    """test_sync_distribution.py testEventDistributionLevelOnPull: 5 pulls from 6 (the one one-way entry,
    find_unidirectional_link); events of ORG_6 at every level are found on 5 -- level 0 too, because the
    sync user INSTALL.sh makes on instance 6 belongs to ORG_6, the events' owner (MISP/MISP#2595 class)."""
    estate = one_pull(5, 6)
    for level in (0, 1, 2, 3):
        assert 5 in reached(estate, 6, level), level
    # With the sync user in ORG_5 (what MISP's documentation prescribes) the level-0 event stays on 6.
    assert 5 not in reached(one_pull(5, 6, sync_user={"role": "Sync user"}), 6, 0)


def test_event_distribution_level_on_pull_reaches_everyone_at_all() -> None:
    """testEventDistributionLevelOnPull, last step: at level 3 the event is on every instance."""
    assert set(reached(estate_of(source()), 6, 3)) == set(LINKED)


def test_event_downgrade_distribution_level_on_pull() -> None:
    """testEventDowngradeDistributionLevelOnPull: over the non-internal entry 5 -> 6, 1 arrives as 0, 2 as 1,
    3 as 3."""
    estate = one_pull(5, 6)
    assert {level: reached(estate, 6, level)[5] for level in (1, 2, 3)} == {1: 0, 2: 1, 3: 3}


@pytest.mark.parametrize(("level", "present"), [(0, False), (1, False), (2, True), (3, True)])
def test_event_distribution_level_on_push(level: int, present: bool) -> None:
    """testEventDistributionLevelOnPush: instance 1 pushes to its servers 2 and 5; levels 0 and 1 never
    leave, 2 and 3 arrive; at 3 the event reaches every instance."""
    holders = reached(pushes_only(), 1, level)
    for peer in LINKED[1]:
        assert (peer in holders) is present
    if level == 3:
        assert set(holders) == set(LINKED)


def test_event_downgrade_distribution_level_on_push() -> None:
    """testEventDowngradeDistributionLevelOnPush: pushed at 2 it is 1 on 2 and 5; at 3 it stays 3."""
    estate = pushes_only()
    assert {peer: reached(estate, 1, 2)[peer] for peer in LINKED[1]} == {2: 1, 5: 1}
    assert {peer: reached(estate, 1, 3)[peer] for peer in LINKED[1]} == {2: 3, 5: 3}


@pytest.mark.parametrize("origin", sorted(LINKED))
def test_push_for_all_servers(origin: int) -> None:
    """test_sync_topology.py testPushForAllServers: a level-2 event published on each instance is on the
    instance and its servers, and nowhere else but (through the internal pair) instances 6 and 7."""
    holders = set(reached(pushes_only(), origin, 2))
    assert {origin, *LINKED[origin]} <= holders
    assert holders - {origin, *LINKED[origin]} <= INTERNAL_PAIR


def test_pull_for_all_servers() -> None:
    """testPullForAllServers: over the one-way entry (5 holds MISP_6), a level-2 event of 6 reaches 5."""
    assert 5 in reached(one_pull(5, 6), 6, 2)
