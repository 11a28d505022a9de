"""``kind: sitemap``: sitemap indexes, urlsets and Google News sitemaps (.xml, .xml.gz)."""

from __future__ import annotations

import zlib
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar
from xml.etree.ElementTree import Element

from defusedxml import ElementTree
from defusedxml.common import DefusedXmlException

from watcher.config import Duration
from watcher.dates import parse_date
from watcher.errors import ParseError
from watcher.models import Entry, Page, Poll, utcnow
from watcher.sources import register
from watcher.sources.base import Fetch, HistoryPage, Window
from watcher.urls import canonicalize

if TYPE_CHECKING:
    from watcher.config import SourceConfig

_GZIP_MAGIC = b"\x1f\x8b"
MAX_SITEMAP_BYTES = 50 * 1024 * 1024  # the sitemaps.org limit, decompressed
SITEMAP_ACCEPT = "application/xml, text/xml;q=0.9, application/x-gzip;q=0.8, */*;q=0.5"


@dataclass(frozen=True)
class SitemapLink:
    """A child sitemap listed by an index."""

    url: str
    lastmod: datetime | None


@dataclass(frozen=True)
class Sitemap:
    """A parsed sitemap: an index of sitemaps, or a set of page URLs."""

    entries: tuple[Entry, ...] = ()
    children: tuple[SitemapLink, ...] = ()


@register
class SitemapSource:
    """A site's sitemap: an index of sitemaps, a urlset, or a Google News sitemap.

    ```yaml
    - id: hospimedia
      kind: sitemap
      url: https://www.example.org/sitemap-news.xml
      recent: 3d           # only URLs published or modified this recently
      max_sitemaps: 5      # children of a sitemap index read per poll, newest first
    ```

    A URL whose ``<lastmod>`` has not changed is not fetched again; gzipped sitemaps and
    plain-text lists of URLs are read too.
    """

    kind: ClassVar[str] = "sitemap"

    @dataclass(frozen=True)
    class Options:
        recent: Duration = Duration(7 * 86400)
        max_sitemaps: int = 5

    def __init__(self, config: SourceConfig) -> None:
        self.config = config
        self.options: SitemapSource.Options = config.options

    async def poll(
        self,
        fetch: Fetch,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        memo: str | None = None,
    ) -> Poll:
        page = await self._get(fetch, self.config.url, etag, last_modified)
        if page.not_modified:
            return Poll((), not_modified=True, etag=etag, last_modified=last_modified)
        since = utcnow() - timedelta(seconds=self.options.recent)
        sitemap = parse_sitemap(page.content, url=page.url)
        entries = list(sitemap.entries)
        children = [c for c in sitemap.children if c.lastmod is None or c.lastmod >= since]
        children.sort(
            key=lambda c: c.lastmod or datetime.min.replace(tzinfo=since.tzinfo), reverse=True
        )
        warnings: list[str] = []
        for child in children[: self.options.max_sitemaps]:
            try:
                sub = parse_sitemap(
                    (await self._get(fetch, child.url, None, None)).content, url=child.url
                )
            except ParseError as exc:
                warnings.append(f"{child.url}: {exc}")
                continue
            entries.extend(sub.entries)
        recent = [e for e in entries if _moment(e) is None or _moment(e) >= since]  # type: ignore[operator]
        recent.sort(key=lambda e: _moment(e) or since, reverse=True)
        return Poll(
            entries=tuple(_unique(recent)[: self.config.max_articles]),
            etag=page.etag,
            last_modified=page.last_modified,
            warnings=tuple(warnings),
        )

    async def _get(
        self, fetch: Fetch, url: str, etag: str | None, last_modified: str | None
    ) -> Page:
        return await fetch.get(
            url,
            etag=etag,
            last_modified=last_modified,
            accept=SITEMAP_ACCEPT,
            allow_private=self.config.allow_private,
        )

    async def history(
        self, fetch: Fetch, window: Window, cursor: dict[str, Any] | None
    ) -> AsyncIterator[HistoryPage]:
        """Every sitemap under the index, newest first; children whose ``lastmod`` is
        older than the window are not read, URLs outside it are left out. The cursor is
        the queue of sitemaps still to read."""
        queue: list[str] = list(cursor["queue"]) if cursor else [self.config.url]
        while queue:
            url = queue.pop(0)
            sitemap = parse_sitemap((await self._get(fetch, url, None, None)).content, url=url)
            children = [c for c in sitemap.children if not window.passed(c.lastmod)]
            children.sort(key=_newest_first)
            queue = [c.url for c in children] + queue  # depth first: finish one branch
            dates = tuple(d for d in (_moment(e) for e in sitemap.entries) if d is not None)
            entries = [e for e in sitemap.entries if window.admits(_moment(e))]
            entries.sort(key=lambda e: _moment(e) or _EPOCH, reverse=True)
            yield HistoryPage(
                url=url,
                entries=tuple(_unique(entries)),
                cursor={"queue": queue} if queue else None,
                # An index is not a page of dated articles: it never ends the walk.
                dates=dates if not sitemap.children else (),
            )


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _newest_first(link: SitemapLink) -> tuple[int, float]:
    # Undated children last: with no date, a sitemap may as well be the oldest.
    return (0, -link.lastmod.timestamp()) if link.lastmod else (1, 0.0)


def _moment(entry: Entry) -> datetime | None:
    return entry.updated_at or entry.published_at


def _unique(entries: list[Entry]) -> list[Entry]:
    seen: set[str] = set()
    out = []
    for entry in entries:
        if entry.url not in seen:
            seen.add(entry.url)
            out.append(entry)
    return out


def _gunzip(content: bytes, url: str, max_bytes: int) -> bytes:
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = inflater.decompress(content, max_bytes + 1)
    except zlib.error as exc:
        raise ParseError(f"{url}: corrupt gzip ({exc})") from None
    if len(out) > max_bytes:
        raise ParseError(f"{url}: sitemap over {max_bytes} bytes once decompressed")
    return out


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1].lower()


def _children(element: Element, name: str) -> Iterator[Element]:
    return (child for child in element if _local(child.tag) == name)


def _text(element: Element, *path: str) -> str | None:
    for name in path:
        found = next(_children(element, name), None)
        if found is None:
            return None
        element = found
    return (element.text or "").strip() or None


def _loc(node: Element) -> str | None:
    # <loc> as the protocol says, or the URL written straight inside (seen in the wild).
    loc = _text(node, "loc") or (node.text or "").strip() or None
    return loc if loc and loc.startswith(("http://", "https://")) else None


def parse_sitemap(content: bytes, *, url: str, max_bytes: int = MAX_SITEMAP_BYTES) -> Sitemap:
    """A sitemap document (XML, gzipped XML or a text list of URLs), pure.

    Raises ``ParseError`` for what is not a sitemap; XML entity and DTD tricks are
    refused (defusedxml).
    """
    if content.startswith(_GZIP_MAGIC):
        content = _gunzip(content, url, max_bytes)
    stripped = content.lstrip(b"\xef\xbb\xbf \t\r\n")
    if not stripped.startswith(b"<"):
        lines = stripped.decode("utf-8", errors="replace").splitlines()
        urls = [line.strip() for line in lines if line.strip().startswith(("http://", "https://"))]
        if not urls:
            raise ParseError(f"{url}: neither XML nor a list of URLs")
        return Sitemap(entries=tuple(Entry(url=canonicalize(u)) for u in urls))
    try:
        root = ElementTree.fromstring(stripped)
    except (ElementTree.ParseError, DefusedXmlException) as exc:
        raise ParseError(f"{url}: not a readable sitemap ({exc})") from None
    kind = _local(root.tag)
    if kind == "sitemapindex":
        return Sitemap(
            children=tuple(
                SitemapLink(url=loc, lastmod=parse_date(_text(node, "lastmod")))
                for node in _children(root, "sitemap")
                if (loc := _loc(node))
            )
        )
    if kind != "urlset":
        raise ParseError(f"{url}: <{kind}> is not a sitemap")
    entries = []
    for node in _children(root, "url"):
        loc = _loc(node)
        if not loc or not loc.startswith(("http://", "https://")):
            continue
        entries.append(
            Entry(
                url=canonicalize(loc),
                title=_text(node, "news", "title"),
                published_at=parse_date(_text(node, "news", "publication_date")),
                updated_at=parse_date(_text(node, "lastmod")),
            )
        )
    return Sitemap(entries=tuple(entries))
