"""The daemon's HTTP endpoints: ``/healthz``, ``/readyz``, ``/metrics``, ``/status``.

A few GET routes do not justify a web framework: h11 (already under httpx) parses
and writes HTTP/1.1, asyncio serves the connections in the daemon's own event loop,
so the answers see the live state without locks. Each connection serves one request.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import h11
import structlog

log = structlog.get_logger("watcher.service")

_READ_TIMEOUT = 10.0
_MAX_REQUEST = 16 * 1024


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes
    content_type: str = "application/json"

    @classmethod
    def json(cls, status: int, data: object) -> Answer:
        return cls(status, json.dumps(data, ensure_ascii=False, indent=2).encode() + b"\n")


Route = Callable[[], Awaitable[Answer]]


class Service:
    """Serves ``routes`` (path -> coroutine returning an Answer) on host:port."""

    def __init__(self, routes: dict[str, Route], host: str, port: int) -> None:
        self._routes = routes
        self._host = host
        self._port = port
        self._server: asyncio.Server | None = None

    @property
    def port(self) -> int:
        """The bound port (useful when 0 asked the system for a free one)."""
        if self._server is None or not self._server.sockets:
            return self._port
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, self._host, self._port)
        log.info("service.listening", host=self._host, port=self.port)

    async def aclose(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = h11.Connection(h11.SERVER, max_incomplete_event_size=_MAX_REQUEST)
        try:
            async with asyncio.timeout(_READ_TIMEOUT):
                request = await _read_request(conn, reader)
            if request is None:
                return
            answer = await self._answer(request)
            head = request.method == b"HEAD"
            writer.write(
                conn.send(
                    h11.Response(
                        status_code=answer.status,
                        headers=[
                            ("content-type", answer.content_type),
                            ("content-length", str(len(answer.body))),
                            ("cache-control", "no-store"),
                            ("connection", "close"),
                        ],
                    )
                )
                or b""
            )
            if not head:
                writer.write(conn.send(h11.Data(data=answer.body)) or b"")
            writer.write(conn.send(h11.EndOfMessage()) or b"")
            await writer.drain()
        except (TimeoutError, h11.RemoteProtocolError, ConnectionError):
            pass  # a slow, broken or vanished client: nothing to answer
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    async def _answer(self, request: h11.Request) -> Answer:
        if request.method not in (b"GET", b"HEAD"):
            return Answer.json(405, {"error": "only GET"})
        path = request.target.decode("ascii", "replace").split("?", 1)[0]
        route = self._routes.get(path)
        if route is None:
            return Answer.json(404, {"error": "not found", "paths": sorted(self._routes)})
        try:
            return await route()
        except Exception:  # an endpoint's bug must answer 500, not kill the daemon
            log.exception("service.crashed", path=path)
            return Answer.json(500, {"error": "internal error"})


async def _read_request(conn: h11.Connection, reader: asyncio.StreamReader) -> h11.Request | None:
    """The request line and headers (a GET has no body worth reading)."""
    while True:
        event = conn.next_event()
        if event is h11.NEED_DATA:
            data = await reader.read(4096)
            conn.receive_data(data)
            if not data and conn.their_state is h11.IDLE:
                return None  # connected and left
            continue
        if isinstance(event, h11.Request):
            return event
        if isinstance(event, h11.ConnectionClosed):
            return None
