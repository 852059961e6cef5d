"""Resources carry their effective configuration, read from LIVELINE_* when the definitions
load, so the UI's resource view shows what a run uses."""

from __future__ import annotations

import pytest
from azure.identity import DefaultAzureCredential

from liveline import modelstore, settings
from liveline.modelstore import mlflow_rest, s3
from liveline.registry import Registry
from orchestration.definitions import defs
from orchestration.resources.blob_store import BlobStoreResource
from orchestration.resources.image_builder import ImageBuilderResource
from orchestration.resources.registry import RegistryResource


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for name in (
        "MODELS_ACCOUNT_URL",
        "MODELS_CONTAINER",
        "MODEL_STORE",
        "S3_ENDPOINT_URL",
        "S3_REGION",
        "MODELS_BUCKET",
        "REGISTRY_HOST",
        "REGISTRY_PORT",
        "REGISTRY_AUTH",
        "SERVING_REPOSITORY",
        "BASE_IMAGE",
        "DOCKER_HOST",
    ):
        monkeypatch.delenv(f"LIVELINE_{name}", raising=False)


def test_blob_store_defaults_to_azurite_with_the_dev_key():
    store = defs().resources["blob_store"]
    storage = store.storage()
    assert storage.account_url == settings.load().blob_account_url
    assert storage.credential.credential_type == "key"
    assert store.container == "models"
    # The emulator's public, well-known key; a real account never gets a key (below).
    with storage.get_client() as service:
        assert service.credential.account_key == settings.AZURITE_KEY


def test_blob_store_reads_the_environment_when_the_definitions_load(monkeypatch):
    before = defs().resources["blob_store"]  # loaded before these variables exist
    monkeypatch.setenv("LIVELINE_MODELS_ACCOUNT_URL", "https://acct.blob.core.windows.net")
    monkeypatch.setenv("LIVELINE_MODELS_CONTAINER", "models-prod")
    assert before.container == "models"  # a loaded code location keeps its values
    store = defs().resources["blob_store"]
    assert store.account_url == "https://acct.blob.core.windows.net"
    storage = store.storage()
    assert storage.account_url == "https://acct.blob.core.windows.net"
    # A real account never gets an account key: DefaultAzureCredential (workload identity).
    assert storage.credential.credential_type == "default_azure_credential"
    assert store.container == "models-prod"


@pytest.mark.parametrize(
    "url",
    [
        "https://acct.blob.core.windows.net",
        "https://acct.blob.core.chinacloudapi.cn",
        # Only a loopback host is the emulator: a name that merely starts like one is not.
        "https://127.0.0.1.example.net/devstoreaccount1",
        "https://localhost.example.net/devstoreaccount1",
    ],
)
def test_a_real_account_gets_a_token_credential_never_an_account_key(monkeypatch, url):
    """Production (a real account URL) builds clients on DefaultAzureCredential (workload
    identity on AKS); the emulator's well-known key never leaves the machine."""
    monkeypatch.setenv("LIVELINE_MODELS_ACCOUNT_URL", url)
    # What DefaultAzureCredential reads: a client is built, no token is asked for.
    for name in ("AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_CLIENT_SECRET"):
        monkeypatch.setenv(name, f"canary-{name.lower().replace('_', '-')}")
    # The asset graph's path (dagster-azure) and the library's (`liveline publish`).
    with defs().resources["blob_store"].storage().get_client() as service:
        clients = [service, modelstore.connect(url)]
        for client in clients:
            assert client.url.startswith(url)
            assert isinstance(client.credential, DefaultAzureCredential)
            assert not hasattr(client.credential, "account_key")  # what a shared key has
        clients[1].close()


def test_image_builder_shows_the_effective_engine_and_base(monkeypatch):
    monkeypatch.setenv("LIVELINE_BASE_IMAGE", "python:3.11-slim")
    monkeypatch.setenv("LIVELINE_BUILD_IMAGE", "python:3.11")
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    builder = defs().resources["image_builder"]
    assert builder.base_image == "python:3.11-slim"
    assert builder.build_image == "python:3.11"
    assert builder.docker_host == settings.DOCKER_SOCKET_DEFAULT
    assert builder.wheels_dir == str(settings.load().wheels_dir)
    assert isinstance(builder, ImageBuilderResource)


def test_cluster_shows_the_effective_kubeconfig_overlay_and_node_port(monkeypatch):
    for name in ("KUBECONFIG", "K8S_OVERLAY", "K8S_NODE_PORT", "CLUSTER_NODE"):
        monkeypatch.delenv(f"LIVELINE_{name}", raising=False)
    s = settings.load()
    local = defs().resources["cluster"]
    assert local.kubeconfig == str(s.state_dir / "kubeconfig")
    assert local.overlay_dir == settings.REPO_ROOT / "k8s" / "overlays" / "local"
    assert local.kubectl == str(s.k8s_bin_dir / "kubectl")
    assert local.node_port == s.k8s_node_port and local.serve_port == s.serve_port
    monkeypatch.setenv("LIVELINE_KUBECONFIG", "/srv/aks.kubeconfig")
    monkeypatch.setenv("LIVELINE_K8S_OVERLAY", "aks")
    aks = defs().resources["cluster"]
    assert aks.kubeconfig == "/srv/aks.kubeconfig"
    assert aks.overlay_dir.name == "aks"
    assert aks.node_port == 0  # the cluster chooses (a LoadBalancer fronts it)


def test_registry_defaults_to_the_local_registry():
    target = defs().resources["registry"].target()
    assert (target.host, target.repository, target.auth) == (
        "127.0.0.1:5000",
        "liveline/serving",
        "none",
    )
    assert target.api == "http://127.0.0.1:5000/v2"
    assert target.image == "127.0.0.1:5000/liveline/serving"


def test_registry_for_acr_from_the_environment(monkeypatch):
    monkeypatch.setenv("LIVELINE_REGISTRY_HOST", "liveline.azurecr.io")
    monkeypatch.setenv("LIVELINE_REGISTRY_PORT", "443")
    monkeypatch.setenv("LIVELINE_REGISTRY_AUTH", "azure")
    target = defs().resources["registry"].target()
    assert target.host == "liveline.azurecr.io"
    assert target.auth == "azure"
    assert target.api == "https://liveline.azurecr.io/v2"


@pytest.mark.parametrize(
    ("host", "repository", "auth", "problem"),
    [
        ("127.0.0.1:5000", "liveline/serving", "password", "not one of none, azure"),
        ("127.0.0.1:5000", "liveline/serving", "azure", "needs an ACR host"),
        ("127.0.0.1:5000", "Liveline/Serving", "none", "not a valid image name"),
        ("127.0.0.1:5000", "liveline//serving", "none", "not a valid image name"),
    ],
)
def test_registry_config_is_refused_with_the_reason(host, repository, auth, problem):
    with pytest.raises(ValueError, match=problem):
        Registry.parse(host, repository, auth)
    with pytest.raises(ValueError, match=problem):
        RegistryResource(host=host, repository=repository, auth=auth).target()


def test_registry_resource_holds_no_secret_field():
    # Production logs in with a token exchanged at run time, never a configured password.
    assert set(RegistryResource.model_fields) == {"host", "repository", "auth"}
    assert set(BlobStoreResource.model_fields) == {
        "store", "account_url", "container", "s3_endpoint_url", "s3_region", "bucket",
        "mlflow_tracking_uri", "mlflow_models", "mlflow_alias",
    }  # fmt: skip


def test_the_mlflow_store_is_configured_from_the_environment(monkeypatch):
    monkeypatch.setenv("LIVELINE_MODEL_STORE", "mlflow")
    store = defs().resources["blob_store"]
    # Empty: the local tracking server that `make up` runs; the project's model watched.
    assert store.mlflow_tracking_uri == settings.load().local_mlflow_url
    assert store.mlflow_models == ["breast-cancer-classifier"] and store.mlflow_alias == ""
    monkeypatch.setenv("LIVELINE_MLFLOW_TRACKING_URI", "https://mlflow.example.internal")
    monkeypatch.setenv("LIVELINE_MLFLOW_MODELS", "churn, fraud")
    monkeypatch.setenv("LIVELINE_MLFLOW_ALIAS", "champion")
    store = defs().resources["blob_store"]
    assert store.mlflow_tracking_uri == "https://mlflow.example.internal"
    assert (store.mlflow_models, store.mlflow_alias) == (["churn", "fraud"], "champion")


def test_mlflow_credentials_come_from_mlflows_own_variables(monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", "canary-token")
    client = mlflow_rest.Client("https://mlflow.example.internal")
    assert client.session.headers["Authorization"] == "Bearer canary-token"
    monkeypatch.delenv("MLFLOW_TRACKING_TOKEN")
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "ds")
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", "canary-password")
    assert mlflow_rest.Client("https://x").session.auth == ("ds", "canary-password")


def test_the_s3_store_is_configured_from_the_environment(monkeypatch):
    monkeypatch.setenv("LIVELINE_MODEL_STORE", "s3")
    monkeypatch.setenv("LIVELINE_MODELS_BUCKET", "team-models")
    store = defs().resources["blob_store"]
    assert (store.store, store.bucket) == ("s3", "team-models")
    # Empty: the local SeaweedFS that `make up` runs for the s3 store.
    assert store.s3_endpoint_url == settings.load().local_s3_url
    monkeypatch.setenv("LIVELINE_S3_ENDPOINT_URL", "aws")
    monkeypatch.setenv("LIVELINE_S3_REGION", "eu-west-1")
    store = defs().resources["blob_store"]
    assert (store.s3_endpoint_url, store.s3_region) == ("", "eu-west-1")  # AWS's own


def test_s3_credentials_come_from_the_aws_chain_except_on_the_local_server(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIACANARYCANARY")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "canary-secret")
    real = s3.client(None, "eu-west-1")
    local = s3.client("http://127.0.0.1:8333", "us-east-1")
    try:
        assert real.meta.endpoint_url == "https://s3.eu-west-1.amazonaws.com"
        assert real._request_signer._credentials.access_key == "AKIACANARYCANARY"
        assert local._request_signer._credentials.access_key == settings.SEAWEEDFS_ACCESS_KEY
    finally:
        real.close()
        local.close()


def test_an_unknown_model_store_is_refused_with_what_to_set(monkeypatch):
    monkeypatch.setenv("LIVELINE_MODEL_STORE", "gcs")
    with pytest.raises(modelstore.ModelStoreError, match=r"LIVELINE_MODEL_STORE='gcs'.*azure, s3"):
        BlobStoreResource.from_settings(settings.load())
