"""The archive's questions over a real store: search syntax and ranking, filters, stats,
export, and a backfill digest that cannot be sent."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime

import pytest

from tests.factories import NOW, make_event
from watcher.archive import articles, export, match_expression, search, vendor_stats
from watcher.config import DeliverySettings, DigestConfig
from watcher.errors import DeliveryError, WatcherError
from watcher.models import Article, Digest, Event, VendorMatch
from watcher.notify.outbox import Outbox
from watcher.store import ArchiveQuery, NewVersion, Store

DOCS = [
    # url, title, text, language, published, vendor
    ("fr1", "Le CHU de Rennes choisit Cerner", "Le dossier patient informatisé de l'hôpital change.",
     "fr", datetime(2026, 1, 10, tzinfo=UTC), "Oracle Health"),
    ("fr2", "Télémédecine à Brest", "L'hôpital de Brest retient Dedalus pour la téléconsultation.",
     "fr", datetime(2026, 2, 3, tzinfo=UTC), "Dedalus"),
    ("en1", "Trust picks Epic", "The hospital trust signed an electronic patient record deal.",
     "en", datetime(2026, 2, 20, tzinfo=UTC), "Epic Systems"),
    ("en2", "Cerner outage", "A patient record outage hit Cerner sites; Dedalus was unaffected.",
     "en", datetime(2026, 3, 5, tzinfo=UTC), "Oracle Health"),
]  # fmt: skip


def add(store: Store, slug: str, title: str, text: str, language: str, when: datetime,
        vendor: str, events: tuple[tuple[Event, tuple[str, ...]], ...] = (),
        hold: bool = False) -> None:  # fmt: skip
    url = f"https://news.example/{slug}"
    store.record_article(
        source_id="fr" if language == "fr" else "en", url=url, aliases=(),
        article=Article(url=url, title=title, paragraphs=(text,), language=language,
                        published_at=when),
        version=NewVersion(
            number=1, title=title, text=text, content_hash=slug, fetched_at=NOW, change=None,
            vendors=(VendorMatch(vendor, (vendor,), (text,)),), events=events,
        ),
        silent=False, etag=None, last_modified=None, entry_updated_at=None, backfilled=hold,
        hold=hold,
    )  # fmt: skip


@pytest.fixture
def archive(store: Store) -> Store:
    for doc in DOCS:
        add(store, *doc)
    return store


def slugs(hits: list) -> list[str]:  # type: ignore[type-arg]
    return [h.url.rsplit("/", 1)[1] for h in hits]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("hopital", ["fr1", "fr2"]),  # accents and case folded
        ("HÔPITAL brest", ["fr2"]),  # all words must appear
        ('"patient record"', ["en1", "en2"]),  # a phrase
        ('"record patient"', []),  # ...in order
        ("tele*", ["fr2"]),  # a prefix
        ("patient -outage", ["fr1", "en1"]),  # an exclusion
        ("patient NOT outage", ["fr1", "en1"]),
        ("brest OR trust", ["fr2", "en1"]),
        ("cerner", ["fr1", "en2"]),
    ],
)
def test_search_syntax(archive: Store, query: str, expected: list[str]) -> None:
    assert sorted(slugs(search(archive, query, ArchiveQuery()))) == sorted(expected)


@pytest.mark.parametrize(
    "query", ["title:x", "NEAR(a b)", "a AND", '"unclosed', "(((a", "a OR", "-x y", "^x", "a:b*"]
)
def test_no_query_is_a_syntax_error(archive: Store, query: str) -> None:
    search(archive, query, ArchiveQuery())  # answers, whatever it finds


@pytest.mark.parametrize("query", ['-- "" *', "(((", "*", "OR"])
def test_a_query_of_no_words_is_a_clear_error(query: str) -> None:
    with pytest.raises(WatcherError, match="nothing to search for"):
        match_expression(query)


def test_a_title_match_ranks_first_and_is_highlighted(archive: Store) -> None:
    hits = search(archive, "cerner", ArchiveQuery())
    # Both have Cerner in their title; en2 has it in its body too.
    assert slugs(hits)[0] == "en2"
    assert "\x02Cerner\x03" in hits[0].title and "\x02Cerner\x03" in hits[0].snippet


def test_filters(archive: Store) -> None:
    def found(**filters: object) -> list[str]:
        return sorted(slugs(list(articles(archive, ArchiveQuery(**filters)))))  # type: ignore[arg-type]

    assert found(language="fr") == ["fr1", "fr2"]
    assert found(vendor="oracle health") == ["en2", "fr1"]
    assert found(sources=("en",), vendor="Dedalus") == []
    assert found(since=datetime(2026, 2, 3, tzinfo=UTC), until=datetime(2026, 3, 5, tzinfo=UTC)) == [
        "en1", "fr2",
    ]  # fmt: skip
    assert found(limit=1) == ["en2"]  # newest first
    assert slugs(search(archive, "hopital", ArchiveQuery(language="fr", vendor="Dedalus"))) == [
        "fr2"
    ]


def test_stats_count_articles_per_vendor_per_month(archive: Store) -> None:
    stats = vendor_stats(archive, ArchiveQuery())
    assert stats.months == ["2026-01", "2026-02", "2026-03"]
    assert stats.counts["Oracle Health"] == {"2026-01": 1, "2026-03": 1}
    assert stats.vendors()[0] == "Oracle Health" and stats.total("Dedalus") == 1


def test_export_jsonl_and_csv(archive: Store) -> None:
    out = io.StringIO()
    assert export(archive, ArchiveQuery(), out, fmt="jsonl", with_text=True) == 4
    records = [json.loads(line) for line in out.getvalue().splitlines()]
    assert records[0]["url"].endswith("/en2") and records[0]["vendors"] == ["Oracle Health"]
    assert records[0]["published_at"] == "2026-03-05T00:00:00Z" and "outage" in records[0]["text"]
    out = io.StringIO()
    export(archive, ArchiveQuery(language="fr"), out, fmt="csv", with_text=False)
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert [r["title"] for r in rows] == ["Télémédecine à Brest", "Le CHU de Rennes choisit Cerner"]
    assert "text" not in rows[0] and rows[0]["vendors"] == "Dedalus"


class DigestSink:
    def __init__(self, failing: bool) -> None:
        self.failing = failing
        self.digests: list[Digest] = []

    async def send(self, event: Event) -> None:
        raise AssertionError("a backfill's held events go as a digest")

    async def send_digest(self, digest: Digest) -> None:
        if self.failing:
            raise DeliveryError("HTTP 503")
        self.digests.append(digest)


@pytest.mark.parametrize("failing", [False, True])
async def test_held_events_go_as_one_digest_or_become_pending(store: Store, failing: bool) -> None:
    for index, doc in enumerate(DOCS):
        event = make_event(event_id=f"evt_{index}")
        add(store, *doc, events=((event, ("hook",)),), hold=True)
    assert store.outbox_counts() == {("hook", "held"): 4}
    assert store.due_deliveries("hook", NOW) == []  # the daemon never sends held events
    sink = DigestSink(failing)
    outbox = Outbox(store, {"hook": sink}, DeliverySettings(), clock=lambda: NOW)
    report = await outbox.send_held("hook", DigestConfig("daily"))
    if failing:
        # Not lost: ordinary pending events now, retried by the outbox like any other.
        assert report.sent == 0 and sink.digests == []
        assert store.outbox_counts() == {("hook", "pending"): 4}
    else:
        (digest,) = sink.digests
        assert len(digest.events) == 4 and report.sent == 4
        assert store.outbox_counts() == {("hook", "sent"): 4}
