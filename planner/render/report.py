"""The design-review report: one context built from the estate, rendered to Markdown and to a
self-contained HTML page (the diagram's SVG, CSS, script and the explorer's data inline; nothing
fetched). In the order a review reads: the summary by theme (errors first), the diagram (fitted,
zoomable, a page of its own in print), "where does this go", the inventory, the connections with
their firewall rules, sizing per host, the flow matrix, the policies and the findings.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from itertools import groupby, islice
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jinja2

from planner.analyse import analyse
from planner.diagnostics import Finding, Severity, format_path, sorted_findings
from planner.estate import Connection, Estate
from planner.flows import Flow, flow_matrix
from planner.misp import VOLUME_THRESHOLD_ATTRIBUTES, Distribution
from planner.output import atomic_output, write_text
from planner.pipeline import Loaded
from planner.render import load_styles, render_formats
from planner.render.explorer import EXPLORER_MAX_INSTANCES, explorer_data
from planner.render.graph import build_diagram, sizing_of
from planner.render.styles import Styles
from planner.rules import get_rule
from planner.rules.catalogue import rule_anchor
from planner.sizing.output import class_text
from planner.units import format_count, format_seconds, plural

POLICY_RULE = "MP201"  # a policy holds unless this rule names it
# The summary's themes, by rule family (planner/rules/<family>.py); MP0xx/MP1xx are "the file".
THEMES = {"distribution": "exposure", "feeders": "exposure", "policies": "exposure", "sync": "resilience",
          "network": "resilience", "consumers": "resilience", "design": "sizing", "sizing": "sizing",
          "security": "security"}
THEME_ORDER = ("the file", "exposure", "resilience", "sizing", "security")
MAX_NAMES_PER_CELL = 8
# Mermaid refuses diagrams with more edges than its `maxEdges` setting (500 by default), so a report
# of a bigger view links the SVG only.
MERMAID_MAX_EDGES = 500  # flow-matrix cells list at most this many instances, then count the rest
LEVELS = tuple(Distribution)


@dataclass
class Artifacts:
    """What a report is made of; `build` computes these once and shares them."""

    findings: list[Finding]
    sizing: dict[str, dict[str, Any]]
    matrix: list[dict[str, Any]]  # the flow matrix's rows as the report shows them (see _matrix)
    svg: str
    mermaid: str
    dot: str
    notes: list[str] = field(default_factory=list)
    edges: int = 0  # in the diagram
    explorer: dict[str, Any] | None = None  # "where does this go" (planner.render.explorer), None above its size


def collect(loaded: Loaded, styles: Styles | None = None, sizing: dict[str, dict[str, Any]] | None = None,
            findings: list[Finding] | None = None, flows: Iterable[Flow] | None = None) -> Artifacts:
    """Every stage's result the report shows. A caller that has some already passes them: ``sizing``
    per instance, ``findings``, and ``flows``, the flow matrix as it is computed (read once: `build`
    writes each row to flows.json as it passes)."""
    estate = loaded.estate
    styles = styles or load_styles()
    sizing = sizing_of(estate) if sizing is None else sizing
    diagram, notes = build_diagram(estate, sizing=sizing)
    drawn = {fmt: data.decode("utf-8") for fmt, data in render_formats(diagram, styles, ("svg", "mmd", "dot")).items()}
    return Artifacts(
        findings=sorted_findings([*loaded.findings, *analyse(estate)]) if findings is None else findings,
        sizing=sizing,
        matrix=_matrix(flow_matrix(estate) if flows is None else flows),
        svg=drawn["svg"],
        mermaid=drawn["mmd"],
        dot=drawn["dot"],
        notes=notes,
        edges=len(diagram.edges),
        # The explorer lights instance nodes: a collapsed diagram has none.
        explorer=explorer_data(estate) if any(node.id.startswith("i_") for node in diagram.nodes) else None,
    )


def inline_svg(svg: str) -> str:
    """The <svg> element alone: the XML declaration, doctype and comments do not belong inside HTML.
    Its fixed width and height go too: the page's stylesheet fits it to the width, the viewBox keeps
    its proportions and the page's script zooms by changing the viewBox."""
    start = svg.find("<svg")
    element = re.sub(r"<!--.*?-->\n?", "", svg[start:], flags=re.S).strip()
    return re.sub(r'^<svg width="[^"]*" height="[^"]*"\s*', "<svg ", element, count=1)


def _filter(direction: Any) -> str:
    if direction is None:
        return ""
    parts = []
    if direction.every is not None:
        parts.append(f"every {format_seconds(direction.every)}")
    for what in ("tags", "orgs"):
        match = getattr(direction, what)
        items = [f"+{v}" for v in match.include] + [f"-{v}" for v in match.exclude]
        if items:
            parts.append(f"{what} {' '.join(items)}")
    return "; ".join(parts) or "everything"


def _connection(estate: Estate, conn: Connection) -> dict[str, Any]:
    initiator, remote = estate.instances[conn.initiator], estate.instances[conn.remote]
    modes = " + ".join(m for m, d in (("push", conn.push), ("pull", conn.pull)) if d is not None)
    flags = [f for f, on in (("internal", conn.internal), ("unpublish", conn.unpublish),
                             ("sightings", conn.sightings), ("caching", conn.caching)) if on]
    if conn.galaxy_clusters != "none":
        flags.append(f"galaxy clusters {conn.galaxy_clusters}")
    zones = f"{initiator.zone or '?'} → {remote.zone or '?'}" if initiator.zone or remote.zone else ""
    return {"index": conn.index, "initiator": conn.initiator, "remote": conn.remote, "modes": modes,
            "push": _filter(conn.push) if conn.push else "", "pull": _filter(conn.pull) if conn.pull else "",
            "flags": ", ".join(flags), "opens": f"{conn.initiator} → {remote.url}", "zones": zones,
            "tls": ("verify" if conn.tls_verify else "NO verification")
            + (f", CA {conn.tls_ca}" if conn.tls_ca else ""),
            "allowed_ips": ", ".join(conn.allowed_ips) or "any", "firewall": _firewall(estate, conn)}


def _targets(targets: Any) -> str:
    return ", ".join(t.instance if t.instance else f"community {t.community}" for t in targets)


def _policies(estate: Estate, findings: list[Finding]) -> list[dict[str, Any]]:
    rows = []
    for n, policy in enumerate(estate.policies):
        against = [f for f in findings if f.code == POLICY_RULE
                   and (f.path[:2] == ("policies", n) or policy.name in f.message)]
        data = policy.data
        selects = ", ".join(part for part in (
            f"origin {data.origin}" if data.origin else "any origin",
            f"distribution {data.distribution.word}" if data.distribution is not None else "",
            f"group {data.sharing_group}" if data.sharing_group else "",
            f"tags {' '.join(data.tags)}" if data.tags else "") if part)
        asserts = "; ".join(part for part in (
            f"must reach {_targets(policy.must_reach)}" if policy.must_reach else "",
            f"must not reach {_targets(policy.must_not_reach)}" if policy.must_not_reach else "") if part)
        rows.append({"name": policy.name, "selects": selects, "asserts": asserts,
                     "verdict": "violated" if against else "holds",
                     "why": " ".join(f.message for f in against)})
    return rows


def _cell(flows: list[Flow]) -> str:
    parts = []
    for flow in flows:
        held = len(flow.reaches)
        shown = ", ".join(f"{i} ({level.word})" for i, level in islice(flow.reaches.items(), MAX_NAMES_PER_CELL))
        more = f", +{held - MAX_NAMES_PER_CELL} more" if held > MAX_NAMES_PER_CELL else ""
        group = f"{flow.event.sharing_group}: " if flow.event.sharing_group else ""
        parts.append(f"{group}{held}: {shown}{more}")
    return " / ".join(parts)


def _matrix(flows: Iterable[Flow]) -> list[dict[str, Any]]:
    """One row per origin, one cell per level. The matrix comes origin by origin (flow_matrix's
    order), so each origin's flows are summarised together and then dropped."""
    rows = []
    for origin, row in groupby(flows, key=lambda flow: flow.event.origin):
        levels: dict[Distribution, list[Flow]] = {}
        for flow in row:
            levels.setdefault(flow.event.distribution, []).append(flow)
        rows.append({"origin": origin, "cells": [_cell(levels.get(level, [])) for level in LEVELS]})
    return sorted(rows, key=lambda row: row["origin"])


def _sizing_rows(estate: Estate, sizing: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for iid in sorted(sizing):
        s = sizing[iid]
        attrs = s.get("attributes", {})
        crosses = s.get("crosses_50m_in_days")
        now = attrs.get("now", 0)
        rows.append({"id": iid, "volume_class": class_text(s.get("volume_class", ""), s.get("volume_class_at_horizon")),
                     "now": format_count(now), "horizon": format_count(attrs.get("horizon", 0)),
                     "inflow": format_count(attrs.get("inflow_per_day", 0)) + "/day",
                     "crosses": _crosses(crosses, now),
                     "database": s.get("database", ""),
                     "correlation": (s.get("correlation") or {}).get("engine", "")})
    return rows


def _crosses(days: int | None, now: float) -> str:
    """When the instance crosses 50M attributes, in words: sizing says 0 days for one already above."""
    if days is None:
        return ""
    if days == 0:
        return "already above" if now >= VOLUME_THRESHOLD_ATTRIBUTES else "now"
    return f"in {plural(days, 'day')}"


def _hosts(sizing: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per host the sizing gives an instance (MISP web, database, ... as `hosts` lists them;
    one all-in-one host when it lists none), and Redis where it runs."""
    rows = []
    for iid in sorted(sizing):
        s = sizing[iid]
        hosts = s.get("hosts") or {"all-in-one": {key: s.get(key, "") for key in ("vcpu", "ram_gib", "disk_gib")}}
        for role in sorted(hosts, key=lambda r: (r != "misp", r)):
            host = hosts[role]
            rows.append({"id": iid, "host": role, "vcpu": host.get("vcpu", ""), "ram": host.get("ram_gib", ""),
                         "disk": host.get("disk_gib", "")})
        if s.get("redis_gib") is not None:
            rows.append({"id": iid, "host": "redis (on the MISP host)", "vcpu": "", "ram": s["redis_gib"],
                         "disk": ""})
    return rows


def _inventory(estate: Estate) -> list[dict[str, Any]]:
    return [{"id": iid, "url": inst.url, "community": inst.community, "zone": inst.zone or "",
             "purpose": inst.purpose, "org": estate.organisations[inst.host_org].name
             if inst.host_org in estate.organisations else inst.host_org,
             "managed": "yes" if inst.managed else "no (run by others)"}
            for iid, inst in sorted(estate.instances.items())]


def _firewall(estate: Estate, conn: Connection) -> str:
    """The rule the initiator's side needs: its zone to the remote's zone, the remote URL's port."""
    initiator, remote = estate.instances[conn.initiator], estate.instances[conn.remote]
    port = urlsplit(remote.url).port or (80 if remote.url.startswith("http:") else 443)
    return (f"{initiator.zone or conn.initiator} → {remote.zone or conn.remote}: "
            f"TCP {port} from {conn.initiator} to {urlsplit(remote.url).hostname or remote.url}")


def _theme(code: str) -> str:
    """The summary's theme of a finding: the file itself, or the rule family's subject."""
    if int(code[2:]) < 200:  # MP0xx reading the file, MP1xx the language
        return "the file"
    found = get_rule(code)
    family = found.check.__module__.rsplit(".", 1)[-1] if found is not None else ""
    return THEMES.get(family, "resilience")


def _summary(findings: list[Finding], policies: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per theme, in THEME_ORDER: the counts and the errors and warnings, errors first."""
    themes: dict[str, dict[str, Any]] = {}
    for n, f in enumerate(findings):
        theme = themes.setdefault(_theme(f.code), {"error": 0, "warning": 0, "info": 0, "items": []})
        theme[f.severity.value] += 1
        if f.severity is not Severity.INFO:
            theme["items"].append({"severity": f.severity.value, "code": f.code, "message": f.message,
                                   "anchor": f"finding-{n}"})
    if policies:
        exposure = themes.setdefault("exposure", {"error": 0, "warning": 0, "info": 0, "items": []})
        exposure["policies"] = policies
    rows = []
    for name in THEME_ORDER:
        if name in themes:
            theme = themes[name]
            theme["items"].sort(key=lambda item: item["severity"] != "error")
            rows.append({"theme": name, **theme, "policies": theme.get("policies", []),
                         "counts": ", ".join(plural(theme[k], w) for k, w in
                                             (("error", "error"), ("warning", "warning"), ("info", "note")))})
    return rows


def context(loaded: Loaded, artifacts: Artifacts) -> dict[str, Any]:
    estate = loaded.estate
    findings = sorted(artifacts.findings, key=lambda f: list(Severity).index(f.severity))  # errors first
    counts = {sev.value: sum(1 for f in findings if f.severity is sev) for sev in Severity}
    policies = _policies(estate, findings)
    explorer = artifacts.explorer
    return {
        "estate": estate,
        "counts": counts,
        "notes": artifacts.notes,
        "findings": _finding_rows(findings),
        "summary": _summary(findings, policies),
        "inventory": _inventory(estate),
        "hosts": _hosts(artifacts.sizing),
        "explorer": json.dumps(explorer, sort_keys=True, separators=(",", ":")).replace("</", "<\\/")
        if explorer is not None else "",
        "explorer_max": EXPLORER_MAX_INSTANCES,
        "tally": ", ".join(plural(*item) for item in (
            (len(estate.instances), "instance"), (len(estate.communities), "community", "communities"),
            (len(estate.connections), "sync connection"), (len(estate.feeders), "feeder"),
            (len(estate.consumers), "consumer"), (len(estate.policies), "policy", "policies"))),
        "finding_tally": ", ".join(plural(counts[k], w) for k, w in
                                   (("error", "error"), ("warning", "warning"), ("info", "note"))),
        "sizing": _sizing_rows(estate, artifacts.sizing),
        "sized": bool(artifacts.sizing),
        "levels": [level.word for level in LEVELS],
        "matrix": artifacts.matrix,
        "connections": [_connection(estate, c) for c in estate.connections],
        "policies": policies,
        "svg": inline_svg(artifacts.svg),
        "mermaid": artifacts.mermaid if artifacts.edges <= MERMAID_MAX_EDGES else "",
        "instances": len(estate.instances),
        "communities": len(estate.communities),
    }


def _md_cell(value: object) -> str:
    """Table cells: a pipe or newline would break the Markdown table; < and > would become HTML."""
    text = " ".join(str(value).split())
    return (text.replace("\\", "\\\\").replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")
            .replace("`", "\\`"))


class _Environment(jinja2.Environment):
    def getattr(self, obj: Any, attribute: str) -> Any:
        """``row.name`` on the report's dict rows without a failed attribute lookup first (jinja's
        order): a national estate's report reads half a million of them."""
        if type(obj) is dict and attribute in obj:
            return obj[attribute]
        return super().getattr(obj, attribute)


@cache
def _environment() -> jinja2.Environment:
    """Compiled once per process: `build` of many estates should not re-parse templates (issue 8)."""
    env = _Environment(loader=jinja2.PackageLoader("planner", "templates"), undefined=jinja2.StrictUndefined,
                             autoescape=jinja2.select_autoescape(["html.j2"]), keep_trailing_newline=True,
                             trim_blocks=True, lstrip_blocks=True)
    env.filters["md"] = _md_cell
    return env


def report_parts(loaded: Loaded, artifacts: Artifacts) -> dict[str, Iterable[str]]:
    """File name -> the file's text in pieces, made as they are written: a national estate's report
    is tens of MB, made of millions of template pieces that joined at once would weigh several
    times the text."""
    data = context(loaded, artifacts)
    env = _environment()
    return {"report.md": env.get_template("report.md.j2").generate(data),
            "report.html": env.get_template("report.html.j2").generate(data),
            "diagram.svg": (artifacts.svg,)}


def render_report(loaded: Loaded, artifacts: Artifacts) -> dict[str, str]:
    """File name -> text, for the report folder."""
    return {name: "".join(parts) for name, parts in report_parts(loaded, artifacts).items()}


def _finding_rows(findings: list[Finding]) -> list[dict[str, Any]]:
    return [{"severity": f.severity.value, "code": f.code, "message": f.message, "hint": f.hint,
             "where": (f"line {f.position.line}:{f.position.column}" if f.position else "")
             + (f" `{format_path(f.path)}`" if f.path else ""),
             "line": f"{f.position.line}:{f.position.column}" if f.position else "",
             "path": format_path(f.path) if f.path else "", "related": list(f.related),
             "doc": rule_anchor(f.code), "anchor": f"finding-{n}"}
            for n, f in enumerate(findings)]


def write_error_report(findings: list[Finding], name: str, output: Path, *, force: bool = False) -> None:
    """The report of a file that parses but whose estate cannot be resolved (a reference error, a
    type error): its errors alone, errors first, so that a review still has a page to discuss."""
    ordered = sorted(findings, key=lambda f: list(Severity).index(f.severity))
    data = {"name": name, "findings": _finding_rows(ordered),
            "finding_tally": ", ".join(plural(sum(1 for f in findings if f.severity is sev), word)
                                       for sev, word in zip(Severity, ("error", "warning", "note"), strict=True))}
    env = _environment()
    with atomic_output(output, force=force) as staging:
        for template in ("report-errors.html.j2", "report-errors.md.j2"):
            write_text(staging, template.replace("-errors", "").removesuffix(".j2"),
                       env.get_template(template).generate(data))


def write_report(loaded: Loaded, output: Path, *, force: bool = False) -> list[Finding]:
    """Write the report folder (also when the estate has errors: they are what a review discusses)."""
    artifacts = collect(loaded)
    with atomic_output(output, force=force) as staging:
        for name, parts in sorted(report_parts(loaded, artifacts).items()):
            write_text(staging, name, parts)
    return artifacts.findings
