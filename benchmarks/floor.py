"""The least any httpx client can spend on a page: run (e) of ``benchmarks/polling.py``.

Fetches every URL of a file (one per line) with watcher's own client
(``watcher.fetch.make_client``: per-host connection pools, the same limits and headers),
as many requests in flight as watcher's default ``http.concurrency``, each body streamed
and then dropped; with ``--then parse`` each body is parsed by lexbor (selectolax) too,
with ``--then extract`` decoded and put through watcher's extractor (what watcher does
with an article page before matching and storing it). Nothing else: no robots.txt, no
feed, no politeness delay, no vendor matching, no database.
The URLs are taken round the hosts (one page of each host, then the next), as watcher's
passes do, so that each host's connection is reused. What it costs is a floor for any
client built on this stack, watcher included.

Run by ``benchmarks/polling.py`` as a child process (its CPU time and peak RSS are the
child's alone)::

    python benchmarks/floor.py URLS [--then parse|extract] [--concurrency 16]

Prints ``pages=N bytes=M`` on success, and exits 1 when a page did not answer 200.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections import defaultdict
from collections.abc import Sequence
from itertools import zip_longest
from pathlib import Path
from urllib.parse import urlsplit

import httpx
from selectolax.lexbor import LexborHTMLParser

from watcher.config import HttpSettings
from watcher.encoding import decode_html
from watcher.extract import extract
from watcher.fetch import make_client


async def fetch_all(urls: list[str], *, concurrency: int, then: str | None) -> tuple[int, int]:
    gate = asyncio.Semaphore(concurrency)
    pages = size = 0

    async def one(client: httpx.AsyncClient, url: str) -> None:
        nonlocal pages, size
        async with gate, client.stream("GET", url) as response:
            body = b"".join([chunk async for chunk in response.aiter_bytes()])
            if response.status_code != 200:
                raise SystemExit(f"{url}: HTTP {response.status_code}")
        if then == "parse":
            LexborHTMLParser(body)
        elif then == "extract":
            html, _encoding = decode_html(body, response.headers.get("content-type"))
            extract(html, url)
        pages += 1
        size += len(body)

    async with make_client(HttpSettings(concurrency=concurrency)) as client:
        await asyncio.gather(*(one(client, url) for url in round_the_hosts(urls)))
    return pages, size


def round_the_hosts(urls: list[str]) -> list[str]:
    """One URL of each host in turn, each host's URLs in their order."""
    by_host: dict[str, list[str]] = defaultdict(list)
    for url in urls:
        by_host[urlsplit(url).netloc].append(url)
    rounds = zip_longest(*by_host.values())
    return [url for round_ in rounds for url in round_ if url is not None]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("urls", type=Path, help="a file of URLs, one per line")
    parser.add_argument(
        "--then", choices=("parse", "extract"), help="what to do with each body (default: drop)"
    )
    parser.add_argument("--concurrency", type=int, default=16, help="requests in flight")
    args = parser.parse_args(argv)
    urls = [line.strip() for line in args.urls.read_text().splitlines() if line.strip()]
    pages, size = asyncio.run(fetch_all(urls, concurrency=args.concurrency, then=args.then))
    print(f"pages={pages} bytes={size}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
