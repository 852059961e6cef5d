"""`make demo`, then the release sensor, with each model store chosen by configuration.

For Azure Blob Storage (Azurite), S3 (SeaweedFS) and the MLflow Model Registry in turn,
one release scenario (tests.support.scenario: a clone of this repository, a namespace and
a Dagster instance of its own) points LIVELINE_MODEL_STORE and the store's own settings
at a container, bucket or registered model of the test's own (tests.support.stores):

1. `python -m liveline_cli.demo` runs as `make demo` does, in a process of its own with
   the scenario's settings: it trains the project's declared model, publishes it to the
   chosen store, builds, pushes and deploys it, and the Service scores the card's golden
   set. The version live is the one the store holds.
2. `dagster dev` starts (daemon, sensors); a new model version published straight to the
   store (the store's own client, not the settings) becomes live with no other action,
   through a release run the sensor requested for that model.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from liveline import k8s, project, settings
from liveline.constants import MODEL_TAG, TRIGGER_TAG
from tests.support import stores
from tests.support.scenario import RELEASE_SENSOR, Scenario, release_runs, release_ticks, scenario

pytestmark = pytest.mark.integration

DEMO_TIMEOUT_S = 600  # `make demo` takes ~40 s with the platform up; a cold build more
LIVE_TIMEOUT_S = 240  # a release takes ~30 s on 2 cores; leave room for CI's noise
TICK_TIMEOUT_S = 60
TICK_S, SETTLE_S = 2, 2
ANSWERED = "scored the card's golden set"  # the demo's line when the Service answered


def run_demo(sc: Scenario) -> subprocess.CompletedProcess[str]:
    """`make demo`'s command, with the scenario's settings (DAGSTER_HOME is the demo's
    own business: it takes the instance from LIVELINE_DAGSTER_INSTANCE)."""
    return subprocess.run(
        [sys.executable, "-m", "liveline_cli.demo"], cwd=settings.REPO_ROOT,
        env={**os.environ, **sc.env}, capture_output=True, text=True, timeout=DEMO_TIMEOUT_S,
        check=False,
    )  # fmt: skip


def wait_first_tick(sc: Scenario) -> None:
    """The release sensor's first evaluated tick (skipped or run, its cursor saved): a
    model published after it is news, not the baseline it starts from."""
    deadline = time.monotonic() + TICK_TIMEOUT_S
    while True:
        ticks = release_ticks(sc.url)
        if any(t["status"] in ("SKIPPED", "SUCCESS") for t in ticks):
            return
        assert time.monotonic() < deadline, f"no evaluated {RELEASE_SENSOR} tick: {ticks[:3]}"
        time.sleep(0.5)


def wait_live(sc: Scenario, code: str, model: str) -> k8s.Rollout:
    try:
        return sc.wait_live(code, model, LIVE_TIMEOUT_S)
    except k8s.RolloutError as err:
        assert sc.dagster is not None
        runs = [(r.run_id, r.status.value, r.tags.get(TRIGGER_TAG))
                for r in release_runs(sc.dagster)]  # fmt: skip
        ticks = [(t["status"], t["skipReason"], t["error"]) for t in release_ticks(sc.url)[:5]]
        pytest.fail(f"{err}\nrelease runs: {runs}\nlatest ticks: {ticks}\nlog: {sc.log_file}")


def test_the_demo_and_a_published_model_go_live_with_each_store(
    model_store: stores.StoreKit, tmp_path, local_platform, other_model_dir
):
    more = model_store.env()  # e.g. MODEL_STORE=s3 and MODELS_BUCKET=<the test's bucket>
    with scenario(tmp_path / "scenario", TICK_S, SETTLE_S, more=more, start=False) as sc:
        # The demo builds the scenario's clone, as `make demo` builds the repository it
        # runs in: the code live is then the clone's HEAD, the commit the sensor watches.
        sc.env[settings.env_name("app_repo")] = str(sc.repo)
        sc.s = settings.load({**os.environ, **sc.env})
        assert sc.s.model_store == model_store.kind
        declared = project.from_settings(sc.s).training["model_name"]

        demo = run_demo(sc)
        output = demo.stdout + demo.stderr  # the demo logs to stderr
        assert demo.returncode == 0, output[-5000:]
        assert ANSWERED in output, output[-5000:]
        live = k8s.live(sc.api, sc.s.k8s_namespace, sc.s.k8s_deployment)
        assert live is not None
        head = sc.head()
        assert live.annotations[k8s.A_CODE] == head
        # The demo published the declared model to the store the settings chose: the
        # test's own store (not the default one) holds the version that went live.
        demo_model, _ = model_store.store.newest_valid()
        assert demo_model.name == declared
        assert live.annotations[k8s.A_MODEL] == demo_model.version

        with sc.instance() as sc.dagster:
            sc.start()
            wait_first_tick(sc)
            newer = model_store.store.publish(other_model_dir).model
            assert newer.version != demo_model.version  # else nothing new could go live
            rollout = wait_live(sc, head, newer.version)
            runs = release_runs(sc.dagster)  # newest first
            assert runs, "the deployment changed with no release run"
            assert runs[0].tags[TRIGGER_TAG] == "model"
            assert runs[0].tags[MODEL_TAG] == f"{newer.name}/{newer.version}"
            assert rollout.annotations[k8s.A_RUN] == runs[0].run_id
