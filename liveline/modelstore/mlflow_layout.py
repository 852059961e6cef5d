"""How a version sits in MLflow: where its files are, what its MLmodel must say, and
the tags Liveline reads; writing a version and reading its files back verified."""

from __future__ import annotations

import platform
import time
from dataclasses import dataclass
from typing import Any

import yaml

import modelcard
from liveline.modelstore import mlflow_card
from liveline.modelstore.base import ModelStoreError
from liveline.modelstore.catalog import PublishedModel
from liveline.modelstore.mlflow_rest import Client, RegistryError
from liveline.project import Gates

EXPERIMENT = "liveline-publish"  # the experiment whose runs hold Liveline's publications
ARTIFACT_DIR = "model"  # the model's folder under its run's artifacts
CARD_FILE = modelcard.CARD_FILE
MLMODEL = "MLmodel"
# Version tags: the card's version and the sha256 of card and artifact (MLflow itself
# records no checksum: its listings carry a size only).
TAG_VERSION = "liveline_model_version"
TAG_CARD_SHA256 = "liveline_card_sha256"
TAG_ARTIFACT_SHA256 = "liveline_artifact_sha256"
SKOPS_FIX = (
    'log it again with mlflow.sklearn.log_model(model, name="model", serialization_format="skops")'
)


def label(v: dict[str, Any]) -> str:
    return f"{v['name']} version {v['version']}"


def tag(v: dict[str, Any], key: str) -> str:
    return next((t.get("value", "") for t in v.get("tags", []) if t["key"] == key), "")


def artifact_path(client: Client, v: dict[str, Any]) -> str:
    """The version's folder under the server's artifact root, from its source."""
    source = str(v.get("source", ""))
    if source.startswith("models:/m-"):  # an MLflow 3 LoggedModel
        model_id = source.removeprefix("models:/").split("/")[0]
        uri = client.get(f"logged-models/{model_id}")["model"]["info"]["artifact_uri"]
    elif source.startswith("runs:/"):
        run_id, _, sub = source.removeprefix("runs:/").partition("/")
        uri = client.get("runs/get", run_id=run_id)["run"]["info"]["artifact_uri"]
        uri = f"{uri}/{sub}" if sub else uri
    else:
        uri = source
    uri = str(uri)
    if not uri.startswith("mlflow-artifacts:"):
        raise ModelStoreError(
            f"{label(v)} keeps its files at {uri}, which the tracking server does not serve: "
            "Liveline reads artifacts through the server (mlflow server --serve-artifacts)"
        )
    path = uri.removeprefix("mlflow-artifacts:").lstrip("/")
    if uri.startswith("mlflow-artifacts://"):  # mlflow-artifacts://host:port/path
        path = path.partition("/")[2]
    return path


def skops_file(mlmodel: dict[str, Any], what: str) -> str:
    """The skops file the MLmodel names; a pickle or cloudpickle model is refused."""
    flavors = mlmodel.get("flavors") or {}
    sk = flavors.get("sklearn")
    pyfunc = flavors.get("python_function") or {}
    if sk is None:
        kinds = ", ".join(sorted(flavors)) or "none"
        raise ModelStoreError(
            f"{what} is not a scikit-learn model (MLmodel flavors: {kinds}): Liveline serves "
            f"scikit-learn estimators saved with skops; {SKOPS_FIX}"
        )
    fmt = sk.get("serialization_format")
    if fmt != "skops" or str(pyfunc.get("python_model", "")).endswith(".pkl"):
        why = f"serialization_format {fmt}" if fmt else "no serialization_format (pickle)"
        raise ModelStoreError(
            f"refusing {what}: it is saved with {why}, and loading a pickle runs whatever "
            f"code it holds; {SKOPS_FIX}"
        )
    return str(sk.get("pickled_model") or modelcard.ARTIFACT_FILE)


@dataclass(frozen=True)
class Checked:
    """A version's card and the artifact bytes verify read, so a download reads them once."""

    card: modelcard.ModelCard
    card_bytes: bytes
    downloaded: dict[str, bytes]  # file -> bytes, checked against the card


def verify(
    client: Client, v: dict[str, Any], path: str, files: dict[str, int], gates: Gates
) -> Checked:
    """The version's card and its bytes, after checking the files against card and tags.
    A version registered without a Liveline card gets one built (mlflow_card)."""
    what = label(v)
    if MLMODEL not in files:
        raise ModelStoreError(f"{what} has no {MLMODEL} file at {path}: not an MLflow model")
    mlmodel = yaml.safe_load(client.download(f"{path}/{MLMODEL}")) or {}
    artifact_file = skops_file(mlmodel, what)
    if artifact_file not in files:
        raise ModelStoreError(f"{what} has no {artifact_file}, which its {MLMODEL} names")
    artifact = client.download(f"{path}/{artifact_file}")
    if CARD_FILE in files:
        card_bytes = client.download(f"{path}/{CARD_FILE}")
    else:
        card_bytes = mlflow_card.build(client, v, path, mlmodel, artifact, gates)
    card_sha = modelcard.sha256(card_bytes)
    try:
        card = modelcard.ModelCard.from_json(card_bytes, source=f"{what} {CARD_FILE}")
        for entry in card.artifacts:
            if entry.file not in files:
                raise ModelStoreError(f"{what} has no {entry.file}, which its card lists")
        modelcard.verify_artifact(card, artifact, artifact_file)
        modelcard.check_sklearn_version(card)
    except modelcard.CardError as e:
        raise ModelStoreError(f"refusing {what}: {e}") from e
    problems = []
    if card.model_name != v["name"]:
        problems.append(f"its card names the model {card.model_name}")
    if (claimed := tag(v, TAG_CARD_SHA256)) and claimed != card_sha:
        problems.append(f"its card's sha256 {card_sha} is not the tag's {claimed}")
    if (claimed := tag(v, TAG_ARTIFACT_SHA256)) and claimed != card.artifact_sha256:
        problems.append(f"the card's artifact sha256 is not the tag's {claimed}")
    if (claimed := tag(v, TAG_VERSION)) and claimed != card.model_version:
        problems.append(f"its card's version {card.model_version} is not the tag's {claimed}")
    if files[artifact_file] != card.artifact.size:
        problems.append(f"{artifact_file} is {files[artifact_file]} bytes, not the card's")
    if problems:
        raise ModelStoreError(
            f"{what} is inconsistent: {'; '.join(problems)}. Investigate who changed it, "
            "then register the model again"
        )
    return Checked(card, card_bytes, {artifact_file: artifact})


def fetch(client: Client, path: str, model: PublishedModel, checked: Checked) -> dict[str, bytes]:
    """The card and every artifact it lists, verified against the listed version (the
    ones verify read already are not downloaded again)."""
    if modelcard.sha256(checked.card_bytes) != model.card_sha256:
        raise ModelStoreError(
            f"refusing {model.name} {model.version}: its card changed since it was listed"
        )
    card = checked.card
    files = {CARD_FILE: checked.card_bytes}
    for entry in card.artifacts:
        data = checked.downloaded.get(entry.file) or client.download(f"{path}/{entry.file}")
        try:
            modelcard.verify_artifact(card, data, entry.file)
        except modelcard.CardError as e:
            raise ModelStoreError(f"refusing {model.name} {model.version}: {e}") from e
        files[entry.file] = data
    return files


def mlmodel(card: modelcard.ModelCard, run_id: str) -> dict[str, Any]:
    """An MLmodel for a skops artifact: `mlflow.sklearn.load_model` loads it too."""
    return {
        "artifact_path": ARTIFACT_DIR,
        "run_id": run_id,
        "utc_time_created": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()),
        "flavors": {
            "python_function": {
                "loader_module": "mlflow.sklearn",
                "model_path": card.artifact_file,
                "predict_fn": "predict",
                "python_version": platform.python_version(),
            },
            "sklearn": {
                "code": None,
                "pickled_model": card.artifact_file,
                "serialization_format": "skops",
                "sklearn_version": card.sklearn_version,
                "skops_trusted_types": None,
            },
        },
        "metadata": {"liveline_model_version": card.model_version},
    }


def upload(
    client: Client, card: modelcard.ModelCard, card_bytes: bytes, artifacts: dict[str, bytes]
) -> str:
    """A new run holding the model, and a new registry version of it; its number."""
    experiment = _experiment(client)
    run = client.post(
        "runs/create", experiment_id=experiment, run_name=f"{card.model_name}-{card.model_version}",
        start_time=int(time.time() * 1000),
    )["run"]["info"]  # fmt: skip
    metrics = [{"key": k, "value": float(v), "timestamp": int(time.time() * 1000), "step": 0}
               for k, v in card.metrics.items()]  # fmt: skip
    client.post("runs/log-batch", run_id=run["run_id"], metrics=metrics)
    base = artifact_path(client, {"source": f"{run['artifact_uri']}/{ARTIFACT_DIR}",
                                  "name": card.model_name, "version": "new"})  # fmt: skip
    description = yaml.safe_dump(mlmodel(card, run["run_id"]), sort_keys=False).encode()
    # The skops artifact last but for the card and MLmodel: a version without them is no model.
    for file, data in sorted(artifacts.items(), key=lambda f: f[0] == card.artifact_file):
        client.upload(f"{base}/{file}", data)
    client.upload(f"{base}/{CARD_FILE}", card_bytes)
    client.upload(f"{base}/{MLMODEL}", description)
    _create_model(client, card.model_name)
    tags = {TAG_VERSION: card.model_version, TAG_CARD_SHA256: modelcard.sha256(card_bytes),
            TAG_ARTIFACT_SHA256: card.artifact_sha256}  # fmt: skip
    created = client.post(
        "model-versions/create", name=card.model_name, run_id=run["run_id"],
        source=f"{run['artifact_uri']}/{ARTIFACT_DIR}",
        tags=[{"key": k, "value": v} for k, v in tags.items()],
        description=f"Liveline model {card.model_version} ({card.task})",
    )["model_version"]  # fmt: skip
    client.post("runs/update", run_id=run["run_id"], status="FINISHED",
                end_time=int(time.time() * 1000))  # fmt: skip
    return str(created["version"])


def _create_model(client: Client, name: str) -> None:
    try:  # (registered-models/get costs O(versions) on the server: create and see)
        client.post("registered-models/create", name=name)
    except RegistryError as e:
        if e.code != "RESOURCE_ALREADY_EXISTS":
            raise


def _experiment(client: Client) -> str:
    try:
        got = client.get("experiments/get-by-name", experiment_name=EXPERIMENT)
        return str(got["experiment"]["experiment_id"])
    except RegistryError as e:
        if e.code != "RESOURCE_DOES_NOT_EXIST":
            raise
    try:
        return str(client.post("experiments/create", name=EXPERIMENT)["experiment_id"])
    except RegistryError as e:  # created concurrently
        if e.code != "RESOURCE_ALREADY_EXISTS":
            raise
        got = client.get("experiments/get-by-name", experiment_name=EXPERIMENT)
        return str(got["experiment"]["experiment_id"])
