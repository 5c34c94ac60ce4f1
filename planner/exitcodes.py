"""The exit codes of every `misp-planner` command, in one place (the README's table is checked against it)."""

from __future__ import annotations

OK = 0
FINDINGS = 1
USAGE = 2
UNREADABLE = 3
UNREACHABLE = 4
RUN_FAILED = 5
NO_ANSIBLE = 6
INSTANCE_UNREADABLE = 7

MEANINGS: dict[int, str] = {
    OK: "ok (warnings may have been printed)",
    FINDINGS: "the topology has errors (findings at error level); `diff --fail-on wider-reach`: data reaches more",
    USAGE: "usage: unknown command or option, missing argument, unknown origin or rule code, "
           "not a generated project; `diff --exit-code`: changes; `drift --exit-code`: drift",
    UNREADABLE: "the input cannot be read: missing file, not UTF-8, not YAML, too large, alias bomb",
    UNREACHABLE: "`apply`: a host could not be reached (SSH, DNS, firewall); the summary names it",
    RUN_FAILED: "`apply`: a task failed; the summary names the host and the task, `artifacts/` holds the run",
    NO_ANSIBLE: "`apply`: `ansible-playbook` is not installed beside misp-planner nor on PATH",
    INSTANCE_UNREADABLE: "`import`, `drift`: an instance could not be read (unreachable, TLS refused, key refused "
                         "or missing, not MISP); the message names it, the others were read",
}


def table() -> str:
    """The Markdown table of the README's "Exit codes" section."""
    rows = "".join(f"| {code} | {meaning} |\n" for code, meaning in MEANINGS.items())
    return "| code | meaning |\n|---|---|\n" + rows
