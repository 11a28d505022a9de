"""``kind: sitemap`` on real sitemaps (urlset, index, Google News, gzip, text) and hostile ones."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime, timedelta

import pytest
import respx

from tests.conftest import FIXTURES
from watcher.config import Duration, HttpSettings, SourceConfig
from watcher.errors import ParseError
from watcher.fetch import Fetcher, make_client
from watcher.sources.sitemap import SitemapSource, parse_sitemap


def sitemap(name: str) -> bytes:
    return (FIXTURES / "sitemaps" / name).read_bytes()


@pytest.mark.parametrize(
    ("name", "entries", "children"),
    [
        ("news_sitemap.xml", 6, 0),
        ("hebdenbridgetimes-articles-sitemap.xml", 74, 0),
        ("zipped_sitemap.xml.gz", 5, 0),
        ("sitemap.txt", 2, 0),
        ("sitemap-with-bom.txt", 2, 0),
        ("sitemap_index.xml", 0, 4),
        ("sitemap.index.xml", 0, 15),  # URLs written straight inside <sitemap>, no <loc>
    ],
)
def test_real_sitemaps(name: str, entries: int, children: int) -> None:
    parsed = parse_sitemap(sitemap(name), url=f"https://x.example/{name}")
    assert (len(parsed.entries), len(parsed.children)) == (entries, children)


def test_news_sitemap_gives_titles_and_dates() -> None:
    first = parse_sitemap(
        sitemap("news_sitemap.xml"), url="https://www.nytimes.com/sitemap.xml"
    ).entries[0]
    assert (
        first.title == "Quarantine Was Driving Me Crazy — So I Decided to Lose My Mind on Purpose"
    )
    assert first.published_at == datetime(2020, 5, 11, 9, 0, 1, tzinfo=UTC)
    assert first.updated_at == datetime(2020, 5, 19, 21, 57, 45, tzinfo=UTC)


@pytest.mark.parametrize(
    "content",
    [
        sitemap("error_sitemap.xml"),
        b"<html><body>Not found</body></html>",
        b"",
        b"\x1f\x8b broken gzip",
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;">]><urlset><url><loc>&b;</loc></url></urlset>',
    ],
)
def test_what_is_not_a_sitemap_is_a_parse_error(content: bytes) -> None:
    with pytest.raises(ParseError):
        parse_sitemap(content, url="https://x.example/sitemap.xml")


def test_a_gzip_bomb_is_refused() -> None:
    bomb = gzip.compress(b"<urlset>" + b" " * 2_000_000 + b"</urlset>")
    with pytest.raises(ParseError, match="once decompressed"):
        parse_sitemap(bomb, url="https://x.example/s.xml.gz", max_bytes=1_000_000)


def _urlset(*items: tuple[str, datetime]) -> bytes:
    rows = "".join(f"<url><loc>{u}</loc><lastmod>{d.isoformat()}</lastmod></url>" for u, d in items)
    return f'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{rows}</urlset>'.encode()


async def test_poll_reads_the_newest_children_of_an_index(respx_mock: respx.MockRouter) -> None:
    now = datetime.now(UTC)
    index = (
        '<?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        f"<sitemap><loc>https://s.example/new.xml.gz</loc><lastmod>{now.isoformat()}</lastmod></sitemap>"
        f"<sitemap><loc>https://s.example/old.xml</loc><lastmod>{(now - timedelta(days=300)).isoformat()}</lastmod></sitemap>"
        "</sitemapindex>"
    ).encode()
    respx_mock.get("https://s.example/sitemap.xml").respond(200, content=index)
    new = respx_mock.get("https://s.example/new.xml.gz").respond(
        200,
        content=gzip.compress(
            _urlset(
                ("https://s.example/a/1", now - timedelta(hours=1)),
                ("https://s.example/a/0", now - timedelta(days=30)),
            )
        ),
    )
    old = respx_mock.get("https://s.example/old.xml").respond(200, content=_urlset())
    source = SourceConfig(
        id="s", name="S", kind="sitemap", url="https://s.example/sitemap.xml",
        options=SitemapSource.Options(recent=Duration(7 * 86400)),
    )  # fmt: skip
    http = HttpSettings(retries=0, host_delay=Duration(0))
    async with make_client(http) as client:
        poll = await SitemapSource(source).poll(Fetcher(client, http))
    assert [e.url for e in poll.entries] == ["https://s.example/a/1"]  # the 30-day-old one is out
    assert new.called and not old.called  # an old child sitemap is not even fetched
