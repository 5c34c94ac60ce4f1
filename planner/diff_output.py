"""The outputs of `misp-planner diff`: text for people, Markdown for a pull-request comment.

One job: turn an :class:`~planner.diff.EstateDiff` into what a reviewer reads. The Markdown
comment leads with what the reviewer must decide (wider reach, new errors, policy verdicts), folds
every layer and stays under GitHub's comment size limit. Linear in the size of the diff.
"""

from __future__ import annotations

from typing import Any

from planner.diff import EstateDiff


def _value(v: Any) -> str:
    if v is None:
        return "—"
    if isinstance(v, list):
        return "[" + ", ".join(str(x) for x in v) + "]"
    return str(v)


def _structure_lines(d: EstateDiff) -> list[str]:
    lines = []
    marks = {"added": "+", "removed": "-", "changed": "~"}
    for c in d.structure:
        lines.append(f"{marks[c.kind]} {c.section}: {c.key} ({c.kind})")
        lines.extend(f"    {f}: {_value(b)} -> {_value(a)}" for f, b, a in c.fields)
    return lines


def _reach_lines(d: EstateDiff) -> list[str]:
    lines = []
    for r in d.reach:
        parts = []
        if r.gained:
            parts.append("now reaches " + ", ".join(r.gained))
        if r.lost:
            parts.append("no longer reaches " + ", ".join(r.lost))
        parts.extend(f"{i} {b} -> {a}" for i, b, a in r.raised + r.lowered)
        lines.append(f"{r.label}: " + "; ".join(parts))
    return lines


def format_text(d: EstateDiff) -> str:
    out = [d.summary()]
    if d.structure:
        out += ["", "Structure:", *(f"  {line}" for line in _structure_lines(d))]
    if d.reach:
        out += ["", "Where data goes:", *(f"  {line}" for line in _reach_lines(d))]
    if d.new_findings or d.resolved_findings or d.changed_findings:
        out += ["", "Findings:"]
        out += [f"  + {f.severity.value} {f.code}: {f.message}" for f in d.new_findings]
        out += [f"  - {f.severity.value} {f.code}: {f.message}" for f in d.resolved_findings]
        out += [f"  ~ {a.severity.value} {a.code}: {b.message} -> {a.message}" for b, a in d.changed_findings]
    if d.policies:
        out += ["", "Policies:", *(f"  {p}: {b} -> {a}" for p, b, a in d.policies)]
    if d.sizing:
        out += ["", "Sizing:", *(f"  {i} {k}: {_value(b)} -> {_value(a)}" for i, k, b, a in d.sizing)]
    return "\n".join(out) + "\n"


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


# GitHub refuses a comment body above 65,536 characters; the rest of the budget is the notes'.
GITHUB_COMMENT_LIMIT = 65_536
_MARKDOWN_BUDGET = GITHUB_COMMENT_LIMIT - 2_000
MAX_DECISION_ITEMS = 40  # per kind of decision; the folded sections hold the rest


def _decisions(d: EstateDiff) -> list[str]:
    """What the reviewer must decide, first: wider reach, new errors, policy verdicts."""
    out: list[str] = []
    wider = [r for r in d.reach if r.gained or r.raised]
    if wider:
        out += ["**Wider reach**: data now reaches an instance, or is held at a higher level:", ""]
        for r in wider[:MAX_DECISION_ITEMS]:
            parts = [f"now reaches {', '.join(f'`{i}`' for i in r.gained)}"] if r.gained else []
            parts += [f"`{i}` {b} → {a}" for i, b, a in r.raised]
            out.append(f"- {_md_cell(r.label)}: {'; '.join(parts)}")
        if len(wider) > MAX_DECISION_ITEMS:
            out.append(f"- and {len(wider) - MAX_DECISION_ITEMS} more under *Where data goes*")
        out.append("")
    errors = [f for f in d.new_findings if f.severity.value == "error"]
    errors += [a for b, a in d.changed_findings if a.severity.value == "error" and b.severity.value != "error"]
    if errors:
        out += ["**New errors**:", ""]
        out += [f"- {f.code}: {_md_cell(f.message)}" for f in errors[:MAX_DECISION_ITEMS]]
        if len(errors) > MAX_DECISION_ITEMS:
            out.append(f"- and {len(errors) - MAX_DECISION_ITEMS} more under *Findings*")
        out.append("")
    if d.policies:
        out += ["**Policy verdicts**:", "", "| policy | before | after |", "|---|---|---|"]
        out += [f"| {_md_cell(p)} | {b} | {a} |" for p, b, a in d.policies]
        out.append("")
    return out


def _sections(d: EstateDiff) -> list[tuple[str, list[str], list[str]]]:
    """(title, table header, rows) of every layer that changed, in the order they are folded."""
    sections: list[tuple[str, list[str], list[str]]] = []
    if d.structure:
        rows = []
        for c in d.structure:
            details = "<br>".join(f"`{_md_cell(f)}`: {_md_cell(_value(b))} → {_md_cell(_value(a))}"
                                  for f, b, a in c.fields)
            rows.append(f"| {c.kind} | {c.section} | `{_md_cell(c.key)}` | {details} |")
        sections.append((f"Structure ({len(d.structure)})",
                         ["| change | section | element | details |", "|---|---|---|---|"], rows))
    if d.reach:
        rows = []
        for r in d.reach:
            levels = "<br>".join(f"`{i}` {b} → {a}" for i, b, a in r.raised + r.lowered)
            rows.append(f"| {_md_cell(r.label)} | {', '.join(f'`{i}`' for i in r.gained)} | "
                        f"{', '.join(f'`{i}`' for i in r.lost)} | {levels} |")
        flows = "1 flow changes" if len(d.reach) == 1 else f"{len(d.reach)} flows change"
        sections.append((f"Where data goes ({flows})",
                         ["| event | gained | lost | level changes |", "|---|---|---|---|"], rows))
    if d.new_findings or d.resolved_findings or d.changed_findings:
        rows = [f"| new | {f.severity.value} | {f.code} | {_md_cell(f.message)} |" for f in d.new_findings]
        rows += [f"| resolved | {f.severity.value} | {f.code} | {_md_cell(f.message)} |"
                 for f in d.resolved_findings]
        rows += [f"| changed | {a.severity.value} | {a.code} | {_md_cell(b.message)} → {_md_cell(a.message)} |"
                 for b, a in d.changed_findings]
        title = (f"Findings (+{len(d.new_findings)} / -{len(d.resolved_findings)} / "
                 f"~{len(d.changed_findings)})")
        sections.append((title, ["| | severity | code | message |", "|---|---|---|---|"], rows))
    if d.sizing:
        rows = [f"| `{i}` | {k} | {_value(b)} | {_value(a)} |" for i, k, b, a in d.sizing]
        sections.append((f"Sizing ({len(d.sizing)})", ["| instance | value | before | after |", "|---|---|---|---|"],
                         rows))

    return sections


def format_markdown(d: EstateDiff) -> str:
    """A pull-request comment: the summary, what a reviewer must decide (wider reach, new errors,
    policy verdicts), then every layer folded; rows beyond GitHub's comment size are left out, with
    a note saying how many and where to find them."""
    icon = "⚠️" if d.wider_reach else ("✏️" if d.changed else "✅")
    out = ["### misp-planner diff", "", f"{icon} **{d.summary()}**", ""]
    decisions = _decisions(d)
    if decisions:
        out += ["#### To decide", "", *decisions]
    elif d.changed:
        out += ["Nothing to decide: no wider reach, no new error, no policy verdict changed.", ""]

    sections = _sections(d)
    budget = _MARKDOWN_BUDGET - sum(len(line) + 1 for line in out)
    budget -= sum(len(title) + sum(len(h) + 1 for h in header) + 60 for title, header, _ in sections)
    folded = 0
    for title, header, rows in sections:
        kept = []
        for row in rows:
            if budget - len(row) - 1 < 0:
                break
            kept.append(row)
            budget -= len(row) + 1
        left = len(rows) - len(kept)
        folded += left
        note = ["", f"*{left} more rows left out of this comment.*"] if left else []
        out.extend([f"<details><summary>{title}</summary>", "", *header, *kept, *note, "", "</details>", ""])
    if folded:
        out.append(f"{folded} rows are left out to stay under GitHub's comment size limit "
                   f"({GITHUB_COMMENT_LIMIT:,} characters): `misp-planner diff --format json` lists them all.")
    return "\n".join(out).rstrip() + "\n"
