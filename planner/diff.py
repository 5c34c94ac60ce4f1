"""What a change to an estate does: `misp-planner diff BASE HEAD`.

Three layers, as a reviewer reads a pull request:
1. structure: elements added, removed or changed, matched by id (a connection by initiator + remote),
   so reordering the file changes nothing;
2. meaning: for every origin x distribution level, instances that gain or lose a copy and levels
   that rise or fall (:mod:`planner.diff_reach`: the propagation engine on both estates, where the
   change can show); findings that appear, go away or whose numbers moved; policy verdicts that change;
3. sizing: volume class, RAM, disk and vCPU per instance.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from planner.diagnostics import Finding
from planner.diff_reach import ReachChange, reach_changes
from planner.estate import SIZING_INPUTS, Estate, estate_as_data

SECTIONS = ("organisations", "communities", "instances", "feeders", "sharing_groups", "consumers")
SIZING_KEYS = ("volume_class", "vcpu", "ram_gib", "disk_gib", "database")
POLICY_RULE = "MP201"


@dataclass(frozen=True)
class Change:
    kind: str  # added | removed | changed
    section: str
    key: str
    fields: tuple[tuple[str, Any, Any], ...] = ()  # (field path, before, after) for "changed"

    def as_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "section": self.section, "key": self.key,
                "fields": [{"field": f, "before": b, "after": a} for f, b, a in self.fields]}


@dataclass(frozen=True)
class EstateDiff:
    structure: tuple[Change, ...]
    reach: tuple[ReachChange, ...]
    new_findings: tuple[Finding, ...]
    resolved_findings: tuple[Finding, ...]
    policies: tuple[tuple[str, str, str], ...]  # (policy name, before verdict, after verdict)
    sizing: tuple[tuple[str, str, Any, Any], ...]  # (instance, key, before, after)
    # (before, after): the same code at the same place, only its numbers moved
    changed_findings: tuple[tuple[Finding, Finding], ...] = ()

    @property
    def changed(self) -> bool:
        return bool(self.structure or self.reach or self.new_findings or self.resolved_findings
                    or self.changed_findings or self.policies or self.sizing)

    @property
    def wider_reach(self) -> bool:
        """True when data reaches an instance it did not reach before, or at a higher level."""
        return any(r.gained or r.raised for r in self.reach)

    def summary(self) -> str:
        if not self.changed:
            return "No changes: the two estates are equivalent."
        gained = sorted({i for r in self.reach for i in r.gained})
        parts = [f"{len(self.structure)} structural change{'s' if len(self.structure) != 1 else ''}"]
        parts.append(f"{len(self.reach)} flow{'s' if len(self.reach) != 1 else ''} with changed reach")
        if gained:
            parts.append(f"data newly reaches {', '.join(gained)}")
        parts.append(f"{len(self.new_findings)} new / {len(self.resolved_findings)} resolved / "
                     f"{len(self.changed_findings)} changed findings")
        if self.sizing:
            parts.append(f"{len(self.sizing)} sizing change{'s' if len(self.sizing) != 1 else ''}")
        return "; ".join(parts) + "."

    def as_json(self) -> dict[str, Any]:
        from planner.diagnostics import finding_to_json

        return {
            "changed": self.changed,
            "wider_reach": self.wider_reach,
            "summary": self.summary(),
            "structure": [c.as_json() for c in self.structure],
            "reach": [r.as_json() for r in self.reach],
            "findings": {"new": [finding_to_json(f) for f in self.new_findings],
                         "resolved": [finding_to_json(f) for f in self.resolved_findings],
                         "changed": [{"before": finding_to_json(b), "after": finding_to_json(a)}
                                     for b, a in self.changed_findings]},
            "policies": [{"policy": p, "before": b, "after": a} for p, b, a in self.policies],
            "sizing": [{"instance": i, "key": k, "before": b, "after": a} for i, k, b, a in self.sizing],
        }


# --- structure -----------------------------------------------------------------------------------


def _field_changes(before: Any, after: Any, prefix: str = "") -> list[tuple[str, Any, Any]]:
    if isinstance(before, dict) and isinstance(after, dict):
        changes: list[tuple[str, Any, Any]] = []
        for key in sorted(set(before) | set(after), key=str):
            path = f"{prefix}.{key}" if prefix else str(key)
            changes.extend(_field_changes(before.get(key), after.get(key), path))
        return changes
    return [] if before == after else [(prefix, before, after)]


def _keyed_connections(connections: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Key each connection by initiator -> remote; a second entry for the same pair gets '#2'."""
    keyed: dict[str, dict[str, Any]] = {}
    for conn in connections:
        base = f"{conn['initiator']} -> {conn['remote']}"
        key, n = base, 1
        while key in keyed:
            n += 1
            key = f"{base} #{n}"
        keyed[key] = conn
    return keyed


def _keyed_policies(policies: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {p["name"]: p for p in policies}


def _as_compared(estate: Estate) -> dict[str, Any]:
    """The resolved estate with what its resolved form leaves out but a reviewer decides on: each
    instance's sizing inputs and each link's bootstrap."""
    data = estate_as_data(estate)
    for iid, inst in data["instances"].items():
        inst.update({name: getattr(estate.instances[iid], name) for name in SIZING_INPUTS})
    for item, conn in zip(data["sync"], estate.connections, strict=True):
        item["bootstrap"] = conn.bootstrap
    return data


def structural_changes(base: Estate, head: Estate) -> list[Change]:
    before, after = _as_compared(base), _as_compared(head)
    sections: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
        (s, before[s], after[s]) for s in SECTIONS]
    sections.append(("sync", _keyed_connections(before["sync"]), _keyed_connections(after["sync"])))
    sections.append(("policies", _keyed_policies(before["policies"]), _keyed_policies(after["policies"])))
    sections.append(("defaults", {"defaults": before["defaults"]}, {"defaults": after["defaults"]}))
    changes: list[Change] = []
    for section, old, new in sections:
        for key in sorted(set(old) | set(new)):
            if key not in new:
                changes.append(Change("removed", section, key))
            elif key not in old:
                changes.append(Change("added", section, key))
            elif old[key] != new[key]:  # (equal elements, most of them, compared in C)
                fields = _field_changes(old[key], new[key])
                if fields:
                    changes.append(Change("changed", section, key, tuple(fields)))
    return changes


# --- meaning -------------------------------------------------------------------------------------


_INDEX = re.compile(r"\b(sync|policies)\[\d+\]")


def _finding_key(f: Finding) -> tuple[str, str]:
    # Positions and list indices move when a file is edited or reordered; code and message do not.
    return (f.code, _INDEX.sub(r"\1", f.message))


# A finding's numbers (counts, durations, sizes: "12M", "~8 months", "1.4 years", "16 GiB") move when
# volumes change, and a duration's unit with them.
_NUMBER = re.compile(r"~?\d+(?:[.,]\d+)*(?:[kMGT]i?B?\b|[kMG]\b)?(?:\s*(?:days?|weeks?|months?|years?|hours?)\b)?")


def _place(f: Finding) -> tuple[str, tuple[str, ...], str]:
    """Code, place (the YAML path without list indices) and message without its numbers: a finding
    of the same place whose numbers moved is the same finding, changed."""
    path = tuple(str(part) for part in f.path if not isinstance(part, int))
    return (f.code, path, _NUMBER.sub("#", _INDEX.sub(r"\1", f.message)))


def finding_changes(before: Iterable[Finding], after: Iterable[Finding]
                    ) -> tuple[list[Finding], list[Finding], list[tuple[Finding, Finding]]]:
    """(new, resolved, changed): findings of the same code, place and wording whose numbers moved
    are paired as changed (old, new), in order, rather than reported as one new and one resolved."""
    old = {_finding_key(f): f for f in before}
    new = {_finding_key(f): f for f in after}
    appeared = [new[k] for k in sorted(set(new) - set(old))]
    gone = [old[k] for k in sorted(set(old) - set(new))]
    waiting: dict[tuple[str, tuple[str, ...], str], list[Finding]] = {}
    for f in gone:
        waiting.setdefault(_place(f), []).append(f)
    changed: list[tuple[Finding, Finding]] = []
    still_new: list[Finding] = []
    for f in appeared:
        match = waiting.get(_place(f))
        if match:
            changed.append((match.pop(0), f))
        else:
            still_new.append(f)
    paired = {id(b) for b, _ in changed}
    return still_new, [f for f in gone if id(f) not in paired], changed


def policy_verdicts(estate: Estate, findings: Iterable[Finding]) -> dict[str, str]:
    violated = {f.path[1] for f in findings if f.code == POLICY_RULE and len(f.path) > 1}
    return {p.name: ("violated" if n in violated else "holds") for n, p in enumerate(estate.policies)}


# --- sizing --------------------------------------------------------------------------------------


def sizing_changes(base: Estate, head: Estate) -> list[tuple[str, str, Any, Any]]:
    from planner.sizing import size_estate

    old = size_estate(base).to_json()["instances"]
    new = size_estate(head).to_json()["instances"]
    changes: list[tuple[str, str, Any, Any]] = []
    for inst in sorted(set(old) | set(new)):
        for key in SIZING_KEYS:
            before = old.get(inst, {}).get(key)
            after = new.get(inst, {}).get(key)
            if before != after:
                changes.append((inst, key, before, after))
    return changes


def diff_estates(base: Estate, head: Estate) -> EstateDiff:
    from planner.analyse import analyse

    base_findings, head_findings = analyse(base), analyse(head)
    new, resolved, changed = finding_changes(base_findings, head_findings)
    verdicts_before = policy_verdicts(base, base_findings)
    verdicts_after = policy_verdicts(head, head_findings)
    policies = tuple((name, verdicts_before.get(name, "absent"), verdicts_after.get(name, "absent"))
                     for name in sorted(set(verdicts_before) | set(verdicts_after))
                     if verdicts_before.get(name) != verdicts_after.get(name))
    return EstateDiff(
        structure=tuple(structural_changes(base, head)),
        reach=tuple(reach_changes(base, head)),
        new_findings=tuple(new),
        resolved_findings=tuple(resolved),
        policies=policies,
        sizing=tuple(sizing_changes(base, head)),
        changed_findings=tuple(changed),
    )
