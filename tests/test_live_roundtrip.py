"""`import` and `drift` against the bundled examples provisioned on MISP test doubles (not MISP):
generate + apply, then `import` gives a topology whose flow matrix is the original's and whose
`diff` shows only the documented placeholders (docs/import-drift.md); `drift` on the original and
on the import reports nothing; after an out-of-band change made through the API, `drift` reports
exactly that change."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import EXAMPLES, ROOT
from misp_test_server.examples import ExampleEstate, example_estate

from planner.pipeline import load_estate

# What MISP does not hold, so an import cannot give it back (docs/import-drift.md#placeholders):
# section -> fields of a "changed" element that may differ.
PLACEHOLDER_FIELDS = {
    "organisations": {"uuid_derived", "nationality", "sector", "type"},
    "instances": {"community", "zone", "purpose", "users", "attributes", "growth_per_day", "volume_class",
                  "misp_version", "description", "platform", "log_retention", "largest_event",
                  "correlations_per_attribute"},
    "feeders": {"kind", "rate", "value", "feed.fetch_every", "tags", "correlate", "largest_event"},
    "consumers": {"kind", "product", "format", "every", "needs"},
    "sync": {"pull.every", "push.every", "bootstrap"},
}
WHOLLY_PLACEHOLDERS = {"communities", "policies", "defaults"}  # added, removed or changed: all placeholders


def run_cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "planner", *args], env={**os.environ, "PYTHONPATH": str(ROOT),
                                                                         **env},
                          capture_output=True, text=True, cwd=ROOT, check=False)


def api(url: str, key: str, method: str, path: str, body: Any = None) -> Any:
    """A request to a double over HTTP, as an administrator changing things by hand would."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url + path, data=data, method=method,
                                     headers={"Authorization": key, "Content-Type": "application/json",
                                              "Accept": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def unexplained(structure: list[dict[str, Any]], original: Any) -> list[dict[str, Any]]:
    """Structural changes that are not placeholders."""
    left = []
    for change in structure:
        section = change["section"]
        if section in WHOLLY_PLACEHOLDERS:
            continue
        if change["kind"] == "changed":
            fields = [f for f in change["fields"] if f["field"] not in PLACEHOLDER_FIELDS.get(section, set())
                      and not _same_members(f["before"], f["after"])]
            if section == "instances" and not original.instances[change["key"]].managed:
                # An instance run by someone else is not read: its settings are not known.
                fields = [f for f in fields if not f["field"].startswith("settings.")]
            if section == "instances" and any(c.from_ == change["key"] and c.via == "zmq"
                                              for c in original.consumers.values()):
                # A `via: zmq` consumer stands for ZeroMQ publishing (generate enables it for one).
                fields = [f for f in fields if not f["field"].startswith("settings.Plugin.ZeroMQ_")]
            if section == "feeders" and original.feeders[change["key"]].via == "api":
                # What a tool writes through the API is the tool's choice, not MISP's.
                fields = [f for f in fields if f["field"] not in ("distribution", "sharing_group")]
            if section == "sync":
                # The pinning of a key on a remote that was not read (run by someone else) is not visible.
                remote = change["key"].split("->")[1].strip()
                if not original.instances[remote].managed:
                    fields = [f for f in fields if f["field"] != "allowed_ips"]
            if fields:
                left.append({**change, "fields": fields})
        elif section == "consumers" and change["kind"] in ("added", "removed"):
            # ZeroMQ subscribers are not in MISP: one `via: zmq` consumer stands for them.
            continue
        else:
            left.append(change)
    return left


def _same_members(before: Any, after: Any) -> bool:
    """Lists whose order means nothing to MISP (a sharing group's organisations and servers)."""
    return isinstance(before, list) and isinstance(after, list) and sorted(before) == sorted(after)


@pytest.fixture(scope="module", params=EXAMPLES, ids=[p.parent.name for p in EXAMPLES])
def applied(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ExampleEstate]:
    tmp = tmp_path_factory.mktemp(request.param.parent.name)
    with example_estate(request.param, tmp) as run:
        result = run.apply()
        assert result.rc == 0, {h: s.failures for h, s in result.hosts.items()}
        estate = load_estate(run.topology).estate
        for iid in run.managed:
            # MISP.uuid is set by the misp_app role, in the stack phase the doubles cannot run.
            double = run.doubles[iid]
            api(double.url, double.state.admin_key, "POST", "/servers/serverSettingsEdit/MISP.uuid",
                {"value": estate.instances[iid].uuid})
        yield run


def _import(run: ExampleEstate, target: Path, *more: str) -> subprocess.CompletedProcess[str]:
    pairs = [f"{iid}={run.doubles[iid].url}" for iid in run.managed]
    return run_cli("import", *pairs, "-o", str(target), "--name", load_estate(run.topology).estate.name, *more,
                   env=run.env)


def test_import_gives_back_the_structure_and_the_reach(applied: ExampleEstate, tmp_path: Path) -> None:
    imported = tmp_path / "imported.yaml"
    result = _import(applied, imported, "--ids-from", str(applied.topology))
    assert result.returncode == 0, result.stderr
    assert "to decide:" in result.stderr and "communities" in result.stderr
    checked = run_cli("validate", str(imported), env={})
    assert checked.returncode == 0, checked.stdout
    diff = json.loads(run_cli("diff", str(applied.topology), str(imported), "--format", "json", env={}).stdout)
    assert diff["reach"] == []
    original = load_estate(applied.topology).estate
    left = unexplained(diff["structure"], original)
    assert left == [], json.dumps(left, indent=1)
    matrices = [json.loads(run_cli("flows", str(path), "--matrix", "--format", "json", env={}).stdout)
                for path in (applied.topology, imported)]
    # The import pins the version the live MISP runs (the doubles answer 2.5.1), where the original
    # assumed a release line: the answers hold the same, the versions they assumed differ.
    assumed = [matrix.pop("assumed") for matrix in matrices]
    assert matrices[0]["flows"] and matrices[0] == matrices[1]
    assert assumed[0]["downgraded_internal_pulls"] == assumed[1]["downgraded_internal_pulls"]
    assert {assumed[1]["misp_versions"][iid] for iid in applied.managed} == {"2.5.1"}  # those read
    # Importing twice gives the same bytes.
    again = tmp_path / "again.yaml"
    assert _import(applied, again, "--ids-from", str(applied.topology)).returncode == 0
    assert again.read_bytes() == imported.read_bytes()
    # Without --ids-from the ids come from MISP's names, and the reach is the same.
    named = tmp_path / "named.yaml"
    assert _import(applied, named).returncode == 0
    assert run_cli("validate", str(named), env={}).returncode == 0
    assert json.loads(run_cli("diff", str(applied.topology), str(named), "--format", "json", env={}).stdout)[
        "reach"] == []


def _drift(run: ExampleEstate, topology: Path) -> tuple[int, dict[str, Any]]:
    result = run_cli("drift", str(topology), "--format", "json", "--exit-code", env=run.env)
    return result.returncode, json.loads(result.stdout)


def test_drift_reports_nothing_then_exactly_each_out_of_band_change(applied: ExampleEstate, tmp_path: Path) -> None:
    code, report = _drift(applied, applied.topology)
    assert (code, report["differences"]) == (0, []), report
    assert all(state["read"] for state in report["instances"].values())
    imported = tmp_path / "imported.yaml"
    assert _import(applied, imported, "--ids-from", str(applied.topology)).returncode == 0
    assert _drift(applied, imported)[1]["differences"] == []

    estate = load_estate(applied.topology).estate
    conn = next(c for c in estate.connections if estate.instances[c.initiator].managed and c.push is not None)
    double = applied.doubles[conn.initiator]
    url, key = double.url, double.state.admin_key
    remote_url = estate.instances[conn.remote].url
    entry = next(s for s in double.state.servers.values() if s["url"] == remote_url)

    # A filter edited by hand: one more tag excluded from the push.
    rules = json.loads(entry["push_rules"])
    tag = api(url, key, "POST", "/tags/add", {"name": "tlp:amber+strict"})["Tag"]
    edited = {**rules, "tags": {**rules["tags"], "NOT": [*rules["tags"]["NOT"], tag["id"]]}}
    api(url, key, "POST", f"/servers/edit/{entry['id']}", {"push_rules": json.dumps(edited)})
    code, report = _drift(applied, applied.topology)
    assert code == 2
    [difference] = report["differences"]
    assert (difference["instance"], difference["section"], difference["key"], difference["kind"]) == (
        conn.initiator, "servers", conn.remote, "different")
    assert [f["field"] for f in difference["fields"]] == ["push.tags.exclude"]
    assert "tlp:amber+strict" in difference["fields"][0]["live"]
    api(url, key, "POST", f"/servers/edit/{entry['id']}", {"push_rules": json.dumps(rules)})
    assert _drift(applied, applied.topology) == (0, report | {"differences": [], "drift": False})

    # An entry added by hand.
    added = api(url, key, "POST", "/servers/add", {"url": "https://misp.elsewhere.example", "name": "by hand",
                                                   "remote_org_id": 1, "authkey": "A" * 40, "push": True})
    code, report = _drift(applied, applied.topology)
    [difference] = report["differences"]
    assert (code, difference["instance"], difference["section"], difference["kind"]) == (
        2, conn.initiator, "servers", "extra")
    assert difference["link"] == {"initiator": conn.initiator, "remote": "https://misp.elsewhere.example"}
    api(url, key, "POST", f"/servers/delete/{added['Server']['id']}", {})

    # An organisation renamed by hand.
    host = estate.organisations[estate.instances[conn.initiator].host_org]
    org = api(url, key, "GET", f"/organisations/view/{host.uuid}")["Organisation"]
    api(url, key, "POST", f"/admin/organisations/edit/{org['id']}", {"name": "Renamed by hand"})
    code, report = _drift(applied, applied.topology)
    [difference] = report["differences"]
    assert (code, difference["instance"], difference["section"], difference["key"], difference["kind"]) == (
        2, conn.initiator, "organisations", host.name, "different")
    assert difference["fields"] == [{"field": "name", "planned": host.name, "live": "Renamed by hand"}]
    api(url, key, "POST", f"/admin/organisations/edit/{org['id']}", {"name": host.name})
    assert _drift(applied, applied.topology)[0] == 0


def test_drift_formats(applied: ExampleEstate) -> None:
    human = run_cli("drift", str(applied.topology), env=applied.env)
    assert human.returncode == 0 and human.stdout.startswith("No drift:"), human.stdout + human.stderr
    markdown = run_cli("drift", str(applied.topology), "--format", "md", "--no-connection-test", env=applied.env)
    assert markdown.returncode == 0 and markdown.stdout.startswith("## Drift of"), markdown.stdout
