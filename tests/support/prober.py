"""A client that keeps asking the serving Service for an answer while something happens.

Each request opens a new connection (as kube-proxy balances them). A connection refused
before the request was sent is retried up to CONNECT_RETRIES times, 0.1 s apart and
doubling, as an HTTP client with connect retries does (urllib3's Retry(connect=3)):
rarely (0 to 3 in 10,000 requests, around endpoint changes, twice in a row once under
heavy load) a new connection to the NodePort is refused during a rollout, and the cause
is not known yet (docs/local-platform.md). `refused` counts those; `failed` counts
requests that got no answer even so, or an error status.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

import requests

REQUEST_TIMEOUT_S = 5
CONNECT_RETRIES = 3


@dataclass
class Prober:
    """POST body to url (GET when body is None) every interval_s seconds (0: back to
    back) until the with-block ends."""

    url: str
    body: dict[str, Any] | None = None
    interval_s: float = 0.0
    sent: int = 0
    ok: int = 0
    refused: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)

    def _request(self) -> requests.Response:
        kwargs: dict[str, Any] = {"timeout": REQUEST_TIMEOUT_S, "headers": {"Connection": "close"}}
        if self.body is not None:
            kwargs["json"] = self.body
        method = requests.post if self.body is not None else requests.get
        for attempt in range(CONNECT_RETRIES):
            try:
                return method(self.url, **kwargs)
            except requests.ConnectionError as e:
                if "Connection refused" not in str(e):
                    raise
                self.refused.append(time.strftime("%T"))
                time.sleep(0.1 * 2**attempt)
        return method(self.url, **kwargs)

    def run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.sent += 1
            try:
                r = self._request()
                if r.status_code == 200:
                    self.ok += 1
                else:
                    self.failed.append(f"{r.status_code} {r.text[:100]}")
            except requests.RequestException as e:
                self.failed.append(f"{time.strftime('%T')} {type(e).__name__}: {str(e)[-90:]}")

    def summary(self) -> str:
        return (f"{self.ok} of {self.sent} requests answered, {len(self.failed)} failed "
                f"{self.failed[:3]}, {len(self.refused)} connects refused and retried")  # fmt: skip

    def __enter__(self) -> Prober:
        self._thread = threading.Thread(target=self.run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
