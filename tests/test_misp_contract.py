"""Every request the modules sent during the end-to-end run, checked against MISP's own OpenAPI
document (../shared/misp/openapi.yaml); endpoints that document lacks are checked against
REFERENCE.md §1.4 or against the exchanges recorded on MISP 2.5.1 (tests/fixtures/misp_recorded.json).
The requests come from the run against the MISP test doubles."""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from conftest import shared_file
from jsonschema import Draft202012Validator
from misp_test_server.harness import edited_run, shared_estate
from ruamel.yaml import YAML

# Endpoints absent from openapi.yaml, documented in REFERENCE.md §1.4 (method, path pattern).
NOT_IN_OPENAPI = {("GET", r"/servers/index"), ("GET", r"/servers/testConnection/\d+")}
# Endpoints absent from openapi.yaml that real MISP 2.5.1 answered as the modules use them.
RECORDED_NOT_IN_OPENAPI = {("POST", r"/tags/search"), ("GET", r"/auth_keys/index/\d+")}
RECORDED = Path(__file__).resolve().parent / "fixtures" / "misp_recorded.json"


def _nullable(node: Any) -> Any:
    """OpenAPI 3.0 `nullable: true` as JSON Schema: also accept null."""
    if isinstance(node, dict):
        converted = {k: _nullable(v) for k, v in node.items() if k != "nullable"}
        if node.get("nullable") is True:
            return {"anyOf": [converted, {"type": "null"}]}
        return converted
    if isinstance(node, list):
        return [_nullable(v) for v in node]
    return node


@cache
def openapi() -> dict[str, Any]:
    document: dict[str, Any] = YAML(typ="safe", pure=True).load(shared_file("misp/openapi.yaml").read_text())
    return document


@cache
def converted() -> dict[str, Any]:
    result: dict[str, Any] = _nullable(openapi())
    return result


def operation(method: str, path: str) -> tuple[str, dict[str, Any]] | None:
    """The OpenAPI path template and operation for a concrete request."""
    for template, item in openapi()["paths"].items():
        pattern = "^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)) + "$"
        if re.match(pattern, path):
            # MISP edits take POST or PUT; deletes POST or DELETE (recorded on 2.5.1: POST
            # /auth_keys/delete/<id> answers 200, fixture exchange "delete key").
            also = (["put"] + (["delete"] if "/delete/" in template else [])) if method == "POST" else []
            for verb in [method.lower(), *also]:
                if verb in item:
                    return template, item[verb]
    return None


def body_schema(op: dict[str, Any]) -> dict[str, Any] | None:
    body = op.get("requestBody")
    if body is None:
        return None
    if "$ref" in body:
        name = body["$ref"].split("/")[-1]
        body = openapi()["components"]["requestBodies"][name]
    schema: dict[str, Any] = body["content"]["application/json"]["schema"]
    return schema


def sent_by_modules() -> list[Any]:
    estate, _, _ = shared_estate()
    edited_run()  # so that updates in place (servers/edit) are among the requests
    # The test doubles' own connection tests call getVersion on each other: not the modules.
    return [r for d in estate.doubles.values() for r in d.state.requests if r.path != "/servers/getVersion"]


def test_the_modules_exercised_every_endpoint_kind() -> None:
    paths = {re.sub(r"/(\d+|[0-9a-f]{8}-[0-9a-f-]{27})(?=/|$)", "/{id}", r.path) for r in sent_by_modules()}
    for expected in ("/admin/organisations/add", "/admin/users/add", "/auth_keys/add/{id}", "/servers/add",
                     "/servers/edit/{id}", "/feeds/add", "/sharing_groups/add", "/tags/add"):
        assert expected in paths, sorted(paths)


def test_every_request_body_matches_misps_openapi_document() -> None:
    spec = converted()
    checked = 0
    for request in sent_by_modules():
        if any(request.method == m and re.fullmatch(p, request.path)
               for m, p in NOT_IN_OPENAPI | RECORDED_NOT_IN_OPENAPI):
            continue
        found = operation(request.method, request.path)
        assert found is not None, f"{request.method} {request.path} is not in MISP's OpenAPI document"
        template, op = found
        schema = body_schema(op)
        if request.body is None or schema is None:
            continue
        validator = Draft202012Validator({**spec, **_nullable(schema)})
        errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(request.body)]
        assert not errors, f"{request.method} {request.path} ({template}): {errors}"
        checked += 1
    assert checked > 20


def test_endpoints_missing_from_openapi_are_the_ones_reference_documents() -> None:
    paths = set(openapi()["paths"])
    reference = shared_file("misp/REFERENCE.md").read_text(encoding="utf-8")
    section = reference[reference.index("### 1.4 REST endpoints"):reference.index("### 1.5")]
    for endpoint in ("/servers/index", "/servers/testConnection"):
        assert not any(p.startswith(endpoint) for p in paths), f"{endpoint} is in openapi.yaml now: check it there"
        assert f"`{endpoint}" in section
    used = {"/" + "/".join(r.path.split("/")[1:3]) for r in sent_by_modules()}
    assert "/servers/index" in used and "/servers/testConnection" in used


def test_endpoints_missing_from_openapi_answered_as_the_modules_use_them_on_misp() -> None:
    paths = set(openapi()["paths"])
    recorded = json.loads(RECORDED.read_text(encoding="utf-8"))["exchanges"]
    used = sent_by_modules()
    for method, pattern in sorted(RECORDED_NOT_IN_OPENAPI):
        assert not any(re.fullmatch(pattern, re.sub(r"\{[^}]+\}", "1", p)) for p in paths), \
            f"{pattern} is in openapi.yaml now: check it there"
        answered = [e for e in recorded if e["request"]["method"] == method
                    and re.fullmatch(pattern, e["request"]["path"]) and e["status"] == 200]
        assert answered, f"{method} {pattern} was not recorded answering 200"
        assert any(r.method == method and re.fullmatch(pattern, r.path) for r in used), (method, pattern)


def test_testconnection_answers_use_the_documented_statuses() -> None:
    # REFERENCE §1.4: 1 ok ... 8 sighting-only user; the module maps each to a message.
    import importlib.util
    from pathlib import Path

    module = Path(__file__).resolve().parent.parent / "playbooks/plugins/modules/misp_server_test.py"
    source = module.read_text(encoding="utf-8")
    for status in range(1, 9):
        assert re.search(rf"^\s+{status}: \"", source, re.M), status
    assert importlib.util.find_spec("jsonschema") is not None


@pytest.mark.parametrize("ref", ["AddServerRequest", "AddUserRequest", "AddOrganisationRequest", "AddFeedRequest",
                                 "AddSharingGroupRequest", "AddAuthKeyRequest", "EditServerSettingRequest"])
def test_the_request_bodies_the_modules_use_exist(ref: str) -> None:
    assert ref in openapi()["components"]["requestBodies"]
