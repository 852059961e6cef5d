"""`liveline rollback`: the previous verified release back, never rebuilt.

Rolls out the newest earlier release that Dagster recorded (the digest must still be in
the registry) and records the rollback as a materialization of cluster_deployment; with
no instance, it puts the previous ReplicaSet's pod template back, as `kubectl rollout
undo` does.
"""

from __future__ import annotations

import argparse
import getpass
import sys

from dagster import (
    AssetMaterialization,
    DagsterInstance,
    DagsterRunStatus,
    MetadataValue,
    RunsFilter,
)

from liveline import k8s, settings
from liveline.constants import DATA_VERSION_TAG, DEPLOY_TAG
from liveline.registry import Registry, RegistryError
from liveline_cli import common
from liveline_cli.common import DEPLOYMENT, StatusError, facts, log
from orchestration.facts import DeploymentFacts

BUSY = [DagsterRunStatus.STARTING, DagsterRunStatus.STARTED, DagsterRunStatus.CANCELING]


def previous_release(instance: DagsterInstance, live: k8s.Rollout, to: str = ""):
    """The newest recorded rollout that is not live and was not itself rolled back from."""
    digest = live.image.rpartition("@")[2]
    refused = {digest}
    for record in common.materializations(instance, DEPLOYMENT):
        f = facts(record)
        if f.get("rollback"):
            refused.add(f.get("rolled_back_from_digest"))
        if f.get("digest") in refused or "image" not in f or (to and f["digest"] != to):
            continue
        return record
    return None


def rollback_to(api, s: settings.Settings, live: k8s.Rollout, record, timeout: float):
    """Roll out the recorded release again, pinned by its digest: nothing is rebuilt."""
    f = facts(record)
    repository, digest = f["image"].split("@", 1)
    host, _, path = repository.partition("/")
    try:
        Registry.parse(host, path, s.registry_auth).manifest_digest(digest)
    except (RegistryError, OSError) as e:
        raise StatusError(
            f"{f['image']} is no longer in the registry ({e}): cannot roll back "
            "to it without a rebuild; run the deploy job instead"
        ) from e
    release = k8s.Release(
        repository,
        digest,
        f["code_revision"],
        f["model_version"],
        record.run_id or f.get("restored_from_run", ""),
    )
    docs = k8s.render(s.k8s_overlay_dir, release, s.kubectl_path, namespace=s.k8s_namespace,
                      serve_port=s.serve_port)  # fmt: skip
    for doc in docs:
        if doc["kind"] == "Deployment":
            doc["metadata"]["annotations"][k8s.A_ROLLED_BACK] = live.revision
    return k8s.deploy(api, docs, s.k8s_namespace, s.k8s_deployment, timeout)


def rollback_event(
    before: k8s.Rollout, after: k8s.Rollout, s: settings.Settings, restored_from_run: str
) -> AssetMaterialization:
    notes, digest = after.annotations, after.image.rpartition("@")[2]
    return AssetMaterialization(
        asset_key=DEPLOYMENT,
        description=f"liveline rollback from {before.image} to {after.image}",
        metadata={
            **DeploymentFacts(
                after.image,
                digest,
                notes.get(k8s.A_CODE, ""),
                notes.get(k8s.A_MODEL, ""),
                s.k8s_namespace,
                s.k8s_deployment,
            ).to_metadata(),
            "revision": after.revision,
            "replicas_ready": MetadataValue.int(after.replicas_ready),
            "rollout_seconds": MetadataValue.float(round(after.seconds, 2)),
            "replaced_image": before.image,
            "rolled_back": f"from {before.image} (revision {before.revision})",
            "rollback": True,
            "rolled_back_from_digest": before.image.rpartition("@")[2],
            "restored_from_run": restored_from_run,
            "performed_by": f"liveline rollback ({getpass.getuser()})",
        },
        tags={DATA_VERSION_TAG: digest},
    )


def main(argv: list[str] | None = None) -> int:
    """`liveline rollback`"""
    s = settings.load()
    parser = argparse.ArgumentParser(
        prog="liveline rollback", description="Roll the previous verified release out again."
    )
    common.add_common_arguments(parser, s)
    parser.add_argument("--to", default="", help="digest of a recorded release (sha256:...)")
    parser.add_argument("--force", action="store_true", help="even while a deploy run runs")
    parser.add_argument("--timeout", type=float, default=300.0, help="rollout wait, seconds")
    args = parser.parse_args(argv)
    common.setup_logging()
    try:
        with common.open_instance(args.dagster_home) as instance, common.api_client(s) as api:
            return _rollback(api, s, instance, args)
    except (StatusError, k8s.RolloutError) as e:
        log.error("rollback failed: %s", e)
        return 1


def _rollback(api, s: settings.Settings, instance: DagsterInstance | None, args) -> int:
    where = f"{s.k8s_namespace}/{s.k8s_deployment}"
    before = k8s.live(api, s.k8s_namespace, s.k8s_deployment)
    if before is None:
        raise StatusError(f"nothing is deployed as {where}")
    record = previous_release(instance, before, args.to) if instance else None
    if instance is not None and not args.force:
        busy = instance.get_runs(RunsFilter(tags={DEPLOY_TAG: "true"}, statuses=BUSY), limit=1)
        if busy:
            raise StatusError(f"run {busy[0].run_id} is deploying now: wait, or pass --force")
    if record is None and (args.to or (instance and common.materializations(instance, DEPLOYMENT))):
        wanted = f"with digest {args.to}" if args.to else f"before {before.image}"
        raise StatusError(f"no recorded, verified release {wanted} to roll back to")
    if record is not None:
        log.info("rolling %s back from %s to %s", where, before.image, facts(record)["image"])
        after = rollback_to(api, s, before, record, args.timeout)
        origin = record.run_id or facts(record).get("restored_from_run", "")
    else:
        log.info("no earlier release recorded: restoring %s's previous ReplicaSet", where)
        restored = k8s.rollback(api, s.k8s_namespace, s.k8s_deployment)
        # A failed rollout's deadline condition outlives the undo (liveline.k8s.deploy).
        after = k8s.wait(api, s.k8s_namespace, s.k8s_deployment, args.timeout,
                         deadline_fails=False)  # fmt: skip
        log.info("revision %s restored", restored)
        origin = after.annotations.get(k8s.A_RUN, "")
    if instance is not None:
        instance.report_runless_asset_event(rollback_event(before, after, s, origin))
    log.info(
        "%s runs %s again (revision %s, %d replicas ready)%s",
        where,
        after.image,
        after.revision,
        after.replicas_ready,
        "; recorded in Dagster" if instance else "",
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
