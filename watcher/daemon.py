"""The core API: :class:`Watcher` owns the HTTP clients, the store, the sinks and, when
running as a daemon, the scheduler. The CLI, the tests and the benchmarks all drive it.

``run_once()`` polls every source once and delivers what is due (cron, tests, a first
look); ``run()`` schedules each source at its interval until asked to stop, then lets
in-flight polls finish within a grace period, cancels the rest and closes everything.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType

import httpx
import structlog
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from watcher.config import Settings, SourceConfig
from watcher.errors import ConfigError
from watcher.fetch import Fetcher, make_client
from watcher.match import VendorMatcher
from watcher.models import EventType, utcnow
from watcher.notify import SINK_KINDS, Sink
from watcher.notify.outbox import DeliveryReport, Outbox
from watcher.notify.sample import sample_digest, sample_event
from watcher.pipeline import Context, SourceReport, process_source
from watcher.store import Store

log = structlog.get_logger("watcher.daemon")

DEFAULT_GRACE = 10.0


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

    # --- life cycle ------------------------------------------------------------------

    async def start(self) -> None:
        """Open the store (applying migrations), the HTTP clients and the sinks."""
        store = Store.open(self.state_dir)
        self._store = store
        store.sync_sources((s.id, s.kind, s.url, s.name) for s in self.settings.sources)
        self._client = make_client(self.settings.http)
        self._sink_client = httpx.AsyncClient(
            headers={"User-Agent": self.settings.http.user_agent},
            follow_redirects=False,
            timeout=httpx.Timeout(15.0, connect=10.0),
        )
        sinks: dict[str, Sink] = {}
        for config in self.settings.sinks:
            sinks[config.id] = SINK_KINDS[config.kind](config, self._sink_client)
        self.sinks = sinks
        self._ctx = Context(
            fetch=Fetcher(self._client, self.settings.http),
            store=store,
            matcher=VendorMatcher(self.settings.vendors),
            sinks=self.settings.sinks,
            notify_baseline=self.settings.notify_baseline,
            health=self.settings.health,
        )
        self._outbox = Outbox(
            store,
            sinks,
            self.settings.delivery,
            digests={s.id: s.digest for s in self.settings.sinks if s.digest is not None},
            urgent_vendors={v.name for v in self.settings.vendors if v.priority == "high"},
        )

    async def aclose(self) -> None:
        """Close the clients and the database (safe to call twice)."""
        for client in (self._client, self._sink_client):
            if client is not None:
                await client.aclose()
        self._client = self._sink_client = None
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
        return list(await asyncio.gather(*(process_source(ctx, s, force=force) for s in sources)))

    async def deliver(self, sink_ids: Collection[str] | None = None) -> DeliveryReport:
        """Send every event that is due now, sink by sink (or to the sinks named),
        until none is left."""
        if self._outbox is None:
            raise RuntimeError("Watcher.start() has not been called")
        if sink_ids is not None:
            self.select_sinks(sink_ids)
        total = DeliveryReport()
        while True:
            report = await self._outbox.deliver_due(sink_ids=sink_ids)
            total.sent += report.sent
            total.failed += report.failed
            total.dead += report.dead
            for sink, count in report.by_sink.items():
                total.by_sink[sink] = total.by_sink.get(sink, 0) + count
            if report.sent == 0 or report.failed or report.dead:
                return total

    async def run_once(
        self, source_ids: Iterable[str] | None = None, *, force: bool = False
    ) -> RunReport:
        """One pass: poll the sources, then deliver what is due."""
        sources = await self.poll(source_ids, force=force)
        delivery = await self.deliver()
        return RunReport(sources=sources, delivery=delivery)

    # --- the daemon ------------------------------------------------------------------

    async def run(self, stop: asyncio.Event, *, grace: float = DEFAULT_GRACE) -> None:
        """Poll on schedule and deliver continuously until ``stop`` is set."""
        scheduler = AsyncIOScheduler(timezone=UTC)
        sources = self.select_sources()
        for source in sources:
            scheduler.add_job(
                self._scheduled_poll,
                IntervalTrigger(seconds=float(source.interval), jitter=source.effective_jitter),
                args=[source],
                id=source.id,
                name=source.id,
                max_instances=1,  # a slow source never overlaps itself
                coalesce=True,  # runs missed while paused or busy collapse into one
                misfire_grace_time=max(int(source.interval), 1),
                next_run_time=datetime.now(UTC),
            )
        scheduler.start()
        delivery = asyncio.create_task(self._delivery_loop(stop), name="delivery")
        log.info("daemon.started", sources=len(sources), sinks=list(self.sinks))
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
            log.info("daemon.stopped")

    async def _scheduled_poll(self, source: SourceConfig) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._inflight.add(task)
        try:
            report = await process_source(self._context(), source)
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


async def serve(settings: Settings, state_dir: str | Path, *, grace: float = DEFAULT_GRACE) -> None:
    """Run the daemon until SIGTERM or SIGINT, then stop cleanly."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        async with Watcher(settings, state_dir) as watcher:
            await watcher.run(stop, grace=grace)
    finally:
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)


__all__ = ["ConfigError", "RunReport", "Watcher", "serve"]
