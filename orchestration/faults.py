"""Which failures a step retries: a service that did not answer is transient, anything
else is permanent.

Every step that talks to a service (the model store, the Docker engine, the registry,
the Kubernetes API) carries RETRY and is wrapped by `@classified`:

- an error caused, anywhere in its chain, by a connection that failed or timed out
  becomes ServiceUnavailable, naming the component, its address and what to do; the
  step's RetryPolicy runs it again with exponential backoff;
- any other error (a tampered model, a broken build, a failed smoke test, a rollout past
  its deadline) becomes a Failure with allow_retries=False: running it again would fail
  the same way, so it fails at once with its own message.

Written by hand because each client library (azure-core, botocore, requests/urllib3
under docker and MLflow's REST client, urllib3 under kubernetes) reports "the service did
not answer" with its own exception types; Dagster's RetryPolicy alone retries everything,
permanent failures included.
"""

# No `from __future__ import annotations`: Dagster reads the wrapped functions' annotations.

import functools
import http.client
import re
import socket
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import requests
import urllib3
from azure.core.exceptions import ServiceRequestError, ServiceResponseError
from botocore.exceptions import ClientError as BotoClientError
from botocore.exceptions import ConnectionError as BotoConnectionError
from botocore.exceptions import HTTPClientError as BotoHTTPClientError
from dagster import Backoff, Failure, Jitter, RetryPolicy
from docker.errors import DockerException

from liveline import settings
from liveline.modelstore.mlflow_rest import RegistryUnavailable

# 3 retries at about 2, 4 and 8 s: a service restarting (Azurite ~1 s, the registry
# ~1 s, dockerd ~3 s, the API server ~5 s) is back within them; an outage is reported
# after about 15 s, and the release sensor requests the release again later.
RETRY = RetryPolicy(max_retries=3, delay=2, backoff=Backoff.EXPONENTIAL, jitter=Jitter.PLUS_MINUS)

TRANSIENT: tuple[type[BaseException], ...] = (
    ConnectionError,  # refused, reset, aborted (OSError subclasses)
    TimeoutError,
    socket.gaierror,
    http.client.RemoteDisconnected,
    requests.exceptions.ConnectionError,
    requests.exceptions.Timeout,
    urllib3.exceptions.MaxRetryError,
    urllib3.exceptions.NewConnectionError,
    urllib3.exceptions.ProtocolError,
    urllib3.exceptions.TimeoutError,
    ServiceRequestError,  # azure-core: the request never got an answer
    ServiceResponseError,
    BotoConnectionError,  # botocore: refused, timed out (EndpointConnectionError, ...)
    BotoHTTPClientError,  # botocore: read timeout, connection closed mid-answer
    RegistryUnavailable,  # the MLflow client: no answer, or 5xx, after its own retries
)
TRANSIENT_STATUS = {429, 502, 503, 504}  # HTTP answers that mean "try again"
# dockerd reports a registry it could not reach only as text in its push stream.
TRANSIENT_TEXT = re.compile(
    r"connection refused|connection reset by peer|i/o timeout|no route to host|"
    r"TLS handshake timeout|Client\.Timeout exceeded"
)


class ServiceUnavailable(Exception):
    """A service did not answer; the step may be retried."""


def chain(error: BaseException) -> list[BaseException]:
    """error and its causes and contexts, outermost first (each once)."""
    seen: list[BaseException] = []
    todo: list[BaseException | None] = [error]
    while todo:
        e = todo.pop(0)
        if e is None or any(e is s for s in seen):
            continue
        seen.append(e)
        todo += [e.__cause__, e.__context__]
    return seen


def is_transient(error: BaseException) -> bool:
    for e in chain(error):
        if isinstance(e, TRANSIENT):
            return True
        status = getattr(e, "status", None) or getattr(e, "status_code", None)
        if isinstance(e, BotoClientError):  # S3's SlowDown, ServiceUnavailable
            status = e.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if isinstance(status, int) and status in TRANSIENT_STATUS:
            return True
        if TRANSIENT_TEXT.search(str(e)):
            return True
        # docker-py reports an unreachable engine as a bare DockerException.
        if isinstance(e, DockerException) and "Error while fetching server API version" in str(e):
            return True
    return False


def components(s: settings.Settings) -> list[tuple[str, str, re.Pattern[str], str]]:
    """(component, address, how errors show that address, what to do) per service."""
    local = "start the local platform: `make up`"
    blob = urlsplit(s.models_account_url or f"http://{s.azurite_host}:{s.azurite_port}")
    blob_port = blob.port or 443
    docker = (s.docker_host or "unix:///var/run/docker.sock").removeprefix("unix://")
    s3 = urlsplit(s.s3_endpoint_url if "//" in s.s3_endpoint_url else s.local_s3_url)
    s3_port = s3.port or 443
    store = [("S3", f"{s3.hostname}:{s3_port}", _port(s3_port, s3.hostname),
              "check LIVELINE_S3_ENDPOINT_URL" if s.s3_endpoint_url else local)]  # fmt: skip
    if s.s3_endpoint_url == "aws":
        aws = re.compile(r"amazonaws\.com")
        store = [("S3", f"AWS {s.s3_region}", aws, "check the AWS region and network")]
    if s.model_store == "mlflow":
        mlflow = urlsplit(s.mlflow_tracking_uri or s.local_mlflow_url)
        mlflow_port = mlflow.port or (443 if mlflow.scheme == "https" else 80)
        fix = "check LIVELINE_MLFLOW_TRACKING_URI" if s.mlflow_tracking_uri else local
        address = f"{mlflow.hostname}:{mlflow_port}"
        store = [("MLflow", address, _port(mlflow_port, mlflow.hostname), fix)]
    return [*(store if s.model_store in ("s3", "mlflow") else []),
        ("Azure Blob Storage", f"{blob.hostname}:{blob_port}", _port(blob_port, blob.hostname),
         "check LIVELINE_MODELS_ACCOUNT_URL" if s.models_account_url else local),
        ("the container registry", f"{s.registry_host}:{s.registry_port}",
         _port(s.registry_port, s.registry_host),
         local if s.registry_auth == "none" else "check LIVELINE_REGISTRY_HOST and the ACR"),
        ("the Kubernetes API server", f"port {s.kube_apiserver_port}",
         _port(s.kube_apiserver_port, None),
         "check LIVELINE_KUBECONFIG and the cluster" if s.kubeconfig else local),
        ("the Docker engine", docker,
         re.compile(re.escape(docker) + r"|docker\.sock|server API version|docker\.errors"),
         "check LIVELINE_DOCKER_HOST" if s.docker_host else local),
    ]  # fmt: skip


def _port(port: int, host: str | None) -> re.Pattern[str]:
    """How urllib3, requests and azure-core mention host:port in their messages."""
    named = rf"host='{re.escape(host)}', port={port}\b" if host else rf"port={port}\b"
    return re.compile(rf"{named}|:{port}\b")


def unavailable(error: BaseException, s: settings.Settings) -> ServiceUnavailable:
    """A ServiceUnavailable naming the component the error came from, and what to do."""
    errors = chain(error)
    root = next((e for e in reversed(errors) if isinstance(e, TRANSIENT)), errors[-1])
    # Messages, and the exception types' modules (docker-py's errors name no address).
    text = " ".join(f"{type(e).__module__}.{type(e).__name__} {e}" for e in errors)
    where = f"{error}" if root is error else f"{error} ({type(root).__name__}: {root})"
    for name, address, pattern, todo in components(s):
        if pattern.search(text):
            return ServiceUnavailable(f"{name} ({address}) did not answer: {where}. To fix: {todo}")
    return ServiceUnavailable(f"a service did not answer: {where}. Is the platform up (`make up`)?")


def classified(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap a step's function: transient errors -> ServiceUnavailable (retried), other
    errors -> Failure(allow_retries=False), with the original as the cause."""

    @functools.wraps(fn)
    def step(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except Failure as e:
            if is_transient(e):
                raise unavailable(e, settings.load()) from e
            e.allow_retries = False
            raise
        except Exception as e:
            if is_transient(e):
                raise unavailable(e, settings.load()) from e
            raise Failure(description=str(e), allow_retries=False) from e

    return step
