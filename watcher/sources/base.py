"""What a source kind is: a small class that turns an index (feed, listing page,
sitemap) into article entries."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from watcher.errors import FetchError
from watcher.models import Entry, Page, Poll

if TYPE_CHECKING:
    from watcher.config import SourceConfig


class Fetch(Protocol):
    """The one thing a source needs from the fetch stage."""

    async def get(
        self,
        url: str,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        accept: str | None = None,
        allow_private: bool = False,
    ) -> Page: ...


@dataclass(frozen=True)
class Window:
    """The stretch of time ``watcher backfill`` imports: [since, until)."""

    since: datetime | None = None
    until: datetime | None = None

    def admits(self, when: datetime | None) -> bool:
        """Whether an entry dated ``when`` belongs (undated entries do: their page
        will tell)."""
        if when is None:
            return True
        return (self.since is None or when >= self.since) and (
            self.until is None or when < self.until
        )

    def passed(self, when: datetime | None) -> bool:
        """Whether ``when`` is older than the window: a walk going back in time can stop."""
        return when is not None and self.since is not None and when < self.since


@dataclass(frozen=True)
class HistoryPage:
    """One page of a source's past (a sitemap, an archive page, an older feed page):
    its entries within the window, and where to resume after it (``None``: done)."""

    url: str
    entries: tuple[Entry, ...]
    cursor: dict[str, Any] | None
    # The dates the page showed, in or out of the window: a walk back in time stops
    # once a whole page is older than the window.
    dates: tuple[datetime, ...] = ()


class SourceKind(Protocol):
    """A source kind: ``kind`` is its name in sources.yaml; a nested frozen dataclass
    ``Options`` lists its own keys (checked by :func:`watcher.sources.register`)."""

    kind: ClassVar[str]

    def __init__(self, config: SourceConfig) -> None: ...

    async def poll(
        self,
        fetch: Fetch,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        memo: str | None = None,
    ) -> Poll:
        """Fetch the index (conditionally) and return the entries it lists. ``memo`` is
        what the previous poll returned in ``Poll.memo``."""
        ...

    def history(
        self, fetch: Fetch, window: Window, cursor: dict[str, Any] | None
    ) -> AsyncIterator[HistoryPage]:
        """Walk the source's past, newest first, from ``cursor`` (a previous page's
        ``cursor``) or from the start (``None``), one page at a time."""
        ...


async def archive_page(fetching: Awaitable[Page], number: int) -> Page | None:
    """Page ``number`` of a walk back in time, or None past the end of the archive: an
    older page (not the first) that is not found or gone. WordPress's ``page/{n}`` and
    ``?paged={n}``, like most archive patterns, answer 404 past the last page."""
    try:
        return await fetching
    except FetchError as exc:
        if number > 1 and exc.status in (404, 410):
            return None
        raise
