"""Every request the modules sent during the end-to-end run, checked against MISP's published API:
method, path and the fields the request body may carry. The facts come from MISP's OpenAPI
document (app/webroot/doc/openapi.yaml in github.com/MISP/MISP), kept in the project as
tests/fixtures/misp_contract.json by scripts/derive-misp-contract.py, so this runs from a plain
clone. Where the document itself is at hand (../shared/misp/openapi.yaml, or MISP_OPENAPI), the
fixture is derived again and must be equal. The requests come from the run against the MISP test
doubles."""

from __future__ import annotations

import importlib.util
import json
import os
import re
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from misp_test_server.harness import edited_run, shared_estate

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = ROOT / "tests" / "fixtures" / "misp_contract.json"
OPENAPI = Path(os.environ.get("MISP_OPENAPI", ROOT.parent / "shared" / "misp" / "openapi.yaml"))
# Endpoints absent from the OpenAPI document that real MISP 2.5.1 answered as the modules use them
# (tests/fixtures/misp_recorded.json, replayed against the test double by tests/test_misp_recorded.py).
RECORDED_NOT_IN_OPENAPI = {("POST", r"/tags/search"), ("GET", r"/auth_keys/index(/\d+)?")}


@cache
def contract() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(FIXTURE.read_text(encoding="utf-8"))
    return data


def _pattern(template: str) -> str:
    return "^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)) + "$"


def operation(method: str, path: str) -> tuple[str, dict[str, Any]] | None:
    """The path template and operation for a concrete request. MISP edits take POST or PUT, deletes POST
    or DELETE (recorded on 2.5.1: POST /auth_keys/delete/<id> answers 200, exchange "delete key")."""
    for template, operations in contract()["endpoints"].items():
        if re.match(_pattern(template), path):
            also = (["PUT"] + (["DELETE"] if "/delete/" in template else [])) if method == "POST" else []
            for verb in [method, *also]:
                if verb in operations:
                    return template, operations[verb]
    return None


def not_in_openapi(method: str, path: str) -> bool:
    return any(entry["method"] == method and re.match(_pattern(template), path)
               for template, entry in contract()["not_in_openapi"].items()) or \
        any(method == m and re.fullmatch(p, path) for m, p in RECORDED_NOT_IN_OPENAPI)


def sent_by_modules() -> list[Any]:
    estate, _, _ = shared_estate()
    edited_run()  # so that updates in place (servers/edit) are among the requests
    # The test doubles' own connection tests call getVersion on each other, and the end-to-end checks
    # create events in sharing groups: neither comes from the modules.
    return [r for d in estate.doubles.values() for r in d.state.requests
            if r.path != "/servers/getVersion" and not r.path.startswith("/events/")]


def test_the_modules_exercised_every_endpoint_kind() -> None:
    paths = {re.sub(r"/(\d+|[0-9a-f]{8}-[0-9a-f-]{27})(?=/|$)", "/{id}", r.path) for r in sent_by_modules()}
    for expected in ("/admin/organisations/add", "/admin/users/add", "/auth_keys/add/{id}", "/servers/add",
                     "/servers/edit/{id}", "/feeds/add", "/sharing_groups/add", "/tags/add"):
        assert expected in paths, sorted(paths)


def test_every_request_body_matches_misps_openapi_document() -> None:
    checked = 0
    for request in sent_by_modules():
        if not_in_openapi(request.method, request.path):
            continue
        found = operation(request.method, request.path)
        assert found is not None, f"{request.method} {request.path} is not in MISP's OpenAPI document"
        template, op = found
        schema = op["request_schema"]
        if request.body is None or schema is None:
            continue
        accepted = {*op["accepted_fields"], *contract()["fields_beyond_the_document"].get(template, {})}
        unknown = set(request.body) - accepted if op["accepted_fields"] else set()
        assert not unknown, f"{request.method} {request.path}: MISP does not accept {sorted(unknown)}"
        errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
                  for e in Draft202012Validator(schema).iter_errors(request.body)]
        assert not errors, f"{request.method} {request.path} ({template}): {errors}"
        checked += 1
    assert checked > 20


def test_the_contract_rejects_a_field_misp_does_not_accept() -> None:
    """The check above can fail: a body with a wrong type or an unknown field is caught."""
    _, op = operation("POST", "/servers/add") or ("", {})
    validator = Draft202012Validator(op["request_schema"])
    assert list(validator.iter_errors({"name": "x", "url": "https://a.example", "push": "yes"}))
    assert "pushrules" not in op["accepted_fields"] and "push_rules" in op["accepted_fields"]


def test_endpoints_missing_from_openapi_are_used_and_documented() -> None:
    used = {(r.method, "/" + "/".join(r.path.split("/")[1:3])) for r in sent_by_modules()}
    behaviour = (ROOT / "docs" / "misp-behaviour.md").read_text(encoding="utf-8")
    for template, entry in contract()["not_in_openapi"].items():
        prefix = "/" + "/".join(template.split("/")[1:3])
        assert (entry["method"], prefix) in used, f"{template}: no module calls it any more"
        assert prefix in behaviour, f"docs/misp-behaviour.md does not document {prefix}"
        assert entry["source"].startswith("app/")


def test_answers_the_modules_read_have_the_documented_shape() -> None:
    """The modules read the created object under its model's name (`Server`, `Feed`...): those keys exist."""
    expected = {"/servers/add": "Server", "/feeds/add": "Feed", "/sharing_groups/add": "SharingGroup",
                "/auth_keys/add/{userId}": "AuthKey"}
    for template, key in expected.items():
        shape = contract()["endpoints"][template]["POST"]["response_shape"]
        assert shape and key in shape.get("properties", {}), (template, shape)


def test_testconnection_answers_use_the_documented_statuses() -> None:
    # ServersController::testConnection answers status 1 (ok) to 8 (sighting-only user): docs/misp-behaviour.md.
    module = ROOT / "playbooks/plugins/modules/misp_server_test.py"
    source = module.read_text(encoding="utf-8")
    for status in range(1, 9):
        assert re.search(rf"^\s+{status}: \"", source, re.M), status
    assert importlib.util.find_spec("jsonschema") is not None


@pytest.mark.parametrize("template", ["/servers/add", "/admin/users/add", "/admin/organisations/add", "/feeds/add",
                                      "/sharing_groups/add", "/auth_keys/add/{userId}",
                                      "/servers/serverSettingsEdit/{settingName}"])
def test_the_request_bodies_the_modules_use_exist(template: str) -> None:
    operations = contract()["endpoints"][template]
    assert any(op["request_schema"] for op in operations.values()), template


if OPENAPI.is_file():  # defined only where MISP's document is at hand: a plain clone has the fixture alone
    def test_the_fixture_is_what_misps_openapi_document_says() -> None:
        spec = importlib.util.spec_from_file_location("derive", ROOT / "scripts" / "derive-misp-contract.py")
        assert spec is not None and spec.loader is not None
        derive = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(derive)
        assert derive.derive(OPENAPI.read_text(encoding="utf-8")) == contract(), (
            "MISP's OpenAPI document changed: run scripts/derive-misp-contract.py and review the diff")
