"""Whether a MISP release line installs on a platform, and whether it is past end of life: one
table of release lines and one of platforms, each row with its public source.

What MISP *does* differently from one version to the next (sync semantics) is not here: that is
the propagation engine's (planner/flows). This module answers the install question only:
:func:`install_problem` (cannot work: an error) and :func:`end_of_life` (works, unsupported: a
warning), both O(1).
"""

from __future__ import annotations

from dataclasses import dataclass

from planner.misp import SUPPORTED_PLATFORMS

PhpVersion = tuple[int, int]


@dataclass(frozen=True)
class ReleaseLine:
    php_min: PhpVersion  # inclusive
    php_below: PhpVersion  # exclusive
    end_of_life: str | None  # why the line is unsupported, or None while it is maintained
    source: str


@dataclass(frozen=True)
class PlatformPhp:
    php: PhpVersion  # the PHP the distribution ships, which MISP's installer uses
    source: str


MISP_LINES: dict[str, ReleaseLine] = {
    "2.4": ReleaseLine(
        (7, 4), (8, 0),
        "2.4's grace period ended with the v2.4.206 / v2.5.8 release (2025-03-19); it received security "
        "fixes until the end of 2025",
        "MISP app/composer.json on branch 2.4 (php >=7.4.0,<8.0.0); release notes 'MISP v2.4.206 and v2.5.8 "
        "Released' (misp-project.org, 2025-03-19)"),
    "2.5": ReleaseLine(
        (8, 1), (9, 0), None,
        "MISP app/composer.json on branch 2.5 (php >=8.1.0,<9.0.0)"),
}

PLATFORMS: dict[str, PlatformPhp] = {
    "ubuntu-24.04": PlatformPhp((8, 3), "Ubuntu 24.04 ships PHP 8.3; MISP INSTALL/INSTALL.ubuntu2404.sh"),
    "debian-12": PlatformPhp((8, 2), "Debian 12 ships PHP 8.2; MISP INSTALL/INSTALL.debian12.sh"),
    "debian-13": PlatformPhp((8, 4), "Debian 13 ships PHP 8.4; MISP INSTALL/INSTALL.debian13.sh"),
}
assert set(PLATFORMS) == set(SUPPORTED_PLATFORMS)  # a platform added there needs its PHP here


def version_line(version: str) -> str:
    """``2.5.1`` -> ``2.5``: releases of one line share their requirements, and MISP's compatibility
    check compares major and minor (docs/misp-behaviour.md#version-skew)."""
    return ".".join(version.split(".")[:2])


def _php(version: PhpVersion) -> str:
    return f"{version[0]}.{version[1]}"


def install_problem(misp_version: str, platform: str) -> tuple[str, tuple[str, str]] | None:
    """Why MISP ``misp_version`` cannot be installed on ``platform`` and the two sources saying so,
    or None when it can (or when the table does not know the line: nothing is claimed about it)."""
    line = MISP_LINES.get(version_line(misp_version))
    if line is None or platform not in PLATFORMS:
        return None
    php = PLATFORMS[platform].php
    if line.php_min <= php < line.php_below:
        return None
    return (f"MISP {version_line(misp_version)} needs PHP >= {_php(line.php_min)} and < {_php(line.php_below)}, "
            f"and {platform} ships PHP {_php(php)}", (line.source, PLATFORMS[platform].source))


def end_of_life(misp_version: str) -> str | None:
    """Why MISP ``misp_version``'s release line is unsupported, or None."""
    line = MISP_LINES.get(version_line(misp_version))
    return line.end_of_life if line is not None else None


def supported_lines() -> list[str]:
    """The maintained release lines, oldest first (what a hint suggests)."""
    return [name for name, line in MISP_LINES.items() if line.end_of_life is None]
