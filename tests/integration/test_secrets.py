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
  (tests/unit/test_sensors_git.py). Storage account keys and SAS tokens: not accepted at
  all for a real account (tests/unit/test_orchestration_resources.py).

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
from collections import Counter
from collections.abc import Iterable, Iterator
from functools import partial
from pathlib import Path
from types import SimpleNamespace

import kubernetes
import pytest
import requests
import yaml
from dagster import (
    AssetKey,
    MaterializeResult,
    asset,
    instance_for_test,
    materialize,
    serialize_value,
)

from liveline import images, settings
from orchestration.definitions import defs

pytestmark = pytest.mark.integration

REPOSITORY = "liveline/serving-secrets-test"
CHUNK = 8 << 20
AZURE_CANARIES = (
    "AZURE_CLIENT_ID",
    "AZURE_TENANT_ID",
    "AZURE_CLIENT_SECRET",
    "AZURE_CLIENT_CERTIFICATE_PASSWORD",
    "AZURE_USERNAME",
    "AZURE_PASSWORD",
    "IDENTITY_HEADER",
    "MSI_SECRET",
)
CONTROL = "control: "


def leaks(found: set[tuple[str, str]]) -> set[tuple[str, str]]:
    return {(name, where) for name, where in found if not name.startswith(CONTROL)}


def places(found: set[tuple[str, str]], name: str) -> set[str]:
    """Where name was found: the part of each place before ":", e.g. "labels", "event"."""
    return {where.split(":")[0] for n, where in found if n == name}


def canary(purpose: str) -> str:
    # Letters, digits and dashes only: JSON, YAML, URLs and shells leave it unescaped, so
    # a copy is found byte for byte. (azure-identity also refuses "_" in a tenant id.)
    return f"canary-{purpose.lower().replace('_', '-')}-{uuid.uuid4().hex}"


class Scanner:
    """Finds the named secrets in bytes; reports names and places, never the values."""

    def __init__(self, secrets: dict[str, str]) -> None:
        self.needles = {name: value.encode() for name, value in secrets.items()}
        self.overlap = max(len(n) for n in self.needles.values()) - 1
        self.bytes_scanned = 0

    def scan(self, data: bytes, where: str) -> set[tuple[str, str]]:
        self.bytes_scanned += len(data)
        return {(name, where) for name, needle in self.needles.items() if needle in data}

    def scan_stream(self, chunks: Iterable[bytes], where: str) -> set[tuple[str, str]]:
        """Chunk by chunk, keeping an overlap so a secret cut in two is still found."""
        found: set[tuple[str, str]] = set()
        tail = b""
        for chunk in chunks:
            window = tail + chunk
            found |= self.scan(window, where)
            tail = window[-self.overlap :]
            self.bytes_scanned -= len(tail)  # counted again with the next chunk
        return found


class _ChunkReader(io.RawIOBase):
    """A file over the docker SDK's chunk generator: tarfile reads a file, and docker-py
    offers the `docker save` stream only as a generator of chunks."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks: Iterator[bytes] = iter(chunks)
        self._pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        while not self._pending:
            try:
                self._pending = next(self._chunks)
            except StopIteration:
                return 0
        n = min(len(buffer), len(self._pending))
        buffer[:n], self._pending = self._pending[:n], self._pending[n:]
        return n


def scan_image(client, image_id: str, scanner: Scanner) -> tuple[set, Counter]:
    """The image's labels, environment and history, then every file of `docker save`."""
    attrs = client.api.inspect_image(image_id)
    found = scanner.scan(json.dumps(attrs["Config"].get("Labels") or {}).encode(), "labels")
    found |= scanner.scan(json.dumps(attrs["Config"].get("Env") or []).encode(), "env")
    found |= scanner.scan(json.dumps(client.api.history(image_id)).encode(), "history")
    found |= scanner.scan(json.dumps(attrs).encode(), "inspect")
    seen: Counter = Counter()
    archive = io.BufferedReader(_ChunkReader(client.api.get_image(image_id)), CHUNK)
    with tarfile.open(fileobj=archive, mode="r|") as tar:
        for member in tar:
            data = tar.extractfile(member) if member.isfile() else None
            if data is None:
                continue
            where = f"docker save: {member.name}"
            found |= scanner.scan_stream(iter(partial(data.read, CHUNK), b""), where)
            seen["layers" if member.name.endswith("layer.tar") else "other files"] += 1
            seen["bytes"] += member.size
    return found, seen


def scan_dagster(instance, run_id: str, scanner: Scanner) -> tuple[set, Counter]:
    """Every event of the run as stored, the run record, and every file of the instance
    (its databases and the captured compute logs)."""
    found: set[tuple[str, str]] = set()
    seen: Counter = Counter()
    for entry in instance.all_logs(run_id):
        kind = entry.dagster_event_type.value if entry.dagster_event_type else "log message"
        found |= scanner.scan(serialize_value(entry).encode(), f"event: {kind} {entry.step_key}")
        seen["events"] += 1
    found |= scanner.scan(serialize_value(instance.get_run_by_id(run_id)).encode(), "run record")
    root = Path(instance.root_directory)
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        kind = "compute log" if "compute_logs" in path.parts else "instance file"
        found |= scanner.scan(path.read_bytes(), f"{kind}: {path.relative_to(root)}")
        seen[f"{kind}s"] += 1
    return found, seen


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(logging.Formatter("%(name)s %(message)s").format(record))


def scan_log_records(lines: list[str], scanner: Scanner) -> set:
    return scanner.scan("\n".join(lines).encode(), "python log records")


def kubeconfig_secrets(path: Path) -> dict[str, str]:
    """The cluster credentials of a kubeconfig: tokens, passwords, client keys (inline or
    in a file; for a PEM key, its first and last lines of base64, as any copy has them)."""
    found = {}
    for user in yaml.safe_load(path.read_text()).get("users") or []:
        creds = user.get("user") or {}
        for field in ("token", "password", "client-key-data"):
            if creds.get(field):
                found[f"kubeconfig {field}"] = str(creds[field])
        key = creds.get("client-key-data") and base64.b64decode(creds["client-key-data"]).decode()
        if creds.get("client-key"):
            key = (path.parent / creds["client-key"]).read_text()
        if key:
            body = [line for line in key.splitlines() if line and not line.startswith("-----")]
            found["kubeconfig client key (first line)"] = body[0]
            found["kubeconfig client key (last full line)"] = body[max(len(body) - 2, 0)]
    return found


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
    records = _Records()
    root = logging.getLogger()
    with pytest.MonkeyPatch.context() as env, instance_for_test() as instance:
        for variable in AZURE_CANARIES:
            env.setenv(variable, canaries[variable])
        env.setenv("AZURE_FEDERATED_TOKEN_FILE", str(token_file))
        env.setenv("DOCKER_CONFIG", str(docker_config))
        env.setenv("LIVELINE_MODELS_CONTAINER", name)
        env.setenv("LIVELINE_SERVING_REPOSITORY", REPOSITORY)
        env.setenv("LIVELINE_K8S_NAMESPACE", name)
        env.delenv("LIVELINE_MODEL_MIN_METRICS", raising=False)
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

    records = _Records()
    logging.getLogger("liveline").addHandler(records)
    try:
        with instance_for_test() as instance:
            result = materialize([leaky], instance=instance)
            logging.getLogger("liveline.test").warning("a record with %s", planted["message"])
            found, _ = scan_dagster(instance, result.run_id, scanner)
    finally:
        logging.getLogger("liveline").removeHandler(records)
    wheres = {name: {w for n, w in found if n == name} for name in planted}
    assert any(w.startswith("event: ASSET_MATERIALIZATION") for w in wheres["metadata"])
    assert any(w.startswith("event: log message") for w in wheres["message"])
    assert "compute log" in places(found, "stdout")
    assert "compute log" in places(found, "message")  # Dagster's log lines go to stderr
    assert scan_log_records(records.lines, scanner) == {("message", "python log records")}
