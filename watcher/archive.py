"""Questions about what watcher has stored: versions, diffs (and, as the archive grows,
search, export and statistics). Read-only, over the store; the CLI prints the answers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from watcher.config import Settings
from watcher.diff import compare
from watcher.errors import WatcherError
from watcher.models import Change, Version
from watcher.store import SourceState, Store, StoredArticle
from watcher.urls import canonicalize


@dataclass(frozen=True)
class VersionDiff:
    article: StoredArticle
    versions: list[Version]
    old: Version
    new: Version
    change: Change | None  # None: the two texts are the same in words and numbers
    classes: tuple[str, ...]


def find(store: Store, url: str) -> StoredArticle:
    """The stored article behind a URL (any URL that led to it), or a clear error."""
    article = store.find_article(url) or store.find_article(canonicalize(url))
    if article is None:
        raise WatcherError(f"no stored article for {url}")
    return article


def version_diff(
    store: Store, url: str, *, from_version: int | None = None, to_version: int | None = None
) -> VersionDiff:
    """The diff between two versions of an article (by default: the last change)."""
    article = find(store, url)
    versions = store.versions(article.id)
    if not versions:
        raise WatcherError(f"{url}: no version stored yet (its page could not be read)")
    by_number = {v.number: v for v in versions}
    new_number = to_version if to_version is not None else article.version
    old_number = from_version if from_version is not None else _previous(by_number, new_number)
    for number in (old_number, new_number):
        if number not in by_number:
            known = ", ".join(str(n) for n in sorted(by_number))
            raise WatcherError(f"{url}: no version {number} (stored: {known})")
    old, new = by_number[old_number], by_number[new_number]
    change = compare(
        old.title, old.text, new.title, new.text, from_version=old.number, to_version=new.number
    )
    stored = store.version_changes(article.id).get(new.number)
    classes = stored.classes if stored and stored.from_version == old.number else ()
    return VersionDiff(
        article=article,
        versions=versions,
        old=old,
        new=new,
        change=change,
        classes=classes or (change.classes if change else ()),
    )


def _previous(by_number: dict[int, Version], number: int) -> int:
    earlier = [n for n in by_number if n < number]
    return max(earlier) if earlier else number


@dataclass(frozen=True)
class SourceOverview:
    """One line of ``watcher sources``: a source's configuration and its health."""

    id: str
    kind: str
    url: str
    configured: bool  # False: in the database, no longer in the config
    enabled: bool
    state: SourceState
    articles: int
    last_article_at: datetime | None


def source_overview(settings: Settings | None, store: Store) -> list[SourceOverview]:
    """Every source, configured or remembered, with its stored health and article count.

    A configured source that was never polled shows as ``new``."""
    stored = {s.id: s for s in store.sources()}
    counts = store.source_article_counts()
    kinds = {row["id"]: (row["kind"], row["url"]) for row in store.source_rows()}
    rows = []
    configured = settings.sources if settings else []
    for source in configured:
        count, last = counts.get(source.id, (0, None))
        rows.append(
            SourceOverview(
                id=source.id,
                kind=source.kind,
                url=source.url,
                configured=True,
                enabled=source.enabled,
                state=stored.get(source.id) or SourceState(id=source.id),
                articles=count,
                last_article_at=last,
            )
        )
    known = {s.id for s in configured}
    for source_id, state in stored.items():
        if source_id in known:
            continue
        kind, url = kinds.get(source_id, ("?", ""))
        count, last = counts.get(source_id, (0, None))
        rows.append(
            SourceOverview(
                id=source_id,
                kind=kind,
                url=url,
                configured=False,
                enabled=False,
                state=state,
                articles=count,
                last_article_at=last,
            )
        )
    return rows
