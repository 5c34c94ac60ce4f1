"""Where the Ansible collection `misp_planner.misp` is: inside an installed wheel, or in a checkout.

A wheel carries `playbooks/` as `planner/_collection` (setup.py); a source checkout or an editable
install reads `playbooks/` beside the package. `generate` copies it into every project it writes.
"""

from __future__ import annotations

from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent
INSTALLED = PACKAGE / "_collection"
CHECKOUT = PACKAGE.parent / "playbooks"


def collection_source() -> Path:
    """The collection's folder; a clear error if this installation lacks it (a broken build)."""
    for candidate in (INSTALLED, CHECKOUT):
        if (candidate / "galaxy.yml").is_file():
            return candidate
    raise FileNotFoundError(
        f"misp-planner is installed without its Ansible collection (looked in {INSTALLED} and {CHECKOUT}); "
        "reinstall it from a wheel built with `pip wheel .` or from a source checkout")
