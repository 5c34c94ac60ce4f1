"""The pipeline, one stage per line. Each stage takes the previous stage's value and returns a new one.

    topology.yaml --load--> Document --parse--> Topology --resolve--> Estate --analyse/render--> ...

A stage that finds errors stops the pipeline with every finding it collected (PlannerError); a
later stage never sees a half-valid value.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from planner.diagnostics import Finding, PlannerError, has_errors, sorted_findings
from planner.estate import Estate, resolve
from planner.load import Document, load_file, load_text
from planner.parse import parse_topology


@dataclass(frozen=True)
class Loaded:
    estate: Estate
    findings: list[Finding]  # warnings and notes from loading and resolution


@contextmanager
def no_cycle_collection() -> Iterator[None]:
    """Run a stage that allocates millions of objects without reference cycles (YAML nodes, models,
    tuples of paths, generated host_vars) with Python's cycle collector paused: each collection it
    triggers would walk everything allocated so far, which more than doubled the load of a
    2,000-instance estate. Reference counting still frees that data as soon as it is dropped."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def load_estate(path: str | Path) -> Loaded:
    """File -> Estate, or PlannerError with every error of the first phase that had any."""
    with no_cycle_collection():
        return _resolved(load_file(path))  # load raises with exit code 3 when the file is not readable YAML


def load_estate_text(text: str, name: str) -> Loaded:
    """Like load_estate, for a topology held in memory (e.g. a file at a git revision)."""
    with no_cycle_collection():
        return _resolved(load_text(text, name))


def _resolved(document: Document) -> Loaded:
    topology, findings = parse_topology(document)  # types and shapes of every key
    if topology is None:
        raise PlannerError(sorted_findings(findings))
    estate, findings = resolve(topology, document)  # references, defaults, UUIDs, the sync graph
    if estate is None or has_errors(findings):
        raise PlannerError(sorted_findings(findings))
    return Loaded(estate, sorted_findings(findings))
