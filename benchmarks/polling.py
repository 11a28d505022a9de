"""Polling benchmark (issue 5): what a pass of ``watcher once`` costs, against urlwatch.

A simulated news web (``benchmarks/newsweb.py``: one port of 127.0.0.1 per site, an RSS
feed and article pages of a realistic weight, ETag and Last-Modified on everything) is
polled by the real command line, each run a subprocess with its own generated
``sources.yaml`` and state directory in a temporary directory (removed at the end):

    python -m watcher --config sources.yaml --state state --log-format json once

Each source is ``kind: feed`` on a site's ``/feed.xml``, ``allow_private: true`` (the
sites are on 127.0.0.1); the watched vendors are those of the repository's
``sources.yaml`` (25 vendors, ~90 names and products); there is no sink (a first pass is
a silent baseline anyway). Settings are the defaults except ``http.host_delay: 0s``: the
default 1 s between two requests to one host would make wall time measure politeness
(~50 s a pass), not work. Logs (JSON lines, info level, the default) go to a file.

Runs, in this order, in one process (figures within one run are comparable):

a. **first pass**: ``--sources`` sources x ``--articles`` new articles each, on an empty
   state: every feed and every page is fetched, read and stored (a silent baseline).
b. **no-change pass**: the same command again, nothing changed on the sites. With the
   default re-check schedule (young articles re-read every 6 h) no article is due, so
   this is each feed's conditional GET (304) and each site's robots.txt.
b'. **no-change pass, every article re-checked**: the same state with
   ``defaults.recheck_every: 0s``, so that every article page is asked for again too
   (conditional GET, 304): what a pass costs when everything is due.
c. **urlwatch** (unless ``--skip-urlwatch``): one ``url`` job per article page (the
   canonical address, ``filter: [{css: div.article-body}]``), run twice with
   ``urlwatch --urls --config --cache --hooks`` in the temporary directory (and ``HOME``
   and the XDG directories pointed there too, so it never touches ``~``): the first run
   fetches and stores every page, the second sends urlwatch's own conditional GETs
   (``If-None-Match``) and gets 304s. Its report goes to a file.
d. **steady state** at ``--steady-sources`` sources (unless ``--skip-steady``): a first
   pass with ``--steady-articles`` articles each, then ``--steady-passes`` no-change
   passes; the peak RSS of each is reported.
e. **floor** (unless ``--skip-floor``; run after c, before d): ``benchmarks/floor.py``
   fetches the same article pages with watcher's own httpx client and nothing else (no
   robots.txt, feed, politeness delay, vendor matching or database), round the hosts;
   then again parsing each page with lexbor; then again putting each page through
   watcher's extractor. Not targets: what reading a page costs at the least on this
   stack (httpx, selectolax), and with the extraction issue 3 asks for, to hold the
   first-pass target against.

Measures, per run: wall time (``time.perf_counter`` around the subprocess), CPU time
and peak RSS of the child (user + system time and ``ru_maxrss`` from ``os.wait4``, the
child alone), the pages it read (article pages answered 200 by the server, from the
server's own counts), and the server's CPU time over the run (its thread's
``RUSAGE_THREAD``, so that a slow server would show, not hide in the child's figures).
"pages per CPU second" is pages / child CPU seconds. Counts of stored articles are read
from the state database afterwards (``articles`` rows with a version).

Targets (issue 5): (b) a no-change pass costs at most 5% of the first pass's CPU;
(c) watcher's first pass reads >= 3x urlwatch's pages per CPU second, and watcher's
no-change pass uses >= 30x less CPU than urlwatch's; (d) at 2,000 sources the no-change
passes peak under 300 MB RSS. ``--check`` exits 1 when one is missed.

Run it with ``make bench-polling`` (options in ``BENCH_ARGS="..."``) or directly::

    .venv/bin/python benchmarks/polling.py [--sources 200] [--articles 50]
        [--steady-sources 2000] [--steady-articles 50] [--steady-passes 2]
        [--skip-urlwatch] [--skip-steady] [--skip-floor] [--seed 0] [--json FILE] [--check]
        [--keep DIR]

urlwatch is a benchmark-only extra (``requirements/bench.txt``). Nothing leaves
127.0.0.1.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parent.parent
CHILD_TIMEOUT = 3 * 3600.0
FLOOR_GET = "floor: GET only, watcher's httpx client"
FLOOR_PARSE = "floor: GET + lexbor parse"
FLOOR_EXTRACT = "floor: GET + watcher's extraction"
# Runs a command and writes the resources it used (os.wait4) to a file as JSON. A child
# forked from this benchmark's big process would inherit its peak RSS (Linux keeps the
# high-water mark of the image an exec replaces); forked from this small launcher
# (``python -S``, a few MB), its peak RSS is its own. A SIGTERM is passed on to it.
LAUNCHER = """
import json, os, signal, sys
out, argv = sys.argv[1], sys.argv[2:]
pid = os.fork()
if pid == 0:
    try:
        os.execvp(argv[0], argv)
    finally:
        os._exit(127)
signal.signal(signal.SIGTERM, lambda *_: os.kill(pid, signal.SIGTERM))
_, status, usage = os.wait4(pid, 0)
with open(out, "w") as f:
    json.dump({"status": os.waitstatus_to_exitcode(status), "utime": usage.ru_utime,
               "stime": usage.ru_stime, "maxrss_kb": usage.ru_maxrss}, f)
"""


@dataclass
class Run:
    """One subprocess run and what it cost."""

    name: str
    tool: str
    wall: float
    cpu: float
    rss_mb: float
    pages: int  # article pages the server answered 200
    requests: int  # every answer the server gave
    connections: int  # TCP connections the server accepted
    not_modified: int  # answers 304
    server_cpu: float
    exit_code: int
    stored: int | None = None  # articles with a version in the state afterwards

    @property
    def pages_per_cpu(self) -> float:
        return self.pages / self.cpu if self.cpu else 0.0


@dataclass
class Report:
    command: str
    started: str
    machine: str
    sources: int
    articles: int
    page_kb: float
    runs: list[Run] = field(default_factory=list)
    targets: list[dict[str, Any]] = field(default_factory=list)

    def run(self, name: str) -> Run | None:
        return next((r for r in self.runs if r.name == name), None)


def machine() -> str:
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{model}, {os.cpu_count()} cores (shared), Linux {platform.release()}, "
        f"Python {platform.python_version()}"
    )


def watched_vendors() -> list[Any]:
    """The vendor list of the repository's sources.yaml (its aliases, products, guards)."""
    shipped = yaml.safe_load((REPO / "sources.yaml").read_text(encoding="utf-8"))
    vendors: list[Any] = shipped["vendors"]
    return vendors


def write_watcher_config(path: Path, bases: list[str], *, recheck_every: str | None) -> Path:
    defaults: dict[str, Any] = {"interval": "30m"}
    if recheck_every is not None:
        defaults["recheck_every"] = recheck_every
    config = {
        "settings": {"http": {"host_delay": "0s"}},
        "defaults": defaults,
        "vendors": watched_vendors(),
        "sources": [
            {
                "id": f"site-{n:04d}",
                "name": f"Site {n:04d}",
                "url": f"{base}/feed.xml",
                "allow_private": True,  # the simulated web is on 127.0.0.1
            }
            for n, base in enumerate(bases)
        ],
    }
    path.write_text(yaml.safe_dump(config, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def write_urlwatch_jobs(path: Path, urls: list[str]) -> Path:
    with path.open("w", encoding="utf-8") as out:
        for n, url in enumerate(urls):
            if n:
                out.write("---\n")
            out.write(f"name: page {n}\nurl: {url}\nfilter:\n  - css: div.article-body\n")
    return path


class Bench:
    """Runs subprocesses against one simulated web and records what they cost."""

    def __init__(self, web: Any, work: Path, report: Report, progress: Any) -> None:
        self.web = web
        self.work = work
        self.report = report
        self.progress = progress

    def child(self, name: str, tool: str, argv: list[str], env: dict[str, str]) -> Run:
        cpu0, answers0 = self.web.snapshot()
        logs = self.work / "logs"
        logs.mkdir(exist_ok=True)
        slug = name.replace(" ", "-").replace("'", "")
        used = logs / f"{slug}.rusage.json"
        command = [sys.executable, "-S", "-c", LAUNCHER, str(used), *argv]
        started = time.perf_counter()
        with (logs / f"{slug}.out").open("wb") as out, (logs / f"{slug}.err").open("wb") as err:
            proc = subprocess.Popen(command, stdout=out, stderr=err, env=env, cwd=self.work)
            try:
                proc.wait(timeout=CHILD_TIMEOUT)
            except BaseException:  # interrupted or too long: the command goes too
                proc.terminate()
                proc.wait()
                raise
        wall = time.perf_counter() - started
        usage = json.loads(used.read_text())
        cpu1, answers1 = self.web.snapshot()
        answers = answers1 - answers0
        run = Run(
            name=name,
            tool=tool,
            wall=wall,
            cpu=usage["utime"] + usage["stime"],
            rss_mb=usage["maxrss_kb"] / 1024,
            pages=answers[("article", 200)],
            requests=sum(n for (what, _status), n in answers.items() if what != "connection"),
            connections=answers[("connection", 0)],
            not_modified=sum(n for (_what, status), n in answers.items() if status == 304),
            server_cpu=cpu1 - cpu0,
            exit_code=usage["status"],
        )
        if run.exit_code != 0:
            tail = (logs / f"{slug}.err").read_text(errors="replace")[-2000:]
            raise SystemExit(f"{name}: exit status {run.exit_code}\n{tail}")
        self.report.runs.append(run)
        self.progress(
            f"{name}: {wall:.1f}s wall, {run.cpu:.2f}s CPU, {run.rss_mb:.0f} MB, "
            f"{run.pages} pages, {run.requests} requests"
        )
        return run

    def watcher(self, name: str, config: Path, state: Path) -> Run:
        argv = [
            sys.executable, "-m", "watcher", "--config", str(config), "--state", str(state),
            "--log-format", "json", "once",
        ]  # fmt: skip
        env = {k: v for k, v in os.environ.items() if not k.startswith("WATCHER_")}
        run = self.child(name, "watcher", argv, env)
        run.stored = stored_articles(state)
        return run

    def floor(self, name: str, urls: Path, *, then: str | None) -> Run:
        argv = [sys.executable, str(REPO / "benchmarks" / "floor.py"), str(urls)]
        if then is not None:
            argv += ["--then", then]
        return self.child(name, "floor", argv, dict(os.environ))

    def urlwatch(self, name: str, jobs: Path) -> Run:
        home = self.work / "urlwatch"
        home.mkdir(exist_ok=True)
        config = home / "urlwatch.yaml"
        if not config.exists():
            config.write_text("display: {new: true, error: true, unchanged: false}\n")
        binary = Path(sys.executable).with_name("urlwatch")
        argv = [
            str(binary) if binary.exists() else "urlwatch",
            "--urls", str(jobs), "--config", str(config), "--cache", str(home / "cache.db"),
            "--hooks", str(home / "hooks.py"),
        ]  # fmt: skip
        env = {
            **os.environ,
            "HOME": str(home),
            "XDG_CONFIG_HOME": str(home / "config"),
            "XDG_CACHE_HOME": str(home / "cache"),
            "XDG_DATA_HOME": str(home / "data"),
        }
        return self.child(name, "urlwatch", argv, env)


def stored_articles(state: Path) -> int:
    db = sqlite3.connect(f"file:{state / 'watcher.db'}?mode=ro", uri=True)
    try:
        (count,) = db.execute("SELECT count(*) FROM articles WHERE version > 0").fetchone()
    finally:
        db.close()
    return int(count)


def polling(args: argparse.Namespace, report: Report, work: Path, progress: Any) -> None:
    """Runs a, b, b' and c on ``--sources`` x ``--articles``."""
    from benchmarks.newsweb import NewsWeb

    web = NewsWeb(args.sources, args.articles, seed=args.seed)
    with web.serve():
        bases = [site.base for site in web.sites]
        sample = [
            web.sites[n % len(web.sites)].page(web.sites[n % len(web.sites)].article(0))
            for n in range(20)
        ]
        report.page_kb = sum(map(len, sample)) / len(sample) / 1024 if sample else 0.0
        bench = Bench(web, work, report, progress)
        config = write_watcher_config(work / "sources.yaml", bases, recheck_every=None)
        state = work / "state"
        first = bench.watcher("watcher first pass", config, state)
        expected = args.sources * args.articles
        if first.stored != expected:
            raise SystemExit(f"first pass stored {first.stored} articles, not {expected}")
        bench.watcher("watcher no-change pass", config, state)
        recheck = write_watcher_config(work / "recheck.yaml", bases, recheck_every="0s")
        bench.watcher("watcher no-change pass, all re-checked", recheck, state)
        urls = [
            f"{site.base}/articles/{site.article(n).slug}"
            for site in web.sites
            for n in range(args.articles)
        ]
        if not args.skip_urlwatch:
            jobs = write_urlwatch_jobs(work / "urls.yaml", urls)
            bench.urlwatch("urlwatch first pass", jobs)
            bench.urlwatch("urlwatch no-change pass", jobs)
        if not args.skip_floor:
            listed = work / "urls.txt"
            listed.write_text("".join(f"{url}\n" for url in urls))
            bench.floor(FLOOR_GET, listed, then=None)
            bench.floor(FLOOR_PARSE, listed, then="parse")
            bench.floor(FLOOR_EXTRACT, listed, then="extract")


def steady(args: argparse.Namespace, report: Report, work: Path, progress: Any) -> None:
    """Run d: ``--steady-sources`` sources, a first pass then no-change passes."""
    from benchmarks.newsweb import NewsWeb

    web = NewsWeb(args.steady_sources, args.steady_articles, seed=args.seed + 1)
    here = work / "steady"
    here.mkdir()
    with web.serve():
        bench = Bench(web, here, report, progress)
        config = write_watcher_config(
            here / "sources.yaml", [site.base for site in web.sites], recheck_every=None
        )
        n = args.steady_sources
        bench.watcher(f"watcher first pass, {n} sources", config, here / "state")
        for k in range(1, args.steady_passes + 1):
            bench.watcher(f"watcher no-change pass {k}, {n} sources", config, here / "state")


def judge(report: Report, args: argparse.Namespace) -> None:
    first = report.run("watcher first pass")
    still = report.run("watcher no-change pass")
    u_first = report.run("urlwatch first pass")
    u_still = report.run("urlwatch no-change pass")

    def target(name: str, value: float, goal: str, met: bool, text: str) -> None:
        report.targets.append(
            {"target": name, "value": value, "goal": goal, "met": met, "text": text}
        )

    if first and still:
        share = still.cpu / first.cpu
        target("no-change CPU / first-pass CPU", share, "<= 5%", share <= 0.05, f"{share:.1%}")
    if first and u_first:
        ratio = first.pages_per_cpu / u_first.pages_per_cpu if u_first.pages_per_cpu else 0.0
        target(
            "first pass: pages per CPU second, watcher / urlwatch",
            ratio, ">= 3x", ratio >= 3, f"{ratio:.1f}x",
        )  # fmt: skip
    if still and u_still:
        ratio = u_still.cpu / still.cpu
        target(
            "no-change pass: CPU, urlwatch / watcher", ratio, ">= 30x", ratio >= 30, f"{ratio:.1f}x"
        )
    steady_runs = [r for r in report.runs if r.name.startswith("watcher no-change pass ")]
    if steady_runs:
        peak = max(r.rss_mb for r in steady_runs)
        target(
            f"peak RSS, no-change passes at {args.steady_sources} sources",
            peak, "< 300 MB", peak < 300, f"{peak:.0f} MB",
        )  # fmt: skip


def render(report: Report) -> str:
    lines = [
        f"command: {report.command}",
        f"machine: {report.machine}",
        f"started: {report.started}; {report.sources} sources x {report.articles} articles, "
        f"article pages of {report.page_kb:.0f} KB on average",
        "",
        "| run | wall s | CPU s | peak RSS MB | article pages read | pages / CPU s "
        "| requests (304) | connections | server CPU s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in report.runs:
        rate = f"{r.pages_per_cpu:,.0f}" if r.pages else "–"
        lines.append(
            f"| {r.name} | {r.wall:.1f} | {r.cpu:.2f} | {r.rss_mb:.0f} | {r.pages:,} | {rate} "
            f"| {r.requests:,} ({r.not_modified:,}) | {r.connections:,} | {r.server_cpu:.2f} |"
        )
    first = report.run("watcher first pass")
    if first and first.wall:
        lines += [
            "",
            f"watcher first pass: {first.pages / first.wall:,.0f} articles per second (wall), "
            f"{first.pages_per_cpu:,.0f} per CPU second; {first.stored:,} articles stored.",
        ]
    u_first = report.run("urlwatch first pass")
    floors = [r for r in map(report.run, (FLOOR_GET, FLOOR_PARSE, FLOOR_EXTRACT)) if r and r.pages]
    u_rate = u_first.pages_per_cpu if u_first else 0.0
    if u_rate or floors:
        lines.append("")
    if u_rate:
        lines.append(
            f"urlwatch's first pass: {1000 / u_rate:.2f} ms of CPU per page; 3x its rate "
            f"leaves {1000 / (3 * u_rate):.2f} ms per page for everything."
        )
    for r in floors:
        ratio = f", {r.pages_per_cpu / u_rate:.1f}x urlwatch's rate" if u_rate else ""
        lines.append(f"{r.name}: {1000 / r.pages_per_cpu:.2f} ms of CPU per page{ratio}.")
    if report.targets:
        lines += ["", "| target | goal | measured | |", "|---|---|---:|---|"]
        for t in report.targets:
            lines.append(
                f"| {t['target']} | {t['goal']} | {t['text']} | {'met' if t['met'] else 'MISSED'} |"
            )
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0] if __doc__ else None,
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--sources", type=int, default=200, help="sites (one source each)")
    parser.add_argument("--articles", type=int, default=50, help="articles per site")
    parser.add_argument("--steady-sources", type=int, default=2000, help="sources of run d")
    parser.add_argument("--steady-articles", type=int, default=50, help="articles per site, run d")
    parser.add_argument("--steady-passes", type=int, default=2, help="no-change passes of run d")
    parser.add_argument("--skip-urlwatch", action="store_true", help="no urlwatch runs (c)")
    parser.add_argument("--skip-steady", action="store_true", help="no steady-state runs (d)")
    parser.add_argument("--skip-floor", action="store_true", help="no bare-client runs (e)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the simulated web")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write the results here")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument(
        "--keep", type=Path, metavar="DIR", help="work in DIR (kept) instead of a temporary one"
    )
    args = parser.parse_args(argv)
    if args.sources < 1 or args.articles < 1:
        parser.error("--sources and --articles must be at least 1")
    return args


def _terminated(signum: int, frame: Any) -> None:
    raise SystemExit(128 + signum)  # unwinds: the child is stopped, the work dir removed


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if threading.current_thread() is not threading.main_thread():
        return run(args, argv)
    previous = signal.signal(signal.SIGTERM, _terminated)
    try:
        return run(args, argv)
    finally:
        signal.signal(signal.SIGTERM, previous)


def run(args: argparse.Namespace, argv: Sequence[str] | None) -> int:
    if str(REPO) not in sys.path:  # run as a script: benchmarks/ is not installed
        sys.path.insert(0, str(REPO))
    began = time.perf_counter()

    def progress(message: str) -> None:
        print(f"[{time.perf_counter() - began:7.1f}s] {message}", file=sys.stderr, flush=True)

    if not args.skip_urlwatch and shutil.which("urlwatch", path=_bin_path()) is None:
        raise SystemExit(
            "urlwatch is not installed: make bench-polling installs it (or --skip-urlwatch)"
        )
    report = Report(
        command=shlex.join(
            [
                os.path.relpath(sys.executable),
                os.path.relpath(__file__),
                *(sys.argv[1:] if argv is None else argv),
            ]
        ),
        started=datetime.now(UTC).isoformat(timespec="seconds"),
        machine=machine(),
        sources=args.sources,
        articles=args.articles,
        page_kb=0.0,
    )
    if args.keep is not None:
        if args.keep.exists() and any(args.keep.iterdir()):
            raise SystemExit(f"--keep {args.keep}: not empty (a previous state would be reused)")
        args.keep.mkdir(parents=True, exist_ok=True)
        work_dir = str(args.keep)
        cleanup = None
    else:
        cleanup = tempfile.TemporaryDirectory(prefix="watcher-bench-polling-")
        work_dir = cleanup.name
    try:
        work = Path(work_dir)
        polling(args, report, work, progress)
        if not args.skip_steady:
            steady(args, report, work, progress)
    finally:
        if cleanup is not None:
            cleanup.cleanup()
    judge(report, args)
    print(render(report))
    if args.json:
        data = asdict(report)
        args.json.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    missed = [t["target"] for t in report.targets if not t["met"]]
    return 1 if args.check and missed else 0


def _bin_path() -> str:
    return os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])


if __name__ == "__main__":
    sys.exit(main())
