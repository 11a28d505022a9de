"""Keeping the database bounded: retention (run daily by the daemon, and by
``watcher vacuum``, which also gives the space back to the file system)."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

from watcher.config import RetentionSettings
from watcher.store import PruneReport, Store


def _limits(retention: RetentionSettings, now: datetime) -> dict[str, Any]:
    max_age = float(retention.max_age)
    events = float(retention.events)
    return {
        "keep_versions": retention.versions,
        "versions_before": now - timedelta(seconds=max_age) if max_age else None,
        "events_before": now - timedelta(seconds=events) if events else None,
    }


def prune(
    store: Store, retention: RetentionSettings, now: datetime, *, dry_run: bool = False
) -> PruneReport:
    """Apply ``retention``: versions beyond the latest ``versions`` of each article or
    older than ``max_age`` (never an article's latest), delivered events older than
    ``events`` (never pending or dead ones)."""
    return store.prune(**_limits(retention, now), dry_run=dry_run)


async def prune_in_batches(
    store: Store, retention: RetentionSettings, now: datetime, *, size: int | None = None
) -> PruneReport:
    """:func:`prune`, one small transaction at a time, letting the event loop run
    between them: the daemon goes on polling, delivering and answering its endpoints
    while a large archive is pruned (a first pass can delete hundreds of thousands of
    rows, seconds of work in one transaction). ``size``: rows per transaction."""
    versions = events = 0
    for batch in store.prune_batches(**_limits(retention, now), size=size):
        versions += batch.versions
        events += batch.events
        await asyncio.sleep(0)
    return PruneReport(versions=versions, events=events)
