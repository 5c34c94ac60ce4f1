"""docs/language.md documents every key of the language: generated from the models, complete, current."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from planner.codes import CODES
from planner.jsonschema import schema_text
from planner.langdoc import KEYS, SECTIONS, language_markdown, model_keys
from planner.rules import all_rules

ROOT = Path(__file__).resolve().parent.parent


def test_every_key_of_every_model_has_a_meaning_and_nothing_else_does() -> None:
    import json

    keys = {(model, key) for model, names in model_keys(json.loads(schema_text())).items() for key in names}
    assert keys - set(KEYS) == set(), "keys without a meaning in planner/langdoc.py"
    assert set(KEYS) - keys == set(), "meanings of keys the language no longer has"
    assert {model for model, _ in keys} == set(SECTIONS)


def test_the_committed_page_is_the_generated_one() -> None:
    committed = (ROOT / "docs" / "language.md").read_text(encoding="utf-8")
    assert committed == language_markdown(), "run: python -m planner.langdoc > docs/language.md"


def test_every_example_is_the_key_it_documents() -> None:
    for (model, key), (_, example, _) in KEYS.items():
        parsed = yaml.safe_load(example.replace("...", "x: 1"))
        assert isinstance(parsed, dict) and list(parsed) == [key], (model, key, example)


def test_every_cited_code_exists() -> None:
    known = {r.code for r in all_rules()} | set(CODES)
    cited = set(re.findall(r"MP\d{3}", language_markdown()))
    assert cited - known == set()


def test_the_section_examples_are_valid_yaml() -> None:
    blocks = re.findall(r"```yaml\n(.*?)```", language_markdown(), re.S)
    assert len(blocks) >= 6
    for block in blocks:
        assert isinstance(yaml.safe_load(block), dict)


def _anchors() -> set[str]:
    return set(re.findall(r'<a id="([a-z0-9-]+)"></a>', (ROOT / "docs" / "misp-behaviour.md").read_text("utf-8")))


def test_every_misp_behaviour_citation_resolves() -> None:
    """Citations `docs/misp-behaviour.md#a, #b` in shipped text name anchors that exist."""
    anchors = _anchors()
    cited: dict[str, set[str]] = {}
    roots = [ROOT / "README.md", ROOT / "docs", ROOT / "planner", ROOT / "playbooks", ROOT / "examples", ROOT / "tests"]
    files = [r for r in roots if r.is_file()] + [f for r in roots if r.is_dir() for f in r.rglob("*") if f.is_file()]
    for path in files:
        if path.suffix not in (".md", ".py", ".yaml", ".yml", ".j2", ".json", ".html") or "_collection" in path.parts \
                or path == Path(__file__).resolve():  # its docstring shows the form with made-up anchors
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        for match in re.finditer(r"misp-behaviour\.md#([a-z0-9-]+)((?:(?:,| and| to)\s+#[a-z0-9-]+)*)", text):
            names = {match.group(1), *re.findall(r"#([a-z0-9-]+)", match.group(2))}
            cited.setdefault(str(path.relative_to(ROOT)), set()).update(names)
    assert cited, "no citation found: the scan is broken"
    missing = {f: sorted(n - anchors) for f, n in cited.items() if n - anchors}
    assert missing == {}


def test_misp_behaviour_names_public_sources_only() -> None:
    text = (ROOT / "docs" / "misp-behaviour.md").read_text(encoding="utf-8")
    assert "REFERENCE" not in text and "shared/" not in text
    assert len(_anchors()) >= 30


def test_no_file_cites_what_a_clone_does_not_have() -> None:
    """Comments and docs cite MISP's public sources or docs/misp-behaviour.md, never the team's
    private reference notes, which a clone or the wheel does not carry."""
    marker = "REFERENCE" + " §"  # written apart so that this file does not match itself
    found = [str(path.relative_to(ROOT)) for root in ("README.md", "docs", "planner", "playbooks", "tests", "scripts")
             for path in ([ROOT / root] if (ROOT / root).is_file() else (ROOT / root).rglob("*"))
             if path.is_file() and path.suffix in (".md", ".py", ".yaml", ".yml", ".j2", ".sh", ".txt")
             and marker in path.read_text(encoding="utf-8", errors="replace")]
    assert found == []
