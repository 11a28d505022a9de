"""The one place that runs the stages in order, for one source.

poll the index -> for each entry due: fetch -> decode -> extract -> compare with the
stored version -> match vendors -> store the version and its events (one transaction).

Semantics users rely on (DESIGN.md): a source's first successful poll is a silent
baseline; "new" is a canonical URL never stored before; "updated" is a material change
of title or body; only articles that mention a watched vendor (in the new or the old
version, for an update) are announced.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Literal
from urllib.parse import urlsplit

import structlog

from watcher import linking
from watcher.config import ExtractRules, HealthSettings, HttpSettings, SinkConfig, SourceConfig
from watcher.diff import content_hash
from watcher.encoding import decode_html, not_a_page
from watcher.errors import FetchError, ParseError, SourceError
from watcher.extract import extract
from watcher.fetch import Fetcher, make_client
from watcher.fold import fold
from watcher.linking import StoryLink
from watcher.match import VendorMatcher
from watcher.models import (
    Article,
    Change,
    Entry,
    Event,
    EventArticle,
    EventType,
    LinkedReport,
    Page,
    SourceHealth,
    isoformat,
    utcnow,
)
from watcher.sources import SOURCE_KINDS
from watcher.sources.base import Fetch, Window
from watcher.store import NewVersion, SourceState, StaleWrite, Store, StoredArticle
from watcher.urls import canonicalize
from watcher.verdict import judge

log = structlog.get_logger("watcher.pipeline")

# Pages up to this size are read on the event loop, bigger ones in a worker thread. A
# page this size takes a few ms to read (43 ms at most on the shared corpus), while the
# hand-off to a thread, and the GIL going back and forth between it and the loop, cost
# about 1 ms of CPU per page (polling benchmark: 10.3 -> 9.3 ms of CPU per page read on
# the loop). A bigger page, rarer and slower, goes off the loop, which keeps serving the
# other fetches meanwhile.
READ_ON_LOOP_BYTES = 256 * 1024

# "too_old"/"too_new": read by ``watcher backfill``, dated outside its window, not stored.
Outcome = Literal["new", "updated", "unchanged", "skipped", "failed", "too_old", "too_new"]


@dataclass(frozen=True)
class Context:
    """What the pipeline needs, made once by the daemon."""

    fetch: Fetch
    store: Store
    matcher: VendorMatcher
    sinks: tuple[SinkConfig, ...]
    notify_baseline: bool = False
    health: HealthSettings = HealthSettings()
    clock: Callable[[], datetime] = utcnow
    # Entries of one source read at once (the daemon passes twice http.per_host).
    entries_at_once: int = 4


@dataclass(frozen=True)
class Import:
    """How ``watcher backfill`` stores what it reads: as history (marked backfilled,
    never re-checked on the young-article schedule), only inside its window, and
    silently unless asked; ``hold`` keeps the events for one digest at the end."""

    window: Window
    announce: bool = False
    hold: bool = False


@dataclass
class SourceReport:
    """What one poll of one source did."""

    source_id: str
    ok: bool = True
    baseline: bool = False
    not_modified: bool = False
    backing_off: datetime | None = None  # skipped: failing, next try then
    entries: int = 0
    state: str | None = None
    error: str | None = None
    counts: dict[str, int] = field(default_factory=dict)
    events: int = 0
    queued: dict[str, int] = field(default_factory=dict)  # events queued, by sink

    def queue(self, sink_ids: tuple[str, ...]) -> tuple[str, ...]:
        """Count one event going to ``sink_ids`` (returned as they are)."""
        self.events += 1
        for sink_id in sink_ids:
            self.queued[sink_id] = self.queued.get(sink_id, 0) + 1
        return sink_ids

    def count(self, outcome: str) -> int:
        return self.counts.get(outcome, 0)


def event_id(event_type: str, key: str, version: int | str) -> str:
    """A stable id: the same transition of the same thing always gets the same id."""
    digest = hashlib.sha256(f"{event_type}\x1f{key}\x1f{version}".encode()).digest()
    return "evt_" + base64.b32encode(digest[:15]).decode("ascii").lower()


_CHALLENGE = re.compile(
    rb"cf-chl|challenge-platform|just a moment|attention required|captcha|"
    rb"are you a robot|bot detection|access denied|ddos-guard|perimeterx|datadome|incapsula",
    re.IGNORECASE,
)


def source_state_for(exc: SourceError) -> str:
    """The health state a failure puts a source in (shown by ``watcher sources``)."""
    if isinstance(exc, ParseError):
        return "malformed"
    if not isinstance(exc, FetchError):
        return "failing"
    by_reason = {
        "robots": "blocked_robots",
        "robots_unavailable": "unreachable",
        "timeout": "unreachable",
        "connect": "unreachable",
        "too_large": "too_large",
        "redirects": "redirect_loop",
        "private": "refused",
        "bad_url": "refused",
    }
    if exc.reason in by_reason:
        return by_reason[exc.reason]
    if exc.status in (404, 410):
        return "gone"
    if exc.status == 403:
        # Bot protection answers 403 (or 503) with a challenge page; a plain 403 is a refusal.
        return "blocked_bot" if _CHALLENGE.search(exc.body) else "forbidden"
    if exc.status in (401, 402):
        return "paywall"
    if exc.status == 429:
        return "rate_limited"
    if exc.status == 503 and _CHALLENGE.search(exc.body):
        return "blocked_bot"
    return "failing"


def backoff_until(
    source: SourceConfig,
    failures: int,
    now: datetime,
    health: HealthSettings,
    retry_after: float | None,
) -> datetime:
    """When to poll a failing source next: its interval doubled for each consecutive
    failure, capped, and never before the server's Retry-After."""
    delay = min(float(source.interval) * 2 ** max(failures - 1, 0), float(health.max_backoff))
    if retry_after is not None:
        delay = max(delay, retry_after)
    return now + timedelta(seconds=delay)


async def process_source(
    ctx: Context, source: SourceConfig, *, force: bool = False
) -> SourceReport:
    """Poll one source and process every entry that is due. Never raises SourceError.

    A source that keeps failing is backed off (``force`` polls it anyway), and its
    health is reported to the sinks that subscribe to source.unhealthy/recovered.
    """
    state = ctx.store.source_state(source.id)
    if state is None:  # configured after the daemon started (or called directly)
        ctx.store.sync_sources([(source.id, source.kind, source.url, source.name)])
        state = SourceState(id=source.id)
    now = ctx.clock()
    baseline = state.baseline_at is None and not ctx.notify_baseline
    report = SourceReport(source_id=source.id, baseline=baseline, state=state.state)
    if not force and state.next_poll_at is not None and state.next_poll_at > now:
        report.backing_off = state.next_poll_at
        return report
    bound = log.bind(source=source.id)
    kind = SOURCE_KINDS[source.kind](source)
    try:
        poll = await kind.poll(
            ctx.fetch, etag=state.etag, last_modified=state.last_modified, memo=state.memo
        )
    except SourceError as exc:
        _record_failure(ctx, source, state, exc, report)
        bound.warning(
            "source.failed", error=str(exc), state=report.state, failures=state.failures + 1
        )
        return report
    for warning in poll.warnings:
        bound.warning("source.warning", warning=warning)
    entries = [] if poll.not_modified else list(poll.entries)
    report.entries = len(entries)
    # Edits are found by re-reading young articles on their own schedule, whether or not
    # the feed changed (most sites edit an article without touching their feed).
    listed = {e.url for e in entries}
    for due in ctx.store.articles_due(
        source.id,
        first_seen_after=now - timedelta(seconds=source.recheck_for),
        checked_before=now - timedelta(seconds=source.recheck_every),
    ):
        if due.url not in listed:
            entries.append(Entry(url=due.url))
    outcomes = await _each_entry(ctx, source, entries, baseline, report)
    for outcome in outcomes:
        report.counts[outcome] = report.counts.get(outcome, 0) + 1
    report.not_modified = poll.not_modified
    recovered = None
    if state.unhealthy_at is not None:
        recovered = _health_event(ctx, source, "source.recovered", state, SourceHealth("ok", 0))
        bound.info("source.recovered", was=state.state)
    ctx.store.record_poll_ok(
        source.id,
        now=ctx.clock(),
        etag=poll.etag,
        last_modified=poll.last_modified,
        memo=poll.memo,
        recovered=recovered,
        sink_ids=report.queue(_sinks_for(ctx, recovered)) if recovered else (),
    )
    report.state = "ok"
    bound.info(
        "source.polled",
        not_modified=poll.not_modified,
        baseline=baseline,
        entries=report.entries,
        **report.counts,
        events=report.events,
    )
    return report


async def _each_entry(
    ctx: Context, source: SourceConfig, entries: list[Entry], baseline: bool, report: SourceReport
) -> list[Outcome]:
    """Process the entries, a few at a time, in order.

    One source's pages mostly sit on one host, which the fetcher lets through
    ``per_host`` requests at a time: more entries under way would only wait there,
    each holding a task and its fetch state (~6 KB). On a first pass of 2,000 sources of
    50 new articles, one task per entry held 100,000 of them at once (~0.7 GB)."""
    outcomes: list[Outcome] = ["skipped"] * len(entries)
    todo = iter(enumerate(entries))

    async def worker() -> None:
        for index, entry in todo:  # shared: each entry goes to the next free worker
            outcomes[index] = await _process_entry(ctx, source, entry, baseline, report)

    workers = min(max(ctx.entries_at_once, 1), len(entries))
    await asyncio.gather(*(worker() for _ in range(workers)))
    return outcomes


def _record_failure(
    ctx: Context, source: SourceConfig, state: SourceState, exc: SourceError, report: SourceReport
) -> None:
    now = ctx.clock()
    health_state = source_state_for(exc)
    retry_after = exc.retry_after if isinstance(exc, FetchError) else None
    after = ctx.store.record_poll_failure(
        source.id,
        now=now,
        state=health_state,
        error=str(exc),
        next_poll_at=backoff_until(source, state.failures + 1, now, ctx.health, retry_after),
    )
    report.ok, report.error, report.state = False, str(exc), health_state
    if after.failures >= ctx.health.unhealthy_after and after.unhealthy_at is None:
        health = SourceHealth(
            state=health_state,
            failures=after.failures,
            failing_since=after.failing_since,
            last_error=after.last_error,
            next_poll_at=after.next_poll_at,
        )
        event = _health_event(ctx, source, "source.unhealthy", after, health)
        sink_ids = report.queue(_sinks_for(ctx, event))
        ctx.store.mark_unhealthy(source.id, now=now, event=event, sink_ids=sink_ids)
        log.warning(
            "source.unhealthy", source=source.id, state=health_state, failures=after.failures
        )


def _health_event(
    ctx: Context, source: SourceConfig, kind: EventType, state: SourceState, health: SourceHealth
) -> Event:
    since = isoformat(state.failing_since) or "?"
    return Event(
        id=event_id(kind, source.id, since),
        type=kind,
        created_at=ctx.clock(),
        source_id=source.id,
        source_name=source.name,
        health=health,
    )


def _sinks_for(ctx: Context, event: Event | None) -> tuple[str, ...]:
    if event is None:
        return ()
    return tuple(sink.id for sink in ctx.sinks if sink.wants_event(event))


def _is_due(known: StoredArticle, entry: Entry, source: SourceConfig, now: datetime) -> bool:
    """Whether a stored article's page should be fetched again now.

    Re-checks are what find edits, but they cost requests: an article is re-checked
    while it is young (``recheck_for``), at most every ``recheck_every``, or at once
    when its feed entry says it was updated.
    """
    if known.version == 0:
        return True  # never read successfully yet
    if entry.updated_at and known.entry_updated_at and entry.updated_at > known.entry_updated_at:
        return True
    if known.backfilled or now - known.first_seen_at > timedelta(seconds=source.recheck_for):
        return False  # history (imported by a backfill) is only re-read when its entry says so
    return known.last_checked_at is None or now - known.last_checked_at >= timedelta(
        seconds=source.recheck_every
    )


def _same_site(a: str, b: str) -> bool:
    host_a = (urlsplit(a).hostname or "").removeprefix("www.")
    host_b = (urlsplit(b).hostname or "").removeprefix("www.")
    return host_a == host_b


def choose_url(page_url: str, rel_canonical: str | None) -> str:
    """The article's identity: its ``rel=canonical`` when that is believable (same site,
    not the home page, a common template bug), else the URL the page was served from."""
    page = canonicalize(page_url)
    if rel_canonical:
        candidate = canonicalize(rel_canonical)
        if _same_site(candidate, page) and urlsplit(candidate).path not in ("", "/"):
            return candidate
    return page


@lru_cache(maxsize=256)
def _topic_pattern(terms: tuple[str, ...]) -> re.Pattern[str]:
    words = [r"\s+".join(map(re.escape, fold(t).split())) for t in terms]
    return re.compile(r"(?<!\w)(?:" + "|".join(words) + r")(?!\w)")


def on_topic(source: SourceConfig, title: str, text: str) -> bool:
    """A source's ``require_any`` keywords (for general-IT feeds): one must appear."""
    if not source.require_any:
        return True
    return bool(_topic_pattern(source.require_any).search(fold(f"{title}\n{text}")))


def _remember_failure(
    ctx: Context, source: SourceConfig, entry: Entry, known: StoredArticle | None, *,
    baseline: bool, history: Import | None,
) -> None:  # fmt: skip
    """A page that could not be read is remembered (silently, if found by a baseline)
    and read again: by the daemon at its next polls while young, or, for a backfill's,
    by the next backfill."""
    if known is None:
        ctx.store.add_placeholder(
            source_id=source.id, url=entry.url, now=ctx.clock(), silent=baseline,
            backfilled=history is not None,
        )  # fmt: skip


async def _process_entry(
    ctx: Context,
    source: SourceConfig,
    entry: Entry,
    baseline: bool,
    report: SourceReport,
    history: Import | None = None,
) -> Outcome:
    store = ctx.store
    bound = log.bind(source=source.id, url=entry.url)
    known = store.find_article(entry.url)
    if history is not None:
        if known is not None and known.version > 0:
            return "skipped"  # history already stored is never fetched again
    elif known is not None and not _is_due(known, entry, source, ctx.clock()):
        return "skipped"
    has_version = known is not None and known.version > 0
    try:
        page = await ctx.fetch.get(
            entry.url,
            etag=known.etag if known and has_version else None,
            last_modified=known.last_modified if known and has_version else None,
            allow_private=source.allow_private,
        )
    except FetchError as exc:
        bound.warning("article.fetch_failed", error=str(exc), status=exc.status)
        _remember_failure(ctx, source, entry, known, baseline=baseline, history=history)
        return "failed"
    if page.not_modified and known is not None:
        _touch(ctx, known, page, entry)
        return "unchanged"
    if len(page.content) <= READ_ON_LOOP_BYTES:
        article = _read_page(page, source.extract)
    else:
        # In a worker thread: lexbor parses without holding the GIL, so the event loop
        # (and the other sources' fetches) keeps running while a big page is read.
        article = await asyncio.to_thread(_read_page, page, source.extract)
    if not article.paragraphs:
        reason = article.removed[0].reason if article.removed else "no article text found"
        bound.warning("article.empty", final_url=page.url, reason=reason)
        _remember_failure(ctx, source, entry, known, baseline=baseline, history=history)
        return "failed"
    url = choose_url(page.url, article.canonical_url)
    if known is None or url != known.url:
        known = store.find_article(url) or known
    title = article.title or entry.title or ""
    if article.published_at is None and entry.published_at is not None:
        article = replace(article, published_at=entry.published_at)
    if history is not None:
        if history.window.passed(article.published_at):
            return "too_old"
        if not history.window.admits(article.published_at):
            return "too_new"
        if known is not None and known.version > 0:
            return "skipped"  # its canonical URL is stored already
    fingerprint = content_hash(title, article.text)
    latest = store.latest_version(known.id) if known else None
    now = ctx.clock()
    if latest is not None and latest.content_hash == fingerprint:
        assert known is not None
        _touch(ctx, known, page, entry)
        return "unchanged"
    vendors = ctx.matcher.find(title, article.text)
    language = article.language or source.language
    evidence, hashes = linking.evidence(title, article.text, with_entities=bool(vendors))
    link: StoryLink | None = None
    change: Change | None = None
    announce = True
    if latest is not None and known is not None:
        verdict = judge(store, known.id, latest, title, article.text, fingerprint)
        if verdict.kind == "revisit" and verdict.number is not None:
            store.revisit(known.id, verdict.number, now=now)
            bound.info("article.revisit", version=verdict.number)
            return "unchanged"
        if verdict.kind != "change" or verdict.number is None:
            _touch(ctx, known, page, entry)
            return "unchanged"
        event_type: EventType = "article.updated"
        number, change, announce = verdict.number, verdict.change, verdict.announce
        old_vendors = store.mentions(known.id, latest.number)
        names = {v.name for v in vendors}
        announced = vendors + tuple(v for v in old_vendors if v.name not in names)
        story_id = store.story_of(known.id)
    else:
        event_type, number, announced = "article.new", 1, vendors
        link = linking.find_story(
            store,
            article_id=known.id if known else None,
            evidence=evidence,
            hashes=hashes,
            language=language,
            vendors=tuple(v.name for v in vendors),
            now=now,
            published=article.published_at,
        )
        story_id = link.story_id if link else None
        announce = link is None or link.kind != "copy"  # one story, one alert
    silent = baseline or (event_type == "article.new" and known is not None and known.silent)
    events: list[tuple[Event, tuple[str, ...]]] = []
    if announced and announce and not silent and on_topic(source, title, article.text):
        also_seen, linked = linking.story_context(
            store, story_id, known.id if known else None, language
        )
        if link is not None and link.cross is not None:
            # The later report of a story told in another language: say how they differ.
            linked = (
                LinkedReport(
                    url=link.other.url,
                    title=link.other.title,
                    language=link.other.language,
                    source_id=link.other.source_id,
                    only_here=link.cross.only_here,
                    only_there=link.cross.only_there,
                ),
                *(r for r in linked if r.url != link.other.url),
            )
        event = Event(
            id=event_id(event_type, url, number),
            type=event_type,
            created_at=now,
            source_id=source.id,
            source_name=source.name,
            article=EventArticle(
                url=url,
                title=title,
                text=article.text,
                version=number,
                published_at=article.published_at,
                language=language,
            ),
            vendors=announced,
            change=change,
            also_seen_at=also_seen,
            linked=linked,
        )
        events.append((event, _sinks_for(ctx, event)))
    try:
        store.record_article(
            source_id=source.id,
            url=url,
            aliases={entry.url, canonicalize(page.url)},
            article=article,
            version=NewVersion(
                number=number,
                title=title,
                text=article.text,
                content_hash=fingerprint,
                fetched_at=now,
                change=change,
                vendors=vendors,
                events=tuple(events),
                sketch=evidence.sketch,
                entities=evidence.entities,
                story_id=link.story_id if link else None,
                link_kind=link.kind if link else None,
                link_score=link.score if link else None,
            ),
            silent=silent and event_type == "article.new",
            etag=page.etag,
            last_modified=page.last_modified,
            entry_updated_at=entry.updated_at,
            backfilled=history is not None,
            hold=history is not None and history.hold,
        )
    except StaleWrite:
        # Another process (the daemon beside a backfill) stored this version first.
        bound.info("article.stored_elsewhere", version=number)
        return "skipped" if history is not None else "unchanged"
    for _event, sink_ids in events:
        report.queue(sink_ids)  # counted once written: a refused write queued nothing
    if link is not None and link.kind == "copy":
        store.add_also_seen(link.story_id, url)
    bound.info(
        "article.stored", type=event_type, version=number, vendors=[v.name for v in vendors],
        announced=bool(events), story=link.kind if link else None,
        classes=list(change.classes) if change else None,
    )  # fmt: skip
    return "new" if event_type == "article.new" else "updated"


def _read_page(page: Page, rules: ExtractRules) -> Article:
    return extract_bytes(page.content, page.url, rules, page.content_type).article


def _touch(ctx: Context, known: StoredArticle, page: Page, entry: Entry) -> None:
    ctx.store.touch_article(
        known.id, now=ctx.clock(), etag=page.etag, last_modified=page.last_modified,
        entry_updated_at=entry.updated_at,
    )  # fmt: skip


@dataclass(frozen=True)
class Extraction:
    """What ``watcher extract`` shows: the article and how the page was read."""

    article: Article
    url: str
    encoding: str
    status: int | None = None


def extract_bytes(
    content: bytes, url: str, rules: ExtractRules | None = None, content_type: str | None = None
) -> Extraction:
    """Decode and extract a page's bytes (fetched, or a saved file). A PDF or an image
    (feeds link to both) is refused: an Article without text that says why."""
    reason = not_a_page(content, content_type)
    if reason is not None:
        return Extraction(article=Article.refused(url, reason), url=url, encoding="-")
    html, encoding = decode_html(content, content_type)
    return Extraction(article=extract(html, url, rules), url=url, encoding=encoding)


async def extract_url(
    url: str, http: HttpSettings, rules: ExtractRules | None = None, *, allow_private: bool = False
) -> Extraction:
    """Fetch one page politely (same client settings as the daemon) and extract it
    (``allow_private``: the source's, when one is named)."""
    async with make_client(http) as client:
        page = await Fetcher(client, http).get(url, allow_private=allow_private)
    read = extract_bytes(page.content, page.url, rules, page.content_type)
    return replace(read, status=page.status)


@dataclass(frozen=True)
class Probe:
    """What one poll of a source's index finds, without storing anything."""

    source_id: str
    entries: tuple[Entry, ...] = ()
    warnings: tuple[str, ...] = ()
    index_url: str | None = None  # the feed a home page announced, when one was used
    state: str = "ok"
    error: str | None = None


async def probe_sources(
    sources: list[SourceConfig], http: HttpSettings, *, concurrency: int = 8
) -> list[Probe]:
    """Poll each source's index once, politely, and report what it found (``watcher
    check --discover``): entries, the feed a home page announced, or why it failed."""
    limit = asyncio.Semaphore(concurrency)
    async with make_client(http) as client:
        fetcher = Fetcher(client, http)

        async def probe(source: SourceConfig) -> Probe:
            async with limit:
                try:
                    poll = await SOURCE_KINDS[source.kind](source).poll(fetcher)
                except SourceError as exc:
                    return Probe(source.id, state=source_state_for(exc), error=str(exc))
            return Probe(source.id, poll.entries, poll.warnings, index_url=poll.memo)

        return list(await asyncio.gather(*(probe(s) for s in sources)))
