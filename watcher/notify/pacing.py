"""Spacing out one sink's requests, as chat services ask of their webhooks."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from watcher.errors import DeliveryError


class Pacer:
    """Keeps a minimum gap between two requests of one sink, and any longer pause the
    receiver asked for (rate-limit headers).

    A short wait is slept through; a wait longer than ``max_wait`` is handed back to
    the outbox as a :class:`DeliveryError` with ``retry_after``, so one rate-limited
    sink never holds the delivery loop for minutes.
    """

    def __init__(
        self,
        min_interval: float,
        *,
        what: str,
        max_wait: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._min_interval = min_interval
        self._what = what
        self._max_wait = max_wait
        self._clock = clock
        self._sleep = sleep
        self._next = 0.0

    async def wait(self) -> None:
        """Call before each request: sleeps until the next one may go, or refuses."""
        wait = self._next - self._clock()
        if wait > self._max_wait:
            raise DeliveryError(f"{self._what}: rate limited for {wait:.0f}s", retry_after=wait)
        if wait > 0:
            await self._sleep(wait)
        self._next = self._clock() + self._min_interval

    def hold(self, seconds: float) -> None:
        """The receiver asked for a pause: no request before ``seconds`` from now."""
        self._next = max(self._next, self._clock() + seconds)
