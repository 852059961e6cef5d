"""Newly published models for the release sensor, in O(new objects) per tick.

A container or bucket lists lexicographically with no "modified since" filter, Azurite
and SeaweedFS have no change feed, and versions live at <name>/<version>/ named by a
content fingerprint, so a new version can land anywhere in a listing: finding it by
listing costs O(all objects) (about 3.5 s per 10,000 blobs on the local Azurite).
Publishers therefore also write a journal entry (liveline.modelstore.journal) whose names
sort newest first: a tick lists the journal from the top and stops at the first entry
older than its cursor less a grace period (for late writers), one small request in all.

A sweep of the whole container, a few pages per tick and every `sweep_every_s`, finds
versions published without a journal entry (a publisher predating it, a manual upload)
and sets the baseline on the first tick. A candidate counts only once verified down to
the artifact's bytes; a partial upload has no card yet and is no candidate. Where a
listing carries no metadata (S3), only new journal entries and the sweep's kept cards
are asked for theirs, so a tick stays O(new).
Plain library code: no Dagster here.
"""

from __future__ import annotations

import contextlib
import dataclasses
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from liveline.modelstore.base import ModelStoreError, ObjectNotFound
from liveline.modelstore.catalog import PublishedModel, get
from liveline.modelstore.journal import JOURNAL, parse_entry
from liveline.modelstore.objects import Bucket, ObjectInfo, listing, metadata
from modelcard import CARD_FILE

GRACE = timedelta(minutes=10)  # how late a journal entry may be written
JOURNAL_PAGE = 100
SWEEP_PAGE = 5000  # the service's maximum
SWEEP_PAGES_PER_TICK = 2
# Candidates refused per tick at most (each costs a download); the rest wait for a sweep.
MAX_REFUSED_PER_TICK = 10
# Cards a sweep keeps (the newest) until it completes and verifies them.
SWEEP_KEEP = 2 * MAX_REFUSED_PER_TICK


@dataclass
class ModelCursor:
    """The model half of the release sensor's cursor (JSON through dataclasses.asdict)."""

    newest: str = ""  # "<name>/<version>" of the newest verified version
    newest_key: list[str] = field(default_factory=lambda: ["", ""])
    journal_since: str | None = None  # None: the journal was never read
    journal_seen: list[str] = field(default_factory=list)  # entries within GRACE of since
    sweep_token: str | None = None  # where the sweep in progress goes on
    sweeping: bool = False
    swept_at: float = 0.0  # when the last sweep completed, epoch seconds (0: never)
    # The newest cards the sweep in progress found: [prefix, modified, published_at, etag]
    sweep_found: list[list[str]] = field(default_factory=list)
    baseline: bool = True  # until the first sweep completes: adopt, do not announce
    rejected: dict[str, list[str]] = field(default_factory=dict)  # prefix -> [card etag, *key]


@dataclass(frozen=True)
class Found:
    cursor: ModelCursor
    newest: PublishedModel | None  # a new newest version to announce, if any
    rejected: dict[str, str]  # prefix -> why, for candidates refused in this tick
    swept: bool


@dataclass(frozen=True)
class _Candidate:
    key: tuple[str, str]  # (card last-modified, published_at metadata): catalog.scan's order
    etag: str
    announce: bool  # False for versions adopted by the baseline sweep


def stamp(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def poll(bucket: Bucket, cursor: ModelCursor, now: float, sweep_every_s: float) -> Found:
    """Read the journal, sweep on if due, and verify candidates newer than the newest."""
    c = dataclasses.replace(cursor, rejected=dict(cursor.rejected))
    candidates = _read_journal(bucket, c)
    swept = c.sweeping or now - c.swept_at >= sweep_every_s
    if swept:
        for prefix, found in _sweep(bucket, c, now).items():
            candidates.setdefault(prefix, found)
    newest_key = tuple(c.newest_key)
    rejected: dict[str, str] = {}
    ordered = sorted(candidates.items(), key=lambda item: item[1].key, reverse=True)
    for prefix, candidate in ordered:
        if candidate.key <= newest_key or c.rejected.get(prefix, [""])[0] == candidate.etag:
            continue
        if len(rejected) >= MAX_REFUSED_PER_TICK:
            break
        name, _, version = prefix.partition("/")
        try:
            model = get(bucket, name, version)
        except ModelStoreError as e:
            c.rejected[prefix] = [candidate.etag, *candidate.key]
            rejected[prefix] = str(e).splitlines()[0]
            continue
        c.newest, c.newest_key = prefix, list(candidate.key)
        c.rejected = {p: r for p, r in c.rejected.items() if tuple(r[1:]) > candidate.key}
        return Found(c, model if candidate.announce else None, rejected, swept)
    return Found(c, None, rejected, swept)


def _read_journal(bucket: Bucket, c: ModelCursor) -> dict[str, _Candidate]:
    """Entries new since the cursor, newest first; the first read only sets the cursor."""
    first = c.journal_since is None
    since = datetime.fromisoformat(c.journal_since) if c.journal_since else None
    seen = set(c.journal_seen)
    entries: list[tuple[str, datetime, str, ObjectInfo]] = []
    try:
        for blob in listing(bucket, JOURNAL, JOURNAL_PAGE):
            parsed = parse_entry(blob.name)
            if parsed is None:
                continue
            if first and since is None:
                since = parsed[0]  # the newest entry: everything older is history
            if since is not None and parsed[0] < since - GRACE:
                break
            entries.append((blob.name, *parsed, blob))
    except ObjectNotFound:
        pass  # no container or bucket yet: nothing published
    new = [e for e in entries if e[0] not in seen]
    latest = max([e[1] for e in new] + ([since] if since else []), default=None)
    c.journal_since = stamp(latest) if latest else ""
    keep = {e[0] for e in entries} | seen
    c.journal_seen = sorted(
        n for n in keep if latest and (p := parse_entry(n)) and p[0] >= latest - GRACE
    )
    if first:
        return {}
    candidates = {}
    for _, t, prefix, info in new:
        meta = metadata(bucket, info)
        key = (stamp(t), meta.get("published_at", ""))
        candidates[prefix] = _Candidate(key, meta.get("card_etag", ""), True)
    return candidates


def _sweep(bucket: Bucket, c: ModelCursor, now: float) -> dict[str, _Candidate]:
    """A few more pages of a listing of the whole container; when it is complete, the
    newest cards it found (verified by the caller, newest first)."""
    found = {row[0]: row[1:] for row in c.sweep_found}
    pages = bucket.pages("", SWEEP_PAGE, token=c.sweep_token)
    token = c.sweep_token
    finished = False
    try:
        for _ in range(SWEEP_PAGES_PER_TICK):
            page = next(pages, None)
            if page is None:
                finished = True
                break
            token = page.token
            for blob in page.objects:
                prefix, _, file = blob.name.rpartition("/")
                if file != CARD_FILE or prefix.count("/") != 1 or blob.name.startswith(JOURNAL):
                    continue
                etag = blob.etag
                if c.rejected.get(prefix, [""])[0] == etag:
                    continue  # refused before: leave its place to others
                published_at = (blob.metadata or {}).get("published_at", "")
                found[prefix] = [stamp(blob.last_modified), published_at, etag]
            newest = sorted(found.items(), key=lambda item: item[1][:2], reverse=True)
            found = dict(newest[:SWEEP_KEEP])
            if not token:
                finished = True
                break
    except ObjectNotFound:
        finished = True
    c.sweep_token = None if finished else token
    c.sweeping = not finished
    c.sweep_found = [] if finished else [[prefix, *row] for prefix, row in found.items()]
    if not finished:
        return {}
    announce, c.swept_at, c.baseline = not c.baseline, now, False
    for prefix, row in found.items():
        if not row[1]:  # a listing without metadata (S3): ask the kept cards only
            with contextlib.suppress(ObjectNotFound):
                card = bucket.head(f"{prefix}/{CARD_FILE}")
                row[1] = (card.metadata or {}).get("published_at", "")
    return {p: _Candidate((row[0], row[1]), row[2], announce) for p, row in found.items()}
