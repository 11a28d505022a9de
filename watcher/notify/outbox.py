"""Deliver stage: send what the outbox holds, retry what failed, never lose anything.

Events are written to the outbox in the same transaction as the version they announce
(see :meth:`watcher.store.Store.record_article`). Delivery is at least once: an event
is marked sent only after the receiver said yes, so a crash in between sends it again,
with the same id. Each sink is drained independently, so a dead sink never delays
another, and a sink that fails stops for this round (its failed event waits for its
backoff) instead of hammering a receiver that is down.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

import structlog

from watcher.config import DeliverySettings, DigestConfig
from watcher.errors import DeliveryError
from watcher.models import Delivery, Digest, Event, utcnow
from watcher.store import Store

log = structlog.get_logger("watcher.deliver")


class Sender(Protocol):
    """All the outbox needs of a sink. A sink that can also send several events as
    one message has ``send_digest(digest)``; for the others a digest is sent event by
    event, at the digest's time."""

    async def send(self, event: Event) -> None: ...


# A digest message holds at most this many events; more go out in further messages.
MAX_DIGEST_EVENTS = 200


@dataclass
class DeliveryReport:
    sent: int = 0
    failed: int = 0
    dead: int = 0
    by_sink: dict[str, int] = field(default_factory=dict)  # sent, by sink
    failed_by_sink: dict[str, int] = field(default_factory=dict)
    dead_by_sink: dict[str, int] = field(default_factory=dict)

    def add(self, other: DeliveryReport) -> None:
        self.sent += other.sent
        self.failed += other.failed
        self.dead += other.dead
        for mine, theirs in (
            (self.by_sink, other.by_sink),
            (self.failed_by_sink, other.failed_by_sink),
            (self.dead_by_sink, other.dead_by_sink),
        ):
            for sink, count in theirs.items():
                mine[sink] = mine.get(sink, 0) + count


def backoff(
    attempts: int,
    settings: DeliverySettings,
    retry_after: float | None = None,
    rand: Callable[[], float] = random.random,
) -> float:
    """Seconds before attempt ``attempts + 1``: exponential, capped, with jitter so that
    many events failing together do not all come back at the same instant."""
    base = float(settings.backoff) * (2.0 ** max(attempts - 1, 0))
    delay = min(base, float(settings.max_backoff))
    delay = delay / 2 + rand() * delay / 2
    if retry_after is not None:
        delay = max(delay, retry_after)
    return delay


class Outbox:
    """Drains due events to their sinks."""

    def __init__(
        self,
        store: Store,
        sinks: Mapping[str, Sender],
        settings: DeliverySettings,
        *,
        digests: Mapping[str, DigestConfig] | None = None,
        urgent_vendors: Collection[str] = (),
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._store = store
        self._sinks = sinks
        self._settings = settings
        self._digests = digests or {}
        self._urgent = frozenset(urgent_vendors)
        self._clock = clock

    async def deliver_due(
        self, *, batch: int = 100, sink_ids: Collection[str] | None = None
    ) -> DeliveryReport:
        """One round: every sink (or those named), concurrently, sends its due events
        in order."""
        report = DeliveryReport()
        await asyncio.gather(
            *(
                self._drain(sink_id, sink, report, batch)
                for sink_id, sink in self._sinks.items()
                if sink_ids is None or sink_id in sink_ids
            )
        )
        return report

    async def _drain(self, sink_id: str, sink: Sender, report: DeliveryReport, batch: int) -> None:
        digest = self._digests.get(sink_id)
        if digest is None:
            await self._send_each(
                sink_id, sink, self._store.due_deliveries(sink_id, self._clock(), batch), report
            )
            return
        # A digest sink: events naming a high-priority vendor go at once; the others
        # wait for the scheduled time, then go together.
        now = self._clock()
        due = self._store.due_deliveries(sink_id, now, limit=10 * MAX_DIGEST_EVENTS)
        urgent = [d for d in due if self._urgent.intersection(v.name for v in d.event.vendors)]
        if urgent and not await self._send_each(sink_id, sink, urgent, report):
            return
        until = digest.last_slot(now)
        sent_now = {d.event.id for d in urgent}
        held = [d for d in due if d.event.id not in sent_now and d.event.created_at < until]
        for start in range(0, len(held), MAX_DIGEST_EVENTS):
            chunk = held[start : start + MAX_DIGEST_EVENTS]
            send_digest = getattr(sink, "send_digest", None)
            if send_digest is None:
                if not await self._send_each(sink_id, sink, chunk, report):
                    return
                continue
            packed = Digest(
                until=until, every=digest.every, timezone=digest.timezone,
                events=tuple(d.event for d in chunk),
            )  # fmt: skip
            if not await self._send_digest(sink_id, send_digest, packed, chunk, report):
                return

    async def send_held(self, sink_id: str, schedule: DigestConfig) -> DeliveryReport:
        """Send the events a backfill held for ``sink_id`` now, as one digest (split in
        messages of MAX_DIGEST_EVENTS). If the sink fails, the events become ordinary
        pending ones, retried like any other: never lost, at worst not grouped."""
        report = DeliveryReport()
        sink = self._sinks[sink_id]
        held = self._store.held_deliveries(sink_id)
        send_digest = getattr(sink, "send_digest", None)
        for start in range(0, len(held), MAX_DIGEST_EVENTS):
            chunk = held[start : start + MAX_DIGEST_EVENTS]
            if send_digest is None:
                ok = await self._send_each(sink_id, sink, chunk, report)
            else:
                packed = Digest(
                    until=self._clock(), every=schedule.every, timezone=schedule.timezone,
                    events=tuple(d.event for d in chunk),
                )  # fmt: skip
                ok = await self._send_digest(sink_id, send_digest, packed, chunk, report)
            if not ok:
                self._store.release_held(sink_id)
                break
        return report

    async def _send_digest(
        self,
        sink_id: str,
        send_digest: Callable[[Digest], Awaitable[None]],
        digest: Digest,
        chunk: list[Delivery],
        report: DeliveryReport,
    ) -> bool:
        try:
            await send_digest(digest)
        except DeliveryError as exc:
            error, retry_after, retryable = str(exc), exc.retry_after, exc.retryable
        except Exception as exc:  # a bug in a sink must not stop delivery to the others
            log.exception("sink.crashed", sink=sink_id, digest_id=digest.id)
            error, retry_after, retryable = f"{type(exc).__name__}: {exc}", None, True
        else:
            self._store.mark_sent_many([d.event.id for d in chunk], sink_id, self._clock())
            report.sent += len(chunk)
            report.by_sink[sink_id] = report.by_sink.get(sink_id, 0) + len(chunk)
            log.info("digest.sent", sink=sink_id, digest_id=digest.id, events=len(chunk))
            return True
        for delivery in chunk:
            self._failure(sink_id, delivery, error, retry_after, retryable, report)
        return False

    async def _send_each(
        self, sink_id: str, sink: Sender, deliveries: list[Delivery], report: DeliveryReport
    ) -> bool:
        """Send events one by one; False when the sink failed (it waits for next round)."""
        for delivery in deliveries:
            event = delivery.event
            try:
                await sink.send(event)
            except DeliveryError as exc:
                error, retry_after, retryable = str(exc), exc.retry_after, exc.retryable
            except Exception as exc:  # a bug in a sink must not stop delivery to the others
                log.exception("sink.crashed", sink=sink_id, event_id=event.id)
                error, retry_after, retryable = f"{type(exc).__name__}: {exc}", None, True
            else:
                self._store.mark_sent(event.id, sink_id, self._clock())
                report.sent += 1
                report.by_sink[sink_id] = report.by_sink.get(sink_id, 0) + 1
                log.info("event.sent", sink=sink_id, event_id=event.id, type=event.type)
                continue
            if not self._failure(sink_id, delivery, error, retry_after, retryable, report):
                return False  # this sink is failing: the rest waits for the next round
        return True

    def _failure(
        self,
        sink_id: str,
        delivery: Delivery,
        error: str,
        retry_after: float | None,
        retryable: bool,
        report: DeliveryReport,
    ) -> bool:
        """Record a failed attempt; True when the event was parked as dead (the sink
        may still take the next one), False when it will be retried after a backoff."""
        event = delivery.event
        too_old = self._clock() - event.created_at >= timedelta(
            seconds=float(self._settings.max_age)
        )
        attempts = delivery.attempts + 1
        if not retryable or too_old or attempts >= self._settings.max_attempts:
            self._store.mark_failed(event.id, sink_id, error=error, next_attempt_at=None)
            report.dead += 1
            report.dead_by_sink[sink_id] = report.dead_by_sink.get(sink_id, 0) + 1
            log.error(
                "event.dead", sink=sink_id, event_id=event.id, attempts=attempts, error=error,
                hint="replay with: watcher deliver --retry-dead",
            )  # fmt: skip
            return True
        self._failed(sink_id, event.id, attempts, error, retry_after, report)
        return False

    def _failed(
        self,
        sink_id: str,
        event_id: str,
        attempts: int,
        error: str,
        retry_after: float | None,
        report: DeliveryReport,
    ) -> None:
        delay = backoff(attempts, self._settings, retry_after)
        self._store.mark_failed(
            event_id, sink_id, error=error, next_attempt_at=self._clock() + timedelta(seconds=delay)
        )
        report.failed += 1
        report.failed_by_sink[sink_id] = report.failed_by_sink.get(sink_id, 0) + 1
        log.warning(
            "event.retry", sink=sink_id, event_id=event_id, attempts=attempts,
            retry_in=round(delay, 1), error=error,
        )  # fmt: skip
