"""`misp-planner apply`: run a generated project through ansible-runner's Python API.

The event stream drives a live progress bar (one step per task of `site.yml`) and collects, per
host, what changed; the runner's exit status becomes the command's. Artifacts stay under the
project's `artifacts/` folder. ansible-runner records the whole environment of the run in
`artifacts/<id>/command`, which would include the admin keys read from `MISP_ADMIN_KEY_*`; those
values are blanked as soon as the file exists (and left-overs of an interrupted run are blanked on
the next run).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from ruamel.yaml import YAML

from planner import exitcodes
from planner.diagnostics import Finding, PlannerError, Severity

SECRET_ENV = re.compile(r"(KEY|PASSWORD|PASS|SECRET|TOKEN|SALT)", re.IGNORECASE)
RESULT_EVENTS = {"runner_item_on_ok", "runner_on_ok", "runner_on_failed", "runner_on_skipped", "runner_on_unreachable"}


@dataclass
class HostSummary:
    ok: int = 0
    changed: int = 0
    failed: int = 0
    skipped: int = 0
    unreachable: int = 0
    changed_tasks: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # e.g. leftovers of links taken out of the topology


@dataclass
class ApplyResult:
    rc: int
    status: str
    hosts: dict[str, HostSummary]
    artifact_dir: Path

    @property
    def changed(self) -> int:
        return sum(h.changed for h in self.hosts.values())

    @property
    def exit_code(self) -> int:
        """The command's exit code (planner/exitcodes.py): ok, a host unreachable, or the run failed.

        ansible-playbook's own status is a bit set (4: unreachable hosts, 2: failed hosts, 1: error).
        """
        if self.rc == 0:
            return exitcodes.OK
        if self.rc & 4 or any(h.unreachable for h in self.hosts.values()):
            return exitcodes.UNREACHABLE
        return exitcodes.RUN_FAILED


def _says_changed(event: dict[str, Any]) -> bool:
    """A no_log result is censored, `changed` included; the displayed line still says it."""
    return any(line.lstrip().startswith("changed:") for line in str(event.get("stdout", "")).splitlines())


def _note(summary: HostSummary, task: str) -> None:
    if task not in summary.changed_tasks:
        summary.changed_tasks.append(task)


def count_tasks(playbook: Path) -> int:
    """Tasks in the playbook, for the progress bar's total (one step per task start)."""
    plays = YAML(typ="safe", pure=True).load(playbook.read_text(encoding="utf-8")) or []
    return sum(len(play.get("tasks", [])) for play in plays if isinstance(play, dict))


def scrub_command_files(artifacts: Path) -> None:
    """Blank secret-looking environment values in runner's `command` records."""
    for command in artifacts.glob("*/command"):
        try:
            record = json.loads(command.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        env = record.get("env") or {}
        cleaned = {k: ("(hidden by misp-planner)" if SECRET_ENV.search(k) else v) for k, v in env.items()}
        if cleaned != env:
            record["env"] = cleaned
            command.write_text(json.dumps(record), encoding="utf-8")


def parse_extra_vars(items: list[str]) -> dict[str, Any]:
    """`-e KEY=VALUE` pairs; values are read as YAML scalars (false, 3, text)."""
    result: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
            raise PlannerError([Finding("MP031", Severity.ERROR, f"--extra-vars '{item}' is not KEY=VALUE",
                                        "write e.g. -e misp_provision_stack=false", "")], exit_code=exitcodes.USAGE)
        result[key] = YAML(typ="safe", pure=True).load(value) if value else ""
    return result


def _check_project(project: Path) -> None:
    if not (project / "site.yml").is_file() or not (project / "inventory" / "hosts.yml").is_file():
        raise PlannerError([Finding("MP030", Severity.ERROR, f"{project} is not a generated Ansible project",
                                    "run `misp-planner generate TOPOLOGY -o FOLDER` first and apply that folder",
                                    str(project))], exit_code=exitcodes.USAGE)


def ansible_path() -> str:
    """The PATH ansible-runner starts `ansible-playbook` from: the one installed beside us first.

    Refused with a clear message when there is none (the runner alone would exit 127 and leave
    the cause in artifacts/*/stdout).
    """
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    if shutil.which("ansible-playbook", path=path) is None:
        raise PlannerError([Finding(
            "MP033", Severity.ERROR, "ansible-playbook is not installed beside misp-planner nor on PATH",
            "install misp-planner with its dependencies (`pip install misp-planner` installs ansible), "
            "or install ansible in the same environment", "")], exit_code=exitcodes.NO_ANSIBLE)
    return path


def apply_project(project: Path, *, check: bool = False, limit: str | None = None,
                  extravars: dict[str, Any] | None = None, console: Console | None = None,
                  quiet: bool = False) -> ApplyResult:
    import ansible_runner

    project = project.resolve()
    _check_project(project)
    path = ansible_path()
    console = console or Console(stderr=True)
    artifacts = project / "artifacts"
    artifacts.mkdir(exist_ok=True)
    scrub_command_files(artifacts)
    ident = uuid.uuid4().hex
    hosts: dict[str, HostSummary] = defaultdict(HostSummary)
    progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                        TimeElapsedColumn(), console=console, transient=False, disable=quiet)
    bar = progress.add_task("starting", total=count_tasks(project / "site.yml"))

    def on_event(event: dict[str, Any]) -> bool:
        kind = event.get("event", "")
        data = event.get("event_data") or {}
        if kind == "playbook_on_task_start":
            progress.update(bar, advance=1, description=str(data.get("task", ""))[:60])
        elif kind == "playbook_on_stats":
            # The authoritative counts (censored results do not say whether they changed).
            for host in {h for key in ("ok", "changed", "failures", "skipped", "dark") for h in data.get(key) or {}}:
                summary = hosts[str(host)]
                summary.ok = int((data.get("ok") or {}).get(host, 0))
                summary.changed = int((data.get("changed") or {}).get(host, 0))
                summary.failed = int((data.get("failures") or {}).get(host, 0))
                summary.skipped = int((data.get("skipped") or {}).get(host, 0))
                summary.unreachable = int((data.get("dark") or {}).get(host, 0))
        elif kind in RESULT_EVENTS and data.get("host"):
            summary = hosts[str(data["host"])]
            res = data.get("res") or {}
            task = str(data.get("task", ""))
            if kind == "runner_on_failed" and not data.get("ignore_errors"):
                summary.failures.append(f"{task}: {res.get('msg', 'failed')}")
            elif kind in ("runner_on_ok", "runner_item_on_ok") and (res.get("changed") or _says_changed(event)):
                _note(summary, task)
            for warning in res.get("warnings") or []:
                if str(warning) not in summary.warnings:
                    summary.warnings.append(str(warning))
        return True  # keep every event in the artifacts

    def on_status(status: dict[str, Any], runner_config: Any = None) -> None:
        if status.get("status") != "starting":
            scrub_command_files(artifacts)

    # ansible-runner writes its arguments to env/ unless told not to, and reads env/extravars back on
    # every later run: `-e` values of one run would apply to all that follow. Nothing is written
    # there now; a file an earlier version left is removed.
    stale = project / "env" / "extravars"
    if stale.is_file():
        stale.unlink()
        console.print(f"removed {stale}: it made an earlier run's extra variables apply to every run")
    cmdline = "--diff" + (" --check" if check else "")
    env = {"PATH": path, "ANSIBLE_COLLECTIONS_PATH": str(project / "collections"),
           "ANSIBLE_CONFIG": str(project / "ansible.cfg"), "ANSIBLE_FORCE_COLOR": "0", "ANSIBLE_NOCOLOR": "1"}
    try:
        with progress:
            runner = ansible_runner.run(
                private_data_dir=str(project), project_dir=str(project), playbook="site.yml",
                inventory=str(project / "inventory" / "hosts.yml"), artifact_dir=str(artifacts), ident=ident,
                cmdline=cmdline, limit=limit, extravars=extravars or None, envvars=env, quiet=True,
                suppress_env_files=True,
                event_handler=on_event, status_handler=on_status, rotate_artifacts=20,
            )
            # Plays without hosts (e.g. no dedicated database) start no tasks: end the bar full.
            progress.update(bar, completed=progress.tasks[0].total, description=f"done ({runner.status})")
    finally:
        scrub_command_files(artifacts)
    rc = int(runner.rc if runner.rc is not None else 1)
    return ApplyResult(rc=rc, status=str(runner.status), hosts=dict(hosts), artifact_dir=artifacts / ident)


def print_summary(result: ApplyResult, console: Console, check: bool) -> None:
    table = Table(title="would change (check mode)" if check else "changes", show_lines=False)
    for column in ("host", "ok", "changed", "failed", "skipped", "unreachable"):
        table.add_column(column, justify="left" if column == "host" else "right")
    for host, s in sorted(result.hosts.items()):
        table.add_row(host, str(s.ok), str(s.changed), str(s.failed), str(s.skipped), str(s.unreachable))
    console.print(table)
    for host, s in sorted(result.hosts.items()):
        for task in s.changed_tasks:
            console.print(f"  {host}: {'would change' if check else 'changed'}: {task}")
        for failure in s.failures:
            console.print(f"  [red]{host}: failed: {failure}[/red]")
        for warning in s.warnings:
            console.print(f"  [yellow]{host}: warning: {escape(warning)}[/yellow]", highlight=False)
    console.print(f"runner status {result.status}, ansible-playbook exit {result.rc}, misp-planner exit "
                  f"{result.exit_code}; artifacts in {result.artifact_dir}")


__all__ = ["ApplyResult", "HostSummary", "apply_project", "print_summary", "scrub_command_files"]
