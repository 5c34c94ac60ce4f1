"""The output formats of the sizing: the rich table, Markdown, and the JSON text.

One job: show an :class:`~planner.sizing.result.EstateSizing` to people and programs. Linear in
the number of managed instances.
"""

from __future__ import annotations

from typing import Any

from planner.sizing.advice import gib
from planner.sizing.parameters import GIB
from planner.sizing.result import EstateSizing, iter_sized

COLUMNS = ("instance", "class now → horizon", "attributes now → horizon", "per day", "vCPU", "RAM GiB",
           "disk GiB", "database", "buffer pool", "PHP children", "workers d/p/e/c/u", "Redis GiB", "correlation")


def per_host(hosts: dict[str, dict[str, int]], key: str) -> str:
    """A total with its split when the database has its own host: "20 (MISP 2 + database 18)"."""
    if "database" not in hosts:
        return str(hosts["misp"][key])
    misp, database = hosts["misp"][key], hosts["database"][key]
    return f"{misp + database} (MISP {misp} + database {database})"


def attributes_text(attributes: dict[str, Any]) -> str:
    """Now and at the horizon, as every output shows them (size, report, diagram)."""
    from planner.units import format_count

    return f"{format_count(attributes['now'])} → {format_count(attributes['horizon'])}"


def class_text(now: str, at_horizon: str | None) -> str:
    """The volume class now, and the one at the horizon when it differs (size, report, diagram)."""
    return now if not at_horizon or at_horizon == now else f"{now} → {at_horizon}"


def summary_rows(sizing: EstateSizing) -> list[tuple[str, ...]]:
    """One row of display strings per managed instance, in id order (table and Markdown)."""
    from planner.units import format_count

    rows: list[tuple[str, ...]] = []
    for s in iter_sized(sizing):
        w = s.workers
        rows.append((
            s.instance,
            class_text(s.volume_class, s.volume_class_at_horizon),
            attributes_text({"now": s.volume.now, "horizon": s.volume.horizon}),
            format_count(s.volume.per_day),
            per_host(s.hosts, "vcpu"),
            per_host(s.hosts, "ram_gib"),
            per_host(s.hosts, "disk_gib"),
            s.database,
            gib(s.mariadb["innodb_buffer_pool_size"] / GIB),
            str(s.php["fpm_max_children"]),
            f"{w['default']}/{w['prio']}/{w['email']}/{w['cache']}/{w['update']}",
            f"{s.redis_gib:g}",
            f"{s.correlation['engine']}, limit {s.correlation['limit']}" if s.correlation.get("enabled", True)
            else "off",
        ))
    return rows


def _markdown_cell(text: str) -> str:
    return text.replace("|", "\\|")


def sizing_markdown(sizing: EstateSizing, title: str | None = None) -> str:
    """The sizing as a Markdown table plus the reasons and overrides of each instance."""
    lines: list[str] = []
    if title:
        lines += [f"# Sizing: {title}", ""]
    lines += ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(_markdown_cell(c) for c in row) + " |" for row in summary_rows(sizing)]
    for s in iter_sized(sizing):
        lines += ["", f"## {s.instance}", ""]
        lines += [f"- {_markdown_cell(r)}" for r in s.reasons]
        if s.overrides:
            lines += ["", "Overrides from the topology:", ""]
            lines += [f"- {_markdown_cell(o)}" for o in s.overrides]
        lines += ["", "Correlation advice:", ""]
        lines += [f"- {_markdown_cell(a)}" for a in s.correlation["advice"]]
    if not sizing.instances:
        lines += ["", "No managed instances."]
    return "\n".join(lines) + "\n"


def sizing_json_text(sizing: EstateSizing) -> str:
    from planner.jsonout import json_text

    return json_text(sizing.to_json())


def print_sizing_table(sizing: EstateSizing, console: Any) -> None:
    """A rich table per estate and each instance's reasons under it."""
    from rich.table import Table

    table = Table(title="Sizing per managed instance", show_lines=False)
    for column in COLUMNS:
        table.add_column(column, overflow="fold")
    for row in summary_rows(sizing):
        table.add_row(*row)
    console.print(table)
    for s in iter_sized(sizing):
        console.print(f"\n[bold]{s.instance}[/bold]")
        for reason in s.reasons:
            console.print(f"  • {reason}", markup=False)
        for override in s.overrides:
            console.print(f"  override: {override}", markup=False)
        for advice in s.correlation["advice"]:
            console.print(f"  correlation: {advice}", markup=False)
