"""The least any httpx client can spend on a page: run (e) of ``benchmarks/polling.py``.

Fetches every URL of a file (one per line) with one ``httpx.AsyncClient``, as many
requests in flight as watcher's default ``http.concurrency``, each body streamed and
then dropped; with ``--parse`` each body is parsed by lexbor (selectolax) too. Nothing
else: no robots.txt, no feed, no politeness, no extraction, no database. The URLs are
taken in the file's order, a site's pages one after the other, so that connections are
reused as much as the pool allows: the best case for the client, hence a floor for any
client built on httpx, watcher included.

Run by ``benchmarks/polling.py`` as a child process (its CPU time and peak RSS are the
child's alone)::

    python benchmarks/floor.py URLS [--parse] [--concurrency 16]

Prints ``pages=N bytes=M`` on success, and exits 1 when a page did not answer 200.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from pathlib import Path

import httpx
from selectolax.lexbor import LexborHTMLParser


async def fetch_all(urls: list[str], *, concurrency: int, parse: bool) -> tuple[int, int]:
    gate = asyncio.Semaphore(concurrency)
    pages = size = 0
    # The same pool limits as watcher.fetch.make_client at the same concurrency.
    limits = httpx.Limits(
        max_connections=2 * concurrency, max_keepalive_connections=2 * concurrency
    )

    async def one(client: httpx.AsyncClient, url: str) -> None:
        nonlocal pages, size
        async with gate, client.stream("GET", url) as response:
            body = b"".join([chunk async for chunk in response.aiter_bytes()])
            if response.status_code != 200:
                raise SystemExit(f"{url}: HTTP {response.status_code}")
        if parse:
            LexborHTMLParser(body)
        pages += 1
        size += len(body)

    async with httpx.AsyncClient(limits=limits, timeout=60.0) as client:
        await asyncio.gather(*(one(client, url) for url in urls))
    return pages, size


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("urls", type=Path, help="a file of URLs, one per line")
    parser.add_argument("--parse", action="store_true", help="parse each body with lexbor")
    parser.add_argument("--concurrency", type=int, default=16, help="requests in flight")
    args = parser.parse_args(argv)
    urls = [line.strip() for line in args.urls.read_text().splitlines() if line.strip()]
    pages, size = asyncio.run(fetch_all(urls, concurrency=args.concurrency, parse=args.parse))
    print(f"pages={pages} bytes={size}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
