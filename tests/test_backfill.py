"""``watcher backfill`` through the core API, against a simulated site on 127.0.0.1:
windows, silence, --notify, --digest, --max-articles and resuming, --dry-run, failures,
and what the daemon does with history afterwards."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.sim import SimSite, WebhookReceiver, history_articles, serve_receiver, serve_site
from watcher.backfill import Progress, Request, moment
from watcher.config import Settings, load
from watcher.daemon import Watcher
from watcher.sources.base import Window

NOW = datetime.now(UTC).replace(microsecond=0)
SINCE = NOW - timedelta(days=30)


@pytest.fixture
def site() -> Iterator[SimSite]:
    sim = SimSite(feed_size=5, page_size=10)
    for article in reversed(history_articles(60, newest=NOW - timedelta(hours=1), seed=3)):
        sim.add(article)  # oldest first: the feed lists the newest
    with serve_site(sim):
        yield sim


@pytest.fixture
def receiver() -> Iterator[tuple[WebhookReceiver, str]]:
    hook = WebhookReceiver()
    with serve_receiver(hook) as url:
        yield hook, url


def settings_for(
    write_config: Callable[[str], Path], site: SimSite, history: str, hook_url: str = ""
) -> Settings:
    sink = (
        f"  - {{id: hook, kind: webhook, url: '{hook_url}'}}\n  - {{id: log, kind: log}}"
        if hook_url
        else "  - {id: log, kind: log}"
    )
    return load(
        write_config(
            f"""
settings:
  http: {{host_delay: 0s, retries: 0, timeout: 5s}}
vendors:
  - {{name: Oracle Health, aliases: [Cerner]}}
  - {{name: Dedalus}}
  - {{name: Epic Systems, aliases: [Epic]}}
sources:
  - id: sim
    name: Sim
    url: {site.base}/feed.xml
    language: fr
    allow_private: true
    history: {history}
sinks:
{sink}
"""
        )
    )


SITEMAP = "{kind: sitemap, url: '__/sitemap.xml'}"
LISTING = "{kind: listing, url: '__/news'}"


def history(kind: str, site: SimSite) -> str:
    return kind.replace("__", site.base)


def article_hits(site: SimSite) -> list[str]:
    return [path for path, _ in site.requests if path.startswith("/articles/")]


def in_window(site: SimSite, since: datetime, until: datetime | None = None) -> set[str]:
    return {
        f"{site.base}/articles/{a.slug}"
        for a in site.articles.values()
        if a.published >= since and (until is None or a.published < until)
    }


async def backfill(
    settings: Settings, state: Path, request: Request, *, deliver: bool = False
) -> list[Progress]:
    async with Watcher(settings, state) as watcher:
        progress = await watcher.backfill(request).run()
        if deliver and request.digest:
            await watcher.send_held(request.digest)
        elif deliver:
            await watcher.deliver()
        return progress


def stored_urls(state: Path) -> set[str]:
    from watcher.store import Store

    store = Store.open(state)
    try:
        return {r[0] for r in store.db.execute("SELECT url FROM articles WHERE version > 0")}
    finally:
        store.close()


@pytest.mark.parametrize("kind", [SITEMAP, LISTING], ids=["sitemap", "listing"])
async def test_imports_exactly_the_window_silently(
    kind: str, site: SimSite, write_config: Callable[[str], Path], tmp_path: Path
) -> None:
    settings = settings_for(write_config, site, history(kind, site))
    until = NOW - timedelta(days=10)
    (progress,) = await backfill(
        settings, tmp_path / "state", Request(window=Window(since=SINCE, until=until))
    )
    assert progress.state == "done" and progress.error is None
    assert stored_urls(tmp_path / "state") == in_window(site, SINCE, until)
    assert progress.stored == len(in_window(site, SINCE, until))
    # The walk stopped once it had passed the window: not every page of the site.
    assert len(article_hits(site)) <= progress.stored + 10
    async with Watcher(settings, tmp_path / "state") as watcher:
        assert watcher.store.outbox_counts() == {}  # silence: nothing queued
        flags = watcher.store.db.execute(
            "SELECT DISTINCT backfilled, silent FROM articles"
        ).fetchall()
        assert flags == [(1, 1)]


async def test_the_daemon_never_announces_history(
    site: SimSite, write_config: Callable[[str], Path], tmp_path: Path
) -> None:
    settings = settings_for(write_config, site, history(SITEMAP, site))
    await backfill(settings, tmp_path / "state", Request(window=Window(since=SINCE)))
    fetched = len(article_hits(site))
    async with Watcher(settings, tmp_path / "state") as watcher:
        # The feed lists five backfilled articles: known history, not news, and not
        # re-read on the young-article schedule either.
        (report,) = await watcher.poll()
        assert report.events == 0 and report.count("new") == 0
        (report,) = await watcher.poll()
        assert report.events == 0
        assert watcher.store.outbox_counts() == {}
    assert len(article_hits(site)) == fetched


async def test_max_articles_then_resume_fetches_nothing_twice(
    site: SimSite, write_config: Callable[[str], Path], tmp_path: Path
) -> None:
    settings = settings_for(write_config, site, history(LISTING, site))
    # 7 is not a multiple of the 4 articles read at once: the last batch is cut to fit.
    request = Request(window=Window(since=SINCE), max_articles=7)
    (first,) = await backfill(settings, tmp_path / "state", request)
    assert first.state == "limit" and first.stored == 7
    assert len(stored_urls(tmp_path / "state")) == 7
    (second,) = await backfill(settings, tmp_path / "state", Request(window=Window(since=SINCE)))
    assert second.resumed and second.state == "done"
    hits = article_hits(site)
    assert len(hits) == len(set(hits)), "an article page was fetched twice"
    assert stored_urls(tmp_path / "state") == in_window(site, SINCE)
    (third,) = await backfill(settings, tmp_path / "state", Request(window=Window(since=SINCE)))
    assert third.state == "up to date" and third.pages == 0
    assert article_hits(site) == hits


@pytest.mark.parametrize(
    "kind",
    [
        "{kind: listing, url: '__/news', archive: '__/news?page={n}'}",
        "{kind: feed, url: '__/feed.xml', archive: '__/feed.xml?paged={n}'}",
    ],
    ids=["listing", "feed"],
)
async def test_an_archive_pattern_ends_at_the_first_page_not_found(
    kind: str, site: SimSite, write_config: Callable[[str], Path], tmp_path: Path
) -> None:
    """``?page={n}`` past the last page answers 404 (the sim, like WordPress): that is
    the end of the archive, not a failure, and the next run finds it up to date."""
    settings = settings_for(write_config, site, history(kind, site))
    everything = Window(since=NOW - timedelta(days=3650))
    (first,) = await backfill(settings, tmp_path / "state", Request(window=everything))
    assert (first.state, first.error) == ("done", None)
    assert stored_urls(tmp_path / "state") == in_window(site, everything.since or NOW)
    last = len(site.articles) // (5 if "feed" in kind else 10) + 1  # 60 articles
    assert any(
        path.endswith(f"?page={last}") or path.endswith(f"?paged={last}")
        for path, _ in site.requests
    )
    (again,) = await backfill(settings, tmp_path / "state", Request(window=everything))
    assert again.state == "up to date"


async def test_a_new_window_rewalks_the_index_but_skips_what_is_stored(
    site: SimSite, write_config: Callable[[str], Path], tmp_path: Path
) -> None:
    settings = settings_for(write_config, site, history(SITEMAP, site))
    await backfill(settings, tmp_path / "state", Request(window=Window(since=SINCE)))
    earlier = NOW - timedelta(days=45)
    (progress,) = await backfill(settings, tmp_path / "state", Request(window=Window(earlier)))
    assert progress.skipped == len(in_window(site, SINCE))
    assert progress.stored == len(in_window(site, earlier) - in_window(site, SINCE))
    hits = article_hits(site)
    assert len(hits) == len(set(hits))


async def test_dry_run_counts_without_fetching_articles_or_checkpointing(
    site: SimSite, write_config: Callable[[str], Path], tmp_path: Path
) -> None:
    settings = settings_for(write_config, site, history(SITEMAP, site))
    (progress,) = await backfill(
        settings, tmp_path / "state", Request(window=Window(since=SINCE), dry_run=True)
    )
    assert progress.discovered == len(in_window(site, SINCE)) and progress.skipped == 0
    assert article_hits(site) == []
    async with Watcher(settings, tmp_path / "state") as watcher:
        assert watcher.store.checkpoint("sim") is None


async def test_notify_announces_vendor_articles(
    site: SimSite,
    receiver: tuple[WebhookReceiver, str],
    write_config: Callable[[str], Path],
    tmp_path: Path,
) -> None:
    hook, url = receiver
    settings = settings_for(write_config, site, history(SITEMAP, site), url)
    (progress,) = await backfill(
        settings, tmp_path / "state", Request(window=Window(since=SINCE), notify=True), deliver=True
    )
    named = [
        a for a in site.articles.values() if a.published >= SINCE and "avec" in a.title
    ]  # the generator names a vendor in the title ("… avec Cerner") when it names one
    vendors = ("Cerner", "Dedalus", "Epic")
    expected = [a for a in named if any(v in a.title for v in vendors)]
    assert expected and progress.events == len(expected)
    assert len(hook.received) == len(expected)
    assert {r.json["type"] for r in hook.received} == {"article.new"}


async def test_digest_sends_one_digest_to_one_sink(
    site: SimSite,
    receiver: tuple[WebhookReceiver, str],
    write_config: Callable[[str], Path],
    tmp_path: Path,
) -> None:
    hook, url = receiver
    settings = settings_for(write_config, site, history(SITEMAP, site), url)
    request = Request(window=Window(since=SINCE), digest="hook")
    (progress,) = await backfill(settings, tmp_path / "state", request)
    async with Watcher(settings, tmp_path / "state") as watcher:
        # Held until the digest: the daemon (or `watcher deliver`) does not send them.
        assert watcher.store.outbox_counts() == {("hook", "held"): progress.events}
        delivered = await watcher.deliver()
        assert delivered.sent == 0 and hook.received == []
        report = await watcher.send_held("hook")
    assert progress.events > 0 and report.sent == progress.events
    (message,) = hook.received
    assert message.json["type"] == "digest"
    assert message.json["data"]["count"] == progress.events


async def test_unreadable_pages_are_retried_by_the_next_run(
    site: SimSite, write_config: Callable[[str], Path], tmp_path: Path
) -> None:
    settings = settings_for(write_config, site, history(SITEMAP, site))
    newest = max(site.articles.values(), key=lambda a: a.published)
    site.failing[f"/articles/{newest.slug}"] = 500
    (first,) = await backfill(settings, tmp_path / "state", Request(window=Window(since=SINCE)))
    assert first.failed == 1 and first.state == "done"
    del site.failing[f"/articles/{newest.slug}"]
    (second,) = await backfill(settings, tmp_path / "state", Request(window=Window(since=SINCE)))
    assert second.state == "up to date" and second.stored == 1
    assert stored_urls(tmp_path / "state") == in_window(site, SINCE)


async def test_a_failing_index_is_reported_and_resumable(
    site: SimSite, write_config: Callable[[str], Path], tmp_path: Path
) -> None:
    settings = settings_for(write_config, site, history(LISTING, site))
    site.failing["/news"] = 503
    (progress,) = await backfill(settings, tmp_path / "state", Request(window=Window(SINCE)))
    assert progress.state == "failed" and "503" in (progress.error or "")
    del site.failing["/news"]
    (progress,) = await backfill(settings, tmp_path / "state", Request(window=Window(SINCE)))
    assert progress.state == "done"
    assert stored_urls(tmp_path / "state") == in_window(site, SINCE)


def test_window_bounds_from_the_command_line() -> None:
    now = datetime(2026, 3, 15, 17, 30, tzinfo=UTC)
    assert moment("30d", now) == datetime(2026, 2, 13, tzinfo=UTC)
    assert moment("2w", now) == datetime(2026, 3, 1, tzinfo=UTC)
    assert moment("1y", now) == datetime(2025, 3, 15, tzinfo=UTC)
    assert moment("2025-01-31") == datetime(2025, 1, 31, tzinfo=UTC)
    assert moment("2025-01-31T10:00:00+01:00") == datetime(2025, 1, 31, 9, tzinfo=UTC)
    with pytest.raises(ValueError, match="neither a date"):
        moment("last tuesday")


async def test_what_came_after_the_daemons_baseline_is_left_to_the_daemon(
    site: SimSite, write_config: Callable[[str], Path], tmp_path: Path
) -> None:
    from tests.sim import SimArticle

    settings = settings_for(write_config, site, history(SITEMAP, site))
    async with Watcher(settings, tmp_path / "state") as watcher:
        await watcher.poll()  # the daemon's baseline
    fresh = site.add(
        SimArticle(
            "rennes-choisit-cerner-pour-son-dpi",
            "Rennes choisit Cerner pour son DPI",
            ["Le CHU de Rennes a choisi Cerner pour remplacer son dossier patient, pour 12 M€."],
            published=datetime.now(UTC),  # after the baseline
        )
    )
    (progress,) = await backfill(settings, tmp_path / "state", Request(window=Window(SINCE)))
    assert f"{site.base}/articles/{fresh.slug}" not in stored_urls(tmp_path / "state")
    assert progress.outside >= 1
    async with Watcher(settings, tmp_path / "state") as watcher:
        (report,) = await watcher.poll()
    assert report.count("new") == 1 and report.events == 1  # the daemon announces it
