"""Where the local platform keeps its files inside the state folder.

Everything a component needs at run time (configs, data, logs, pidfiles, installed npm
packages) lives under `settings.state_dir`, so deleting that folder resets the platform.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from liveline import settings as settings_module
from liveline.settings import Settings

# Pinned npm project for Azurite (package.json + package-lock.json), in the repo.
AZURITE_PACKAGE_DIR = settings_module.REPO_ROOT / "tools" / "azurite"
# Pinned MLflow server with its dependencies, hashed (`uv pip compile --generate-hashes`).
MLFLOW_REQUIREMENTS = settings_module.REPO_ROOT / "tools" / "mlflow" / "requirements.txt"

DOCKER_SOCKET_DEFAULT = settings_module.DOCKER_SOCKET_DEFAULT
# apt-get installs of the platform's Debian packages (docker.io, containerd, ...).
APT_TIMEOUT_S = 1200.0


@dataclass(frozen=True)
class Layout:
    """Paths derived from settings; create() makes the folders."""

    settings: Settings

    @property
    def state(self) -> Path:
        return self.settings.state_dir

    @property
    def run(self) -> Path:
        return self.state / "run"

    @property
    def logs(self) -> Path:
        return self.settings.logs_dir

    def pidfile(self, name: str) -> Path:
        return self.run / f"{name}.pid"

    def logfile(self, name: str) -> Path:
        return self.logs / f"{name}.log"

    @property
    def registry_dir(self) -> Path:
        return self.state / "registry"

    @property
    def azurite_dir(self) -> Path:
        return self.state / "azurite"

    @property
    def azurite_data(self) -> Path:
        return self.state / "azurite-data"

    @property
    def base_image_dir(self) -> Path:
        return self.state / "base-image"

    def create(self) -> None:
        for path in (self.run, self.logs, self.registry_dir, self.azurite_data):
            path.mkdir(parents=True, exist_ok=True)


def load() -> Layout:
    return Layout(settings_module.load())
