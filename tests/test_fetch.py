"""The fetch stage: conditional GETs, retries on transient errors only, Retry-After,
size caps on the decompressed body, and per-host politeness (no real sleeping)."""

from __future__ import annotations

import gzip
import itertools
import zlib
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import respx

from tests.keepalive import KeepAliveSites
from watcher.config import ByteSize, Duration, HttpSettings
from watcher.errors import FetchError
from watcher.fetch import Fetcher, make_client, parse_retry_after
from watcher.store import Store

URL = "https://news.example/article"


class FakeTime:
    """A clock that only moves when the code under test sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


@pytest.fixture
async def fetcher(fake_time: FakeTime) -> AsyncIterator[Fetcher]:
    http = HttpSettings(host_delay=Duration(0), retries=2, max_page_size=ByteSize(1000))
    async with make_client(http) as client:
        yield Fetcher(client, http, sleep=fake_time.sleep, clock=fake_time.clock)


async def test_conditional_get_sends_validators_and_reports_304(
    respx_mock: respx.MockRouter, fetcher: Fetcher
) -> None:
    route = respx_mock.get(URL).respond(304)
    page = await fetcher.get(URL, etag='"abc"', last_modified="Wed, 21 Oct 2026 07:28:00 GMT")
    assert page.not_modified and page.content == b""
    request = route.calls.last.request
    assert request.headers["If-None-Match"] == '"abc"'
    assert request.headers["If-Modified-Since"] == "Wed, 21 Oct 2026 07:28:00 GMT"
    assert request.headers["User-Agent"].startswith("watcher/")


async def test_validators_and_final_url_are_returned(
    respx_mock: respx.MockRouter, fetcher: Fetcher
) -> None:
    respx_mock.get(URL).respond(301, headers={"Location": URL + "-moved"})
    respx_mock.get(URL + "-moved").respond(
        200, content=b"<p>ok</p>", headers={"ETag": '"v2"', "Content-Type": "text/html"}
    )
    page = await fetcher.get(URL)
    assert (page.url, page.requested_url, page.etag) == (URL + "-moved", URL, '"v2"')
    assert page.content == b"<p>ok</p>" and page.content_type == "text/html"


async def test_transient_errors_are_retried_with_backoff(
    respx_mock: respx.MockRouter, fetcher: Fetcher, fake_time: FakeTime
) -> None:
    route = respx_mock.get(URL)
    route.side_effect = [
        httpx.Response(503),
        httpx.ConnectTimeout("slow"),
        httpx.Response(200, content=b"ok"),
    ]
    page = await fetcher.get(URL)
    assert page.content == b"ok" and route.call_count == 3
    assert len(fake_time.sleeps) == 2 and all(0 < s <= 31 for s in fake_time.sleeps)


async def test_retry_after_is_honoured(
    respx_mock: respx.MockRouter, fetcher: Fetcher, fake_time: FakeTime
) -> None:
    route = respx_mock.get(URL)
    route.side_effect = [
        httpx.Response(429, headers={"Retry-After": "7"}),
        httpx.Response(200, content=b"ok"),
    ]
    await fetcher.get(URL)
    assert fake_time.sleeps == [7.0]


async def test_a_long_retry_after_is_not_waited_for_inline(
    respx_mock: respx.MockRouter, fetcher: Fetcher
) -> None:
    route = respx_mock.get(URL).respond(503, headers={"Retry-After": "3600"})
    with pytest.raises(FetchError) as caught:
        await fetcher.get(URL)
    assert route.call_count == 1 and caught.value.retry_after == 3600


@pytest.mark.parametrize("status", [400, 403, 404, 410])
async def test_permanent_errors_are_not_retried(
    respx_mock: respx.MockRouter, fetcher: Fetcher, status: int
) -> None:
    route = respx_mock.get(URL).respond(status)
    with pytest.raises(FetchError) as caught:
        await fetcher.get(URL)
    assert route.call_count == 1
    assert (caught.value.status, caught.value.reason) == (status, "http_status")


async def test_timeouts_give_up_after_the_retries(
    respx_mock: respx.MockRouter, fetcher: Fetcher
) -> None:
    route = respx_mock.get(URL).mock(side_effect=httpx.ReadTimeout("slow"))
    with pytest.raises(FetchError) as caught:
        await fetcher.get(URL)
    assert route.call_count == 3 and caught.value.reason == "timeout"


async def test_redirect_loops_are_refused(respx_mock: respx.MockRouter, fetcher: Fetcher) -> None:
    respx_mock.get(URL).respond(302, headers={"Location": URL + "/b"})
    respx_mock.get(URL + "/b").respond(302, headers={"Location": URL})
    with pytest.raises(FetchError) as caught:
        await fetcher.get(URL)
    assert caught.value.reason == "redirects"


async def test_declared_oversize_is_refused_before_reading(
    respx_mock: respx.MockRouter, fetcher: Fetcher
) -> None:
    respx_mock.get(URL).respond(200, content=b"x" * 2000)
    with pytest.raises(FetchError) as caught:
        await fetcher.get(URL)
    assert caught.value.reason == "too_large"


class ChunkStream(httpx.AsyncByteStream):
    """A body sent in chunks with no Content-Length, as a streaming server would."""

    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks = chunks

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in self.chunks:
            yield chunk


async def test_streamed_oversize_is_aborted(respx_mock: respx.MockRouter, fetcher: Fetcher) -> None:
    respx_mock.get(URL).respond(200, stream=ChunkStream([b"x" * 100] * 100))
    with pytest.raises(FetchError, match=r"^page is over the 1000-byte cap"):
        await fetcher.get(URL)


async def test_gzip_bodies_are_decoded(respx_mock: respx.MockRouter, fetcher: Fetcher) -> None:
    respx_mock.get(URL).respond(
        200, content=gzip.compress(b"<p>bonjour</p>"), headers={"Content-Encoding": "gzip"}
    )
    assert (await fetcher.get(URL)).content == b"<p>bonjour</p>"


@pytest.mark.parametrize("wbits", [zlib.MAX_WBITS, -zlib.MAX_WBITS])
async def test_deflate_bodies_zlib_or_raw_are_decoded(
    respx_mock: respx.MockRouter, fetcher: Fetcher, wbits: int
) -> None:
    compressor = zlib.compressobj(wbits=wbits)
    body = compressor.compress(b"<p>hello</p>") + compressor.flush()
    respx_mock.get(URL).respond(200, content=body, headers={"Content-Encoding": "deflate"})
    assert (await fetcher.get(URL)).content == b"<p>hello</p>"


async def test_gzip_bomb_is_stopped_at_the_cap(
    respx_mock: respx.MockRouter, fetcher: Fetcher
) -> None:
    bomb = gzip.compress(b"\0" * 10_000_000)  # 10 MB of zeros in ~10 KB
    assert len(bomb) < 20_000
    respx_mock.get(URL).respond(200, content=bomb, headers={"Content-Encoding": "gzip"})
    with pytest.raises(FetchError) as caught:
        await fetcher.get(URL)
    assert caught.value.reason == "too_large"


async def test_requests_to_one_host_are_spaced(
    respx_mock: respx.MockRouter, fake_time: FakeTime
) -> None:
    """As the servers see it: two requests to one host are never
    closer than host_delay; other hosts do not wait for it."""
    http = HttpSettings(host_delay=Duration(2), retries=0)
    seen: dict[str, list[float]] = {"a.example": [], "b.example": []}

    def record(request: httpx.Request) -> httpx.Response:
        seen[request.url.host].append(fake_time.now)
        return httpx.Response(404 if request.url.path == "/robots.txt" else 200, content=b"x")

    respx_mock.route(host="a.example").mock(side_effect=record)
    respx_mock.route(host="b.example").mock(side_effect=record)
    async with make_client(http) as client:
        fetcher = Fetcher(client, http, sleep=fake_time.sleep, clock=fake_time.clock)
        for path in ("a.example/1", "b.example/1", "a.example/2", "a.example/3"):
            await fetcher.get(f"https://{path}")
    assert len(seen["a.example"]) == 3 and len(seen["b.example"]) == 1
    for times in seen.values():
        gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
        assert all(2.0 <= gap <= 2.2 for gap in gaps), gaps  # delay plus at most 10% jitter


async def test_crawl_delay_raises_a_hosts_delay(
    respx_mock: respx.MockRouter, fake_time: FakeTime
) -> None:
    http = HttpSettings(host_delay=Duration(1), retries=0)
    respx_mock.get(url__startswith="https://a.example/").respond(200)
    async with make_client(http) as client:
        fetcher = Fetcher(client, replace(http), sleep=fake_time.sleep, clock=fake_time.clock)
        fetcher.set_host_delay("https://a.example/", 10)
        await fetcher.get("https://a.example/1")
        await fetcher.get("https://a.example/2")
    assert 10 <= fake_time.sleeps[0] <= 11


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("120", 120.0),
        ("1.5", 1.5),
        ("Wed, 21 Oct 2026 07:28:00 GMT", 60.0),
        ("-3", None),
        ("garbage", None),
        (None, None),
    ],
)
def test_parse_retry_after(value: str | None, seconds: float | None) -> None:
    now = 1792567620.0  # 2026-10-21T07:27:00Z
    assert parse_retry_after(value, now=now) == seconds


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/feed", "http://10.0.0.5/x", "http://192.168.1.1/", "http://[::1]/x",
        "http://169.254.169.254/latest/meta-data/", "http://localhost:8080/", "http://intranet.localhost/",
    ],
)  # fmt: skip
async def test_private_addresses_are_refused_unless_allowed(
    respx_mock: respx.MockRouter, fetcher: Fetcher, url: str
) -> None:
    route = respx_mock.get(url).respond(200, content=b"ok")
    with pytest.raises(FetchError) as caught:
        await fetcher.get(url)
    assert caught.value.reason == "private" and not route.called
    assert (await fetcher.get(url, allow_private=True)).content == b"ok"


async def test_a_redirect_to_a_private_address_is_refused(
    respx_mock: respx.MockRouter, fetcher: Fetcher
) -> None:
    respx_mock.get(URL).respond(302, headers={"Location": "http://127.0.0.1:8080/admin"})
    with pytest.raises(FetchError) as caught:
        await fetcher.get(URL)
    assert caught.value.reason == "private"


@pytest.mark.parametrize(
    "url", ["ftp://news.example/a", "file:///etc/passwd", "javascript:alert(1)"]
)
async def test_only_http_and_https(fetcher: Fetcher, url: str) -> None:
    with pytest.raises(FetchError) as caught:
        await fetcher.get(url)
    assert caught.value.reason == "bad_url"


async def test_robots_txt_is_obeyed_and_fetched_once(
    respx_mock: respx.MockRouter, fetcher: Fetcher
) -> None:
    robots = respx_mock.routes["robots"].respond(  # conftest's robots.txt route, re-pointed
        200, text="User-agent: *\nDisallow: /private/\n\nUser-agent: watcher\nDisallow: /members/\n"
    )
    respx_mock.get(url__startswith="https://news.example/").respond(200, content=b"ok")
    assert (
        await fetcher.get("https://news.example/private/page")
    ).content == b"ok"  # our group wins
    with pytest.raises(FetchError) as caught:
        await fetcher.get("https://news.example/members/page")
    assert caught.value.reason == "robots" and "robots.txt" in str(caught.value)
    await fetcher.get("https://news.example/other")
    assert robots.call_count == 1


@pytest.mark.parametrize(("status", "allowed"), [(404, True), (403, True), (500, False)])
async def test_unreadable_robots_txt_follows_rfc_9309(
    respx_mock: respx.MockRouter, fetcher: Fetcher, status: int, allowed: bool
) -> None:
    respx_mock.routes["robots"].respond(status)
    respx_mock.get(URL).respond(200, content=b"ok")
    if allowed:
        assert (await fetcher.get(URL)).content == b"ok"
    else:
        with pytest.raises(FetchError, match=r"robots\.txt answered 500"):
            await fetcher.get(URL)


async def test_an_unreachable_robots_txt_says_why(
    respx_mock: respx.MockRouter, fetcher: Fetcher
) -> None:
    """A refused connection or a mistyped host name fails robots.txt first: the error
    must say so, not only "robots.txt unreachable"."""
    respx_mock.routes["robots"].mock(side_effect=httpx.ConnectError("Name or service not known"))
    with pytest.raises(FetchError) as caught:
        await fetcher.get(URL)
    assert caught.value.reason == "robots_unavailable"
    assert str(caught.value).startswith(
        "robots.txt unreachable (cannot connect: Name or service not known): "
        "nothing is fetched from this site until it answers"
    )


async def test_crawl_delay_from_robots_txt_spaces_requests(
    respx_mock: respx.MockRouter, fake_time: FakeTime
) -> None:
    http = HttpSettings(host_delay=Duration(1), retries=0)
    respx_mock.routes["robots"].respond(200, text="User-agent: *\nCrawl-delay: 7\n")
    respx_mock.get(url__startswith="https://slow.example/a").respond(200)
    async with make_client(http) as client:
        fetcher = Fetcher(client, http, sleep=fake_time.sleep, clock=fake_time.clock)
        await fetcher.get("https://slow.example/a1")
        await fetcher.get("https://slow.example/a2")
    assert 7.0 <= fake_time.sleeps[-1] <= 7.7


async def test_connections_are_reused_across_many_hosts_and_304s() -> None:
    """Polls go round the hosts (100: more than one shared pool of 2 x concurrency held);
    each host's connection must still be there for its next request, and a 304 (whose
    empty body nobody reads) must not close it."""
    sites = KeepAliveSites()
    urls = [f"{base}/a" for base in await sites.start(100)]
    http = HttpSettings(host_delay=Duration(0), retries=0)
    try:
        async with make_client(http) as client:
            fetcher = Fetcher(client, http)
            for round_ in range(3):
                for url in urls:
                    page = await fetcher.get(
                        url, etag='"v1"' if round_ else None, allow_private=True
                    )
                    assert page.status == (304 if round_ else 200)
    finally:
        sites.stop()
    # One per host: robots.txt, then three polls of the page, on the same connection.
    assert sites.opened == len(urls)


async def test_robots_answers_outlive_the_fetcher_until_they_expire(
    respx_mock: respx.MockRouter, tmp_path: Path, fake_time: FakeTime
) -> None:
    """A ``watcher once`` from cron (a new Fetcher each run) reuses the stored answer
    for a day, then asks again; an unreadable robots.txt is kept five minutes only."""
    robots = respx_mock.routes["robots"].respond(200, text="User-agent: *\nDisallow: /private/\n")
    respx_mock.get(url__startswith="https://news.example/").respond(200, content=b"ok")
    http = HttpSettings(host_delay=Duration(0), retries=0)
    store = Store.open(tmp_path / "state")
    now = [datetime(2026, 11, 24, 8, 0, tzinfo=UTC)]

    async def run(url: str) -> None:
        async with make_client(http) as client:
            fetcher = Fetcher(
                client, http, sleep=fake_time.sleep, robots_store=store, now=lambda: now[0]
            )
            await fetcher.get(url)

    try:
        await run("https://news.example/a")
        now[0] += timedelta(hours=23)
        await run("https://news.example/b")
        assert robots.call_count == 1
        with pytest.raises(FetchError):  # the stored rules are obeyed
            await run("https://news.example/private/c")
        now[0] += timedelta(hours=2)
        await run("https://news.example/d")
        assert robots.call_count == 2

        robots.respond(503)
        now[0] += timedelta(days=2)
        with pytest.raises(FetchError):
            await run("https://news.example/e")
        now[0] += timedelta(minutes=4)
        with pytest.raises(FetchError):
            await run("https://news.example/f")
        assert robots.call_count == 3
        robots.respond(404)
        now[0] += timedelta(minutes=2)
        await run("https://news.example/g")
        assert robots.call_count == 4

        # No answer at all: the next run, reading the stored answer, still says why.
        robots.mock(side_effect=httpx.ConnectError("All connection attempts failed"))
        now[0] += timedelta(days=2)
        for page in ("h", "i"):
            with pytest.raises(FetchError) as caught:
                await run(f"https://news.example/{page}")
            assert "robots.txt unreachable (cannot connect: All connection attempts failed)" in (
                str(caught.value)
            )
        assert robots.call_count == 5
    finally:
        store.close()


async def test_hosts_not_seen_for_a_while_are_forgotten(
    respx_mock: respx.MockRouter, fake_time: FakeTime
) -> None:
    """A daemon meets ever new hosts (feeds link to other sites): what it keeps per host
    (politeness, robots.txt rules) goes once unused and expired; a host whose rules are
    still kept stays, with its Crawl-delay."""
    respx_mock.get(url__regex=r"https://[a-z]+\.example/a").respond(200, content=b"ok")
    respx_mock.routes["robots"].side_effect = lambda request: (  # conftest's route
        httpx.Response(200, text="User-agent: *\nCrawl-delay: 7\n")
        if request.url.host == "slow.example"
        else httpx.Response(404)
    )
    http = HttpSettings(host_delay=Duration(0), retries=0)
    async with make_client(http) as client:
        fetcher = Fetcher(client, http, sleep=fake_time.sleep, clock=fake_time.clock)
        for name in ("one", "two", "three", "slow"):
            await fetcher.get(f"https://{name}.example/a")
        assert len(fetcher._hosts) == 4 and fetcher._hosts["slow.example"].delay == 7
        fake_time.now += 2 * 3600  # two hours: robots.txt rules (a day) still kept
        await fetcher.get("https://one.example/a")
        assert len(fetcher._hosts) == 4
        fake_time.now += 2 * 86400  # two days: every rule expired
        await fetcher.get("https://one.example/a")
        assert set(fetcher._hosts) == {"one.example"}
        assert set(fetcher._robots) == {"https://one.example"}
        await fetcher.get("https://slow.example/a")  # asks robots.txt again: Crawl-delay back
        assert fetcher._hosts["slow.example"].delay == 7
