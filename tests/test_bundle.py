"""`misp-planner bundle` on a local git repository shaped like MISP's (tests/chroot/misp/), with a
submodule at app/Lib/cakephp as MISP has: the archive holds the tree at the tag with the
submodule's files, composer's app/Vendor, the Python packages of requirements.txt, and a manifest
with commits, library versions and checksums; two bundles of the same inputs are byte-identical.

Needs git, composer and access to PyPI (pip download); skipped without git or composer. The real
MISP repository is on GitHub, which the CI machine cannot reach: this is the part exercised here.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = ROOT / "tests" / "chroot" / "misp"
VERSION = "v2.5.42"
CLI = Path(sys.executable).parent / "misp-planner"
# Fixed identities and dates: the fixture's commits, and so the bundle, are the same on every run.
GIT_ENV = {"GIT_AUTHOR_NAME": "test", "GIT_AUTHOR_EMAIL": "test@example.org", "GIT_AUTHOR_DATE": "2026-01-01T00:00:00Z",
           "GIT_COMMITTER_NAME": "test", "GIT_COMMITTER_EMAIL": "test@example.org",
           "GIT_COMMITTER_DATE": "2026-01-01T00:00:00Z", "GIT_CONFIG_GLOBAL": "/dev/null"}


def needs_tools() -> None:
    for tool in ("git", "composer"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed (apt-get install {tool})")


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "protocol.file.allow=always", *args], cwd=cwd, check=True,
                   capture_output=True, env={**os.environ, **GIT_ENV})


def make_misp_repository(tmp: Path) -> Path:
    """The fixture tree as a git repository tagged VERSION, with a CakePHP submodule."""
    cake = tmp / "cakephp"
    (cake / "lib" / "Cake").mkdir(parents=True)
    (cake / "lib" / "Cake" / "VERSION.txt").write_text("2.10.24\n")
    _git(cake, "init", "-q", "-b", "main")
    _git(cake, "add", "-A")
    _git(cake, "commit", "-q", "-m", "CakePHP test double")
    misp = tmp / "MISP"
    shutil.copytree(FIXTURE, misp)
    _git(misp, "init", "-q", "-b", "2.5")
    _git(misp, "submodule", "add", "-q", str(cake), "app/Lib/cakephp")
    _git(misp, "add", "-A")
    _git(misp, "commit", "-q", "-m", "MISP test double")
    _git(misp, "tag", VERSION)
    return misp


def bundle(repository: Path, out: Path) -> Path:
    result = subprocess.run(
        [str(CLI), "bundle", "-o", str(out), "--misp-version", VERSION, "--repository", str(repository),
         "--python", sys.executable],
        capture_output=True, text=True, check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    archive = out / f"misp-{VERSION}.tar.gz"
    assert str(archive) in result.stdout
    return archive


@pytest.mark.slow
def test_bundle_of_a_local_repository(tmp_path: Path) -> None:
    needs_tools()
    repository = make_misp_repository(tmp_path)
    archive = bundle(repository, tmp_path / "one")

    digest = hashlib.sha256(archive.read_bytes()).hexdigest()
    assert (archive.parent / f"{archive.name}.sha256").read_text() == f"{digest}  {archive.name}\n"
    with tarfile.open(archive) as tar:
        names = set(tar.getnames())
        manifest = json.load(tar.extractfile(f"misp-{VERSION}/.bundle/MANIFEST.json"))  # type: ignore[arg-type]
        cake = tar.getmember(f"misp-{VERSION}/app/Console/cake")
        assert cake.mode & 0o111  # executable, as in the repository
        assert {m.uid for m in tar.getmembers()} == {0}
    top = f"misp-{VERSION}"
    assert top not in names  # unpacking must not touch the mode of the folder it goes into
    assert f"{top}/app/Lib/cakephp/lib/Cake/VERSION.txt" in names  # the submodule's files
    assert f"{top}/app/Vendor/autoload.php" in names  # composer install --no-dev
    assert f"{top}/app/composer.lock" in names  # the library versions it resolved
    assert not any(name.endswith("/.git") or "/.git/" in name for name in names)
    assert json.loads((archive.parent / f"misp-{VERSION}.manifest.json").read_text()) == manifest

    head = subprocess.run(["git", "rev-parse", VERSION + "^{commit}"], cwd=repository, capture_output=True,
                          text=True, check=True).stdout.strip()
    assert manifest["misp"]["version"] == VERSION and manifest["misp"]["commit"] == head
    assert [s["path"] for s in manifest["misp"]["submodules"]] == ["app/Lib/cakephp"]
    files = {entry["file"]: entry["sha256"] for entry in manifest["python"]}
    assert any(name.startswith("pydeep2-") and name.endswith(".tar.gz") for name in files)  # sources, for Python 3.13
    assert any(name.startswith("setuptools-") for name in files)  # to build them offline
    with tarfile.open(archive) as tar:
        for name, sha256 in files.items():
            data = tar.extractfile(f"{top}/.bundle/python/{name}").read()  # type: ignore[union-attr]
            assert hashlib.sha256(data).hexdigest() == sha256, name

    again = bundle(repository, tmp_path / "two")
    assert again.read_bytes() == archive.read_bytes()


def test_bundle_refuses_to_overwrite_and_reports_a_failed_fetch(tmp_path: Path) -> None:
    needs_tools()
    missing = subprocess.run(
        [str(CLI), "bundle", "-o", str(tmp_path / "out"), "--misp-version", VERSION,
         "--repository", str(tmp_path / "no-such-repository")],
        capture_output=True, text=True, check=False,
    )
    assert missing.returncode == 1
    assert "fetching MISP v2.5.42 failed" in missing.stderr and "Traceback" not in missing.stderr
    (tmp_path / "out").mkdir(exist_ok=True)
    (tmp_path / "out" / f"misp-{VERSION}.tar.gz").write_text("")
    exists = subprocess.run(
        [str(CLI), "bundle", "-o", str(tmp_path / "out"), "--misp-version", VERSION],
        capture_output=True, text=True, check=False,
    )
    assert exists.returncode == 2 and "exists already" in exists.stderr
