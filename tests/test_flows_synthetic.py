"""benchmarks/synthetic.py: the generated estate is deterministic, loads, and has the promised shape."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from conftest import ROOT

from planner.analyse import analyse
from planner.diagnostics import has_errors
from planner.flows import Engine
from planner.pipeline import load_estate

sys.path.insert(0, str(ROOT))
from benchmarks.synthetic import generate


def test_same_seed_same_estate() -> None:
    assert json.dumps(generate(60, 3)) == json.dumps(generate(60, 3))
    assert json.dumps(generate(60, 3)) != json.dumps(generate(60, 4))


def test_estate_loads_without_errors_and_has_the_shape(tmp_path: Path) -> None:
    path = tmp_path / "synthetic.yaml"
    path.write_text(json.dumps(generate(60, 0)), encoding="utf-8")
    loaded = load_estate(path)
    estate = loaded.estate
    assert len(estate.instances) == 60
    assert len({i.community for i in estate.instances.values()}) == 3
    assert 500 <= len(estate.connections) <= 600  # about 10 per instance
    modes = {(c.push is not None, c.pull is not None) for c in estate.connections}
    assert modes == {(True, False), (False, True), (True, True)}
    assert any(c.unpublish for c in estate.connections) and any(c.internal for c in estate.connections)
    assert estate.sharing_groups and estate.feeders and estate.consumers
    assert not has_errors([*loaded.findings, *analyse(estate)])
    flows = list(Engine(estate).matrix())
    assert len(flows) >= 60 * 4


def test_level_all_rows_searched_in_blocks_equal_one_search(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A national estate's level-`all` rows are searched in blocks of origins (flows._SEARCH_BITS);
    blocks of 7 origins (an odd size: the last block is short) give the same rows, paths included,
    as all 60 origins at once."""
    import planner.flows

    path = tmp_path / "synthetic.yaml"
    path.write_text(json.dumps(generate(60, 5)), encoding="utf-8")
    estate = load_estate(path).estate
    origins = sorted(estate.instances)
    whole = [(f, dict(f.paths)) for f in Engine(estate).matrix_all(origins)]
    monkeypatch.setattr(planner.flows, "_SEARCH_BITS", 7 * 60)
    blocks = [(f, dict(f.paths)) for f in Engine(estate).matrix_all(origins)]
    assert [f.event.origin for f, _ in blocks] == origins
    assert blocks == whole
    assert sum(len(p) for _, p in whole) > 60 * 50  # estate-wide rows, not trivial ones
