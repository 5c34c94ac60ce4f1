"""Shared fixtures: paths to the project and its examples."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("*/topology.yaml"))


@pytest.fixture(params=EXAMPLES, ids=[p.parent.name for p in EXAMPLES])
def example(request: pytest.FixtureRequest) -> Path:
    path: Path = request.param
    return path
