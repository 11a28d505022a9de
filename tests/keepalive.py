"""Minimal HTTP/1.1 servers on many ports of 127.0.0.1, for the tests of connection
reuse: each answers a page with an ETag (304 when the client has it) and no
robots.txt, and they count the connections opened and closed and record each request
line."""

from __future__ import annotations

import asyncio

PAGE = b"<html><body><p>Hello</p></body></html>"


class KeepAliveSites:
    def __init__(self) -> None:
        self.opened = 0
        self.closed = 0
        self.lines: list[bytes] = []
        self.servers: list[asyncio.Server] = []
        self._changed = asyncio.Condition()

    async def start(self, count: int) -> list[str]:
        """``count`` more sites; their base URLs."""
        for _ in range(count):
            self.servers.append(await asyncio.start_server(self._handle, "127.0.0.1", 0))
        return [f"http://127.0.0.1:{s.sockets[0].getsockname()[1]}" for s in self.servers]

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.opened += 1
        try:
            while head := await reader.readuntil(b"\r\n\r\n"):
                line = head.split(b"\r\n", 1)[0]
                self.lines.append(line)
                if line.split(b" ")[1].endswith(b"/robots.txt"):
                    status, body = b"404 Not Found", b"none"
                elif b"if-none-match" in head.lower():
                    status, body = b"304 Not Modified", b""
                else:
                    status, body = b"200 OK", PAGE
                writer.write(
                    b"HTTP/1.1 " + status + b'\r\nETag: "v1"\r\nContent-Type: text/html\r\n'
                    b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()
            async with self._changed:
                self.closed += 1
                self._changed.notify_all()

    async def wait_closed(self, count: int) -> None:
        """Until ``count`` connections have been closed (10 s at most)."""
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(lambda: self.closed >= count), 10)

    def stop(self) -> None:
        for server in self.servers:
            server.close()
