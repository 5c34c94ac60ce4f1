"""The `misp-planner` command. Each command is a few lines: load -> stage -> output.

Exit codes: planner/exitcodes.py (the README's table is checked against it). A topology path of
`-` reads standard input.
Data goes to stdout; diagnostics about the input go to stderr, except for `validate`, whose
output is the diagnostics.
"""

from __future__ import annotations

import gc
import json
import sys
from collections.abc import Callable, Sequence
from enum import StrEnum
from pathlib import Path
from typing import Annotated, NoReturn, TypeVar

import typer

from planner import __version__, exitcodes
from planner.diagnostics import (
    Finding,
    PlannerError,
    format_human,
    format_json,
    format_sarif,
    has_errors,
    summary_line,
)
from planner.load import STDIN_NAME, stdin_bytes
from planner.pipeline import Loaded, load_estate

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE = exitcodes.OK, exitcodes.FINDINGS, exitcodes.USAGE

app = typer.Typer(
    name="misp-planner",
    help="Plan a MISP estate: validate, explain flows, size, draw and provision it from one YAML file.",
    no_args_is_help=True,
    add_completion=True,  # --install-completion / --show-completion for bash, zsh, fish, PowerShell
    pretty_exceptions_enable=False,
)

T = TypeVar("T")


class FindingFormat(StrEnum):
    human = "human"
    json = "json"
    sarif = "sarif"


class DataFormat(StrEnum):
    yaml = "yaml"
    json = "json"


def _sources(findings: Sequence[Finding]) -> dict[str, list[str]]:
    sources: dict[str, list[str]] = {}
    for f in findings:
        if f.file == STDIN_NAME and f.file not in sources:
            sources[f.file] = stdin_bytes().decode("utf-8-sig", errors="replace").splitlines()
        elif f.file and f.file not in sources:
            try:
                sources[f.file] = Path(f.file).read_text(encoding="utf-8-sig", errors="replace").splitlines()
            except OSError:
                sources[f.file] = []
    return sources


def render_findings(findings: Sequence[Finding], fmt: FindingFormat) -> str:
    if fmt is FindingFormat.json:
        return format_json(findings)
    if fmt is FindingFormat.sarif:
        from planner.rules import rule_titles

        return format_sarif(findings, rule_titles())
    return format_human(findings, _sources(findings))


def fail(error: PlannerError) -> NoReturn:
    sys.stderr.write(render_findings(error.findings, FindingFormat.human))
    raise typer.Exit(error.exit_code)


def load_or_exit(path: Path) -> Loaded:
    """Load an estate for a command that produces data; on errors print them and exit."""
    try:
        loaded = load_estate(path)
    except PlannerError as error:
        fail(error)
    # The estate lives until the command ends: later cycle collections need not walk it again and
    # again (they cost more than the stages themselves on a national estate).
    gc.freeze()
    return loaded


def guarded(action: Callable[[], T]) -> T:
    try:
        return action()
    except PlannerError as error:
        fail(error)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"misp-planner {__version__}")
        raise typer.Exit(EXIT_OK)


@app.callback()
def main_options(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:
    """Plan a MISP estate from one topology file (spec: topology language v1)."""


def _check(files: list[Path], fmt: FindingFormat) -> NoReturn:
    """validate and lint: load and analyse every file, print the findings, exit 1 on errors."""
    from planner.analyse import check_files

    findings, worst = check_files(files)
    if has_errors(findings):
        worst = max(worst, EXIT_FINDINGS)
    output = render_findings(findings, fmt)
    if fmt is FindingFormat.human:
        noun = "file" if len(files) == 1 else "files"
        output += f"{len(files)} {noun} checked: {summary_line(findings)}\n"
    sys.stdout.write(output)
    raise typer.Exit(worst)


FilesArgument = Annotated[list[Path], typer.Argument(help="Topology files to check (-: standard input).")]
FindingFormatOption = Annotated[FindingFormat, typer.Option("--format", "-f", help="human, json or sarif.")]


@app.command()
def validate(files: FilesArgument, fmt: FindingFormatOption = FindingFormat.human) -> None:
    """Check topology files: syntax, types, references and MISP design rules. Exit 1 on errors."""
    _check(files, fmt)


@app.command()
def lint(files: FilesArgument, fmt: FindingFormatOption = FindingFormat.human) -> None:
    """The same checks as validate, under the name CI linters use (e.g. --format sarif)."""
    _check(files, fmt)


class RulesFormat(StrEnum):
    table = "table"
    json = "json"
    yaml = "yaml"


@app.command("rules")
def rules_(
    fmt: Annotated[RulesFormat, typer.Option("--format", "-f", help="table, json or yaml.")] = RulesFormat.table,
) -> None:
    """List the MISP-aware design and security rules: code, severity, title."""
    from planner.rules.catalogue import rules_data, rules_json, rules_table

    if fmt is RulesFormat.json:
        sys.stdout.write(rules_json())
    elif fmt is RulesFormat.yaml:
        from planner.yamlout import dump_yaml

        sys.stdout.write(dump_yaml(rules_data()))
    else:
        sys.stdout.write(rules_table())


@app.command()
def explain(code: Annotated[str, typer.Argument(help="A code the planner prints: MP210, MP101, MP004...")]) -> None:
    """Explain one code: why it exists, with an example (a rule's failing and passing examples)."""
    from planner.rules.catalogue import explain_text

    text = explain_text(code)
    if text is None:
        sys.stderr.write(f"error: unknown code '{code}'; `misp-planner rules` lists the rules, docs/rules.md "
                         "and docs/language.md every code\n")
        raise typer.Exit(EXIT_USAGE)
    sys.stdout.write(text)


def _interactive() -> bool:
    """Prompts only when a person is at the terminal; scripts and CI pass flags."""
    return sys.stdin.isatty()


@app.command()
def init(
    file: Annotated[Path, typer.Argument(help="The topology file to write (-: standard output).")] = Path(
        "topology.yaml"),
    name: Annotated[str | None, typer.Option("--name", help="The estate's name (an id: my-estate).")] = None,
    org: Annotated[str | None, typer.Option("--org", help="Your organisation's name in MISP.")] = None,
    url: Annotated[str | None, typer.Option("--url", help="Your first instance's MISP.baseurl.")] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
) -> None:
    """Write a commented starter topology that validates clean. Asks on a terminal; flags otherwise."""
    from planner.starter import DEFAULTS, starter_topology

    asking = _interactive()
    values: dict[str, str] = {}
    for key, given, question in (("name", name, "Estate name"), ("org", org, "Your organisation's name"),
                                 ("url", url, "URL of your first MISP instance")):
        values[key] = given if given is not None else (
            str(typer.prompt(question, default=DEFAULTS[key])) if asking else DEFAULTS[key])
    text = guarded(lambda: starter_topology(**values))
    if str(file) == "-":
        sys.stdout.write(text)
        return
    if file.exists() and not force:
        sys.stderr.write(f"error: {file} exists; pass --force to overwrite it\n")
        raise typer.Exit(EXIT_USAGE)
    file.write_text(text, encoding="utf-8")
    sys.stderr.write(f"wrote {file}; next: misp-planner validate {file}, then misp-planner build {file} -o out/\n")


@app.command()
def schema(
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write here instead of stdout.")] = None,
) -> None:
    """Print the JSON Schema of the topology language (for editors and CI)."""
    from planner.jsonschema import schema_text

    text = schema_text()
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")


@app.command()
def inspect(
    file: Annotated[Path, typer.Argument(help="Topology file (-: standard input).")],
    fmt: Annotated[DataFormat, typer.Option("--format", "-f", help="yaml or json.")] = DataFormat.yaml,
) -> None:
    """Print the resolved estate: defaults applied, UUIDs filled in."""
    from planner.estate import estate_as_data

    loaded = load_or_exit(file)
    data = estate_as_data(loaded.estate)
    if fmt is DataFormat.json:
        sys.stdout.write(json.dumps(data, indent=2, sort_keys=True) + "\n")
    else:
        from planner.yamlout import dump_yaml

        sys.stdout.write(dump_yaml(data))
    if loaded.findings:
        sys.stderr.write(render_findings(loaded.findings, FindingFormat.human))


class SizeFormat(StrEnum):
    table = "table"
    json = "json"
    md = "md"


@app.command()
def size(
    file: Annotated[Path, typer.Argument(help="Topology file (-: standard input).")],
    fmt: Annotated[SizeFormat, typer.Option("--format", "-f", help="table, json or md.")] = SizeFormat.table,
) -> None:
    """Size every managed instance: volume now and at the horizon, vCPU, RAM, disk, MariaDB, PHP, workers, Redis."""
    from planner.rules.sizing import sizing_findings
    from planner.sizing import print_sizing_table, size_estate, sizing_json_text, sizing_markdown

    loaded = load_or_exit(file)
    sizing = size_estate(loaded.estate)
    if fmt is SizeFormat.json:
        sys.stdout.write(sizing_json_text(sizing))
    elif fmt is SizeFormat.md:
        sys.stdout.write(sizing_markdown(sizing, loaded.estate.name))
    else:
        from rich.console import Console

        print_sizing_table(sizing, Console(width=200))
    findings = [*loaded.findings, *sizing_findings(loaded.estate)]
    if findings:
        sys.stderr.write(render_findings(findings, FindingFormat.human))
    raise typer.Exit(EXIT_FINDINGS if has_errors(findings) else EXIT_OK)


class DiffFormat(StrEnum):
    human = "human"
    json = "json"
    md = "md"


@app.command()
def diff(
    files: Annotated[list[Path], typer.Argument(help="BASE HEAD, or with --git the one working file.")],
    git: Annotated[str | None, typer.Option("--git", help="Compare the working FILE with its content at REV.")] = None,
    fmt: Annotated[DiffFormat, typer.Option("--format", "-f", help="human, json or md.")] = DiffFormat.human,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Draw the change (.svg .png .dot).")] = None,
    exit_code: Annotated[bool, typer.Option("--exit-code", help="Exit 0 no change, 2 changes, 1 error.")] = False,
    fail_on: Annotated[str | None, typer.Option("--fail-on", help="wider-reach: exit 1 if data reaches more.")] = None,
) -> None:
    """What a change to the estate does: structure, where data goes, findings, sizing."""
    from planner.diff import diff_estates
    from planner.diff_output import format_markdown, format_text
    from planner.gitrev import base_and_head

    if fail_on not in (None, "wider-reach"):
        raise typer.BadParameter("the only value is 'wider-reach'", param_hint="--fail-on")
    base, head = guarded(lambda: base_and_head(files, git))
    result = guarded(lambda: diff_estates(base.estate, head.estate))
    if fmt is DiffFormat.json:
        sys.stdout.write(json.dumps(result.as_json(), indent=2, sort_keys=True) + "\n")
    else:
        sys.stdout.write(format_markdown(result) if fmt is DiffFormat.md else format_text(result))
    if output is not None:
        from planner.render.diffdraw import draw_diff

        guarded(lambda: draw_diff(base.estate, head.estate, result, output))
    if fail_on == "wider-reach" and result.wider_reach:
        sys.stderr.write("the change lets data reach instances it did not reach before (--fail-on wider-reach)\n")
        raise typer.Exit(EXIT_FINDINGS)
    raise typer.Exit(2 if exit_code and result.changed else EXIT_OK)


@app.command()
def flows(
    file: Annotated[Path, typer.Argument(help="Topology file (-: standard input).")],
    origin: Annotated[str | None, typer.Option("--origin", help="Instance or feeder creating the event.")] = None,
    distribution: Annotated[str | None, typer.Option(
        "--distribution", "-d", help="organisation, community, connected, all, sharing-group (or 0-4).")] = None,
    tags: Annotated[str, typer.Option("--tags", help="Event tags, comma-separated.")] = "",
    sharing_group: Annotated[str | None, typer.Option("--sharing-group", help="Group for sharing-group.")] = None,
    org: Annotated[str | None, typer.Option("--org", help="Creator org: a local organisation of the origin.")] = None,
    fmt: Annotated[str, typer.Option("--format", "-f", help="table or json.")] = "table",
    matrix: Annotated[bool, typer.Option("--matrix", help="Every origin instance x every level.")] = False,
) -> None:
    """Where an event goes: which instances end up holding it, at which level, by which path."""
    from planner.flows import FlowError, flows_report

    loaded = load_or_exit(file)
    try:
        text = flows_report(loaded.estate, origin=origin, distribution=distribution, tags=tags.split(","),
                            sharing_group=sharing_group, org=org, fmt=fmt, matrix=matrix)
    except FlowError as error:
        sys.stderr.write(f"error: {error}\n")
        raise typer.Exit(EXIT_USAGE) from None
    sys.stdout.write(text)
    if loaded.findings:
        sys.stderr.write(render_findings(loaded.findings, FindingFormat.human))


class Collapse(StrEnum):
    communities = "communities"


@app.command()
def draw(
    file: Annotated[Path, typer.Argument(help="Topology file (-: standard input).")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Diagram file: .svg .png .pdf .dot or .mmd.")],
    flow: Annotated[str | None, typer.Option("--flow", help="ORIGIN:DISTRIBUTION: where such an event goes.")] = None,
    collapse: Annotated[Collapse | None, typer.Option("--collapse", help="communities: one node each.")] = None,
    focus: Annotated[str | None, typer.Option("--focus", help="Draw only this instance's neighbourhood.")] = None,
    depth: Annotated[int, typer.Option("--depth", help="Hops around --focus.")] = 1,
    styles: Annotated[Path | None, typer.Option("--styles", help="YAML overriding the diagram styles.")] = None,
    drift: Annotated[Path | None, typer.Option("--drift", help="A `drift --format json` report to mark.")] = None,
) -> None:
    """Draw the estate: communities, instances, sync connections, feeders, consumers and a legend."""
    from planner.render import DrawOptions, format_of
    from planner.render import draw as draw_estate

    guarded(lambda: format_of(output))
    loaded = load_or_exit(file)
    options = DrawOptions(flow=flow, collapse=collapse is not None, focus=focus, depth=depth)
    if drift is not None:
        from planner.render.driftdraw import draw_drift

        notes = guarded(lambda: draw_drift(loaded.estate, drift, output, options, styles))
    else:
        notes = guarded(lambda: draw_estate(loaded.estate, output, options, styles))
    for note in notes:
        sys.stderr.write(f"note: {note}\n")


@app.command()
def report(
    file: Annotated[Path, typer.Argument(help="Topology file (-: standard input).")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Folder for report.md and report.html.")],
    force: Annotated[bool, typer.Option("--force", help="Replace a folder misp-planner did not create.")] = False,
) -> None:
    """Write the design-review report: diagram, findings, sizing, flow matrix, connections, policies.

    The report is written even when the estate has errors (exit 1 then): they are what a review discusses.
    When the file parses but the estate cannot be resolved (a reference error), it lists the errors alone.
    """
    from planner.render.report import write_error_report, write_report

    try:
        loaded = load_estate(file)
    except PlannerError as error:
        if error.exit_code != EXIT_FINDINGS:  # the file cannot be read: there is nothing to report on
            fail(error)
        # The file parses but the estate cannot be resolved: the report lists the errors alone.
        errors = error.findings
        sys.stderr.write(render_findings(errors, FindingFormat.human))
        guarded(lambda: write_error_report(errors, file.name, output, force=force))
        sys.stderr.write(f"report written to {output} with the errors alone (the estate cannot be drawn or "
                         f"sized until they are fixed): {summary_line(errors)}\n")
        raise typer.Exit(EXIT_FINDINGS) from None
    gc.freeze()
    findings = guarded(lambda: write_report(loaded, output, force=force))
    sys.stderr.write(f"report written to {output}: {summary_line(findings)}\n")
    raise typer.Exit(EXIT_FINDINGS if has_errors(findings) else EXIT_OK)


@app.command()
def build(
    file: Annotated[Path, typer.Argument(help="Topology file (-: standard input).")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Output folder, replaced whole on success.")],
    force: Annotated[bool, typer.Option("--force", help="Replace a folder misp-planner did not create.")] = False,
) -> None:
    """Everything in one folder: findings, estate, sizing, flows, diagrams, report and Ansible project."""
    from planner.build import build_all

    loaded = load_or_exit(file)
    result = guarded(lambda: build_all(loaded, output, force=force))
    sys.stderr.write(result.summary)
    raise typer.Exit(result.exit_code)


@app.command()
def generate(
    file: Annotated[Path, typer.Argument(help="Topology file (-: standard input).")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Folder for the Ansible project.")],
    force: Annotated[bool, typer.Option("--force", help="Replace a folder misp-planner did not create.")] = False,
) -> None:
    """Write a self-contained Ansible project that provisions the estate and both ends of every link."""
    from planner.ansible.project import generate_command

    loaded = load_or_exit(file)
    findings = guarded(lambda: generate_command(loaded.estate, output, force=force))
    if findings:
        sys.stderr.write(render_findings([*loaded.findings, *findings], FindingFormat.human))
        raise typer.Exit(EXIT_FINDINGS)
    sys.stderr.write(f"Ansible project written to {output}; see {output / 'README.md'}\n")


@app.command()
def apply(
    project: Annotated[Path, typer.Argument(help="A folder written by `generate`.")],
    check: Annotated[bool, typer.Option("--check", help="Report what would change; change nothing.")] = False,
    limit: Annotated[str | None, typer.Option("--limit", help="Ansible host pattern, e.g. hub.")] = None,
    extra_vars: Annotated[list[str] | None, typer.Option(
        "--extra-vars", "-e", help="KEY=VALUE, e.g. misp_provision_stack=false (API phases only).")] = None,
    prune: Annotated[bool, typer.Option(
        "--prune", help="Remove the server entries, sync users and keys made for links and tools the topology "
                        "no longer has (without it they are reported).")] = False,
) -> None:
    """Run the Ansible project through ansible-runner with live progress and a change summary.

    Exit 0 ok, 4 a host unreachable, 5 a task failed, 6 ansible-playbook missing (README: exit codes).
    """
    from rich.console import Console

    from planner.ansible.runner import apply_project, parse_extra_vars, print_summary

    console = Console(stderr=True)
    extravars = guarded(lambda: parse_extra_vars(extra_vars or []))
    if prune:
        extravars["misp_prune"] = True
    result = guarded(lambda: apply_project(project, check=check, limit=limit, extravars=extravars, console=console))
    print_summary(result, console, check)
    raise typer.Exit(result.exit_code)


@app.command()
def bundle(
    output: Annotated[Path, typer.Option("--output", "-o", help="Folder for the archive, .sha256 and manifest.")],
    misp_version: Annotated[str, typer.Option("--misp-version", help="MISP tag, e.g. v2.5.42: the hosts' pin.")],
    repository: Annotated[str | None, typer.Option(
        "--repository", help="MISP's git repository (default: GitHub), a mirror or a local path.")] = None,
    composer: Annotated[str, typer.Option("--composer", help="The composer command.")] = "composer",
    python: Annotated[str, typer.Option(
        "--python", help="The Python whose pip downloads the wheels: the hosts' version.")] = "python3",
) -> None:
    """On a connected machine: MISP at a pinned version, its submodules and libraries, as one archive."""
    from planner.bundle import MISP_REPOSITORY, make_bundle, summary

    made = guarded(lambda: make_bundle(output, version=misp_version, repository=repository or MISP_REPOSITORY,
                                       composer=composer, python=python))
    sys.stdout.write(summary(made))


from planner.live.commands import register as _register_live  # noqa: E402 (import, drift)

_register_live(app)


def main() -> None:
    """Entry point: typer handles usage errors (exit 2); a bug still shows its traceback."""
    app()


if __name__ == "__main__":
    main()
