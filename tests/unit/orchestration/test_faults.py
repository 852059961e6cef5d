"""Transient or permanent: which step failures are retried, and what they say."""

# No `from __future__ import annotations`: Dagster reads the test assets' annotations.

import pytest
import requests
import urllib3
from azure.core.exceptions import ResourceNotFoundError, ServiceRequestError
from botocore.exceptions import ClientError, EndpointConnectionError
from dagster import AssetExecutionContext, Failure, asset, materialize
from docker.errors import DockerException
from kubernetes.client import ApiException

from liveline import settings
from liveline.modelstore import mlflow_rest
from orchestration import faults

S = settings.load({})


def wrapped(inner: BaseException, outer: type[Exception] = RuntimeError) -> Exception:
    try:
        try:
            raise inner
        except BaseException as e:
            raise outer("while publishing the model") from e
    except Exception as e:
        return e


def test_connection_failures_anywhere_in_the_chain_are_transient():
    refused = ConnectionRefusedError(111, "Connection refused")
    assert faults.is_transient(refused)
    assert faults.is_transient(wrapped(refused))
    assert faults.is_transient(ServiceRequestError("<urllib3 ...> 127.0.0.1:10000 refused"))
    assert faults.is_transient(requests.exceptions.ConnectionError("127.0.0.1:5000"))
    assert faults.is_transient(urllib3.exceptions.MaxRetryError(None, "/v2/", "refused"))
    assert faults.is_transient(ApiException(status=503))
    pushed = 'push failed: Get "http://127.0.0.1:5000/v2/": dial tcp 127.0.0.1:5000: connect: '
    assert faults.is_transient(RuntimeError(pushed + "connection refused"))
    assert faults.is_transient(
        DockerException("Error while fetching server API version: Connection refused")
    )


def test_answers_that_will_not_change_are_permanent():
    assert not faults.is_transient(ValueError("artifact sha256 does not match its card"))
    assert not faults.is_transient(ApiException(status=422))
    assert not faults.is_transient(ResourceNotFoundError("no such blob"))
    assert not faults.is_transient(Failure("smoke test failed"))


def test_the_error_names_the_component_and_what_to_do():
    cases = {
        "HTTPConnectionPool(host='127.0.0.1', port=10000): refused": "Azure Blob Storage",
        "HTTPConnectionPool(host='127.0.0.1', port=5000): refused": "the container registry",
        "HTTPSConnectionPool(host='127.0.0.1', port=6443): refused": "the Kubernetes API",
        "('Connection aborted.', FileNotFoundError(2, 'No such file')) /var/run/docker.sock": (
            "the Docker engine"
        ),
    }
    for text, name in cases.items():
        message = str(faults.unavailable(wrapped(ConnectionError(text)), S))
        assert message.startswith(name) and "make up" in message, message


def test_an_s3_outage_is_transient_and_named_a_refused_request_is_not():
    s3 = settings.load({"LIVELINE_MODEL_STORE": "s3"})
    down = EndpointConnectionError(endpoint_url=f"{s3.local_s3_url}/liveline-models/x")
    assert faults.is_transient(wrapped(down))
    message = str(faults.unavailable(wrapped(down), s3))
    assert message.startswith(f"S3 (127.0.0.1:{s3.seaweedfs_port})") and "make up" in message
    slow = ClientError(
        {"Error": {"Code": "SlowDown"}, "ResponseMetadata": {"HTTPStatusCode": 503}}, "PutObject"
    )
    assert faults.is_transient(slow)
    denied = ClientError(
        {"Error": {"Code": "AccessDenied"}, "ResponseMetadata": {"HTTPStatusCode": 403}},
        "PutObject",
    )
    assert not faults.is_transient(denied)


def test_an_mlflow_outage_is_transient_and_named_a_refused_request_is_not():
    s = settings.load({"LIVELINE_MODEL_STORE": "mlflow"})
    with pytest.raises(mlflow_rest.RegistryUnavailable) as down:  # nothing listens there
        mlflow_rest.Client("http://127.0.0.1:9", attempts=1).get("experiments/search")
    assert faults.is_transient(wrapped(down.value))
    assert faults.is_transient(mlflow_rest.RegistryUnavailable("HTTP 503"))
    failed = mlflow_rest.RegistryUnavailable(f"MLflow at {s.local_mlflow_url} failed: HTTP 503")
    message = str(faults.unavailable(wrapped(failed), s))
    assert message.startswith(f"MLflow (127.0.0.1:{s.mlflow_port})") and "make up" in message
    refused = mlflow_rest.RegistryError(404, "RESOURCE_DOES_NOT_EXIST", "no such model")
    assert not faults.is_transient(wrapped(refused))


def test_a_step_retries_an_outage_but_not_a_permanent_failure(tmp_path):
    calls = {"flaky": 0, "broken": 0}

    @asset(retry_policy=faults.RETRY.__class__(max_retries=2, delay=0))
    @faults.classified
    def flaky(context: AssetExecutionContext) -> None:
        """Fails once as a refused connection would, then works."""
        calls["flaky"] += 1
        if calls["flaky"] == 1:
            raise ServiceRequestError("127.0.0.1:10000: Connection refused")
        context.log.info("answered")

    @asset(retry_policy=faults.RETRY.__class__(max_retries=2, delay=0))
    @faults.classified
    def broken() -> None:
        """Fails as a tampered model would: no retry helps."""
        calls["broken"] += 1
        raise ValueError("artifact sha256 does not match its card")

    assert materialize([flaky]).success and calls["flaky"] == 2
    result = materialize([broken], raise_on_error=False)
    assert not result.success and calls["broken"] == 1
    (failure,) = result.get_step_failure_events()
    assert "does not match its card" in str(failure.event_specific_data.error)


def test_an_unreachable_docker_engine_is_named_though_its_error_names_no_address():
    error = wrapped(
        DockerException(
            "Error while fetching server API version: ('Connection aborted.', "
            "FileNotFoundError(2, 'No such file or directory'))"
        )
    )
    assert str(faults.unavailable(error, S)).startswith("the Docker engine")
