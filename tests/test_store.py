"""The store: migrations, one-transaction writes, views, and clear errors."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest

from tests.factories import NOW, make_event
from watcher.errors import StoreError
from watcher.migrations import migrations
from watcher.models import Article, Event, VendorMatch
from watcher.store import NewVersion, StaleWrite, Store

ARTICLE = Article(
    url="https://a.example/1", title="T", paragraphs=("Cerner signe.",), language="fr"
)


def version(number: int = 1, events: tuple[tuple[Event, tuple[str, ...]], ...] = ()) -> NewVersion:
    return NewVersion(
        number=number,
        title="T",
        text="Cerner signe.",
        content_hash=f"h{number}",
        fetched_at=NOW,
        change=None,
        vendors=(VendorMatch("Oracle Health", ("Cerner",), ("Cerner signe.",)),),
        events=events,
    )


def record(store: Store, v: NewVersion) -> int:
    return store.record_article(
        source_id="s", url=ARTICLE.url, aliases={ARTICLE.url, "https://a.example/1?utm_source=x"},
        article=ARTICLE, version=v, silent=False, etag='"e"', last_modified=None, entry_updated_at=None,
    )  # fmt: skip


def test_migrations_apply_once(tmp_path: Path) -> None:
    Store.open(tmp_path).close()
    store = Store.open(tmp_path)
    names = [r[0] for r in store.db.execute("SELECT name FROM _sqlite_migrations ORDER BY rowid")]
    assert names[:2] == ["m001_initial", "m002_views"] and names == sorted(names)
    assert migrations.pending(store.db) == []
    assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    store.close()


def test_the_wal_is_checkpointed_every_4000_pages(store: Store) -> None:
    # Each article dirties ~100 pages; checkpointing less often copies a page rewritten
    # by several articles once (16 MB of WAL at most between two checkpoints).
    assert store.db.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 4000


def test_record_article_writes_version_mentions_event_and_outbox(store: Store) -> None:
    event = make_event()
    article_id = record(store, version(events=((event, ("hook", "slack")),)))
    alias = store.find_article("https://a.example/1?utm_source=x")
    assert alias is not None and alias.id == article_id
    latest = store.latest_version(article_id)
    assert latest is not None and latest.number == 1 and latest.text == "Cerner signe."
    assert store.mentions(article_id, 1)[0].name == "Oracle Health"
    assert store.outbox_counts() == {("hook", "pending"): 1, ("slack", "pending"): 1}
    (due,) = store.due_deliveries("hook", NOW)
    assert due.event == event and due.attempts == 0


def test_a_failed_write_leaves_nothing_half_done(store: Store) -> None:
    record(store, version(1))
    # Version 1 again (as when the daemon and a backfill both read the page): refused,
    # and nothing of the second write remains.
    with pytest.raises(StaleWrite):
        record(store, version(1, events=((make_event(event_id="evt_2"), ("hook",)),)))
    assert store.outbox_counts() == {}
    assert store.db.execute("SELECT COUNT(*) FROM events").fetchone()[0] == 0
    assert store.db.execute("SELECT version FROM articles").fetchone()[0] == 1


def test_views_show_latest_versions_and_mentions(store: Store) -> None:
    record(store, version(1))
    record(store, version(2))
    rows = list(store.db.execute("SELECT url, version, title FROM latest_versions"))
    assert rows == [("https://a.example/1", 2, "T")]
    mentions = list(store.db.execute("SELECT vendor, url FROM vendor_mentions"))
    assert mentions == [("Oracle Health", "https://a.example/1")]


def test_unusable_state_directory_is_a_store_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(StoreError, match="cannot open the state database"):
        Store.open(blocker / "state")


def _five_versions(store: Store) -> None:
    """One article with 5 versions (59 to 55 days old), each with a mention and an event:
    2 delivered, 1 dead, 2 pending."""
    from datetime import timedelta

    from tests.factories import make_event
    from watcher.models import VendorMatch

    vendor = (VendorMatch("Oracle Health", ("Cerner",), ("Cerner.",)),)
    for number in range(1, 6):
        when = NOW - timedelta(days=60 - number)  # versions 1..5, 59 to 55 days old
        store.record_article(
            source_id="s", url=ARTICLE.url, aliases=(), article=ARTICLE, silent=False,
            etag=None, last_modified=None, entry_updated_at=None,
            version=NewVersion(
                number=number, title="T", text=f"v{number}", content_hash=str(number),
                fetched_at=when, change=None, vendors=vendor,
                events=((make_event(event_id=f"evt_{number}", created_at=when), ("hook",)),),
            ),
        )  # fmt: skip
    store.mark_sent("evt_1", "hook", NOW)
    store.mark_sent("evt_2", "hook", NOW)
    store.mark_failed("evt_3", "hook", error="HTTP 404", next_attempt_at=None)  # dead


def _left(store: Store) -> tuple[list[int], list[int], set[str]]:
    versions = [v.number for v in store.versions(1)]
    mentioned = [row[0] for row in store.db.execute("SELECT version FROM mentions ORDER BY 1")]
    return versions, mentioned, {row[0] for row in store.db.execute("SELECT id FROM events")}


def test_retention_keeps_the_latest_versions_and_undelivered_events(store: Store) -> None:
    from watcher.config import Duration, RetentionSettings
    from watcher.maintenance import prune

    _five_versions(store)
    retention = RetentionSettings(versions=2, events=Duration(30 * 86400))
    counted = prune(store, retention, NOW, dry_run=True)
    assert (counted.versions, counted.events) == (3, 2)
    assert len(store.versions(1)) == 5  # a dry run deletes nothing
    report = prune(store, retention, NOW)
    assert (report.versions, report.events) == (3, 2)
    assert [v.number for v in store.versions(1)] == [4, 5]
    mentioned = store.db.execute("SELECT version FROM mentions ORDER BY version").fetchall()
    assert mentioned == [(4,), (5,)]
    left = {row[0] for row in store.db.execute("SELECT id FROM events")}
    assert left == {"evt_3", "evt_4", "evt_5"}  # dead and pending events stay
    # An age limit: versions older than 55.5 days go (version 4 is 56 days old).
    aged = prune(store, RetentionSettings(versions=0, max_age=Duration(55.5 * 86400)), NOW)
    assert aged.versions == 1 and [v.number for v in store.versions(1)] == [5]
    everything_old = RetentionSettings(versions=1, max_age=Duration(1))
    assert prune(store, everything_old, NOW).versions == 0  # the latest is never deleted


def test_retention_in_small_transactions_deletes_the_same_rows(store: Store) -> None:
    """Batch by batch (the daemon's way), each transaction deletes at most ``size``
    rows of each kind, and the end result is the one-transaction result."""
    _five_versions(store)
    batches = list(
        store.prune_batches(
            keep_versions=2, versions_before=None, events_before=NOW - timedelta(days=30), size=2
        )
    )
    assert [(b.versions, b.events) for b in batches] == [(2, 2), (1, 0)]
    assert _left(store) == ([4, 5], [4, 5], {"evt_3", "evt_4", "evt_5"})


async def test_the_daemons_retention_lets_the_event_loop_run_between_transactions(
    store: Store,
) -> None:
    from watcher.config import Duration, RetentionSettings
    from watcher.maintenance import prune_in_batches

    _five_versions(store)
    done, ticks = asyncio.Event(), 0

    async def other_work() -> None:  # polling, delivery, the health endpoint
        nonlocal ticks
        while not done.is_set():
            ticks += 1
            await asyncio.sleep(0)

    worker = asyncio.create_task(other_work())
    await asyncio.sleep(0)
    retention = RetentionSettings(versions=1, events=Duration(30 * 86400))
    report = await prune_in_batches(store, retention, NOW, size=1)
    done.set()
    await worker
    assert (report.versions, report.events) == (4, 2)
    assert ticks >= 5  # a turn of the loop after each transaction: 5 of one row or none
    assert _left(store) == ([5], [5], {"evt_3", "evt_4", "evt_5"})


def _with_sketch(store: Store, n: int, hashes: list[int]) -> int:
    url = f"https://a.example/sketch/{n}"
    store.db.execute(
        "INSERT INTO articles (url, source_id, first_seen_at) VALUES (?, 's', ?)",
        [url, NOW.isoformat()],
    )
    article_id = int(store.db.execute("SELECT id FROM articles WHERE url = ?", [url]).fetchone()[0])
    store.db.conn.executemany(
        "INSERT INTO sketches (hash, article_id) VALUES (?, ?)", [(h, article_id) for h in hashes]
    )
    return article_id


def test_sketch_lookups_read_a_bounded_number_of_articles_per_hash(store: Store) -> None:
    """A boilerplate sentence in every article of a source puts the same hashes in
    every sketch: a lookup reads the latest CANDIDATES_PER_HASH articles of such a hash,
    not the whole archive, and still finds a copy through the hashes it shares."""
    from watcher.store import CANDIDATES_PER_HASH

    boilerplate = list(range(1, 11))
    original = _with_sketch(store, 0, [*boilerplate, *range(1000, 1054)])
    crowd = [
        _with_sketch(store, n, [*boilerplate, *range(10_000 * n, 10_000 * n + 54)])
        for n in range(1, CANDIDATES_PER_HASH + 40)
    ]
    store.db.conn.commit()

    # A copy of the old original: found first, though every boilerplate hash now
    # names more articles than a lookup reads.
    found = store.sketch_candidates([*boilerplate, *range(1000, 1054)], min_shared=8)
    assert found[0] == (original, 54)
    # An article sharing only the boilerplate: candidates are the latest articles, at
    # most 20, each confirmed later on the exact text.
    found = store.sketch_candidates([*boilerplate, *range(99_000, 99_054)], min_shared=8)
    assert [a for a, _ in found] == sorted(crowd, reverse=True)[:20]
    assert {shared for _, shared in found} == {10}
    # Excluding the article itself still works.
    found = store.sketch_candidates(
        [*boilerplate, *range(1000, 1054)], min_shared=8, exclude=original
    )
    assert original not in [a for a, _ in found]


def _stored(store: Store, n: int, title: str, text: str, source: str) -> int:
    url = f"https://a.example/search/{n}"
    return store.record_article(
        source_id=source, url=url, aliases=set(),
        article=Article(url=url, title=title, paragraphs=(text,), language="fr"),
        version=NewVersion(number=1, title=title, text=text, content_hash=f"s{n}",
                           fetched_at=NOW, change=None, vendors=(), events=()),
        silent=True, etag=None, last_modified=None, entry_updated_at=None,
    )  # fmt: skip


def test_search_ranks_every_match_then_highlights_the_best_only(store: Store) -> None:
    from watcher.store import ArchiveQuery

    ids = [
        _stored(store, n, f"Titre {n}", "le projet " * (n + 1) + "de l'hôpital de Rennes",
                "a" if n % 2 else "b")
        for n in range(40)
    ]  # fmt: skip
    in_title = _stored(store, 99, "Le projet", "Rien à voir avec la suite.", "a")
    rows = store.search_rows('"projet"', ArchiveQuery(limit=5))
    ranked = store.db.execute(
        "SELECT rowid FROM search WHERE search MATCH '\"projet\"' "
        "ORDER BY bm25(search, 10.0, 1.0), rowid LIMIT 5"
    ).fetchall()
    assert [r["id"] for r in rows] == [row[0] for row in ranked]
    assert rows[0]["id"] == in_title  # a title hit weighs ten body hits
    assert rows[0]["title"] == "Le \x02projet\x03"
    assert all("\x02projet\x03" in r["snippet"] for r in rows[1:])
    assert [r["score"] for r in rows] == sorted(r["score"] for r in rows)
    # Filters apply before the best are chosen.
    only_b = store.search_rows('"hopital"', ArchiveQuery(sources=("b",), limit=50))
    assert sorted(r["id"] for r in only_b) == [i for n, i in enumerate(ids) if n % 2 == 0]
    assert all("\x02hôpital\x03" in r["snippet"] for r in only_b)


def test_datasette_metadata_names_real_tables(store: Store) -> None:
    import yaml

    metadata = yaml.safe_load(
        (Path(__file__).parent.parent / "schema" / "datasette.yaml").read_text(encoding="utf-8")
    )
    names = {
        row[0]
        for row in store.db.execute(
            "SELECT name FROM sqlite_master WHERE type IN ('table', 'view')"
        )
    }
    tables = metadata["databases"]["watcher"]["tables"]
    assert set(tables) <= names
    fts = tables["latest_versions"]
    assert fts["fts_table"] in names
    columns = {row[1] for row in store.db.execute("PRAGMA table_info(latest_versions)")}
    assert fts["fts_pk"] in columns and fts["sort_desc"] in columns
