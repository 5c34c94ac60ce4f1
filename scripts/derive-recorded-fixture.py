#!/usr/bin/env python3
"""Derive tests/fixtures/misp_recorded.json from recorded MISP 2.5.1 exchanges.

Usage: scripts/derive-recorded-fixture.py RECORDED_DIR [OUTPUT]

RECORDED_DIR holds one JSON file per endpoint family (organisations.json, users.json, ...), each a
list of {"title", "request": {"method", "path", "body"}, "response": {"status", "body"}, "notes"}
in the order the requests were made on a freshly reset instance "A" with a peer "B".

The fixture keeps, per exchange, the request (instance URLs and keys replaced by placeholders the
replay test fills in), the status, and the answer's SHAPE: the structure of keys and JSON types,
lists element by element (their length shows what a listing holds, e.g. whether a filter applied).
It also keeps the values of a few fields the modules depend on (ids, server_id, comment,
expiration, status...), never redacted values. Same input, byte-identical output.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

# The replay order: each family finds the state it relies on (users in the organisation added
# first, server 1 in a sharing group, ...); settings first, as they were read while the host
# organisation still had its install name.
FAMILY_ORDER = ("settings", "organisations", "users", "auth_keys", "servers", "sharing_groups", "tags", "feeds",
                "roles", "events")

# Fields whose values (not only their types) the replay compares.
VALUE_KEYS = frozenset(("id", "server_id", "user_id", "sharing_group_id", "status", "comment", "expiration",
                        "allowed_ips", "default", "enabled", "saved", "errors", "role_id", "distribution",
                        "value", "type", "published"))
# Top-level fields of an error answer whose text the replay compares.
ERROR_KEYS = ("name", "errors")

URLS = {"https://misp-a.example": "$A_URL", "https://misp-b.example": "$B_URL",
        "https://misp-c.example": "$C_URL"}

# Requests made while recording that are not in the recordings, without which a later exchange
# cannot be replayed. Each is run on A (through its API) before the exchange named by the key.
BEFORE: dict[tuple[str, str], list[dict[str, Any]]] = {
    ("settings", "getSetting MISP.host_org_id"): [
        {"why": "A's baseurl had been set to its public name, which is not the URL the requests came through",
         "method": "POST", "path": "/servers/serverSettingsEdit/MISP.baseurl",
         "body": {"value": "https://misp-a.example"}},
    ],
    ("organisations", "view own org by id"): [
        {"why": "A's initial admin key was key 2 (key 1 had been replaced when A was reset): mint it with "
                "the recorded comment, use it, and delete key 1",
         "method": "POST", "path": "/auth_keys/add/1", "body": {"comment": "Initial auto-generated key"},
         "use_as_admin_key": True},
        {"why": "(continued)", "method": "POST", "path": "/auth_keys/delete/1", "body": {}},
    ],
    ("auth_keys", "delete key"): [
        {"why": "key 6, deleted by the exchange, was minted between the recorded ones",
         "method": "POST", "path": "/auth_keys/add/2", "body": {"comment": "to delete"}},
    ],
    ("servers", "testConnection to a running MISP that does not know the key"): [
        {"why": "server 3: an entry towards a running MISP with a random key (recorded against a third "
                "instance C; B does not know the key either, which is what the exchange shows)",
         "method": "POST", "path": "/servers/add",
         "body": {"name": "misp-c", "url": "$B_URL", "remote_org_id": "2", "authkey": "$WRONG_KEY"}},
        {"why": "server 4: an entry towards a URL nothing listens on (used by 'testConnection remote not "
                "listening')",
         "method": "POST", "path": "/servers/add",
         "body": {"name": "nothing", "url": "$CLOSED_URL", "remote_org_id": "2", "authkey": "$WRONG_KEY"}},
    ],
    ("sharing_groups", "view right after add (fresh group)"): [
        {"why": "group 2 'Fresh SG' was added just before", "method": "POST", "path": "/sharing_groups/add",
         "body": {"name": "Fresh SG", "releasability": "x", "uuid": "c0ffee00-1111-4222-8333-444455550000"}},
    ],
}


def shape(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: shape(value[key]) for key in sorted(value)}
    if isinstance(value, list):
        return [shape(item) for item in value]
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if value is None:
        return "null"
    return "str"


def redacted(value: Any) -> bool:
    return isinstance(value, str) and value.startswith("<REDACTED-")


def values(value: Any, path: str = "") -> dict[str, Any]:
    """path -> value for the fields named in VALUE_KEYS (lists and objects in allowed_ips and errors whole)."""
    found: dict[str, Any] = {}
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else []
    for key, item in items:
        here = f"{path}.{key}" if path else str(key)
        if isinstance(value, dict) and key in VALUE_KEYS and not redacted(item) and \
                (key in ("allowed_ips", "errors") or not isinstance(item, dict | list)):
            found[here] = item
        elif isinstance(item, dict | list):
            found.update(values(item, here))
    return found


def placeholders(value: Any, key_for: str) -> Any:
    """Instance URLs and redacted keys replaced by names the replay fills in."""
    if isinstance(value, dict):
        return {k: placeholders(v, key_for) for k, v in value.items()}
    if isinstance(value, list):
        return [placeholders(v, key_for) for v in value]
    if redacted(value):
        return key_for
    if isinstance(value, str):
        for url, name in URLS.items():
            value = value.replace(url, name)
    return value


def derive(recorded: Path) -> dict[str, Any]:
    exchanges: list[dict[str, Any]] = []
    # A's host organisation had a random UUID at install, which requests name: a placeholder too.
    first_org = json.loads((recorded / "organisations.json").read_text(encoding="utf-8"))[0]
    install_uuid = first_org["response"]["body"]["Organisation"]["uuid"]
    for family in FAMILY_ORDER:
        for item in json.loads((recorded / f"{family}.json").read_text(encoding="utf-8")):
            request, response = item["request"], item["response"]
            # A redacted key in a request is B's sync key, except where the exchange sets a wrong one.
            key_for = "$WRONG_KEY" if "bad key" in item["title"] else "$B_SYNC_KEY"
            status, body = response["status"], response["body"]
            entry: dict[str, Any] = {
                "family": family, "title": item["title"],
                "request": {"method": request["method"],
                            "path": request["path"].replace(install_uuid, "$A_INSTALL_ORG_UUID"),
                            "body": placeholders(request["body"], key_for)},
                "status": status, "shape": shape(body), "values": values(body)}
            if status >= 400 and isinstance(body, dict):
                entry["error"] = {k: body[k] for k in ERROR_KEYS if k in body}
            before = BEFORE.get((family, item["title"]))
            if before:
                entry["before"] = before
            exchanges.append(entry)
    unused = set(BEFORE) - {(e["family"], e["title"]) for e in exchanges}
    if unused:
        raise SystemExit(f"preconditions name exchanges that are not recorded: {sorted(unused)}")
    return {"about": "Derived by scripts/derive-recorded-fixture.py from REST exchanges recorded on MISP 2.5.1 "
                     "(instance A freshly reset, B its peer). Per exchange: the request, the status, the answer's "
                     "shape (keys and JSON types; lists element by element) and the values of a few fields. An "
                     "exchange's \"before\" lists requests made while recording but not recorded, which it relies "
                     "on, each with why. "
                     "Placeholders: $A_URL, $B_URL, $C_URL (a third instance), $CLOSED_URL (nothing listens), "
                     "$A_INSTALL_ORG_UUID (A's host org UUID at install), "
                     "$B_SYNC_KEY (a key of a sync user on B), $WRONG_KEY (a 40-character key nobody knows).",
            "exchanges": exchanges}


def main(argv: list[str]) -> int:
    if len(argv) not in (2, 3):
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    output = Path(argv[2]) if len(argv) == 3 else Path(__file__).resolve().parent.parent / "tests" / "fixtures" / \
        "misp_recorded.json"
    fixture = derive(Path(argv[1]))
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(fixture, indent=1, sort_keys=False) + "\n", encoding="utf-8")
    print(f"{output}: {len(fixture['exchanges'])} exchanges")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
