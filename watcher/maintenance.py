"""Keeping the database bounded: retention (run daily by the daemon, and by
``watcher vacuum``, which also gives the space back to the file system)."""

from __future__ import annotations

from datetime import datetime, timedelta

from watcher.config import RetentionSettings
from watcher.store import PruneReport, Store


def prune(
    store: Store, retention: RetentionSettings, now: datetime, *, dry_run: bool = False
) -> PruneReport:
    """Apply ``retention``: versions beyond the latest ``versions`` of each article or
    older than ``max_age`` (never an article's latest), delivered events older than
    ``events`` (never pending or dead ones)."""
    max_age = float(retention.max_age)
    events = float(retention.events)
    return store.prune(
        keep_versions=retention.versions,
        versions_before=now - timedelta(seconds=max_age) if max_age else None,
        events_before=now - timedelta(seconds=events) if events else None,
        dry_run=dry_run,
    )
