"""Records passed between pipeline stages.

Each stage takes and returns these plain, immutable values; none of them knows about
HTTP clients, SQL or Slack. Timestamps are timezone-aware UTC datetimes.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

EventType = Literal["article.new", "article.updated", "source.unhealthy", "source.recovered"]
ARTICLE_EVENTS = ("article.new", "article.updated")
HEALTH_EVENTS = ("source.unhealthy", "source.recovered")


def utcnow() -> datetime:
    """The current time, timezone-aware, in UTC (the only clock the core reads)."""
    return datetime.now(UTC)


def isoformat(moment: datetime | None) -> str | None:
    """``2026-11-23T10:00:00Z``: the one timestamp format of payloads and the database."""
    if moment is None:
        return None
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_isoformat(text: str | None) -> datetime | None:
    if not text:
        return None
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Entry:
    """One article a source discovered, with what the feed or listing said about it."""

    url: str
    title: str | None = None
    published_at: datetime | None = None
    updated_at: datetime | None = None
    guid: str | None = None


@dataclass(frozen=True, slots=True)
class Page:
    """The raw answer to one GET (after redirects). ``status`` 304 means "not modified"."""

    url: str
    requested_url: str
    status: int
    content: bytes
    content_type: str | None
    etag: str | None
    last_modified: str | None
    fetched_at: datetime

    @property
    def not_modified(self) -> bool:
        return self.status == 304


@dataclass(frozen=True, slots=True)
class Poll:
    """What one poll of a source's index (feed, listing, sitemap) produced."""

    entries: tuple[Entry, ...]
    not_modified: bool = False
    etag: str | None = None
    last_modified: str | None = None
    # Problems worth a log line that did not stop the poll (e.g. a malformed feed that
    # still yielded entries).
    warnings: tuple[str, ...] = ()
    # What the kind wants back at the next poll (the feed it discovered, ...).
    memo: str | None = None


@dataclass(frozen=True, slots=True)
class Removal:
    """A block the extractor dropped, and why (shown by ``watcher extract``)."""

    reason: str
    text: str


@dataclass(frozen=True, slots=True)
class Article:
    """The clean article the extractor found in a page."""

    url: str
    title: str
    paragraphs: tuple[str, ...]
    canonical_url: str | None = None
    published_at: datetime | None = None
    modified_at: datetime | None = None
    language: str | None = None
    author: str | None = None
    removed: tuple[Removal, ...] = ()

    @property
    def text(self) -> str:
        return "\n\n".join(self.paragraphs)

    @classmethod
    def refused(cls, url: str, why: str) -> Article:
        """A page not read at all (a PDF, hostile markup): no text, and the reason."""
        return cls(url=url, title="", paragraphs=(), removed=(Removal(f"{_REFUSED}{why}", ""),))

    @property
    def refusal(self) -> str | None:
        """Why the page was not read at all, if it was not (see :meth:`refused`)."""
        if self.paragraphs or not self.removed:
            return None
        reason = self.removed[0].reason
        return reason if reason.startswith(_REFUSED) else None


_REFUSED = "refused: "


@dataclass(frozen=True, slots=True)
class Version:
    """One stored state of an article's title and body."""

    article_id: int
    number: int
    title: str
    text: str
    content_hash: str
    fetched_at: datetime


@dataclass(frozen=True, slots=True)
class Change:
    """How a new version differs from an earlier one, in sentences and as a unified diff."""

    from_version: int
    added: tuple[str, ...]
    removed: tuple[str, ...]
    diff: str
    title_changed: bool = False
    # correction, addition, removal, retitle, rewrite, paywall (see diff.classify)
    classes: tuple[str, ...] = ()
    # Sentences edited in place, as (before, after): where the changed words are.
    replaced: tuple[tuple[str, str], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "from_version": self.from_version,
            "classes": list(self.classes),
            "added": list(self.added),
            "removed": list(self.removed),
            "replaced": [{"from": old, "to": new} for old, new in self.replaced],
            "diff": self.diff,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Change:
        return cls(
            from_version=int(data["from_version"]),
            added=tuple(data.get("added", ())),
            removed=tuple(data.get("removed", ())),
            diff=str(data.get("diff", "")),
            # Not a key of its own in the payload: "retitle" among the classes says it.
            title_changed="retitle" in data.get("classes", ()),
            classes=tuple(data.get("classes", ())),
            replaced=tuple((r["from"], r["to"]) for r in data.get("replaced", ())),
        )


@dataclass(frozen=True, slots=True)
class VendorMatch:
    """A watched vendor found in an article: the names that matched and where."""

    name: str
    matched: tuple[str, ...]
    snippets: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "matched": list(self.matched), "snippets": list(self.snippets)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> VendorMatch:
        return cls(
            name=str(data["name"]),
            matched=tuple(data.get("matched", ())),
            snippets=tuple(data.get("snippets", ())),
        )


@dataclass(frozen=True, slots=True)
class EventArticle:
    """The article as an event carries it."""

    url: str
    title: str
    text: str
    version: int
    published_at: datetime | None = None
    language: str | None = None


@dataclass(frozen=True, slots=True)
class LinkedReport:
    """The same story reported in another language, and what differs between the two
    (figures, dates, names present in one and not in the other)."""

    url: str
    title: str
    language: str | None
    source_id: str
    only_here: tuple[str, ...] = ()
    only_there: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "title": self.title,
            "language": self.language,
            "source_id": self.source_id,
            "only_here": list(self.only_here),
            "only_there": list(self.only_there),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LinkedReport:
        return cls(
            url=data["url"],
            title=data.get("title", ""),
            language=data.get("language"),
            source_id=data.get("source_id", ""),
            only_here=tuple(data.get("only_here", ())),
            only_there=tuple(data.get("only_there", ())),
        )


@dataclass(frozen=True, slots=True)
class SourceHealth:
    """How a source is doing, as health events carry it."""

    state: str
    failures: int
    failing_since: datetime | None = None
    last_error: str | None = None
    next_poll_at: datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "failures": self.failures,
            "failing_since": isoformat(self.failing_since),
            "last_error": self.last_error,
            "next_poll_at": isoformat(self.next_poll_at),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SourceHealth:
        return cls(
            state=data["state"],
            failures=int(data.get("failures", 0)),
            failing_since=parse_isoformat(data.get("failing_since")),
            last_error=data.get("last_error"),
            next_poll_at=parse_isoformat(data.get("next_poll_at")),
        )


@dataclass(frozen=True, slots=True)
class Event:
    """A notification: what happened to which article (or source), and why it matters.

    ``to_dict()`` is the webhook body documented in the README; the outbox stores exactly
    that JSON, so a resend after a crash is byte-for-byte the same event. Article events
    carry ``article``; source health events carry ``health`` instead.
    """

    id: str
    type: EventType
    created_at: datetime
    source_id: str
    source_name: str
    article: EventArticle | None = None
    health: SourceHealth | None = None
    vendors: tuple[VendorMatch, ...] = ()
    change: Change | None = None
    also_seen_at: tuple[str, ...] = field(default=())
    linked: tuple[LinkedReport, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        if self.article is None:
            return {
                "type": self.type,
                "timestamp": isoformat(self.created_at),
                "data": {
                    "event_id": self.id,
                    "source": {"id": self.source_id, "name": self.source_name},
                    "health": self.health.to_dict() if self.health else None,
                },
            }
        return {
            "type": self.type,
            "timestamp": isoformat(self.created_at),
            "data": {
                "event_id": self.id,
                "source": {"id": self.source_id, "name": self.source_name},
                "article": {
                    "url": self.article.url,
                    "title": self.article.title,
                    "published_at": isoformat(self.article.published_at),
                    "language": self.article.language,
                    "version": self.article.version,
                    "text": self.article.text,
                },
                "vendors": [v.to_dict() for v in self.vendors],
                "change": self.change.to_dict() if self.change else None,
                "also_seen_at": list(self.also_seen_at),
                "linked": [report.to_dict() for report in self.linked],
            },
        }

    @classmethod
    def from_dict(cls, body: dict[str, Any]) -> Event:
        data = body["data"]
        created = parse_isoformat(body["timestamp"])
        assert created is not None
        if "article" not in data:
            return cls(
                id=data["event_id"],
                type=body["type"],
                created_at=created,
                source_id=data["source"]["id"],
                source_name=data["source"]["name"],
                health=SourceHealth.from_dict(data["health"]) if data.get("health") else None,
            )
        article = data["article"]
        return cls(
            id=data["event_id"],
            type=body["type"],
            created_at=created,
            source_id=data["source"]["id"],
            source_name=data["source"]["name"],
            article=EventArticle(
                url=article["url"],
                title=article["title"],
                text=article["text"],
                version=int(article["version"]),
                published_at=parse_isoformat(article.get("published_at")),
                language=article.get("language"),
            ),
            vendors=tuple(VendorMatch.from_dict(v) for v in data.get("vendors", ())),
            change=Change.from_dict(data["change"]) if data.get("change") else None,
            also_seen_at=tuple(data.get("also_seen_at", ())),
            linked=tuple(LinkedReport.from_dict(r) for r in data.get("linked", ())),
        )


@dataclass(frozen=True, slots=True)
class Delivery:
    """One event due for one sink, as the outbox hands it to the delivery loop."""

    event: Event
    sink_id: str
    attempts: int


@dataclass(frozen=True, slots=True)
class Digest:
    """Events a digest sink sends together, at one of its scheduled times.

    Its id is derived from the events it holds, so a digest retried after a failure
    (or a crash) carries the same id and a receiver can de-duplicate it."""

    until: datetime  # the scheduled time: it holds the events created before
    every: str  # hourly | daily
    timezone: str
    events: tuple[Event, ...]

    @property
    def id(self) -> str:
        digest = hashlib.sha256("\x1f".join(sorted(e.id for e in self.events)).encode())
        return "dig_" + base64.b32encode(digest.digest()[:15]).decode("ascii").lower()

    def by_vendor(self) -> list[tuple[str, list[Event]]]:
        """Events grouped under each vendor they mention (an article naming two
        vendors is under both), vendors with the most events first; then articles
        with no vendor, then source health."""
        groups: dict[str, list[Event]] = {}
        for event in self.events:
            if event.article is None:
                groups.setdefault(SOURCES_GROUP, []).append(event)
            elif not event.vendors:
                groups.setdefault(OTHER_GROUP, []).append(event)
            for vendor in event.vendors:
                groups.setdefault(vendor.name, []).append(event)
        tail = (OTHER_GROUP, SOURCES_GROUP)
        named = sorted((g for g in groups if g not in tail), key=lambda g: (-len(groups[g]), g))
        return [(g, groups[g]) for g in (*named, *tail) if g in groups]

    def to_dict(self) -> dict[str, Any]:
        """The webhook body of a digest: the events' own bodies, in order."""
        return {
            "type": "digest",
            "timestamp": isoformat(self.until),
            "data": {
                "event_id": self.id,
                "every": self.every,
                "timezone": self.timezone,
                "until": isoformat(self.until),
                "count": len(self.events),
                "events": [event.to_dict() for event in self.events],
            },
        }


OTHER_GROUP = "Other articles"
SOURCES_GROUP = "Sources"
