"""The daemon as a service: `watcher run` in a subprocess against real local servers,
driven by signals and `watcher reload`, watched through its JSON log and endpoints."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import textwrap
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.sim import Fault, SimArticle, SimSite, WebhookReceiver, serve_receiver, serve_site

CERNER = "Le CHU de {} a choisi Cerner pour remplacer son dossier patient informatisé."


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Daemon:
    """`watcher run` in a subprocess; its JSON log lines are collected as they come."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.process = subprocess.Popen(
            args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
        )
        self.lines: list[str] = []
        self.events: list[dict[str, Any]] = []
        self._changed = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            with self._changed:
                self.lines.append(line)
                with contextlib.suppress(json.JSONDecodeError):
                    self.events.append(json.loads(line))
                self._changed.notify_all()

    def wait_log(
        self, event: str, where: Callable[[dict[str, Any]], bool] = lambda e: True,
        timeout: float = 30,
    ) -> dict[str, Any]:  # fmt: skip
        """The first log event named ``event`` matching ``where`` (waits for it)."""

        def found() -> dict[str, Any] | None:
            return next((e for e in self.events if e.get("event") == event and where(e)), None)

        with self._changed:
            ok = self._changed.wait_for(
                lambda: found() is not None or self.process.poll() is not None, timeout=timeout
            )
            hit = found()
        assert ok and hit is not None, f"no {event} in the log:\n{''.join(self.lines[-30:])}"
        return hit

    def stop(self, timeout: float = 30) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=timeout)
        self._reader.join(timeout=5)
        if self.process.stderr is not None:
            self.process.stderr.close()
        return code


class Setup:
    def __init__(self, tmp_path: Path, hook_url: str, sites: dict[str, str]) -> None:
        self.tmp_path = tmp_path
        self.config = tmp_path / "sources.yaml"
        self.state = tmp_path / "state"
        self.hook_url = hook_url
        self.sites = sites
        self.port = free_port()
        self.env = {
            **os.environ, "HOOK_URL": hook_url + "/T0PS3CRET", "WATCHER_LOG_FORMAT": "json",
            "WATCHER_LOG_LEVEL": "debug",
        }  # fmt: skip

    def write(self, source_ids: list[str], extra: str = "") -> None:
        sources = "".join(
            f"  - id: {sid}\n    url: {self.sites[sid]}/feed.xml\n    language: fr\n"
            "    allow_private: true\n"
            for sid in source_ids
        )
        self.config.write_text(
            textwrap.dedent(
                """
                settings:
                  http: {host_delay: 0s, retries: 0, timeout: 20s, per_host: 8}
                  delivery: {backoff: 0s, interval: 100ms}
                defaults:
                  interval: 1h
                vendors:
                  - name: Oracle Health
                    aliases: [Cerner]
                """
            )
            + "sources:\n"
            + sources
            + "sinks:\n  - id: hook\n    kind: webhook\n    url: ${HOOK_URL}\n"
            + extra
        )

    def cli(self, *command: str) -> list[str]:
        return [
            sys.executable, "-m", "watcher", "--config", str(self.config),
            "--state", str(self.state), *command,
        ]  # fmt: skip

    def run(self, *extra: str) -> Daemon:
        return Daemon(self.cli("run", "--http-port", str(self.port), *extra), self.env)

    def once(self) -> None:
        result = subprocess.run(
            self.cli("once"), env=self.env, capture_output=True, text=True, timeout=60
        )
        assert result.returncode == 0, result.stderr


@pytest.fixture
def two_sites(tmp_path: Path) -> Iterator[tuple[Setup, SimSite, SimSite, WebhookReceiver]]:
    a, b, receiver = SimSite(title="A"), SimSite(title="B"), WebhookReceiver()
    with serve_site(a) as url_a, serve_site(b) as url_b, serve_receiver(receiver) as hook:
        yield Setup(tmp_path, hook, {"a": url_a, "b": url_b}), a, b, receiver


def test_sigterm_mid_poll_leaves_no_half_written_state(
    two_sites: tuple[Setup, SimSite, SimSite, WebhookReceiver],
) -> None:
    setup, site, _other, _receiver = two_sites
    setup.write(["a"])
    setup.once()  # the silent baseline
    for index in range(6):
        site.add(SimArticle(f"n{index}", f"Ville {index} choisit Cerner", [CERNER.format(index)]))
        if index >= 2:  # four pages that take far longer than the grace period
            site.faults[f"/articles/n{index}"] = Fault(delay=30)
    daemon = setup.run("--grace", "0.5")
    assert site.wait_for_hit(
        lambda hits: sum(h.path.startswith("/articles/n") for h in hits) >= 6, timeout=30
    ), "the daemon never fetched the article pages"
    code = daemon.stop()
    assert code == 0, "".join(daemon.lines[-20:])
    daemon.wait_log("daemon.polls_cancelled")
    daemon.wait_log("daemon.stopped")
    db = sqlite3.connect(setup.state / "watcher.db")
    try:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        # Every article's version number has its version row; nothing beyond it.
        orphans = db.execute(
            "SELECT a.url FROM articles a LEFT JOIN versions v "
            "ON v.article_id = a.id AND v.number = a.version "
            "WHERE a.version > 0 AND v.id IS NULL"
        ).fetchall()
        beyond = db.execute(
            "SELECT count(*) FROM versions v JOIN articles a ON a.id = v.article_id "
            "WHERE v.number > a.version"
        ).fetchone()[0]
        # Every stored new version of a Cerner article has its event, in the outbox.
        stored = db.execute(
            "SELECT count(*) FROM articles WHERE url LIKE '%/articles/n%' AND version > 0"
        ).fetchone()[0]
        queued = db.execute(
            "SELECT count(*) FROM events e JOIN outbox o ON o.event_id = e.id "
            "WHERE e.type = 'article.new'"
        ).fetchone()[0]
        dangling = db.execute(
            "SELECT count(*) FROM outbox o LEFT JOIN events e ON e.id = o.event_id "
            "WHERE e.id IS NULL"
        ).fetchone()[0]
    finally:
        db.close()
    assert orphans == [] and beyond == 0 and dangling == 0
    # The fast pages were stored (within the grace period) with their events; the slow
    # four were cancelled, leaving nothing behind.
    assert stored == queued and stored <= 2


def test_reload_applies_a_new_config_and_rejects_a_broken_one(
    two_sites: tuple[Setup, SimSite, SimSite, WebhookReceiver],
) -> None:
    setup, _site_a, site_b, _receiver = two_sites
    setup.write(["a"])
    daemon = setup.run()
    try:
        daemon.wait_log("source.polled", lambda e: e.get("source") == "a")
        second = subprocess.run(
            setup.cli("run"), env=setup.env, capture_output=True, text=True, timeout=30
        )
        assert second.returncode == 1 and "another watcher daemon" in second.stderr
        assert not site_b.hits

        setup.write(["a", "b"])
        reload = subprocess.run(
            setup.cli("reload"), env=setup.env, capture_output=True, text=True, timeout=30
        )
        assert reload.returncode == 0 and "asked the daemon" in reload.stdout
        applied = daemon.wait_log("config.reloaded")
        assert applied["added"] == ["b"] and applied["removed"] == []
        daemon.wait_log("source.polled", lambda e: e.get("source") == "b")

        setup.config.write_text(setup.config.read_text() + "  - id: broken\n    kind: nope\n")
        daemon.process.send_signal(signal.SIGHUP)  # the signal itself, as `docker kill -s HUP`
        rejected = daemon.wait_log("config.reload_rejected")
        assert 'unknown kind "nope"' in rejected["error"]
        status = httpx.get(f"http://127.0.0.1:{setup.port}/status", timeout=10).json()
        assert [s["id"] for s in status["sources"]] == ["a", "b"]  # the old config runs on
        assert daemon.process.poll() is None

        setup.write(["b"])
        daemon.process.send_signal(signal.SIGHUP)
        removed = daemon.wait_log("config.reloaded", lambda e: e.get("removed") == ["a"])
        assert removed["added"] == []
    finally:
        code = daemon.stop()
    assert code == 0


def test_no_secret_reaches_a_log_line(
    two_sites: tuple[Setup, SimSite, SimSite, WebhookReceiver],
) -> None:
    setup, site, _other, receiver = two_sites
    setup.write(["a"])
    setup.once()
    site.add(SimArticle("n1", "Rennes choisit Cerner", [CERNER.format("Rennes")]))
    receiver.status = 500  # failures get logged with their error
    daemon = setup.run()
    try:
        daemon.wait_log("event.retry")
    finally:
        daemon.stop()
    text = "".join(daemon.lines)
    assert "T0PS3CRET" not in text
    assert setup.hook_url not in text
