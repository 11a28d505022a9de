"""Fetch stage: the only code that speaks HTTP to the sources.

One shared ``httpx.AsyncClient`` (made by :func:`make_client`), wrapped by
:class:`Fetcher`, which adds what a polite and robust crawler needs: a global and a
per-host concurrency bound, a minimum delay between two requests to one host,
conditional GETs, retries with backoff on transient failures only (tenacity), a
``Retry-After`` that is honoured, a total time limit, and a size cap enforced on the
*decompressed* body while it streams (so neither a 50 MB page nor a gzip bomb is ever
held in memory).
"""

from __future__ import annotations

import asyncio
import random
import time
import zlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt
from tenacity.wait import wait_base, wait_exponential_jitter

from watcher.config import HttpSettings
from watcher.errors import FetchError
from watcher.models import Page, utcnow
from watcher.urls import host_of

Sleep = Callable[[float], Awaitable[None]]

_TRANSIENT_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})
_TRANSIENT_REASONS = frozenset({"timeout", "connect", "network", "http_status"})
# A Retry-After longer than this is not waited for inside one poll: the source's health
# bookkeeping backs off instead.
_MAX_INLINE_RETRY_AFTER = 60.0


def make_client(http: HttpSettings) -> httpx.AsyncClient:
    """The one client every fetch goes through (explicit timeouts and pool limits)."""
    return httpx.AsyncClient(
        timeout=httpx.Timeout(float(http.timeout), connect=float(http.connect_timeout)),
        limits=httpx.Limits(
            max_connections=max(http.concurrency, 1) * 2,
            max_keepalive_connections=max(http.concurrency, 1),
        ),
        headers={
            "User-Agent": http.user_agent,
            # Only what _Inflater can decode with a size guard.
            "Accept-Encoding": "gzip, deflate",
            "Accept-Language": "fr, en;q=0.9, *;q=0.5",
        },
        follow_redirects=True,
        max_redirects=http.max_redirects,
    )


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP-date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    now = time.time() if now is None else now
    return max(0.0, moment.timestamp() - now)


@dataclass
class _Host:
    """Politeness state of one host."""

    slots: asyncio.Semaphore
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    next_start: float = 0.0
    delay: float = 0.0


class _Inflater:
    """Decodes Content-Encoding chunk by chunk, never producing more than the budget."""

    def __init__(self, encoding: str, url: str) -> None:
        encoding = encoding.strip().lower()
        self._url = url
        self._raw_deflate = False
        if encoding in ("", "identity"):
            self._z: Any = None
        elif encoding in ("gzip", "x-gzip"):
            self._z = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif encoding == "deflate":
            self._z = zlib.decompressobj(zlib.MAX_WBITS)
            self._raw_deflate = True  # servers send zlib-wrapped or raw deflate; try both
        else:
            raise FetchError(
                f"unsupported Content-Encoding {encoding!r}", url=url, reason="encoding"
            )

    def feed(self, chunk: bytes, budget: int) -> bytes:
        if self._z is None:
            return chunk
        try:
            out: bytes = self._z.decompress(chunk, budget + 1)
        except zlib.error:
            if not self._raw_deflate:
                raise FetchError(
                    "corrupt compressed body", url=self._url, reason="network"
                ) from None
            self._raw_deflate = False
            self._z = zlib.decompressobj(-zlib.MAX_WBITS)
            out = self._z.decompress(chunk, budget + 1)
        self._raw_deflate = False
        return out


class _WaitRetryAfter(wait_base):
    """Exponential backoff with jitter, or the server's Retry-After when it gave one."""

    def __init__(self) -> None:
        self._backoff = wait_exponential_jitter(initial=1, max=30, jitter=1)

    def __call__(self, retry_state: Any) -> float:
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        if isinstance(exc, FetchError) and exc.retry_after is not None:
            return min(exc.retry_after, _MAX_INLINE_RETRY_AFTER)
        return float(self._backoff(retry_state))


def _is_transient(exc: BaseException) -> bool:
    if not isinstance(exc, FetchError) or exc.reason not in _TRANSIENT_REASONS:
        return False
    if exc.reason == "http_status" and exc.status not in _TRANSIENT_STATUS:
        return False
    return exc.retry_after is None or exc.retry_after <= _MAX_INLINE_RETRY_AFTER


class Fetcher:
    """Polite, bounded, retrying GETs over one shared client."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        http: HttpSettings,
        *,
        sleep: Sleep = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._http = http
        self._sleep = sleep
        self._clock = clock
        self._global = asyncio.Semaphore(max(http.concurrency, 1))
        self._hosts: dict[str, _Host] = {}

    def _host(self, url: str) -> _Host:
        key = host_of(url)
        host = self._hosts.get(key)
        if host is None:
            host = _Host(slots=asyncio.Semaphore(max(self._http.per_host, 1)))
            host.delay = float(self._http.host_delay)
            self._hosts[key] = host
        return host

    def set_host_delay(self, url: str, seconds: float) -> None:
        """Raise the minimum gap between requests to ``url``'s host (e.g. Crawl-delay)."""
        host = self._host(url)
        host.delay = max(float(self._http.host_delay), seconds)

    async def get(
        self,
        url: str,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        accept: str | None = None,
    ) -> Page:
        """GET ``url``; a 304 comes back as a Page with status 304 and no content.

        Raises ``FetchError`` once retries are exhausted or for a non-retryable failure.
        """
        headers: dict[str, str] = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        if accept:
            headers["Accept"] = accept
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self._http.retries + 1),
            wait=_WaitRetryAfter(),
            retry=retry_if_exception(_is_transient),
            sleep=self._sleep,
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                return await self._polite_attempt(url, headers)
        raise AssertionError("unreachable: tenacity re-raises")  # pragma: no cover

    async def _polite_attempt(self, url: str, headers: dict[str, str]) -> Page:
        host = self._host(url)
        async with host.slots:
            async with host.lock:
                wait = host.next_start - self._clock()
                if wait > 0:
                    await self._sleep(wait)
                jitter = random.uniform(0, host.delay * 0.1) if host.delay else 0.0
                host.next_start = self._clock() + host.delay + jitter
            async with self._global:
                try:
                    async with asyncio.timeout(float(self._http.timeout)):
                        return await self._attempt(url, headers)
                except TimeoutError:
                    raise FetchError(
                        f"timed out after {self._http.timeout:g}s", url=url, reason="timeout"
                    ) from None

    async def _attempt(self, url: str, headers: dict[str, str]) -> Page:
        cap = int(self._http.max_page_size)
        try:
            async with self._client.stream("GET", url, headers=headers) as response:
                if response.status_code == 304:
                    return self._page(url, response, b"")
                if response.status_code >= 400:
                    raise FetchError(
                        f"HTTP {response.status_code}",
                        url=url,
                        status=response.status_code,
                        reason="http_status",
                        retry_after=parse_retry_after(response.headers.get("retry-after")),
                    )
                encoding = response.headers.get("content-encoding", "")
                declared = response.headers.get("content-length", "")
                if not encoding and declared.isdigit() and int(declared) > cap:
                    raise FetchError(
                        f"page of {int(declared)} bytes is over the {cap}-byte cap",
                        url=url,
                        reason="too_large",
                    )
                inflater = _Inflater(encoding, url)
                body = bytearray()
                async for chunk in response.aiter_raw():
                    body += inflater.feed(chunk, cap - len(body))
                    if len(body) > cap:
                        raise FetchError(
                            f"page is over the {cap}-byte cap", url=url, reason="too_large"
                        )
                return self._page(url, response, bytes(body))
        except httpx.TimeoutException as exc:
            raise FetchError(
                f"timed out ({type(exc).__name__})", url=url, reason="timeout"
            ) from exc
        except httpx.TooManyRedirects as exc:
            raise FetchError(
                "too many redirects (or a redirect loop)", url=url, reason="redirects"
            ) from exc
        except httpx.ConnectError as exc:
            raise FetchError(f"cannot connect: {exc}", url=url, reason="connect") from exc
        except (httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:
            raise FetchError(f"refused URL: {exc}", url=url, reason="bad_url") from exc
        except httpx.HTTPError as exc:
            raise FetchError(f"{type(exc).__name__}: {exc}", url=url, reason="network") from exc

    @staticmethod
    def _page(url: str, response: httpx.Response, content: bytes) -> Page:
        return Page(
            url=str(response.url),
            requested_url=url,
            status=response.status_code,
            content=content,
            content_type=response.headers.get("content-type"),
            etag=response.headers.get("etag"),
            last_modified=response.headers.get("last-modified"),
            fetched_at=utcnow(),
        )
