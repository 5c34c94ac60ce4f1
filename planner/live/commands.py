"""The `import` and `drift` commands' arguments and outputs (planner/cli.py registers them).

Keys never come from the command line (they would show in `ps` and shell history): see keys.py.
"""

from __future__ import annotations

import re
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from planner import exitcodes
from planner.live.client import LiveError, MispClient
from planner.live.keys import KeyError_, admin_key, missing_key_message, vault_keys
from planner.live.snapshot import DEFAULT_CONCURRENCY, Snapshot, Target, read_estate, stderr_progress
from planner.model import ID_PATTERN
from planner.units import plural

VaultOption = Annotated[Path | None, typer.Option(
    "--vault", help="ansible-vault file with vault_misp_admin_keys: {<instance>: <key>} (password: "
                    "MISP_VAULT_PASSWORD or --vault-password-file).")]
VaultPasswordOption = Annotated[Path | None, typer.Option("--vault-password-file",
                                                          help="File holding the vault password.")]
InsecureOption = Annotated[bool, typer.Option("--insecure", help="Do not verify the instances' TLS certificates.")]
ConcurrencyOption = Annotated[int, typer.Option("--concurrency", min=1, max=64,
                                                help="Instances read at the same time.")]


def _keys_or_exit(vault: Path | None, password_file: Path | None) -> dict[str, str]:
    try:
        return vault_keys(vault, password_file)
    except KeyError_ as error:
        sys.stderr.write(f"error: {error}\n")
        raise typer.Exit(exitcodes.UNREADABLE) from None


def _targets(wanted: list[tuple[str, str]], keys: dict[str, str], insecure: bool,
             settings: dict[str, tuple[str, ...]] | None = None) -> tuple[list[Target], dict[str, LiveError]]:
    """(targets with a key, instance -> error for those without)."""
    targets, missing = [], {}
    for iid, url in wanted:
        key = admin_key(iid, keys)
        if key is None:
            missing[iid] = LiveError("no-key", missing_key_message(iid))
        else:
            targets.append(Target(iid, url, key, not insecure, (settings or {}).get(iid, ())))
    return targets, missing


def _instances(pairs: list[str]) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    for pair in pairs:
        iid, sep, url = pair.partition("=")
        if not sep or not re.match(ID_PATTERN, iid) or not url.startswith(("http://", "https://")):
            raise typer.BadParameter(f"'{pair}' is not ID=URL (e.g. hub=https://misp.example.org); ids are "
                                     "lower-case letters, digits and '-'", param_hint="INSTANCES")
        if any(iid == seen for seen, _ in found):
            raise typer.BadParameter(f"instance '{iid}' is given twice", param_hint="INSTANCES")
        found.append((iid, url.rstrip("/")))
    return found


def import_command(
    instances: Annotated[list[str], typer.Argument(help="ID=URL of each instance to read, e.g. hub=https://misp.example.org.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="The topology file to write (-: standard output).")],
    name: Annotated[str, typer.Option("--name", help="The estate's name (an id).")] = "imported",
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
    ids_from: Annotated[Path | None, typer.Option(
        "--ids-from", help="An earlier topology whose ids to keep (matched by UUID and URL).")] = None,
    vault: VaultOption = None,
    vault_password_file: VaultPasswordOption = None,
    insecure: InsecureOption = False,
    concurrency: ConcurrencyOption = DEFAULT_CONCURRENCY,
) -> None:
    """Read running MISP instances (read-only) and write a topology of them; print what to decide.

    Keys: MISP_ADMIN_KEY_<ID> or --vault. Exit 0 ok, 7 an instance could not be read (the others are imported).
    """
    from planner.live.importer import KnownIds, import_estate, known_ids

    if not re.match(ID_PATTERN, name):
        raise typer.BadParameter(f"'{name}' is not an id (lower-case letters, digits and '-')", param_hint="--name")
    wanted = _instances(instances)
    if str(output) != "-" and output.exists() and not force:
        sys.stderr.write(f"error: {output} exists; pass --force to overwrite it\n")
        raise typer.Exit(exitcodes.USAGE)
    known = KnownIds()
    if ids_from is not None:
        from planner.cli import load_or_exit

        known = known_ids(load_or_exit(ids_from).estate)
    targets, failed = _targets(wanted, _keys_or_exit(vault, vault_password_file), insecure)
    results = read_estate(targets, concurrency, stderr_progress(len(targets)))
    shots = {iid: shot for iid, shot in results.items() if isinstance(shot, Snapshot)}
    failed.update({iid: error for iid, error in results.items() if not isinstance(error, Snapshot)})
    for iid, error in failed.items():
        sys.stderr.write(error.line(iid) + "\n")
    if not shots:
        sys.stderr.write("nothing imported: no instance could be read\n")
        raise typer.Exit(exitcodes.INSTANCE_UNREADABLE)
    imported = import_estate(name, shots, known)
    if str(output) == "-":
        sys.stdout.write(imported.text)
    else:
        output.write_text(imported.text, encoding="utf-8")
        sys.stderr.write(f"wrote {output}: {plural(len(shots), 'instance')} read\n")
    sys.stderr.write("to decide:\n" + "".join(f"  - {d}\n" for d in imported.decisions))
    raise typer.Exit(exitcodes.INSTANCE_UNREADABLE if failed else exitcodes.OK)


class DriftFormat(StrEnum):
    human = "human"
    json = "json"
    md = "md"


def drift_command(
    file: Annotated[Path, typer.Argument(help="Topology file (-: standard input).")],
    fmt: Annotated[DriftFormat, typer.Option("--format", "-f", help="human, json or md.")] = DriftFormat.human,
    exit_code: Annotated[bool, typer.Option("--exit-code", help="Exit 2 when anything drifted.")] = False,
    connection_test: Annotated[bool, typer.Option(
        "--connection-test/--no-connection-test", help="Run each link's connection test on its initiator.")] = True,
    vault: VaultOption = None,
    vault_password_file: VaultPasswordOption = None,
    insecure: InsecureOption = False,
    concurrency: ConcurrencyOption = DEFAULT_CONCURRENCY,
) -> None:
    """Compare the running managed instances with the topology (read-only): what differs, per instance.

    Exit 0 no drift, 2 drift (with --exit-code), 1 topology errors, 3 unreadable input, 7 an instance not read.
    """
    from planner.cli import FindingFormat, load_or_exit, render_findings
    from planner.diagnostics import has_errors
    from planner.live import drift

    loaded = load_or_exit(file)
    if has_errors(loaded.findings):
        sys.stderr.write(render_findings(loaded.findings, FindingFormat.human))
        raise typer.Exit(exitcodes.FINDINGS)
    estate = loaded.estate
    plans = drift.plans(estate)
    settings = {iid: tuple(drift.planned_settings(plan)) for iid, plan in plans.items()}
    targets, failed = _targets([(iid, estate.instances[iid].url) for iid in plans],
                               _keys_or_exit(vault, vault_password_file), insecure, settings)
    results = read_estate(targets, concurrency, stderr_progress(len(targets)))
    report = drift.compare(estate, results)
    report.unreadable.update(failed)
    if connection_test:
        clients = {t.id: MispClient(t.url, t.key, verify_tls=t.verify_tls) for t in targets}
        drift.connection_tests(estate, results, clients, report)
    if fmt is DriftFormat.json:
        sys.stdout.write(drift.format_json(report))
    else:
        sys.stdout.write(drift.format_markdown(report) if fmt is DriftFormat.md else drift.format_human(report))
    if report.unreadable:
        raise typer.Exit(exitcodes.INSTANCE_UNREADABLE)
    raise typer.Exit(2 if exit_code and report.drifted else exitcodes.OK)


def register(app: typer.Typer) -> None:
    app.command("import")(import_command)
    app.command("drift")(drift_command)
