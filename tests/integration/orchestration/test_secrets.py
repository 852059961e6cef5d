"""No credential leaks: the real deploy job runs with canary credentials, then everything
it left behind is searched for them.

The credentials Liveline accepts, and how each is covered:
- Azure identity, read by DefaultAzureCredential from the environment (blob storage
  against a real account, ACR token exchange): AZURE_CLIENT_ID, AZURE_TENANT_ID,
  AZURE_CLIENT_SECRET, AZURE_CLIENT_CERTIFICATE_PASSWORD, AZURE_USERNAME/AZURE_PASSWORD,
  AZURE_FEDERATED_TOKEN_FILE (workload identity: the token is the file's content),
  IDENTITY_HEADER/MSI_SECRET (managed identity). Canaries here; a local run does not use
  them, which is what this checks: present in the environment, absent everywhere after.
- Registry logins: ACR tokens exist only in memory (orchestration/resources/registry.py);
  the docker SDK also sends what DOCKER_CONFIG's config.json holds for the registry: a
  canary login for the local registry (which needs none) is set here.
- The Azurite account key (liveline/settings.py AZURITE_KEY): public, but it is the key
  this run really uses, so it must not be copied anywhere either.
- The kubeconfig's client key (or token): the real one of the local cluster.
- Git credentials in LIVELINE_WATCH_REPO URLs: the release sensor, not this job
  (tests/unit/liveline/test_git_watch.py). Storage account keys and SAS tokens: not accepted at
  all for a real account (tests/unit/orchestration/test_resources.py).

Searched: the built image (`docker save`: its config with history, labels and environment,
and every layer's tar), the Dagster run (every event's serialized record, with all
metadata and log messages; the run record; every file of the instance, compute logs
included), the Python log records of the run, the SBOM, the published blobs and the
Kubernetes objects applied. The search is for the exact bytes: a secret stored compressed
or encoded would not be found, so `test_the_scanner_finds_planted_canaries` shows what it
does find.
"""

from __future__ import annotations

import base64
import io
import json
import logging
import tarfile
import uuid
from pathlib import Path
from types import SimpleNamespace

import kubernetes
import pytest
import requests
from dagster import (
    AssetKey,
    MaterializeResult,
    asset,
    instance_for_test,
    materialize,
)

from liveline import images, settings
from orchestration.definitions import defs
from tests.support.secrets import (
    AZURE_CANARIES,
    CONTROL,
    LogRecords,
    Scanner,
    canary,
    kubeconfig_secrets,
    leaks,
    places,
    scan_dagster,
    scan_image,
    scan_log_records,
)

pytestmark = pytest.mark.integration

REPOSITORY = "liveline/serving-secrets-test"


@pytest.fixture(scope="module")
def leak_run(tmp_path_factory, docker_client, blob_service, kube_api, local_platform):
    """The deploy job, run with canaries in every credential a local run can carry."""
    tmp = tmp_path_factory.mktemp("secrets")
    canaries = {name: canary(name) for name in AZURE_CANARIES}
    token_file = tmp / "federated-token"
    canaries["AZURE_FEDERATED_TOKEN_FILE content"] = canary("federated-token")
    token_file.write_text(canaries["AZURE_FEDERATED_TOKEN_FILE content"])
    # A login for the local registry in the docker SDK's config: sent along with every push.
    docker_config = tmp / "docker-config"
    docker_config.mkdir()
    canaries["DOCKER_CONFIG registry password"] = canary("registry-password")
    login = f"liveline-canary:{canaries['DOCKER_CONFIG registry password']}".encode()
    canaries["DOCKER_CONFIG registry auth"] = base64.b64encode(login).decode()
    auths = {local_platform.settings.registry: {"auth": canaries["DOCKER_CONFIG registry auth"]}}
    (docker_config / "config.json").write_text(json.dumps({"auths": auths}))
    secrets = {
        **canaries,
        "Azurite account key": settings.AZURITE_KEY,
        **kubeconfig_secrets(local_platform.settings.kubeconfig_path),
    }
    name = f"test-secrets-{uuid.uuid4().hex[:12]}"
    records = LogRecords()
    root = logging.getLogger()
    with pytest.MonkeyPatch.context() as env, instance_for_test() as instance:
        for variable in AZURE_CANARIES:
            env.setenv(variable, canaries[variable])
        env.setenv("AZURE_FEDERATED_TOKEN_FILE", str(token_file))
        env.setenv("DOCKER_CONFIG", str(docker_config))
        env.setenv("LIVELINE_MODELS_CONTAINER", name)
        env.setenv("LIVELINE_SERVING_REPOSITORY", REPOSITORY)
        env.setenv("LIVELINE_K8S_NAMESPACE", name)
        env.delenv("LIVELINE_MODEL_GATE", raising=False)
        level = root.level
        root.addHandler(records)
        root.setLevel(logging.DEBUG)
        try:
            result = defs().resolve_job_def("deploy").execute_in_process(instance=instance)
        finally:
            root.removeHandler(records)
            root.setLevel(level)
        assert result.success
        image = instance.get_latest_materialization_event(AssetKey("serving_image"))
        facts = {k: v.value for k, v in image.asset_materialization.metadata.items()}
        # Positive controls: values the run did write, so each search shows it read real
        # data where the secrets would have been.
        controls = {
            f"{CONTROL}revision": facts["revision"],
            f"{CONTROL}model version": facts["model_version"],
            f"{CONTROL}namespace": name,
        }
        yield SimpleNamespace(
            run_id=result.run_id,
            instance=instance,
            scanner=Scanner({**secrets, **controls}),
            image=facts,
            records=records.lines,
            container=blob_service.get_container_client(name),
            namespace=name,
        )
    blob_service.delete_container(name)
    kubernetes.client.CoreV1Api(kube_api).delete_namespace(name)


def test_no_credential_in_the_image(leak_run, docker_client):
    found, seen = scan_image(docker_client, leak_run.image["image_id"], leak_run.scanner)
    assert leaks(found) == set()
    # The revision is in the labels and the config (SERVING_CODE_REVISION), the model
    # version in the labels and in the model layer's model_card.json.
    assert {"labels", "env", "history", "docker save"} <= places(found, f"{CONTROL}revision")
    assert any(n == f"{CONTROL}model version" and w.endswith("/layer.tar") for n, w in found)
    # The search covered the whole image: every layer, hundreds of MB.
    layers = docker_client.api.inspect_image(leak_run.image["image_id"])["RootFS"]["Layers"]
    assert seen["layers"] == len(set(layers))
    assert seen["bytes"] > 100e6
    secrets = len(leaks({(name, "") for name in leak_run.scanner.needles}))
    print(f"\nimage: {seen['layers']} layers, {seen['bytes'] / 1e6:.0f} MB searched for "
          f"{secrets} secrets")  # fmt: skip


def test_no_credential_in_the_dagster_run_or_its_logs(leak_run):
    found, seen = scan_dagster(leak_run.instance, leak_run.run_id, leak_run.scanner)
    found |= scan_log_records(leak_run.records, leak_run.scanner)
    assert leaks(found) == set()
    # cluster_deployment logs and records its namespace: in every place searched.
    assert places(found, f"{CONTROL}namespace") == {
        "event",
        "instance file",
        "compute log",
        "python log records",
    }
    assert seen["events"] > 50
    assert seen["compute logs"] > 0  # the steps' stdout/stderr were captured, and read
    assert len(leak_run.records) > 10
    print(f"\ndagster: {dict(seen)}, {len(leak_run.records)} python log records")


def test_no_credential_in_what_was_published_or_deployed(leak_run, kube_api):
    scanner = leak_run.scanner
    found = scanner.scan(Path(leak_run.image["sbom_path"]).read_bytes(), "SBOM")
    for blob in leak_run.container.list_blobs(include=["metadata"]):
        data = leak_run.container.download_blob(blob.name).readall()
        found |= scanner.scan(data + json.dumps(blob.metadata).encode(), f"blob: {blob.name}")
    apps, core = kubernetes.client.AppsV1Api(kube_api), kubernetes.client.CoreV1Api(kube_api)
    ns = leak_run.namespace
    objects = [
        *apps.list_namespaced_deployment(ns).items,
        *apps.list_namespaced_replica_set(ns).items,
        *core.list_namespaced_pod(ns).items,
        *core.list_namespaced_service(ns).items,
        *core.list_namespaced_config_map(ns).items,
        *core.list_namespaced_secret(ns).items,
    ]
    serialized = json.dumps(kube_api.sanitize_for_serialization(objects), default=str)
    found |= scanner.scan(serialized.encode(), f"kubernetes: objects in namespace {ns}")
    assert leaks(found) == set()
    assert places(found, f"{CONTROL}model version") == {"SBOM", "blob", "kubernetes"}


def test_the_models_container_is_private(leak_run):
    container = leak_run.container
    assert container.get_container_properties().public_access is None
    card = next(b.name for b in container.list_blobs() if b.name.endswith("model_card.json"))
    # Without credentials: neither a blob nor the listing.
    assert requests.get(f"{container.url}/{card}", timeout=10).status_code in (401, 403, 404)
    listing = requests.get(f"{container.url}?restype=container&comp=list", timeout=10)
    assert listing.status_code in (401, 403, 404)


def test_the_scanner_finds_planted_canaries(docker_client, local_platform, tmp_path):
    """The searches above can fail: a canary planted in a throwaway image, run and log
    record is found in each place it was put."""
    planted = {p: canary(p) for p in ("label", "file", "run-arg", "metadata", "message", "stdout")}
    scanner = Scanner(planted)
    s = local_platform.settings
    base = images.resolve_base(docker_client, s.base_image, s.registry)
    dockerfile = (
        f"FROM {base.reference}\n"
        f"LABEL io.liveline.leak={planted['label']}\n"
        "COPY leak.txt /etc/leak.txt\n"
        "ARG LEAK\n"
        "RUN true\n"
    )
    context = io.BytesIO()
    with tarfile.open(fileobj=context, mode="w") as tar:
        for name, data in (("Dockerfile", dockerfile), ("leak.txt", planted["file"])):
            info = tarfile.TarInfo(name)
            info.size = len(data.encode())
            tar.addfile(info, io.BytesIO(data.encode()))
    context.seek(0)
    stream = docker_client.api.build(
        fileobj=context, custom_context=True, buildargs={"LEAK": planted["run-arg"]}, decode=True
    )
    image_id = [c["aux"]["ID"] for c in stream if "ID" in c.get("aux", {})][-1]
    try:
        found, _ = scan_image(docker_client, image_id, scanner)
    finally:
        docker_client.api.remove_image(image_id, force=True)
    assert {"labels", "history", "docker save"} <= places(found, "label")
    assert any(w.endswith("/layer.tar") for n, w in found if n == "file")
    assert "history" in places(found, "run-arg")  # a build argument a RUN sees is in it

    @asset
    def leaky(context) -> MaterializeResult:
        print(planted["stdout"])
        context.log.info("about to leak %s", planted["message"])
        return MaterializeResult(metadata={"oops": planted["metadata"]})

    records = LogRecords()
    for name in ("liveline", "liveline_cli"):
        logging.getLogger(name).addHandler(records)
    try:
        with instance_for_test() as instance:
            result = materialize([leaky], instance=instance)
            logging.getLogger("liveline.test").warning("a record with %s", planted["message"])
            found, _ = scan_dagster(instance, result.run_id, scanner)
    finally:
        for name in ("liveline", "liveline_cli"):
            logging.getLogger(name).removeHandler(records)
    wheres = {name: {w for n, w in found if n == name} for name in planted}
    assert any(w.startswith("event: ASSET_MATERIALIZATION") for w in wheres["metadata"])
    assert any(w.startswith("event: log message") for w in wheres["message"])
    assert "compute log" in places(found, "stdout")
    assert "compute log" in places(found, "message")  # Dagster's log lines go to stderr
    assert scan_log_records(records.lines, scanner) == {("message", "python log records")}
