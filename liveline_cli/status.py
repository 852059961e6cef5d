"""`liveline status` and `liveline rollback`: what is live and why; the previous release back.

The cluster's lineage annotations (liveline.deploy) answer on their own: image digest,
code revision, model version, the Dagster run that rolled it out. The Dagster instance in
<state>/dagster, when there is one, adds when and how that run went, the commit and the
model's metrics, and drift from the last recorded rollout. Git and the model card in blob
storage fill in the commit and metrics without it.

`liveline rollback` rolls out the newest earlier release that Dagster recorded (never
rebuilding: the digest must still be in the registry) and records the rollback as a
materialization of cluster_deployment; with no instance, it puts the previous ReplicaSet's
pod template back, as `kubectl rollout undo` does.
"""

from __future__ import annotations

import argparse
import contextlib
import getpass
import json
import logging
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import kubernetes
from azure.core.exceptions import AzureError
from dagster import (
    AssetKey,
    AssetMaterialization,
    DagsterInstance,
    DagsterRunStatus,
    MetadataValue,
    RunsFilter,
)

from devplatform import k8s_build, k8s_cluster, k8s_node
from devplatform.layout import Layout
from liveline import git, k8s, settings
from liveline.constants import DATA_VERSION_TAG, DEPLOY_TAG
from liveline.registry import Registry, RegistryError
from modelcard import CARD_FILE

log = logging.getLogger("liveline_cli.status")

DEPLOYMENT = AssetKey("cluster_deployment")
SOURCE, TRAINED = AssetKey("app_source"), AssetKey("trained_model")
HISTORY = 100  # materializations searched for a fact
BUSY = [DagsterRunStatus.STARTING, DagsterRunStatus.STARTED, DagsterRunStatus.CANCELING]
BLOB_CALL = {"retry_total": 1, "connection_timeout": 5, "read_timeout": 10}


class StatusError(Exception):
    """Nothing to report or roll back; the message says what to do."""


@contextlib.contextmanager
def open_instance(home: Path | None) -> Iterator[DagsterInstance | None]:
    """The Dagster instance in home if one was ever created there, else None."""
    if home is None or not ((home / "history").is_dir() or (home / "storage").is_dir()):
        yield None
        return
    with DagsterInstance.from_config(str(home)) as instance:
        yield instance


def materializations(instance: DagsterInstance, key: AssetKey) -> list:
    """key's latest materialization records, newest first."""
    return list(instance.fetch_materializations(key, limit=HISTORY).records)


def facts(record) -> dict:
    return {k: v.value for k, v in record.asset_materialization.metadata.items()}


# --- status ---------------------------------------------------------------------------


def describe(
    api: kubernetes.client.ApiClient, s: settings.Settings, instance: DagsterInstance | None
) -> dict:
    """What runs in the configured Deployment, and its lineage from every source at hand."""
    namespace, name = s.k8s_namespace, s.k8s_deployment
    live = k8s.live(api, namespace, name)
    if live is None:
        raise StatusError(f"nothing is deployed as {namespace}/{name}: run `make demo`")
    notes = live.annotations
    digest = live.image.rpartition("@")[2] if "@" in live.image else ""
    report = {
        "namespace": namespace,
        "deployment": name,
        "revision": live.revision,
        "replicas_ready": live.replicas_ready,
        "image": live.image,
        "digest": digest,
        "rolled_back_from_revision": notes.get(k8s.A_ROLLED_BACK),
        "commit": commit_facts(notes.get(k8s.A_CODE, ""), s, instance),
        "model": model_facts(notes.get(k8s.A_MODEL, ""), s, instance),
        "deployed": deployment_facts(api, live, (namespace, name), instance),
        "url": service_url(api, s),
        "drift": [],
    }
    if notes.get(k8s.A_DIGEST) and notes[k8s.A_DIGEST] != digest:
        report["drift"].append(
            f"the lineage annotations name {notes[k8s.A_DIGEST]}, but the image is "
            f"{live.image}: it was changed outside liveline"
        )
    recorded = materializations(instance, DEPLOYMENT)[:1] if instance else []
    last_image = facts(recorded[0]).get("image") if recorded else None
    if last_image and last_image != live.image:
        report["drift"].append(f"Dagster last rolled out {last_image}")
    return report


def service_url(api: kubernetes.client.ApiClient, s: settings.Settings) -> str | None:
    """Where the serving Service answers: its load balancer's address (AKS), or on the
    local real node its NodePort on 127.0.0.1; None while neither exists."""
    read = kubernetes.client.CoreV1Api(api).read_namespaced_service
    svc = k8s.read_or_none(read, s.k8s_deployment, s.k8s_namespace)
    if svc is None:
        return None
    for ingress in (svc.status.load_balancer and svc.status.load_balancer.ingress) or []:
        port = svc.spec.ports[0].port
        return f"http://{ingress.ip or ingress.hostname}" + ("" if port == 80 else f":{port}")
    return k8s_node.node_port_of(svc) if k8s_node.enabled(Layout(s)) else None


def commit_facts(sha: str, s: settings.Settings, instance: DagsterInstance | None) -> dict:
    found = {"sha": sha, "source": "unknown"}
    if not sha:
        return found
    if instance is not None:
        for record in materializations(instance, SOURCE):
            if (f := facts(record)).get("sha") == sha:
                keep = ("message", "author", "date", "branch", "repository")
                return {**found, **{k: f[k] for k in keep if k in f}, "source": "dagster"}
    try:
        commit = git.resolve(s.app_repo, sha)
    except git.GitError as e:
        return {**found, "why_unknown": str(e)}
    return {
        **found,
        "message": commit.message,
        "author": commit.author,
        "date": commit.date,
        "repository": str(s.app_repo),
        "source": "git",
    }


def model_facts(version: str, s: settings.Settings, instance: DagsterInstance | None) -> dict:
    found = {"version": version, "source": "unknown"}
    if not version:
        return found
    if instance is not None:
        for record in materializations(instance, TRAINED):
            if (f := facts(record)).get("model_version") == version:
                metrics = {k: v for k, v in f.items() if isinstance(v, float)}
                return {
                    **found,
                    "name": f.get("model_name"),
                    "metrics": metrics,
                    "source": "dagster",
                }
    from liveline import modelstore  # imports scikit-learn: only when needed

    try:
        with modelstore.connect(modelstore.account_url(s)) as service:
            container = service.get_container_client(s.models_container)
            for item in container.walk_blobs(delimiter="/", **BLOB_CALL):
                if item.name.startswith("_"):
                    continue
                card_name = f"{item.name}{version}/{CARD_FILE}"
                with contextlib.suppress(AzureError):
                    card = json.loads(container.download_blob(card_name, **BLOB_CALL).readall())
                    return {
                        **found,
                        "name": card["model_name"],
                        "metrics": card["metrics"],
                        "source": "model card",
                    }
    except AzureError as e:
        return {**found, "why_unknown": f"blob storage: {str(e).splitlines()[0]}"}
    return {**found, "why_unknown": f"no model card for {version} in {s.models_container}"}


def deployment_facts(
    api: kubernetes.client.ApiClient,
    live: k8s.Rollout,
    target: tuple[str, str],
    instance: DagsterInstance | None,
) -> dict:
    run_id = live.annotations.get(k8s.A_RUN, "")
    found: dict = {"run_id": run_id}
    if instance is not None:
        for record in materializations(instance, DEPLOYMENT):
            if facts(record).get("image") == live.image:
                at = datetime.fromtimestamp(record.timestamp, UTC).isoformat(timespec="seconds")
                found.update(at=at, recorded_by_run=record.run_id or None, source="dagster")
                if facts(record).get("rollback"):
                    found["by"] = facts(record).get("performed_by", "rollback")
                break
        run = instance.get_run_record_by_id(run_id) if run_id else None
        if run is not None:
            found.update(run_status=run.dagster_run.status.value, job=run.dagster_run.job_name)
    if "at" not in found:
        created = replica_set_created(api, live, *target)
        found.update(at=created, source="cluster (ReplicaSet created)")
    return found


def replica_set_created(
    api: kubernetes.client.ApiClient, live: k8s.Rollout, namespace: str, name: str
) -> str | None:
    """When the ReplicaSet of the live revision was created (approximates the rollout)."""
    apps = kubernetes.client.AppsV1Api(api)
    for rs in apps.list_namespaced_replica_set(namespace, _request_timeout=10).items:
        owners = {o.name for o in rs.metadata.owner_references or []}
        if name in owners and (rs.metadata.annotations or {}).get(k8s.REVISION) == live.revision:
            return rs.metadata.creation_timestamp.isoformat(timespec="seconds")
    return None


def render_text(report: dict) -> str:
    c, m, d = report["commit"], report["model"], report["deployed"]
    first_line = (c.get("message") or "").splitlines()[0:1]
    commit = c["sha"][:12] + (f'  "{first_line[0]}"' if first_line else "")
    commit += f"  {c['author']}, {c['date']}" if c.get("author") else ""
    metrics = "  ".join(f"{k}={v:.4f}" for k, v in (m.get("metrics") or {}).items())
    deployed = f"{d.get('at') or 'unknown'}"
    if d.get("by"):
        deployed += f" by {d['by']} (release built by run {d['run_id']})"
    elif d.get("run_id"):
        deployed += f" by run {d['run_id']}"
        deployed += f" ({d['job']}, {d['run_status']})" if d.get("run_status") else ""
    lines = [
        f"{report['namespace']}/{report['deployment']}: revision {report['revision']}, "
        f"{report['replicas_ready']} replicas ready",
        f"  image     {report['image']}",
        f"  commit    {commit}" + (f"  ({c['why_unknown']})" if c.get("why_unknown") else ""),
        f"  model     {m.get('name') or ''} {m['version']}  {metrics}".rstrip()
        + (f"  ({m['why_unknown']})" if m.get("why_unknown") else ""),
        f"  deployed  {deployed}",
        f"  url       {report['url'] or 'none (no load balancer address or NodePort)'}",
    ]
    if report["rolled_back_from_revision"]:
        lines.append(f"  rollback  rolled back from revision {report['rolled_back_from_revision']}")
    lines.append("  drift     " + ("; ".join(report["drift"]) or "none"))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """`liveline status`"""
    s = settings.load()
    parser = argparse.ArgumentParser(prog="liveline status", description=__doc__.splitlines()[0])
    _common(parser, s)
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)
    _logging()
    try:
        with open_instance(args.dagster_home) as instance, k8s_cluster.api_client(Layout(s)) as api:
            report = describe(api, s, instance)
    except StatusError as e:
        log.error("%s", e)
        return 1
    print(json.dumps(report, indent=2) if args.json else render_text(report))
    return 0


# --- rollback -------------------------------------------------------------------------


def previous_release(instance: DagsterInstance, live: k8s.Rollout, to: str = ""):
    """The newest recorded rollout that is not live and was not itself rolled back from."""
    digest = live.image.rpartition("@")[2]
    refused = {digest}
    for record in materializations(instance, DEPLOYMENT):
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
    overlay = settings.REPO_ROOT / "k8s" / "overlays" / s.k8s_overlay
    kubectl = k8s_build.binary(Layout(s), "kubectl")
    docs = k8s.render(overlay, release, kubectl, s.k8s_namespace)
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
            "image": after.image,
            "digest": digest,
            "code_revision": notes.get(k8s.A_CODE, ""),
            "model_version": notes.get(k8s.A_MODEL, ""),
            "revision": after.revision,
            "replicas_ready": MetadataValue.int(after.replicas_ready),
            "rollout_seconds": MetadataValue.float(round(after.seconds, 2)),
            "namespace": s.k8s_namespace,
            "deployment": s.k8s_deployment,
            "replaced_image": before.image,
            "rolled_back": f"from {before.image} (revision {before.revision})",
            "rollback": True,
            "rolled_back_from_digest": before.image.rpartition("@")[2],
            "restored_from_run": restored_from_run,
            "performed_by": f"liveline rollback ({getpass.getuser()})",
        },
        tags={DATA_VERSION_TAG: digest},
    )


def rollback_main(argv: list[str] | None = None) -> int:
    """`liveline rollback`"""
    s = settings.load()
    parser = argparse.ArgumentParser(
        prog="liveline rollback", description="Roll the previous verified release out again."
    )
    _common(parser, s)
    parser.add_argument("--to", default="", help="digest of a recorded release (sha256:...)")
    parser.add_argument("--force", action="store_true", help="even while a deploy run runs")
    parser.add_argument("--timeout", type=float, default=300.0, help="rollout wait, seconds")
    args = parser.parse_args(argv)
    _logging()
    try:
        with open_instance(args.dagster_home) as instance, k8s_cluster.api_client(Layout(s)) as api:
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
    if record is None and (args.to or (instance and materializations(instance, DEPLOYMENT))):
        wanted = f"with digest {args.to}" if args.to else f"before {before.image}"
        raise StatusError(f"no recorded, verified release {wanted} to roll back to")
    if record is not None:
        log.info("rolling %s back from %s to %s", where, before.image, facts(record)["image"])
        after = rollback_to(api, s, before, record, args.timeout)
        origin = record.run_id or facts(record).get("restored_from_run", "")
    else:
        log.info("no earlier release recorded: restoring %s's previous ReplicaSet", where)
        restored = k8s.rollback(api, s.k8s_namespace, s.k8s_deployment)
        after = k8s.wait(api, s.k8s_namespace, s.k8s_deployment, args.timeout)
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


def _logging() -> None:
    # Our own messages; the libraries' (Azure's HTTP log, alembic's) only when they warn.
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    log.setLevel(logging.INFO)


def _common(parser: argparse.ArgumentParser, s: settings.Settings) -> None:
    parser.add_argument(
        "--dagster-home",
        type=Path,
        default=s.dagster_home,
        help="Dagster instance to read and record in (default: %(default)s)",
    )
    parser.add_argument(
        "--no-dagster",
        dest="dagster_home",
        action="store_const",
        const=None,
        help="use the cluster's annotations only",
    )


if __name__ == "__main__":
    sys.exit(main())
