"""Shared fixtures: paths to the project, its examples, and the MISP data files in ../shared."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("*/topology.yaml"))
SHARED = ROOT.parent / "shared"


def shared_file(relative: str) -> Path:
    """A MISP data file from ../shared, or skip: those files stay outside the project."""
    path = SHARED / relative
    if not path.is_file():
        pytest.skip(f"{path} is absent: the MISP data files live in ../shared beside the checkout")
    return path


@pytest.fixture(params=EXAMPLES, ids=[p.parent.name for p in EXAMPLES])
def example(request: pytest.FixtureRequest) -> Path:
    path: Path = request.param
    return path
