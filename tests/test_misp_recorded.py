"""Replay of exchanges recorded on real MISP 2.5.1 against the test double (tests/misp_test_server,
a test double, not MISP).

tests/fixtures/misp_recorded.json (made by scripts/derive-recorded-fixture.py) lists every recorded
exchange in order with its status, the shape of its answer and a few field values. The replay runs
them in that order on a fresh double A, with a double B as the peer where an exchange needs a
remote, and checks that the double answers each with the same status, shape and values.
"""

from __future__ import annotations

import importlib.util
import json
import socket
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from misp_test_server.server import RunningDouble, dispatch, new_key

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = ROOT / "tests" / "fixtures" / "misp_recorded.json"
RECORDED = ROOT.parent / "shared" / "misp" / "recorded"
EXCHANGES: list[dict[str, Any]] = json.loads(FIXTURE.read_text(encoding="utf-8"))["exchanges"]

# Organisations of the recording: A's host org, and B's (added on A by the organisations family).
A_ORG = {"name": "Org A Host", "uuid": "5d9c1f0e-3a2b-4c4d-9e8f-0a1b2c3d4e5f"}


def _derive_module() -> Any:
    spec = importlib.util.spec_from_file_location("derive", ROOT / "scripts" / "derive-recorded-fixture.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


DERIVE = _derive_module()


def _closed_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def _fill(value: Any, names: dict[str, str]) -> Any:
    if isinstance(value, dict):
        return {k: _fill(v, names) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, names) for v in value]
    if isinstance(value, str):
        for name, text in names.items():
            value = value.replace(name, text)
    return value


def _differences(expected: Any, actual: Any, path: str = "") -> list[str]:
    where = path or "(answer)"
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return [f"{where}: expected an object, got {actual!r}"]
        found = [f"{where}.{k}: missing" for k in expected if k not in actual]
        found += [f"{where}.{k}: not in the recorded answer" for k in actual if k not in expected]
        for key in expected:
            if key in actual:
                found += _differences(expected[key], actual[key], f"{path}.{key}" if path else key)
        return found
    if isinstance(expected, list):
        if not isinstance(actual, list):
            return [f"{where}: expected a list, got {actual!r}"]
        if len(expected) != len(actual):
            return [f"{where}: {len(actual)} items, recorded {len(expected)}"]
        return [d for i, (e, a) in enumerate(zip(expected, actual, strict=True))
                for d in _differences(e, a, f"{path}.{i}" if path else str(i))]
    return [] if expected == actual else [f"{where}: {actual!r}, recorded {expected!r}"]


@cache
def replay() -> tuple[dict[str, Any], ...]:
    """Every exchange replayed in order: (status, answer) per exchange."""
    a, b = RunningDouble("A"), RunningDouble("B")
    try:
        # B, the peer: it holds A's organisation and a sync user whose key A's server entries carry.
        _, org = dispatch(b.state, "POST", "/admin/organisations/add", b.state.admin_key, "127.0.0.1",
                          {**A_ORG, "local": False})
        _, user = dispatch(b.state, "POST", "/admin/users/add", b.state.admin_key, "127.0.0.1",
                           {"email": "sync-a@misp-b.example", "org_id": org["Organisation"]["id"], "role_id": 5})
        _, key = dispatch(b.state, "POST", f"/auth_keys/add/{user['User']['id']}", b.state.admin_key, "127.0.0.1",
                          {"comment": "for A"})
        names = {"$A_URL": a.url, "$B_URL": b.url, "$C_URL": "http://misp-c.invalid", "$CLOSED_URL": _closed_url(),
                 "$B_SYNC_KEY": key["AuthKey"]["authkey_raw"], "$WRONG_KEY": new_key(),
                 "$A_INSTALL_ORG_UUID": a.state.orgs[1]["uuid"]}
        admin_key = a.state.admin_key
        answers = []
        for exchange in EXCHANGES:
            for step in exchange.get("before", []):
                status, answer = dispatch(a.state, step["method"], step["path"], admin_key, "127.0.0.1",
                                          _fill(step["body"], names))
                assert status == 200, (exchange["title"], step, answer)
                if step.get("use_as_admin_key"):
                    admin_key = answer["AuthKey"]["authkey_raw"]
            request = exchange["request"]
            status, answer = dispatch(a.state, request["method"], _fill(request["path"], names), admin_key, "127.0.0.1",
                                      _fill(request["body"], names))
            answers.append({"status": status, "answer": answer})
        return tuple(answers)
    finally:
        a.stop()
        b.stop()


@pytest.mark.parametrize("index", range(len(EXCHANGES)),
                         ids=[f"{e['family']}: {e['title']}" for e in EXCHANGES])
def test_the_double_answers_as_recorded(index: int) -> None:
    exchange, got = EXCHANGES[index], replay()[index]
    request = exchange["request"]
    assert got["status"] == exchange["status"], (request["method"], request["path"], got["answer"])
    problems = _differences(exchange["shape"], DERIVE.shape(got["answer"]))
    problems += _differences(exchange["values"], {k: v for k, v in DERIVE.values(got["answer"]).items()
                                                  if k in exchange["values"]})
    if "error" in exchange:
        problems += _differences(exchange["error"], {k: got["answer"].get(k) for k in exchange["error"]})
    assert not problems, "\n".join(problems)


def test_every_family_and_behaviour_is_replayed() -> None:
    families = {e["family"] for e in EXCHANGES}
    assert families == set(DERIVE.FAMILY_ORDER)
    assert len(EXCHANGES) >= 100


if RECORDED.is_dir():  # defined only where the recordings are at hand: a plain clone has the fixture alone
    def test_fixture_is_what_the_script_derives_from_the_recordings() -> None:
        derived = DERIVE.derive(RECORDED)
        assert json.loads(FIXTURE.read_text(encoding="utf-8")) == derived
