"""`liveline status`: what is live in the cluster, and why.

The cluster's lineage annotations (liveline.k8s) answer on their own: image digest,
code revision, model version, the Dagster run that rolled it out. The Dagster instance in
<state>/dagster, when there is one, adds when and how that run went, the commit and the
model's metrics, and drift from the last recorded rollout. Git and the model card in blob
storage fill in the commit and metrics without it.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime

import kubernetes
from dagster import AssetKey, DagsterInstance

from devplatform import k8s_node
from devplatform.layout import Layout
from liveline import constants, git, k8s, settings
from liveline_cli.common import (
    DEPLOYMENT,
    StatusError,
    add_common_arguments,
    api_client,
    facts,
    log,
    materializations,
    open_instance,
    recorded,
    setup_logging,
)

SOURCE, TRAINED = AssetKey(constants.APP_SOURCE), AssetKey(constants.TRAINED_MODEL)


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
    if f := recorded(instance, SOURCE, "sha", sha):
        keep = ("message", "author", "date", "branch", "repository")
        return {**found, **{k: f[k] for k in keep if k in f}, "source": "dagster"}
    if not sha:
        return found
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
    if f := recorded(instance, TRAINED, "model_version", version):
        metrics = {k: v for k, v in f.items() if isinstance(v, float)}
        return {**found, "name": f.get("model_name"), "task": f.get("task"), "metrics": metrics,
                "source": "dagster"}  # fmt: skip
    if not version:
        return found
    from liveline import modelstore  # imports scikit-learn: only when needed

    try:
        with modelstore.open_store(s) as store:
            card = store.card_of(version)
        if card is not None:
            return {**found, "name": card.model_name, "task": card.task,
                    "metrics": card.metrics, "source": "model card"}  # fmt: skip
    except modelstore.SERVICE_ERRORS as e:
        return {**found, "why_unknown": f"model store: {str(e).splitlines()[0]}"}
    return {**found, "why_unknown": f"no model card for {version} in {modelstore.location(s)}"}


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
    task = m.get("task") or ""
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
        f"  model     {m.get('name') or ''} {m['version']}  {task}  {metrics}".rstrip()
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
    add_common_arguments(parser, s)
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)
    setup_logging()
    try:
        with open_instance(args.dagster_home) as instance, api_client(s) as api:
            report = describe(api, s, instance)
    except StatusError as e:
        log.error("%s", e)
        return 1
    print(json.dumps(report, indent=2) if args.json else render_text(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
