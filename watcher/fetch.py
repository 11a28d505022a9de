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
import ipaddress
import random
import re
import time
import zlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt
from tenacity.wait import wait_base, wait_exponential_jitter

from watcher.config import HttpSettings
from watcher.errors import FetchError
from watcher.hostpool import HostPools
from watcher.models import Page, utcnow
from watcher.robots import (
    MAX_BYTES,
    RobotsStore,
    Rules,
    agent_token,
    origin_of,
    rules_from_response,
)
from watcher.urls import host_of

Sleep = Callable[[float], Awaitable[None]]

_TRANSIENT_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})
_TRANSIENT_REASONS = frozenset({"timeout", "connect", "network", "http_status"})
# A Retry-After longer than this is not waited for inside one poll: the source's health
# bookkeeping backs off instead.
_MAX_INLINE_RETRY_AFTER = 60.0
# Hosts whose connections are kept open between requests (see watcher.hostpool): about
# two sockets each at most, under a default limit of 1,024 open files.
MAX_POOLED_HOSTS = 256
# How long an idle connection is kept. Longer than httpx's 5 s: in a pass over many
# hosts a host's next request can come later than that (a slow run of
# benchmarks/polling.py opened 7,661 connections for 10,400 requests, others ~550).
# Keeping one the server has closed meanwhile costs nothing: httpcore sees it closed
# before reuse and reconnects.
KEEPALIVE_EXPIRY = 30.0


def make_client(http: HttpSettings) -> httpx.AsyncClient:
    """The one client every fetch goes through (explicit timeouts and pool limits)."""
    tls = httpx.create_ssl_context()  # one for every pool: loading the CAs takes ~30 ms
    pooled = 2 * max(http.concurrency, 1)
    return httpx.AsyncClient(
        timeout=httpx.Timeout(float(http.timeout), connect=float(http.connect_timeout)),
        verify=tls,
        # Every URL goes to a pool of its own host (watcher.hostpool says why), except
        # where the environment names a proxy: httpx mounts those (HTTP_PROXY,
        # HTTPS_PROXY, ALL_PROXY) on the more specific "http://" and "https://", and
        # NO_PROXY hosts on the default transport below.
        mounts={
            "all://": HostPools(
                per_host=http.per_host,
                max_hosts=max(MAX_POOLED_HOSTS, pooled),
                ssl_context=tls,
                keepalive_expiry=KEEPALIVE_EXPIRY,
            )
        },
        # The default transport (proxies, NO_PROXY hosts): both limits equal, because
        # httpcore 1.0 closes an idle connection whenever the pool holds more
        # connections (idle or not) than max_keepalive_connections.
        limits=httpx.Limits(max_connections=pooled, max_keepalive_connections=pooled),
        headers={
            "User-Agent": http.user_agent,
            # Only what _Inflater can decode with a size guard.
            "Accept-Encoding": "gzip, deflate",
            "Accept-Language": "fr, en;q=0.9, *;q=0.5",
        },
        # Redirects are followed by Fetcher, hop by hop, each hop checked.
        follow_redirects=False,
    )


_DECIMAL_SECONDS = re.compile(r"\d+\.\d+")


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP-date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    if _DECIMAL_SECONDS.fullmatch(value):  # "1.5": not RFC 9110, but some servers send it
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
    next_start: float = 0.0
    delay: float = 0.0
    users: int = 0  # requests holding or waiting for this host's slots


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
                raise self._corrupt() from None
            self._raw_deflate = False
            self._z = zlib.decompressobj(-zlib.MAX_WBITS)
            try:
                out = self._z.decompress(chunk, budget + 1)
            except zlib.error:
                raise self._corrupt() from None
        self._raw_deflate = False
        return out

    def _corrupt(self) -> FetchError:
        return FetchError("corrupt compressed body", url=self._url, reason="network")


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


_REDIRECTS = frozenset({301, 302, 303, 307, 308})
# Private, loopback, link-local and other non-public addresses a feed may not send us to.
_RESOLVE_TTL = 300.0
# What the fetcher remembers per host (politeness, robots.txt, DNS) is pruned this often
# (fetcher clock seconds): a daemon polling feeds that link to ever new hosts would
# otherwise keep every one it ever met. A host is forgotten after this long unused.
_PRUNE_EVERY = 3600.0
_IDLE_HOST = 3600.0


def _not_public(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return not ip.is_global or ip.is_multicast


class Fetcher:
    """Polite, bounded, retrying GETs over one shared client.

    Every URL, and every redirect hop, is checked before it is requested: http(s) only,
    no private or loopback address unless the caller allows it, and what the origin's
    robots.txt says for our user agent (whose Crawl-delay also raises the host delay).
    """

    def __init__(
        self,
        client: httpx.AsyncClient,
        http: HttpSettings,
        *,
        sleep: Sleep = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
        observe: Callable[[int | str, float | None], None] | None = None,
        robots_store: RobotsStore | None = None,
        now: Callable[[], datetime] = utcnow,
    ) -> None:
        self._client = client
        # Where robots.txt answers are kept between runs, and the wall clock that dates
        # them (``clock`` is monotonic: it means nothing to another process).
        self._robots_store = robots_store
        self._now = now
        self._http = http
        self._sleep = sleep
        self._clock = clock
        # Told about each request: its status (or why there was none) and duration.
        self._observe = observe
        self._global = asyncio.Semaphore(max(http.concurrency, 1))
        self._hosts: dict[str, _Host] = {}
        self._robots: dict[str, Rules] = {}
        self._robots_locks: dict[str, asyncio.Lock] = {}
        self._resolved: dict[str, tuple[float, bool]] = {}
        self._agent = agent_token(http.user_agent)
        self._next_prune = clock() + _PRUNE_EVERY

    def _prune(self) -> None:
        """Forget expired robots.txt rules and DNS answers, and hosts unused for a while
        (not one whose rules are still kept: its Crawl-delay lives in it)."""
        now = self._clock()
        if now < self._next_prune:
            return
        self._next_prune = now + _PRUNE_EVERY
        self._robots = {o: r for o, r in self._robots.items() if r.expires > now}
        self._robots_locks = {
            o: lock for o, lock in self._robots_locks.items() if o in self._robots or lock.locked()
        }
        self._resolved = {h: v for h, v in self._resolved.items() if v[0] > now}
        ruled = {host_of(origin) for origin in self._robots}
        self._hosts = {
            key: host
            for key, host in self._hosts.items()
            if host.users or key in ruled or now - host.next_start < _IDLE_HOST
        }

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
        allow_private: bool = False,
    ) -> Page:
        """GET ``url``; a 304 comes back as a Page with status 304 and no content.

        Raises ``FetchError`` once retries are exhausted, or at once for what retrying
        cannot fix (a 404, robots.txt, a private address, a redirect loop...).
        """
        self._prune()
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
                return await self._follow(url, headers, allow_private)
        raise AssertionError("unreachable: tenacity re-raises")  # pragma: no cover

    async def _follow(self, url: str, headers: dict[str, str], allow_private: bool) -> Page:
        """Request ``url``, following redirects ourselves so that each hop is checked
        and a loop is caught on its second visit, not after the cap."""
        seen = {url}
        current = url
        for _ in range(self._http.max_redirects + 1):
            await self._check(current, allow_private)
            page, location = await self._polite_attempt(current, headers)
            if page.status not in _REDIRECTS or not location:
                return replace(page, requested_url=url)
            target = urljoin(current, location)
            if target in seen:
                raise FetchError(f"redirect loop back to {target}", url=url, reason="redirects")
            seen.add(target)
            current = target
        raise FetchError(
            f"more than {self._http.max_redirects} redirects", url=url, reason="redirects"
        )

    async def _check(self, url: str, allow_private: bool) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise FetchError(f"refused URL {url!r}: only http(s)", url=url, reason="bad_url")
        if not allow_private and await self._is_private(parts.hostname, parts.port):
            raise FetchError(
                f"refused {parts.hostname}: a private or loopback address "
                "(allow_private: true on the source allows it)",
                url=url,
                reason="private",
            )
        rules = await self._robots_for(url)
        if not rules.allows(url, self._agent):
            if self._observe is not None:
                self._observe("robots", None)
            if rules.blocked:
                # RFC 9309: an unreachable robots.txt means "crawl nothing" for now. The
                # site is failing, not refusing us: report it as such.
                raise FetchError(
                    f"{rules.blocked}: nothing is fetched from this site until it answers",
                    url=url,
                    reason="robots_unavailable",
                )
            raise FetchError("disallowed by robots.txt", url=url, reason="robots")

    async def _is_private(self, host: str, port: int | None) -> bool:
        """Whether ``host`` is, or resolves to, a non-public address.

        The name is resolved here and again by the client when it connects; a resolver
        answering differently between the two could slip through. That is accepted:
        the guard is against feeds pointing at internal hosts, not against DNS attacks.
        A name that does not resolve is let through: the request fails on its own.
        """
        if _not_public(host.strip("[]")):
            return True
        # Special-use names (RFC 6761): .localhost is loopback; .example, .invalid and
        # .test never resolve publicly, so there is nothing to look up.
        name = host.lower().rstrip(".")
        if name == "localhost" or name.endswith(".localhost"):
            return True
        if name.endswith((".example", ".invalid", ".test")):
            return False
        cached = self._resolved.get(host)
        now = self._clock()
        if cached and cached[0] > now:
            return cached[1]
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(host, port or 443)
        except OSError:
            return False
        private = any(_not_public(str(info[4][0])) for info in infos)
        self._resolved[host] = (now + _RESOLVE_TTL, private)
        return private

    async def _robots_for(self, url: str) -> Rules:
        origin = origin_of(url)
        rules = self._robots.get(origin)
        if rules is not None and rules.expires > self._clock():
            return rules
        lock = self._robots_locks.setdefault(origin, asyncio.Lock())
        async with lock:  # one fetch of robots.txt per origin, however many ask at once
            rules = self._robots.get(origin)
            if rules is None or rules.expires <= self._clock():
                rules = await self._fetch_robots(origin)
                self._robots[origin] = rules
                delay = rules.crawl_delay(self._agent)
                if delay:
                    self.set_host_delay(url, min(delay, 60.0))
        return rules

    async def _fetch_robots(self, origin: str) -> Rules:
        stored = self._robots_store.robots_answer(origin) if self._robots_store else None
        if stored is not None:
            status, body, fetched_at = stored
            age = (self._now() - fetched_at).total_seconds()
            # As if answered ``age`` seconds ago: it expires when it would have.
            rules = rules_from_response(
                status,
                body,
                clock=lambda: self._clock() - age,
                error=body.decode("utf-8", "replace") if status is None and body else None,
            )
            if age >= 0 and rules.expires > self._clock():
                return rules
        status, body, error = await self._ask_robots(origin)
        if self._robots_store is not None:
            # No answer has no body: why there was none is kept in its place, so that the
            # next run (cron's ``watcher once``) still says why the site is unreachable.
            kept = error.encode() if status is None and error else body
            self._robots_store.save_robots_answer(origin, status, kept, self._now())
        return rules_from_response(status, body, clock=self._clock, error=error)

    async def _ask_robots(self, origin: str) -> tuple[int | None, bytes, str | None]:
        """``GET /robots.txt``: its status (None: no answer), body, and why it failed."""
        try:
            page, _location = await self._polite_attempt(f"{origin}/robots.txt", {})
        except FetchError as exc:
            return exc.status, b"", str(exc)
        if page.status in _REDIRECTS:  # a redirected robots.txt: treated as absent
            return 404, b"", None
        return page.status, page.content[:MAX_BYTES], None

    async def _polite_attempt(self, url: str, headers: dict[str, str]) -> tuple[Page, str | None]:
        host = self._host(url)
        host.users += 1  # not forgotten by _prune while in use
        try:
            return await self._polite_attempt_on(host, url, headers)
        finally:
            host.users -= 1

    async def _polite_attempt_on(
        self, host: _Host, url: str, headers: dict[str, str]
    ) -> tuple[Page, str | None]:
        async with host.slots:
            while True:
                wait = host.next_start - self._clock()
                if wait > 0:
                    await self._sleep(wait)  # no global slot held while a host makes us wait
                async with self._global:
                    # Waiting for the global slot may have let another request to this
                    # host start: then it is its gap we wait for, not ours.
                    if host.next_start > self._clock():
                        continue
                    jitter = random.uniform(0, host.delay * 0.1) if host.delay else 0.0
                    host.next_start = self._clock() + host.delay + jitter
                    started = time.monotonic()
                    try:
                        async with asyncio.timeout(float(self._http.timeout)):
                            answer = await self._attempt(url, headers)
                    except TimeoutError:
                        self._observed("timeout", started)
                        raise FetchError(
                            f"timed out after {self._http.timeout:g}s", url=url, reason="timeout"
                        ) from None
                    except FetchError as exc:
                        self._observed(exc.status or exc.reason, started)
                        raise
                    self._observed(answer[0].status, started)
                    return answer

    def _observed(self, status: int | str, started: float) -> None:
        if self._observe is not None:
            self._observe(status, time.monotonic() - started)

    async def _attempt(self, url: str, headers: dict[str, str]) -> tuple[Page, str | None]:
        cap = int(self._http.max_page_size)
        try:
            async with self._client.stream("GET", url, headers=headers) as response:
                location = response.headers.get("location")
                if response.status_code == 304 or (response.status_code in _REDIRECTS and location):
                    await _drain(response)
                    return self._page(url, response, b""), location
                if response.status_code >= 400:
                    raise FetchError(
                        f"HTTP {response.status_code}",
                        url=url,
                        status=response.status_code,
                        reason="http_status",
                        retry_after=parse_retry_after(response.headers.get("retry-after")),
                        body=await _head(response),
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
                return self._page(url, response, bytes(body)), None
        except httpx.TimeoutException as exc:
            raise FetchError(
                f"timed out ({type(exc).__name__})", url=url, reason="timeout"
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


async def _drain(response: httpx.Response, limit: int = 65_536) -> None:
    """Read a body nobody needs (a 304's, a redirect's), so that the connection goes
    back to the pool: one closed unread is closed for good. A big one is let go."""
    read = 0
    try:
        async for chunk in response.aiter_raw():
            read += len(chunk)
            if read > limit:
                return
    except httpx.HTTPError:
        pass


async def _head(response: httpx.Response, limit: int = 16_384) -> bytes:
    """The start of an error page: enough to tell a bot challenge from a plain 403."""
    body = bytearray()
    try:
        async for chunk in response.aiter_bytes():
            body += chunk
            if len(body) >= limit:
                break
    except httpx.HTTPError:
        pass
    return bytes(body[:limit])
