"""``kind: feed``: RSS 0.9x/2.0, RSS 1.0 (RDF) and Atom feeds."""

from __future__ import annotations

import calendar
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import urljoin

import feedparser
from selectolax.lexbor import LexborHTMLParser

from watcher.encoding import decode_html
from watcher.errors import ParseError
from watcher.models import Entry, Page, Poll
from watcher.sources import register
from watcher.sources.base import Fetch, HistoryPage, Window, archive_page
from watcher.urls import canonicalize

if TYPE_CHECKING:
    from watcher.config import SourceConfig

FEED_ACCEPT = (
    "application/rss+xml, application/atom+xml, application/rdf+xml;q=0.9, "
    "application/xml;q=0.8, text/xml;q=0.8, */*;q=0.5"
)
# Not errors: feedparser notes that a feed's declared encoding was overridden.
_BENIGN = ("CharacterEncodingOverride", "NonXMLContentType")


@register
class FeedSource:
    """An RSS or Atom feed. Each entry's page is fetched: summaries are not articles.

    ```yaml
    - id: dsih
      kind: feed
      url: https://www.dsih.fr/rss.php
      language: fr
      interval: 30m
    ```

    Malformed feeds are read as far as they go (and a warning is logged); a feed with
    no readable entry at all is a ``ParseError`` for this round.

    The url may also be a site's home page: the feed it announces with
    ``<link rel="alternate" type="application/rss+xml">`` is found and used from then on
    (``watcher check --discover`` shows which).

    ``watcher backfill`` follows the feed's archive links (RFC 5005 ``prev-archive``,
    or ``next`` in paged feeds), or the ``archive`` address pattern; most feeds hold
    only their latest items, so a source can also name a ``history:`` sitemap.
    """

    kind: ClassVar[str] = "feed"

    @dataclass(frozen=True)
    class Options:
        # For backfill, a paged feed's address with {n} for the page number (WordPress:
        # https://example.org/feed/?paged={n}); RFC 5005 archive links need nothing.
        archive: str | None = None

    def __init__(self, config: SourceConfig) -> None:
        self.config = config
        self.options: FeedSource.Options = config.options or FeedSource.Options()

    async def poll(
        self,
        fetch: Fetch,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        memo: str | None = None,
    ) -> Poll:
        url = memo or self.config.url  # memo: the feed discovered on the home page
        page = await self._get(fetch, url, etag, last_modified)
        if page.not_modified:
            return Poll((), not_modified=True, etag=etag, last_modified=last_modified, memo=memo)
        try:
            entries, warnings = parse_feed(
                page.content, url=page.url, content_type=page.content_type
            )
        except ParseError:
            found = discover_feed(page.content, page.url) if memo is None else None
            if found is None:
                raise
            page = await self._get(fetch, found, None, None)
            entries, warnings = parse_feed(
                page.content, url=page.url, content_type=page.content_type
            )
            warnings = (f"using the feed {found} announced by {url}", *warnings)
            memo = found
        return Poll(
            entries=entries[: self.config.max_articles],
            etag=page.etag,
            last_modified=page.last_modified,
            warnings=warnings,
            memo=memo,
        )

    async def _get(
        self, fetch: Fetch, url: str, etag: str | None, last_modified: str | None
    ) -> Page:
        return await fetch.get(
            url,
            etag=etag,
            last_modified=last_modified,
            accept=FEED_ACCEPT,
            allow_private=self.config.allow_private,
        )

    async def history(
        self, fetch: Fetch, window: Window, cursor: dict[str, Any] | None
    ) -> AsyncIterator[HistoryPage]:
        """The feed, then its older pages; the cursor is the next page to read."""
        url, number = (cursor["url"], int(cursor["n"])) if cursor else (self.config.url, 1)
        seen: set[str] = set()
        while url:
            seen.add(url)
            page = await archive_page(self._get(fetch, url, None, None), number)
            if page is None:
                return
            try:
                entries, _warnings = parse_feed(
                    page.content, url=page.url, content_type=page.content_type
                )
            except ParseError:
                found = discover_feed(page.content, page.url) if number == 1 else None
                if found is None or found in seen:
                    raise
                url = found  # a home page: read the feed it announces instead
                continue
            following = archive_link(page.content, page.url)
            if following is None and self.options.archive and entries:
                following = self.options.archive.format(n=number + 1)
            if following in seen:
                following = None
            number += 1
            yield HistoryPage(
                url=url,
                entries=tuple(e for e in entries if window.admits(_entry_date(e))),
                cursor={"url": following, "n": number} if following else None,
                dates=tuple(d for d in (_entry_date(e) for e in entries) if d is not None),
            )
            url = following or ""


def _entry_date(entry: Entry) -> datetime | None:
    return entry.published_at or entry.updated_at


def archive_link(content: bytes, url: str) -> str | None:
    """The next older page of a feed: RFC 5005's ``prev-archive`` link, or ``next``
    in a paged feed (Atom and RSS with ``atom:link``)."""
    parsed: Any = feedparser.parse(content, response_headers={"content-location": url})
    links = {link.get("rel"): link.get("href") for link in parsed.feed.get("links", [])}
    found = links.get("prev-archive") or links.get("next")
    return urljoin(url, found) if found else None


_FEED_TYPES = (
    "application/rss+xml",
    "application/atom+xml",
    "application/rdf+xml",
    "application/feed+json",
)


def discover_feed(content: bytes, url: str) -> str | None:
    """The feed an HTML page announces (``<link rel="alternate" type=...>``), preferring
    RSS/Atom, as an absolute URL; ``None`` if the page announces none."""
    if b"<" not in content[:4096]:
        return None
    tree = LexborHTMLParser(decode_html(content)[0])
    found: list[tuple[int, str]] = []
    for link in tree.css("link[rel][href]"):
        attrs = link.attributes
        rels = (attrs.get("rel") or "").lower().split()
        kind = (attrs.get("type") or "").lower().split(";")[0].strip()
        if "alternate" in rels and kind in _FEED_TYPES:
            found.append((_FEED_TYPES.index(kind), urljoin(url, (attrs.get("href") or "").strip())))
    found = [f for f in found if f[1].startswith(("http://", "https://"))]
    return min(found)[1] if found else None


def parse_feed(
    content: bytes, *, url: str, content_type: str | None = None
) -> tuple[tuple[Entry, ...], tuple[str, ...]]:
    """Entries of a feed document (pure). Raises ``ParseError`` when nothing is readable."""
    headers = {"content-location": url}
    if content_type:
        headers["content-type"] = content_type
    parsed: Any = feedparser.parse(content, response_headers=headers, sanitize_html=False)
    warnings: list[str] = []
    problem = parsed.get("bozo_exception") if parsed.get("bozo") else None
    if problem is not None and type(problem).__name__ not in _BENIGN:
        warnings.append(f"malformed feed: {_describe(problem)}")
    entries: list[Entry] = []
    seen: set[str] = set()
    for item in parsed.entries:
        link = _entry_link(item)
        if not link:
            continue
        canonical = canonicalize(link, base=url)
        if not canonical.startswith(("http://", "https://")) or canonical in seen:
            continue
        seen.add(canonical)
        entries.append(
            Entry(
                url=canonical,
                title=(item.get("title") or "").strip() or None,
                published_at=_moment(item.get("published_parsed")),
                # feedparser maps a missing "updated" to "published" with a deprecation
                # warning; ask the dict itself so a missing value stays missing.
                updated_at=_moment(dict.get(item, "updated_parsed")),
                guid=item.get("id") or None,
            )
        )
    if not entries and not parsed.get("version"):
        reason = _describe(problem) if problem is not None else "no feed elements found"
        raise ParseError(f"not a readable feed: {reason}")
    return tuple(entries), tuple(warnings)


def _entry_link(item: Any) -> str | None:
    # FeedBurner rewrites links through its own redirector and keeps the original here.
    for key in ("feedburner_origlink", "link"):
        value = item.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    guid = item.get("id")
    if isinstance(guid, str) and guid.startswith(("http://", "https://")):
        return guid
    return None


def _moment(value: time.struct_time | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(value), UTC)
    except (OverflowError, ValueError):
        return None


def _describe(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text[:200]
