"""Sample events for ``watcher notify-test``: realistic, clearly marked as tests, and
each with a fresh id so a receiver that de-duplicates still shows every test."""

from __future__ import annotations

import secrets
from datetime import timedelta

from watcher.config import VendorConfig
from watcher.models import (
    Change,
    Digest,
    Event,
    EventArticle,
    EventType,
    SourceHealth,
    VendorMatch,
    utcnow,
)

SAMPLE_TYPES: tuple[EventType, ...] = (
    "article.new",
    "article.updated",
    "source.unhealthy",
    "source.recovered",
)


def sample_event(event_type: EventType, vendors: tuple[VendorConfig, ...]) -> Event:
    """An event of ``event_type`` as watcher would send it, about the first watched
    vendor (or a made-up one), marked "[test]" in its title."""
    now = utcnow()
    vendor = vendors[0].name if vendors else "Example Vendor"
    common = {
        "id": f"evt_test_{secrets.token_hex(8)}",
        "type": event_type,
        "created_at": now,
        "source_id": "watcher-test",
        "source_name": "watcher (test notification)",
    }
    if event_type in ("source.unhealthy", "source.recovered"):
        unhealthy = event_type == "source.unhealthy"
        health = SourceHealth(
            state="failing" if unhealthy else "ok",
            failures=5 if unhealthy else 0,
            failing_since=now - timedelta(hours=3) if unhealthy else None,
            last_error="HTTP 503 (a sample error)" if unhealthy else None,
            next_poll_at=now + timedelta(hours=1) if unhealthy else None,
        )
        return Event(**common, health=health)  # type: ignore[arg-type]
    sentence = f"The regional hospital group has chosen {vendor} for its new patient record."
    before = f"The contract is worth €1.5 million over five years, {vendor} said."
    after = f"The contract is worth €2.5 million over five years, {vendor} said."
    updated = event_type == "article.updated"
    text = f"{sentence}\n\n{after if updated else before}"
    change = (
        Change(
            from_version=1,
            added=(after,),
            removed=(before,),
            diff=f"--- v1\n+++ v2\n@@ -3 +3 @@\n-{before}\n+{after}\n",
            classes=("correction",),
            replaced=((before, after),),
        )
        if updated
        else None
    )
    return Event(
        **common,  # type: ignore[arg-type]
        article=EventArticle(
            url="https://example.org/watcher-test-notification",
            title=f"[test] Hospital group picks {vendor}",
            text=text,
            version=2 if updated else 1,
            published_at=now,
            language="en",
        ),
        vendors=(VendorMatch(name=vendor, matched=(vendor,), snippets=(sentence,)),),
        change=change,
    )


def sample_digest(vendors: tuple[VendorConfig, ...], every: str, timezone: str) -> Digest:
    events = (
        sample_event("article.new", vendors),
        sample_event("article.updated", vendors),
        sample_event("source.unhealthy", vendors),
    )
    return Digest(until=utcnow(), every=every, timezone=timezone, events=events)
