"""Questions about what watcher has stored: sources' health, articles, full-text search,
one article's history, diffs, exports and statistics. Read-only, over the store; the CLI
prints the answers."""

from __future__ import annotations

import csv
import difflib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, TextIO

from watcher.config import Settings
from watcher.diff import compare
from watcher.errors import WatcherError
from watcher.fold import fold
from watcher.models import Change, Version, isoformat, parse_isoformat
from watcher.store import ArchiveQuery, SourceState, Store, StoredArticle, StoryMember
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


# --- articles, search, show, export, stats ---------------------------------------------


@dataclass(frozen=True)
class ArticleSummary:
    """One line of ``watcher articles`` (and one record of ``watcher export``)."""

    url: str
    source_id: str
    title: str
    published_at: datetime | None
    modified_at: datetime | None
    first_seen_at: datetime
    language: str | None
    author: str | None
    version: int
    vendors: tuple[str, ...]
    backfilled: bool
    text: str | None = None  # only when asked (export)

    def to_dict(self) -> dict[str, Any]:
        record: dict[str, Any] = {
            "url": self.url,
            "source_id": self.source_id,
            "title": self.title,
            "published_at": isoformat(self.published_at),
            "modified_at": isoformat(self.modified_at),
            "first_seen_at": isoformat(self.first_seen_at),
            "language": self.language,
            "author": self.author,
            "version": self.version,
            "vendors": list(self.vendors),
            "backfilled": self.backfilled,
        }
        if self.text is not None:
            record["text"] = self.text
        return record


def _summary(row: dict[str, Any]) -> ArticleSummary:
    first_seen = parse_isoformat(row["first_seen_at"])
    assert first_seen is not None
    return ArticleSummary(
        url=row["url"],
        source_id=row["source_id"],
        title=row["title"] or "",
        published_at=parse_isoformat(row["published_at"]),
        modified_at=parse_isoformat(row["modified_at"]),
        first_seen_at=first_seen,
        language=row["language"],
        author=row["author"],
        version=row["version"],
        vendors=tuple(json.loads(row["vendors"] or "[]")),
        backfilled=bool(row["backfilled"]),
        text=row.get("text"),
    )


def resolve_vendor(settings: Settings | None, name: str | None) -> str | None:
    """The configured vendor a user means: its name or any alias, in any case or
    accents (``--vendor cerner`` is Oracle Health)."""
    if not name or settings is None:
        return name
    return _vendor_terms(settings).get(fold(name), name)


def unknown_vendor(settings: Settings | None, name: str | None) -> str | None:
    """A warning when ``name`` is no configured vendor or alias: a typo would otherwise
    give an empty list and no reason."""
    if not name or settings is None:
        return None
    terms = _vendor_terms(settings)
    wanted = fold(name)
    if wanted in terms:
        return None
    close = difflib.get_close_matches(wanted, list(terms), n=1, cutoff=0.75)
    hint = f' (did you mean "{terms[close[0]]}"?)' if close else ""
    return (
        f'"{name}" is no configured vendor or alias{hint}: only articles stored under '
        "that exact name match"
    )


def _vendor_terms(settings: Settings) -> dict[str, str]:
    """Each vendor's folded name and aliases -> its name."""
    terms: dict[str, str] = {}
    for vendor in settings.vendors:
        for term in (vendor.name, *(alias.term for alias in vendor.aliases)):
            terms.setdefault(fold(term), vendor.name)
    return terms


def articles(
    store: Store, query: ArchiveQuery, *, with_text: bool = False
) -> Iterator[ArticleSummary]:
    """Stored articles, newest first, one at a time."""
    return map(_summary, store.archive_rows(query, with_text=with_text))


@dataclass(frozen=True)
class SearchHit:
    url: str
    source_id: str
    title: str  # with the matched words between \x02 and \x03
    snippet: str  # likewise
    published_at: datetime | None
    language: str | None
    score: float  # BM25: lower is better


# A phrase in double quotes, or a bare word (possibly -negated or prefix*).
_QUERY_TOKEN = re.compile(r'"([^"]*)"?|(\S+)')


def match_expression(text: str) -> str:
    """A user's query as a safe FTS5 expression: words must all appear (in any order,
    accents and case ignored), "a phrase" in order, ``word*`` is a prefix, ``-word``
    excludes, ``OR`` between two terms allows either. FTS5's own syntax (columns,
    NEAR, parentheses) is treated as words, so no query is a syntax error. ``NOT word``
    is ``-word``."""
    terms: list[str] = []
    excluded: list[str] = []
    negate_next = False
    for phrase, word in _QUERY_TOKEN.findall(text):
        if word == "NOT":
            negate_next = True
            continue
        if word == "OR":
            if terms and terms[-1] != "OR":
                terms.append("OR")
            continue
        negate = (word.startswith("-") and len(word) > 1) or negate_next
        negate_next = False
        prefix = word.endswith("*")
        body = phrase if phrase else word.lstrip("-").rstrip("*")
        if not re.search(r"\w", body):
            continue
        quoted = '"' + body.replace('"', " ") + '"' + ("*" if prefix and not phrase else "")
        (excluded if negate else terms).append(quoted)
    while terms and terms[-1] == "OR":
        terms.pop()
    if not terms:
        raise WatcherError(f"nothing to search for in {text!r} (give at least one word)")
    return " ".join(terms) + "".join(f" NOT {term}" for term in excluded)


def search(store: Store, text: str, query: ArchiveQuery) -> list[SearchHit]:
    """The articles matching ``text``, best first (see :func:`match_expression`)."""
    return [
        SearchHit(
            url=row["url"],
            source_id=row["source_id"],
            title=row["title"] or "",
            snippet=row["snippet"] or "",
            published_at=parse_isoformat(row["published_at"]),
            language=row["language"],
            score=row["score"],
        )
        for row in store.search_rows(match_expression(text), query)
    ]


@dataclass(frozen=True)
class ArticleDetail:
    """Everything ``watcher show`` prints about one article."""

    summary: ArticleSummary
    aliases: tuple[str, ...]
    versions: list[Version]
    changes: dict[int, Change]
    mentions: list[tuple[str, tuple[str, ...], tuple[str, ...]]]  # vendor, matched, snippets
    story: list[StoryMember]  # the other reports of the same story
    link_kind: str | None  # how this article joined its story: copy | translation
    events: list[dict[str, Any]]


def show(store: Store, url: str) -> ArticleDetail:
    article = find(store, url)
    row = store.article_row(article.id)
    versions = store.versions(article.id)
    if not versions:
        raise WatcherError(f"{url}: no version stored yet (its page could not be read)")
    latest = versions[-1]
    summary = _summary(
        {**row, "title": latest.title, "vendors": json.dumps(
            sorted({m.name for m in store.mentions(article.id, article.version)}))}
    )  # fmt: skip
    story_id = row.get("story_id")
    story = [m for m in store.story_members(story_id) if m.id != article.id] if story_id else []
    return ArticleDetail(
        summary=summary,
        aliases=tuple(store.aliases(article.id)),
        versions=versions,
        changes=store.version_changes(article.id),
        mentions=[
            (m.name, m.matched, m.snippets) for m in store.mentions(article.id, article.version)
        ],
        story=story,
        link_kind=row.get("link_kind"),
        events=store.article_events(article.id),
    )


ExportFormat = Literal["jsonl", "csv"]
_CSV_COLUMNS = (
    "url", "source_id", "title", "published_at", "modified_at", "first_seen_at", "language",
    "author", "version", "vendors", "backfilled",
)  # fmt: skip


def export(
    store: Store, query: ArchiveQuery, out: TextIO, *, fmt: ExportFormat, with_text: bool
) -> int:
    """Write the articles to ``out`` as JSON lines or CSV, one row at a time (the
    archive is never loaded whole). Returns how many were written."""
    count = 0
    if fmt == "csv":
        columns = (*_CSV_COLUMNS, "text") if with_text else _CSV_COLUMNS
        writer = csv.DictWriter(out, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        for article in articles(store, query, with_text=with_text):
            record = article.to_dict()
            record["vendors"] = "; ".join(article.vendors)
            record["backfilled"] = int(article.backfilled)
            writer.writerow(record)
            count += 1
        return count
    for article in articles(store, query, with_text=with_text):
        out.write(json.dumps(article.to_dict(), ensure_ascii=False) + "\n")
        count += 1
    return count


@dataclass(frozen=True)
class VendorStats:
    """Articles per vendor per month: ``counts[vendor][month]``."""

    months: list[str]
    counts: dict[str, dict[str, int]]

    def total(self, vendor: str) -> int:
        return sum(self.counts[vendor].values())

    def vendors(self) -> list[str]:
        """Most mentioned first."""
        return sorted(self.counts, key=lambda v: (-self.total(v), v))


def vendor_stats(store: Store, query: ArchiveQuery) -> VendorStats:
    counts: dict[str, dict[str, int]] = {}
    months: set[str] = set()
    for month, vendor, n in store.vendor_months(query):
        counts.setdefault(vendor, {})[month] = n
        months.add(month)
    return VendorStats(months=sorted(months), counts=counts)
