"""`watcher backfill` and `watcher run` at the same time on one state directory: the
database stays consistent, every article is stored once, and the daemon's new articles
are announced once each, by the daemon."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.timeout(180)
def test_backfill_next_to_the_daemon(tmp_path: Path) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    site, hook = SimSite(feed_size=8), WebhookReceiver()
    for article in reversed(history_articles(80, newest=now - timedelta(days=1), seed=7)):
        site.add(article)
    with serve_site(site) as base, serve_receiver(hook) as hook_url:
        config = tmp_path / "sources.yaml"
        config.write_text(
            f"""
settings:
  http: {{host_delay: 0s, retries: 0, timeout: 5s}}
  delivery: {{backoff: 0s, interval: 100ms}}
vendors:
  - {{name: Oracle Health, aliases: [Cerner]}}
  - {{name: Dedalus}}
sources:
  - id: sim
    url: {base}/feed.xml
    language: fr
    interval: 1h
    recheck_every: 0s
    allow_private: true
    history: {{kind: sitemap, url: '{base}/sitemap.xml'}}
sinks:
  - {{id: hook, kind: webhook, url: '{hook_url}'}}
""",
            encoding="utf-8",
        )
        state = tmp_path / "state"
        env = {**os.environ, "WATCHER_LOG_FORMAT": "json"}

        def cli(*args: str) -> list[str]:
            return [sys.executable, "-m", "watcher", "--config", str(config),
                    "--state", str(state), *args]  # fmt: skip

        baseline = subprocess.run(cli("once"), env=env, capture_output=True, text=True, timeout=60)
        assert baseline.returncode == 0, baseline.stderr
        fresh = [
            site.add(
                SimArticle(
                    f"nouveau-contrat-cerner-{i}",
                    f"Nouveau contrat Cerner numéro {i}",
                    [f"Le GHT numéro {i} signe avec Cerner pour {i + 3} millions d'euros."],
                    published=datetime.now(UTC),  # after the daemon's baseline
                )
            )
            for i in range(3)
        ]
        daemon = subprocess.Popen(
            cli("run", "--http-port", str(free_port())), env=env,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        try:
            imported = subprocess.run(
                cli("backfill", "--since", "90d"), env=env, capture_output=True, text=True,
                timeout=120,
            )  # fmt: skip
            assert imported.returncode == 0, imported.stderr[-2000:]
            assert hook.wait_until(lambda got: len(got) >= 3, timeout=60)
        finally:
            daemon.send_signal(signal.SIGTERM)
            daemon.communicate(timeout=60)
        assert daemon.returncode == 0

    announced = sorted(r.json["data"]["article"]["url"] for r in hook.received)
    assert announced == sorted(f"{base}/articles/{a.slug}" for a in fresh)
    db = sqlite3.connect(state / "watcher.db")
    try:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        urls = [row[0] for row in db.execute("SELECT url FROM articles WHERE version > 0")]
        assert len(urls) == len(set(urls)) == len(site.articles)
        assert db.execute(
            "SELECT COUNT(*) FROM (SELECT article_id, number FROM versions "
            "GROUP BY article_id, number HAVING COUNT(*) > 1)"
        ).fetchone() == (0,)
        backfilled = {row[0] for row in db.execute("SELECT url FROM articles WHERE backfilled = 1")}
        assert not backfilled & set(announced)
    finally:
        db.close()
