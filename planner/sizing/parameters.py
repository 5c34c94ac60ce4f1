"""The sizing parameters: their values, units, bounds and sources, and the topology's overrides.

One job: the named constants of the model. Every constant lives in ``planner/data/sizing.yaml``
with its source; ``defaults.sizing_parameters`` in a topology overrides them (invalid overrides are
ignored here and reported by ``planner.rules.sizing``). The data file is parsed once (O(parameters));
the rest is O(parameters) per estate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache
from importlib import resources

from planner.estate import Estate
from planner.misp import Distribution

GIB = 2**30
MIB = 2**20
SECONDS_PER_DAY = 86400

# The parameter naming the share of an instance's data at each distribution level.
LEVEL_SHARE = {
    Distribution.ORGANISATION: "share_organisation",
    Distribution.COMMUNITY: "share_community",
    Distribution.CONNECTED: "share_connected",
    Distribution.ALL: "share_all",
    Distribution.SHARING_GROUP: "share_sharing_group",
}


@dataclass(frozen=True)
class ParameterSpec:
    name: str
    value: float
    unit: str
    minimum: float
    maximum: float
    means: str
    source: str


@cache
def parameter_specs() -> dict[str, ParameterSpec]:
    """The data file, parsed once: name -> spec."""
    from ruamel.yaml import YAML

    text = resources.files("planner").joinpath("data/sizing.yaml").read_text(encoding="utf-8")
    data = YAML(typ="safe").load(text)
    return {name: ParameterSpec(name, float(entry["value"]), str(entry["unit"]), float(entry["min"]),
                                float(entry["max"]), str(entry["means"]), str(entry["source"]))
            for name, entry in data["parameters"].items()}


def topology_parameters(estate: Estate) -> dict[str, float]:
    """``defaults.sizing_parameters`` as written (may hold unknown names; rules report them)."""
    return dict(estate.topology.defaults.sizing_parameters)


def parameter_problems(estate: Estate) -> list[tuple[str, str, str]]:
    """(name, message, hint) for every override that is unknown or out of its bounds."""
    import difflib

    specs = parameter_specs()
    problems = []
    for name, value in sorted(topology_parameters(estate).items()):
        spec = specs.get(name)
        if spec is None:
            close = difflib.get_close_matches(name, list(specs), n=1, cutoff=0.6)
            hint = f"did you mean '{close[0]}'?" if close else "see docs/sizing.md for the parameter names"
            problems.append((name, f"unknown sizing parameter '{name}'", hint))
        elif not spec.minimum <= value <= spec.maximum:
            problems.append((name, f"sizing parameter '{name}' = {value:g} is outside "
                                   f"{spec.minimum:g}..{spec.maximum:g}", f"{spec.means} ({spec.unit})"))
    return problems


def effective_parameters(estate: Estate) -> dict[str, float]:
    """Data-file defaults with the topology's valid overrides applied (invalid ones are ignored
    here and reported as findings by planner.rules.sizing)."""
    specs = parameter_specs()
    values = {name: spec.value for name, spec in specs.items()}
    bad = {name for name, _, _ in parameter_problems(estate)}
    for name, value in topology_parameters(estate).items():
        if name not in bad:
            values[name] = float(value)
    return values


def ceil_to(value: float, step: float) -> float:
    """``value`` rounded up to a multiple of ``step`` (0 for nothing)."""
    return math.ceil(value / step - 1e-9) * step if value > 0 else 0.0


def even(value: int) -> int:
    return value + (value % 2)
