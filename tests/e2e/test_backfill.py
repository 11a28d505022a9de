"""End to end: `watcher backfill` in a subprocess over a simulated site's sitemaps and
archive pages, interrupted with Ctrl-C and resumed; then the archive commands
(articles, search, show, export, stats) read what it stored."""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.sim import (
    SimArticle,
    SimSite,
    WebhookReceiver,
    history_articles,
    serve_receiver,
    serve_site,
)

NOW = datetime.now(UTC).replace(microsecond=0)


class Archive:
    def __init__(self, tmp_path: Path, sites: list[SimSite], hook_url: str) -> None:
        self.sites = sites
        self.config = tmp_path / "sources.yaml"
        self.state = tmp_path / "state"
        a, b = sites
        self.config.write_text(
            f"""
settings:
  http: {{host_delay: 40ms, retries: 0, timeout: 5s}}
vendors:
  - {{name: Oracle Health, aliases: [Cerner]}}
  - {{name: Dedalus}}
  - {{name: Epic Systems, aliases: [Epic]}}
sources:
  - id: maps
    name: Sitemaps
    url: {a.base}/feed.xml
    language: fr
    allow_private: true
    history: {{kind: sitemap, url: '{a.base}/sitemap.xml'}}
  - id: pages
    name: Pages
    kind: listing
    url: {b.base}/news
    language: fr
    allow_private: true
sinks:
  - {{id: hook, kind: webhook, url: '{hook_url}'}}
""",
            encoding="utf-8",
        )
        self.env = {**os.environ, "WATCHER_LOG_FORMAT": "json", "COLUMNS": "200"}

    def args(self, *command: str) -> list[str]:
        return [sys.executable, "-m", "watcher", "--config", str(self.config),
                "--state", str(self.state), *command]  # fmt: skip

    def run(self, *command: str, code: int = 0) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            self.args(*command), env=self.env, capture_output=True, text=True, timeout=120
        )
        assert result.returncode == code, result.stderr[-3000:]
        return result


def articles_for(seed: int, count: int) -> list[SimArticle]:
    return history_articles(count, newest=NOW - timedelta(hours=2), every=1.5, seed=seed)


@pytest.fixture
def archive(tmp_path: Path) -> Iterator[Archive]:
    a, b, hook = SimSite(feed_size=5), SimSite(page_size=8), WebhookReceiver()
    for site, seed in ((a, 1), (b, 2)):
        for article in reversed(articles_for(seed, 60)):
            site.add(article)
    with serve_site(a), serve_site(b), serve_receiver(hook) as hook_url:
        yield Archive(tmp_path, [a, b], hook_url)
        assert hook.received == [], "a backfill without --notify announced something"


def article_paths(site: SimSite) -> list[str]:
    return [path for path, _ in site.requests if path.startswith("/articles/")]


def expected(site: SimSite, since: datetime) -> set[str]:
    return {
        f"{site.base}/articles/{a.slug}" for a in site.articles.values() if a.published >= since
    }


@pytest.mark.timeout(180)
def test_backfill_interrupted_and_resumed_then_searched_and_exported(archive: Archive) -> None:
    a, b = archive.sites
    since = (NOW - timedelta(days=60)).date().isoformat()
    start = datetime.fromisoformat(since).replace(tzinfo=UTC)

    # A dry run walks the indexes only.
    dry = archive.run("backfill", "--since", since, "--dry-run")
    assert article_paths(a) == article_paths(b) == []
    assert "to fetch" in dry.stdout

    # Ctrl-C once 15 articles have been read: the pages being read finish, the
    # checkpoint is saved, exit code 130.
    process = subprocess.Popen(
        archive.args("backfill", "--since", since), env=archive.env,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert a.wait_for_hit(
            lambda hits: sum(h.path.startswith("/articles/") for h in hits) >= 15, timeout=60
        )
        process.send_signal(signal.SIGINT)
        _out, err = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 130, err[-2000:]
    assert "run the same command again to resume" in err
    first_a = len(article_paths(a))
    assert first_a < len(expected(a, start)), "interrupted too late to test resuming"

    # The same command resumes: nothing fetched twice, everything in the window stored.
    resumed = archive.run("backfill", "--since", since)
    assert "(resumed)" in resumed.stdout
    for site in (a, b):
        paths = article_paths(site)
        assert len(paths) == len(set(paths)), "an article page was fetched twice"
    listed = archive.run("articles", "--limit", "0", "--json")
    stored = [json.loads(line) for line in listed.stdout.splitlines()]
    assert {r["url"] for r in stored} == expected(a, start) | expected(b, start)
    assert all(r["backfilled"] for r in stored)
    dates = [r["published_at"] for r in stored]
    assert dates == sorted(dates, reverse=True)

    # Silence: nothing waits in the outbox (and the receiver got nothing: see fixture).
    assert archive.run("outbox", "--json").stdout == ""

    # Search: accents folded, ranked, highlighted.
    found = archive.run("search", "cybersecurite", "--json", "--limit", "100")
    hits = [json.loads(line) for line in found.stdout.splitlines()]
    with_topic = [r for r in stored if "cybersécurité" in r["title"]]
    assert hits and len(hits) == len(with_topic)
    assert all("**cybersécurité**" in h["title"] for h in hits)
    assert archive.run("search", "zzzunknownword").stderr.strip() == "no match"

    # Export: every stored article, as CSV and as JSON lines, filtered by vendor alias.
    exported = archive.run("export", "--format", "csv", "--no-text")
    rows = list(csv.DictReader(io.StringIO(exported.stdout)))
    assert {r["url"] for r in rows} == {r["url"] for r in stored}
    cerner = archive.run("export", "--vendor", "cerner")
    records = [json.loads(line) for line in cerner.stdout.splitlines()]
    assert records and all(r["vendors"] == ["Oracle Health"] for r in records)
    assert all("Cerner" in r["text"] for r in records)
    assert len(records) == sum("Oracle Health" in r["vendors"] for r in stored)

    # Stats: the same count, by month.
    stats = archive.run("stats", "--json", "--since", since)
    per_month = [json.loads(line) for line in stats.stdout.splitlines()]
    assert sum(m["articles"] for m in per_month if m["vendor"] == "Oracle Health") == len(records)

    # Show: one article's record.
    shown = archive.run("show", records[0]["url"])
    assert records[0]["title"] in shown.stdout and "(backfill)" in shown.stdout
    assert "Oracle Health (Cerner)" in shown.stdout

    # The daemon's first pass afterwards announces none of this history.
    archive.run("once")
