"""Small builders for test data (events, articles) shared by several test modules."""

from __future__ import annotations

from datetime import UTC, datetime

from watcher.models import Change, Event, EventArticle, LinkedReport, VendorMatch

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


def make_event(
    *,
    event_id: str = "evt_test1",
    event_type: str = "article.new",
    title: str = "Cerner suspends design work",
    text: str = "Cerner has suspended design work on the Millennium platform.",
    vendors: tuple[VendorMatch, ...] | None = None,
    change: Change | None = None,
    also_seen_at: tuple[str, ...] = (),
    linked: tuple[LinkedReport, ...] = (),
    created_at: datetime = NOW,
) -> Event:
    if vendors is None:
        vendors = (
            VendorMatch(
                name="Oracle Health",
                matched=("Cerner", "Millennium"),
                snippets=("Cerner has suspended design work on the Millennium platform.",),
            ),
        )
    return Event(
        id=event_id,
        type=event_type,  # type: ignore[arg-type]
        created_at=created_at,
        source_id="digitalhealth",
        source_name="Digital Health",
        article=EventArticle(
            url="https://www.digitalhealth.net/2007/09/cerner-suspends/",
            title=title,
            text=text,
            version=1 if change is None else change.from_version + 1,
            published_at=datetime(2007, 9, 6, tzinfo=UTC),
            language="en",
        ),
        vendors=vendors,
        change=change,
        also_seen_at=also_seen_at,
        linked=linked,
    )
