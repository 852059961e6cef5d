"""Fixtures that hand integration tests real clients for the local platform.

The platform is brought up once per session with the same `up()` that
`python -m devplatform up` runs; on a fresh machine that installs and builds
(a few minutes), afterwards it takes about a second. If it cannot come up, every test
that needs it FAILS with the reason: a missing platform is a broken build, not a skip.
"""

from __future__ import annotations

import contextlib
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import docker
import kubernetes
import pytest
from azure.storage.blob import BlobServiceClient

import devplatform
from devplatform import azurite, docker_engine, k8s_cluster, registry, seaweedfs
from devplatform import mlflow as mlflow_server
from devplatform.layout import Layout
from devplatform.layout import load as load_layout
from liveline import images, modelstore, settings
from liveline.modelstore import mlflow_rest, s3
from tests.support import models, stores
from tests.support.mlflow_kit import MlflowKit

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests that stop and restart the cluster run last, in their own order. A warm
    cluster start can leave the kwok controller stalled (README, known issues), which
    only pods pinned to the kwok node meet: no such test may come after a restart.
    Before them, the tests of the S3 store: SeaweedFS compiles in the background
    meanwhile (minutes on a fresh machine, while the other tests leave a core idle)."""

    def uses_s3(item: pytest.Item) -> bool:
        params = getattr(item, "callspec", None)
        chosen = params.params if params else {}
        return "s3" in (chosen.get("store"), chosen.get("model_store")) or (
            "s3_client" in getattr(item, "fixturenames", ())
        )

    items.sort(key=lambda item: (item.get_closest_marker("restarts_cluster") is not None,
                                 uses_s3(item)))  # fmt: skip


@pytest.fixture(scope="session", autouse=True)
def _node_port_left_to_the_cluster() -> Iterator[None]:
    """Test deployments get a NodePort the cluster chooses, so the fixed one
    (LIVELINE_K8S_NODE_PORT, 30080) stays free for `make demo` after `make test`;
    test_graph_deploy pins one of its own to test the pinning."""
    with pytest.MonkeyPatch.context() as env:
        env.setenv("LIVELINE_K8S_NODE_PORT", "0")
        yield


@pytest.fixture(scope="session")
def local_platform() -> Layout:
    """The running local platform's layout (settings and state paths)."""
    lay = load_layout()
    try:
        devplatform.up(lay)
    except devplatform.PlatformError as e:
        pytest.fail(f"the local platform could not come up:\n{e}", pytrace=False)
    return lay


@pytest.fixture(scope="session", autouse=True)
def _seaweedfs_built_meanwhile(local_platform: Layout) -> Iterator[None]:
    """Compile SeaweedFS (niced) while the tests that need no S3 run: they come first
    (pytest_collection_modifyitems), and the S3 server's start waits for this build."""

    def build() -> None:
        # A failed build shows where it matters: up_s3 in the S3 tests builds again.
        with contextlib.suppress(devplatform.PlatformError):
            seaweedfs.ensure_built(local_platform)

    builder = threading.Thread(target=build, name="seaweedfs-build", daemon=True)
    builder.start()
    yield
    builder.join(timeout=seaweedfs.BUILD_TIMEOUT_S)  # never leave the go build running


@pytest.fixture(scope="session")
def docker_client(local_platform: Layout) -> Iterator[docker.DockerClient]:
    client = docker_engine.client(local_platform)
    yield client
    client.close()


@pytest.fixture(scope="session")
def registry_url(local_platform: Layout) -> str:
    """e.g. http://127.0.0.1:5000"""
    return registry.url(local_platform)


@pytest.fixture(scope="session")
def blob_service(local_platform: Layout) -> Iterator[BlobServiceClient]:
    """Azurite through the dev account key (Azurite runs with --skipApiVersionCheck)."""
    with azurite.blob_service(local_platform) as client:
        yield client


@pytest.fixture(scope="session")
def bounded_blob_service(local_platform: Layout) -> Iterator[BlobServiceClient]:
    """Azurite through the client production uses: retries that give up in seconds."""
    with modelstore.connect(local_platform.settings.blob_account_url, bounded=True) as client:
        yield client


@pytest.fixture(scope="session")
def s3_client(local_platform: Layout) -> Iterator[S3Client]:
    """The local S3 server (SeaweedFS), started for the tests whatever the settings
    choose: the model store's contract tests run against every store."""
    try:
        devplatform.control.up_s3(local_platform)
    except devplatform.PlatformError as e:
        pytest.fail(f"the local S3 server could not come up:\n{e}", pytrace=False)
    s = local_platform.settings
    client = s3.client(s.local_s3_url, s.s3_region)
    yield client
    client.close()


def _bucket_kit(kind: str, request: pytest.FixtureRequest) -> stores.Kit:
    """A container or bucket of the test's own (created by the code under test)."""
    name = f"test-models-{uuid.uuid4().hex[:12]}"
    if kind == "s3":
        return stores.S3Kit(request.getfixturevalue("s3_client"), name)
    bounded = request.getfixturevalue("bounded_blob_service")
    return stores.AzureKit(request.getfixturevalue("blob_service"), name, bounded)


@pytest.fixture(params=stores.STORES)
def store(request: pytest.FixtureRequest) -> Iterator[stores.Kit]:
    """Each object store in turn, with a container or bucket of the test's own, deleted
    afterwards."""
    kit = _bucket_kit(request.param, request)
    yield kit
    kit.delete()


@pytest.fixture(scope="session")
def other_model_dir(tmp_path_factory) -> Path:
    """Another version of the model (another C), published after the default one."""
    return models.write(models.train(C=0.5), tmp_path_factory.mktemp("other"))


@pytest.fixture(scope="session")
def mlflow_client(local_platform: Layout) -> Iterator[mlflow_rest.Client]:
    """The local MLflow tracking server, started for the tests whatever the settings
    choose: the model store's contract tests run against every store."""
    try:
        devplatform.control.up_mlflow(local_platform)
    except devplatform.PlatformError as e:
        pytest.fail(f"the local MLflow server could not come up:\n{e}", pytrace=False)
    client = mlflow_rest.Client(local_platform.settings.local_mlflow_url)
    yield client
    client.close()


@pytest.fixture
def mlflow_kit(local_platform: Layout, mlflow_client, card) -> Iterator[MlflowKit]:
    """The MLflow store alone, the registered model of the test's card deleted after."""
    artifacts = mlflow_server.data(local_platform) / "artifacts"
    kit = MlflowKit(mlflow_client, [card["model_name"]], artifacts,
                           mlflow_server.python(local_platform),
                           mlflow_server.quiet_env(local_platform))  # fmt: skip
    yield kit
    kit.delete()


@pytest.fixture(params=stores.MODEL_STORES)
def model_store(
    request: pytest.FixtureRequest, local_platform: Layout, card: dict
) -> Iterator[stores.StoreKit]:
    """Each model store in turn behind the ModelStore interface: a container or bucket
    of the test's own, or the registered model of the test's card, deleted afterwards."""
    kit: stores.StoreKit
    if request.param == "mlflow":
        yield request.getfixturevalue("mlflow_kit")
        return
    kit = stores.ObjectKit(_bucket_kit(request.param, request))
    yield kit
    kit.delete()


@pytest.fixture(scope="session")
def kube_api(local_platform: Layout) -> Iterator[kubernetes.client.ApiClient]:
    """The local cluster's API (the kubeconfig `up` wrote into the state folder)."""
    with k8s_cluster.api_client(local_platform) as api:
        yield api


@pytest.fixture(scope="session")
def serving_build(
    local_platform: Layout, docker_client, tmp_path_factory, model_dir_pristine
) -> str:
    """The project's serving image of HEAD with the test model, built once: a runnable
    image for tests whose pods must really start on the real node. Its local tag."""
    s = local_platform.settings
    source = tmp_path_factory.mktemp("head-source")
    revision = images.export_commit(settings.REPO_ROOT, "HEAD", source)
    context, args = images.prepare(
        source, model_dir_pristine, tmp_path_factory.mktemp("head-context"), s.wheels_dir,
        revision=revision, source_label="test", base_image=s.base_image, build_image=s.build_image,
        created="2026-01-01T00:00:00Z",
    )  # fmt: skip
    tag = "liveline/test-serving:head"
    images.build(docker_client, context, tag, args)
    return tag
