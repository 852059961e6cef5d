"""Stage "image": the app source at a commit, the serving image, the pushed image."""

import tempfile
import time
from pathlib import Path

import dagster as dg
import docker.errors
from pydantic import Field

from liveline import git, images, modelstore, settings
from liveline.constants import COMMIT_TAG, MODEL_TAG, SMOKE_CHECK
from liveline.images import sbom
from liveline.registry import RegistryError
from modelcard import ModelCard
from orchestration.assets.blob import model_blob
from orchestration.facts import ImageFacts, PushedImageFacts, SourceFacts, require_passed
from orchestration.faults import RETRY, classified
from orchestration.resources.blob_store import BlobStoreResource
from orchestration.resources.image_builder import ImageBuilderResource
from orchestration.resources.registry import RegistryResource

GROUP = "image"
# A run tag naming the commit to build, for sensors that request runs per commit.
# "<name>/<version>": the model a release run was requested for (release_sensor); without
# it serving_image takes the newest valid published model.


class AppSourceConfig(dg.Config):
    """Which commit app_source records; every field may stay empty."""

    commit: str = Field(
        default="",
        description="Revision to build. Empty: the liveline/commit run tag, else "
        "the head of the branch.",
    )
    repo: str = Field(default="", description="Git repository. Empty: LIVELINE_APP_REPO.")
    branch: str = Field(
        default="", description="Branch. Empty: LIVELINE_APP_BRANCH, else the checked-out one."
    )


@dg.asset(group_name=GROUP, code_version="1", kinds={"git"})
def app_source(context: dg.AssetExecutionContext, config: AppSourceConfig) -> dg.MaterializeResult:
    """The serving code at one exact git commit (the branch head unless one is asked for)."""
    s = settings.load()
    repo = Path(config.repo).resolve() if config.repo else s.app_repo
    branch = config.branch or s.app_branch or git.checked_out_branch(repo)
    revision = config.commit or context.run.tags.get(COMMIT_TAG) or branch
    commit = git.resolve(repo, revision)
    return dg.MaterializeResult(
        metadata=SourceFacts(
            commit.sha, str(repo), branch, revision, commit.author, commit.date, commit.message
        ).to_metadata(),
        data_version=dg.DataVersion(commit.sha),
    )


@dg.asset(
    deps=[app_source, model_blob], group_name=GROUP, code_version="1", kinds={"docker"},
    retry_policy=RETRY,
)  # fmt: skip
@classified
def serving_image(
    context: dg.AssetExecutionContext,
    image_builder: ImageBuilderResource,
    blob_store: BlobStoreResource,
    registry: RegistryResource,
) -> dg.MaterializeResult:
    """The serving image: app_source's commit plus the newest valid published model."""
    source = SourceFacts.latest(context.instance)
    with tempfile.TemporaryDirectory(prefix="liveline-model-") as tmp:
        with blob_store.models() as store:
            model, passed_over = chosen_model(store, context.run.tags.get(MODEL_TAG))
            model_dir = store.download(model, Path(tmp))
        for prefix, why in passed_over.items():
            context.log.warning("passed over published model %s: %s", prefix, why)
        tag = images.image_tag(source.sha, model.version)
        with image_builder.client() as client:
            # Created = the commit's date, so an unchanged rebuild keeps its image id.
            built = image_builder.build_serving_image(
                client,
                Path(source.repository),
                source.sha,
                model_dir,
                f"{registry.target().image}:{tag}",
                created=source.date,
            )
            started = time.monotonic()
            bom, bom_path = image_builder.write_sbom(client, built)
            sbom_seconds = time.monotonic() - started
    runtime = image_runtime(bom, ModelCard.from_dict(model.card), built, bom_path)
    base = built.base
    assert base is not None  # build_serving_image always passes BASE_IMAGE
    return dg.MaterializeResult(
        metadata={
            **ImageFacts(
                built.image_id,
                built.reference,
                tag,
                source.sha,
                model.name,
                model.version,
                model.artifact_sha256,
                model.card_etag,
            ).to_metadata(),
            "size": dg.MetadataValue.int(built.size),
            "build_seconds": dg.MetadataValue.float(round(built.seconds, 2)),
            "layers_reused": f"{built.cached_steps}/{built.steps} steps from cache",
            "models_passed_over": dg.MetadataValue.json(passed_over),
            "base_image": base.reference,
            "base_image_digest": base.digest,
            "base_image_configured": base.configured,
            "base_image_pinned_by": base.pinned_by,
            "sbom_components": dg.MetadataValue.int(len(bom.packages)),
            "sbom_sha256": bom.sha256,
            "sbom_path": dg.MetadataValue.path(str(bom_path)),
            "sbom_seconds": dg.MetadataValue.float(round(sbom_seconds, 2)),
            "sbom": dg.MetadataValue.md(bom.summary()),
            **runtime,
        },
        data_version=dg.DataVersion(built.image_id),
    )


def image_runtime(
    bom: sbom.ImageSbom, card: ModelCard, built: images.BuiltImage, bom_path: Path
) -> dict[str, str]:
    """What is installed, read back from the image, must be what the model needs: the
    scikit-learn that trained it (skops), or the onnxruntime that checked its graph and
    no scikit-learn (ONNX). The runtime is the label the build gave the image."""
    sklearn, onnxruntime = bom.version_of("scikit-learn"), bom.version_of("onnxruntime")
    image = built.image_id
    if built.labels.get("io.liveline.runtime") == "onnx":
        assert card.onnx is not None
        wanted = card.libraries.get("onnxruntime")
        if onnxruntime != wanted or sklearn is not None:
            raise dg.Failure(
                f"image {image} has onnxruntime {onnxruntime} and scikit-learn {sklearn}; "
                f"its ONNX model needs onnxruntime {wanted} alone (SBOM {bom_path})"
            )
        opset = ", ".join(f"{d} {v}" for d, v in sorted(card.onnx.opset.items()))
        return {"runtime": "onnxruntime", "onnxruntime_version": onnxruntime,
                "onnx_opset": opset}  # fmt: skip
    if sklearn != card.sklearn_version:
        raise dg.Failure(
            f"image {image} has scikit-learn {sklearn}, the model was trained "
            f"with {card.sklearn_version} (SBOM {bom_path})"
        )
    return {"runtime": "scikit-learn", "sklearn_version": sklearn}


def chosen_model(
    store: modelstore.ModelStore, wanted: str | None
) -> tuple[modelstore.PublishedModel, dict[str, str]]:
    """The model the run was requested for, else the newest valid one (and the versions
    passed over on the way). The requested one is verified like any other."""
    if not wanted:
        return store.newest_valid()
    name, _, version = wanted.partition("/")
    try:
        return store.get(name, version), {}
    except modelstore.ModelStoreError as e:
        raise dg.Failure(
            f"the run was requested for model {wanted}, which is not usable: {e}"
        ) from e


@dg.asset(deps=[serving_image], group_name=GROUP, code_version="1", kinds={"docker"},
       retry_policy=RETRY)  # fmt: skip
@classified
def registry_image(
    context: dg.AssetExecutionContext,
    image_builder: ImageBuilderResource,
    registry: RegistryResource,
) -> dg.MaterializeResult:
    """The smoke-tested serving image in the container registry, addressed by digest."""
    built = ImageFacts.latest(context.instance)
    # The blocking smoke test stops a bad image within a run; this also stops one when
    # registry_image is materialized on its own.
    check = dg.AssetCheckKey(serving_image.key, SMOKE_CHECK)
    require_passed(context.instance, check, image_id=built.image_id)
    target, tag = registry.target(), built.tag
    with image_builder.client() as client:
        try:
            client.images.get(built.image_id).tag(target.image, tag)
        except docker.errors.ImageNotFound as e:
            raise dg.Failure(f"image {built.image_id} is gone: rematerialize serving_image") from e
        registry.login(client)
        digest = images.push(client, target.image, tag)
    served = registry.manifest_digest(tag)
    if served != digest:
        raise RegistryError(
            f"{target.image}:{tag} was pushed as {digest}, registry serves {served}"
        )
    return dg.MaterializeResult(
        metadata=PushedImageFacts(
            f"{target.image}@{digest}",
            tag,
            digest,
            built.image_id,
            built.revision,
            built.model_version,
        ).to_metadata(),
        data_version=dg.DataVersion(digest),
    )
