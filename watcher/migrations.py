"""Schema changes, as named functions applied in order at start-up.

Each runs in a transaction with the record of it having been applied (sqlite-utils
``Migrations``). Once a migration is merged it is never edited: add a new one.
The resulting schema is documented in the README ("The database").
"""

from __future__ import annotations

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

migrations = Migrations("watcher")


@migrations()
def m001_initial(db: Database) -> None:
    db.executescript(
        """
        CREATE TABLE sources (
            id TEXT PRIMARY KEY,
            kind TEXT NOT NULL,
            url TEXT NOT NULL,
            name TEXT NOT NULL,
            etag TEXT,
            last_modified TEXT,
            baseline_at TEXT,              -- first successful poll; before it, all is silent
            last_poll_at TEXT,
            last_ok_at TEXT,
            state TEXT NOT NULL DEFAULT 'new',
            failures INTEGER NOT NULL DEFAULT 0,
            failing_since TEXT,
            last_error TEXT
        );

        CREATE TABLE articles (
            id INTEGER PRIMARY KEY,
            url TEXT NOT NULL UNIQUE,          -- canonical URL
            source_id TEXT NOT NULL,
            first_seen_at TEXT NOT NULL,
            last_checked_at TEXT,
            entry_updated_at TEXT,             -- the feed's <updated> when last fetched
            title TEXT,
            published_at TEXT,
            modified_at TEXT,
            language TEXT,
            author TEXT,
            version INTEGER NOT NULL DEFAULT 0,  -- latest version number; 0 = none yet
            silent INTEGER NOT NULL DEFAULT 0,   -- 1 = found by a baseline/backfill: never "new"
            etag TEXT,
            last_modified TEXT
        );
        CREATE INDEX articles_source ON articles (source_id, first_seen_at);

        -- Other URLs that led to an article (feed links with tracking, redirects).
        CREATE TABLE article_urls (
            url TEXT PRIMARY KEY,
            article_id INTEGER NOT NULL REFERENCES articles (id)
        );

        CREATE TABLE versions (
            id INTEGER PRIMARY KEY,
            article_id INTEGER NOT NULL REFERENCES articles (id),
            number INTEGER NOT NULL,
            title TEXT NOT NULL,
            text TEXT NOT NULL,
            content_hash TEXT NOT NULL,
            fetched_at TEXT NOT NULL,
            change TEXT,                        -- JSON: the Change from the previous version
            UNIQUE (article_id, number)
        );

        CREATE TABLE mentions (
            article_id INTEGER NOT NULL REFERENCES articles (id),
            version INTEGER NOT NULL,
            vendor TEXT NOT NULL,
            matched TEXT NOT NULL,              -- JSON list of the names that matched
            snippets TEXT NOT NULL,             -- JSON list of sentences
            PRIMARY KEY (article_id, version, vendor)
        );
        CREATE INDEX mentions_vendor ON mentions (vendor);

        CREATE TABLE events (
            id TEXT PRIMARY KEY,                -- also the webhook-id
            type TEXT NOT NULL,
            article_id INTEGER REFERENCES articles (id),
            version INTEGER,
            created_at TEXT NOT NULL,
            payload TEXT NOT NULL               -- the webhook body, exactly as sent
        );

        CREATE TABLE outbox (
            event_id TEXT NOT NULL REFERENCES events (id),
            sink_id TEXT NOT NULL,
            status TEXT NOT NULL DEFAULT 'pending',   -- pending | sent | dead
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at TEXT NOT NULL,
            last_error TEXT,
            sent_at TEXT,
            PRIMARY KEY (event_id, sink_id)
        );
        CREATE INDEX outbox_due ON outbox (sink_id, status, next_attempt_at);
        """
    )


@migrations()
def m002_views(db: Database) -> None:
    """Views that make the archive readable from any SQLite client or datasette."""
    db.executescript(
        """
        CREATE VIEW latest_versions AS
        SELECT a.id AS article_id, a.url, a.source_id, a.language, a.published_at,
               a.first_seen_at, v.number AS version, v.title, v.text, v.fetched_at
        FROM articles a JOIN versions v ON v.article_id = a.id AND v.number = a.version;

        CREATE VIEW vendor_mentions AS
        SELECT m.vendor, a.id AS article_id, a.url, a.source_id, a.language, a.published_at,
               v.title, m.matched, m.snippets
        FROM mentions m
        JOIN articles a ON a.id = m.article_id AND m.version = a.version
        JOIN versions v ON v.article_id = a.id AND v.number = a.version;
        """
    )


@migrations()
def m003_stories(db: Database) -> None:
    """One story, many pages: syndicated copies and cross-language reports link to the
    article that was seen first (``story_id``, the first article's id)."""
    db.executescript(
        """
        ALTER TABLE articles ADD COLUMN story_id INTEGER;
        ALTER TABLE articles ADD COLUMN link_kind TEXT;      -- copy | translation
        ALTER TABLE articles ADD COLUMN link_score REAL;
        ALTER TABLE articles ADD COLUMN entities TEXT;       -- JSON: figures and names
        CREATE INDEX articles_story ON articles (story_id);
        CREATE INDEX articles_recent ON articles (first_seen_at, language);

        -- The smallest shingle hashes of each article's latest text (bottom-k MinHash):
        -- copies of a story share most of them, so candidates are a few indexed lookups.
        CREATE TABLE sketches (
            hash INTEGER NOT NULL,
            article_id INTEGER NOT NULL REFERENCES articles (id),
            PRIMARY KEY (hash, article_id)
        ) WITHOUT ROWID;
        CREATE INDEX sketches_article ON sketches (article_id);
        """
    )


@migrations()
def m004_source_health(db: Database) -> None:
    """Backoff and health alerts per source, and a memo a source kind keeps between
    polls (the feed it discovered on a home page, ...)."""
    db.executescript(
        """
        ALTER TABLE sources ADD COLUMN next_poll_at TEXT;   -- backing off until then
        ALTER TABLE sources ADD COLUMN unhealthy_at TEXT;   -- when source.unhealthy went out
        ALTER TABLE sources ADD COLUMN memo TEXT;
        """
    )


@migrations()
def m005_archive(db: Database) -> None:
    """Backfill and search: articles imported by ``watcher backfill`` are marked (the
    daemon never re-checks them on its young-article schedule), each source's backfill
    keeps a checkpoint, and the latest version of every article is indexed for
    full-text search (FTS5 over the ``latest_versions`` view, accents folded)."""
    db.executescript(
        """
        ALTER TABLE articles ADD COLUMN backfilled INTEGER NOT NULL DEFAULT 0;
        CREATE INDEX articles_published ON articles (published_at);

        CREATE TABLE backfills (
            source_id TEXT PRIMARY KEY,
            since TEXT,                      -- the window this checkpoint belongs to
            until TEXT,
            cursor TEXT,                     -- JSON: where the walk of the history stands
            done INTEGER NOT NULL DEFAULT 0,
            started_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            pages INTEGER NOT NULL DEFAULT 0,
            discovered INTEGER NOT NULL DEFAULT 0,
            stored INTEGER NOT NULL DEFAULT 0,
            skipped INTEGER NOT NULL DEFAULT 0,
            failed INTEGER NOT NULL DEFAULT 0
        );

        CREATE VIRTUAL TABLE search USING fts5(
            title, text,
            content = 'latest_versions', content_rowid = 'article_id',
            tokenize = 'unicode61 remove_diacritics 2'
        );
        INSERT INTO search (search) VALUES ('rebuild');
        """
    )


@migrations()
def m006_robots(db: Database) -> None:
    """Each origin's last robots.txt answer, so that a ``watcher once`` run from cron or
    a restart does not ask for it again within its expiry."""
    db.executescript(
        """
        CREATE TABLE robots (
            origin TEXT PRIMARY KEY,       -- scheme://host[:port]
            status INTEGER,                -- HTTP status; NULL: no answer (network error)
            body BLOB NOT NULL,            -- at most robots.MAX_BYTES
            fetched_at TEXT NOT NULL
        );
        """
    )
