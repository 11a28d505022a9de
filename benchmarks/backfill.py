"""Benchmark ``watcher backfill`` and the archive commands on a local archive (issue 8).

A server process (this script with ``--serve``) answers for ``--sites`` simulated news
sites on 127.0.0.1, one port each, holding ``--articles`` distinct articles between
them (``tests.sim.history_articles``: about half name a vendor), published over two
years. Half the sites expose a sitemap index of monthly urlsets (sources with
``history: {kind: sitemap, url: ...}``), the other half a paginated listing
``/news?page=N`` (``kind: listing``). Every request is logged by the server.

The real CLI then runs as a subprocess on a temporary config and state directory:

1. ``watcher backfill --since <a date before the oldest article>``: articles stored
   per second, CPU seconds of the watcher process and of the server, peak RSS of the
   watcher process (its VmHWM) and its RSS sampled at 10%/25%/50%/75%/100% of the
   articles read, so that memory growth with the archive's size shows.
2. Archive queries on what it stored: ``watcher.archive.search`` in-process (a mix of
   common and rare words, phrases, prefixes and filters; warm cache, median and p95),
   a cold ``watcher search`` (interpreter start included), ``watcher export --format
   jsonl`` of everything (rows/s, peak RSS) and ``watcher stats``.
3. Resume (unless ``--skip-resume``): a fresh backfill, stopped with SIGINT at ~50%
   (exit code 130 expected), then the same command again: article pages fetched twice
   (from the server's log; the target is 0), index pages read again, the resume's
   time. Then the crash variant: a fresh backfill of two sources (one of each kind)
   killed with SIGKILL halfway, and re-run: refetches expected <= concurrency per
   source.

Politeness is switched off for the local server (``http: {host_delay: 0s, retries:
0, per_host: <concurrency>}``, ``allow_private: true``): the figures are watcher's
own costs, not the configured delays.

Run it with ``make bench-backfill`` (options in ``BENCH_ARGS="..."``) or directly::

    .venv/bin/python benchmarks/backfill.py [--articles 100000] [--sites 20] [--seed 0]
        [--concurrency 4] [--skip-resume] [--skip-crash] [--queries-repeat 5]
        [--keep DIR] [--json FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import html
import json
import os
import resource
import shlex
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
SPAN_DAYS = 730  # the archive covers two years
LISTING_PAGE_SIZE = 20
PROGRESS_MARKS = (0.10, 0.25, 0.50, 0.75, 1.00)
VENDORS = """
vendors:
  - {name: Oracle Health, aliases: [Cerner]}
  - {name: Dedalus}
  - {name: Epic Systems, aliases: [Epic]}
  - {name: Doctolib}
  - {name: Maincare}
  - {name: Philips}
"""


# --- the server (a separate process: its CPU is not the watcher's) ------------------


@dataclass
class SimSiteData:
    """One simulated site: its articles (newest first) and pre-rendered index pages."""

    index: int
    kind: str  # "sitemap" | "listing"
    base: str = ""
    articles: list[Any] = field(default_factory=list)
    by_slug: dict[str, Any] = field(default_factory=dict)
    pages: dict[str, bytes] = field(default_factory=dict)  # index paths -> bodies


def archive_plan(articles: int, sites: int, seed: int, newest: datetime) -> list[SimSiteData]:
    """The sites and their articles (the server and the driver compute the same)."""
    from tests.sim import history_articles

    plans = []
    for k in range(sites):
        count = articles // sites + (1 if k < articles % sites else 0)
        every = SPAN_DAYS / max(count, 1)
        site = SimSiteData(index=k, kind="sitemap" if k % 2 == 0 else "listing")
        site.articles = history_articles(
            count, newest=newest - timedelta(minutes=7 * k), every=every, seed=seed * 1000 + k
        )
        plans.append(site)
    return plans


def render_indexes(site: SimSiteData) -> None:
    """Every index page of a site, rendered once (articles are rendered on request)."""
    from tests.sim import listing_page, urlset

    base, articles = site.base, site.articles
    site.by_slug = {a.slug: a for a in articles}
    feed = "".join(
        f"<item><title>{html.escape(a.title)}</title><link>{base}/articles/{a.slug}</link>"
        f"<pubDate>{format_datetime(a.published)}</pubDate></item>"
        for a in articles[:20]
    )
    site.pages["/feed.xml"] = (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>Site {site.index}</title><link>{base}/</link>{feed}</channel></rss>"
    ).encode()
    if site.kind == "sitemap":
        months: dict[str, list[Any]] = {}
        for article in articles:
            months.setdefault(article.published.strftime("%Y-%m"), []).append(article)
        children = "".join(
            f"<sitemap><loc>{base}/sitemaps/{m}.xml</loc>"
            f"<lastmod>{items[0].published.isoformat()}</lastmod></sitemap>"
            for m, items in months.items()
        )
        site.pages["/sitemap.xml"] = (
            '<?xml version="1.0" encoding="UTF-8"?><sitemapindex '
            f'xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{children}</sitemapindex>'
        ).encode()
        for month, items in months.items():
            site.pages[f"/sitemaps/{month}.xml"] = urlset(base, items).encode()
    else:
        pages = max(1, -(-len(articles) // LISTING_PAGE_SIZE))
        for n in range(1, pages + 1):
            chunk = articles[(n - 1) * LISTING_PAGE_SIZE : n * LISTING_PAGE_SIZE]
            body = listing_page(base, chunk, n, more=n < pages).encode()
            site.pages[f"/news?page={n}"] = body
            if n == 1:
                site.pages["/news"] = body


class Server:
    """The asyncio HTTP/1.1 server (keep-alive, GET only) for every site, and a control
    port: ``/_stats`` (counters, CPU, RSS) and ``/_take`` (the request log since the
    last take, one ``site kind time path`` line per request)."""

    def __init__(self, sites: list[SimSiteData]) -> None:
        self.sites = sites
        self.log: list[str] = []
        self.hits: Counter[str] = Counter()

    def answer(self, site: SimSiteData, target: str) -> tuple[int, str, bytes]:
        from tests.sim import article_page

        now = time.monotonic()
        if target.startswith("/articles/"):
            article = site.by_slug.get(target.removeprefix("/articles/"))
            kind = "article"
            if article is not None:
                body = article_page(article, site.base).encode()
                answer = (200, "text/html; charset=utf-8", body)
            else:
                answer = (404, "text/plain", b"not found")
        elif target in site.pages:
            kind = "other" if target == "/feed.xml" else "index"
            xml = target.endswith(".xml")
            ctype = "application/xml" if xml else "text/html; charset=utf-8"
            answer = (200, ctype, site.pages[target])
        else:
            kind = "other"  # robots.txt (404: everything allowed) and strays
            answer = (404, "text/plain", b"not found")
        self.hits[kind] += 1
        self.log.append(f"{site.index} {kind} {now:.4f} {target}")
        return answer

    def control(self, target: str) -> tuple[int, str, bytes]:
        if target.startswith("/_take"):
            lines, self.log = self.log, []
            return 200, "text/plain", ("\n".join(lines) + "\n" if lines else "").encode()
        usage = resource.getrusage(resource.RUSAGE_SELF)
        stats = {
            **self.hits,
            "cpu_s": usage.ru_utime + usage.ru_stime,
            "maxrss_mb": usage.ru_maxrss / 1024,
        }
        return 200, "application/json", json.dumps(stats).encode()

    async def connection(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        respond: Callable[[str], tuple[int, str, bytes]],
    ) -> None:
        try:
            while True:
                line = await reader.readline()
                if not line:
                    break
                while await reader.readline() not in (b"\r\n", b"\n", b""):
                    pass
                parts = line.decode("latin-1").split()
                target = parts[1] if len(parts) >= 2 else "/"
                status, ctype, body = respond(target)
                writer.write(
                    f"HTTP/1.1 {status} {'OK' if status == 200 else 'Not Found'}\r\n"
                    f"Content-Type: {ctype}\r\nContent-Length: {len(body)}\r\n\r\n".encode()
                    + body
                )
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    def _handler(
        self, site: SimSiteData
    ) -> Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]:
        def respond(target: str) -> tuple[int, str, bytes]:
            return self.answer(site, target)

        return lambda reader, writer: self.connection(reader, writer, respond)

    async def serve(self) -> None:
        servers = []
        ports = []
        for site in self.sites:
            server = await asyncio.start_server(self._handler(site), "127.0.0.1", 0)
            port = server.sockets[0].getsockname()[1]
            site.base = f"http://127.0.0.1:{port}"
            servers.append(server)
            ports.append(port)
        control = await asyncio.start_server(
            lambda r, w: self.connection(r, w, self.control), "127.0.0.1", 0
        )
        for site in self.sites:
            render_indexes(site)
        print(
            json.dumps({"control": control.sockets[0].getsockname()[1], "ports": ports}),
            flush=True,
        )
        # Until the driver closes our stdin.
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, sys.stdin.read)


def serve_main(args: argparse.Namespace) -> int:
    newest = datetime.fromisoformat(args.newest)
    sites = archive_plan(args.articles, args.sites, args.seed, newest)
    asyncio.run(Server(sites).serve())
    return 0


# --- the driver ------------------------------------------------------------------


class ServerProcess:
    def __init__(self, args: argparse.Namespace, newest: datetime) -> None:
        command = [
            sys.executable, str(Path(__file__).resolve()), "--serve",
            "--articles", str(args.articles), "--sites", str(args.sites),
            "--seed", str(args.seed), "--newest", newest.isoformat(),
        ]  # fmt: skip
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        self.process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, text=True
        )
        assert self.process.stdout is not None
        ready = json.loads(self.process.stdout.readline())
        self.control = f"http://127.0.0.1:{ready['control']}"
        self.ports: list[int] = ready["ports"]

    def _get(self, path: str) -> bytes:
        with urllib.request.urlopen(self.control + path, timeout=60) as response:
            body: bytes = response.read()
            return body

    def stats(self) -> dict[str, float]:
        stats: dict[str, float] = json.loads(self._get("/_stats"))
        return stats

    def take(self) -> list[tuple[int, str, float, str]]:
        """The requests since the last take: (site, kind, monotonic time, path)."""
        out = []
        for line in self._get("/_take").decode().splitlines():
            site, kind, when, path = line.split(" ", 3)
            out.append((int(site), kind, float(when), path))
        return out

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        finally:
            assert self.process.stdout is not None
            self.process.stdout.close()


@dataclass
class Run:
    """One watcher subprocess: its exit code, wall time, CPU and memory."""

    command: list[str]
    code: int = 0
    wall_s: float = 0.0
    cpu_s: float = 0.0
    maxrss_mb: float = 0.0
    rss_at: dict[str, float] = field(default_factory=dict)  # progress -> RSS (MB)
    server_cpu_s: float = 0.0
    signalled_at: float | None = None  # seconds after the start
    started: float = 0.0  # monotonic
    stdout: str = ""
    stderr: str = ""


def _memory_mb(pid: int) -> tuple[float, float] | None:
    """``(VmRSS, VmHWM)`` of a process, in MB. ``ru_maxrss`` from ``wait4`` cannot be
    used: the child is spawned with vfork, and Linux counts the parent's peak (this
    driver holds the whole simulated archive) in the child's ``ru_maxrss`` at exec."""
    found: dict[str, float] = {}
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith(("VmRSS:", "VmHWM:")):
                    found[line[:5]] = int(line.split()[1]) / 1024
    except OSError:
        return None
    if len(found) < 2:
        return None
    return found["VmRSS"], found["VmHWM"]


def run_watcher(
    workdir: Path,
    args: list[str],
    *,
    server: ServerProcess | None = None,
    expected: int = 0,
    stop_at: int | None = None,
    stop_signal: int = signal.SIGINT,
    name: str = "run",
) -> Run:
    """Run ``python -m watcher ARGS`` and measure it (``wait4``: CPU of that process
    alone; peak RSS: its VmHWM, read every 50-250 ms). With ``server``, RSS is also
    noted as the server counts the article pages served; with ``stop_at``,
    ``stop_signal`` is sent once that many article pages were served in this run."""
    command = [sys.executable, "-m", "watcher", *args]
    env = {**os.environ, "COLUMNS": "200", "WATCHER_LOG_FORMAT": "json"}
    out_path, err_path = workdir / f"{name}.out", workdir / f"{name}.err"
    result = Run(command=command)
    base = server.stats() if server else {}
    with out_path.open("w") as out, err_path.open("w") as err:
        result.started = started = time.monotonic()
        process = subprocess.Popen(command, stdout=out, stderr=err, env=env, cwd=workdir)
        marks = list(PROGRESS_MARKS)
        signalled = False
        while True:
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            memory = _memory_mb(process.pid)
            rss = memory[0] if memory else None
            if memory:
                result.maxrss_mb = max(result.maxrss_mb, memory[1])
            if server is not None:
                served = server.stats().get("article", 0) - base.get("article", 0)
                while marks and expected and served >= marks[0] * expected and rss:
                    result.rss_at[f"{marks.pop(0):.0%}"] = rss
                if stop_at is not None and not signalled and served >= stop_at:
                    process.send_signal(stop_signal)
                    result.signalled_at = time.monotonic() - started
                    signalled = True
            time.sleep(0.25 if server is not None else 0.05)
        result.wall_s = time.monotonic() - started
        process.returncode = result.code = os.waitstatus_to_exitcode(status)
    result.cpu_s = usage.ru_utime + usage.ru_stime
    if not result.maxrss_mb:  # no /proc: an upper bound (see _memory_mb)
        result.maxrss_mb = usage.ru_maxrss / 1024
    if server is not None:
        result.server_cpu_s = server.stats()["cpu_s"] - base.get("cpu_s", 0.0)
    result.stdout, result.stderr = out_path.read_text(), err_path.read_text()
    return result


def write_config(path: Path, sites: list[SimSiteData], ports: list[int], concurrency: int) -> None:
    lines = [
        "settings:",
        f"  http: {{host_delay: 0s, retries: 0, per_host: {concurrency}, timeout: 60s}}",
        VENDORS.strip("\n"),
        "sources:",
    ]
    for site, port in zip(sites, ports, strict=True):
        base = f"http://127.0.0.1:{port}"
        lines += [f"  - id: site{site.index:02d}", f"    name: Site {site.index}"]
        if site.kind == "sitemap":
            lines += [
                f"    url: {base}/feed.xml",
                f"    history: {{kind: sitemap, url: '{base}/sitemap.xml'}}",
            ]
        else:
            lines += ["    kind: listing", f"    url: {base}/news"]
        lines += ["    language: fr", "    allow_private: true"]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def stored_urls(state: Path) -> set[str]:
    db = sqlite3.connect(state / "watcher.db")
    try:
        return {url for (url,) in db.execute("SELECT url FROM articles WHERE version > 0")}
    finally:
        db.close()


def expected_urls(sites: list[SimSiteData], ports: list[int]) -> set[str]:
    return {
        f"http://127.0.0.1:{port}/articles/{a.slug}"
        for site, port in zip(sites, ports, strict=True)
        for a in site.articles
    }


def percentile(values: Sequence[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


@dataclass(frozen=True)
class Query:
    text: str
    label: str
    vendor: str | None = None
    sources: tuple[str, ...] = ()
    since_days: int | None = None  # only the last N days


QUERIES = (
    Query("projet", "common word (every article)"),
    Query("centre hospitalier", "common words"),
    Query('"annonce sa direction"', "common phrase"),
    Query("hopital", "no match"),
    Query("cybersecurite", "1 topic in 12, accents folded"),
    Query("imagerie medicale", "1 topic in 12"),
    Query("Epic", "vendor word"),
    Query("Dedalus Rennes", "two words"),
    Query('"dossier patient" Lille', "phrase + word"),
    Query("inter*", "prefix"),
    Query("télé*", "prefix, accented"),
    Query("lot 4217", "rare number"),
    Query("Maincare -Rennes", "exclusion"),
    Query("Epic OR Cerner", "OR"),
    Query("projet", "common word, --vendor", vendor="Dedalus"),
    Query("projet", "common word, --source", sources=("site01",)),
    Query("projet", "common word, --since 30d", since_days=30),
    Query("telemedecine", "topic, --vendor --since", vendor="Philips", since_days=365),
    Query("Strasbourg", "place, --source", sources=("site00", "site03")),
    Query("millions d'euros", "common words"),
)


def time_search(state: Path, repeat: int) -> dict[str, Any]:
    """Median/p95 of ``watcher.archive.search`` per query kind (warm: each query is run
    once before it is timed)."""
    from watcher.archive import search
    from watcher.store import ArchiveQuery, Store

    store = Store.open(state)
    now = datetime.now(UTC)
    per_query: list[dict[str, Any]] = []
    timings: list[float] = []
    try:
        for query in QUERIES:
            filters = ArchiveQuery(
                vendor=query.vendor,
                sources=query.sources,
                since=now - timedelta(days=query.since_days) if query.since_days else None,
                limit=20,
            )
            hits = search(store, query.text, filters)  # warm up
            spent = []
            for _ in range(repeat):
                started = time.perf_counter()
                search(store, query.text, filters)
                spent.append((time.perf_counter() - started) * 1000)
            timings += spent
            per_query.append(
                {
                    "query": query.text,
                    "label": query.label,
                    "hits": len(hits),
                    "median_ms": statistics.median(spent),
                }
            )
    finally:
        store.close()
    return {
        "median_ms": statistics.median(timings),
        "p95_ms": percentile(timings, 0.95),
        "max_ms": max(timings),
        "timed": len(timings),
        "queries": per_query,
    }


def article_paths(log: list[tuple[int, str, float, str]], kind: str = "article") -> Counter[str]:
    return Counter(f"{site} {path}" for site, k, _when, path in log if k == kind)


def twice(counts: Counter[str]) -> int:
    """Requests beyond the first for each path."""
    return sum(n - 1 for n in counts.values() if n > 1)


def resume_figures(
    logs: list[list[tuple[int, str, float, str]]],
) -> tuple[int, int, int]:
    """Across runs: article pages fetched again in a later run, index pages read again
    in a later run, and article pages fetched twice within one run."""
    refetched = reread = within = 0
    seen_articles: set[str] = set()
    seen_indexes: set[str] = set()
    for log in logs:
        articles, indexes = article_paths(log), article_paths(log, "index")
        refetched += len(seen_articles & articles.keys())
        reread += len(seen_indexes & indexes.keys())
        within += twice(articles)
        seen_articles |= articles.keys()
        seen_indexes |= indexes.keys()
    return refetched, reread, within


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Benchmark watcher backfill and the archive.")
    parser.add_argument("--articles", type=int, default=100_000, help="articles in all")
    parser.add_argument("--sites", type=int, default=20, help="simulated sites (half sitemaps)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--concurrency", type=int, default=4, help="backfill --concurrency")
    parser.add_argument("--skip-resume", action="store_true", help="no interrupted runs")
    parser.add_argument("--skip-crash", action="store_true", help="no SIGKILL variant")
    parser.add_argument("--queries-repeat", type=int, default=5, help="timings per query")
    parser.add_argument("--keep", type=Path, metavar="DIR", help="work here, and keep it")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write the results here")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--newest", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    if str(REPO) not in sys.path:  # run as a script: tests/ is not installed
        sys.path.insert(0, str(REPO))
    if args.serve:
        serve_main(args)
        return {}
    began = time.monotonic()

    def progress(message: str) -> None:
        print(f"[{time.monotonic() - began:7.1f}s] {message}", file=sys.stderr, flush=True)

    workdir = args.keep or Path(tempfile.mkdtemp(prefix="watcher-bench-backfill-"))
    workdir.mkdir(parents=True, exist_ok=True)
    newest = (datetime.now(UTC) - timedelta(hours=1)).replace(microsecond=0)
    sites = archive_plan(args.articles, args.sites, args.seed, newest)
    oldest = min(a.published for s in sites for a in s.articles)
    since = (oldest - timedelta(days=1)).date().isoformat()
    results: dict[str, Any] = {
        "command": shlex.join(
            ["python", "benchmarks/backfill.py", *(sys.argv[1:] if argv is None else argv)]
        ),
        "articles": args.articles,
        "sites": args.sites,
        "sitemap_sites": sum(s.kind == "sitemap" for s in sites),
        "listing_sites": sum(s.kind == "listing" for s in sites),
        "vendor_share": sum(" avec " in a.title for s in sites for a in s.articles)
        / max(args.articles, 1),
        "concurrency": args.concurrency,
        "since": since,
        "cpus": os.cpu_count(),
    }
    progress(f"serving {args.articles} articles on {args.sites} sites (work dir {workdir})")
    server = ServerProcess(args, newest)
    try:
        config = workdir / "sources.yaml"
        write_config(config, sites, server.ports, args.concurrency)
        expected = expected_urls(sites, server.ports)
        backfill = ["backfill", "--since", since, "--concurrency", str(args.concurrency)]

        def cli(state: Path, *command: str) -> list[str]:
            return ["--config", str(config), "--state", str(state), *command]

        # 1. The whole archive, in one run.
        state = workdir / "state-full"
        server.take()
        progress(f"backfill of {len(expected)} articles (--since {since})")
        full = run_watcher(
            workdir, cli(state, *backfill), server=server, expected=len(expected), name="full"
        )
        log = server.take()
        stored = stored_urls(state)
        results["full"] = {
            "exit_code": full.code,
            "wall_s": full.wall_s,
            "stored": len(stored),
            "expected": len(expected),
            "missing": len(expected - stored),
            "unexpected": len(stored - expected),
            "articles_per_s": len(stored) / full.wall_s if full.wall_s else 0.0,
            "cpu_s": full.cpu_s,
            "server_cpu_s": full.server_cpu_s,
            "maxrss_mb": full.maxrss_mb,
            "rss_at_mb": full.rss_at,
            "article_requests": sum(article_paths(log).values()),
            "fetched_twice": twice(article_paths(log)),
            "index_requests": sum(article_paths(log, "index").values()),
            "db_mb": sum(p.stat().st_size for p in state.iterdir() if p.is_file()) / 1e6,
        }
        if full.code != 0:
            progress(f"backfill exit code {full.code}: {full.stderr[-2000:]}")
        progress(
            f"stored {len(stored)}/{len(expected)} in {full.wall_s:.1f}s "
            f"({results['full']['articles_per_s']:.1f}/s), peak RSS {full.maxrss_mb:.0f} MB"
        )

        # 2. The archive commands over it.
        progress("search (in-process, warm)")
        results["search"] = time_search(state, args.queries_repeat)
        cold = run_watcher(workdir, cli(state, "search", "dossier patient"), name="search")
        results["search"]["cold_cli_s"] = cold.wall_s
        export_path = workdir / "export.jsonl"
        progress("export")
        exported = run_watcher(
            workdir, cli(state, "export", "--format", "jsonl", "-o", str(export_path)),
            name="export",
        )  # fmt: skip
        with export_path.open("rb") as rows_file:
            rows = sum(1 for _ in rows_file)
        results["export"] = {
            "exit_code": exported.code,
            "rows": rows,
            "wall_s": exported.wall_s,
            "rows_per_s": rows / exported.wall_s if exported.wall_s else 0.0,
            "maxrss_mb": exported.maxrss_mb,
            "mb": export_path.stat().st_size / 1e6,
        }
        export_path.unlink()
        stats = run_watcher(workdir, cli(state, "stats"), name="stats")
        results["stats"] = {"exit_code": stats.code, "wall_s": stats.wall_s}

        # 3. Interrupted and resumed.
        if not args.skip_resume:
            state = workdir / "state-resume"
            progress("backfill stopped with SIGINT at ~50%, then resumed")
            first = run_watcher(
                workdir, cli(state, *backfill), server=server, expected=len(expected),
                stop_at=len(expected) // 2, name="interrupted",
            )  # fmt: skip
            log1 = server.take()
            before = len(stored_urls(state))
            second = run_watcher(
                workdir, cli(state, *backfill), server=server, expected=len(expected),
                name="resumed",
            )  # fmt: skip
            log2 = server.take()
            after = stored_urls(state)
            refetched, reread, within = resume_figures([log1, log2])
            new_articles = [when for _s, kind, when, _p in log2 if kind == "article"]
            results["resume"] = {
                "interrupt_exit_code": first.code,
                "signalled_after_s": first.signalled_at,
                "stop_s": first.wall_s - (first.signalled_at or first.wall_s),
                "stored_at_interrupt": before,
                "resume_exit_code": second.code,
                "resume_wall_s": second.wall_s,
                "first_article_after_s": (min(new_articles) - second.started)
                if new_articles
                else None,
                "stored": len(after),
                "expected": len(expected),
                "missing": len(expected - after),
                "refetched": refetched + within,
                "index_reread": reread,
                "index_requests_resume": sum(article_paths(log2, "index").values()),
                "resumed_sources": second.stdout.count("(resumed)"),
            }
            progress(
                f"resume: {refetched + within} refetched, {reread} index pages re-read, "
                f"{second.wall_s:.1f}s"
            )
            if not args.skip_crash:
                results["crash"] = crash_variant(
                    workdir, server, sites, cli, backfill, expected, args.concurrency, progress
                )
    finally:
        results["server_maxrss_mb"] = server.stats().get("maxrss_mb")
        server.close()
        if args.keep is None:
            shutil.rmtree(workdir, ignore_errors=True)
    results["total_s"] = time.monotonic() - began
    print_report(results)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return results


def crash_variant(
    workdir: Path,
    server: ServerProcess,
    sites: list[SimSiteData],
    cli: Callable[..., list[str]],
    backfill: list[str],
    expected: set[str],
    concurrency: int,
    progress: Callable[[str], None],
) -> dict[str, Any]:
    """Two sources (a sitemap one and a listing one) backfilled, killed with SIGKILL
    halfway (no checkpoint of the page being read), and re-run."""
    chosen = [next(s for s in sites if s.kind == kind) for kind in ("sitemap", "listing")]
    only = [arg for s in chosen for arg in ("--source", f"site{s.index:02d}")]
    bases = tuple(f"http://127.0.0.1:{server.ports[s.index]}/" for s in chosen)
    want = {u for u in expected if u.startswith(bases)}
    state = workdir / "state-crash"
    progress(f"backfill of 2 sources killed with SIGKILL at ~50%, then re-run ({len(want)})")
    killed = run_watcher(
        workdir, cli(state, *backfill, *only), server=server, expected=len(want),
        stop_at=len(want) // 2, stop_signal=signal.SIGKILL, name="killed",
    )  # fmt: skip
    log1 = server.take()
    at_kill = len(stored_urls(state))
    rerun = run_watcher(
        workdir, cli(state, *backfill, *only), server=server, expected=len(want), name="rerun"
    )
    log2 = server.take()
    after = stored_urls(state)
    refetched, reread, within = resume_figures([log1, log2])
    return {
        "kill_exit_code": killed.code,
        "stored_at_kill": at_kill,
        "rerun_exit_code": rerun.code,
        "rerun_wall_s": rerun.wall_s,
        "stored": len(after),
        "expected": len(want),
        "missing": len(want - after),
        "refetched": refetched + within,
        "index_reread": reread,
        "sources": 2,
        "concurrency": concurrency,
    }


def print_report(r: dict[str, Any]) -> None:
    full = r["full"]
    print(f"\nwatcher backfill benchmark: {r['command']}")
    print(
        f"{r['articles']} articles on {r['sites']} local sites ({r['sitemap_sites']} sitemap "
        f"indexes of monthly urlsets, {r['listing_sites']} paginated listings of "
        f"{LISTING_PAGE_SIZE}), {r['vendor_share']:.0%} naming a vendor; {r['cpus']} CPUs."
    )
    print(
        "Politeness off for 127.0.0.1: http {host_delay: 0s, retries: 0, per_host: "
        f"{r['concurrency']}}}, allow_private: true; backfill --concurrency "
        f"{r['concurrency']} --since {r['since']}.\n"
    )
    rss = ", ".join(f"{k}: {v:.0f} MB" for k, v in full["rss_at_mb"].items())
    rows = [
        ("backfill: stored / expected", f"{full['stored']} / {full['expected']} "
         f"(missing {full['missing']}, exit {full['exit_code']})"),
        ("backfill: wall time", f"{full['wall_s']:.1f} s"),
        ("backfill: articles per second", f"{full['articles_per_s']:.1f}"),
        ("backfill: CPU, watcher process", f"{full['cpu_s']:.1f} s "
         f"({full['cpu_s'] / max(full['stored'], 1) * 1000:.1f} ms per article)"),
        ("backfill: CPU, server", f"{full['server_cpu_s']:.1f} s"),
        ("backfill: peak RSS (VmHWM, sampled)", f"{full['maxrss_mb']:.0f} MB"),
        ("backfill: RSS at progress", rss),
        ("backfill: requests", f"{full['article_requests']} articles "
         f"({full['fetched_twice']} twice), {full['index_requests']} index pages"),
        ("database size", f"{full['db_mb']:.0f} MB"),
    ]  # fmt: skip
    search = r["search"]
    rows += [
        ("search: median / p95 (in-process, warm)",
         f"{search['median_ms']:.1f} / {search['p95_ms']:.1f} ms "
         f"(max {search['max_ms']:.1f}; {search['timed']} timings, {len(QUERIES)} queries)"),
        ("search: cold CLI (interpreter start incl.)", f"{search['cold_cli_s']:.2f} s"),
        ("export --format jsonl", f"{r['export']['rows']} rows in {r['export']['wall_s']:.1f} s "
         f"({r['export']['rows_per_s']:.0f} rows/s, {r['export']['mb']:.0f} MB), "
         f"peak RSS {r['export']['maxrss_mb']:.0f} MB"),
        ("stats", f"{r['stats']['wall_s']:.2f} s"),
    ]  # fmt: skip
    if "resume" in r:
        res = r["resume"]
        rows += [
            ("resume: SIGINT at", f"{res['stored_at_interrupt']} stored, exit "
             f"{res['interrupt_exit_code']}, stopped {res['stop_s']:.1f} s after the signal"),
            ("resume: article pages fetched twice", str(res["refetched"])),
            ("resume: index pages read again", str(res["index_reread"])),
            ("resume: time (rest of the archive)", f"{res['resume_wall_s']:.1f} s, first new "
             f"article after {res['first_article_after_s'] or 0:.2f} s"),
            ("resume: stored / expected", f"{res['stored']} / {res['expected']} "
             f"(missing {res['missing']}, exit {res['resume_exit_code']})"),
        ]  # fmt: skip
    if "crash" in r:
        c = r["crash"]
        rows += [
            ("crash (SIGKILL, 2 sources)", f"{c['stored_at_kill']} stored at the kill; re-run "
             f"{c['rerun_wall_s']:.1f} s, {c['refetched']} article pages fetched twice "
             f"(bound {c['sources'] * c['concurrency']}), {c['index_reread']} index pages "
             f"again; stored {c['stored']} / {c['expected']}"),
        ]  # fmt: skip
    width = max(len(k) for k, _ in rows)
    print("| measure | value |\n|---|---|")
    for key, value in rows:
        print(f"| {key:<{width}} | {value} |")
    print("\nsearch queries (median ms, hits shown of at most 20):")
    for q in search["queries"]:
        print(f"  {q['median_ms']:7.1f} ms  {q['hits']:3d}  {q['query']!r}  ({q['label']})")


if __name__ == "__main__":
    main()
