"""Store stage: the only module that speaks SQL.

SQLite in WAL mode (readers never block the writer; a backfill and the daemon can share
one file), with a busy timeout so two writers wait for each other instead of failing.
Methods are named for what the pipeline means (``latest_version``, ``record_article``,
``due_deliveries``) and return models; every multi-row write is one transaction, so a
crash or a cancel leaves the old state or the new one, never half.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from watcher.errors import StoreError
from watcher.migrations import migrations
from watcher.models import (
    Article,
    Change,
    Delivery,
    Event,
    VendorMatch,
    Version,
    isoformat,
    parse_isoformat,
)

DB_NAME = "watcher.db"
_BUSY_TIMEOUT_S = 30.0
_WAL_CHECKPOINT_PAGES = 4000
# Articles read per sketch hash when looking for copies (the latest ones): see
# Store.sketch_candidates.
CANDIDATES_PER_HASH = 100


class StaleWrite(Exception):
    """A version was written by another process (the daemon beside a backfill) between
    our read and our write: ours is dropped, theirs stands."""


@dataclass(frozen=True, slots=True)
class SourceState:
    """What the store remembers of a source between polls."""

    id: str
    etag: str | None = None
    last_modified: str | None = None
    baseline_at: datetime | None = None
    last_poll_at: datetime | None = None
    last_ok_at: datetime | None = None
    state: str = "new"
    failures: int = 0
    failing_since: datetime | None = None
    last_error: str | None = None
    next_poll_at: datetime | None = None
    unhealthy_at: datetime | None = None
    memo: str | None = None


@dataclass(frozen=True, slots=True)
class PruneReport:
    """What retention deleted (or would delete)."""

    versions: int
    events: int


# Rows deleted per retention transaction: a few tens of milliseconds of writing.
PRUNE_BATCH = 2_000
# Delivered events: none of their deliveries is pending or dead.
_OLD_EVENTS = (
    "e.created_at < ? AND NOT EXISTS "
    "(SELECT 1 FROM outbox o WHERE o.event_id = e.id AND o.status != 'sent')"
)


def _old_versions(keep: int, before: datetime | None) -> tuple[str | None, list[Any]]:
    """The condition (on ``versions v JOIN articles a``) of versions retention deletes:
    never an article's latest; beyond the latest ``keep`` or older than ``before``."""
    conditions: list[str] = []
    params: list[Any] = []
    if keep > 0:
        conditions.append("v.number <= a.version - ?")
        params.append(keep)
    if before is not None:
        conditions.append("v.fetched_at < ?")
        params.append(isoformat(before))
    if not conditions:
        return None, []
    return f"v.number < a.version AND ({' OR '.join(conditions)})", params


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    """One event for one sink, as ``watcher outbox`` lists it."""

    event_id: str
    sink_id: str
    type: str
    status: str  # pending | held (for a backfill digest) | sent | dead
    attempts: int
    created_at: datetime
    next_attempt_at: datetime | None
    sent_at: datetime | None
    last_error: str | None
    title: str | None


@dataclass(frozen=True, slots=True)
class StoredArticle:
    """An article row: identity, bookkeeping for re-checks, and its latest version."""

    id: int
    url: str
    source_id: str
    version: int
    silent: bool
    first_seen_at: datetime
    last_checked_at: datetime | None
    entry_updated_at: datetime | None
    etag: str | None
    last_modified: str | None
    backfilled: bool = False


@dataclass(frozen=True, slots=True)
class ArchiveQuery:
    """Filters shared by ``watcher articles``, ``search``, ``export`` and ``stats``."""

    vendor: str | None = None
    sources: tuple[str, ...] = ()
    language: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    limit: int | None = None


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A source's backfill: its window, where the walk stands (``cursor``, opaque to
    all but the source kind) and what it has done so far."""

    source_id: str
    since: datetime | None
    until: datetime | None
    cursor: dict[str, Any] | None
    done: bool
    started_at: datetime
    updated_at: datetime
    pages: int = 0
    discovered: int = 0
    stored: int = 0
    skipped: int = 0
    failed: int = 0


@dataclass(frozen=True, slots=True)
class NewVersion:
    """A version to write, with what it announces."""

    number: int
    title: str
    text: str
    content_hash: str
    fetched_at: datetime
    change: Change | None
    vendors: tuple[VendorMatch, ...]
    events: tuple[tuple[Event, tuple[str, ...]], ...] = ()  # (event, sink ids)
    sketch: tuple[int, ...] = ()  # replaces the article's sketch when given
    entities: tuple[str, ...] | None = None
    # The story this article belongs to when it is a copy or a translation of another.
    story_id: int | None = None
    link_kind: str | None = None
    link_score: float | None = None


@dataclass(frozen=True, slots=True)
class StoryMember:
    """An article of a story, as linking and ``also_seen_at`` need it."""

    id: int
    url: str
    source_id: str
    title: str
    language: str | None
    entities: tuple[str, ...]


class Store:
    """The state database. Open with :meth:`open`; close with :meth:`close`."""

    def __init__(self, db: Database, path: Path | None = None) -> None:
        self.db = db
        self.path = path

    @classmethod
    def open(cls, state_dir: str | Path) -> Store:
        """Open (creating if needed) ``state_dir/watcher.db`` and apply migrations."""
        directory = Path(state_dir)
        try:
            directory.mkdir(parents=True, exist_ok=True)
            path = directory / DB_NAME
            conn = sqlite3.connect(str(path), timeout=_BUSY_TIMEOUT_S, check_same_thread=False)
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"cannot open the state database in {directory}: {exc}") from exc
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            # Checkpoint every 4,000 WAL pages (16 MB) rather than SQLite's 1,000: an
            # article's transaction dirties ~100 pages (its sketch's 64 hashes land on as
            # many leaves of the hash index), and a page rewritten by several
            # transactions between two checkpoints is copied into the database once.
            conn.execute(f"PRAGMA wal_autocheckpoint={_WAL_CHECKPOINT_PAGES}")
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute(f"PRAGMA busy_timeout={int(_BUSY_TIMEOUT_S * 1000)}")
            db = Database(conn)
            migrations.apply(db)
        except sqlite3.Error as exc:
            conn.close()
            raise StoreError(f"cannot prepare the state database {path}: {exc}") from exc
        return cls(db, path)

    def close(self) -> None:
        self.db.close()

    def _one(self, sql: str, params: Iterable[Any] = ()) -> dict[str, Any] | None:
        cursor = self.db.execute(sql, list(params))
        row = cursor.fetchone()
        if row is None:
            return None
        return dict(zip([c[0] for c in cursor.description], row, strict=True))

    def _all(self, sql: str, params: Iterable[Any] = ()) -> Iterator[dict[str, Any]]:
        cursor = self.db.execute(sql, list(params))
        names = [c[0] for c in cursor.description]
        for row in cursor:
            yield dict(zip(names, row, strict=True))

    # --- sources ---------------------------------------------------------------------

    def sync_sources(self, sources: Iterable[tuple[str, str, str, str]]) -> None:
        """Make sure each configured ``(id, kind, url, name)`` has a row."""
        with self.db.atomic():
            for sid, kind, url, name in sources:
                self.db.execute(
                    "INSERT INTO sources (id, kind, url, name) VALUES (?, ?, ?, ?) "
                    "ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, url = excluded.url, "
                    "name = excluded.name, "
                    # A source whose address changed starts over: its validators are stale.
                    "etag = CASE WHEN sources.url = excluded.url THEN sources.etag END, "
                    "last_modified = CASE WHEN sources.url = excluded.url "
                    "THEN sources.last_modified END",
                    [sid, kind, url, name],
                )

    def source_state(self, source_id: str) -> SourceState | None:
        """What is known of a source, or ``None`` if it has no row yet."""
        row = self._one("SELECT * FROM sources WHERE id = ?", [source_id])
        if row is None:
            return None
        return SourceState(
            id=row["id"],
            etag=row["etag"],
            last_modified=row["last_modified"],
            baseline_at=parse_isoformat(row["baseline_at"]),
            last_poll_at=parse_isoformat(row["last_poll_at"]),
            last_ok_at=parse_isoformat(row["last_ok_at"]),
            state=row["state"],
            failures=row["failures"],
            failing_since=parse_isoformat(row["failing_since"]),
            last_error=row["last_error"],
            next_poll_at=parse_isoformat(row["next_poll_at"]),
            unhealthy_at=parse_isoformat(row["unhealthy_at"]),
            memo=row["memo"],
        )

    def record_poll_ok(
        self,
        source_id: str,
        *,
        now: datetime,
        etag: str | None,
        last_modified: str | None,
        memo: str | None = None,
        recovered: Event | None = None,
        sink_ids: Iterable[str] = (),
    ) -> None:
        """A successful poll: keep validators, clear failures and backoff, end the
        baseline; with ``recovered``, enqueue that source.recovered event."""
        stamp = isoformat(now)
        with self.db.atomic():
            self.db.execute(
                "UPDATE sources SET etag = ?, last_modified = ?, last_poll_at = ?, "
                "last_ok_at = ?, state = 'ok', failures = 0, failing_since = NULL, "
                "last_error = NULL, next_poll_at = NULL, unhealthy_at = NULL, "
                "memo = COALESCE(?, memo), baseline_at = COALESCE(baseline_at, ?) WHERE id = ?",
                [etag, last_modified, stamp, stamp, memo, stamp, source_id],
            )
            if recovered is not None:
                self._enqueue(recovered, sink_ids, None, None)

    def record_poll_failure(
        self,
        source_id: str,
        *,
        now: datetime,
        state: str,
        error: str,
        next_poll_at: datetime | None,
    ) -> SourceState:
        """A failed poll: count it, remember why, back off until ``next_poll_at``."""
        stamp = isoformat(now)
        with self.db.atomic():
            self.db.execute(
                "UPDATE sources SET last_poll_at = ?, state = ?, failures = failures + 1, "
                "failing_since = COALESCE(failing_since, ?), last_error = ?, next_poll_at = ? "
                "WHERE id = ?",
                [stamp, state, stamp, error[:500], isoformat(next_poll_at), source_id],
            )
        state_now = self.source_state(source_id)
        assert state_now is not None
        return state_now

    def mark_unhealthy(
        self, source_id: str, *, now: datetime, event: Event, sink_ids: Iterable[str]
    ) -> None:
        """Remember that source.unhealthy went out (once per outage) and enqueue it."""
        with self.db.atomic():
            self.db.execute(
                "UPDATE sources SET unhealthy_at = ? WHERE id = ?", [isoformat(now), source_id]
            )
            self._enqueue(event, sink_ids, None, None)

    def sources(self) -> list[SourceState]:
        """Every source the store knows, with its health."""
        ids = [row["id"] for row in self._all("SELECT id FROM sources ORDER BY id")]
        return [s for s in (self.source_state(i) for i in ids) if s is not None]

    def source_rows(self) -> list[dict[str, Any]]:
        """The sources table as it is (for listings)."""
        return list(self._all("SELECT id, kind, url, name FROM sources ORDER BY id"))

    def source_article_counts(self) -> dict[str, tuple[int, datetime | None]]:
        """Per source: how many articles are stored, and when the latest was first seen."""
        return {
            row["source_id"]: (row["n"], parse_isoformat(row["last"]))
            for row in self._all(
                "SELECT source_id, count(*) AS n, max(first_seen_at) AS last "
                "FROM articles GROUP BY source_id"
            )
        }

    # --- articles --------------------------------------------------------------------

    def find_article(self, url: str) -> StoredArticle | None:
        """The article known under ``url`` (its canonical URL or an alias)."""
        row = self._one("SELECT * FROM articles WHERE url = ?", [url]) or self._one(
            "SELECT a.* FROM article_urls u JOIN articles a ON a.id = u.article_id WHERE u.url = ?",
            [url],
        )
        return _stored_article(row) if row else None

    def latest_version(self, article_id: int) -> Version | None:
        row = self._one(
            "SELECT v.* FROM versions v JOIN articles a ON a.id = v.article_id "
            "AND v.number = a.version WHERE a.id = ?",
            [article_id],
        )
        if row is None:
            return None
        return Version(
            article_id=row["article_id"],
            number=row["number"],
            title=row["title"],
            text=row["text"],
            content_hash=row["content_hash"],
            fetched_at=parse_isoformat(row["fetched_at"]) or datetime.min,
        )

    def mentions(self, article_id: int, version: int) -> tuple[VendorMatch, ...]:
        return tuple(
            VendorMatch(
                name=row["vendor"],
                matched=tuple(json.loads(row["matched"])),
                snippets=tuple(json.loads(row["snippets"])),
            )
            for row in self._all(
                "SELECT * FROM mentions WHERE article_id = ? AND version = ? ORDER BY rowid",
                [article_id, version],
            )
        )

    def add_placeholder(
        self, *, source_id: str, url: str, now: datetime, silent: bool, backfilled: bool = False
    ) -> None:
        """Remember an article URL whose page could not be read yet (no version).

        During a baseline this keeps the article silent when it is read later; a
        backfill's placeholders are retried by the next backfill, not by the daemon.
        """
        self.db.execute(
            "INSERT INTO articles (url, source_id, first_seen_at, last_checked_at, silent, "
            "backfilled) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (url) DO NOTHING",
            [url, source_id, isoformat(now), isoformat(now), int(silent), int(backfilled)],
        )
        self.db.conn.commit()

    def articles_due(
        self,
        source_id: str,
        *,
        first_seen_after: datetime,
        checked_before: datetime,
        limit: int = 200,
    ) -> list[StoredArticle]:
        """A source's young articles not checked recently (candidates for an edit
        check), and its young articles whose page could not be read yet (``version``
        0: retried at every poll, as a failed fetch is often a passing fault)."""
        return [
            _stored_article(row)
            for row in self._all(
                "SELECT * FROM articles WHERE source_id = ? AND first_seen_at >= ? "
                "AND NOT backfilled "
                "AND (version = 0 OR last_checked_at IS NULL OR last_checked_at <= ?) "
                "ORDER BY version > 0, last_checked_at LIMIT ?",
                [source_id, isoformat(first_seen_after), isoformat(checked_before), limit],
            )
        ]

    def touch_article(
        self,
        article_id: int,
        *,
        now: datetime,
        etag: str | None,
        last_modified: str | None,
        entry_updated_at: datetime | None,
    ) -> None:
        """Checked, and nothing material changed: only bookkeeping is written."""
        self.db.execute(
            "UPDATE articles SET last_checked_at = ?, etag = COALESCE(?, etag), "
            "last_modified = COALESCE(?, last_modified), "
            "entry_updated_at = COALESCE(?, entry_updated_at) WHERE id = ?",
            [isoformat(now), etag, last_modified, isoformat(entry_updated_at), article_id],
        )
        self.db.conn.commit()

    def record_article(
        self,
        *,
        source_id: str,
        url: str,
        aliases: Iterable[str],
        article: Article,
        version: NewVersion,
        silent: bool,
        etag: str | None,
        last_modified: str | None,
        entry_updated_at: datetime | None,
        backfilled: bool = False,
        hold: bool = False,
    ) -> int:
        """Write a new version of an article (creating the article if needed), its
        vendor mentions, and the events announcing it with their outbox rows, all in one
        transaction. Returns the article id.

        ``backfilled`` marks the article as history; ``hold`` parks its events as
        ``held`` (sent later as one digest by :meth:`held_deliveries`' caller). Raises
        :class:`StaleWrite` when another writer stored this version number first."""
        now = isoformat(version.fetched_at)
        with self.db.atomic():
            self.db.execute(
                "INSERT INTO articles (url, source_id, first_seen_at, silent, backfilled) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (url) DO NOTHING",
                [url, source_id, now, int(silent), int(backfilled)],
            )
            row = self._one("SELECT id, version FROM articles WHERE url = ?", [url])
            assert row is not None
            article_id = int(row["id"])
            if row["version"] >= version.number:
                # The INSERT above took the write lock, so this read is current: another
                # process wrote this version while we were fetching. Roll back.
                raise StaleWrite(url)
            if backfilled:
                self.db.execute("UPDATE articles SET backfilled = 1 WHERE id = ?", [article_id])
            # The search index holds each article's latest version: out with the old one
            # (FTS5 needs the indexed values to remove them), in with the new one below.
            indexed = self._one(
                "SELECT v.title, v.text FROM versions v JOIN articles a ON a.id = v.article_id "
                "AND v.number = a.version WHERE a.id = ?",
                [article_id],
            )
            if indexed is not None:
                self.db.execute(
                    "INSERT INTO search (search, rowid, title, text) VALUES ('delete', ?, ?, ?)",
                    [article_id, indexed["title"], indexed["text"]],
                )
            if version.story_id is not None or version.number == 1:
                self.db.execute(
                    "UPDATE articles SET story_id = ?, link_kind = ?, link_score = ? WHERE id = ?",
                    [
                        version.story_id if version.story_id is not None else article_id,
                        version.link_kind,
                        version.link_score,
                        article_id,
                    ],
                )
            if version.entities is not None:
                self.db.execute(
                    "UPDATE articles SET entities = ? WHERE id = ?",
                    [json.dumps(list(version.entities), ensure_ascii=False), article_id],
                )
            if version.sketch:
                self.db.execute("DELETE FROM sketches WHERE article_id = ?", [article_id])
                self.db.conn.executemany(
                    "INSERT OR IGNORE INTO sketches (hash, article_id) VALUES (?, ?)",
                    [(h, article_id) for h in version.sketch],
                )
            self.db.execute(
                "UPDATE articles SET last_checked_at = ?, entry_updated_at = ?, title = ?, "
                "published_at = ?, modified_at = ?, language = ?, author = ?, version = ?, "
                "etag = ?, last_modified = ? WHERE id = ?",
                [
                    now,
                    isoformat(entry_updated_at),
                    version.title,
                    isoformat(article.published_at),
                    isoformat(article.modified_at),
                    article.language,
                    article.author,
                    version.number,
                    etag,
                    last_modified,
                    article_id,
                ],
            )
            for alias in aliases:
                if alias != url:
                    self.db.execute(
                        "INSERT OR IGNORE INTO article_urls (url, article_id) VALUES (?, ?)",
                        [alias, article_id],
                    )
            self.db.execute(
                "INSERT INTO versions (article_id, number, title, text, content_hash, "
                "fetched_at, change) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    article_id,
                    version.number,
                    version.title,
                    version.text,
                    version.content_hash,
                    now,
                    json.dumps(version.change.to_dict(), ensure_ascii=False)
                    if version.change
                    else None,
                ],
            )
            self.db.execute(
                "INSERT INTO search (rowid, title, text) VALUES (?, ?, ?)",
                [article_id, version.title, version.text],
            )
            for vendor in version.vendors:
                self.db.execute(
                    "INSERT INTO mentions (article_id, version, vendor, matched, snippets) "
                    "VALUES (?, ?, ?, ?, ?)",
                    [
                        article_id,
                        version.number,
                        vendor.name,
                        json.dumps(list(vendor.matched), ensure_ascii=False),
                        json.dumps(list(vendor.snippets), ensure_ascii=False),
                    ],
                )
            for event, sink_ids in version.events:
                self._enqueue(event, sink_ids, article_id, version.number, hold=hold)
        return article_id

    def _enqueue(
        self,
        event: Event,
        sink_ids: Iterable[str],
        article_id: int | None,
        version: int | None,
        *,
        hold: bool = False,
    ) -> None:
        created = isoformat(event.created_at)
        self.db.execute(
            "INSERT OR IGNORE INTO events (id, type, article_id, version, created_at, payload) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [
                event.id,
                event.type,
                article_id,
                version,
                created,
                json.dumps(event.to_dict(), ensure_ascii=False),
            ],
        )
        for sink_id in sink_ids:
            self.db.execute(
                "INSERT OR IGNORE INTO outbox (event_id, sink_id, next_attempt_at, status) "
                "VALUES (?, ?, ?, ?)",
                [event.id, sink_id, created, "held" if hold else "pending"],
            )

    def versions(self, article_id: int) -> list[Version]:
        """All stored versions of an article, oldest first."""
        return list(reversed(self.recent_versions(article_id, limit=-1)))

    def version_changes(self, article_id: int) -> dict[int, Change]:
        """The stored change of each version (from the one before it)."""
        return {
            row["number"]: Change.from_dict(json.loads(row["change"]))
            for row in self._all(
                "SELECT number, change FROM versions WHERE article_id = ? AND change IS NOT NULL",
                [article_id],
            )
        }

    def recent_versions(self, article_id: int, limit: int = 6) -> list[Version]:
        """The article's latest versions, newest first (for the flapping guard)."""
        return [
            Version(
                article_id=row["article_id"],
                number=row["number"],
                title=row["title"],
                text=row["text"],
                content_hash=row["content_hash"],
                fetched_at=parse_isoformat(row["fetched_at"]) or datetime.min,
            )
            for row in self._all(
                "SELECT * FROM versions WHERE article_id = ? ORDER BY number DESC LIMIT ?",
                [article_id, limit],
            )
        ]

    def revisit(self, article_id: int, number: int, *, now: datetime) -> None:
        """The page went back to an earlier version: point at it, store nothing new."""
        self.db.execute(
            "UPDATE articles SET version = ?, last_checked_at = ? WHERE id = ?",
            [number, isoformat(now), article_id],
        )
        self.db.conn.commit()

    def next_version_number(self, article_id: int) -> int:
        row = self._one("SELECT MAX(number) AS n FROM versions WHERE article_id = ?", [article_id])
        return int(row["n"] or 0) + 1 if row else 1

    # --- stories -----------------------------------------------------------------------

    def sketch_candidates(
        self, sketch: Iterable[int], *, min_shared: int, exclude: int | None = None
    ) -> list[tuple[int, int]]:
        """``(article_id, shared)`` for stored articles sharing at least ``min_shared`` of
        these hashes, most shared first: one indexed lookup per hash.

        Each hash reads at most :data:`CANDIDATES_PER_HASH` articles, the latest: a
        hash in every article of a source (a boilerplate sentence kept in the text)
        would otherwise make each lookup read the whole archive, and a backfill of a
        large archive quadratic. A copy still shares its own hashes with its original,
        and the latest copies of a much-copied story are found through the common ones."""
        hashes = list(sketch)
        if not hashes:
            return []
        per_hash = " UNION ALL ".join(
            ["SELECT * FROM (SELECT article_id FROM sketches WHERE hash = ? "
             "ORDER BY article_id DESC LIMIT ?)"] * len(hashes)
        )  # fmt: skip
        rows = self.db.conn.execute(
            f"SELECT article_id, COUNT(*) AS shared FROM ({per_hash}) GROUP BY article_id "
            "HAVING shared >= ? ORDER BY shared DESC, article_id DESC LIMIT 20",
            [*(x for h in hashes for x in (h, CANDIDATES_PER_HASH)), min_shared],
        ).fetchall()
        return [(int(a), int(n)) for a, n in rows if a != exclude]

    def story_of(self, article_id: int) -> int | None:
        row = self._one("SELECT story_id FROM articles WHERE id = ?", [article_id])
        return int(row["story_id"]) if row and row["story_id"] is not None else None

    def story_members(self, story_id: int) -> list[StoryMember]:
        return [
            _member(row)
            for row in self._all(
                "SELECT id, url, source_id, title, language, entities FROM articles "
                "WHERE story_id = ? AND version > 0 ORDER BY first_seen_at, id",
                [story_id],
            )
        ]

    def translation_candidates(
        self,
        *,
        vendors: Iterable[str],
        language: str | None,
        since: datetime,
        exclude: int | None,
        until: datetime | None = None,
    ) -> list[StoryMember]:
        """Articles in another language that mention one of these vendors, published
        (else first seen) in [since, until]."""
        names = list(vendors)
        if not names:
            return []
        marks = ",".join("?" * len(names))
        return [
            _member(row)
            for row in self._all(
                "SELECT DISTINCT a.id, a.url, a.source_id, a.title, a.language, a.entities "
                "FROM mentions m JOIN articles a ON a.id = m.article_id AND m.version = a.version "
                f"WHERE m.vendor IN ({marks}) "
                "AND COALESCE(a.published_at, a.first_seen_at) >= ? "
                "AND (? IS NULL OR COALESCE(a.published_at, a.first_seen_at) <= ?) "
                "AND COALESCE(a.language, '') != COALESCE(?, '') AND a.entities IS NOT NULL "
                "ORDER BY a.first_seen_at DESC LIMIT 200",
                [*names, isoformat(since), isoformat(until), isoformat(until), language],
            )
            if row["id"] != exclude
        ]

    def add_also_seen(self, story_id: int, url: str) -> int:
        """Add ``url`` to ``also_seen_at`` of the story's events that no sink has tried
        yet (an event already attempted keeps its body: receivers de-duplicate on it).
        Returns how many events were updated."""
        updated = 0
        with self.db.atomic():
            rows = self._all(
                "SELECT e.id, e.payload FROM events e JOIN articles a ON a.id = e.article_id "
                "WHERE a.story_id = ? AND NOT EXISTS (SELECT 1 FROM outbox o "
                "WHERE o.event_id = e.id "
                "AND (o.attempts > 0 OR o.status NOT IN ('pending', 'held')))",
                [story_id],
            )
            for row in list(rows):
                payload = json.loads(row["payload"])
                seen = payload["data"].setdefault("also_seen_at", [])
                if url in seen or payload["data"]["article"]["url"] == url:
                    continue
                seen.append(url)
                self.db.execute(
                    "UPDATE events SET payload = ? WHERE id = ?",
                    [json.dumps(payload, ensure_ascii=False), row["id"]],
                )
                updated += 1
        return updated

    # --- retention -------------------------------------------------------------------

    def prune(
        self,
        *,
        keep_versions: int,
        versions_before: datetime | None,
        events_before: datetime | None,
        dry_run: bool = False,
    ) -> PruneReport:
        """Delete old versions (never an article's latest) and delivered events (never
        a pending or dead one); ``dry_run`` only counts them. See :meth:`prune_batches`."""
        if dry_run:
            versions_query, params = _old_versions(keep_versions, versions_before)
            versions = (
                self.db.execute(
                    f"SELECT count(*) FROM versions v JOIN articles a ON a.id = v.article_id "
                    f"WHERE {versions_query}",
                    params,
                ).fetchone()[0]
                if versions_query
                else 0
            )
            events = (
                self.db.execute(
                    f"SELECT count(*) FROM events e WHERE {_OLD_EVENTS}", [isoformat(events_before)]
                ).fetchone()[0]
                if events_before is not None
                else 0
            )
            return PruneReport(versions=versions, events=events)
        total = PruneReport(versions=0, events=0)
        for batch in self.prune_batches(
            keep_versions=keep_versions,
            versions_before=versions_before,
            events_before=events_before,
        ):
            total = PruneReport(total.versions + batch.versions, total.events + batch.events)
        return total

    def prune_batches(
        self,
        *,
        keep_versions: int,
        versions_before: datetime | None,
        events_before: datetime | None,
        size: int | None = None,
    ) -> Iterator[PruneReport]:
        """Delete what :meth:`prune` does, at most ``size`` versions and ``size`` events
        per transaction, yielding what each deleted: a first pass over a large archive
        deletes hundreds of thousands of rows, and the daemon's event loop (and a
        backfill writing beside it) must not wait seconds for one transaction."""
        size = size or PRUNE_BATCH
        versions_query, params = _old_versions(keep_versions, versions_before)
        cutoff = isoformat(events_before) if events_before is not None else None
        after_version = after_event = 0  # rowid cursors: each row is looked at once
        while versions_query or cutoff:
            with self.db.atomic():
                versions = 0
                if versions_query:
                    rows = self.db.execute(
                        "SELECT v.id, v.article_id FROM versions v JOIN articles a "
                        f"ON a.id = v.article_id WHERE v.id > ? AND {versions_query} "
                        "ORDER BY v.id LIMIT ?",
                        [after_version, *params, size],
                    ).fetchall()
                    if len(rows) < size:
                        versions_query = None
                    if rows:
                        after_version = rows[-1][0]
                        ids = json.dumps([row[0] for row in rows])
                        articles = json.dumps(sorted({row[1] for row in rows}))
                        self.db.execute(
                            "DELETE FROM versions WHERE id IN (SELECT value FROM json_each(?))",
                            [ids],
                        )
                        self.db.execute(
                            "DELETE FROM mentions WHERE article_id IN "
                            "(SELECT value FROM json_each(?)) AND NOT EXISTS (SELECT 1 "
                            "FROM versions v WHERE v.article_id = mentions.article_id "
                            "AND v.number = mentions.version)",
                            [articles],
                        )
                    versions = len(rows)
                events = 0
                if cutoff:
                    rows = self.db.execute(
                        f"SELECT e.rowid, e.id FROM events e WHERE e.rowid > ? AND {_OLD_EVENTS} "
                        "ORDER BY e.rowid LIMIT ?",
                        [after_event, cutoff, size],
                    ).fetchall()
                    if len(rows) < size:
                        cutoff = None
                    if rows:
                        after_event = rows[-1][0]
                        ids = json.dumps([row[1] for row in rows])
                        for table, column in (("outbox", "event_id"), ("events", "id")):
                            self.db.execute(
                                f"DELETE FROM {table} WHERE {column} IN "
                                "(SELECT value FROM json_each(?))",
                                [ids],
                            )
                    events = len(rows)
            yield PruneReport(versions=versions, events=events)

    def vacuum(self) -> None:
        """Give the space of deleted rows back to the file system."""
        self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        self.db.execute("VACUUM")
        self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def size(self) -> int:
        """Bytes on disk: the database and its write-ahead log."""
        if self.path is None:
            return 0
        return sum(
            p.stat().st_size
            for p in (self.path, self.path.with_name(self.path.name + "-wal"))
            if p.exists()
        )

    # --- the archive (read-only questions) ------------------------------------------

    def archive_rows(
        self, query: ArchiveQuery, *, with_text: bool = False
    ) -> Iterator[dict[str, Any]]:
        """Articles with a stored version, newest first (by publication date, else first
        seen), filtered; a generator over the cursor, so an export of the whole archive
        never sits in memory. Each row has its vendors as a JSON list."""
        where, params = _archive_filter(query)
        text = ", v.text" if with_text else ""
        sql = (
            "SELECT a.id, a.url, a.source_id, v.title, a.published_at, a.modified_at, "
            "a.first_seen_at, a.language, a.author, a.version, a.backfilled, a.story_id, "
            "(SELECT json_group_array(vendor) FROM (SELECT DISTINCT m.vendor FROM mentions m "
            f"WHERE m.article_id = a.id AND m.version = a.version)) AS vendors{text} "
            "FROM articles a JOIN versions v ON v.article_id = a.id AND v.number = a.version "
            f"WHERE {where} ORDER BY COALESCE(a.published_at, a.first_seen_at) DESC, a.id DESC"
        )
        if query.limit is not None:
            sql += f" LIMIT {int(query.limit)}"
        cursor = self.db.conn.execute(sql, params)
        columns = [d[0] for d in cursor.description]
        for row in cursor:
            yield dict(zip(columns, row, strict=True))

    def search_rows(self, match: str, query: ArchiveQuery) -> list[dict[str, Any]]:
        """Full-text search (an FTS5 ``match`` expression) over the latest version of
        each article, best first (BM25, a title hit weighing ten body hits), with a
        highlighted snippet of each (``\x02``/``\x03`` around the matched words)."""
        where, params = _archive_filter(query)
        return list(
            self._all(
                "SELECT a.id, a.url, a.source_id, a.published_at, a.first_seen_at, a.language, "
                "highlight(search, 0, char(2), char(3)) AS title, "
                "snippet(search, 1, char(2), char(3), '…', 24) AS snippet, "
                "bm25(search, 10.0, 1.0) AS score "
                "FROM search JOIN articles a ON a.id = search.rowid "
                f"WHERE search MATCH ? AND {where} ORDER BY score LIMIT ?",
                [match, *params, query.limit or 20],
            )
        )

    def aliases(self, article_id: int) -> list[str]:
        """Other URLs that led to the article (feed links with tracking, redirects)."""
        return [
            row["url"]
            for row in self._all(
                "SELECT url FROM article_urls WHERE article_id = ? ORDER BY url", [article_id]
            )
        ]

    def article_row(self, article_id: int) -> dict[str, Any]:
        row = self._one("SELECT * FROM articles WHERE id = ?", [article_id])
        if row is None:
            raise StoreError(f"no article {article_id}")
        return row

    def article_events(self, article_id: int) -> list[dict[str, Any]]:
        """The events about an article, with each sink's delivery state."""
        return list(
            self._all(
                "SELECT e.id, e.type, e.version, e.created_at, o.sink_id, o.status, o.attempts, "
                "o.sent_at, o.last_error FROM events e LEFT JOIN outbox o ON o.event_id = e.id "
                "WHERE e.article_id = ? ORDER BY e.created_at, e.rowid, o.sink_id",
                [article_id],
            )
        )

    def vendor_months(self, query: ArchiveQuery) -> list[tuple[str, str, int]]:
        """``(month, vendor, articles)``: articles mentioning each vendor (in their
        latest version), by month of publication (else of first sight)."""
        where, params = _archive_filter(replace(query, vendor=None))
        vendor = "AND m.vendor = ? " if query.vendor else ""
        return [
            (row["month"], row["vendor"], row["n"])
            for row in self._all(
                "SELECT strftime('%Y-%m', COALESCE(a.published_at, a.first_seen_at)) AS month, "
                "m.vendor, COUNT(DISTINCT a.id) AS n FROM articles a "
                "JOIN mentions m ON m.article_id = a.id AND m.version = a.version "
                f"WHERE {where} {vendor}GROUP BY month, m.vendor ORDER BY month, m.vendor",
                [*params, *([query.vendor] if query.vendor else [])],
            )
        ]

    # --- robots.txt ------------------------------------------------------------------

    def robots_answer(self, origin: str) -> tuple[int | None, bytes, datetime] | None:
        """The last answer to ``origin``'s robots.txt: status, body, when."""
        row = self._one("SELECT status, body, fetched_at FROM robots WHERE origin = ?", [origin])
        if row is None:
            return None
        return row["status"], bytes(row["body"]), _required_time(row["fetched_at"])

    def save_robots_answer(
        self, origin: str, status: int | None, body: bytes, fetched_at: datetime
    ) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO robots (origin, status, body, fetched_at) VALUES (?, ?, ?, ?)",
            [origin, status, body, isoformat(fetched_at)],
        )
        self.db.conn.commit()

    # --- backfill --------------------------------------------------------------------

    def checkpoint(self, source_id: str) -> Checkpoint | None:
        """Where the last backfill of a source stood."""
        row = self._one("SELECT * FROM backfills WHERE source_id = ?", [source_id])
        if row is None:
            return None
        return Checkpoint(
            source_id=source_id,
            since=parse_isoformat(row["since"]),
            until=parse_isoformat(row["until"]),
            cursor=json.loads(row["cursor"]) if row["cursor"] else None,
            done=bool(row["done"]),
            started_at=_required_time(row["started_at"]),
            updated_at=_required_time(row["updated_at"]),
            pages=row["pages"],
            discovered=row["discovered"],
            stored=row["stored"],
            skipped=row["skipped"],
            failed=row["failed"],
        )

    def save_checkpoint(self, checkpoint: Checkpoint) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO backfills (source_id, since, until, cursor, done, "
            "started_at, updated_at, pages, discovered, stored, skipped, failed) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                checkpoint.source_id,
                isoformat(checkpoint.since),
                isoformat(checkpoint.until),
                json.dumps(checkpoint.cursor) if checkpoint.cursor is not None else None,
                int(checkpoint.done),
                isoformat(checkpoint.started_at),
                isoformat(checkpoint.updated_at),
                checkpoint.pages,
                checkpoint.discovered,
                checkpoint.stored,
                checkpoint.skipped,
                checkpoint.failed,
            ],
        )
        self.db.conn.commit()

    def backfill_failures(self, source_id: str, limit: int = 1000) -> list[str]:
        """URLs an earlier backfill of the source found but could not read."""
        return [
            row["url"]
            for row in self._all(
                "SELECT url FROM articles WHERE source_id = ? AND backfilled AND version = 0 "
                "ORDER BY id LIMIT ?",
                [source_id, limit],
            )
        ]

    def is_stored(self, url: str) -> bool:
        """Whether a version of the article at ``url`` (or known under it) is stored."""
        article = self.find_article(url)
        return article is not None and article.version > 0

    # --- outbox ----------------------------------------------------------------------

    def due_deliveries(self, sink_id: str, now: datetime, limit: int = 100) -> list[Delivery]:
        """Pending events for one sink whose next attempt is due, oldest first."""
        return [
            Delivery(
                event=Event.from_dict(json.loads(row["payload"])),
                sink_id=sink_id,
                attempts=row["attempts"],
            )
            for row in self._all(
                "SELECT o.attempts, e.payload FROM outbox o JOIN events e ON e.id = o.event_id "
                "WHERE o.sink_id = ? AND o.status = 'pending' AND o.next_attempt_at <= ? "
                "ORDER BY e.created_at, e.rowid LIMIT ?",
                [sink_id, isoformat(now), limit],
            )
        ]

    def held_deliveries(self, sink_id: str) -> list[Delivery]:
        """Events a backfill holds for one digest to ``sink_id``, oldest first."""
        return [
            Delivery(
                event=Event.from_dict(json.loads(row["payload"])),
                sink_id=sink_id,
                attempts=row["attempts"],
            )
            for row in self._all(
                "SELECT o.attempts, e.payload FROM outbox o JOIN events e ON e.id = o.event_id "
                "WHERE o.sink_id = ? AND o.status = 'held' ORDER BY e.created_at, e.rowid",
                [sink_id],
            )
        ]

    def release_held(self, sink_id: str) -> int:
        """Held events become ordinary pending ones (their digest could not be sent:
        the outbox retries them like any other)."""
        cursor = self.db.execute(
            "UPDATE outbox SET status = 'pending' WHERE sink_id = ? AND status = 'held'",
            [sink_id],
        )
        self.db.conn.commit()
        return cursor.rowcount

    def mark_sent(self, event_id: str, sink_id: str, now: datetime) -> None:
        self.db.execute(
            "UPDATE outbox SET status = 'sent', sent_at = ?, attempts = attempts + 1, "
            "last_error = NULL WHERE event_id = ? AND sink_id = ?",
            [isoformat(now), event_id, sink_id],
        )
        self.db.conn.commit()

    def mark_sent_many(self, event_ids: Iterable[str], sink_id: str, now: datetime) -> None:
        """Mark the events of a digest sent, all together."""
        with self.db.atomic():
            self.db.conn.executemany(
                "UPDATE outbox SET status = 'sent', sent_at = ?, attempts = attempts + 1, "
                "last_error = NULL WHERE event_id = ? AND sink_id = ?",
                [(isoformat(now), event_id, sink_id) for event_id in event_ids],
            )

    def mark_failed(
        self, event_id: str, sink_id: str, *, error: str, next_attempt_at: datetime | None
    ) -> None:
        """Count a failed attempt; ``next_attempt_at=None`` parks the event as dead."""
        self.db.execute(
            "UPDATE outbox SET attempts = attempts + 1, last_error = ?, "
            "status = CASE WHEN ? IS NULL THEN 'dead' ELSE 'pending' END, "
            "next_attempt_at = COALESCE(?, next_attempt_at) WHERE event_id = ? AND sink_id = ?",
            [
                error[:500],
                isoformat(next_attempt_at),
                isoformat(next_attempt_at),
                event_id,
                sink_id,
            ],
        )
        self.db.conn.commit()

    def requeue_dead(self, now: datetime, sink_id: str | None = None) -> int:
        """Give parked (dead) events a new round of attempts, due now."""
        cursor = self.db.execute(
            "UPDATE outbox SET status = 'pending', attempts = 0, next_attempt_at = ? "
            "WHERE status = 'dead' AND (? IS NULL OR sink_id = ?)",
            [isoformat(now), sink_id, sink_id],
        )
        self.db.conn.commit()
        return cursor.rowcount

    def outbox_entries(
        self,
        *,
        statuses: Iterable[str] = ("pending", "dead"),
        sink_id: str | None = None,
        limit: int = 1000,
    ) -> list[OutboxEntry]:
        """What the outbox holds for each sink, oldest first."""
        statuses = list(statuses)
        marks = ", ".join("?" * len(statuses))
        return [
            OutboxEntry(
                event_id=row["event_id"],
                sink_id=row["sink_id"],
                type=row["type"],
                status=row["status"],
                attempts=row["attempts"],
                created_at=_required_time(row["created_at"]),
                next_attempt_at=parse_isoformat(row["next_attempt_at"]),
                sent_at=parse_isoformat(row["sent_at"]),
                last_error=row["last_error"],
                title=row["title"],
            )
            for row in self._all(
                "SELECT o.event_id, o.sink_id, e.type, o.status, o.attempts, e.created_at, "
                "o.next_attempt_at, o.sent_at, o.last_error, "
                "json_extract(e.payload, '$.data.article.title') AS title "
                "FROM outbox o JOIN events e ON e.id = o.event_id "
                f"WHERE o.status IN ({marks}) AND (? IS NULL OR o.sink_id = ?) "
                "ORDER BY e.created_at, e.rowid, o.sink_id LIMIT ?",
                [*statuses, sink_id, sink_id, limit],
            )
        ]

    def oldest_pending(self) -> dict[str, datetime]:
        """Per sink, when its oldest undelivered event was created (outbox age)."""
        return {
            row["sink_id"]: _required_time(row["oldest"])
            for row in self._all(
                "SELECT o.sink_id, min(e.created_at) AS oldest FROM outbox o "
                "JOIN events e ON e.id = o.event_id WHERE o.status = 'pending' GROUP BY o.sink_id"
            )
        }

    def outbox_counts(self) -> dict[tuple[str, str], int]:
        """``{(sink_id, status): count}``."""
        return {
            (row["sink_id"], row["status"]): row["n"]
            for row in self._all(
                "SELECT sink_id, status, COUNT(*) AS n FROM outbox GROUP BY sink_id, status"
            )
        }


def _archive_filter(query: ArchiveQuery) -> tuple[str, list[Any]]:
    """The WHERE clause (over ``articles a``) of an archive query."""
    clauses: list[str] = ["a.version > 0"]
    params: list[Any] = []
    date = "COALESCE(a.published_at, a.first_seen_at)"
    if query.sources:
        clauses.append(f"a.source_id IN ({', '.join('?' * len(query.sources))})")
        params += list(query.sources)
    if query.language:
        clauses.append("a.language = ?")
        params.append(query.language)
    if query.since is not None:
        clauses.append(f"{date} >= ?")
        params.append(isoformat(query.since))
    if query.until is not None:
        clauses.append(f"{date} < ?")
        params.append(isoformat(query.until))
    if query.vendor:
        # Stored under the vendor's configured name; the case is not the user's concern.
        clauses.append(
            "EXISTS (SELECT 1 FROM mentions m WHERE m.article_id = a.id "
            "AND m.version = a.version AND m.vendor = ? COLLATE NOCASE)"
        )
        params.append(query.vendor)
    return " AND ".join(clauses), params


def _member(row: dict[str, Any]) -> StoryMember:
    return StoryMember(
        id=int(row["id"]),
        url=row["url"],
        source_id=row["source_id"],
        title=row["title"] or "",
        language=row["language"],
        entities=tuple(json.loads(row["entities"])) if row["entities"] else (),
    )


def _stored_article(row: dict[str, Any]) -> StoredArticle:
    first_seen = parse_isoformat(row["first_seen_at"])
    assert first_seen is not None
    return StoredArticle(
        id=row["id"],
        url=row["url"],
        source_id=row["source_id"],
        version=row["version"],
        silent=bool(row["silent"]),
        first_seen_at=first_seen,
        last_checked_at=parse_isoformat(row["last_checked_at"]),
        entry_updated_at=parse_isoformat(row["entry_updated_at"]),
        etag=row["etag"],
        last_modified=row["last_modified"],
        backfilled=bool(row.get("backfilled", 0)),
    )


def _required_time(text: str) -> datetime:
    """A NOT NULL timestamp column."""
    value = parse_isoformat(text)
    assert value is not None
    return value
