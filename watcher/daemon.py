"""The core API: :class:`Watcher` owns the HTTP clients, the store, the sinks and, when
running as a daemon, the scheduler. The CLI, the tests and the benchmarks all drive it.

``run_once()`` polls every source once and delivers what is due (cron, tests, a first
look); ``run()`` schedules each source at its interval until asked to stop, then lets
in-flight polls finish within a grace period, cancels the rest and closes everything.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import signal
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import IO, Literal

import httpx
import structlog
from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from watcher._version import __version__
from watcher.archive import source_overview
from watcher.backfill import Backfill
from watcher.backfill import Request as BackfillRequest
from watcher.config import DigestConfig, Settings, SourceConfig
from watcher.config import load as load_config
from watcher.errors import ConfigError, WatcherError
from watcher.fetch import Fetcher, make_client
from watcher.maintenance import prune_in_batches
from watcher.match import VendorMatcher
from watcher.metrics import CONTENT_TYPE, Metrics
from watcher.models import EventType, isoformat, utcnow
from watcher.notify import SINK_KINDS, Sink
from watcher.notify.outbox import DeliveryReport, Outbox
from watcher.notify.sample import sample_digest, sample_event
from watcher.pipeline import Context, SourceReport, process_source
from watcher.service import Answer, Service
from watcher.store import Store

log = structlog.get_logger("watcher.daemon")


@dataclass
class RunReport:
    sources: list[SourceReport] = field(default_factory=list)
    delivery: DeliveryReport = field(default_factory=DeliveryReport)

    @property
    def events(self) -> int:
        return sum(s.events for s in self.sources)


class Watcher:
    """One watcher instance over a config and a state directory.

    Use as ``async with Watcher(settings, state_dir) as watcher: ...``.
    """

    def __init__(self, settings: Settings, state_dir: str | Path) -> None:
        self.settings = settings
        self.state_dir = Path(state_dir)
        self._store: Store | None = None
        self._client: httpx.AsyncClient | None = None
        self._sink_client: httpx.AsyncClient | None = None
        self._ctx: Context | None = None
        self._outbox: Outbox | None = None
        self._inflight: set[asyncio.Task[object]] = set()
        self._wake_delivery = asyncio.Event()
        self.sinks: dict[str, Sink] = {}
        self.metrics = Metrics(store=lambda: self._store)
        self._scheduler: AsyncIOScheduler | None = None
        self._retired_clients: list[httpx.AsyncClient] = []
        self.running = asyncio.Event()  # set once run() has started everything
        self.polls_done = 0  # scheduled polls finished since start (for waiting on them)
        self._polled = asyncio.Condition()
        self.started_at: datetime | None = None
        self.service: Service | None = None

    # --- life cycle ------------------------------------------------------------------

    async def start(self) -> None:
        """Open the store (applying migrations), the HTTP clients and the sinks."""
        store = Store.open(self.state_dir)
        self._store = store
        self._client = make_client(self.settings.http)
        self._sink_client = httpx.AsyncClient(
            headers={"User-Agent": self.settings.http.user_agent},
            follow_redirects=False,
            timeout=httpx.Timeout(15.0, connect=10.0),
        )
        self._apply(self.settings)

    def _apply(self, settings: Settings) -> None:
        """Build what depends on the configuration (sinks, pipeline context, outbox) and
        only then switch to it: a sink that fails to build leaves the old set running.
        Work already under way keeps the objects it started with."""
        assert self._store is not None and self._sink_client is not None
        sinks: dict[str, Sink] = {}
        for config in settings.sinks:
            sinks[config.id] = SINK_KINDS[config.kind](config, self._sink_client)
        if self._client is None or settings.http != self.settings.http:
            # Timeouts, user agent and pool limits live in the client: a new one; the
            # old one is closed at shutdown (polls in flight may still be using it).
            if self._client is not None:
                self._retired_clients.append(self._client)
            self._client = make_client(settings.http)
        ctx = Context(
            fetch=Fetcher(
                self._client,
                settings.http,
                observe=self.metrics.record_fetch,
                robots_store=self._store,
            ),
            store=self._store,
            matcher=VendorMatcher(settings.vendors),
            sinks=settings.sinks,
            notify_baseline=settings.notify_baseline,
            health=settings.health,
            entries_at_once=max(2 * settings.http.per_host, 2),
        )
        outbox = Outbox(
            self._store,
            sinks,
            settings.delivery,
            digests={s.id: s.digest for s in settings.sinks if s.digest is not None},
            urgent_vendors={v.name for v in settings.vendors if v.priority == "high"},
        )
        self._store.sync_sources((s.id, s.kind, s.url, s.name) for s in settings.sources)
        self.settings, self.sinks, self._ctx, self._outbox = settings, sinks, ctx, outbox

    @staticmethod
    def check_sinks(settings: Settings) -> None:
        """Build every sink once, as :meth:`start` would, so that what only a sink can
        check (a webhook secret's format, an optional extra) fails ``watcher check``."""
        client = httpx.AsyncClient()
        try:
            for config in settings.sinks:
                SINK_KINDS[config.kind](config, client)
        except ConfigError as exc:
            raise ConfigError(f"{settings.path}: {exc}") from None
        finally:
            asyncio.run(client.aclose())

    async def reload(self) -> bool:
        """Re-read the configuration file and apply it without a restart: sources
        added, removed and changed are (re)scheduled, sinks and vendors replaced. A
        configuration with errors is rejected, logged, and the old one keeps running."""
        try:
            new = load_config(self.settings.path)
            old = self.settings
            self._apply(new)
        except WatcherError as exc:
            log.error("config.reload_rejected", path=str(self.settings.path), error=str(exc))
            self.metrics.reloads.labels("rejected").inc()
            return False
        before = {s.id: s for s in old.sources if s.enabled}
        after = {s.id: s for s in new.sources if s.enabled}
        added = sorted(after.keys() - before.keys())
        removed = sorted(before.keys() - after.keys())
        changed = sorted(i for i in after.keys() & before.keys() if after[i] != before[i])
        if self._scheduler is not None:
            for source_id in removed:
                with contextlib.suppress(JobLookupError):
                    self._scheduler.remove_job(source_id)  # a poll in flight finishes
            for source_id in (*added, *changed):
                self._schedule(after[source_id])
            if new.retention.every != old.retention.every:
                self._schedule_retention()
        self.metrics.reloads.labels("applied").inc()
        log.info(
            "config.reloaded", added=added, removed=removed, changed=changed,
            sinks=list(self.sinks), vendors=len(new.vendors),
        )  # fmt: skip
        self._wake_delivery.set()
        return True

    async def aclose(self) -> None:
        """Close the clients and the database (safe to call twice)."""
        for client in (self._client, self._sink_client, *self._retired_clients):
            if client is not None:
                await client.aclose()
        self._client = self._sink_client = None
        self._retired_clients = []
        if self._store is not None:
            self._store.close()
            self._store = None

    async def __aenter__(self) -> Watcher:
        try:
            await self.start()
        except BaseException:
            await self.aclose()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    @property
    def store(self) -> Store:
        if self._store is None:
            raise RuntimeError("Watcher.start() has not been called")
        return self._store

    def _context(self) -> Context:
        if self._ctx is None:
            raise RuntimeError("Watcher.start() has not been called")
        return self._ctx

    # --- work ------------------------------------------------------------------------

    def select_sources(self, source_ids: Iterable[str] | None = None) -> list[SourceConfig]:
        """Enabled sources, or exactly those named (an unknown id is a ConfigError)."""
        if not source_ids:
            return [s for s in self.settings.sources if s.enabled]
        return [self.settings.source(sid) for sid in source_ids]

    def select_sinks(self, sink_ids: Iterable[str]) -> list[str]:
        """The sink ids named, checked against the config (an unknown id is a
        ConfigError; a sink skipped for a missing secret says so)."""
        for sink_id in sink_ids:
            if sink_id not in self.sinks:
                skipped = [w for w in self.settings.warnings if f"sink {sink_id!r}" in w]
                known = ", ".join(self.sinks) or "none"
                raise ConfigError(
                    skipped[0] if skipped else f"no sink with id {sink_id!r} (sinks: {known})"
                )
        return list(sink_ids)

    def retry_dead(self, sink_ids: Collection[str] | None = None) -> int:
        """Put parked (dead) events back in line for the sinks named (default: all)."""
        now = utcnow()
        if sink_ids is None:
            return self.store.requeue_dead(now)
        return sum(self.store.requeue_dead(now, s) for s in self.select_sinks(sink_ids))

    async def notify_test(self, sink_id: str, event_type: EventType, *, digest: bool) -> str:
        """Send a sample event (or digest) straight to one sink, bypassing the outbox;
        returns what was sent. Raises DeliveryError when the sink refused it."""
        (sink_id,) = self.select_sinks([sink_id])
        sink, config = self.sinks[sink_id], next(s for s in self.settings.sinks if s.id == sink_id)
        if digest:
            send_digest = getattr(sink, "send_digest", None)
            if send_digest is None:
                raise ConfigError(f"sink {sink_id!r} ({config.kind}) does not send digests")
            schedule = config.digest
            sample = sample_digest(
                self.settings.vendors,
                schedule.every if schedule else "daily",
                schedule.timezone if schedule else "UTC",
            )
            await send_digest(sample)
            return f"a sample digest of {len(sample.events)} events ({sample.id})"
        event = sample_event(event_type, self.settings.vendors)
        await sink.send(event)
        return f"a sample {event_type} event ({event.id})"

    async def poll(
        self, source_ids: Iterable[str] | None = None, *, force: bool = False
    ) -> list[SourceReport]:
        """Poll the sources once each, concurrently (the fetcher bounds the requests).
        Failing sources that are backing off are skipped unless ``force``."""
        ctx = self._context()
        sources = self.select_sources(source_ids)
        reports = await asyncio.gather(*(process_source(ctx, s, force=force) for s in sources))
        for report in reports:
            self._record(report)
        return list(reports)

    def backfill(
        self, request: BackfillRequest, source_ids: Iterable[str] | None = None
    ) -> Backfill:
        """A backfill of the sources named (default: all enabled), ready to ``run()``.
        With ``request.digest`` its events go to that sink only, held for
        :meth:`send_held`."""
        ctx = self._context()
        sources = self.select_sources(source_ids)
        if request.digest is not None:
            (sink_id,) = self.select_sinks([request.digest])
            ctx = replace(ctx, sinks=tuple(s for s in self.settings.sinks if s.id == sink_id))
        return Backfill(ctx, sources, request)

    async def send_held(self, sink_id: str) -> DeliveryReport:
        """Send what a backfill held for ``sink_id`` as one digest, now."""
        if self._outbox is None:
            raise RuntimeError("Watcher.start() has not been called")
        (sink_id,) = self.select_sinks([sink_id])
        config = next(s for s in self.settings.sinks if s.id == sink_id)
        report = await self._outbox.send_held(sink_id, config.digest or DigestConfig("daily"))
        self.metrics.record_delivery(report)
        return report

    def _record(self, report: SourceReport) -> None:
        self.metrics.record_poll(report)
        self.metrics.record_queued(report.queued)

    async def deliver(self, sink_ids: Collection[str] | None = None) -> DeliveryReport:
        """Send every event that is due now (to the sinks named, default all), each
        sink at its own pace, until none is left or the sinks still holding some are
        failing (they are tried again at the next call)."""
        if self._outbox is None:
            raise RuntimeError("Watcher.start() has not been called")
        if sink_ids is not None:
            self.select_sinks(sink_ids)
        return await self._outbox.deliver_all(
            sink_ids=sink_ids, on_round=self.metrics.record_delivery
        )

    async def run_once(
        self, source_ids: Iterable[str] | None = None, *, force: bool = False
    ) -> RunReport:
        """One pass: poll the sources, then deliver what is due."""
        sources = await self.poll(source_ids, force=force)
        delivery = await self.deliver()
        return RunReport(sources=sources, delivery=delivery)

    # --- the daemon ------------------------------------------------------------------

    async def run(
        self,
        stop: asyncio.Event,
        *,
        grace: float | None = None,
        http: tuple[str, int] | Literal["settings"] | None = "settings",
    ) -> None:
        """Poll on schedule and deliver continuously until ``stop`` is set.

        ``grace`` (default: settings.service.grace) is how long in-flight work may
        finish once stopping; ``http`` is where the endpoints listen (port 0: any free
        port), ``None`` for no endpoints; by default settings.service says (its port
        0 meaning none). Raises :class:`WatcherError`, before any poll, when the
        endpoints cannot listen there."""
        grace = float(self.settings.service.grace) if grace is None else grace
        if http == "settings":
            service_settings = self.settings.service
            http = (service_settings.host, service_settings.port) if service_settings.port else None
        # First: a port another process holds stops the start, before any poll.
        service = await self._start_service(*http) if http is not None else None
        try:
            await self._run(stop, grace)
        finally:
            if service is not None:
                await service.aclose()

    async def _run(self, stop: asyncio.Event, grace: float) -> None:
        scheduler = AsyncIOScheduler(timezone=UTC)
        self._scheduler = scheduler
        sources = self.select_sources()
        for source in sources:
            self._schedule(source)
        scheduler.start()
        self.started_at = utcnow()
        self._schedule_retention()
        delivery = asyncio.create_task(self._delivery_loop(stop), name="delivery")
        log.info("daemon.started", sources=len(sources), sinks=list(self.sinks))
        self.running.set()
        try:
            await stop.wait()
        finally:
            log.info("daemon.stopping", in_flight=len(self._inflight), grace=grace)
            scheduler.pause()
            await self._finish_inflight(grace)
            scheduler.shutdown(wait=False)
            self._wake_delivery.set()
            try:
                await asyncio.wait_for(delivery, timeout=grace)
            except TimeoutError:
                log.warning("daemon.delivery_cancelled")
            self._scheduler = None
            self.running.clear()
            log.info("daemon.stopped")

    async def _maintain(self) -> None:
        """The retention pass (see settings.retention)."""
        try:
            report = await prune_in_batches(self.store, self.settings.retention, utcnow())
        except Exception:  # retention failing must not stop the daemon
            log.exception("retention.crashed")
            return
        log.info("retention.applied", versions=report.versions, events=report.events)

    def _schedule_retention(self) -> None:
        """The retention pass, every ``settings.retention.every`` (a day by default);
        the first one 10 minutes after start, not in the start rush (or sooner, when
        ``every`` is shorter)."""
        assert self._scheduler is not None
        every = float(self.settings.retention.every)
        self._scheduler.add_job(
            self._maintain,
            IntervalTrigger(seconds=every),
            id="retention",
            name="retention",
            max_instances=1,
            coalesce=True,
            next_run_time=datetime.now(UTC) + timedelta(seconds=min(600.0, every)),
            replace_existing=True,
        )

    def _next_run(self, source_id: str) -> datetime | None:
        """When the scheduler will poll ``source_id`` next (a healthy source has no
        backoff date of its own)."""
        job = self._scheduler.get_job(source_id) if self._scheduler is not None else None
        when = getattr(job, "next_run_time", None)
        return when if isinstance(when, datetime) else None

    async def wait_polls(self, count: int) -> None:
        """Wait until ``count`` scheduled polls have finished (scripts and tests)."""
        async with self._polled:
            await self._polled.wait_for(lambda: self.polls_done >= count)

    def _schedule(self, source: SourceConfig) -> None:
        assert self._scheduler is not None
        self._scheduler.add_job(
            self._scheduled_poll,
            IntervalTrigger(seconds=float(source.interval), jitter=source.effective_jitter),
            args=[source],
            id=source.id,
            name=source.id,
            max_instances=1,  # a slow source never overlaps itself
            coalesce=True,  # runs missed while paused or busy collapse into one
            misfire_grace_time=max(int(source.interval), 1),
            next_run_time=datetime.now(UTC),
            replace_existing=True,
        )

    async def _start_service(self, host: str, port: int) -> Service:
        service = Service(
            {
                "/healthz": self._healthz,
                "/readyz": self._readyz,
                "/metrics": self._metrics,
                "/status": self._status,
            },
            host,
            port,
        )
        try:
            await service.start()
        except OSError as exc:
            # Refused rather than run blind: Docker's health check would only say
            # "unhealthy", with no reason given.
            reason = os.strerror(exc.errno) if exc.errno else str(exc)  # not the address again
            raise WatcherError(
                f"cannot answer /healthz, /readyz, /metrics and /status on {host}:{port} "
                f"({reason}): choose another port with service.port in the config, "
                "--http-port or $WATCHER_HTTP_PORT (0: no endpoints)"
            ) from None
        self.service = service
        return service

    # --- what the endpoints answer ---------------------------------------------------

    async def _healthz(self) -> Answer:
        alive = self._scheduler is not None and self._scheduler.running
        return Answer.json(200 if alive else 503, {"status": "ok" if alive else "stopped"})

    def readiness(self) -> tuple[bool, dict[str, str]]:
        """Whether the daemon does its job: database readable, scheduler running, and
        a source polled successfully recently (or the daemon only just started)."""
        checks: dict[str, str] = {}
        try:
            self.store.db.execute("SELECT 1").fetchone()
            checks["database"] = "ok"
        except Exception as exc:  # any failure to read means not ready
            checks["database"] = f"failing: {exc}"
        running = self._scheduler is not None and self._scheduler.running
        checks["scheduler"] = "ok" if running else "not running"
        sources = self.select_sources()
        if not sources:
            checks["polls"] = "ok (no source enabled)"
        else:
            window = max(3 * min(float(s.interval) for s in sources), 600.0)
            now = utcnow()
            last_ok = max(
                (s.last_ok_at for s in self.store.sources() if s.last_ok_at is not None),
                default=None,
            )
            if last_ok is not None and (now - last_ok).total_seconds() <= window:
                checks["polls"] = "ok"
            elif self.started_at and (now - self.started_at).total_seconds() <= window:
                checks["polls"] = "starting: no successful poll yet"
            else:
                checks["polls"] = f"no successful poll in the last {int(window)}s"
        ready = all(v.startswith("ok") or v.startswith("starting") for v in checks.values())
        ready = ready and not checks["polls"].startswith("starting")
        return ready, checks

    async def _readyz(self) -> Answer:
        ready, checks = self.readiness()
        return Answer.json(200 if ready else 503, {"ready": ready, "checks": checks})

    async def _metrics(self) -> Answer:
        return Answer(200, self.metrics.exposition(), CONTENT_TYPE)

    def status(self) -> dict[str, object]:
        """What ``/status`` shows: each source's state and the outbox, by sink."""
        rows = source_overview(self.settings, self.store)
        counts = self.store.outbox_counts()
        oldest = self.store.oldest_pending()
        return {
            "version": __version__,
            "started_at": isoformat(self.started_at),
            "sources": [
                {
                    "id": row.id,
                    "kind": row.kind,
                    "enabled": row.enabled,
                    "state": row.state.state,
                    "failures": row.state.failures,
                    "last_ok_at": isoformat(row.state.last_ok_at),
                    "next_poll_at": isoformat(row.state.next_poll_at or self._next_run(row.id)),
                    "last_error": row.state.last_error,
                    "articles": row.articles,
                }
                for row in rows
                if row.configured
            ],
            "sinks": {
                sink: {
                    "pending": counts.get((sink, "pending"), 0),
                    "dead": counts.get((sink, "dead"), 0),
                    "sent": counts.get((sink, "sent"), 0),
                    "oldest_pending_at": isoformat(oldest.get(sink)),
                }
                for sink in self.sinks
            },
        }

    async def _status(self) -> Answer:
        return Answer.json(200, self.status())

    async def _scheduled_poll(self, source: SourceConfig) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._inflight.add(task)
        try:
            report = await process_source(self._context(), source)
            self._record(report)
            async with self._polled:
                self.polls_done += 1
                self._polled.notify_all()
            if report.events:
                self._wake_delivery.set()
        except Exception:  # one source's bug must never stop the daemon
            log.exception("source.crashed", source=source.id)
        finally:
            self._inflight.discard(task)

    async def _finish_inflight(self, grace: float) -> None:
        if not self._inflight:
            return
        _done, pending = await asyncio.wait(set(self._inflight), timeout=grace)
        for task in pending:
            task.cancel()
        if pending:
            log.warning("daemon.polls_cancelled", count=len(pending))
            await asyncio.gather(*pending, return_exceptions=True)

    async def _delivery_loop(self, stop: asyncio.Event) -> None:
        interval = float(self.settings.delivery.interval)
        while True:
            try:
                await self.deliver()
            except Exception:
                log.exception("delivery.crashed")
            if stop.is_set():
                return
            self._wake_delivery.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake_delivery.wait(), timeout=interval)


async def serve(
    settings: Settings,
    state_dir: str | Path,
    *,
    grace: float | None = None,
    http: tuple[str, int] | Literal["settings"] | None = "settings",
    on_reload: Callable[[Settings], None] | None = None,
) -> None:
    """Run the daemon until SIGTERM or SIGINT, then stop cleanly; SIGHUP reloads the
    configuration (``on_reload`` then sees the new settings, e.g. to update logging).

    One daemon per state directory: a second one is refused (see :class:`DaemonLock`).
    """
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    with DaemonLock(state_dir):
        async with Watcher(settings, state_dir) as watcher:
            reloading: set[asyncio.Task[None]] = set()

            async def reload() -> None:
                if await watcher.reload() and on_reload is not None:
                    on_reload(watcher.settings)

            def hangup() -> None:
                task = asyncio.create_task(reload(), name="reload")
                reloading.add(task)
                task.add_done_callback(reloading.discard)

            for signum in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(signum, stop.set)
            loop.add_signal_handler(signal.SIGHUP, hangup)
            try:
                await watcher.run(stop, grace=grace, http=http)
            finally:
                for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                    loop.remove_signal_handler(signum)


class DaemonLock:
    """``state/watcher.pid``, locked while a daemon runs on that state: a second
    daemon would poll every source twice. ``watcher reload`` reads the pid from it."""

    NAME = "watcher.pid"

    def __init__(self, state_dir: str | Path) -> None:
        self.path = Path(state_dir) / self.NAME
        self._file: IO[str] | None = None

    def __enter__(self) -> DaemonLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = self.path.open("a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            other = handle.read().strip() or "?"
            handle.close()
            raise WatcherError(
                f"another watcher daemon (pid {other}) is running on {self.path.parent}"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        self._file = handle
        return self

    def __exit__(self, *exc: object) -> None:
        if self._file is not None:
            self._file.seek(0)
            self._file.truncate()
            fcntl.flock(self._file, fcntl.LOCK_UN)
            self._file.close()
            self._file = None

    @classmethod
    def running_pid(cls, state_dir: str | Path) -> int | None:
        """The pid of the daemon running on ``state_dir``, if one is."""
        path = Path(state_dir) / cls.NAME
        try:
            handle = path.open()
        except FileNotFoundError:
            return None
        with handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                text = handle.read().strip()
                return int(text) if text.isdigit() else None
            fcntl.flock(handle, fcntl.LOCK_UN)
            return None  # the file is there, nobody holds it: no daemon


__all__ = ["ConfigError", "DaemonLock", "RunReport", "Watcher", "serve"]
