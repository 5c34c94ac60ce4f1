"""The MISP test double itself: behaviour the suite relies on beyond single answers."""

from __future__ import annotations

import socket
import threading
from typing import Any

from misp_test_server.server import RunningDouble, dispatch


def test_a_double_answers_while_its_connection_test_waits_on_the_remote() -> None:
    """Two instances testing each other's links at once (hub and partner in every apply) must not
    wait on each other: a real MISP serves other requests while one waits on a remote."""
    double = RunningDouble("A")
    silent = socket.socket()  # a remote that takes the connection and never answers
    silent.bind(("127.0.0.1", 0))
    silent.listen(1)
    try:
        state = double.state
        _, entry = dispatch(state, "POST", "/servers/add", state.admin_key, "127.0.0.1",
                            {"name": "silent", "url": f"http://127.0.0.1:{silent.getsockname()[1]}",
                             "remote_org_id": 1, "authkey": "A" * 40})
        tested: list[Any] = []
        waiting = threading.Thread(target=lambda: tested.append(dispatch(
            state, "GET", f"/servers/testConnection/{entry['Server']['id']}", state.admin_key, "127.0.0.1", None)))
        waiting.start()
        while not any(r.path.startswith("/servers/testConnection") for r in list(state.requests)):
            waiting.join(0.01)
        answered: list[Any] = []
        other = threading.Thread(target=lambda: answered.append(dispatch(
            state, "GET", "/servers/getVersion", state.admin_key, "127.0.0.1", None)))
        other.start()
        other.join(5)  # the test waits 10 s on the silent remote: an answer before then did not queue behind it
        assert answered and answered[0][0] == 200
        assert waiting.is_alive()
    finally:
        silent.close()  # the waiting test now fails fast: the remote reset the connection
        waiting.join()
        double.stop()
    assert tested[0][1]["status"] == 2  # unreachable
