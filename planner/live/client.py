"""One MISP instance's REST API, read-only, with errors a person can act on.

Only GET requests are ever sent. Every failure becomes a `LiveError` naming the instance and what
to do: the instance cannot be reached, its TLS certificate is refused, the key is refused
(MISP answers 403 "Authentication failed", AppController::__sessionMassage), the key's user lacks
a permission (403 "You do not have permission to use this functionality"), or the server does
not answer as MISP does (not JSON, no version). The key travels only in the Authorization header
and is never part of a message.
"""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any

TIMEOUT_SECONDS = 20.0
# MISP's index endpoints page with `limit` and `page` (AppController's paginate settings); a page
# shorter than the limit is the last, so an instance with fewer entries is read in one request.
PAGE_LIMIT = 1000


# The codes `explain` prints for each kind of failure (planner/codes.py).
CODES = {"unreachable": "MP050", "tls": "MP051", "auth": "MP052", "permission": "MP053", "not-misp": "MP054",
         "no-key": "MP055"}


class LiveError(Exception):
    """An instance could not be read; `kind` is one of CODES."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind

    @property
    def code(self) -> str:
        return CODES[self.kind]

    def line(self, instance: str) -> str:
        return f"error {self.code}: {instance}: {self}"


@dataclass
class MispClient:
    url: str
    key: str
    verify_tls: bool = True
    timeout: float = TIMEOUT_SECONDS
    _context: ssl.SSLContext | None = field(default=None, init=False, repr=False)

    def __repr__(self) -> str:  # never the key, not even in a traceback's locals
        return f"MispClient({self.url!r})"

    def get(self, path: str) -> Any:
        request = urllib.request.Request(self.url.rstrip("/") + path, method="GET", headers={
            "Authorization": self.key, "Accept": "application/json", "Content-Type": "application/json",
            "User-Agent": "misp-planner"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout, context=self._tls()) as response:
                raw = response.read()
        except urllib.error.HTTPError as error:
            raise self._refused(error, path) from None
        except urllib.error.URLError as error:
            reason = error.reason
            if isinstance(reason, ssl.SSLError):
                raise LiveError("tls", f"the TLS handshake with {self.url} failed ({_short(reason)}); is the URL's "
                                "scheme right, and is its certificate trusted by this machine (--insecure for a "
                                "test instance)?") from None
            raise LiveError("unreachable", f"{self.url} cannot be reached ({_short(reason)}); check the URL, "
                            "DNS and the firewall") from None
        except TimeoutError:
            raise LiveError("unreachable", f"{self.url} did not answer within {self.timeout:g}s") from None
        except (ConnectionError, OSError) as error:
            raise LiveError("unreachable", f"{self.url} cannot be reached ({_short(error)})") from None
        try:
            return json.loads(raw)
        except ValueError:
            raise LiveError("not-misp", f"{self.url}{path} did not answer JSON; is {self.url} a MISP instance "
                            "(its MISP.baseurl)?") from None

    def _tls(self) -> ssl.SSLContext | None:
        """One context per client: loading the system's CA certificates costs more than a request."""
        if not self.url.startswith("https:"):
            return None
        if self._context is None:
            self._context = ssl.create_default_context()
            if not self.verify_tls:
                self._context.check_hostname = False
                self._context.verify_mode = ssl.CERT_NONE
        return self._context

    def pages(self, path: str) -> list[Any]:
        """Every entry of an index endpoint, page by page."""
        entries: list[Any] = []
        page = 1
        while True:
            answer = self.get(f"{path}?limit={PAGE_LIMIT}&page={page}")
            batch = answer.get("response", answer) if isinstance(answer, dict) else answer
            if not isinstance(batch, list):
                raise LiveError("not-misp", f"{self.url}{path} did not answer a list as MISP does")
            entries.extend(batch)
            if len(batch) < PAGE_LIMIT:
                return entries
            page += 1

    def _refused(self, error: urllib.error.HTTPError, path: str) -> LiveError:
        try:
            body = json.loads(error.read() or b"{}")
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return LiveError("not-misp", f"{self.url}{path} answered HTTP {error.code} without MISP's JSON error; "
                             f"is {self.url} a MISP instance?")
        message = str(body.get("message") or body.get("name") or "")
        if error.code in (401, 403) and "Authentication failed" in message:
            return LiveError("auth", f"{self.url} refused the API key (Authentication failed); check the key, "
                             "its expiry and its allowed IPs")
        if error.code == 403:
            return LiveError("permission", f"{self.url} refused {path}: {message or 'forbidden'}; the key must "
                             "belong to a site admin")
        return LiveError("not-misp", f"{self.url}{path} answered HTTP {error.code}: {message}")


def _short(reason: object) -> str:
    text = str(getattr(reason, "reason", None) or getattr(reason, "strerror", None) or reason)
    return text[:160]
