"""The JSON Schema of the topology language, generated from the pydantic models.

A committed copy lives in schema/topology-v1.schema.json for editors (yaml-language-server);
a test fails when that copy is stale.
"""

from __future__ import annotations

import json

from planner.model import Topology

SCHEMA_ID = "https://misp-planner.example/schema/topology-v1.schema.json"


def topology_schema() -> dict[str, object]:
    schema = Topology.model_json_schema(by_alias=True, mode="validation")
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": SCHEMA_ID,
            "title": "MISP topology language, version 1", **schema}


def schema_text() -> str:
    return json.dumps(topology_schema(), indent=2, sort_keys=True) + "\n"
