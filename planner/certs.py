"""The CA certificates sync links name with `tls.ca`: read once, checked by rule MP406, provisioned by
the generated Ansible as the server entry's CA file (`submitted_cert`, ServersController::add)."""

from __future__ import annotations

import re
from pathlib import Path

from planner.estate import Connection, Estate

PEM_CERTIFICATE = re.compile(r"-----BEGIN CERTIFICATE-----\s+[A-Za-z0-9+/=\s]+-----END CERTIFICATE-----")
MAX_CA_BYTES = 1 << 20  # a CA bundle, not a data file


def ca_path(estate: Estate, conn: Connection) -> Path:
    """`tls.ca` is relative to the topology file's folder, like every path a topology names."""
    assert conn.tls_ca is not None
    return (Path(estate.file).parent / conn.tls_ca).resolve()


def read_ca(estate: Estate, conn: Connection) -> str:
    """The PEM text of a link's CA; ValueError says why it cannot be used."""
    path = ca_path(estate, conn)
    try:
        if path.stat().st_size > MAX_CA_BYTES:
            raise ValueError(f"{path} is larger than {MAX_CA_BYTES // 1024} KiB; give the CA certificate alone")
        text = path.read_text(encoding="ascii")
    except FileNotFoundError:
        raise ValueError(f"{path} does not exist") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ValueError(f"{path} cannot be read as PEM text ({error.__class__.__name__})") from None
    if not PEM_CERTIFICATE.search(text):
        raise ValueError(f"{path} holds no PEM certificate (-----BEGIN CERTIFICATE----- ...)")
    if "PRIVATE KEY" in text:
        raise ValueError(f"{path} holds a private key: give the CA's certificate only")
    return text


def ca_pems(estate: Estate) -> dict[int, str]:
    """Readable CA certificates by connection index (unreadable ones are MP406 findings)."""
    pems: dict[int, str] = {}
    for conn in estate.connections:
        if conn.tls_ca is not None:
            try:
                pems[conn.index] = read_ca(estate, conn)
            except ValueError:
                continue
    return pems
