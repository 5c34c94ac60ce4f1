"""Diagram styles as data: the packaged `data/styles.yaml`, optionally overridden by a user's file."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from planner.diagnostics import Finding, PlannerError, Severity

SECTIONS = ("clusters", "nodes", "edges", "labels", "flow", "diff")


@dataclass(frozen=True)
class Style:
    legend: str
    graphviz: dict[str, str]
    mermaid: str
    mermaid_legend: str


@dataclass(frozen=True)
class Styles:
    font: str
    sections: dict[str, dict[str, Style]]

    def get(self, section: str, key: str) -> Style:
        return self.sections[section][key]


def _read(text: str) -> Any:
    return YAML(typ="safe", pure=True).load(text)


def _error(file: str, message: str, hint: str) -> PlannerError:
    return PlannerError([Finding("MP030", Severity.ERROR, message, hint, file)], exit_code=2)


def _merge(base: dict[str, Any], override: dict[str, Any], file: str, where: str) -> dict[str, Any]:
    """Deep-merge ``override`` into ``base``; a key the base lacks is a typo, reported by name."""
    merged = dict(base)
    for key, value in override.items():
        if key not in base:
            known = ", ".join(sorted(str(k) for k in base)) or "none"
            raise _error(file, f"unknown style key '{where}{key}'", f"known keys here: {known}")
        if isinstance(base[key], dict):
            if not isinstance(value, dict):
                raise _error(file, f"style key '{where}{key}' must be a mapping", "see planner/data/styles.yaml")
            if key == "graphviz":  # any Graphviz attribute may be added
                merged[key] = {**base[key], **value}
            else:
                merged[key] = _merge(base[key], value, file, f"{where}{key}.")
        else:
            merged[key] = value
    return merged


def load_styles(override: Path | None = None) -> Styles:
    data = _read(resources.files("planner").joinpath("data/styles.yaml").read_text(encoding="utf-8"))
    if override is not None:
        try:
            user = _read(Path(override).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as exc:
            raise PlannerError([Finding("MP030", Severity.ERROR, f"cannot read the styles file: {exc}",
                                        "pass a readable YAML file to --styles", str(override))], 3) from exc
        except YAMLError as exc:
            raise _error(str(override), f"the styles file is not valid YAML: {exc}", "fix the YAML syntax") from exc
        if user is not None:
            if not isinstance(user, dict):
                raise _error(str(override), "the styles file must be a mapping", "see planner/data/styles.yaml")
            data = _merge(data, user, str(override), "")
    sections: dict[str, dict[str, Style]] = {}
    for section in SECTIONS:
        sections[section] = {
            key: Style(legend=str(value.get("legend", key)),
                       graphviz={str(k): str(v) for k, v in (value.get("graphviz") or {}).items()},
                       mermaid=str(value.get("mermaid", "")),
                       mermaid_legend=str(value.get("mermaid_legend", value.get("legend", key))))
            for key, value in data[section].items()
        }
    return Styles(font=str(data["font"]), sections=sections)
