"""Per-host connection pools (watcher.hostpool): a host's requests share a connection,
the number of pooled hosts is bounded without ever closing a connection in use, and a
proxy named by the environment is still used. Real sockets on 127.0.0.1."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from tests.keepalive import PAGE, KeepAliveSites
from watcher.config import HttpSettings
from watcher.fetch import make_client
from watcher.hostpool import HostPools


@pytest.fixture
async def sites() -> AsyncIterator[KeepAliveSites]:
    s = KeepAliveSites()
    try:
        yield s
    finally:
        s.stop()


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def pools(clock: Clock | None = None, *, max_hosts: int = 8) -> HostPools:
    return HostPools(
        per_host=2,
        max_hosts=max_hosts,
        ssl_context=httpx.create_ssl_context(),
        clock=clock or Clock(),
    )


async def test_each_host_keeps_its_connection_between_requests(sites: KeepAliveSites) -> None:
    bases = await sites.start(5)
    transport = pools()
    async with httpx.AsyncClient(transport=transport) as client:
        for round_ in range(3):
            for base in bases:
                assert (await client.get(f"{base}/a{round_}")).status_code == 200
        assert transport.hosts == 5
    assert sites.opened == 5


async def test_past_max_hosts_the_least_recently_used_host_is_closed(sites: KeepAliveSites) -> None:
    a, b, c, d = await sites.start(4)
    transport = pools(max_hosts=3)
    async with httpx.AsyncClient(transport=transport) as client:
        for base in (a, b, c, a):  # a used last: b is now the least recently used
            await client.get(f"{base}/x")
        await client.get(f"{d}/x")
        await sites.wait_closed(1)  # b's connection
        assert transport.hosts == 3
        await client.get(f"{a}/y")  # a kept its connection
        assert sites.opened == 4
        await client.get(f"{b}/y")  # b needs a new one
        assert sites.opened == 5


async def test_hosts_idle_past_the_keepalive_expiry_are_closed(sites: KeepAliveSites) -> None:
    a, b = await sites.start(2)
    clock = Clock()
    transport = pools(clock)
    async with httpx.AsyncClient(transport=transport) as client:
        await client.get(f"{a}/x")
        clock.now += 6  # the default expiry is 5 s
        await client.get(f"{b}/x")
        await sites.wait_closed(1)
        assert transport.hosts == 1


async def test_a_host_with_a_response_open_is_never_closed(sites: KeepAliveSites) -> None:
    a, b, c = await sites.start(3)
    clock = Clock()
    transport = pools(clock, max_hosts=1)
    async with httpx.AsyncClient(transport=transport) as client:
        async with client.stream("GET", f"{a}/slow") as response:
            clock.now += 60
            await client.get(f"{b}/x")  # over the bound rather than cut a's response
            assert transport.hosts == 2
            assert await response.aread() == PAGE
        await client.get(f"{c}/x")  # now a (and b) can go
        assert transport.hosts == 1
    assert sites.closed <= sites.opened == 3


async def test_a_failed_request_does_not_pin_its_host(sites: KeepAliveSites) -> None:
    (a,) = await sites.start(1)
    clock = Clock()
    transport = pools(clock, max_hosts=1)
    async with httpx.AsyncClient(transport=transport) as client:
        with pytest.raises(httpx.ConnectError):
            await client.get("http://127.0.0.1:9/")  # discard port: refused
        await client.get(f"{a}/x")
        assert transport.hosts == 1


async def test_a_proxy_from_the_environment_is_still_used(
    sites: KeepAliveSites, monkeypatch: pytest.MonkeyPatch
) -> None:
    (proxy,) = await sites.start(1)
    for name in ("ALL_PROXY", "HTTPS_PROXY", "NO_PROXY", "all_proxy", "https_proxy", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", proxy)
    monkeypatch.setenv("http_proxy", proxy)
    async with make_client(HttpSettings()) as client:
        response = await client.get("http://news.example/a")
    assert response.status_code == 200
    assert sites.lines == [b"GET http://news.example/a HTTP/1.1"]  # the proxy's request form
