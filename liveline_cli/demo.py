"""`make demo`: run the deploy job on the local platform, from model to live deployment.

Expects the platform to be up (`make demo` runs `make up` first). The run is recorded in
the local Dagster instance (<state>/dagster), so `make dev` shows it with its lineage.
"""

from __future__ import annotations

import logging
import os
import sys

from dagster import DagsterInstance

from liveline import k8s, modelstore, settings
from liveline.images import smoke
from liveline_cli.common import api_client
from liveline_cli.dev import ensure_home
from liveline_cli.status import service_url

log = logging.getLogger("liveline_cli.demo")


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("azure").setLevel(logging.WARNING)  # its HTTP logging, per request
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
    with api_client(s) as api:
        live = k8s.live(api, s.k8s_namespace, s.k8s_deployment)
        url = service_url(api, s)
    assert live is not None
    notes = live.annotations
    if url:
        answered = _score_through_service(url, s, notes)
        if answered is None:
            return 1
    else:
        answered = "no address to reach it from here (simulated node: no container runs)"
    log.info(
        "\nLive in %s/%s (revision %s, %d replicas ready):\n"
        "  code revision  %s\n  model version  %s\n  image          %s\n  deployed by    run %s\n"
        "  service        %s\n"
        "\nOpen the Dagster UI with `make dev`, then http://127.0.0.1:%d (lineage: Assets).",
        s.k8s_namespace, s.k8s_deployment, live.revision, live.replicas_ready,
        notes.get(k8s.A_CODE), notes.get(k8s.A_MODEL), live.image,
        notes.get(k8s.A_RUN), answered, s.dagster_port,
    )  # fmt: skip
    return 0


def _score_through_service(url: str, s: settings.Settings, notes: dict) -> str | None:
    """The live model answers through the cluster's Service: /version names the deployed
    commit and model, and the card's golden set scores to the card's probabilities."""
    from orchestration.facts import ImageFacts

    with DagsterInstance.get() as instance:
        built = ImageFacts.latest(instance)
    with modelstore.open_store(s) as store:
        model = store.get(built.model_name, notes[k8s.A_MODEL])
    try:
        smoke.wait_url_ready(url)
        version = smoke.smoke_test(url, model.card, notes[k8s.A_CODE])
    except (smoke.SmokeTestError, OSError) as e:
        log.error("the deployment is live but its Service at %s does not answer right: %s\n"
                  "See `kubectl -n %s get pods,endpoints` and the pods' logs.",
                  url, e, s.k8s_namespace)  # fmt: skip
        return None
    return (
        f"{url} answers: POST /score scored the card's golden set, /version names "
        f"{version['code_revision'][:12]} and model {version['model_version']}"
    )


if __name__ == "__main__":
    sys.exit(main())
