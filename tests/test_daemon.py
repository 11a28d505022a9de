"""The daemon's own schedule, in process: a real Watcher.run() with no endpoints."""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path

import pytest

from watcher import config, daemon
from watcher.config import RetentionSettings
from watcher.daemon import Watcher
from watcher.errors import WatcherError
from watcher.store import PruneReport, Store

CONFIG = """
settings:
  retention: {versions: 2, every: 200ms}
sinks:
  - id: log
    kind: log
"""


async def test_retention_runs_every_settings_retention_every(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "sources.yaml"
    path.write_text(CONFIG)
    passes: list[RetentionSettings] = []
    three = asyncio.Event()

    async def prune(store: Store, retention: RetentionSettings, now: datetime) -> PruneReport:
        passes.append(retention)
        if len(passes) >= 3:
            three.set()
        return PruneReport(versions=0, events=0)

    monkeypatch.setattr(daemon, "prune_in_batches", prune)
    stop = asyncio.Event()
    async with Watcher(config.load(path), tmp_path / "state") as watcher:
        task = asyncio.create_task(watcher.run(stop, http=None))
        try:
            # The first pass comes after ``every`` (not 10 minutes) when ``every`` is shorter.
            await asyncio.wait_for(three.wait(), timeout=5)
        finally:
            stop.set()
            await task
    assert {r.versions for r in passes} == {2}


async def test_a_reload_reschedules_retention(tmp_path: Path) -> None:
    path = tmp_path / "sources.yaml"
    path.write_text(CONFIG.replace("every: 200ms", "every: 1d"))
    stop = asyncio.Event()
    async with Watcher(config.load(path), tmp_path / "state") as watcher:
        task = asyncio.create_task(watcher.run(stop, http=None))
        await watcher.running.wait()
        try:
            scheduler = watcher._scheduler
            assert scheduler is not None
            assert scheduler.get_job("retention").trigger.interval.total_seconds() == 86400
            path.write_text(CONFIG.replace("every: 200ms", "every: 6h"))
            assert await watcher.reload()
            assert scheduler.get_job("retention").trigger.interval.total_seconds() == 6 * 3600
        finally:
            stop.set()
            await task


async def test_a_taken_port_stops_the_start_before_any_poll(tmp_path: Path) -> None:
    """Another process on the endpoints' port: the daemon says so and does not start
    (a daemon running blind would fail Docker's health check with no reason given)."""
    path = tmp_path / "sources.yaml"
    path.write_text(
        CONFIG + "sources:\n  - {id: a, kind: feed, url: 'http://127.0.0.1:9/feed.xml'}\n"
    )
    holder = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = holder.sockets[0].getsockname()[1]
    try:
        async with Watcher(config.load(path), tmp_path / "state") as watcher:
            with pytest.raises(WatcherError) as caught:
                await watcher.run(asyncio.Event(), http=("127.0.0.1", port))
            assert watcher.polls_done == 0 and not watcher.running.is_set()
    finally:
        holder.close()
    message = str(caught.value)
    assert f"on 127.0.0.1:{port} (Address already in use): choose another port" in message
    assert "service.port" in message and "--http-port" in message
