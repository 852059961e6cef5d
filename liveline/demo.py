"""`make demo`: run the deploy job on the local platform, from model to live deployment.

Expects the platform to be up (`make demo` runs `make up` first). The run is recorded in
the local Dagster instance (<state>/dagster), so `make dev` shows it with its lineage.
"""

from __future__ import annotations

import logging
import os
import sys

from dagster import DagsterInstance

from liveline import deploy, settings
from liveline.dev import ensure_home
from liveline.localplatform import k8s_cluster
from liveline.localplatform.layout import Layout

log = logging.getLogger("liveline.demo")


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    s = settings.load()
    os.environ["DAGSTER_HOME"] = str(ensure_home(s))
    # Imported after DAGSTER_HOME is set, and only here: the CLI's other commands
    # should not pay for loading the code location.
    from orchestration.definitions import defs

    with DagsterInstance.get() as instance:
        result = (
            defs()
            .resolve_job_def("deploy")
            .execute_in_process(instance=instance, raise_on_error=False)
        )
    if not result.success:
        log.error("the deploy job failed (run %s); see the log above", result.run_id)
        return 1
    with k8s_cluster.api_client(Layout(s)) as api:
        live = deploy.live(api, s.k8s_namespace, s.k8s_deployment)
    assert live is not None
    notes = live.annotations
    log.info(
        "\nLive in %s/%s (revision %s, %d replicas ready):\n"
        "  code revision  %s\n  model version  %s\n  image          %s\n  deployed by    run %s\n"
        "\nOpen the Dagster UI with `make dev`, then http://127.0.0.1:%d (lineage: Assets).",
        s.k8s_namespace, s.k8s_deployment, live.revision, live.replicas_ready,
        notes.get(deploy.A_CODE), notes.get(deploy.A_MODEL), live.image,
        notes.get(deploy.A_RUN), s.dagster_port,
    )  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
