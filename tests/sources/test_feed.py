"""``kind: feed`` on real feeds (RSS 2.0, RSS 1.0/RDF, Atom) and on broken or hostile ones."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import respx

from tests.conftest import FIXTURES
from watcher.config import ByteSize, Duration, HttpSettings, SourceConfig
from watcher.errors import ParseError
from watcher.fetch import Fetcher, make_client
from watcher.sources.feed import FeedSource, parse_feed


def feed(name: str) -> bytes:
    return (FIXTURES / "feeds" / name).read_bytes()


@pytest.mark.parametrize(
    ("name", "count", "first_url", "first_title"),
    [
        (
            "medscape.rss",
            20,
            "https://www.medscape.com/viewarticle/caution-urged-virtual-care-partnerships-canada-2025a1000uja",
            "Caution Urged for Virtual Care Partnerships in Canada",
        ),
        (
            "DaringFireball.atom",
            47,
            "https://daringfireball.net/thetalkshow/2017/06/26/ep-195",
            "The Talk Show: ‘I Do Like Throwing a Baby’",
        ),
        (
            "rss_1.0_biorxiv.xml",
            1,
            "http://biorxiv.org/cgi/content/short/2023.12.16.571984v1?rss=1",
            None,
        ),
        (
            "rss_1.0_iso8859.xml",
            1,
            None,
            "Digitalministerium: Neue Glasfaserförderung mit Schnellkasse",
        ),
        ("rss_2.0_bbc.xml", 1, "http://www.bbc.co.uk/programmes/m000sjxt", "Marcus Aurelius"),
    ],
)
def test_real_feeds(name: str, count: int, first_url: str | None, first_title: str | None) -> None:
    entries, warnings = parse_feed(feed(name), url=f"https://feeds.example/{name}")
    assert len(entries) == count and warnings == ()
    if first_url:
        assert entries[0].url == first_url
    if first_title:
        assert entries[0].title == first_title
    assert len({e.url for e in entries}) == len(entries)


def test_dates_are_utc() -> None:
    entries, _ = parse_feed(feed("medscape.rss"), url="https://www.medscape.com/rss")
    assert entries[0].published_at == datetime(2025, 11, 5, 18, 52, 10, tzinfo=UTC)


def test_malformed_feed_yields_what_it_can_and_a_warning() -> None:
    entries, warnings = parse_feed(
        feed("rss_item_link_corrupted_ampersands.xml"), url="http://link/"
    )
    assert [e.url for e in entries] == ["http://link/get?a=1&b=2"]
    assert warnings and warnings[0].startswith("malformed feed:")


def test_an_html_page_is_not_a_feed() -> None:
    with pytest.raises(ParseError, match="not a readable feed"):
        parse_feed(b"<html><body><h1>Welcome</h1></body></html>", url="https://example.org/")


def test_entity_expansion_and_external_entities_are_harmless() -> None:
    laughs = b"""<?xml version="1.0"?>
<!DOCTYPE rss [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">
<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">
<!ENTITY e "&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;"><!ENTITY f "&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;">
<!ENTITY g "&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;"><!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<rss version="2.0"><channel><item><title>&g;&xxe;</title><link>https://a.example/1</link></item></channel></rss>"""
    try:
        entries, _ = parse_feed(laughs, url="https://a.example/feed")
    except ParseError:
        return
    for entry in entries:
        assert len(entry.title or "") < 100_000
        assert "root:" not in (entry.title or "")


def test_relative_links_resolve_against_the_feed_url() -> None:
    body = b'<rss version="2.0"><channel><item><link>/news/1?utm_source=rss</link></item></channel></rss>'
    entries, _ = parse_feed(body, url="https://site.example/feed/")
    assert entries[0].url == "https://site.example/news/1"


async def test_poll_is_conditional_and_capped(respx_mock: respx.MockRouter) -> None:
    source = SourceConfig(
        id="m", name="Medscape", kind="feed", url="https://www.medscape.com/rss", max_articles=5
    )
    route = respx_mock.get(source.url)
    route.side_effect = [
        respx.MockResponse(200, content=feed("medscape.rss"), headers={"ETag": '"1"'}),
        respx.MockResponse(304),
    ]
    http = HttpSettings(max_page_size=ByteSize(10_000_000), retries=0, host_delay=Duration(0))
    async with make_client(http) as client:
        fetcher = Fetcher(client, http)
        first = await FeedSource(source).poll(fetcher)
        second = await FeedSource(source).poll(fetcher, etag=first.etag)
    assert len(first.entries) == 5 and first.etag == '"1"'
    assert second.not_modified and second.entries == ()
    assert route.calls.last.request.headers["If-None-Match"] == '"1"'


def _archive_page(entries: list[tuple[str, str]], prev: str | None) -> bytes:
    """An Atom archive document (RFC 5005): entries, and a link to the older one."""
    link = f'<link rel="prev-archive" href="{prev}"/>' if prev else ""
    items = "".join(
        f"<entry><title>{slug}</title><link href='https://site.example/{slug}'/>"
        f"<id>urn:{slug}</id><updated>{when}</updated></entry>"
        for slug, when in entries
    )
    return (
        f'<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>t</title>'
        f"<id>urn:f</id><updated>2026-11-01T00:00:00Z</updated>{link}{items}</feed>"
    ).encode()


async def test_history_follows_rfc5005_archives_and_resumes(respx_mock: respx.MockRouter) -> None:
    from watcher.sources.base import Window

    source = SourceConfig(id="a", name="A", kind="feed", url="https://site.example/feed")
    respx_mock.get("https://site.example/robots.txt").respond(404)
    respx_mock.get(source.url).respond(
        200, content=_archive_page([("new-1", "2026-11-01T00:00:00Z")], "/archive/2026-10")
    )
    respx_mock.get("https://site.example/archive/2026-10").respond(
        200,
        content=_archive_page(
            [("oct-1", "2026-10-20T00:00:00Z"), ("sep-9", "2026-09-20T00:00:00Z")],
            "/archive/2026-09",
        ),
    )
    older = respx_mock.get("https://site.example/archive/2026-09").respond(
        200, content=_archive_page([("aug-1", "2026-08-01T00:00:00Z")], None)
    )
    http = HttpSettings(retries=0, host_delay=Duration(0))
    window = Window(since=datetime(2026, 10, 1, tzinfo=UTC))
    async with make_client(http) as client:
        fetcher = Fetcher(client, http)
        pages = [p async for p in FeedSource(source).history(fetcher, window, None)]
        assert [p.url for p in pages] == [
            source.url,
            "https://site.example/archive/2026-10",
            "https://site.example/archive/2026-09",
        ]
        # Inside the window only; the dates shown tell the walker where it stands.
        assert [[e.url for e in p.entries] for p in pages] == [
            ["https://site.example/new-1"],
            ["https://site.example/oct-1"],
            [],
        ]
        assert all(window.passed(d) for d in pages[2].dates)
        assert pages[-1].cursor is None
        # From a cursor: the walk starts where the previous one stopped.
        calls = older.call_count
        resumed = [p async for p in FeedSource(source).history(fetcher, window, pages[1].cursor)]
        assert [p.url for p in resumed] == ["https://site.example/archive/2026-09"]
        assert older.call_count == calls + 1
