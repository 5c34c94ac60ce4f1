"""The JSON Schema of the topology language, generated from the pydantic models.

A committed copy lives in schema/topology-v1.schema.json for editors (yaml-language-server);
a test fails when that copy is stale.
"""

from __future__ import annotations

import json

from planner.model import Topology

SCHEMA_ID = "https://misp-planner.example/schema/topology-v1.schema.json"


def _closed_maps(node: object) -> None:
    """Maps keyed by ids come out as patternProperties; close them so editors flag a bad id too."""
    if isinstance(node, dict):
        if "patternProperties" in node:
            node.setdefault("additionalProperties", False)
        for value in node.values():
            _closed_maps(value)
    elif isinstance(node, list):
        for value in node:
            _closed_maps(value)


def topology_schema() -> dict[str, object]:
    schema = Topology.model_json_schema(by_alias=True, mode="validation")
    _closed_maps(schema)
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": SCHEMA_ID,
            "title": "MISP topology language, version 1", **schema}


def schema_text() -> str:
    return json.dumps(topology_schema(), indent=2, sort_keys=True) + "\n"
