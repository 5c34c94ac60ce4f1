"""Every request `import` and `drift` send is a GET of an endpoint in MISP's published API (the
contract fixture derived from MISP's OpenAPI document, tests/fixtures/misp_contract.json) or one
real MISP 2.5.1 answered (tests/fixtures/misp_recorded.json), and the test double answers each in
the documented shape. Against a MISP test double (tests/misp_test_server, not MISP) holding one of
everything the reader reads."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from misp_test_server.server import RunningDouble, dispatch
from test_misp_contract import not_in_openapi, operation

from planner.live.client import MispClient
from planner.live.snapshot import read_instance


def canonical(path: str) -> str:
    """CakePHP routes `/x` and `/x/index` alike and reads `name:value` path parts as named
    parameters: the path as the OpenAPI document writes it."""
    path = "/".join(part for part in path.split("/") if ":" not in part)
    return re.sub(r"/index$", "", path) or "/"


@pytest.fixture
def double() -> Iterator[RunningDouble]:
    running, peer = RunningDouble("read"), RunningDouble("peer")
    state, key = running.state, running.state.admin_key

    def call(path: str, body: Any = None) -> Any:
        status, answer = dispatch(state, "POST", path, key, "127.0.0.1", body)
        assert status == 200, answer
        return answer

    remote = call("/admin/organisations/add", {"name": "Peer", "local": False})["Organisation"]
    tag = call("/tags/add", {"name": "tlp:red"})["Tag"]
    rules = {"tags": {"OR": [], "NOT": [tag["id"]]}, "orgs": {"OR": [], "NOT": []}}
    server = call("/servers/add", {"url": peer.url, "name": "peer", "remote_org_id": remote["id"],
                                   "authkey": peer.state.admin_key, "push": True, "push_rules": json.dumps(rules)})
    group = call("/sharing_groups/add", {"name": "group", "releasability": "test"})["SharingGroup"]
    call(f"/sharing_groups/addOrg/{group['id']}/{remote['id']}")
    call(f"/sharing_groups/addServer/{group['id']}/{server['Server']['id']}")
    call("/events/add", {"info": "seed", "Attribute": [{"type": "ip-dst", "category": "Network activity",
                                                         "value": "198.51.100.7"}]})
    state.requests.clear()
    yield running
    running.stop()
    peer.stop()


def test_every_read_is_a_get_misp_documents_and_answered_in_its_shape(double: RunningDouble) -> None:
    client = MispClient(double.url, double.state.admin_key)
    shot = read_instance(client, "read")
    client.get(f"/servers/testConnection/{shot.servers[0]['Server']['id']}")
    assert shot.attributes == 1 and shot.tags and shot.sharing_groups and shot.feeds
    checked = 0
    for request in list(double.state.requests):  # answering again below records more requests
        assert request.method == "GET", request
        path = canonical(request.path)
        if not_in_openapi("GET", path):
            continue
        found = operation("GET", path)
        assert found is not None, f"GET {request.path} is not in MISP's OpenAPI document"
        _, op = found
        status, answer = dispatch(double.state, "GET", request.path, double.state.admin_key, "127.0.0.1", None)
        assert status == 200 and _fits(answer, op["response_shape"]), (request.path, op["response_shape"], answer)
        checked += 1
    assert checked >= 8


def _fits(value: Any, shape: Any) -> bool:
    """The contract's coarse shapes: a JSON type, or an object's properties / an array's items."""
    if shape in (None, "any"):
        return True
    kind = shape if isinstance(shape, str) else shape.get("type")
    types = {"object": dict, "array": list, "string": str, "boolean": bool, "integer": int, "number": (int, float)}
    if kind in types and not isinstance(value, types[kind]):
        return False
    if isinstance(shape, dict) and isinstance(value, dict):
        return all(_fits(value[k], s) for k, s in shape.get("properties", {}).items() if k in value)
    if isinstance(shape, dict) and isinstance(value, list):
        return all(_fits(item, shape.get("items")) for item in value)
    return True


def test_the_shape_check_can_fail() -> None:
    assert not _fits({"Tag": {}}, {"type": "object", "properties": {"Tag": "array"}})
    assert not _fits([{"Organisation": 1}], {"type": "array", "items": {"type": "object",
                                                                         "properties": {"Organisation": "object"}}})
