"""The Dagster code location loads through workspace.yaml, as `dagster dev` would."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from dagster import Definitions

from orchestration.definitions import defs

REPO = Path(__file__).resolve().parents[2]


def test_definitions_are_loadable():
    Definitions.validate_loadable(defs)


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
