#!/usr/bin/env python3
"""FakeCake: a test double of MISP's `app/Console/cake Admin setSetting` and of reading config.php, for
the settings tasks of the misp_app role. It keeps settings in settings.json beside itself and mimics
the MISP behaviour those tasks rely on (docs/misp-behaviour.md#setting-settings): setSetting maps
"true"/"false" to 1/0, as AdminShell does, and stores the value under its section as config.php
does; `dump` prints them nested by section like `json_encode($config)`. Every call is appended to
calls.log."""

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
STATE = HERE / "settings.json"


def main(argv: list[str]) -> int:
    settings = json.loads(STATE.read_text()) if STATE.exists() else {}
    with (HERE / "calls.log").open("a") as log:
        log.write(" ".join(argv[:3]) + "\n")
    if argv == ["dump"]:
        nested: dict[str, dict[str, object]] = {}
        for name, value in settings.items():
            section, _, key = name.partition(".")
            nested.setdefault(section, {})[key] = value
        print(json.dumps(nested))
        return 0
    if argv[:2] == ["Admin", "setSetting"] and len(argv) == 4:
        name, value = argv[2], argv[3]
        # Server::zmqAfterHook starts the ZeroMQ server, which connects to the password-protected
        # Redis with Plugin.ZeroMQ_redis_password: set before it, the hook fails with NOAUTH.
        if name == "Plugin.ZeroMQ_enable" and value == "true" and "Plugin.ZeroMQ_redis_password" not in settings:
            print("NOAUTH Authentication required.")
            return 1
        settings[name] = {"true": 1, "false": 0}.get(value, value)
        STATE.write_text(json.dumps(settings, indent=2, sort_keys=True))
        print(f'Setting "{name}" changed to {value}\n')
        return 0
    if argv == ["User", "init"]:
        # UserShell::init prints the new admin's key; here it fails while the schema is missing.
        if not (HERE / "schema-imported").exists():
            print("Error: SQLSTATE[42S02]: Base table or view not found: 1146 Table 'misp.users' doesn't exist")
            return 1
        print("a" * 40)
        return 0
    print("Invalid parameters.")
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
