"""Run a serving image and smoke-test it the way the original pipeline's API test did.

Ready on /readyz, /version names the expected code revision and model version, and the
card's golden inputs score to the card's predictions (and probabilities, for a
classifier), whatever the model's task.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import docker
import docker.errors
from docker.models.containers import Container

from modelcard import ModelCard

log = logging.getLogger(__name__)

READY_TIMEOUT_S = 60.0
HTTP_TIMEOUT_S = 5.0
TOLERANCE = 1e-9


class SmokeTestError(Exception):
    """The container did not start or did not answer as its model card says."""


def http_json(url: str, body: object | None = None) -> tuple[int, dict[str, str], object]:
    """(status, headers, the JSON value of the body) of a request to url."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=HTTP_TIMEOUT_S) as r:
            return r.status, dict(r.headers), json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), json.loads(e.read() or b"null")


@contextlib.contextmanager
def running(client: docker.DockerClient, reference: str, name: str) -> Iterator[str]:
    """Run the image hardened as in the cluster; yield its base URL on 127.0.0.1."""
    exposed = exposed_port(client, reference)
    # ("127.0.0.1", None) binds the loopback interface on a port the engine picks, as
    # docker-py documents; types-docker's `ports` admits only (host, int).
    container: Container = client.containers.run(  # type: ignore[call-overload]
        reference,
        name=name,
        detach=True,
        read_only=True,
        cap_drop=["ALL"],
        security_opt=["no-new-privileges"],
        ports={exposed: ("127.0.0.1", None)},
        environment={"GUNICORN_WORKERS": "1"},
    )
    try:
        container.reload()
        port = container.attrs["NetworkSettings"]["Ports"][exposed][0]["HostPort"]
        base = f"http://127.0.0.1:{port}"
        wait_ready(container, base)
        yield base
    finally:
        with contextlib.suppress(docker.errors.NotFound):
            container.remove(force=True)


def exposed_port(client: docker.DockerClient, reference: str) -> str:
    """The one port the image EXPOSEs ("8080/tcp"): the image says where its app listens."""
    ports: list[str] = sorted(
        client.images.get(reference).attrs["Config"].get("ExposedPorts") or {}
    )
    if len(ports) != 1:
        raise SmokeTestError(f"image {reference} exposes {ports or 'no port'}, not one port")
    return ports[0]


def wait_ready(container: Container, base: str, timeout: float = READY_TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        container.reload()
        if container.status in ("exited", "dead"):
            logs = container.logs(tail=20).decode(errors="replace")
            raise SmokeTestError(f"container exited before it was ready:\n{logs}")
        with contextlib.suppress(OSError):
            if http_json(f"{base}/readyz")[0] == 200:
                return
        time.sleep(0.05)  # every smoke test waits here: a start is a second or two
    logs = container.logs(tail=20).decode(errors="replace")
    raise SmokeTestError(f"container not ready on /readyz within {timeout:.0f} s:\n{logs}")


def wait_url_ready(base: str, timeout: float = READY_TIMEOUT_S) -> None:
    """/readyz answers 200 at base (e.g. a Service, which answers shortly after its rollout)."""
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        try:
            status = http_json(f"{base}/readyz")[0]
            if status == 200:
                return
            last = f"status {status}"
        except (OSError, ValueError) as e:  # refused, reset, or not JSON yet
            last = e
        time.sleep(0.25)
    raise SmokeTestError(f"{base}/readyz did not answer 200 within {timeout:.0f} s (last: {last})")


def _json_object(value: object, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise SmokeTestError(f"{what} answered {value!r}, not a JSON object")
    return value


def golden_problems(
    scores: dict[str, Any], predictions: tuple[Any, ...], probabilities: tuple[Any, ...] | None,
    rtol: float = 0.0, atol: float = TOLERANCE,
) -> list[str]:  # fmt: skip
    """How /score's answer differs from the card's golden set (nothing: an empty list).

    Numbers match within atol + rtol * |golden|: the skops runtime gives the estimator's
    own answers, an ONNX graph those within the tolerance its card records.
    """
    problems = []
    got = scores.get("predictions")
    if not isinstance(got, list) or len(got) != len(predictions):
        return [f"/score answered predictions {got!r} for {len(predictions)} golden rows"]
    for i, (g, w) in enumerate(zip(got, predictions, strict=True)):
        numeric = isinstance(w, float) and isinstance(g, int | float)
        if (abs(g - w) > atol * max(1.0, abs(w)) + rtol * abs(w)) if numeric else g != w:
            problems.append(f"golden row {i} predicted {g!r}, the card says {w!r}")
    for i, (g, w) in enumerate(
        zip(scores.get("probabilities") or [], probabilities or [], strict=False)
    ):
        if any(abs(a - b) > atol + rtol * abs(b) for a, b in zip(g, w, strict=True)):
            problems.append(f"golden row {i} scored {g}, the card says {w}")
    if probabilities is not None and len(scores.get("probabilities") or []) != len(probabilities):
        problems.append("/score answered no probabilities for the golden rows")
    return problems


def smoke_test(base: str, card: dict[str, Any], revision: str) -> dict[str, Any]:
    """Check /version and the golden set; return the /version document."""
    problems: list[str] = []
    version = _json_object(http_json(f"{base}/version")[2], "/version")
    if version.get("code_revision") != revision:
        problems.append(f"/version code_revision {version.get('code_revision')!r} != {revision!r}")
    if version.get("model_version") != card["model_version"]:
        problems.append(
            f"/version model_version {version.get('model_version')!r} != {card['model_version']!r}"
        )
    parsed = ModelCard.from_dict(card)
    golden = parsed.golden
    # The image serves the ONNX graph when the card has one (serving/runtimes.py).
    tolerance = {"rtol": parsed.onnx.rtol, "atol": max(parsed.onnx.atol, TOLERANCE)} if (
        parsed.onnx) else {}  # fmt: skip
    status, headers, scored = http_json(f"{base}/score", {"input": golden.inputs})
    if status != 200:
        problems.append(f"/score on the golden set answered {status}: {scored}")
    else:
        problems += golden_problems(_json_object(scored, "/score"), golden.predictions,
                                    golden.probabilities, **tolerance)  # fmt: skip
        if headers.get("X-Model-Version") != card["model_version"]:
            problems.append(f"X-Model-Version header {headers.get('X-Model-Version')!r}")
    if problems:
        raise SmokeTestError("smoke test failed: " + "; ".join(problems))
    return version
