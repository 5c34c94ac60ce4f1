"""`misp-planner bundle`: MISP at a pinned version as one archive, for hosts without internet access.

Run on a connected machine. The archive holds MISP's tree at the tag with its submodules (CakePHP
among them), composer's `install --no-dev` result in app/Vendor (with the composer.lock it made:
MISP ships none), and in `.bundle/python/` the wheels and sources of MISP's requirements.txt.
`.bundle/MANIFEST.json` records the commits, the library versions and the Python files' checksums;
it is also written beside the archive, with the archive's SHA-256. The role `misp_app` installs
from it when `misp_bundle` names it (playbooks/roles/README.md).

The archive is deterministic for the same downloaded inputs: sorted entries, the commit's time
as every file's time, no owner names, a gzip header without a time stamp.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from planner.diagnostics import Finding, PlannerError, Severity

MISP_REPOSITORY = "https://github.com/MISP/MISP.git"
# Built on the host when a requirement has no wheel for its Python (pydeep2 on Python 3.13).
BUILD_BACKENDS = ("setuptools", "wheel")
MANIFEST_FORMAT = 1


@dataclass(frozen=True)
class Bundle:
    archive: Path
    sha256: str
    manifest: dict[str, Any]


def _error(message: str, hint: str, where: str = "", exit_code: int = 1) -> PlannerError:
    return PlannerError([Finding("MP040", Severity.ERROR, message, hint, where)], exit_code=exit_code)


def _run(argv: Sequence[str], cwd: Path, what: str, env: dict[str, str] | None = None) -> str:
    try:
        done = subprocess.run(list(argv), cwd=cwd, env={**os.environ, **(env or {})},
                              capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise _error(f"{what}: {argv[0]} is not installed", f"install {argv[0]} on this machine") from None
    if done.returncode != 0:
        tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-8:])
        raise _error(f"{what} failed: {' '.join(argv)}\n{tail}",
                     "check the repository, version and network access of this machine")
    return done.stdout


# Local repositories (a mirror on disk, the tests' fixtures) serve submodules over file://, which
# git refuses by default since 2.38.1 (CVE-2022-39253) unless allowed for the command.
GIT = ("git", "-c", "protocol.file.allow=always", "-c", "advice.detachedHead=false")


def _checkout(repository: str, version: str, into: Path) -> dict[str, Any]:
    _run([*GIT, "clone", "--quiet", "--depth", "1", "--branch", version, "--recurse-submodules", "--shallow-submodules",
          repository, str(into)], into.parent, f"fetching MISP {version}")
    commit = _run(["git", "rev-parse", "HEAD"], into, "reading the commit").strip()
    committed = int(_run(["git", "log", "-1", "--format=%ct"], into, "reading the commit time").strip())
    submodules = []
    status = _run(["git", "submodule", "status", "--recursive"], into, "listing the submodules")
    for line in status.splitlines():
        sub_commit, path = line[1:].split()[:2]
        submodules.append({"path": path, "commit": sub_commit})
    return {"version": version, "repository": repository, "commit": commit,
            "committed": committed, "submodules": sorted(submodules, key=lambda s: s["path"])}


def _composer(tree: Path, composer: str, commit: str) -> list[dict[str, str]]:
    app = tree / "app"
    if not (app / "composer.json").is_file():
        raise _error(f"{tree} has no app/composer.json: not a MISP tree", "check --repository and --misp-version")
    home = tree.parent / "composer-home"
    home.mkdir()
    # Composer names its autoloader class with a random suffix unless told one: the commit keeps
    # two bundles of the same version identical.
    (home / "config.json").write_text(json.dumps({"config": {"autoloader-suffix": commit[:16]}}))
    _run([composer, "install", "--no-dev", "--no-interaction", "--prefer-dist", "--no-progress"], app,
         "installing MISP's PHP libraries", env={"COMPOSER_HOME": str(home)})
    vendor = json.loads((app / "composer.json").read_text()).get("config", {}).get("vendor-dir", "vendor")
    installed_file = app / vendor / "composer" / "installed.json"
    installed: Any = json.loads(installed_file.read_text()) if installed_file.is_file() else []
    packages = installed.get("packages", []) if isinstance(installed, dict) else installed
    return sorted(({"name": p["name"], "version": p["version"]} for p in packages), key=lambda p: p["name"])


def _python(tree: Path, python: str, into: Path) -> list[dict[str, str]]:
    requirements = tree / "requirements.txt"
    into.mkdir(parents=True)
    if requirements.is_file():
        pip = [python, "-m", "pip", "download", "--quiet", "--dest", str(into)]
        _run([*pip, "-r", str(requirements)], tree, "downloading MISP's Python packages")
        # Sources of the direct requirements too: a host whose Python has no matching wheel builds them.
        _run([*pip, "--no-binary", ":all:", "--no-deps", "-r", str(requirements)], tree,
             "downloading the sources of MISP's Python packages")
        _run([*pip, *BUILD_BACKENDS], tree, "downloading the build backends")
    return [{"file": f.name, "sha256": _sha256(f)} for f in sorted(into.iterdir())]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _drop_git_metadata(tree: Path) -> None:
    for git in sorted(tree.rglob(".git"), reverse=True):
        if git.is_dir() and not git.is_symlink():
            shutil.rmtree(git)
        else:
            git.unlink()


def _archive(tree: Path, top: str, mtime: int, target: Path) -> None:
    def normalise(info: tarfile.TarInfo) -> tarfile.TarInfo:
        info.mtime, info.uid, info.gid, info.uname, info.gname = mtime, 0, 0, "", ""
        return info

    paths = sorted(tree.rglob("*"), key=lambda p: p.relative_to(tree).as_posix())
    with target.open("wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, filename="") as zipped, \
            tarfile.open(fileobj=zipped, mode="w", format=tarfile.PAX_FORMAT) as tar:
        # No entry for the top folder itself: unpacked with --strip-components=1 it would reset the
        # mode and owner of the folder it is unpacked into.
        for path in paths:
            tar.add(path, arcname=f"{top}/{path.relative_to(tree).as_posix()}", recursive=False, filter=normalise)


def make_bundle(out: Path, *, version: str, repository: str = MISP_REPOSITORY,
                composer: str = "composer", python: str = "python3") -> Bundle:
    """Write ``misp-<version>.tar.gz`` with its ``.sha256`` and ``.manifest.json`` into ``out``."""
    name = f"misp-{version}"
    archive = out / f"{name}.tar.gz"
    if archive.exists():
        raise _error(f"{archive} exists already", "remove it or choose another --output folder", str(archive), 2)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="misp-bundle-", dir=out) as work_dir:
        work = Path(work_dir)
        tree = work / name
        misp = _checkout(repository, version, tree)
        composer_packages = _composer(tree, composer, misp["commit"])
        python_files = _python(tree, python, tree / ".bundle" / "python")
        _drop_git_metadata(tree)
        committed = misp.pop("committed")
        manifest = {"format": MANIFEST_FORMAT, "misp": misp, "composer": composer_packages, "python": python_files}
        text = json.dumps(manifest, indent=2, sort_keys=True) + "\n"
        (tree / ".bundle" / "MANIFEST.json").write_text(text)
        partial = work / archive.name
        _archive(tree, name, committed, partial)
        sha256 = _sha256(partial)
        partial.replace(archive)
    (out / f"{name}.manifest.json").write_text(text)
    (out / f"{archive.name}.sha256").write_text(f"{sha256}  {archive.name}\n")
    return Bundle(archive, sha256, manifest)


def summary(bundle: Bundle) -> str:
    manifest = bundle.manifest
    out = io.StringIO()
    out.write(f"{bundle.archive}  sha256 {bundle.sha256}\n")
    out.write(f"MISP {manifest['misp']['version']} at {manifest['misp']['commit']}, "
              f"{len(manifest['misp']['submodules'])} submodules, {len(manifest['composer'])} composer "
              f"packages, {len(manifest['python'])} Python files\n")
    out.write(f"install it with misp_bundle: {bundle.archive} (see playbooks/roles/README.md)\n")
    return out.getvalue()
