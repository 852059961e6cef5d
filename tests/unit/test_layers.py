"""`make lint` keeps the packages' layer order: an import against it fails the build.

The contracts (pyproject.toml [tool.importlinter]) are checked on a copy of the tree, as
it is and with one offending import added, so the oracle is shown to fail."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("liveline_cli", "orchestration", "devplatform", "liveline", "model_training",
            "serving", "modelcard")  # fmt: skip
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint(tree: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--config", str(tree / "pyproject.toml")],
        cwd=tree, capture_output=True, text=True, timeout=120,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(tree)},
    )  # fmt: skip


@pytest.fixture
def tree(tmp_path) -> Path:
    for package in PACKAGES:
        shutil.copytree(REPO / package, tmp_path / package,
                        ignore=shutil.ignore_patterns("__pycache__"))  # fmt: skip
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def test_the_tree_keeps_its_layers(tree):
    done = lint(tree)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize(
    ("module", "offending", "contract"),
    [
        ("orchestration/assets/cluster.py", "import devplatform", "Layer order"),
        ("liveline/k8s/render.py", "import orchestration", "Layer order"),
        ("serving/app.py", "import liveline", "Layer order"),
        ("liveline/settings.py", "import dagster", "Dagster only"),
        ("modelcard/card.py", "import numpy", "modelcard: standard"),
    ],
)
def test_an_import_against_the_layers_fails_lint(tree, module, offending, contract):
    path = tree / module
    path.write_text(path.read_text() + f"\n{offending}  # noqa\n")
    done = lint(tree)
    assert done.returncode != 0
    broken = [line for line in done.stdout.splitlines() if "BROKEN" in line]
    assert any(contract in line for line in broken), done.stdout
