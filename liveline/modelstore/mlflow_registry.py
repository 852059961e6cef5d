"""The MLflow Model Registry as Liveline's model store (LIVELINE_MODEL_STORE=mlflow).

A registered model's versions are numbered by the server, so nothing is ever overwritten:
a new publication is a new version. Liveline publishes a version as an MLflow sklearn
model saved with skops (loadable by `mlflow.sklearn.load_model` as well), its card
beside the artifact, and tags that carry the Liveline version and the sha256 of card and
artifact (MLflow records no checksum of its own). A version is taken only when its
MLmodel says skops (never pickle or cloudpickle: loading those runs code), its card and
artifact hash to what the card and tags say, and it was trained with the scikit-learn
that serving runs.

Watching is O(new) per tick: one search for versions numbered above the cursor's (or,
with an alias such as "champion", one read of the alias: moving it releases), per
watched model. Plain library code: no Dagster, no mlflow import (mlflow_rest says why).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import modelcard
from liveline import project
from liveline.modelstore import mlflow_layout as layout
from liveline.modelstore.base import ModelStoreError
from liveline.modelstore.catalog import PublishedModel, Scan
from liveline.modelstore.mlflow_rest import ARTIFACTS, Client, RegistryError, RegistryUnavailable
from liveline.modelstore.publishing import Publication, check_gate, read_model_dir
from liveline.modelstore.store import News
from liveline.project import Gates
from liveline.settings import Settings
from model_training.config import DEFAULT_MODEL_NAME
from modelcard import ModelCard

__all__ = ["MlflowStore", "RegistryUnavailable", "connect", "tracking_uri", "watched"]

MAX_REFUSED_PER_TICK = 10
ETAG = "mlflow-v"  # a version's "etag": its number, which names it for good


def tracking_uri(settings: Settings) -> str:
    return settings.mlflow_tracking_uri or settings.local_mlflow_url


def watched(settings: Settings) -> list[str]:
    """The registered models to watch: mlflow_models, else the project's model."""
    names = [n.strip() for n in settings.mlflow_models.split(",") if n.strip()]
    if names:
        return names
    return [str(project.from_settings(settings).training.get("model_name", DEFAULT_MODEL_NAME))]


@contextlib.contextmanager
def connect(url: str) -> Iterator[Client]:
    client = Client(url)
    try:
        yield client
    finally:
        client.close()


class MlflowStore:
    """A ModelStore over registered models of one tracking server."""

    def __init__(
        self, client: Client, models: list[str], alias: str = "", gates: Gates | None = None
    ) -> None:
        self.client, self.models, self.alias = client, models, alias
        self.gates = gates or Gates()  # for versions registered without a Liveline card

    @property
    def url(self) -> str:
        return f"MLflow {self.client.url}"

    # --- publishing -------------------------------------------------------------------
    def publish(self, model_dir: Path, gates: Gates | None = None) -> Publication:
        card, card_bytes, artifacts = read_model_dir(model_dir)
        check_gate(card, gates)
        if (existing := self._by_tag(card.model_name, card.model_version)) is not None:
            return Publication(self._verified(existing), uploaded=False)
        number = layout.upload(self.client, card, card_bytes, artifacts)
        # Two publishers of one version at once make two MLflow versions: the older stands.
        first = self._by_tag(card.model_name, card.model_version)
        if first is not None and first["version"] != number:
            self.client.delete("model-versions/delete", name=card.model_name, version=number)
            return Publication(self._verified(first), uploaded=False)
        return Publication(self.get(card.model_name, number), uploaded=True)

    # --- reading ----------------------------------------------------------------------
    def get(self, name: str, version: str) -> PublishedModel:
        """One version, by its Liveline version (from its card) or its MLflow number."""
        found = self._by_tag(name, version)
        if found is None and version.isdigit():  # registered without a Liveline card
            found = self._number(name, version)
        if found is None:
            raise ModelStoreError(f"{name} {version} is not registered in {self.url}")
        return self._verified(found)

    def scan(self) -> Scan:
        valid: list[PublishedModel] = []
        passed_over: dict[str, str] = {}
        for name in self.models:
            for v in self._search(f"name='{name}'", limit=None):
                try:
                    valid.append(self._verified(v))
                except ModelStoreError as e:
                    passed_over[layout.label(v)] = str(e).splitlines()[0]
        valid.sort(key=lambda m: m.published_at, reverse=True)
        return Scan(valid, passed_over)

    def newest_valid(self) -> tuple[PublishedModel, dict[str, str]]:
        """The alias's version when an alias is set, else the newest valid version."""
        passed_over: dict[str, str] = {}
        heads: list[PublishedModel] = []
        for name in self.models:
            if self.alias:
                if (v := self._aliased(name)) is not None:
                    heads.append(self._verified(v))
                continue
            for v in self._search(f"name='{name}'", limit=None):
                try:
                    heads.append(self._verified(v))
                    break
                except ModelStoreError as e:
                    passed_over[layout.label(v)] = str(e).splitlines()[0]
        if not heads:
            reasons = "".join(f"\n  {p}: {why}" for p, why in passed_over.items())
            what = f"with the alias {self.alias!r}" if self.alias else "valid"
            raise ModelStoreError(
                f"no {what} version of {', '.join(self.models)} in {self.url}{reasons}"
            )
        return max(heads, key=lambda m: m.published_at), passed_over

    def download(self, model: PublishedModel, dest: Path) -> Path:
        number = model.card_etag.removeprefix(ETAG)
        v = self._number(model.name, number)
        if v is None:
            raise ModelStoreError(f"{model.name} version {number} vanished from {self.url}")
        path = layout.artifact_path(self.client, v)
        checked = layout.verify(self.client, v, path, self.client.list_artifacts(path), self.gates)
        files = layout.fetch(self.client, path, model, checked)
        dest.mkdir(parents=True, exist_ok=True)
        stamp = model.published_at.timestamp()  # dated by publication: builds stay cacheable
        for file, data in files.items():
            (dest / file).write_bytes(data)
            os.utime(dest / file, (stamp, stamp))
        return dest

    def card_of(self, version: str) -> ModelCard | None:
        for name in self.models:
            with contextlib.suppress(ModelStoreError):
                card = self.get(name, version).card
                return ModelCard.from_dict(card, source=f"{self.url} {name} {version}")
        return None

    # --- watching ---------------------------------------------------------------------
    def poll(self, cursor: Mapping[str, Any], now: float, sweep_every_s: float) -> News:
        """New versions (or alias moves) since cursor; the first poll adopts what is there."""
        first = "seen" not in cursor
        seen: dict[str, int] = dict(cursor.get("seen", {}))
        aliased: dict[str, int] = dict(cursor.get("aliased", {}))
        candidates: list[dict[str, Any]] = []
        for name in self.models:
            if self.alias:
                v = self._aliased(name)
                if v is not None and int(v["version"]) != aliased.get(name):
                    aliased[name] = int(v["version"])
                    candidates.append(v)
                continue
            since = seen.get(name, 0)
            limit = 1 if first else MAX_REFUSED_PER_TICK
            new = list(self._search(f"name='{name}' AND version_number > {since}", limit))
            ready = [v for v in new if v.get("status", "READY") == "READY"]
            pending = [int(v["version"]) for v in new if v not in ready]
            top = max([int(v["version"]) for v in ready] + [since])
            seen[name] = min([top, *(p - 1 for p in pending)])
            candidates.extend(v for v in ready if int(v["version"]) <= seen[name])
        current, newest = str(cursor.get("current", "")), None
        rejected: dict[str, str] = {}
        for v in sorted(candidates, key=lambda v: int(v["creation_timestamp"]), reverse=True):
            try:
                model = self._verified(v)
            except ModelStoreError as e:
                rejected[layout.label(v)] = str(e).splitlines()[0]
                continue
            current, newest = f"{model.name}/{model.version}", None if first else model
            break
        state = {"seen": seen, "aliased": aliased, "current": current}
        return News(state, current, newest, rejected, swept=first)

    # --- the registry's records -------------------------------------------------------
    def _search(self, where: str, limit: int | None) -> Iterator[dict[str, Any]]:
        """Versions matching where, highest number first, fetched a page at a time as the
        caller reads on (limit None: all there are): newest_valid stops at its first."""
        token, given = "", 0
        while True:
            size = 1000 if limit is None else min(limit - given, 1000)  # the server's cap
            page = self.client.get(
                "model-versions/search", filter=where, order_by="version_number DESC",
                max_results=size, page_token=token,
            )  # fmt: skip
            for v in page.get("model_versions", []):
                yield v
                given += 1
                if limit is not None and given >= limit:
                    return
            token = page.get("next_page_token", "")
            if not token:
                return

    def _by_tag(self, name: str, version: str) -> dict[str, Any] | None:
        """The oldest version carrying this Liveline version."""
        where = f"name='{name}' AND tags.{layout.TAG_VERSION} = '{version}'"
        found = list(self._search(where, limit=None))
        return min(found, key=lambda v: int(v["version"])) if found else None

    def _number(self, name: str, number: str) -> dict[str, Any] | None:
        try:
            got = self.client.get("model-versions/get", name=name, version=number)
            return dict(got["model_version"])
        except RegistryError as e:
            if e.code == "RESOURCE_DOES_NOT_EXIST":
                return None
            raise

    def _aliased(self, name: str) -> dict[str, Any] | None:
        """The version the alias points at; None while the alias or the model is missing."""
        try:
            got = self.client.get("registered-models/alias", name=name, alias=self.alias)
        except RegistryError as e:  # an unset alias is 400 INVALID_PARAMETER_VALUE
            if e.code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"):
                return None
            raise
        return dict(got["model_version"])

    def _verified(self, v: dict[str, Any]) -> PublishedModel:
        """The version if it is loadable without running code and its bytes check out."""
        if v.get("status", "READY") != "READY":
            raise ModelStoreError(f"{layout.label(v)} is {v['status']}, not READY")
        path = layout.artifact_path(self.client, v)
        files = self.client.list_artifacts(path)
        checked = layout.verify(self.client, v, path, files, self.gates)
        model, card_bytes = checked.card, checked.card_bytes
        published = datetime.fromtimestamp(int(v["creation_timestamp"]) / 1000, UTC)
        base = f"{self.client.url}{ARTIFACTS}/{path}"
        return PublishedModel(
            name=model.model_name,
            version=model.model_version,
            artifact_sha256=model.artifact_sha256,
            artifact_size=files[model.artifact_file],
            artifact_etag=f"{ETAG}{v['version']}",
            card_sha256=modelcard.sha256(card_bytes),
            card_etag=f"{ETAG}{v['version']}",
            published_at=published,
            artifact_url=f"{base}/{model.artifact_file}",
            card_url=f"{base}/{layout.CARD_FILE}",
            card=model.raw,
        )
