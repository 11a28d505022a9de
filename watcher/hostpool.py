"""Connection pools per host for the sources' client (used by :mod:`watcher.fetch`).

httpx's one shared pool (httpcore 1.0) walks every pooled connection on each request
and each release, polling every idle socket, and its keep-alive check is quadratic in
the pool's size. A pool large enough to keep one connection per polled host therefore
cost more CPU than it saved, and a small one (32) made a pass over 200 hosts open a
new connection for nearly every request. Here each host gets its own small pool (as
many connections as ``http.per_host`` allows in flight), so that bookkeeping is over
one or two connections, and a host's robots.txt, feed and article pages share a
connection.

At most ``max_hosts`` pools are kept: a pool unused for longer than the keep-alive
expiry is closed at the next request, and when a new host needs a pool and there is no
room, the least recently used idle one is closed. A pool with a response still open is
never closed (the bound is exceeded instead, briefly: the fetcher's global bound on
requests in flight keeps that small).
"""

from __future__ import annotations

import ssl
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import httpx

Clock = Callable[[], float]
_Key = tuple[str, str, int | None]


@dataclass(eq=False)
class _Pool:
    transport: httpx.AsyncHTTPTransport
    used: float  # clock time of the last request
    busy: int = 0  # responses not closed yet


class _Released(httpx.AsyncByteStream):
    """A response body that tells its pool when it is closed."""

    def __init__(self, stream: httpx.AsyncByteStream, pool: _Pool) -> None:
        self._stream = stream
        self._pool: _Pool | None = pool

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._stream:
            yield chunk

    async def aclose(self) -> None:
        try:
            await self._stream.aclose()
        finally:
            if self._pool is not None:  # once, however often it is closed
                self._pool.busy -= 1
                self._pool = None


class HostPools(httpx.AsyncBaseTransport):
    """An httpx transport that keeps one small connection pool per (scheme, host, port)."""

    def __init__(
        self,
        *,
        per_host: int,
        max_hosts: int,
        ssl_context: ssl.SSLContext,
        keepalive_expiry: float = 5.0,
        clock: Clock = time.monotonic,
    ) -> None:
        self._limits = httpx.Limits(
            max_connections=max(per_host, 1),
            max_keepalive_connections=max(per_host, 1),
            keepalive_expiry=keepalive_expiry,
        )
        self._max_hosts = max(max_hosts, 1)
        self._ssl = ssl_context
        self._expiry = keepalive_expiry
        self._clock = clock
        self._pools: OrderedDict[_Key, _Pool] = OrderedDict()  # least recently used first

    @property
    def hosts(self) -> int:
        """How many pools are open."""
        return len(self._pools)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        key = (url.scheme, url.host, url.port)
        now = self._clock()
        closing = self._stale(now, keep=key)
        pool = self._pools.get(key)
        if pool is None:
            closing += self._make_room(now)
            transport = httpx.AsyncHTTPTransport(verify=self._ssl, limits=self._limits)
            pool = self._pools[key] = _Pool(transport, now)
        else:
            self._pools.move_to_end(key)
            pool.used = now
        for old in closing:
            await old.transport.aclose()
        pool.busy += 1
        try:
            response = await pool.transport.handle_async_request(request)
        except BaseException:
            pool.busy -= 1
            raise
        assert isinstance(response.stream, httpx.AsyncByteStream)
        return httpx.Response(
            status_code=response.status_code,
            headers=response.headers,
            stream=_Released(response.stream, pool),
            extensions=response.extensions,
        )

    def _stale(self, now: float, keep: _Key) -> list[_Pool]:
        """Takes out the idle pools unused for longer than the keep-alive expiry (their
        connections have expired anyway), so that sockets the servers closed do not
        linger until their host is asked again. Looks at the oldest pools only: this
        runs at every request."""
        stale = now - self._expiry
        taken: list[_Pool] = []
        while self._pools:
            key, pool = next(iter(self._pools.items()))
            if pool.used > stale:
                break  # the rest were used more recently still
            if pool.busy or key == keep:
                self._in_use(key, pool, now)
            else:
                taken.append(self._pools.pop(key))
        return taken

    def _make_room(self, now: float) -> list[_Pool]:
        """Takes out the least recently used idle pools until a new one fits."""
        taken: list[_Pool] = []
        for _ in range(len(self._pools)):
            if len(self._pools) < self._max_hosts:
                break
            key, pool = next(iter(self._pools.items()))
            if pool.busy:
                self._in_use(key, pool, now)
            else:
                taken.append(self._pools.pop(key))
        return taken

    def _in_use(self, key: _Key, pool: _Pool, now: float) -> None:
        """A pool with a response open counts as used now (the order stays by use)."""
        self._pools.move_to_end(key)
        pool.used = now

    async def aclose(self) -> None:
        pools = list(self._pools.values())
        self._pools.clear()
        for pool in pools:
            await pool.transport.aclose()
