"""Fault injection: a misbehaving site next to a healthy one, both real servers on
127.0.0.1, polled by a real :class:`~watcher.daemon.Watcher` (one per pass, as
``watcher once`` does).

Each fault asserts three things: the state recorded for the faulty source, that the
healthy source polled in the same pass lost nothing, and that once the fault is gone
the faulty source's articles are picked up.
"""

from __future__ import annotations

import gzip
import textwrap
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from itertools import pairwise
from pathlib import Path

import pytest

from tests.sim import Fault, SimArticle, SimSite, serve_site
from watcher import config
from watcher.daemon import RunReport, Watcher
from watcher.pipeline import SourceReport
from watcher.store import SourceState, Store

CERNER = "Le CHU de {city} a choisi Cerner pour remplacer son dossier patient informatisé."
FILLER = (
    "Le projet, présenté au conseil de surveillance, doit s'achever avant la fin de 2027 "
    "et concernera l'ensemble des services de l'établissement."
)


def _article(slug: str, city: str, day: int = 20) -> SimArticle:
    return SimArticle(
        slug,
        f"{city} choisit Cerner",
        [CERNER.format(city=city), FILLER],
        published=datetime(2026, 11, day, 9, 0, tzinfo=UTC),
    )


@dataclass
class Web:
    tmp_path: Path
    good: SimSite
    bad: SimSite
    http: dict[str, str] = field(
        default_factory=lambda: {
            "host_delay": "0s", "retries": "0", "timeout": "1s", "connect_timeout": "1s",
            "max_page_size": "2MB", "max_redirects": "4",
        }
    )  # fmt: skip

    def settings(self) -> config.Settings:
        path = self.tmp_path / "sources.yaml"
        http = ", ".join(f"{key}: {value}" for key, value in self.http.items())
        path.write_text(
            textwrap.dedent(
                f"""
                settings:
                  http: {{{http}}}
                  health: {{unhealthy_after: 2}}
                defaults:
                  interval: 1h
                vendors:
                  - name: Oracle Health
                    aliases: [Cerner]
                sources:
                  - id: good
                    url: {self.good.base}/feed.xml
                    language: fr
                    allow_private: true   # both sites are on 127.0.0.1
                  - id: bad
                    url: {self.bad.base}/feed.xml
                    language: fr
                    allow_private: true
                sinks:
                  - id: log
                    kind: log
                    events: [article.new, source.unhealthy, source.recovered]
                """
            )
        )
        return config.load(path)

    async def once(self, *, force: bool = True) -> dict[str, SourceReport]:
        """One pass over both sources. Forced by default: healing is tested right away
        rather than after the backoff a real daemon would wait."""
        async with Watcher(self.settings(), self.tmp_path / "state") as watcher:
            report: RunReport = await watcher.run_once(force=force)
        return {s.source_id: s for s in report.sources}

    def state(self, source_id: str) -> SourceState:
        store = Store.open(self.tmp_path / "state")
        try:
            found = store.source_state(source_id)
        finally:
            store.close()
        assert found is not None
        return found

    def urls(self, source_id: str) -> set[str]:
        store = Store.open(self.tmp_path / "state")
        try:
            rows = store.db.execute(
                "SELECT url FROM articles WHERE source_id = ? AND version > 0", [source_id]
            ).fetchall()
        finally:
            store.close()
        return {row[0].rsplit("/", 1)[-1] for row in rows}

    def age_robots(self, seconds: float) -> None:
        """Make the stored robots.txt answers ``seconds`` older (time passing)."""
        store = Store.open(self.tmp_path / "state")
        try:
            for origin, status, body, fetched_at in store.db.execute(
                "SELECT origin, status, body, fetched_at FROM robots"
            ).fetchall():
                moment = datetime.fromisoformat(fetched_at) - timedelta(seconds=seconds)
                store.save_robots_answer(origin, status, body, moment)
        finally:
            store.close()

    def events(self) -> list[tuple[str, str]]:
        store = Store.open(self.tmp_path / "state")
        try:
            rows = store.db.execute("SELECT type, payload FROM events ORDER BY rowid").fetchall()
        finally:
            store.close()
        return [(row[0], row[1]) for row in rows]


@pytest.fixture
def web(tmp_path: Path) -> Iterator[Web]:
    good, bad = SimSite(title="Good"), SimSite(title="Bad")
    with serve_site(good), serve_site(bad):
        yield Web(tmp_path, good, bad)


async def _baseline(web: Web) -> None:
    """Both sources known and healthy, one article each, before the fault."""
    web.good.add(_article("g0", "Brest", day=18))
    web.bad.add(_article("b0", "Lorient", day=18))
    reports = await web.once()
    assert reports["good"].ok and reports["bad"].ok
    assert web.urls("good") == {"g0"} and web.urls("bad") == {"b0"}


async def _fault_pass(web: Web, expected_state: str) -> SourceReport:
    """A pass while the bad site misbehaves: good's new article goes through."""
    web.good.add(_article("g1", "Rennes"))
    web.bad.add(_article("b1", "Nantes"))
    reports = await web.once()
    assert reports["good"].ok and reports["good"].count("new") == 1
    assert web.urls("good") == {"g0", "g1"}
    assert web.state("good").state == "ok"
    state = web.state("bad")
    assert state.state == expected_state, state
    return reports["bad"]


async def _heals(web: Web) -> None:
    """The fault is gone: the next pass picks up what the bad site published."""
    reports = await web.once()
    assert reports["bad"].ok, reports["bad"].error
    state = web.state("bad")
    assert (state.state, state.failures, state.failing_since, state.next_poll_at) == (
        "ok",
        0,
        None,
        None,
    )
    assert "b1" in web.urls("bad")


async def test_a_503_burst_backs_off_reports_unhealthy_and_recovers(web: Web) -> None:
    await _baseline(web)
    web.bad.faults["/feed.xml"] = Fault(status=503, times=2)
    report = await _fault_pass(web, "failing")
    assert "503" in (report.error or "")
    first = web.state("bad")
    assert first.failures == 1 and first.next_poll_at is not None
    # Without --force the backing-off source is not even asked.
    asked = len(web.bad.hits)
    skipped = await web.once(force=False)
    assert skipped["bad"].backing_off is not None and len(web.bad.hits) == asked
    await web.once()  # the burst's second 503: the second consecutive failure
    assert web.state("bad").failures == 2
    await _heals(web)
    types = [t for t, _ in web.events()]
    assert types.count("source.unhealthy") == 1 and types.count("source.recovered") == 1
    assert types.index("source.unhealthy") < types.index("source.recovered")


@pytest.mark.parametrize("form", ["seconds", "http-date"])
async def test_429_retry_after_is_honoured_in_both_forms(web: Web, form: str) -> None:
    await _baseline(web)
    later = datetime.now(UTC) + timedelta(hours=2)
    value = "7200" if form == "seconds" else format_datetime(later, usegmt=True)
    web.bad.faults["/feed.xml"] = Fault(status=429, headers={"Retry-After": value}, times=1)
    await _fault_pass(web, "rate_limited")
    state = web.state("bad")
    assert state.next_poll_at is not None
    # Not asked again before the server said so (minus the HTTP-date's second rounding).
    assert state.next_poll_at >= datetime.now(UTC) + timedelta(seconds=7200 - 120)
    assert len([h for h in web.bad.hits if h.path == "/feed.xml"]) == 2  # no inline retry
    await _heals(web)


async def test_a_server_slower_than_the_timeout_is_unreachable(web: Web) -> None:
    await _baseline(web)
    web.bad.faults["/feed.xml"] = Fault(delay=30, times=1)  # released when the test ends
    report = await _fault_pass(web, "unreachable")
    assert "timed out" in (report.error or "")
    await _heals(web)


async def test_a_truncated_feed_fails_the_round_and_a_truncated_page_only_its_entry(
    web: Web,
) -> None:
    await _baseline(web)
    web.bad.faults["/feed.xml"] = Fault(truncate=120, times=1)
    report = await _fault_pass(web, "failing")
    assert report.error
    web.bad.faults["/articles/b2"] = Fault(truncate=300, times=1)
    web.bad.add(_article("b2", "Vannes"))
    reports = await web.once()
    assert reports["bad"].ok and reports["bad"].count("failed") == 1
    assert web.urls("bad") == {"b0", "b1"}  # b2's page was cut off: nothing half-stored
    await _heals(web)
    assert "b2" in web.urls("bad")  # retried at the next pass


async def test_a_malformed_feed_is_reported_as_such(web: Web) -> None:
    await _baseline(web)
    web.bad.faults["/feed.xml"] = Fault(
        status=200,
        headers={"Content-Type": "application/rss+xml"},
        body=b"<html><body><h1>Maintenance</h1><p>Revenez plus tard",
        times=1,
    )
    report = await _fault_pass(web, "malformed")
    assert "feed" in (report.error or "")
    await _heals(web)


async def test_a_feed_with_a_broken_tail_still_yields_its_entries(web: Web) -> None:
    await _baseline(web)
    web.bad.add(_article("b1", "Nantes"))
    feed = web.bad.handle("/feed.xml", {}).body
    web.bad.faults["/feed.xml"] = Fault(
        status=200,
        headers={"Content-Type": "application/rss+xml"},
        body=feed.replace(b"</channel></rss>", b"<item><title>cut &amp"),
        times=1,
    )
    reports = await web.once()
    assert reports["bad"].ok and web.state("bad").state == "ok"
    assert "b1" in web.urls("bad")


def _megabytes(count: int) -> Iterator[bytes]:
    chunk = b"<p>" + b"x" * (1024 * 1024 - 7) + b"</p>\n"
    for _ in range(count):
        yield chunk


async def test_a_40_mb_page_is_cut_off_and_only_its_entry_fails(web: Web) -> None:
    await _baseline(web)
    web.bad.add(_article("b1", "Nantes"))
    web.bad.add(_article("huge", "Quimper"))
    web.bad.faults["/articles/huge"] = Fault(
        status=200, headers={"Content-Type": "text/html"}, stream=lambda: _megabytes(40), times=1
    )
    web.good.add(_article("g1", "Rennes"))
    reports = await web.once()
    assert reports["good"].ok and "g1" in web.urls("good")
    assert reports["bad"].ok and reports["bad"].count("failed") == 1
    assert web.urls("bad") == {"b0", "b1"}
    # The client hung up long before 40 MB: the server could not send it all.
    await _heals(web)
    assert "huge" in web.urls("bad")


async def test_a_40_mb_feed_is_too_large(web: Web) -> None:
    await _baseline(web)
    web.bad.faults["/feed.xml"] = Fault(
        status=200, headers={"Content-Type": "application/rss+xml"},
        stream=lambda: _megabytes(40), times=1,
    )  # fmt: skip
    report = await _fault_pass(web, "too_large")
    assert "2000000" in (report.error or "") or "2 MB" in (report.error or "")
    await _heals(web)


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
async def test_a_decompression_bomb_is_refused(web: Web, encoding: str) -> None:
    await _baseline(web)
    inflated = b"<html><body>" + b"\0" * (40 * 1024 * 1024)
    bomb = gzip.compress(inflated, 9) if encoding == "gzip" else zlib.compress(inflated, 9)
    assert len(bomb) < 1024 * 1024
    web.bad.faults["/feed.xml"] = Fault(
        status=200,
        headers={"Content-Type": "application/rss+xml", "Content-Encoding": encoding},
        body=bomb,
        times=1,
    )
    await _fault_pass(web, "too_large")
    await _heals(web)


async def test_a_redirect_loop_is_detected(web: Web) -> None:
    await _baseline(web)
    web.bad.faults["/feed.xml"] = Fault(status=302, headers={"Location": "/rss"}, times=1)
    web.bad.faults["/rss"] = Fault(status=301, headers={"Location": "/feed.xml"})
    report = await _fault_pass(web, "redirect_loop")
    assert "redirect" in (report.error or "")
    assert len([h for h in web.bad.hits if h.path in ("/feed.xml", "/rss")]) <= 5
    await _heals(web)


async def test_an_entry_that_404s_fails_alone_and_is_picked_up_when_it_appears(
    web: Web,
) -> None:
    await _baseline(web)
    web.bad.faults["/articles/b1"] = Fault(status=404, times=1)
    web.bad.add(_article("b1", "Nantes"))
    web.bad.add(_article("b2", "Vannes"))
    reports = await web.once()
    assert reports["bad"].ok and reports["bad"].count("failed") == 1
    assert web.state("bad").state == "ok"  # one dead link is not a broken source
    assert web.urls("bad") == {"b0", "b2"}
    await _heals(web)
    assert "b1" in web.urls("bad")


async def test_robots_disallow_is_a_state_not_an_error_loop(web: Web) -> None:
    await _baseline(web)
    web.bad.robots = "User-agent: *\nDisallow: /\n"
    before = len(web.bad.hits)
    await web.once()
    # The answer is kept a day, across runs: the changed file is not asked for yet.
    assert "/robots.txt" not in [h.path for h in web.bad.hits[before:]]
    web.age_robots(25 * 3600)
    before = len(web.bad.hits)
    report = await _fault_pass(web, "blocked_robots")
    assert "robots.txt" in (report.error or "")
    asked = [h.path for h in web.bad.hits[before:]]
    assert asked == ["/robots.txt"]  # the feed itself was never requested
    web.bad.robots = "User-agent: *\nDisallow: /private/\n"
    web.age_robots(25 * 3600)
    await _heals(web)


@pytest.mark.parametrize(
    ("declared", "body_encoding"),
    [("iso-8859-1", "utf-8"), ("utf-8", "cp1252")],
    ids=["utf8-declared-latin1", "cp1252-declared-utf8"],
)
async def test_a_wrong_charset_still_reads_right(
    web: Web, declared: str, body_encoding: str
) -> None:
    await _baseline(web)
    web.bad.add(_article("b1", "Nantes"))
    page = web.bad.handle("/articles/b1", {}).body.decode()
    page = page.replace('<meta charset="utf-8">', f'<meta charset="{declared}">')
    web.bad.faults["/articles/b1"] = Fault(
        status=200,
        headers={"Content-Type": f"text/html; charset={declared}"},
        body=page.encode(body_encoding),
    )
    reports = await web.once()
    assert reports["bad"].ok and reports["bad"].count("new") == 1
    store = Store.open(web.tmp_path / "state")
    try:
        text = store.db.execute(
            "SELECT text FROM latest_versions WHERE url LIKE '%/b1'"
        ).fetchone()[0]
    finally:
        store.close()
    assert "dossier patient informatisé" in text and "\ufffd" not in text
    assert "Ã" not in text


def _gaps(site: SimSite) -> list[float]:
    starts = sorted(h.started for h in site.hits)
    return [b - a for a, b in pairwise(starts)]


async def test_politeness_from_the_servers_request_log(web: Web) -> None:
    """Never two requests to one host closer than host_delay, even when the global
    bound is saturated; never more in flight per host than per_host."""
    for index in range(6):
        web.good.add(_article(f"g{index}", f"Ville {index}"))
        web.bad.add(_article(f"b{index}", f"Bourg {index}"))
    delay = 0.2
    web.http |= {"host_delay": f"{int(delay * 1000)}ms", "concurrency": "1", "per_host": "2"}
    reports = await web.once()
    assert reports["good"].ok and reports["bad"].ok
    for site in (web.good, web.bad):
        assert len(site.hits) >= 8  # robots.txt, the feed, six pages
        # The client spaces request starts by `delay`. The server notes a start when its
        # handler thread runs, which on a loaded machine can be late: that shortens one
        # gap and lengthens the one before by as much. So each two adjacent gaps together
        # must span two delays (a burst of two requests would not), and all of them the
        # whole run.
        gaps = _gaps(site)
        assert all(a + b >= 2 * delay * 0.9 for a, b in pairwise(gaps)), gaps
        assert sum(gaps) >= len(gaps) * delay * 0.95, gaps
        assert site.max_in_flight == 1  # concurrency 1: one request at a time overall


async def test_per_host_bound_from_the_servers_request_log(web: Web) -> None:
    for index in range(8):
        web.good.add(_article(f"g{index}", f"Ville {index}"))
        web.good.faults[f"/articles/g{index}"] = Fault(delay=0.3)
    web.http |= {"concurrency": "8", "per_host": "2"}
    reports = await web.once()
    assert reports["good"].ok and reports["good"].count("new") == 8
    assert web.good.max_in_flight == 2  # two at a time: the bound, and used
