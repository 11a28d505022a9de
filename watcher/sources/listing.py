"""``kind: listing``: an HTML page that lists articles, for sites without a feed."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import urljoin, urlsplit

from selectolax.lexbor import LexborHTMLParser, LexborNode

from watcher.dates import parse_date
from watcher.encoding import decode_html
from watcher.errors import ParseError
from watcher.models import Entry, Page, Poll
from watcher.sources import register
from watcher.sources.base import Fetch, HistoryPage, Window, archive_page
from watcher.urls import canonicalize

if TYPE_CHECKING:
    from watcher.config import SourceConfig

# Without a configured selector: links in headings or article teasers...
_GENERIC_LINKS = (
    "article a[href], h1 a[href], h2 a[href], h3 a[href], h4 a[href], [class*=title] a[href]"
)
# ...that look like an article: a path with a slug or an id, and some words to show.
_ARTICLE_PATH = re.compile(r"/[^/]*(?:\d{3,}|[a-z0-9]+(?:-[a-z0-9]+){2,})[^/]*/?$", re.IGNORECASE)
_NEXT = (
    'a[rel="next"], link[rel="next"], a.next, .pagination a.next, '
    'a[aria-label*="suivant" i], a[aria-label*="next" i]'
)


@register
class ListingSource:
    """A section front or news index: the article links on it are the entries.

    ```yaml
    - id: ticsante
      kind: listing
      url: https://www.ticsante.com/
      links: "h2.title a"        # CSS selector of article links (optional: a good guess)
      next: "a.next"             # optional: the "next page" link to follow
      pages: 1                   # listing pages read per poll
      archive: "https://www.ticsante.com/actualites?page={n}"  # optional, for backfill
    ```

    Only links to the listing's own site are kept (``same_site: false`` keeps all).
    ``watcher backfill`` follows the "next" links (``rel=next``, "suivant", the
    ``next`` selector) or, with ``archive``, pages 2, 3, ... of that address, until a
    whole page is older than the window. A teaser's ``<time datetime>`` dates its link.
    """

    kind: ClassVar[str] = "listing"

    @dataclass(frozen=True)
    class Options:
        links: str | None = None
        next: str | None = None
        pages: int = 1
        same_site: bool = True
        archive: str | None = None  # archive page address, with {n} for the page number

    def __init__(self, config: SourceConfig) -> None:
        self.config = config
        self.options: ListingSource.Options = config.options

    async def poll(
        self,
        fetch: Fetch,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        memo: str | None = None,
    ) -> Poll:
        first = await self._get(fetch, self.config.url, etag, last_modified)
        if first.not_modified:
            return Poll((), not_modified=True, etag=etag, last_modified=last_modified)
        entries, following = parse_listing(
            first.content,
            url=first.url,
            links=self.options.links,
            next_selector=self.options.next,
            same_site=self.options.same_site,
        )
        if not entries:
            raise ParseError("no article links found on the listing page (check 'links')")
        seen = {e.url for e in entries}
        for _ in range(max(self.options.pages, 1) - 1):
            if following is None:
                break
            page = await self._get(fetch, following, None, None)
            more, following = parse_listing(
                page.content,
                url=page.url,
                links=self.options.links,
                next_selector=self.options.next,
                same_site=self.options.same_site,
            )
            entries += [e for e in more if e.url not in seen]
            seen.update(e.url for e in more)
        return Poll(
            entries=tuple(entries[: self.config.max_articles]),
            etag=first.etag,
            last_modified=first.last_modified,
        )

    async def _get(
        self, fetch: Fetch, url: str, etag: str | None, last_modified: str | None
    ) -> Page:
        return await fetch.get(
            url, etag=etag, last_modified=last_modified, allow_private=self.config.allow_private
        )

    async def history(
        self, fetch: Fetch, window: Window, cursor: dict[str, Any] | None
    ) -> AsyncIterator[HistoryPage]:
        """The listing, then each older page; the cursor is the next page to read."""
        url, number = (cursor["url"], int(cursor["n"])) if cursor else (self.config.url, 1)
        seen: set[str] = set()
        while url:
            page = await archive_page(self._get(fetch, url, None, None), number)
            if page is None:
                return
            entries, following = parse_listing(
                page.content,
                url=page.url,
                links=self.options.links,
                next_selector=self.options.next,
                same_site=self.options.same_site,
            )
            fresh = [e for e in entries if e.url not in seen]
            seen.update(e.url for e in entries)
            if self.options.archive:
                following = self.options.archive.format(n=number + 1) if fresh else None
            elif not fresh:
                following = None  # a "next" link that leads back to what we saw: the end
            number += 1
            yield HistoryPage(
                url=url,
                entries=tuple(e for e in fresh if window.admits(e.published_at)),
                cursor={"url": following, "n": number} if following else None,
                dates=tuple(e.published_at for e in fresh if e.published_at is not None),
            )
            url = following or ""


def _site(url: str) -> str:
    return (urlsplit(url).hostname or "").removeprefix("www.")


def parse_listing(
    content: bytes,
    *,
    url: str,
    links: str | None = None,
    next_selector: str | None = None,
    same_site: bool = True,
) -> tuple[list[Entry], str | None]:
    """The article entries on a listing page and the next page's URL (pure)."""
    tree = LexborHTMLParser(decode_html(content)[0])
    site = _site(url)
    entries: list[Entry] = []
    seen: set[str] = set()
    for anchor in tree.css(links or _GENERIC_LINKS):
        href = (anchor.attributes.get("href") or "").strip()
        if not href or href.startswith(("#", "javascript:", "mailto:")):
            continue
        target = canonicalize(href, base=url)
        if not target.startswith(("http://", "https://")) or target in seen:
            continue
        if same_site and _site(target) != site:
            continue
        title = " ".join((anchor.text(deep=True) or "").split())
        if links is None and (
            not _ARTICLE_PATH.search(urlsplit(target).path) or len(title.split()) < 3
        ):
            continue
        seen.add(target)
        entries.append(Entry(url=target, title=title or None, published_at=_teaser_date(anchor)))
    following = None
    node = tree.css_first(next_selector or _NEXT)
    if node is not None and node.attributes.get("href"):
        candidate = urljoin(url, (node.attributes.get("href") or "").strip())
        if candidate.startswith(("http://", "https://")) and candidate != url:
            following = candidate
    return entries, following


def _teaser_date(anchor: LexborNode) -> datetime | None:
    """The ``<time datetime>`` of the teaser around a link: the nearest ancestor (three
    levels up at most) holding one time element and no other article link."""
    node = anchor.parent
    for _ in range(3):
        if node is None:
            return None
        times = node.css("time[datetime]")
        if len(times) == 1 and len(node.css("a[href]")) <= 2:
            return parse_date(times[0].attributes.get("datetime"))
        if len(times) > 1:
            return None
        node = node.parent
    return None
