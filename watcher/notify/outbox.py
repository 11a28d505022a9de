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
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

import structlog

from watcher.config import DeliverySettings
from watcher.errors import DeliveryError
from watcher.models import Event, utcnow
from watcher.store import Store

log = structlog.get_logger("watcher.deliver")


class Sender(Protocol):
    """All the outbox needs of a sink."""

    async def send(self, event: Event) -> None: ...


@dataclass
class DeliveryReport:
    sent: int = 0
    failed: int = 0
    dead: int = 0
    by_sink: dict[str, int] = field(default_factory=dict)


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
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._store = store
        self._sinks = sinks
        self._settings = settings
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
        for delivery in self._store.due_deliveries(sink_id, self._clock(), batch):
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
            too_old = self._clock() - event.created_at >= timedelta(
                seconds=float(self._settings.max_age)
            )
            attempts = delivery.attempts + 1
            if not retryable or too_old or attempts >= self._settings.max_attempts:
                self._store.mark_failed(event.id, sink_id, error=error, next_attempt_at=None)
                report.dead += 1
                log.error(
                    "event.dead", sink=sink_id, event_id=event.id, attempts=attempts, error=error,
                    hint="replay with: watcher deliver --retry-dead",
                )  # fmt: skip
                continue  # that event is parked; the next one may well go through
            self._failed(sink_id, event.id, attempts, error, retry_after, report)
            return  # this sink is failing: the rest waits for the next round

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
        log.warning(
            "event.retry", sink=sink_id, event_id=event_id, attempts=attempts,
            retry_in=round(delay, 1), error=error,
        )  # fmt: skip
