"""The cluster stage: the registry image rolled out, pinned by digest, with its lineage."""

from dagster import (
    AssetExecutionContext,
    DataVersion,
    Failure,
    MaterializeResult,
    MetadataValue,
    asset,
)

from liveline import k8s
from orchestration.assets.image import registry_image
from orchestration.facts import DeploymentFacts, PushedImageFacts
from orchestration.faults import RETRY, classified
from orchestration.resources.cluster import ClusterResource
from orchestration.resources.registry import RegistryResource

GROUP = "cluster"
# One deployment touches the cluster at a time (dagster.yaml: pools default_limit 1).
POOL = "k8s_cluster"


@asset(
    deps=[registry_image], group_name=GROUP, code_version="1", pool=POOL, kinds={"kubernetes"},
    retry_policy=RETRY,
)  # fmt: skip
@classified
def cluster_deployment(
    context: AssetExecutionContext, cluster: ClusterResource, registry: RegistryResource
) -> MaterializeResult:
    """The serving Deployment live in the cluster: image by digest, code and model lineage."""
    pushed = PushedImageFacts.latest(context.instance)
    repository, digest = pushed.reference.split("@", 1)
    # The cluster pulls by digest: before touching it, the registry must serve that digest.
    served = registry.manifest_digest(digest, repository=repository.partition("/")[2])
    if served != digest:
        raise Failure(f"the registry serves {served} for {pushed.reference}: push it again")
    release = k8s.Release(
        repository, digest, pushed.revision, pushed.model_version, context.run.run_id
    )
    namespace, name = cluster.target
    docs = cluster.render(release)
    with cluster.api() as api:
        docs = cluster.pin_node_port(api, docs)
        before = k8s.live(api, namespace, name)
        context.log.info(
            "deploying %s to %s/%s (live now: %s)",
            release.image,
            namespace,
            name,
            before.image if before else "nothing",
        )
        try:
            rollout = k8s.deploy(api, docs, namespace, name, cluster.rollout_timeout_s)
        except k8s.RolloutError as e:
            raise Failure(
                description=str(e),
                metadata={
                    "attempted_image": release.image,
                    "rolled_back_to_revision": e.rolled_back_to or "none",
                    "live_image": before.image if before else "none",
                },
            ) from e
    return MaterializeResult(
        metadata={
            **DeploymentFacts(
                rollout.image,
                digest,
                release.code_revision,
                release.model_version,
                namespace,
                name,
            ).to_metadata(),
            "revision": rollout.revision,
            "replicas_ready": MetadataValue.int(rollout.replicas_ready),
            "rollout_seconds": MetadataValue.float(round(rollout.seconds, 2)),
            "replaced_image": before.image if before else "none",
            "rolled_back": "nothing",
        },
        data_version=DataVersion(digest),
    )
