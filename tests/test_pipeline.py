"""The pipeline's semantics (DESIGN.md), on a simulated site behind respx."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
import respx

from tests.factories import NOW
from tests.sim import SimArticle, SimSite
from watcher.config import Duration, HttpSettings, SinkConfig, SourceConfig, Term, VendorConfig
from watcher.fetch import Fetcher, make_client
from watcher.match import VendorMatcher
from watcher.pipeline import Context, choose_url, process_source
from watcher.store import Store

BASE = "https://sim.example"
VENDORS = (
    VendorConfig("Oracle Health", aliases=(Term("Oracle Health"), Term("Cerner")), products=()),
    VendorConfig("Dedalus", aliases=(Term("Dedalus", case_sensitive=True),), products=()),
)
CERNER = [
    "Le CHU de Rennes a choisi Cerner pour remplacer son dossier patient informatisé.",
    "Le contrat porte sur 1,5 million d'euros et sur dix ans.",
]
NEUTRAL = [
    "Le ministère publie un nouveau guide sur la cybersécurité des hôpitaux.",
    "Il sera mis à jour en 2027.",
]


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def site(respx_mock: respx.MockRouter) -> SimSite:
    sim = SimSite(base=BASE)

    def answer(request: httpx.Request) -> httpx.Response:
        path = request.url.raw_path.decode()
        response = sim.handle(path, dict(request.headers))
        return httpx.Response(response.status, headers=response.headers, content=response.body)

    respx_mock.route(host="sim.example").mock(side_effect=answer)
    return sim


@pytest.fixture
async def run(store: Store) -> AsyncIterator[Callable[..., Any]]:
    http = HttpSettings(host_delay=Duration(0), retries=0)
    clock = Clock()
    async with make_client(http) as client:

        async def go(
            source: SourceConfig | None = None, sinks: tuple[SinkConfig, ...] | None = None
        ) -> Any:
            ctx = Context(
                fetch=Fetcher(client, http),
                store=store,
                matcher=VendorMatcher(VENDORS),
                sinks=sinks if sinks is not None else (SinkConfig(id="hook", kind="webhook"),),
                clock=clock,
            )
            report = await process_source(ctx, source or SOURCE)
            clock.now += timedelta(hours=1)
            return report

        go.clock = clock  # type: ignore[attr-defined]
        yield go


SOURCE = SourceConfig(
    id="sim", name="Sim Santé", kind="feed", url=f"{BASE}/feed.xml", language="fr",
    recheck_every=Duration(0),
)  # fmt: skip


def events(store: Store) -> list[dict[str, Any]]:
    import json

    return [
        json.loads(row[0]) for row in store.db.execute("SELECT payload FROM events ORDER BY rowid")
    ]


async def test_first_poll_is_a_silent_baseline(site: SimSite, run: Any, store: Store) -> None:
    site.add(SimArticle("a1", "Rennes choisit Cerner", CERNER))
    site.add(SimArticle("a2", "Guide cybersécurité", NEUTRAL))
    report = await run()
    assert report.baseline and report.count("new") == 2 and report.events == 0
    assert events(store) == []
    state = store.source_state("sim")
    assert state is not None and state.baseline_at is not None


async def test_new_vendor_article_is_announced_once(site: SimSite, run: Any, store: Store) -> None:
    await run()  # empty baseline
    site.add(SimArticle("a1", "Rennes choisit Cerner", CERNER))
    report = await run()
    assert report.count("new") == 1 and report.events == 1
    (event,) = events(store)
    assert event["type"] == "article.new"
    assert event["data"]["article"]["url"] == f"{BASE}/articles/a1"  # tracking parameters gone
    assert event["data"]["article"]["text"] == "\n\n".join(CERNER)
    assert event["data"]["vendors"][0]["name"] == "Oracle Health"
    assert store.outbox_counts() == {("hook", "pending"): 1}
    again = await run()
    assert again.events == 0 and again.count("unchanged") == 1


async def test_articles_without_a_watched_vendor_are_stored_silently(
    site: SimSite, run: Any, store: Store
) -> None:
    await run()
    site.add(SimArticle("a2", "Guide cybersécurité", NEUTRAL))
    report = await run()
    assert report.count("new") == 1 and report.events == 0
    assert store.find_article(f"{BASE}/articles/a2") is not None


async def test_material_edit_is_announced_with_its_diff(
    site: SimSite, run: Any, store: Store
) -> None:
    article = site.add(SimArticle("a1", "Rennes choisit Cerner", CERNER))
    await run()
    article.paragraphs = [CERNER[0], "Le contrat porte sur 2,5 millions d'euros et sur dix ans."]
    report = await run()
    assert report.count("updated") == 1 and report.events == 1
    (event,) = events(store)
    change = event["data"]["change"]
    assert event["type"] == "article.updated" and change["from_version"] == 1
    assert change["removed"] == ["Le contrat porte sur 1,5 million d'euros et sur dix ans."]
    assert change["added"] == ["Le contrat porte sur 2,5 millions d'euros et sur dix ans."]
    assert event["data"]["article"]["version"] == 2


async def test_cosmetic_churn_is_not_a_change(site: SimSite, run: Any, store: Store) -> None:
    article = site.add(SimArticle("a1", "Rennes choisit Cerner", CERNER))
    await run()
    article.related = ["Une toute autre histoire", "Et une autre encore"]
    article.views = 4321
    article.spacing = "  "
    report = await run()
    assert report.count("unchanged") == 1 and report.events == 0
    assert store.latest_version(store.find_article(f"{BASE}/articles/a1").id).number == 1  # type: ignore[union-attr]


async def test_update_of_an_article_that_no_longer_names_the_vendor_is_announced(
    site: SimSite, run: Any, store: Store
) -> None:
    article = site.add(SimArticle("a1", "Rennes choisit un éditeur", CERNER))
    await run()
    article.paragraphs = ["Le CHU de Rennes a choisi un nouvel éditeur pour son dossier patient."]
    await run()
    (event,) = events(store)
    assert event["type"] == "article.updated"
    assert [v["name"] for v in event["data"]["vendors"]] == [
        "Oracle Health"
    ]  # from the old version


async def test_unchanged_feed_costs_one_conditional_request(site: SimSite, run: Any) -> None:
    site.add(SimArticle("a1", "Rennes choisit Cerner", CERNER))
    source = SourceConfig(
        id="sim", name="Sim", kind="feed", url=f"{BASE}/feed.xml"
    )  # default recheck
    await run(source)
    before = len(site.requests)
    report = await run(source)
    assert report.not_modified
    assert site.requests[before:] and len(site.requests) - before == 1
    assert "If-None-Match" in site.requests[-1][1] or "if-none-match" in site.requests[-1][1]


async def test_article_unreadable_at_baseline_stays_silent_later(
    site: SimSite, run: Any, store: Store
) -> None:
    site.add(SimArticle("a1", "Rennes choisit Cerner", CERNER))
    site.failing["/articles/a1"] = 500
    report = await run()
    assert report.count("failed") == 1
    del site.failing["/articles/a1"]
    report = await run()
    assert report.count("new") == 1 and report.events == 0


async def test_a_broken_feed_fails_the_source_only(site: SimSite, run: Any, store: Store) -> None:
    site.failing["/feed.xml"] = 404
    report = await run()
    assert not report.ok and "HTTP 404" in (report.error or "")
    state = store.source_state("sim")
    assert state is not None and (state.state, state.failures) == ("gone", 1)
    del site.failing["/feed.xml"]
    assert (await run()).ok
    healed = store.source_state("sim")
    assert healed is not None and healed.failures == 0


async def test_require_any_keeps_general_it_news_out(site: SimSite, run: Any, store: Store) -> None:
    source = SourceConfig(
        id="sim", name="Sim", kind="feed", url=f"{BASE}/feed.xml", require_any=("patient",)
    )
    await run(source)
    site.add(
        SimArticle("a1", "Cerner au salon", ["Cerner présente sa nouvelle interface graphique."])
    )
    site.add(SimArticle("a2", "Rennes choisit Cerner", CERNER))
    await run(source)
    assert [e["data"]["article"]["title"] for e in events(store)] == ["Rennes choisit Cerner"]


async def test_sink_filters_choose_who_receives_an_event(
    site: SimSite, run: Any, store: Store
) -> None:
    sinks = (
        SinkConfig(id="all", kind="log"),
        SinkConfig(id="dedalus-only", kind="log", vendors=("Dedalus",)),
        SinkConfig(id="english", kind="log", languages=("en",)),
    )
    await run(sinks=sinks)
    site.add(SimArticle("a1", "Rennes choisit Cerner", CERNER))
    await run(sinks=sinks)
    assert store.outbox_counts() == {("all", "pending"): 1}


@pytest.mark.parametrize(
    ("page_url", "canonical", "expected"),
    [
        ("https://a.example/x?utm_source=rss", None, "https://a.example/x"),
        (
            "https://a.example/x?id=1",
            "https://www.a.example/articles/x",
            "https://www.a.example/articles/x",
        ),
        (
            "https://a.example/x",
            "https://a.example/",
            "https://a.example/x",
        ),  # home page: a template bug
        ("https://a.example/x", "https://other.example/x", "https://a.example/x"),  # another site
    ],
)
def test_choose_url(page_url: str, canonical: str | None, expected: str) -> None:
    assert choose_url(page_url, canonical) == expected


@pytest.fixture
def other_site(respx_mock: respx.MockRouter) -> SimSite:
    """A second site on another host (for syndication and translations)."""
    sim = SimSite(base="https://other.example")

    def answer(request: httpx.Request) -> httpx.Response:
        response = sim.handle(request.url.raw_path.decode(), dict(request.headers))
        return httpx.Response(response.status, headers=response.headers, content=response.body)

    respx_mock.route(host="other.example").mock(side_effect=answer)
    return sim


OTHER_SOURCE = SourceConfig(
    id="other",
    name="Other",
    kind="feed",
    url="https://other.example/feed.xml",
    recheck_every=Duration(0),
)
LONG = [
    "Le CHU de Rennes a choisi Cerner pour remplacer son dossier patient informatisé, après dix-huit mois d'appel d'offres.",
    "Le contrat porte sur 1,5 million d'euros et sur dix ans, maintenance comprise, selon la direction générale.",
    "Le déploiement commencera en décembre dans les services de médecine, puis en chirurgie l'année suivante.",
    "Les équipes soignantes seront formées par groupes de douze, pendant trois jours chacune, sur le temps de travail.",
]


async def test_a_flapping_page_is_announced_once(site: SimSite, run: Any, store: Store) -> None:
    """A/B tests and stale CDN copies alternate two bodies: one update, then silence."""
    article = site.add(SimArticle("a1", "Rennes choisit Cerner", list(LONG)))
    await run()
    a, b = (
        list(LONG),
        [
            *LONG[:1],
            "Le contrat porte sur 2,5 millions d'euros et sur dix ans, maintenance comprise.",
            *LONG[2:],
        ],
    )
    for body in (b, a, b, a, b):
        article.paragraphs = body
        await run()
    assert [e["type"] for e in events(store)] == ["article.updated"]
    found = store.find_article(f"{BASE}/articles/a1")
    assert found is not None and store.next_version_number(found.id) == 3  # two versions, no more


async def test_a_paywall_teaser_and_its_full_text_are_not_edits(
    site: SimSite, run: Any, store: Store
) -> None:
    article = site.add(SimArticle("a1", "Rennes choisit Cerner", LONG[:1]))  # teaser first
    await run()
    article.paragraphs = list(LONG)  # the full text (a subscriber's view, or the paywall lifted)
    await run()
    article.paragraphs = LONG[:1]  # and the teaser again
    await run()
    assert events(store) == []
    found = store.find_article(f"{BASE}/articles/a1")
    assert found is not None
    change = store.db.execute("SELECT change FROM versions WHERE number = 2").fetchone()[0]
    assert '"classes": ["paywall"]' in change


async def test_a_syndicated_copy_is_one_story(
    site: SimSite, other_site: SimSite, run: Any, store: Store
) -> None:
    await run()
    await run(OTHER_SOURCE)
    site.add(SimArticle("a1", "Rennes choisit Cerner", list(LONG)))
    other_site.add(
        SimArticle("reprise", "Cerner retenu à Rennes", ["Article de notre partenaire.", *LONG])
    )
    await run()
    await run(OTHER_SOURCE)
    (event,) = events(store)
    assert event["data"]["article"]["url"] == f"{BASE}/articles/a1"
    assert event["data"]["also_seen_at"] == ["https://other.example/articles/reprise"]
    copy = store.find_article("https://other.example/articles/reprise")
    original = store.find_article(f"{BASE}/articles/a1")
    assert copy is not None and original is not None
    assert store.story_of(copy.id) == original.id


async def test_a_report_in_another_language_is_linked_with_its_differences(
    site: SimSite, other_site: SimSite, run: Any, store: Store
) -> None:
    from tests.test_stories import EN, FR

    english = SourceConfig(
        id="other", name="Other", kind="feed", url="https://other.example/feed.xml", language="en"
    )
    await run()
    await run(english)
    site.add(SimArticle("fr", FR[0], [FR[1]]))
    await run()
    other_site.add(SimArticle("en", EN[0], [EN[1]], language="en"))
    await run(english)
    first, second = events(store)
    assert first["data"]["linked"] == []
    (linked,) = second["data"]["linked"]
    assert linked["url"] == f"{BASE}/articles/fr" and linked["language"] == "fr"
    assert set(linked["only_here"]) == {"2024", "hospital", "university"}
    assert set(linked["only_there"]) == {"2019", "chu"}


async def test_reports_published_years_apart_are_not_one_story(
    site: SimSite, other_site: SimSite, run: Any, store: Store
) -> None:
    """The translation window is about publication dates, not when watcher saw the
    pages (a backfill sees years of history in an hour)."""
    from datetime import UTC, datetime

    from tests.test_stories import EN, FR

    english = SourceConfig(
        id="other", name="Other", kind="feed", url="https://other.example/feed.xml", language="en"
    )
    await run()
    await run(english)
    site.add(SimArticle("fr", FR[0], [FR[1]], published=datetime(2024, 1, 10, 9, tzinfo=UTC)))
    await run()
    other_site.add(SimArticle("en", EN[0], [EN[1]], language="en"))  # published 2026-11-20
    await run(english)
    first, second = events(store)
    assert first["data"]["linked"] == second["data"]["linked"] == []


async def test_sinks_can_subscribe_to_change_classes(site: SimSite, run: Any, store: Store) -> None:
    sinks = (
        SinkConfig(id="corrections", kind="log", changes=("correction",)),
        SinkConfig(id="all", kind="log"),
    )
    article = site.add(SimArticle("a1", "Rennes choisit Cerner", list(LONG)))
    await run(sinks=sinks)
    article.paragraphs = [
        *LONG,
        "Une nouvelle phrase sur le projet de dossier patient, ajoutée ce matin.",
    ]
    await run(sinks=sinks)  # an addition
    article.paragraphs = [p.replace("1,5 million", "1,8 million") for p in article.paragraphs]
    await run(sinks=sinks)  # a correction
    counts = store.outbox_counts()
    assert counts == {("all", "pending"): 2, ("corrections", "pending"): 1}


async def test_a_few_entries_of_a_source_are_read_at_once(site: SimSite, store: Store) -> None:
    for n in range(10):
        site.add(SimArticle(f"a{n}", f"Article {n}", [*NEUTRAL, f"Numéro {n}."]))
    http = HttpSettings(host_delay=Duration(0), retries=0, per_host=8, concurrency=16)
    async with make_client(http) as client:
        fetcher = Fetcher(client, http)
        busy, most = 0, 0

        class Counting:
            async def get(self, url: str, **kwargs: Any) -> Any:
                nonlocal busy, most
                busy += 1
                most = max(most, busy)
                try:
                    await asyncio.sleep(0.01)  # a network: others get a turn meanwhile
                    return await fetcher.get(url, **kwargs)
                finally:
                    busy -= 1

        ctx = Context(
            fetch=Counting(), store=store, matcher=VendorMatcher(VENDORS), sinks=(),
            clock=Clock(), entries_at_once=3,
        )  # fmt: skip
        report = await process_source(ctx, SOURCE)
    # The feed, then the ten pages, never more than three at a time though the fetcher
    # would let eight through; every page read, each counted once.
    assert most == 3
    assert report.count("new") == 10 and sum(report.counts.values()) == 10


async def test_only_big_pages_are_read_in_a_worker_thread(
    site: SimSite, run: Any, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A thread hand-off costs more CPU than reading a common page takes; a big page is
    # still read off the event loop, which keeps serving the other fetches.
    threaded: list[str] = []
    to_thread = asyncio.to_thread

    async def spy(func: Callable[..., Any], page: Any, *args: Any) -> Any:
        threaded.append(page.url)
        return await to_thread(func, page, *args)

    monkeypatch.setattr("watcher.pipeline.asyncio.to_thread", spy)
    monkeypatch.setattr("watcher.pipeline.READ_ON_LOOP_BYTES", 2_000)
    site.add(SimArticle("small", "Court", CERNER[:1]))
    site.add(SimArticle("big", "Long", CERNER + NEUTRAL * 40))
    report = await run()
    assert report.count("new") == 2
    assert threaded == [f"{BASE}/articles/big"]
