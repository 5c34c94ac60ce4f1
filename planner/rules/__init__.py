"""MISP-aware design rules over a resolved estate (codes MP2xx and up).

A rule is a small object: a stable code, a severity, a title, a paragraph saying why (citing
docs/misp-behaviour.md), and a check that yields findings. Rule families live in modules of this
package and register themselves with ``@rule``; ``misp-planner rules`` lists them and
``misp-planner explain CODE`` prints one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from planner.diagnostics import Finding, Severity
from planner.estate import Estate

Check = Callable[[Estate], Iterable[Finding]]


@dataclass(frozen=True)
class Rule:
    code: str
    severity: Severity
    title: str
    why: str
    check: Check


REGISTRY: dict[str, Rule] = {}


def rule(code: str, severity: Severity, title: str, why: str) -> Callable[[Check], Check]:
    def register(check: Check) -> Check:
        if code in REGISTRY:
            raise ValueError(f"rule code {code} registered twice")
        REGISTRY[code] = Rule(code, severity, title, " ".join(why.split()), check)
        return check

    return register


def all_rules() -> list[Rule]:
    _load_families()
    return [REGISTRY[code] for code in sorted(REGISTRY)]


def get_rule(code: str) -> Rule | None:
    _load_families()
    return REGISTRY.get(code.upper())


def rule_titles() -> dict[str, str]:
    """code -> title, for SARIF's rule descriptions."""
    return {r.code: r.title for r in all_rules()}


def run_rules(estate: Estate) -> Iterator[Finding]:
    for r in all_rules():
        yield from r.check(estate)


def _load_families() -> None:
    """Import every rule module once, so that their @rule decorators run."""
    import importlib
    import pkgutil

    for module in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{module.name}")
