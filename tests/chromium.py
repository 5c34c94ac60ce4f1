"""Debian's headless Chromium driven over the DevTools protocol, with the standard library only.

The browser talks over a pipe (``--remote-debugging-pipe``: commands on its fd 3, answers and
events on its fd 4, each a JSON message ending in a NUL byte), so no port is opened and no
websocket client is needed. Used by tests/test_report_browser.py and by
scripts/screenshot-reports.py (examples/*/report.png).
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# The flags this project runs Chromium with: nothing fetched in the background, a fresh profile.
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars", "--remote-debugging-pipe")
LOCAL_SCHEMES = ("file:", "data:", "about:", "blob:", "chrome:", "devtools:")


class BrowserError(RuntimeError):
    pass


class Page:
    """One tab: navigate, evaluate, screenshot, print; console errors and requests are recorded."""

    def __init__(self, width: int = 1400, height: int = 1000, timeout: float = 60.0) -> None:
        if CHROMIUM is None:
            raise BrowserError("Debian's chromium is not installed (apt-get install chromium)")
        self.timeout = timeout
        self.profile = tempfile.mkdtemp(prefix="misp-planner-chromium-")
        to_browser_r, to_browser_w = os.pipe()
        from_browser_r, from_browser_w = os.pipe()

        def pipes_on_3_and_4() -> None:
            high_in, high_out = os.dup(to_browser_r), os.dup(from_browser_w)
            os.dup2(high_in, 3)
            os.dup2(high_out, 4)

        self.process = subprocess.Popen(
            [str(CHROMIUM), *FLAGS, f"--user-data-dir={self.profile}", f"--window-size={width},{height}"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            # The pipes' other fds are not inheritable (PEP 446); the dup2 copies on 3 and 4 are.
            preexec_fn=pipes_on_3_and_4, close_fds=False)
        os.close(to_browser_r)
        os.close(from_browser_w)
        self._out = os.fdopen(to_browser_w, "wb", buffering=0)
        self._in = os.fdopen(from_browser_r, "rb", buffering=0)
        self._buffer = b""
        self._next = 0
        self.events: list[dict[str, Any]] = []
        target = self._call("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = self._call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.call(f"{domain}.enable")
        self.resize(width, height)

    # -- the protocol ------------------------------------------------------------------------------

    def _read(self) -> dict[str, Any]:
        """The next message. A printed PDF is one message of tens of MB: chunks are joined once."""
        deadline = time.monotonic() + self.timeout
        chunks = [self._buffer]
        while b"\0" not in chunks[-1]:
            if time.monotonic() > deadline:
                raise BrowserError("Chromium did not answer in time")
            chunk = self._in.read(1 << 20)
            if not chunk:
                raise BrowserError("Chromium closed the pipe")
            chunks.append(chunk)
        message, self._buffer = b"".join(chunks).split(b"\0", 1)
        data: dict[str, Any] = json.loads(message)
        return data

    def _call(self, method: str, params: dict[str, Any] | None = None, session: str | None = None) -> dict[str, Any]:
        self._next += 1
        message: dict[str, Any] = {"id": self._next, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        self._out.write(json.dumps(message).encode() + b"\0")
        while True:
            data = self._read()
            if data.get("id") == self._next:
                if "error" in data:
                    raise BrowserError(f"{method}: {data['error']}")
                result: dict[str, Any] = data.get("result", {})
                return result
            if "method" in data:
                self.events.append(data)

    def call(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        return self._call(method, params, self.session)

    def wait_for(self, method: str) -> dict[str, Any]:
        for event in self.events:
            if event["method"] == method:
                self.events.remove(event)
                return event
        while True:
            data = self._read()
            if data.get("method") == method:
                return data
            if "method" in data:
                self.events.append(data)

    # -- what the tests use ------------------------------------------------------------------------

    def resize(self, width: int, height: int) -> None:
        self.call("Emulation.setDeviceMetricsOverride",
                  {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})

    def open(self, url: str) -> None:
        self.events = [e for e in self.events if e["method"] != "Page.loadEventFired"]
        self.call("Page.navigate", {"url": url})
        self.wait_for("Page.loadEventFired")

    def evaluate(self, expression: str) -> Any:
        result = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                                "awaitPromise": True})
        if "exceptionDetails" in result:
            raise BrowserError(f"{expression[:80]}...: {result['exceptionDetails']}")
        return result["result"].get("value")

    def screenshot(self, path: Path, full_page: bool = False) -> None:
        params: dict[str, Any] = {"format": "png"}
        if full_page:
            size = self.call("Page.getLayoutMetrics")["cssContentSize"]
            params["clip"] = {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1}
            params["captureBeyondViewport"] = True
        path.write_bytes(base64.b64decode(self.call("Page.captureScreenshot", params)["data"]))

    def pdf(self, timeout: float = 900.0) -> bytes:
        """Printed as "Print to PDF" would: the page's own @page size (landscape) on A4. A report of
        hundreds of pages takes minutes."""
        self.timeout, before = timeout, self.timeout
        try:
                result = self.call("Page.printToPDF", {"landscape": True, "printBackground": True,
                                                   "paperWidth": 11.69, "paperHeight": 8.27,
                                                   "preferCSSPageSize": True})
        finally:
            self.timeout = before
        return base64.b64decode(result["data"])

    def console_errors(self) -> list[str]:
        """Console errors, uncaught exceptions and error log entries so far."""
        self.evaluate("0")  # flush events that arrived before now
        found = []
        for event in self.events:
            method, params = event["method"], event.get("params", {})
            if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                found.append(" ".join(str(a.get("value", a.get("description", ""))) for a in params["args"]))
            elif method == "Runtime.exceptionThrown":
                found.append(str(params["exceptionDetails"].get("exception", {}).get("description", params)))
            elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
                found.append(params["entry"]["text"])
        return found

    def requests_leaving(self) -> list[str]:
        """URLs of requests to anything but the page's own file (and data: / about:)."""
        self.evaluate("0")
        return [e["params"]["request"]["url"] for e in self.events
                if e["method"] == "Network.requestWillBeSent"
                and not e["params"]["request"]["url"].startswith(LOCAL_SCHEMES)]

    def close(self) -> None:
        with contextlib.suppress(BrowserError):
            self._call("Browser.close")
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._out.close()
        self._in.close()
        shutil.rmtree(self.profile, ignore_errors=True)

    def __enter__(self) -> Page:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()
