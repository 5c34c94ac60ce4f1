"""Admin keys for reading instances, from where `apply` takes them: never the command line.

An environment variable `MISP_ADMIN_KEY_<INSTANCE>` (the generated project's README names the same
variables), or an ansible-vault file holding `vault_misp_admin_keys: {<instance>: <key>}` (the
generated project's `group_vars/all/vault.yml`), opened with the password in
`MISP_VAULT_PASSWORD` or in a file given with `--vault-password-file`. A variable wins over the
vault. Keys stay in memory; no message names one.
"""

from __future__ import annotations

import os
from pathlib import Path

import yaml

VAULT_PASSWORD_ENV = "MISP_VAULT_PASSWORD"
VAULT_VARIABLE = "vault_misp_admin_keys"


class KeyError_(Exception):
    """The vault cannot be opened or read; the message says what to do."""


def vault_keys(vault: Path | None, password_file: Path | None) -> dict[str, str]:
    if vault is None:
        return {}
    password = os.environ.get(VAULT_PASSWORD_ENV, "")
    if password_file is not None:
        try:
            password = password_file.read_text(encoding="utf-8").strip()
        except OSError as error:
            raise KeyError_(f"{password_file}: cannot read the vault password ({error.strerror})") from None
    if not password:
        raise KeyError_(f"{vault}: set {VAULT_PASSWORD_ENV} or give --vault-password-file to open the vault")
    from ansible.parsing.vault import AnsibleVaultError, VaultLib, VaultSecret  # type: ignore[import-untyped]

    try:
        data = vault.read_bytes()
        text = VaultLib([("default", VaultSecret(password.encode()))]).decrypt(data)
    except OSError as error:
        raise KeyError_(f"{vault}: cannot read the vault ({error.strerror})") from None
    except AnsibleVaultError:
        raise KeyError_(f"{vault}: not an ansible-vault file, or the password does not open it") from None
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError:
        raise KeyError_(f"{vault}: the decrypted vault is not YAML") from None
    keys = document.get(VAULT_VARIABLE) if isinstance(document, dict) else None
    if not isinstance(keys, dict):
        raise KeyError_(f"{vault}: holds no mapping `{VAULT_VARIABLE}: {{<instance>: <key>}}`")
    return {str(k): str(v) for k, v in keys.items()}


def admin_key(instance: str, from_vault: dict[str, str]) -> str | None:
    from planner.ansible.project import env_name

    return os.environ.get(env_name("MISP_ADMIN_KEY", instance)) or from_vault.get(instance)


def missing_key_message(instance: str) -> str:
    from planner.ansible.project import env_name

    return (f"no admin key for {instance}: set {env_name('MISP_ADMIN_KEY', instance)} or put it in the vault as "
            f"{VAULT_VARIABLE}.{instance}")
