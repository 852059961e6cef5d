"""The model store down, for every store (Azurite, SeaweedFS for S3, the MLflow
tracking server), through the asset graph against the real local platform: before,
during and after serving_image (which reads the newest verified model), and before and
during model_blob (which publishes one).

The same guarantees as every outage case (test_faults_outages.py): the step that needs
the store fails, naming it and `make up`, after its retry policy ran it three more
times; the live deployment is what it was and the Service answers all the while;
nothing half-published is taken as a model; once the store is back, the same release or
publication succeeds. "During" is exact: the step's own resource stops the store right
after the step opened its client (tests/support/outage.py), and the case fails if the
outage never fired. What happens to a publish or a poll stopped between two of the
store's own calls is the store's contract (tests/integration/liveline/
test_modelstore_stores.py).
"""

from __future__ import annotations

import pytest

from devplatform import k8s_node
from liveline import k8s
from liveline.modelstore import ModelStoreError
from tests.support.fault_world import (
    PUBLISH,
    RELEASE,
    commit,
    component_down,
    facts_of,
    failed_for,
    live,
    release,
)
from tests.support.prober import Prober
from tests.support.stores import StoreKit

pytestmark = [pytest.mark.integration]

NAMED = {"azure": "Azure Blob Storage", "s3": "S3", "mlflow": "MLflow"}  # in the failure


@pytest.fixture
def chosen(fault_world, model_store: StoreKit, monkeypatch) -> StoreKit:
    """The store the release reads its model from, for this case: LIVELINE_ settings."""
    for key, value in model_store.env().items():
        monkeypatch.setenv(f"LIVELINE_{key}", value)
    return model_store


@pytest.mark.parametrize("phase", ["before", "during", "after"])
def test_a_model_store_outage_fails_serving_image_and_leaves_the_live_release(
    fault_world, chosen, model_dir_pristine, phase
):
    w, kit = fault_world, chosen
    kit.store.publish(model_dir_pristine)
    head = commit(w, f"{kit.kind}-{phase}-serving_image")
    before = live(w)
    url = k8s_node.node_port_url(w.api, w.s.k8s_namespace, w.s.k8s_deployment)
    assert url, "the serving Service has no NodePort: is the real node up?"
    cut = RELEASE.index("serving_image") + (1 if phase == "after" else 0)
    release(w, RELEASE[:cut], head)
    with (
        component_down(w, kit.component, phase, lambda: kit.restart(w.layout)) as outage,
        Prober(f"{url}/readyz", interval_s=0.1) as served,
    ):
        result = release(w, RELEASE[cut:], head, check=False, outage=True)
    assert served.sent > 0 and served.failed == [], served.failed[:5]
    if phase == "during":
        assert outage.fired, f"serving_image never opened {kit.kind}: the outage missed it"
    if phase == "after":  # nothing after serving_image reads the store: the release is live
        assert result.success
        assert live(w).annotations[k8s.A_CODE] == head
        return
    failed_for(result, "serving_image", NAMED[kit.kind])
    assert live(w).image == before.image  # the live deployment is what it was
    release(w, RELEASE[1:], head)  # recovered: the same release goes live
    assert live(w).annotations[k8s.A_CODE] == head
    assert live(w).annotations[k8s.A_MODEL] == facts_of(w, "serving_image")["model_version"]


@pytest.mark.parametrize("phase", ["before", "during"])
def test_a_model_store_outage_while_publishing_leaves_no_half_published_model(
    fault_world, chosen, phase
):
    """model_blob into a store of the case's own, so the model is new there."""
    w, kit = fault_world, chosen
    assert release(w, PUBLISH[:2]).success
    with component_down(w, kit.component, phase, lambda: kit.restart(w.layout)) as outage:
        result = release(w, PUBLISH[2:], check=False, outage=True)
    assert phase == "before" or outage.fired, "model_blob never opened the store"
    failed_for(result, "model_blob", NAMED[kit.kind])
    with pytest.raises(ModelStoreError):  # nothing counts as a model
        kit.store.newest_valid()
    assert release(w, PUBLISH[2:]).success  # recovered: the same model publishes, whole
    published = facts_of(w, "model_blob")
    model, _ = kit.store.newest_valid()
    assert model.version == published["model_version"]
    assert model.artifact_sha256 == published["artifact_sha256"]
