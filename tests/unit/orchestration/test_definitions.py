"""The Dagster code location: it loads, and the asset graph has the promised shape."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from dagster import AssetCheckKey, AssetKey, Definitions

from orchestration.definitions import defs

REPO = Path(__file__).resolve().parents[3]
EDGES = {
    "training_data": set(),
    "trained_model": {"training_data"},
    "model_blob": {"trained_model"},
    "app_source": set(),
    "serving_image": {"app_source", "model_blob"},
    "registry_image": {"serving_image"},
    "cluster_deployment": {"registry_image"},
}
GROUPS = {
    "model": {"training_data", "trained_model", "model_blob"},
    "image": {"app_source", "serving_image", "registry_image"},
    "cluster": {"cluster_deployment"},
}
BLOCKING_CHECKS = {
    AssetCheckKey(AssetKey("trained_model"), "quality_gate"),
    AssetCheckKey(AssetKey("serving_image"), "smoke_test"),
}


def test_definitions_are_loadable():
    Definitions.validate_loadable(defs())


def test_workspace_validates_with_the_dagster_cli(tmp_path):
    dagster = Path(sys.executable).with_name("dagster")
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path)}
    result = subprocess.run(
        [str(dagster), "definitions", "validate", "-w", "workspace.yaml"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "liveline" in result.stdout + result.stderr


def test_asset_graph_edges_and_groups():
    graph = defs().resolve_asset_graph()
    nodes = {key.to_user_string(): graph.get(key) for key in graph.get_all_asset_keys()}
    edges = {name: {p.to_user_string() for p in node.parent_keys} for name, node in nodes.items()}
    assert edges == EDGES
    for group, names in GROUPS.items():
        assert {name for name, node in nodes.items() if node.group_name == group} == names


def test_every_asset_has_a_code_version_and_a_description():
    graph = defs().resolve_asset_graph()
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        assert node.code_version, key
        assert node.description and "\n" not in node.description.strip(), key


# Evaluated by the live-state sensor, in no job.
NO_DRIFT = AssetCheckKey(AssetKey("cluster_deployment"), "no_drift")


def test_checks_are_blocking():
    graph = defs().resolve_asset_graph()
    assert graph.asset_check_keys == BLOCKING_CHECKS | {NO_DRIFT}
    for key in BLOCKING_CHECKS:
        assert graph.get_check_spec(key).blocking, key
    assert not graph.get_check_spec(NO_DRIFT).blocking


def test_deploy_job_covers_the_graph_and_its_checks():
    job = defs().resolve_job_def("deploy")
    selected = job.asset_layer.asset_graph
    assert {k.to_user_string() for k in selected.get_all_asset_keys()} == set(EDGES)
    assert job.asset_layer.asset_graph.asset_check_keys == BLOCKING_CHECKS


def test_cluster_deployments_are_serialised_by_a_pool():
    node = defs().resolve_asset_graph().get(AssetKey("cluster_deployment"))
    assert node.pools == {"k8s_cluster"}


# What only training needs. A run worker is a new process that loads the whole code
# location before its first step, and a release never trains: importing these there
# cost 6-8 s of every release's start on 2 cores (issue 18).
TRAINING_STACK = {"sklearn", "scipy", "pandas", "skops", "skl2onnx", "onnx", "pytest"}


def test_loading_the_code_location_imports_no_training_stack():
    probe = (
        "import json, sys\n"
        "from orchestration.definitions import defs\n"
        "defs()\n"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, timeout=120,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    loaded = set(json.loads(result.stdout.splitlines()[-1]))
    assert loaded & TRAINING_STACK == set(), "imported when the code location loads"
