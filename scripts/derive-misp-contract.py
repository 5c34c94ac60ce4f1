#!/usr/bin/env python3
"""Derive tests/fixtures/misp_contract.json from MISP's OpenAPI document.

MISP publishes its REST API as OpenAPI 3 in its repository (app/webroot/doc/openapi.yaml, served at
https://<misp>/api/openapi). The contract tests (tests/test_misp_contract.py) need only a few facts
from it, for the endpoints the collection's modules call: the method of each path, the JSON schema
of the request body (the fields MISP accepts) and the shape of a successful answer. This script
extracts those facts, with `$ref`s inlined and OpenAPI's `nullable` turned into JSON Schema, so the
tests run from a plain clone; where the document is available, a test re-derives the fixture and
compares.

    python scripts/derive-misp-contract.py PATH/TO/openapi.yaml > tests/fixtures/misp_contract.json
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

import yaml

# The families of endpoints the modules in playbooks/plugins call (module_utils/misp_api.py and the modules),
# and those `import` and `drift` read (planner/live/snapshot.py).
FAMILIES = ("/admin/organisations", "/admin/users", "/auth_keys", "/feeds", "/organisations", "/servers",
            "/sharing_groups", "/tags", "/attributes/attributeStatistics")
# Endpoints the modules call that the document lacks (checked absent when deriving): where MISP defines them.
NOT_IN_OPENAPI = {
    "/servers/index": {"method": "GET", "source": "app/Controller/ServersController.php, ServersController::index"},
    "/servers/testConnection/{serverId}": {
        "method": "GET", "source": "app/Controller/ServersController.php, ServersController::testConnection"},
    "/roles": {"method": "GET", "source": "app/Controller/RolesController.php, RolesController::index"},
    "/admin/roles/add": {"method": "POST", "source": "app/Controller/RolesController.php, RolesController::admin_add"},
    "/admin/roles/edit/{roleId}": {
        "method": "POST", "source": "app/Controller/RolesController.php, RolesController::admin_edit"},
}
# Body fields MISP reads that the document does not list: where it reads them.
FIELDS_BEYOND_THE_DOCUMENT = {
    "/servers/serverSettingsEdit/{settingName}": {
        "force": "ServersController::serverSettingsEdit (app/Controller/ServersController.php); "
                 "PyMISP's set_server_setting sends it"},
    "/admin/users/add": {
        "notify": "UsersController::admin_add (app/Controller/UsersController.php): mail the new user's "
                  "credentials; MISP 2.5.1 answers 200 to a body with notify: false"},
    "/servers/add": {
        "submitted_cert": "ServersController::add (app/Controller/ServersController.php) and Server::saveCertificate: "
                          "a base64 PEM CA certificate stored as app/files/certs/<id>.pem, the entry's cert_file",
        **dict.fromkeys(("push_analyst_data", "pull_analyst_data"),
                        "ServersController::add and the `servers` table (INSTALL/MYSQL.sql, 2.4.193 and later): "
                        "sync analyst data; MISP 2.5.1 answers both in every Server")},
    "/servers/edit/{serverId}": {
        "submitted_cert": "ServersController::edit (app/Controller/ServersController.php) and "
                          "Server::saveCertificate, as for add",
        **dict.fromkeys(("push_analyst_data", "pull_analyst_data"), "ServersController::edit, as for add")},
    "/auth_keys/add/{userId}": {
        "expiration": "AuthKeysController::add and the AuthKey model (app/Model/AuthKey.php): a date or a unix "
                      "timestamp, 0 for none"},
    "/tags/add": {
        "local_only": "TagsController::add and the `tags` table's local_only column (app/Model/Tag.php); MISP "
                      "2.5.1 answers it in every Tag"},
    "/tags/edit/{tagId}": {
        "local_only": "TagsController::edit, as for add"},
    "/feeds/add": {
        "settings": "FeedsController::add (app/Controller/FeedsController.php): an object, json_encode'd into the "
                    "feeds.settings column; Feed::__prepareEvent reads its disable_correlation"},
    "/feeds/edit/{feedId}": {
        "settings": "FeedsController::edit, as for add (a JSON text given is decoded first)"},
}
METHODS = ("get", "post", "put", "delete")


def _resolve(node: Any, document: dict[str, Any], seen: tuple[str, ...] = ()) -> Any:
    """Inline `$ref`s (a reference inside itself stays an open object) and turn `nullable` into JSON Schema."""
    if isinstance(node, dict):
        if "$ref" in node:
            ref = node["$ref"]
            if ref in seen:
                return {}
            target: Any = document
            for part in ref.lstrip("#/").split("/"):
                target = target[part]
            return _resolve(target, document, (*seen, ref))
        converted = {k: _resolve(v, document, seen) for k, v in node.items()
                     if k not in ("nullable", "example", "examples", "description", "summary")}
        if node.get("nullable") is True:
            return {"anyOf": [converted, {"type": "null"}]}
        return converted
    if isinstance(node, list):
        return [_resolve(v, document, seen) for v in node]
    return node


def _json_schema(container: dict[str, Any] | None) -> dict[str, Any] | None:
    if container is None:
        return None
    content = container.get("content", {}).get("application/json")
    return None if content is None else content.get("schema")


def _shape(schema: Any) -> Any:
    """The shape of an answer: its type and, for objects, each property's shape (two levels deep)."""
    if not isinstance(schema, dict):
        return "any"
    for combinator in ("anyOf", "oneOf", "allOf"):
        if combinator in schema:
            return {combinator: [_shape(s) for s in schema[combinator]]}
    kind = schema.get("type", "object" if "properties" in schema else "any")
    if kind == "object" and "properties" in schema:
        return {"type": "object", "properties": {k: v.get("type", "object" if "properties" in v else "any")
                                                 if isinstance(v, dict) else "any"
                                                 for k, v in sorted(schema["properties"].items())}}
    if kind == "array":
        return {"type": "array", "items": _shape(schema.get("items", {}))}
    return {"type": kind}


def derive(text: str) -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(text)
    endpoints: dict[str, Any] = {}
    for template, item in sorted(document["paths"].items()):
        if not template.startswith(FAMILIES):
            continue
        operations = {}
        for method in METHODS:
            op = item.get(method)
            if op is None:
                continue
            op = _resolve(op, document)
            body = _json_schema(op.get("requestBody"))
            ok = _json_schema(op.get("responses", {}).get("200"))
            operations[method.upper()] = {
                "operation": op.get("operationId", ""),
                "accepted_fields": sorted((body or {}).get("properties", {})),
                "request_schema": body,
                "response_shape": _shape(ok) if ok is not None else None,
            }
        endpoints[template] = operations
    for template in NOT_IN_OPENAPI:
        if template in document["paths"]:
            raise SystemExit(f"{template} is in the document now: drop it from NOT_IN_OPENAPI")
    return {
        "source": {
            "document": "MISP OpenAPI document, app/webroot/doc/openapi.yaml in github.com/MISP/MISP",
            "version": document.get("info", {}).get("version", ""),
            "sha256": hashlib.sha256(text.encode("utf-8")).hexdigest(),
            "derived_by": "scripts/derive-misp-contract.py",
        },
        "endpoints": endpoints,
        "not_in_openapi": NOT_IN_OPENAPI,
        "fields_beyond_the_document": FIELDS_BEYOND_THE_DOCUMENT,
    }


def main() -> None:
    path = Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/misp/openapi.yaml")
    sys.stdout.write(json.dumps(derive(path.read_text(encoding="utf-8")), indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
