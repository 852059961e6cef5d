"""The MLflow tracking server's REST API (2.0), with requests.

Hand-written over `requests` rather than the `mlflow` client on purpose: importing
mlflow costs 4-10 s and about 170 MB (docs/research/issue17-mlflow-registry.md), which
every sensor tick's process and every serving build would pay, and its dependencies pin
versions that clash with Dagster's. The few calls Liveline makes are documented REST
endpoints; artifacts go through the server's proxy (`mlflow server --serve-artifacts`,
the default), so no cloud storage credentials are needed here.

Credentials: MLflow's own MLFLOW_TRACKING_TOKEN (a bearer token) or
MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD, read from the environment and
never logged. Every call has a timeout; connection failures and 5xx answers are retried
a bounded number of times, then raised as RegistryUnavailable.
"""

from __future__ import annotations

import os
import time
from typing import Any
from urllib.parse import quote

import requests

API = "/api/2.0/mlflow"
ARTIFACTS = "/api/2.0/mlflow-artifacts/artifacts"
TIMEOUT_S = (5.0, 60.0)  # connect, read
ATTEMPTS = 3
BACKOFF_S = 0.5  # doubling between attempts


class RegistryUnavailable(Exception):
    """The tracking server did not answer, or failed (5xx), after the retries."""


class RegistryError(Exception):
    """The server refused a request (4xx): error_code says why (RESOURCE_DOES_NOT_EXIST...)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{code or status}: {message}")
        self.status, self.code = status, code


class Client:
    """One tracking server; closes its HTTP session on close()."""

    def __init__(self, url: str, attempts: int = ATTEMPTS) -> None:
        self.url = url.rstrip("/")
        self.attempts = attempts
        self.session = requests.Session()
        if token := os.environ.get("MLFLOW_TRACKING_TOKEN"):
            self.session.headers["Authorization"] = f"Bearer {token}"
        elif user := os.environ.get("MLFLOW_TRACKING_USERNAME"):
            self.session.auth = (user, os.environ.get("MLFLOW_TRACKING_PASSWORD", ""))

    def close(self) -> None:
        self.session.close()

    def get(self, endpoint: str, **params: Any) -> dict[str, Any]:
        return self._json("GET", f"{API}/{endpoint}", params=params)

    def post(self, endpoint: str, **body: Any) -> dict[str, Any]:
        return self._json("POST", f"{API}/{endpoint}", json=body)

    def delete(self, endpoint: str, **body: Any) -> dict[str, Any]:
        return self._json("DELETE", f"{API}/{endpoint}", json=body)

    def upload(self, path: str, data: bytes) -> None:
        """One artifact, at its path under the server's artifact root."""
        self._send("PUT", f"{ARTIFACTS}/{quote(path)}", data=data)

    def download(self, path: str) -> bytes:
        return self._send("GET", f"{ARTIFACTS}/{quote(path)}").content

    def list_artifacts(self, path: str) -> dict[str, int]:
        """The files directly under path: name -> size."""
        got = self._json("GET", ARTIFACTS, params={"path": path})
        return {
            f["path"].rpartition("/")[2]: int(f.get("file_size", 0))
            for f in got.get("files", [])
            if not f.get("is_dir")
        }

    def _json(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        answer = self._send(method, path, **kwargs)
        return answer.json() if answer.content else {}

    def _send(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        for attempt in range(self.attempts):
            last = attempt == self.attempts - 1
            try:
                answer = self.session.request(method, self.url + path, timeout=TIMEOUT_S, **kwargs)
            except (requests.ConnectionError, requests.Timeout) as e:
                if last:
                    raise RegistryUnavailable(
                        f"MLflow at {self.url} did not answer {method} {path}: {e}"
                    ) from e
            else:
                if answer.status_code < 500:
                    if answer.status_code >= 400:
                        raise _refusal(answer)
                    return answer
                if last:
                    raise RegistryUnavailable(
                        f"MLflow at {self.url} failed {method} {path}: HTTP "
                        f"{answer.status_code} {answer.text[:300]}"
                    )
            time.sleep(BACKOFF_S * 2**attempt)
        raise AssertionError("unreachable")


def _refusal(answer: requests.Response) -> RegistryError:
    try:
        body = answer.json()
    except ValueError:
        body = {}
    message = body.get("message") or answer.text[:300] or answer.reason
    return RegistryError(answer.status_code, body.get("error_code", ""), message)
