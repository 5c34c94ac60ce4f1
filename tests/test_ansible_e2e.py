"""End to end: generated project -> ansible-runner -> MISP test doubles (a test double of MISP's
REST contract, tests/misp_test_server, not MISP). Three managed instances and one unmanaged,
with push, pull, push+pull, filters, a sharing group, feeders and consumers."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from ansible.parsing.vault import VaultLib, VaultSecret
from misp_test_server.harness import (
    MANAGED,
    TEST_CA,
    VAULT_PASSWORD,
    Estate,
    edited_check,
    edited_run,
    partner_keys_before,
    running_estate,
    shared_estate,
)
from misp_test_server.server import MispTestDouble, dispatch

from planner.flows.versions import sync_role
from planner.misp import INTERNAL_SYNC_ROLE
from planner.pipeline import load_estate

SERVER_TASK = "The server entry, with the new key when one was minted"
KEY_TASK = "A sync key, pinned and expiring, fresh where the link does not work yet"


def org_by_uuid(state: MispTestDouble, uuid: str) -> dict[str, Any]:
    found = [o for o in state.orgs.values() if o["uuid"] == uuid]
    assert len(found) == 1, f"{state.name}: organisation {uuid} present {len(found)} times"
    return found[0]


def tag_names(state: MispTestDouble, ids: list[str]) -> set[str]:
    return {state.tags[int(i)]["name"] for i in ids}


def assert_every_key_is_pinned(e: Estate) -> None:
    """No user the play created holds a key without the topology's pinning: the unpinned, never
    expiring key MISP makes on /admin/users/add is gone, and each key left is one the play minted
    ("misp-planner ..."), with its link's allowed_ips."""
    estate = load_estate(e.topology).estate
    pinning = {f"sync {c.initiator} -> {c.remote} (": sorted(c.allowed_ips) for c in estate.connections}
    for iid in MANAGED:
        for key in e.state(iid).keys.values():
            if key["user_id"] == "1":  # the admin's own key, not a user the play created
                continue
            where = f"{iid}: key {key['id']} of user {key['user_id']} ({key['comment']!r})"
            assert key["comment"].startswith("misp-planner "), where
            link = [allowed for label, allowed in pinning.items() if label in key["comment"]]
            if link:
                assert sorted(key["allowed_ips"] or []) == link[0], where
            else:
                assert key["allowed_ips"], f"{where} is not pinned"


def handed_over(e: Estate, instance: str, name: str, user: dict[str, Any],
                allowed_ips: tuple[str, ...] | list[str]) -> None:
    """A key the play minted for someone else: one per user, labelled, pinned, expiring, and stored
    only in its ansible-vault file, which decrypts to a key that works as that user."""
    state = e.state(instance)
    keys = [k for k in state.keys.values() if k["user_id"] == user["id"]]
    assert len(keys) == 1, f"{instance}: {user['email']} holds {len(keys)} keys"
    assert keys[0]["comment"].startswith("misp-planner ") and int(keys[0]["expiration"]) > time.time()
    assert sorted(keys[0]["allowed_ips"] or []) == sorted(allowed_ips)
    stored = (e.keys_dir / instance / f"{name}.vault").read_bytes()
    assert stored.startswith(b"$ANSIBLE_VAULT;")
    vault = VaultLib([("misp-planner", VaultSecret(VAULT_PASSWORD.encode()))])
    key = vault.decrypt(stored).decode().strip()
    assert key not in stored.decode()
    status, answer = dispatch(state, "GET", "/servers/getVersion", key, (allowed_ips or ["127.0.0.1"])[0].split("/")[0],
                              None)
    assert status == 200, answer


def verify(e: Estate) -> None:
    """Everything the topology plans exists on the doubles with the planned fields."""
    estate = load_estate(e.topology).estate
    orgs = estate.organisations
    for iid in MANAGED:
        state = e.state(iid)
        host = org_by_uuid(state, orgs[estate.instances[iid].host_org].uuid)
        assert str(state.settings["MISP.host_org_id"]) == host["id"]
        assert state.settings["MISP.baseurl"] == estate.instances[iid].url
        planned = yaml.safe_load((e.project / "host_vars" / iid / "misp.yml").read_text(encoding="utf-8"))
        assert {k: state.settings[k] for k in planned["misp_settings"]} == planned["misp_settings"], iid
    assert e.state("partner").settings["MISP.completely_disable_correlation"] is True  # correlation: off
    for conn in estate.connections:
        init, remote = estate.instances[conn.initiator], estate.instances[conn.remote]
        if not init.managed:
            # Someone else's initiator: our remote gives it its org, a sync user and a key for its
            # operator, pinned and expiring, stored only encrypted.
            rstate = e.state(conn.remote)
            sync_org = org_by_uuid(rstate, orgs[init.host_org].uuid)
            users = [u for u in rstate.users.values() if u["email"] == f"sync-{conn.initiator}@127.0.0.1"]
            assert len(users) == 1 and users[0]["role_id"] == sync_role_id(estate, conn, rstate)
            assert users[0]["org_id"] == sync_org["id"]
            handed_over(e, conn.remote, f"sync-{conn.initiator}--{conn.remote}", users[0], conn.allowed_ips)
            continue
        state = e.state(conn.initiator)
        entries = [s for s in state.servers.values() if s["url"] == remote.url]
        assert len(entries) == 1, f"{conn.initiator} has {len(entries)} entries for {conn.remote}"
        server = entries[0]
        remote_org = state.orgs[int(server["remote_org_id"])]
        assert remote_org["uuid"] == orgs[remote.host_org].uuid
        assert server["push"] is (conn.push is not None) and server["pull"] is (conn.pull is not None)
        assert server["push_sightings"] is conn.sightings and server["internal"] is conn.internal
        assert server["push_analyst_data"] is (conn.analyst_data in ("push", "both"))
        assert server["pull_analyst_data"] is (conn.analyst_data in ("pull", "both"))
        push_rules, pull_rules = json.loads(server["push_rules"]), json.loads(server["pull_rules"])
        if conn.push is not None:
            # docs/misp-behaviour.md#push-and-pull-rules: push rules hold the pusher's local tag and org ids.
            assert tag_names(state, push_rules["tags"]["OR"]) == set(conn.push.tags.include)
            assert tag_names(state, push_rules["tags"]["NOT"]) == set(conn.push.tags.exclude)
            assert {state.orgs[int(i)]["uuid"] for i in push_rules["orgs"]["NOT"]} == \
                {orgs[o].uuid for o in conn.push.orgs.exclude}
        if conn.pull is not None:
            assert set(pull_rules["tags"]["NOT"]) == set(conn.pull.tags.exclude)  # names, evaluated remotely
            # url_params: a JSON string MISP merges into the remote index request
            wanted = dict(conn.pull_filter.url_params) if conn.pull_filter else {}
            assert json.loads(pull_rules["url_params"] or "{}") == wanted
        # tls.ca: the remote's CA is the entry's CA file (sent once as submitted_cert).
        assert (server.get("ca_pem") == TEST_CA) is (conn.tls_ca is not None), server.get("cert_file")
        status, answer = dispatch(state, "GET", f"/servers/testConnection/{server['id']}", state.admin_key,
                                  "127.0.0.1", None)
        assert (status, answer["status"]) == (200, 1), f"{conn.initiator} -> {conn.remote}: {answer}"
        if remote.managed:
            rstate = e.state(conn.remote)
            sync_org = org_by_uuid(rstate, orgs[init.host_org].uuid)  # same UUID on both sides
            users = [u for u in rstate.users.values() if u["email"] == f"sync-{conn.initiator}@127.0.0.1"]
            assert len(users) == 1 and users[0]["role_id"] == sync_role_id(estate, conn, rstate)
            assert users[0]["org_id"] == sync_org["id"]
            keys = [k for k in rstate.keys.values() if k["user_id"] == users[0]["id"]
                    and f"{conn.initiator} -> {conn.remote}" in k["comment"]]
            assert len(keys) == 1, f"{conn.remote} holds {len(keys)} keys for {conn.initiator}"
            assert sorted(keys[0]["allowed_ips"]) == sorted(conn.allowed_ips)
            assert int(keys[0]["expiration"]) > time.time()
    fin = estate.sharing_groups["fin"]
    # ingest is not on the group's list, but its host org is a member: it must hold the group so that
    # an event can be created in it there (MISP answers 405 otherwise), as `flows` assumes.
    for holder in [*fin.instances, "ingest"]:
        state = e.state(holder)
        groups = [g for g in state.sharing_groups.values() if g["uuid"] == estate.sharing_group_uuids["fin"]]
        assert len(groups) == 1
        member_orgs, member_servers = state.sg_members(int(groups[0]["id"]))
        assert {state.orgs[int(o)]["uuid"] for o in member_orgs} == {orgs[o].uuid for o in fin.orgs}
        urls = {estate.instances[holder].url if sid == "0" else state.servers[int(sid)]["url"]
                for sid in member_servers}
        # A holder off the list still lists itself: MISP adds "this instance" to a new group and refuses
        # to remove it.
        assert urls == {estate.instances[i].url for i in {*fin.instances, holder}}
        status, answer = dispatch(state, "POST", "/events/add", state.admin_key, "127.0.0.1",
                                  {"info": "group event", "distribution": 4, "sharing_group_id": groups[0]["uuid"]})
        assert status == 200, (holder, answer)
    ingest = e.state("ingest")
    feeds = [f for f in ingest.feeds.values() if f["url"] == "https://www.circl.lu/doc/misp/feed-osint"]
    ours = [f for f in feeds if not f["default"]]
    assert len(ours) == 1 and ours[0]["distribution"] == "0" and ours[0]["enabled"] is True
    assert json.loads(ours[0]["settings"]) == {"disable_correlation": True}  # feeders.osint.correlate: false
    for iid in MANAGED:  # MISP's default feeds are left as a fresh install has them
        defaults = [f for f in e.state(iid).feeds.values() if f["default"]]
        assert [(f["id"], f["name"], f["distribution"], f["enabled"]) for f in defaults] == \
            [("1", "CIRCL OSINT Feed", "3", False), ("2", "The Botvrij.eu Data", "3", False)]
    roles = {u["email"]: u["role_id"] for u in ingest.users.values()}
    assert roles["feeder-sandbox@127.0.0.1"] == "3"  # adds events, does not publish
    hub = e.state("hub")
    assert {u["email"]: u["role_id"] for u in hub.users.values()}["consumer-ids@127.0.0.1"] == "6"  # read only
    for instance, name, allowed in (("hub", "consumer-ids", ["127.0.0.1/32"]),
                                    ("ingest", "feeder-sandbox", ["127.0.0.1/32"])):
        user = next(u for u in e.state(instance).users.values() if u["email"] == f"{name}@127.0.0.1")
        handed_over(e, instance, name, user, allowed)
    assert hub.settings["Plugin.ZeroMQ_enable"] is True and ingest.settings["Plugin.ZeroMQ_enable"] is False
    for iid in MANAGED:  # the topology's tags, as defined: the routing tag is not exportable, reserved to csirt
        state = e.state(iid)
        tags = [t for t in state.tags.values() if t["name"] == "route:partner"]
        assert len(tags) == 1 and tags[0]["exportable"] is False and tags[0]["colour"] == "#1f2937"
        assert state.orgs[int(tags[0]["org_id"])]["uuid"] == orgs["csirt"].uuid
    assert_every_key_is_pinned(e)


def sync_role_id(estate: Any, conn: Any, state: Any) -> str:
    """The id, on the remote, of the role the connection's sync user must have: MISP's Sync user (5), or for
    the internal hub -> ingest link on 2.5 the play's role with perm_sync_internal."""
    name = sync_role(estate, conn)[0]
    role = next(r for r in state.roles.values() if r["name"] == name)
    assert role["perm_sync"] is True
    if conn.internal:
        assert name == INTERNAL_SYNC_ROLE and role["perm_sync_internal"] is True
    return str(role["id"])


def test_check_mode_on_a_fresh_estate_changes_nothing_and_reports_what_it_would_do() -> None:
    _, check, _ = shared_estate()
    assert check.result.rc == 0, {h: s.failures for h, s in check.result.hosts.items()}
    assert check.before == check.after
    writes = [r for r in check.requests if r.method == "POST" and r.path != "/tags/search"]  # a search, not a write
    assert not writes, writes
    would = {h: s.changed_tasks for h, s in check.result.hosts.items()}
    assert all(would[h] for h in MANAGED), would
    assert SERVER_TASK in would["hub"] and "Feeds of the topology's feeders" in would["ingest"]


def test_apply_provisions_both_ends_of_every_link() -> None:
    estate, _, applied = shared_estate()
    assert applied.rc == 0, {h: s.failures for h, s in applied.hosts.items()}
    verify(estate)


def test_second_run_changes_nothing_and_check_mode_after_it_reports_no_change() -> None:
    estate, _, _ = shared_estate()
    again = estate.apply()
    assert again.rc == 0 and again.changed == 0, {h: s.changed_tasks for h, s in again.hosts.items()}
    assert set(again.hosts) >= set(MANAGED) and all(again.hosts[h].changed == 0 for h in MANAGED)
    before = {name: d.state.snapshot() for name, d in estate.doubles.items()}
    check = estate.apply(check=True)
    assert check.rc == 0 and check.changed == 0, {h: s.changed_tasks for h, s in check.hosts.items()}
    assert before == {name: d.state.snapshot() for name, d in estate.doubles.items()}


def test_editing_a_filter_updates_the_one_server_entry_in_place() -> None:
    estate, _, _ = shared_estate()
    hub = estate.state("hub")
    before, result = edited_run()
    assert result.rc == 0
    assert result.hosts["hub"].changed_tasks == [SERVER_TASK]
    # The link works, so its key stays; only its address pinning follows the edit.
    assert result.hosts["partner"].changed_tasks == [KEY_TASK]
    assert result.hosts["ingest"].changed == 0
    keys_before, keys_after = partner_keys_before(), estate.state("partner").keys
    assert set(keys_before) == {k["id"] for k in keys_after.values()}  # nothing minted, nothing deleted
    assert [k for k in keys_after.values() if k["allowed_ips"] != keys_before[k["id"]]["allowed_ips"]]
    assert set(hub.servers) == set(before)
    changed = [sid for sid in before if hub.servers[sid] != before[sid]]
    assert len(changed) == 1 and hub.servers[changed[0]]["authkey"] == before[changed[0]]["authkey"]
    verify(estate)


def test_check_mode_after_an_edit_reports_the_one_update_and_changes_nothing() -> None:
    check, unchanged = edited_check()
    assert check.rc == 0 and unchanged
    assert check.hosts["hub"].changed_tasks == [SERVER_TASK]
    assert check.hosts["partner"].changed_tasks == [KEY_TASK] and check.hosts["ingest"].changed == 0


def _files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()]


def test_no_secret_in_generated_files_logs_or_runner_artifacts() -> None:
    estate, _, _ = shared_estate()
    secrets = estate.secrets()
    assert len(secrets) > 8  # admin keys, sync keys minted during the runs, the external key
    files = _files(estate.project)
    assert any("job_events" in str(p) for p in files) and any(p.name == "command" for p in files)
    for path in files:
        text = path.read_bytes()
        leaked = [s[:4] + "..." for s in secrets if s.encode() in text]
        assert not leaked, f"{path} holds secrets {leaked}"


def test_interrupted_apply_converges(tmp_path: Path) -> None:
    with running_estate(tmp_path) as estate:
        env = {**os.environ, **estate.env(), "PYTHONUNBUFFERED": "1"}
        command = [sys.executable, "-m", "planner", "apply", str(estate.project), "-e", "misp_provision_stack=false",
                   "-e", "misp_manage_schedules=false"]
        process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                   start_new_session=True)
        try:
            # Kill the run right after a sync key was minted, before the initiator stored it.
            for _ in range(6000):
                if any("misp-planner sync" in k["comment"] for d in MANAGED for k in estate.state(d).keys.values()):
                    break
                if process.poll() is not None:
                    pytest.fail(f"the apply ended (rc {process.returncode}) before any key was minted")
                time.sleep(0.05)
            os.killpg(process.pid, signal.SIGKILL)
        finally:
            process.wait()
            # ansible-runner starts ansible-playbook in a session of its own (a pty), which the
            # kill above does not reach: end it too, so that no orphan outlives the test.
            with contextlib.suppress(OSError):
                subprocess.run(["pkill", "-KILL", "-f", str(estate.project)], check=False, timeout=30)
        minted = [k for d in MANAGED for k in estate.state(d).keys.values() if "misp-planner sync" in k["comment"]]
        assert minted and len(estate.state("hub").servers) < 3  # interrupted before every entry was stored
        result = estate.apply()
        assert result.rc == 0, {h: s.failures for h, s in result.hosts.items()}
        verify(estate)  # one key per link: keys of the interrupted run were replaced
        for path in _files(estate.project):
            text = path.read_bytes()
            assert not [s for s in estate.secrets() if s.encode() in text], path


def cron_lines(estate: Estate, host: str) -> list[str]:
    return [line for line in (estate.cron_dir / host).read_text().splitlines() if line and not line.startswith("#")]


def test_every_interval_of_the_topology_is_a_scheduled_job_with_the_real_ids() -> None:
    estate, _, _ = shared_estate()
    hub, ingest = estate.state("hub"), estate.state("ingest")
    partner_entry = next(s for s in hub.servers.values() if s["url"] == estate.doubles["partner"].url)
    ingest_entry = next(s for s in hub.servers.values() if s["url"] == estate.doubles["ingest"].url)
    # pull every 45m: cron repeats 30 minutes exactly, never less often than asked; pull: true runs daily.
    lines = cron_lines(estate, "hub")
    log = "/var/www/MISP/app/tmp/logs/misp-planner-jobs.log"
    assert any(line.endswith(f"Server pull 1 {partner_entry['id']} full >> {log} 2>&1")
               and "-59/30 * * * * www-data" in line for line in lines), lines
    assert any(f"Server pull 1 {ingest_entry['id']} full" in line and line.split()[2:5] == ["*", "*", "*"]
               for line in lines), lines
    assert "every 45m asked; cron runs it every 30m" in (estate.cron_dir / "hub").read_text()
    feed = next(f for f in ingest.feeds.values() if f["name"] == "osint (misp-planner)")
    fetches = [line for line in cron_lines(estate, "ingest") if f"Server fetchFeed 1 {feed['id']} >>" in line]
    assert len(fetches) == 1 and fetches[0].split()[1].endswith("-23/6"), cron_lines(estate, "ingest")  # 6h
    assert not [line for line in cron_lines(estate, "partner") if "Server" in line]  # partner only pushes
    assert not [line for host in MANAGED for line in cron_lines(estate, host) if "NEW" in line]


def test_api_plays_run_on_the_controller_whatever_connection_the_inventory_gives(tmp_path: Path) -> None:
    """A host's own ansible_connection (ssh to a port where nothing listens) must not reach the API
    plays: they talk to MISP's API from the controller."""
    with running_estate(tmp_path) as estate:
        (estate.project / "host_vars" / "hub" / "connection.yml").write_text(
            "ansible_connection: ssh\nansible_host: 127.0.0.1\nansible_port: 9\n", encoding="utf-8")
        result = estate.apply(misp_manage_schedules=False, ansible_connection=None)
        assert result.rc == 0, {h: s.failures for h, s in result.hosts.items()}
        assert result.hosts["hub"].changed and not result.hosts["hub"].unreachable


def test_a_removed_link_is_reported_then_pruned(tmp_path: Path) -> None:
    with running_estate(tmp_path) as estate:
        assert estate.apply().rc == 0
        hub, ingest = estate.state("hub"), estate.state("ingest")
        entry = next(s for s in hub.servers.values() if s["url"] == estate.doubles["ingest"].url)
        user = next(u for u in ingest.users.values() if u["email"] == "sync-hub@127.0.0.1")
        key = next(k for k in ingest.keys.values() if k["comment"].startswith("misp-planner sync hub -> ingest"))
        estate.write(hub_ingest=False)
        estate.generate()

        reported = estate.apply()
        assert reported.rc == 0, {h: s.failures for h, s in reported.hosts.items()}
        assert any(entry["name"] in w and "--prune" in w for w in reported.hosts["hub"].warnings), reported.hosts["hub"]
        assert any("sync-hub@127.0.0.1" in w for w in reported.hosts["ingest"].warnings)
        assert any(key["comment"] in w for w in reported.hosts["ingest"].warnings)
        assert int(entry["id"]) in hub.servers and hub.servers[int(entry["id"])]["pull"] is True  # untouched
        assert int(key["id"]) in ingest.keys and ingest.users[int(user["id"])]["disabled"] is False
        # A hand-made entry is reported and never touched, also with --prune.
        _, made = dispatch(hub, "POST", "/servers/add", hub.admin_key, "127.0.0.1",
                           {"name": "by hand", "url": "https://elsewhere.example", "remote_org_id": 1,
                            "authkey": "A" * 40})
        before = estate.state("hub").snapshot()
        check = estate.apply(check=True, misp_prune=True)
        assert check.rc == 0 and before == estate.state("hub").snapshot()
        assert "Server entries, sync users and keys the topology no longer has" in check.hosts["hub"].changed_tasks

        pruned = estate.apply(misp_prune=True)
        assert pruned.rc == 0, {h: s.failures for h, s in pruned.hosts.items()}
        assert int(entry["id"]) not in hub.servers and int(made["Server"]["id"]) in hub.servers
        assert any("by hand" in w and "left alone" in w for w in pruned.hosts["hub"].warnings)
        assert int(key["id"]) not in ingest.keys and ingest.users[int(user["id"])]["disabled"] is True
        again = estate.apply(misp_prune=True)
        assert again.rc == 0 and again.changed == 0, {h: s.changed_tasks for h, s in again.hosts.items()}
        verify(estate)


SYNC_USER_TASK = "A sync user for the initiator, in its organisation and with its role"


def test_unlabelled_unpinned_keys_of_play_users_go_and_labelled_ones_stay() -> None:
    """A key like the one /admin/users/add makes (no comment, no pinning) that appears later on a
    user the play manages is reported by --check and deleted by apply; a key with a comment stays."""
    estate, _, _ = shared_estate()
    partner = estate.state("partner")
    user = next(u for u in partner.users.values() if u["email"] == "sync-hub@127.0.0.1")
    admin = partner.admin_key
    _, bare = dispatch(partner, "POST", f"/auth_keys/add/{user['id']}", admin, "127.0.0.1", {})
    _, labelled = dispatch(partner, "POST", f"/auth_keys/add/{user['id']}", admin, "127.0.0.1",
                           {"comment": "made by hand for a test tool"})
    snapshot = partner.snapshot()
    check = estate.apply(check=True)
    assert check.rc == 0 and check.hosts["partner"].changed_tasks == [SYNC_USER_TASK]
    assert partner.snapshot() == snapshot
    applied = estate.apply()
    assert applied.rc == 0 and applied.hosts["partner"].changed_tasks == [SYNC_USER_TASK]
    assert applied.changed == applied.hosts["partner"].changed
    kept = {k["id"] for k in partner.keys.values() if k["user_id"] == user["id"]}
    assert bare["AuthKey"]["id"] not in kept and labelled["AuthKey"]["id"] in kept
    dispatch(partner, "POST", f"/auth_keys/delete/{labelled['AuthKey']['id']}", admin, "127.0.0.1", {})
    verify(estate)
