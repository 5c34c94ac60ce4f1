"""The committed JSON Schema is current, editors find it, and it agrees with the planner.

The schema in schema/topology-v1.schema.json is what yaml-language-server (VS Code, Neovim...)
reads through the `# yaml-language-server: $schema=...` line at the top of a topology file.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from planner.cli import app
from planner.jsonschema import schema_text
from planner.load import load_file

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = ROOT / "schema" / "topology-v1.schema.json"
EXAMPLES = sorted((ROOT / "examples").glob("*/topology.yaml"))
REGENERATE = "misp-planner schema -o schema/topology-v1.schema.json"
MODELINE = re.compile(r"^# yaml-language-server: \$schema=(?P<target>\S+)\s*$")

# Corpus files whose mistake is one of shape or type, which the JSON Schema can see too. (Broken
# references, duplicates and cross-section rules need the planner; so do ranges the schema cannot
# express, such as "at most a century".)
SCHEMA_SEES = [
    "unknown-key-typo", "unknown-key-top-level", "unknown-key-no-suggestion", "unknown-key-filter",
    "missing-required-key", "missing-required-section", "missing-version", "wrong-version", "version-as-string",
    "type-literal", "type-platform", "type-galaxy-clusters", "type-consumer-needs", "type-count",
    "type-count-negative", "type-count-infinite", "type-rate", "type-rate-period", "type-rate-bare-number",
    "type-duration", "type-size", "type-size-words", "type-distribution-word", "type-distribution-int",
    "type-distribution-bool", "type-id-pattern", "type-id-path-traversal", "type-name-slug",
    "type-bool-as-string", "type-bool-quoted", "type-list-vs-mapping", "type-mapping-vs-list",
    "type-sync-direction", "type-nested-path", "type-filter-tags-not-list", "type-volume-class",
    "type-misp-version", "type-null-section", "type-string-too-long",
]


def test_committed_schema_is_current() -> None:
    committed = SCHEMA.read_text(encoding="utf-8")
    assert committed == schema_text(), f"schema/topology-v1.schema.json is stale; regenerate it: {REGENERATE}"


def test_schema_command_prints_the_committed_schema(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["schema"])
    assert result.exit_code == 0
    assert result.stdout == SCHEMA.read_text(encoding="utf-8"), f"stale schema; regenerate it: {REGENERATE}"
    written = tmp_path / "schema.json"
    assert CliRunner().invoke(app, ["schema", "-o", str(written)]).exit_code == 0
    assert written.read_text(encoding="utf-8") == result.stdout


def test_schema_describes_the_language() -> None:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert set(schema["required"]) == {"version", "name", "organisations", "communities", "instances"}
    assert schema["additionalProperties"] is False
    assert {"feeders", "sync", "sharing_groups", "consumers", "policies", "defaults"} <= set(schema["properties"])


@pytest.mark.parametrize("example", EXAMPLES, ids=[p.parent.name for p in EXAMPLES])
def test_example_names_the_committed_schema(example: Path) -> None:
    first = example.read_text(encoding="utf-8").splitlines()[0]
    match = MODELINE.match(first)
    assert match, f"{example} should start with '# yaml-language-server: $schema=<path to the schema>'"
    target = (example.parent / match["target"]).resolve()
    assert target == SCHEMA.resolve(), f"{match['target']} from {example.parent} is not {SCHEMA}"


def _validator() -> Any:
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


@pytest.mark.parametrize("example", EXAMPLES, ids=[p.parent.name for p in EXAMPLES])
def test_example_validates_against_the_json_schema(example: Path) -> None:
    validator = _validator()
    errors = [f"{'.'.join(map(str, e.path))}: {e.message}" for e in validator.iter_errors(load_file(example).data)]
    assert errors == []


@pytest.mark.parametrize("name", SCHEMA_SEES)
def test_json_schema_rejects_shape_and_type_mistakes(name: str) -> None:
    validator = _validator()
    data = load_file(ROOT / "tests" / "errors" / f"{name}.yaml").data
    assert list(validator.iter_errors(data)), f"the JSON Schema accepts tests/errors/{name}.yaml"
