"""Where the generated project keeps the keys it mints for tools and partners: one convention, read by
the play's variables, the project's README and the handover documents."""

from __future__ import annotations

KEYS_DIR_ENV = "MISP_PLANNER_KEYS_DIR"
VAULT_PASSWORD_ENV = "MISP_KEYS_VAULT_PASSWORD"


def default_keys_dir(estate_name: str) -> str:
    """The folder used when ``$MISP_PLANNER_KEYS_DIR`` is unset: in the operator's home, outside the
    project, so that a commit of the project never carries a key, even encrypted."""
    return f"~/.misp-planner/{estate_name}/keys"


def keys_dir_jinja() -> str:
    """The same folder as the play computes it (Ansible does not expand ``~`` in lookups)."""
    return (f"{{{{ lookup('env', '{KEYS_DIR_ENV}') or lookup('env', 'HOME') ~ '/.misp-planner/' "
            f"~ misp_estate ~ '/keys' }}}}")
