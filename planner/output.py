"""Output folders written atomically: a run either replaces the folder whole or leaves it untouched.

Files are written into a temporary folder beside the target, which is renamed into place only when
the stage succeeded. A marker file says the folder is ours; the planner refuses to replace a folder
without it (someone's own files) unless forced.
"""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from planner.diagnostics import Finding, PlannerError, Severity

MARKER = ".misp-planner"
MARKER_TEXT = "This folder is written by misp-planner; it replaces the folder whole on every run.\n"


def _refuse(target: Path, why: str, hint: str) -> PlannerError:
    return PlannerError([Finding("MP020", Severity.ERROR, f"{target}: {why}", hint, str(target))], exit_code=2)


@contextmanager
def atomic_output(target: Path, *, force: bool = False) -> Iterator[Path]:
    """Yield an empty folder to write into; on success it becomes ``target``."""
    target = Path(target)
    if target.exists() and not target.is_dir():
        raise _refuse(target, "exists and is not a folder", "choose another output folder")
    if target.is_dir() and any(target.iterdir()) and not (target / MARKER).is_file() and not force:
        raise _refuse(target, "is a folder that misp-planner did not create",
                      "choose an empty or new folder, or pass --force to replace it")
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    try:
        yield staging
        (staging / MARKER).write_text(MARKER_TEXT, encoding="utf-8")
        os.chmod(staging, 0o755)  # mkdtemp creates 0700; an output folder is meant to be shared
        if target.exists():
            retired = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".old", dir=target.parent))
            os.rename(target, retired / "previous")
            os.rename(staging, target)
            shutil.rmtree(retired, ignore_errors=True)
        else:
            os.rename(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def write_text(root: Path, relative: str, text: str | bytes | Iterable[str]) -> Path:
    """Write one file under ``root``: ``text``, its UTF-8 bytes, or its pieces as they are made (a
    large file is then never whole in memory). A relative path that would leave ``root`` is a bug,
    not input."""
    path = (root / relative).resolve()
    if not path.is_relative_to(root.resolve()):
        raise ValueError(f"refusing to write outside the output folder: {relative}")
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    elif isinstance(text, str):
        path.write_text(text, encoding="utf-8")
    else:
        with path.open("w", encoding="utf-8") as out:
            out.writelines(text)
    return path


def write_files(root: Path, files: Iterable[tuple[str, str]]) -> None:
    """Write each (relative path, text) under ``root`` as ``files`` yields it, refusing the same paths
    as `write_text`: for thousands of files (a large estate's host_vars), each folder is checked and
    created once rather than for every file. A generator keeps one file in memory."""
    top = root.resolve()
    folders: dict[str, str] = {}  # relative folder -> its resolved path, known to be under root

    def folder(relative: str) -> str:
        where = folders.get(relative)
        if where is not None:
            return where
        parent, _, name = relative.rpartition("/")
        if relative and not relative.startswith("/") and name not in ("", ".", ".."):
            # A folder this call creates inside a checked one is a real folder, not a link: it needs
            # no resolving. One that exists already may be a link, and is resolved below.
            where = os.path.join(folder(parent), name)
            try:
                os.mkdir(where)
            except FileExistsError:
                pass
            else:
                folders[relative] = where
                return where
        resolved = (root / relative).resolve()
        if not resolved.is_relative_to(top):
            raise ValueError(f"refusing to write outside the output folder: {relative}")
        resolved.mkdir(parents=True, exist_ok=True)
        where = folders[relative] = str(resolved)
        return where

    for relative, text in files:
        parent, _, name = relative.rpartition("/")
        if relative.startswith("/") or name in ("", ".", ".."):  # not a relative file name: write_text judges it
            write_text(root, relative, text)
            continue
        where = folder(parent)
        try:
            # O_NOFOLLOW: a symbolic link in the final place is not followed here...
            fd = os.open(os.path.join(where, name), os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW
                         | os.O_CLOEXEC, 0o666)
        except OSError as error:
            if error.errno != errno.ELOOP:
                raise
            write_text(root, relative, text)  # ...but resolved and checked, as write_text does for every file
            continue
        try:
            data = memoryview(text.encode("utf-8"))
            while data:
                data = data[os.write(fd, data):]
        finally:
            os.close(fd)
