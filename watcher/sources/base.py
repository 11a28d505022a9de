"""What a source kind is: a small class that turns an index (feed, listing page,
sitemap) into article entries."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, Protocol

from watcher.models import Page, Poll

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
