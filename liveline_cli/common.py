"""What `liveline status` and `liveline rollback` share: the Dagster instance, if there is
one, the recorded rollouts, and the command-line basics."""

from __future__ import annotations

import argparse
import contextlib
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from dagster import AssetKey, DagsterInstance

from liveline import constants, k8s, settings

log = logging.getLogger("liveline_cli")

DEPLOYMENT = AssetKey(constants.CLUSTER_DEPLOYMENT)
HISTORY = 100  # materializations searched for a fact


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


def facts(record: Any) -> dict[str, Any]:
    return {k: v.value for k, v in record.asset_materialization.metadata.items()}


def recorded(
    instance: DagsterInstance | None, key: AssetKey, field: str, value: str
) -> dict[str, Any] | None:
    """The facts of key's newest materialization whose `field` is value, if any."""
    if instance is None or not value:
        return None
    for record in materializations(instance, key):
        if (found := facts(record)).get(field) == value:
            return found
    return None


def api_client(s: settings.Settings) -> Any:
    """A client for the configured cluster (use it as a context manager)."""
    return k8s.api_client(s.kubeconfig_path, s.kube_context)


def setup_logging() -> None:
    # Our own messages; the libraries' (Azure's HTTP log, alembic's) only when they warn.
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    log.setLevel(logging.INFO)


def add_common_arguments(parser: argparse.ArgumentParser, s: settings.Settings) -> None:
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
