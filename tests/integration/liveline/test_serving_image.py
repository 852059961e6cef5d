"""The real serving image: built from serving/Dockerfile on the offline base, run, scored
over HTTP, pushed to the local registry, its digest and OCI labels read back."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest
import requests

from liveline import images, settings
from liveline.constants import MANIFEST_V2
from liveline.images import smoke
from tests.support import models
from tests.support.gitrepo import git

pytestmark = pytest.mark.integration

REPO = settings.REPO_ROOT


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> tuple[Path, str]:
    dest = tmp_path_factory.mktemp("source")
    return dest, images.export_commit(REPO, "HEAD", dest)


def _build(docker_client, local_platform, tmp: Path, source, model_dir: Path, tag: str):
    src, revision = source
    card = json.loads((model_dir / "model_card.json").read_text())
    s = local_platform.settings
    reference = f"{s.registry}/{s.serving_repository}-test:{tag}"
    context, args = images.prepare(
        src, model_dir, tmp / "context", s.wheels_dir, revision=revision, source_label="test",
        base_image=s.base_image, build_image=s.build_image, created="2026-01-01T00:00:00Z",
    )  # fmt: skip
    return images.build(docker_client, context, reference, args), card, revision


@pytest.fixture(scope="module")
def built(docker_client, local_platform, tmp_path_factory, source, model_dir_pristine):
    tmp = tmp_path_factory.mktemp("build")
    return _build(docker_client, local_platform, tmp, source, model_dir_pristine, "main")


def test_image_carries_lineage_labels(built, source):
    image, card, revision = built
    labels = image.labels
    assert labels["org.opencontainers.image.revision"] == revision == source[1]
    assert labels["org.opencontainers.image.source"] == "test"
    assert labels["org.opencontainers.image.created"] == "2026-01-01T00:00:00Z"
    assert labels["io.liveline.model.name"] == card["model_name"]
    assert labels["io.liveline.model.version"] == card["model_version"]
    assert labels["io.liveline.sklearn.version"] == card["libraries"]["scikit-learn"]
    # A model with an ONNX graph gets the onnxruntime image (no scikit-learn in it).
    assert labels["io.liveline.runtime"] == "onnx"
    assert labels["io.liveline.runtime.version"] == card["libraries"]["onnxruntime"]
    assert labels["io.liveline.onnx.opset"] == ",".join(
        f"{d}={v}" for d, v in sorted(card["onnx"]["opset"].items())
    )


def test_image_runs_as_non_root_with_healthcheck(built, docker_client):
    image, _, _ = built
    config = docker_client.images.get(image.reference).attrs["Config"]
    assert config["User"] == "10001"
    assert config["Healthcheck"]["Test"][0] == "CMD"


# Lists each shared library under /opt/venv with the names of its ELF sections that only
# debuggers read (from the section headers: the image has no binutils). The symbol tables
# of the libraries auditwheel patched stay (serving/Dockerfile says why), so .symtab is
# not asked about.
_UNSTRIPPED = r"""
import json, pathlib, struct
found = {}
for path in pathlib.Path("/opt/venv").rglob("*.so*"):
    data = path.read_bytes() if path.is_file() else b""
    if data[:4] != b"\x7fELF":
        continue
    shoff, = struct.unpack_from("<Q", data, 0x28)
    size, count, names_at = struct.unpack_from("<HHH", data, 0x3A)
    names, = struct.unpack_from("<Q", data, shoff + names_at * size + 0x18)
    for i in range(count):
        at = names + struct.unpack_from("<I", data, shoff + i * size)[0]
        name = data[at:data.index(b"\0", at)].decode()
        if name.startswith(".debug"):
            found.setdefault(str(path), []).append(name)
print(json.dumps(found))
"""


def test_the_images_libraries_carry_no_debug_information(built, docker_client):
    image, _, _ = built
    out = docker_client.containers.run(
        image.reference, ["-c", _UNSTRIPPED], entrypoint="/opt/venv/bin/python", remove=True
    )
    assert json.loads(out) == {}


def test_container_scores_over_http(built, docker_client):
    image, card, revision = built
    with smoke.running(docker_client, image.reference, name="liveline-test-serving") as base:
        version = smoke.smoke_test(base, card, revision)
        assert version["runtime"] == "onnxruntime" and version["artifact"] == "model.onnx"
        r = requests.post(
            f"{base}/score", data=b"{bad", timeout=5, headers={"Content-Type": "application/json"}
        )
        assert r.status_code == 400 and "not valid JSON" in r.json()["error"]
        r = requests.post(
            f"{base}/score",
            data=b"x" * (2 << 20),
            timeout=10,
            headers={"Content-Type": "application/json"},
        )
        assert r.status_code == 413


def test_push_and_read_digest_from_registry(built, docker_client, registry_url, local_platform):
    image, _, _ = built
    repository, tag = image.reference.rsplit(":", 1)
    digest = images.push(docker_client, repository, tag)
    name = repository.split("/", 1)[1]
    r = requests.head(
        f"{registry_url}/v2/{name}/manifests/{tag}", headers={"Accept": MANIFEST_V2}, timeout=10
    )
    assert r.status_code == 200
    assert r.headers["Docker-Content-Digest"] == digest
    by_digest = requests.get(
        f"{registry_url}/v2/{name}/manifests/{digest}", headers={"Accept": MANIFEST_V2}, timeout=10
    )
    config_digest = by_digest.json()["config"]["digest"]
    blob = requests.get(f"{registry_url}/v2/{name}/blobs/{config_digest}", timeout=10).json()
    assert blob["config"]["Labels"] == image.labels


def _one_new_layer(docker_client, before, after) -> tuple[list[str], list[str]]:
    """Both images' diff ids, checked to share all but one layer, the code or the model."""
    old = docker_client.images.get(before.reference).attrs["RootFS"]["Layers"]
    new = docker_client.images.get(after.reference).attrs["RootFS"]["Layers"]
    assert len(new) == len(old)
    assert len(set(new) - set(old)) == 1
    assert new[:-2] == old[:-2]
    return old, new


def test_model_only_change_rebuilds_only_the_model_layer(
    built, docker_client, local_platform, tmp_path, source
):
    other = models.train(C=0.5)
    model_dir = models.write(other, tmp_path / "model")
    image, _, _ = _build(docker_client, local_platform, tmp_path, source, model_dir, "model2")
    first, _, _ = built
    # Everything up to the model step comes from cache; of the filesystem layers only the
    # model's is new (the verify step's layer is empty, identical in both images).
    old_layers, new_layers = _one_new_layer(docker_client, first, image)
    assert new_layers[-2] == old_layers[-2]
    assert image.cached_steps >= 8
    assert image.labels["io.liveline.model.version"] == other.described.version
    assert other.described.version != first.labels["io.liveline.model.version"]


def test_code_only_change_rebuilds_only_the_code_layer(
    built, docker_client, local_platform, tmp_path, source, model_dir_pristine
):
    src, revision = source
    edited = Path(shutil.copytree(src, tmp_path / "source"))
    # Unique per run: an edit built before would bring its model layer from the cache,
    # and this test is about that layer being rebuilt.
    with (edited / "serving" / "__init__.py").open("a") as f:
        f.write(f"# code-only change {time.time_ns()}\n")
    edited_source = (edited, revision)
    image, _, _ = _build(
        docker_client, local_platform, tmp_path, edited_source, model_dir_pristine, "code2"
    )
    first, _, _ = built
    # The model step runs again after the new code layer, from the same model files; its
    # tar's fixed headers (images.write_model_tar) make the layer come out identical.
    old_layers, new_layers = _one_new_layer(docker_client, first, image)
    assert new_layers[-2] != old_layers[-2]
    assert new_layers[-1] == old_layers[-1]
    assert image.labels["io.liveline.model.version"] == first.labels["io.liveline.model.version"]


def test_a_model_without_a_graph_gets_the_skops_image(
    built, docker_client, local_platform, tmp_path, source, model_dir
):
    image, card, revision = _build(
        docker_client, local_platform, tmp_path, source, models.skops_only(model_dir), "skops"
    )
    assert image.labels["io.liveline.runtime"] == "skops"
    assert image.labels["io.liveline.runtime.version"] == card["libraries"]["scikit-learn"]
    onnx_image, _, _ = built
    assert image.size > onnx_image.size  # scikit-learn and scipy: measured by make bench
    with smoke.running(docker_client, image.reference, name="liveline-test-skops") as base:
        version = smoke.smoke_test(base, card, revision)
    assert version["runtime"] == "scikit-learn"


def test_build_refuses_a_model_from_another_sklearn(
    docker_client, local_platform, tmp_path, source, model_dir
):
    card_path = models.skops_only(model_dir) / "model_card.json"
    card = json.loads(card_path.read_text())
    card["libraries"]["scikit-learn"] = "0.0.1"
    card_path.write_text(json.dumps(card))
    with pytest.raises(images.ImageError, match=r"trained with scikit-learn 0\.0\.1"):
        _build(docker_client, local_platform, tmp_path, source, model_dir, "badsk")


def test_build_refuses_a_graph_that_is_not_the_cards(
    docker_client, local_platform, tmp_path, source, model_dir
):
    graph = model_dir / "model.onnx"
    data = bytearray(graph.read_bytes())
    data[len(data) // 2] ^= 0x01
    graph.write_bytes(bytes(data))
    with pytest.raises(images.ImageError, match=r"model.onnx sha256 \w+ does not match"):
        _build(docker_client, local_platform, tmp_path, source, model_dir, "badonnx")


def test_export_takes_the_commit_not_the_working_tree(tmp_path):
    repo = tmp_path / "repo"
    shutil.copytree(REPO / "serving", repo / "serving")
    git(repo, "init", "-q")
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "c")
    (repo / "serving" / "app.py").write_text("uncommitted edit")
    out = tmp_path / "out"
    images.export_commit(repo, "HEAD", out)
    assert (out / "serving" / "app.py").read_text() != "uncommitted edit"
    with pytest.raises(images.ImageError, match="cannot export"):
        images.export_commit(repo, "no-such-ref", tmp_path / "out2")
