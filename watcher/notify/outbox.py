"""Deliver stage: send what the outbox holds, retry what failed, never lose anything.

Events are written to the outbox in the same transaction as the version they announce
(see :meth:`watcher.store.Store.record_article`). Delivery is at least once: an event
is marked sent only after the receiver said yes, so a crash in between sends it again,
with the same id. Each sink is drained independently, so a dead sink never delays
another. A failed event waits for its own backoff while the sink goes on with the next
ones (a flaky receiver still gets its events at full speed); but a receiver that asked
for a pause (``Retry-After``) gets no request at all until it is over, and one that
failed ``DOWN_AFTER`` times in a row is taken to be down and left alone for
``delivery.interval`` between single tries, instead of being hammered.
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

# Failures in a row after which a sink's receiver is taken to be down. Fewer are a flaky
# receiver: at 30% random failures, five in a row come once in about 400 requests.
DOWN_AFTER = 5


@dataclass
class SinkState:
    """What the outbox remembers of a sink between rounds (in memory: after a restart,
    at most ``DOWN_AFTER`` requests find out again that a receiver is down)."""

    failures: int = 0  # retryable failures in a row
    resume_at: datetime | None = None  # no request before this (Retry-After, or down)


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
        self._state: dict[str, SinkState] = {}

    def sink_state(self, sink_id: str) -> SinkState:
        return self._state.setdefault(sink_id, SinkState())

    def _ready(self, sink_id: str) -> bool:
        """Whether the sink may be sent to now (not paused by Retry-After or as down)."""
        resume_at = self.sink_state(sink_id).resume_at
        return resume_at is None or self._clock() >= resume_at

    def _chosen(self, sink_ids: Collection[str] | None) -> list[tuple[str, Sender]]:
        return [
            (sink_id, sink)
            for sink_id, sink in self._sinks.items()
            if sink_ids is None or sink_id in sink_ids
        ]

    async def deliver_due(
        self, *, batch: int = 100, sink_ids: Collection[str] | None = None
    ) -> DeliveryReport:
        """One round: every sink (or those named) that is not paused, concurrently,
        sends its due events in order."""
        report = DeliveryReport()
        await asyncio.gather(
            *(
                self._drain(sink_id, sink, report, batch)
                for sink_id, sink in self._chosen(sink_ids)
                if self._ready(sink_id)
            )
        )
        return report

    async def deliver_all(
        self,
        *,
        batch: int = 100,
        sink_ids: Collection[str] | None = None,
        on_round: Callable[[DeliveryReport], None] | None = None,
    ) -> DeliveryReport:
        """Every sink (or those named), concurrently and each at its own pace, sends
        round after round until a round sends nothing: it has nothing due, or it is
        failing (then it waits for the next call). ``on_round`` sees each round's report."""
        total = DeliveryReport()

        async def drain(sink_id: str, sink: Sender) -> None:
            while self._ready(sink_id):
                report = DeliveryReport()
                await self._drain(sink_id, sink, report, batch)
                total.add(report)
                if on_round is not None:
                    on_round(report)
                if report.sent == 0:
                    return

        await asyncio.gather(*(drain(sink_id, sink) for sink_id, sink in self._chosen(sink_ids)))
        return total

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
            self.sink_state(sink_id).failures = 0
            return True
        for delivery in chunk:
            self._failure(sink_id, delivery, error, retry_after, retryable, report)
        if retryable:
            self._pause_if_failing(sink_id, retry_after)
        return False

    async def _send_each(
        self, sink_id: str, sink: Sender, deliveries: list[Delivery], report: DeliveryReport
    ) -> bool:
        """Send events one by one; False when the sink was paused (see the module
        docstring): the rest waits for the pause to end."""
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
                self.sink_state(sink_id).failures = 0
                log.info("event.sent", sink=sink_id, event_id=event.id, type=event.type)
                continue
            self._failure(sink_id, delivery, error, retry_after, retryable, report)
            # A refusal for good is about this event: the receiver is up, go on.
            if retryable and self._pause_if_failing(sink_id, retry_after):
                return False
        return True

    def _pause_if_failing(self, sink_id: str, retry_after: float | None) -> bool:
        """Count a retryable failure of the sink; pause it (True) when the receiver
        asked for a pause or has failed ``DOWN_AFTER`` times in a row."""
        state = self.sink_state(sink_id)
        state.failures += 1
        pause = retry_after or 0.0
        if state.failures >= DOWN_AFTER:
            pause = max(pause, float(self._settings.interval))
        if pause <= 0:
            return False
        state.resume_at = self._clock() + timedelta(seconds=pause)
        log.warning("sink.paused", sink=sink_id, seconds=round(pause, 1), failures=state.failures)
        return True

    def _failure(
        self,
        sink_id: str,
        delivery: Delivery,
        error: str,
        retry_after: float | None,
        retryable: bool,
        report: DeliveryReport,
    ) -> None:
        """Record a failed attempt: the event is parked as dead (refused for good, too
        old, or out of attempts) or will be retried after its backoff."""
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
            return
        self._failed(sink_id, event.id, attempts, error, retry_after, report)

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
        when = self._clock() + timedelta(seconds=delay)
        self._store.mark_failed(
            event_id, sink_id, error=error,
            # No wait asked for (backoff 0s): due again at once, not at the next second.
            next_attempt_at=_ceil_second(when) if delay > 0 else when,
        )  # fmt: skip
        report.failed += 1
        report.failed_by_sink[sink_id] = report.failed_by_sink.get(sink_id, 0) + 1
        log.warning(
            "event.retry", sink=sink_id, event_id=event_id, attempts=attempts,
            retry_in=round(delay, 1), error=error,
        )  # fmt: skip


def _ceil_second(moment: datetime) -> datetime:
    """The store keeps whole seconds: round a next attempt up, never down, or a
    ``Retry-After: 1`` could come due at once."""
    if moment.microsecond == 0:
        return moment
    return moment.replace(microsecond=0) + timedelta(seconds=1)
