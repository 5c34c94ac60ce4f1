"""Benchmark: `misp-planner import` of an estate of 200 instances served by MISP test doubles
(tests/misp_test_server, a test double of MISP's REST contract, not MISP).

Run: ``.venv/bin/python benchmarks/bench_import.py [n_instances] [--concurrency C]``. Starts one
double per instance on 127.0.0.1 and fills each as an estate of that size looks: the host
organisation, two local organisations, a server entry pushing to the next instance with a tag
filter and one pulling from the instance after, the sync user of each initiating peer with its
pinned key, a sharing group listing the next instance, a feed and some attributes. Then runs the
`import` command as a user would (a subprocess, keys in the environment) and prints its wall time,
how many requests each instance answered per endpoint (the target is one), and whether the
topology written validates. Asserts nothing: timings belong in benchmarks, never in tests.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from tempfile import TemporaryDirectory

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from misp_test_server.server import RunningDouble, dispatch  # noqa: E402

from planner.ansible.project import env_name  # noqa: E402


def call(double: RunningDouble, method: str, path: str, body: object = None) -> dict:  # type: ignore[type-arg]
    status, answer = dispatch(double.state, method, path, double.state.admin_key, "127.0.0.1", body)
    assert status == 200, (path, answer)
    return answer  # type: ignore[no-any-return]


def populate(doubles: list[RunningDouble]) -> None:
    n = len(doubles)
    hosts = []
    for i, double in enumerate(doubles):
        org = call(double, "POST", "/admin/organisations/edit/1", {"name": f"Org {i}"})["Organisation"]
        hosts.append(org)
        for extra in ("a", "b"):
            call(double, "POST", "/admin/organisations/add", {"name": f"Member {i}{extra}"})
        call(double, "POST", "/tags/add", {"name": "tlp:red"})
        call(double, "POST", "/feeds/add", {"name": f"osint-{i}", "url": f"https://feeds.example/{i}",
                                            "source_format": "misp", "enabled": True, "distribution": 0})
        call(double, "POST", "/events/add", {"info": "seed", "Attribute": [
            {"type": "ip-dst", "category": "Network activity", "value": f"198.51.100.{k}"} for k in range(20)]})
    for i, double in enumerate(doubles):
        for offset, direction in ((1, "push"), (2, "pull")):
            peer = doubles[(i + offset) % n]
            remote = hosts[(i + offset) % n]
            # On the peer: the initiator's org, its sync user and a pinned key.
            mine = hosts[i]
            found = [o for o in peer.state.orgs.values() if o["uuid"] == mine["uuid"]]
            org_id = found[0]["id"] if found else call(peer, "POST", "/admin/organisations/add", {
                "name": mine["name"], "uuid": mine["uuid"], "local": False})["Organisation"]["id"]
            user = call(peer, "POST", "/admin/users/add", {"email": f"sync-{i}-{direction}@peer.example",
                                                          "org_id": org_id, "role_id": 5})["User"]
            key = call(peer, "POST", f"/auth_keys/add/{user['id']}", {
                "comment": f"sync {i} -> {(i + offset) % n}", "allowed_ips": ["127.0.0.1/32"]})["AuthKey"]
            local_remote = call(double, "POST", "/admin/organisations/add", {
                "name": remote["name"], "uuid": remote["uuid"], "local": False})["Organisation"]
            call(double, "POST", "/servers/add", {
                "url": peer.url, "name": f"peer {(i + offset) % n}", "remote_org_id": local_remote["id"],
                "authkey": key["authkey_raw"], direction: True,
                "push_rules": '{"tags":{"OR":[],"NOT":["1"]},"orgs":{"OR":[],"NOT":[]}}'})
        group = call(double, "POST", "/sharing_groups/add", {"name": f"group {i}", "releasability": "bench"})
        gid = group["SharingGroup"]["id"]
        call(double, "POST", f"/sharing_groups/addOrg/{gid}/1")
        call(double, "POST", f"/sharing_groups/addServer/{gid}/1")
    for double in doubles:
        double.state.requests.clear()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("instances", type=int, nargs="?", default=200)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    doubles = [RunningDouble(f"i{n}") for n in range(args.instances)]
    try:
        started = time.perf_counter()
        populate(doubles)
        print(f"{args.instances} doubles filled in {time.perf_counter() - started:.1f} s")
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        env.update({env_name("MISP_ADMIN_KEY", f"i{n}"): d.state.admin_key for n, d in enumerate(doubles)})
        with TemporaryDirectory() as tmp:
            out = Path(tmp) / "imported.yaml"
            command = [sys.executable, "-m", "planner", "import", *(f"i{n}={d.url}" for n, d in enumerate(doubles)),
                       "-o", str(out), "--name", "bench", "--concurrency", str(args.concurrency)]
            load = os.getloadavg()[0]
            started = time.perf_counter()
            result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
            elapsed = time.perf_counter() - started
            print(f"import: exit {result.returncode}, {elapsed:.2f} s wall (load average {load:.1f}), "
                  f"{out.stat().st_size if out.exists() else 0:,} bytes written")
            per_endpoint = Counter()
            for double in doubles:
                per_endpoint.update(Counter(Counter(r.path for r in double.state.requests).values()))
            print(f"requests per endpoint and instance: {dict(sorted(per_endpoint.items()))} (count: how many "
                  "endpoint x instance pairs)")
            checked = subprocess.run([sys.executable, "-m", "planner", "validate", str(out)], env=env,
                                     capture_output=True, text=True, check=False)
            print(f"validate: exit {checked.returncode}: {checked.stdout.strip().splitlines()[-1]}")
    finally:
        for double in doubles:
            double.stop()


if __name__ == "__main__":
    main()
