"""Supply chain, against the real platform: the base pinned by digest, the serving image's
SBOM read from what is installed in it, and only digests deployed.

The deploy job builds serving/ from a commit, never the working tree: it runs here on a
clone whose last commit holds the working tree's serving/Dockerfile (the one under test).
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import shutil
import subprocess
import tarfile
import uuid
from pathlib import Path
from types import SimpleNamespace

import kubernetes
import pytest
import requests
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator
from dagster import AssetKey, instance_for_test

from devplatform import base_image
from liveline import images, k8s, modelstore, settings
from liveline.constants import MANIFEST_V2
from liveline.images import sbom
from liveline.modelstore import AzureBucket
from orchestration.definitions import defs
from tests.support.gitrepo import git

pytestmark = pytest.mark.integration

REPO = settings.REPO_ROOT
REPOSITORY = "liveline/serving-supply-test"
DEPLOYMENT = "liveline-serving"
# An image reference pinned by digest, without a tag: registry/name@sha256:<64 hex>.
BY_DIGEST_ONLY = re.compile(r"^(?P<name>[^@:]+(?::\d+)?/[^@:]+)@sha256:[0-9a-f]{64}$")


@pytest.fixture(scope="module")
def app_repo(tmp_path_factory) -> Path:
    """A clone of this repository at HEAD, plus a commit of the working tree's Dockerfile
    (only that file: the rest of serving/ is HEAD's, whatever is being edited)."""
    repo = tmp_path_factory.mktemp("supply") / "app"
    subprocess.run(["git", "clone", "-q", str(REPO), str(repo)], check=True, timeout=60)
    shutil.copy2(REPO / images.DOCKERFILE, repo / images.DOCKERFILE)
    git(repo, "commit", "-q", "--allow-empty", "-am", "serving/Dockerfile as in the working tree")
    return repo


def facts(instance, name: str) -> dict:
    event = instance.get_latest_materialization_event(AssetKey(name))
    return {k: v.value for k, v in event.asset_materialization.metadata.items()}


@pytest.fixture(scope="module")
def deployed(app_repo, docker_client, blob_service, registry_url, kube_api):
    """The deploy job run once on app_repo, with its own container, repository, namespace."""
    name = f"test-supply-{uuid.uuid4().hex[:12]}"
    with pytest.MonkeyPatch.context() as env, instance_for_test() as instance:
        env.setenv("LIVELINE_MODELS_CONTAINER", name)
        env.setenv("LIVELINE_SERVING_REPOSITORY", REPOSITORY)
        env.setenv("LIVELINE_K8S_NAMESPACE", name)
        env.delenv("LIVELINE_MODEL_GATE", raising=False)
        env.delenv("LIVELINE_BASE_IMAGE", raising=False)
        result = (
            defs()
            .resolve_job_def("deploy")
            .execute_in_process(
                instance=instance,
                run_config={"ops": {"app_source": {"config": {"repo": str(app_repo)}}}},
            )
        )
        assert result.success
        with blob_service.get_container_client(name) as container:
            image = facts(instance, "serving_image")
            card = modelstore.get(
                AzureBucket(container), image["model_name"], image["model_version"]
            ).card
        yield SimpleNamespace(
            instance=instance,
            image=image,
            pushed=facts(instance, "registry_image"),
            live=facts(instance, "cluster_deployment"),
            card=card,
            namespace=name,
        )
    blob_service.delete_container(name)
    kubernetes.client.CoreV1Api(kube_api).delete_namespace(name)


# --- the base image --------------------------------------------------------------------


def test_the_configured_base_resolves_to_its_registry_digest(docker_client, local_platform):
    s = local_platform.settings
    base = images.resolve_base(docker_client, s.base_image, s.registry)
    attrs = docker_client.api.inspect_image(s.base_image)
    repository, tag = base_image.registry_target(local_platform)
    # `up` pushed the offline base to the local registry: it has a manifest digest.
    assert base.reference in attrs["RepoDigests"]
    assert base.reference == f"{repository}@{base.digest}"
    assert base.pinned_by == "manifest digest"
    assert base.name == f"{repository}:{tag}"
    assert base.image_id == attrs["Id"]
    # A configured digest is used as is, and names the same image.
    again = images.resolve_base(docker_client, base.reference)
    assert (again.reference, again.digest, again.image_id) == (
        base.reference,
        base.digest,
        base.image_id,
    )


def test_the_registry_serves_the_base_by_that_digest(docker_client, local_platform, registry_url):
    s = local_platform.settings
    base = images.resolve_base(docker_client, s.base_image, s.registry)
    name = base.reference.split("/", 1)[1].split("@")[0]
    r = requests.head(
        f"{registry_url}/v2/{name}/manifests/{base.digest}",
        headers={"Accept": MANIFEST_V2},
        timeout=10,
    )
    assert r.status_code == 200
    assert r.headers["Docker-Content-Digest"] == base.digest


def test_a_base_in_no_registry_is_pinned_by_its_image_id(docker_client, local_platform):
    """A base never pushed nor pulled has no manifest digest; its image id still pins it."""
    s = local_platform.settings
    base = images.resolve_base(docker_client, s.base_image, s.registry)
    nonce = uuid.uuid4().hex[:12]
    unpushed = f"liveline-test/unpushed-{nonce}:1"
    built: list[str] = []
    try:
        built.append(_tiny_build(docker_client, base.reference, unpushed, nonce))
        pinned = images.resolve_base(docker_client, unpushed)
        assert pinned.reference == pinned.digest == pinned.image_id == built[0]
        assert pinned.pinned_by == "image id"
        # The classic builder builds FROM an image id.
        built.append(_tiny_build(docker_client, pinned.reference, None, f"{nonce}-2"))
        history = docker_client.api.history(built[1])
        assert any(h["Id"] == built[0] for h in history)
    finally:
        for image_id in reversed(built):
            docker_client.api.remove_image(image_id, force=True)


def _tiny_build(client, base: str, tag: str | None, nonce: str) -> str:
    dockerfile = f"ARG BASE_IMAGE\nFROM ${{BASE_IMAGE}}\nLABEL io.liveline.test={nonce}\n"
    stream = client.api.build(
        fileobj=io.BytesIO(dockerfile.encode()),
        tag=tag,
        buildargs={"BASE_IMAGE": base},
        rm=True,
        decode=True,
    )
    ids = [c["aux"]["ID"] for c in stream if "ID" in c.get("aux", {})]
    assert ids, f"the build FROM {base} failed"
    return ids[-1]


def test_a_base_that_cannot_be_found_fails_naming_it(docker_client, local_platform):
    missing = f"{local_platform.settings.registry}/liveline/no-such-base-{uuid.uuid4().hex[:8]}:1"
    with pytest.raises(images.ImageError, match=f"base image {re.escape(missing)}.*cannot be"):
        images.resolve_base(docker_client, missing)


def test_names_are_qualified_as_registries_name_them():
    assert images.qualified("python") == "docker.io/library/python"
    assert images.qualified("liveline/python-base") == "docker.io/liveline/python-base"
    assert images.qualified("127.0.0.1:5000/liveline/x") == "127.0.0.1:5000/liveline/x"
    assert images.qualified("acr.azurecr.io/x") == "acr.azurecr.io/x"


def test_serving_image_is_built_on_the_pinned_base_and_labels_it(deployed, docker_client):
    image = deployed.image
    assert images.PINNED.match(image["base_image"])
    assert image["base_image_pinned_by"] == "manifest digest"
    assert image["base_image_configured"] == settings.load().base_image
    assert image["base_image"].endswith(f"@{image['base_image_digest']}")
    attrs = docker_client.api.inspect_image(image["image_id"])
    labels = attrs["Config"]["Labels"]
    assert labels["org.opencontainers.image.base.digest"] == image["base_image_digest"]
    assert labels["org.opencontainers.image.base.name"].startswith(
        image["base_image"].split("@")[0] + ":"
    )
    # The image's first layers are exactly the pinned base's.
    base = docker_client.api.inspect_image(image["base_image"])
    base_layers = base["RootFS"]["Layers"]
    assert attrs["RootFS"]["Layers"][: len(base_layers)] == base_layers


# --- the SBOM ---------------------------------------------------------------------------


def test_serving_image_records_its_sbom(deployed):
    image = deployed.image
    path = Path(image["sbom_path"])
    assert path.parent == settings.load().sboms_dir
    data = path.read_bytes()
    assert hashlib.sha256(data).hexdigest() == image["sbom_sha256"]
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(data.decode()) is None
    doc = json.loads(data)
    assert len(doc["components"]) == image["sbom_components"]
    assert doc["metadata"]["component"]["bom-ref"] == image["image_id"]
    assert f"**{image['sbom_components']} components**" in image["sbom"]
    print(f"\nSBOM: {image['sbom_components']} components in {image['sbom_seconds']} s")


def test_the_sbom_lists_what_is_installed_and_the_model_card_agrees(deployed):
    doc = json.loads(Path(deployed.image["sbom_path"]).read_text())
    pypi = {
        sbom.canonical(c["name"]): c["version"]
        for c in doc["components"]
        if c["purl"].startswith("pkg:pypi/")
    }
    debs = {c["name"]: c for c in doc["components"] if c["purl"].startswith("pkg:deb/debian/")}
    # The model has an ONNX graph: the image runs the onnxruntime that checked it, and
    # carries neither scikit-learn nor scipy.
    assert pypi["onnxruntime"] == deployed.card["libraries"]["onnxruntime"]
    assert deployed.image["onnxruntime_version"] == pypi["onnxruntime"]
    assert deployed.image["onnx_opset"] == ", ".join(
        f"{d} {v}" for d, v in sorted(deployed.card["onnx"]["opset"].items())
    )
    assert not {"scikit-learn", "scipy", "skops"} & set(pypi)
    # Exactly the pinned requirements (pip and setuptools are removed from the image).
    requirements = (REPO / "serving/requirements-onnx.txt").read_text()
    pinned = dict(re.findall(r"^([A-Za-z0-9_.-]+)==(\S+)", requirements, re.M))
    assert pypi == {sbom.canonical(k): v for k, v in pinned.items()}
    # Debian's packages of the base, with architecture and distribution in their purls.
    assert {"python3.11", "libc6", "ca-certificates"} <= set(debs)
    assert debs["libc6"]["purl"].endswith("?arch=amd64&distro=debian-12")
    assert len(debs) > 50


def test_an_image_without_python_or_dpkg_has_an_empty_sbom(docker_client):
    context = io.BytesIO()
    with tarfile.open(fileobj=context, mode="w") as tar:
        dockerfile = f"FROM scratch\nLABEL io.liveline.test={uuid.uuid4().hex}\n".encode()
        info = tarfile.TarInfo("Dockerfile")
        info.size = len(dockerfile)
        tar.addfile(info, io.BytesIO(dockerfile))
    context.seek(0)
    stream = docker_client.api.build(fileobj=context, custom_context=True, decode=True)
    image_id = [c["aux"]["ID"] for c in stream if "ID" in c.get("aux", {})][-1]
    try:
        empty = sbom.for_image(docker_client, image_id)
    finally:
        docker_client.api.remove_image(image_id, force=True)
    assert empty.packages == ()
    assert json.loads(empty.document)["metadata"]["component"]["bom-ref"] == image_id


def test_the_sbom_depends_on_the_image_alone(deployed, docker_client):
    again = sbom.for_image(docker_client, deployed.image["image_id"])
    assert again.sha256 == deployed.image["sbom_sha256"]


def test_a_kept_package_listing_is_reused_and_gives_the_same_sbom(
    deployed, docker_client, tmp_path, monkeypatch
):
    image, key = deployed.image["image_id"], f"sha256:{uuid.uuid4().hex}"
    first = sbom.for_image(docker_client, image, tmp_path, packages_from=key)
    assert [p.name for p in tmp_path.iterdir()] == [f"{key.replace(':', '-')}.json"]

    def no_container(*args, **kwargs):
        raise AssertionError("the listing was read from the image again")

    monkeypatch.setattr(sbom, "read_image", no_container)
    again = sbom.for_image(docker_client, image, tmp_path, packages_from=key)
    assert again.document == first.document and again.sha256 == deployed.image["sbom_sha256"]


# --- deployment by digest only -----------------------------------------------------------


def test_the_cluster_runs_the_pushed_digest_never_a_tag(deployed, kube_api, registry_url):
    pushed, ns = deployed.pushed, deployed.namespace
    apps, core = kubernetes.client.AppsV1Api(kube_api), kubernetes.client.CoreV1Api(kube_api)
    specs = [apps.read_namespaced_deployment(DEPLOYMENT, ns).spec.template.spec]
    specs += [rs.spec.template.spec for rs in apps.list_namespaced_replica_set(ns).items]
    specs += [pod.spec for pod in core.list_namespaced_pod(ns).items]
    running = {c.image for spec in specs for c in [*spec.containers, *(spec.init_containers or [])]}
    assert running == {pushed["reference"]}
    assert BY_DIGEST_ONLY.match(pushed["reference"]), pushed["reference"]
    assert deployed.live["image"] == pushed["reference"]
    assert k8s.live(kube_api, ns, DEPLOYMENT).annotations[k8s.A_DIGEST] == pushed["digest"]
    # That digest is the smoke-tested, SBOM'd image: its manifest's config is the image id.
    manifest = requests.get(
        f"{registry_url}/v2/{REPOSITORY}/manifests/{pushed['digest']}",
        headers={"Accept": MANIFEST_V2},
        timeout=10,
    )
    assert manifest.json()["config"]["digest"] == deployed.image["image_id"]
