"""``watcher backfill``: a source's past, read through the same pipeline as its present.

Each source kind walks its own history (sitemaps, archive pages, archived feeds), newest
first, one index page at a time (:meth:`SourceKind.history`). Every page's entries go
through the pipeline's fetch/extract/compare/store steps with an :class:`Import`: stored
as history, only inside the window, silent unless asked. After each page a checkpoint
(the walker's cursor) is written, so an interrupted backfill resumes at the page it was
on, and articles already stored are never fetched again.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog

from watcher.config import SourceConfig
from watcher.errors import SourceError
from watcher.models import Entry, utcnow
from watcher.pipeline import Context, Import, Outcome, SourceReport, _process_entry
from watcher.sources import SOURCE_KINDS
from watcher.sources.base import Window
from watcher.store import Checkpoint

log = structlog.get_logger("watcher.backfill")


@dataclass(frozen=True)
class Request:
    """What to import: the window, a per-source cap, and whether to tell anyone."""

    window: Window
    max_articles: int | None = None  # per source, for this run
    notify: bool = False  # announce as the daemon would
    digest: str | None = None  # or: one digest to this sink at the end
    dry_run: bool = False  # walk the indexes only: count what would be fetched
    concurrency: int = 4  # articles of one source read at once (politeness still rules)
    sources_at_once: int = 4


@dataclass
class Progress:
    """One source's backfill, as the progress display and the summary show it."""

    source_id: str
    state: str = "waiting"  # waiting | walking | done | up to date | limit | failed | interrupted
    resumed: bool = False
    pages: int = 0
    discovered: int = 0  # entries inside the window, found on the pages walked
    fetched: int = 0  # article pages requested
    stored: int = 0
    skipped: int = 0  # already stored: not fetched
    failed: int = 0
    outside: int = 0  # read, but dated outside the window
    events: int = 0
    error: str | None = None
    started: float | None = None
    finished: float | None = None

    @property
    def elapsed(self) -> float:
        if self.started is None:
            return 0.0
        return (self.finished or time.monotonic()) - self.started

    @property
    def rate(self) -> float:
        """Articles read per second."""
        return self.fetched / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def eta(self) -> float | None:
        """Seconds left for what has been discovered so far (more pages may follow)."""
        left = self.discovered - self.fetched - self.skipped
        if self.finished is not None or left <= 0 or self.rate <= 0:
            return None
        return left / self.rate


@dataclass
class Backfill:
    """One run over some sources. ``progress`` is live while :meth:`run` works."""

    ctx: Context
    sources: Sequence[SourceConfig]
    request: Request
    progress: dict[str, Progress] = field(init=False)

    def __post_init__(self) -> None:
        self.progress = {s.id: Progress(s.id) for s in self.sources}
        self._stopping = False
        request = self.request
        self.history = Import(
            request.window,
            announce=request.notify or request.digest is not None,
            hold=request.digest is not None,
        )

    def stop(self) -> None:
        """Finish the articles being read, checkpoint, and end (the first Ctrl-C): a
        re-run then fetches nothing twice."""
        self._stopping = True

    @property
    def stopping(self) -> bool:
        return self._stopping

    async def run(self) -> list[Progress]:
        """Backfill every source (several at once); a failing source never stops the
        others. Cancelling (Ctrl-C) leaves every source resumable."""
        gate = asyncio.Semaphore(max(1, self.request.sources_at_once))

        async def one(source: SourceConfig) -> None:
            async with gate:
                if self._stopping:
                    self.progress[source.id].state = "interrupted"
                    return
                await self._source(source, self.progress[source.id])

        await asyncio.gather(*(one(s) for s in self.sources))
        return list(self.progress.values())

    async def _source(self, source: SourceConfig, progress: Progress) -> None:
        request, store = self.request, self.ctx.store
        window = request.window
        progress.started = time.monotonic()
        progress.state = "walking"
        bound = log.bind(source=source.id)
        checkpoint = store.checkpoint(source.id)
        cursor = None
        if checkpoint is not None and (checkpoint.since, checkpoint.until) == (
            window.since,
            window.until,
        ):
            if checkpoint.done:
                progress.state, progress.finished = "up to date", time.monotonic()
                if not request.dry_run:
                    history = self._history_for(source)
                    await self._retry_failures(source, progress, SourceReport(source.id), history)
                return
            cursor, progress.resumed = checkpoint.cursor, True
        elif not request.dry_run:
            now = utcnow()
            checkpoint = Checkpoint(
                source_id=source.id, since=window.since, until=window.until, cursor=None,
                done=False, started_at=now, updated_at=now,
            )  # fmt: skip
            store.save_checkpoint(checkpoint)
        base = checkpoint  # the counters before this run
        bound.info("backfill.start", resume=cursor is not None, since=str(window.since))
        report = SourceReport(source_id=source.id)
        history = self._history_for(source)
        walker = source.history or source  # `history:` may name another index to walk
        kind = SOURCE_KINDS[walker.kind](walker)
        try:
            if not request.dry_run:
                await self._retry_failures(source, progress, report, history)
            async for page in kind.history(self.ctx.fetch, window, cursor):
                if self._stopping:
                    progress.state = "interrupted"
                    break
                progress.pages += 1
                entries = list(page.entries)
                progress.discovered += len(entries)
                if request.dry_run:
                    progress.skipped += sum(store.is_stored(e.url) for e in entries)
                    stop = self._reached_limit(progress)
                    whole_page_old = bool(page.dates) and all(map(window.passed, page.dates))
                    if stop or whole_page_old:
                        break
                    continue
                outcomes, complete = await self._read(source, entries, report, progress, history)
                stop = _walked_past(window, page.dates, outcomes)
                if complete or stop:
                    assert base is not None
                    checkpoint = _advance(base, page.cursor, progress, done=stop)
                    store.save_checkpoint(checkpoint)
                if not complete:
                    progress.state = "interrupted" if self._stopping else "limit"
                    break
                if stop:
                    break
            else:
                if base is not None and not request.dry_run:
                    store.save_checkpoint(_advance(base, None, progress, done=True))
            if progress.state == "walking":
                progress.state = "done"
        except SourceError as exc:
            progress.state, progress.error = "failed", str(exc)
            bound.warning("backfill.failed", error=str(exc))
        except asyncio.CancelledError:
            progress.state = "interrupted"
            raise
        finally:
            progress.events = report.events
            progress.finished = time.monotonic()
        bound.info(
            "backfill.finished", state=progress.state, pages=progress.pages,
            stored=progress.stored, skipped=progress.skipped, failed=progress.failed,
        )  # fmt: skip

    def _history_for(self, source: SourceConfig) -> Import:
        """The import rules for one source. What was published after the daemon's
        first poll of the source (its baseline) is the daemon's to announce, not
        history: a backfill running beside the daemon leaves it alone."""
        state = self.ctx.store.source_state(source.id)
        baseline = state.baseline_at if state is not None else None
        until = self.request.window.until
        if baseline is not None and (until is None or baseline < until):
            return replace(self.history, window=replace(self.history.window, until=baseline))
        return self.history

    async def _retry_failures(
        self, source: SourceConfig, progress: Progress, report: SourceReport, history: Import
    ) -> None:
        """Pages an earlier run could not read are tried once more, first."""
        urls = self.ctx.store.backfill_failures(source.id)
        if urls:
            await self._read(source, [Entry(url=u) for u in urls], report, progress, history)

    async def _read(
        self,
        source: SourceConfig,
        entries: list[Entry],
        report: SourceReport,
        progress: Progress,
        history: Import,
    ) -> tuple[list[Outcome], bool]:
        """Read a page's entries, a few at a time; stops early at ``max_articles``.
        Returns the outcomes and whether every entry was read."""
        baseline = not history.announce
        outcomes: list[Outcome] = []
        # What the index already dates outside the window is not fetched
        # (Window.admits lets undated entries through: their page will tell).
        inside = [e for e in entries if history.window.admits(e.published_at)]
        progress.outside += len(entries) - len(inside)
        entries = inside
        step = max(1, self.request.concurrency)
        start = 0
        while start < len(entries):
            if self._stopping or self._reached_limit(progress):
                return outcomes, False
            # Never more at once than --max-articles still allows: each may be stored.
            chunk = entries[start : start + max(1, min(step, self._room(progress)))]
            start += len(chunk)
            done = await asyncio.gather(
                *(_process_entry(self.ctx, source, e, baseline, report, history) for e in chunk)
            )
            for outcome in done:
                _tally(progress, outcome)
            outcomes.extend(done)
        return outcomes, True

    def _room(self, progress: Progress) -> int:
        """How many more articles ``--max-articles`` lets this run store."""
        cap = self.request.max_articles
        return cap - progress.stored if cap is not None else self.request.concurrency

    def _reached_limit(self, progress: Progress, more: int = 0) -> bool:
        """``--max-articles``: stored (or, for a dry run, to fetch) in this run."""
        cap = self.request.max_articles
        if cap is None:
            return False
        if self.request.dry_run:
            return progress.discovered - progress.skipped >= cap
        return progress.stored >= cap


def _tally(progress: Progress, outcome: Outcome) -> None:
    if outcome == "skipped":
        progress.skipped += 1
        return
    progress.fetched += 1
    if outcome in ("new", "updated"):
        progress.stored += 1
    elif outcome == "failed":
        progress.failed += 1
    elif outcome in ("too_old", "too_new"):
        progress.outside += 1


def _walked_past(window: Window, dates: tuple[datetime, ...], outcomes: list[Outcome]) -> bool:
    """Whether a walk back in time has left the window: every date the page showed is
    older than ``since`` or, on a page without dates, every article read was."""
    if dates:
        return all(window.passed(d) for d in dates)
    read = [o for o in outcomes if o != "skipped"]
    return bool(read) and all(o == "too_old" for o in read)


def _advance(
    base: Checkpoint, cursor: dict[str, Any] | None, progress: Progress, *, done: bool
) -> Checkpoint:
    """The checkpoint after a page: the walker's cursor, and the counters of the runs
    before this one (``base``) plus this run's."""
    return replace(
        base,
        cursor=cursor,
        done=done or cursor is None,
        updated_at=utcnow(),
        pages=base.pages + progress.pages,
        discovered=base.discovered + progress.discovered,
        stored=base.stored + progress.stored,
        skipped=base.skipped + progress.skipped,
        failed=base.failed + progress.failed,
    )


_SPAN = re.compile(r"^\s*(\d+)\s*([dwmy])\s*$", re.IGNORECASE)
_DAYS = {"d": 1, "w": 7, "m": 30, "y": 365}


def moment(text: str, now: datetime | None = None) -> datetime:
    """A window bound from the command line: a date (``2025-01-31``), an ISO date-time,
    or a span back from today (``90d``, ``12w``, ``6m``, ``1y``). Spans start at
    midnight UTC, so the same command on the same day has the same window (and resumes
    its checkpoint)."""
    span = _SPAN.match(text)
    if span:
        today = (now or utcnow()).astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        return today - timedelta(days=int(span[1]) * _DAYS[span[2].lower()])
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(
            f"{text!r} is neither a date (2025-01-31) nor a span back from today (90d, 12w, 6m, 1y)"
        ) from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
