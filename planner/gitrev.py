"""The two estates a `diff` compares: two files, or one file and its content at a git revision."""

from __future__ import annotations

import subprocess
from pathlib import Path

from planner.diagnostics import Finding, PlannerError, Severity
from planner.pipeline import Loaded, load_estate, load_estate_text

EXIT_USAGE = 2


def _usage(message: str, hint: str, file: str = "") -> PlannerError:
    return PlannerError([Finding("MP021", Severity.ERROR, message, hint, file)], EXIT_USAGE)


def file_at_revision(path: Path, revision: str) -> str:
    """The text of ``path`` as committed at ``revision`` in the repository that holds it."""
    if revision.startswith("-"):
        raise _usage(f"'{revision}' is not a revision", "name a commit, branch or tag, e.g. --git main")
    folder = path.resolve().parent
    try:
        top = subprocess.run(["git", "rev-parse", "--show-toplevel"], cwd=folder, capture_output=True,
                             text=True, check=True).stdout.strip()
        relative = path.resolve().relative_to(Path(top).resolve()).as_posix()
        shown = subprocess.run(["git", "show", f"{revision}:{relative}"], cwd=top, capture_output=True,
                               check=False)
    except (OSError, subprocess.CalledProcessError, ValueError):
        raise _usage(f"{path} is not inside a git repository", "run diff with two files instead of --git",
                     str(path)) from None
    if shown.returncode != 0:
        reason = shown.stderr.decode("utf-8", "replace").strip().splitlines()
        raise _usage(f"cannot read {relative} at {revision}: {reason[-1] if reason else 'git failed'}",
                     "check the revision name and that the file existed there", str(path))
    return shown.stdout.decode("utf-8", "replace")


def base_and_head(files: list[Path], revision: str | None) -> tuple[Loaded, Loaded]:
    if revision is not None:
        if len(files) != 1:
            raise _usage("with --git, name exactly one topology file", "misp-planner diff --git main topology.yaml")
        head = load_estate(files[0])
        text = file_at_revision(files[0], revision)
        return load_estate_text(text, f"{files[0]}@{revision}"), head
    if len(files) != 2:
        raise _usage("diff compares two topology files: BASE HEAD", "or compare with a revision: --git REV FILE")
    return load_estate(files[0]), load_estate(files[1])
