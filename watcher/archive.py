"""Questions about what watcher has stored: versions, diffs (and, as the archive grows,
search, export and statistics). Read-only, over the store; the CLI prints the answers."""

from __future__ import annotations

from dataclasses import dataclass

from watcher.diff import compare
from watcher.errors import WatcherError
from watcher.models import Change, Version
from watcher.store import Store, StoredArticle
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
