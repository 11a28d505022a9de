"""Delivery benchmark: events through the real outbox to a flaky webhook receiver.

What runs (issue 6): ``--events`` events (10,000 by default) are written through
``watcher.store.Store.record_article`` (one article, one version, one ``article.new``
event and its outbox row per transaction, as the pipeline writes them) into a real SQLite
state in a temporary directory, while the daemon's own delivery loop
(``watcher.Watcher.run`` with no source to poll, endpoints off) drains the outbox to the
real ``webhook`` sink, signing with a ``whsec_`` secret. Events are written in polls of
``--poll-size`` (each poll wakes delivery, as a scheduled poll does), at ``--rate``
events a second (0: as fast as SQLite takes them).

The receiver is a small asyncio HTTP/1.1 server in its own process (so that it does not
share the benchmark's interpreter lock) on 127.0.0.1. It verifies every request's
signature with the reference ``standardwebhooks`` package (a bad one is answered 401 and
counted) and checks that ``webhook-id`` is the body's ``event_id``. It answers
``--fail-rate`` of the requests at random with a failure: ``--share-429`` of those are
``429`` with ``Retry-After: --retry-after`` seconds, the rest half ``500`` half ``503``.
Once ``--outage-after`` of the events have been acknowledged it goes fully down for
``--outage`` seconds (``--outage-mode refused``: it stops listening and drops its open
connections, so connections are refused; ``503``: every request is answered 503), then
comes back. It records every request: time, ``webhook-id``, the answer.

Figures:

- events/s: events divided by the time from the first event written to the outbox
  holding nothing pending (every event acknowledged or parked as dead).
- attempts: the sum of the outbox's ``attempts`` column (each send tried, including
  refused connections and the successful one); retries = attempts - events. "requests
  received" is what reached the receiver, by answer.
- 429 honoured: a ``429`` with ``Retry-After: R`` is honoured for the sink when no request
  at all reached the receiver in the next R seconds, and for the event when that event
  was not sent again within R seconds.
- lost: events written to the outbox that the receiver never acknowledged (2xx) by the
  end of the run. Dead (parked) events count as lost until replayed: when some are dead,
  the receiver is healed and ``watcher deliver --retry-dead`` (the real command, in a
  subprocess, on the same state) is run, and lost is counted again.
- duplicates: distinct event ids acknowledged more than once (and the extra
  acknowledgements). Delivery is at least once: an event is marked sent only after the
  receiver's 2xx arrives, so a 2xx that is lost on the way back (a connection dropped,
  a timeout, a crash) means the event is sent again, with the same id.
- peak outbox depth: the most ``pending`` rows seen (sampled every ``--sample`` seconds).
- oldest pending age: the largest age (now - created_at) of the oldest pending event,
  during the outage and overall.

``--crash`` adds a second scenario with the real command line: the events are written
first, ``watcher run`` is started in a subprocess, killed with SIGKILL once 40% of the
events are marked sent, then started again until the outbox is empty (no outage in this
scenario; the receiver keeps failing ``--fail-rate`` of the requests).

Run: ``make bench-delivery`` or ``python benchmarks/delivery.py --events 10000``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import logging
import math
import multiprocessing
import os
import random
import resource
import signal
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, TextIO

import structlog

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # run as a script: make `watcher` importable from the checkout
    sys.path.insert(0, str(REPO))

from watcher import log as log_module  # noqa: E402
from watcher.config import load as load_config  # noqa: E402
from watcher.daemon import Watcher  # noqa: E402
from watcher.models import Article, Event, EventArticle, VendorMatch, utcnow  # noqa: E402
from watcher.pipeline import event_id  # noqa: E402
from watcher.store import NewVersion, Store  # noqa: E402

SINK = "hook"
SOURCE = "bench"

# --- the receiver (its own process) ----------------------------------------------------


@dataclass(frozen=True)
class Plan:
    """How the receiver misbehaves."""

    secret: str
    fail_rate: float = 0.3
    share_429: float = 0.05
    retry_after: int = 1
    outage: float = 20.0
    outage_after: int = 0  # distinct events acknowledged before the outage (0: none)
    outage_mode: str = "refused"
    seed: int = 1


@dataclass
class Request:
    at: float
    event_id: str
    status: int


@dataclass
class ReceiverLog:
    requests: list[Request] = field(default_factory=list)
    retry_after: dict[int, float] = field(default_factory=dict)  # request index -> seconds
    bad_signatures: int = 0
    outage_start: float | None = None
    outage_end: float | None = None


_REASONS = {200: "OK", 401: "Unauthorized", 429: "Too Many Requests", 500: "Error", 503: "Down"}


class Receiver:
    """A webhook endpoint that fails on purpose; see the module docstring."""

    def __init__(self, plan: Plan) -> None:
        from standardwebhooks import Webhook

        self.plan = plan
        self.rng = random.Random(plan.seed)
        self.fail_rate = plan.fail_rate
        self.webhook = Webhook(plan.secret)
        self.log = ReceiverLog()
        self.acked: set[str] = set()
        self.port = 0
        self.down = False
        self.server: asyncio.Server | None = None
        self.writers: set[asyncio.StreamWriter] = set()
        self.outage_task: asyncio.Task[None] | None = None

    async def listen(self) -> None:
        self.server = await asyncio.start_server(
            self._connection, "127.0.0.1", self.port, reuse_address=True
        )
        self.port = self.server.sockets[0].getsockname()[1]

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.writers.add(writer)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                headers = {}
                for line in lines[1:]:
                    name, _, value = line.partition(":")
                    if name:
                        headers[name.strip().lower()] = value.strip()
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                status, extra = self.answer(headers, body)
                writer.write(
                    f"HTTP/1.1 {status} {_REASONS[status]}\r\ncontent-length: 0\r\n"
                    f"{extra}\r\n".encode("ascii")
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            pass
        finally:
            self.writers.discard(writer)
            writer.close()

    def answer(self, headers: dict[str, str], body: bytes) -> tuple[int, str]:
        now = time.time()
        message_id = headers.get("webhook-id", "")
        extra = ""
        if self.down:
            status = 503
        else:
            try:
                payload = self.webhook.verify(body, headers)
                signed = payload["data"]["event_id"] == message_id
            except Exception:  # any verification failure is a forged request
                signed = False
            if not signed:
                self.log.bad_signatures += 1
                status = 401
            elif self.rng.random() < self.fail_rate:
                pick = self.rng.random()
                if pick < self.plan.share_429:
                    status, extra = 429, f"retry-after: {self.plan.retry_after}\r\n"
                    self.log.retry_after[len(self.log.requests)] = float(self.plan.retry_after)
                else:
                    status = 500 if pick < (1 + self.plan.share_429) / 2 else 503
            else:
                status = 200
                self.acked.add(message_id)
        self.log.requests.append(Request(now, message_id, status))
        if (
            status == 200
            and self.plan.outage_after
            and self.outage_task is None
            and len(self.acked) >= self.plan.outage_after
        ):
            self.outage_task = asyncio.get_running_loop().create_task(self._outage())
        return status, extra

    async def _outage(self) -> None:
        await asyncio.sleep(0)  # let the answer that triggered it go out first
        self.log.outage_start = time.time()
        if self.plan.outage_mode == "refused":
            assert self.server is not None
            self.server.close()
            for writer in list(self.writers):
                writer.transport.abort()
            await asyncio.sleep(self.plan.outage)
            await self.listen()
        else:
            self.down = True
            await asyncio.sleep(self.plan.outage)
            self.down = False
        self.log.outage_end = time.time()


def receiver_main(conn: Connection, plan: Plan) -> None:
    """The receiver process: says ("ready", port), then obeys "heal" and "stop"."""
    asyncio.run(_receive(conn, plan))


async def _receive(conn: Connection, plan: Plan) -> None:
    receiver = Receiver(plan)
    await receiver.listen()
    stop = asyncio.Event()

    def command() -> None:
        message = conn.recv()
        if message == "heal":  # the receiver is fixed: no more random failures
            receiver.fail_rate = 0.0
            conn.send("healed")
        elif message == "stop":
            stop.set()

    loop = asyncio.get_running_loop()
    loop.add_reader(conn.fileno(), command)
    conn.send(("ready", receiver.port))
    await stop.wait()
    loop.remove_reader(conn.fileno())
    if receiver.outage_task is not None:
        receiver.outage_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await receiver.outage_task
    if receiver.server is not None:
        receiver.server.close()
    conn.send(("log", asdict(receiver.log)))


class ReceiverProcess:
    """Starts the receiver process and talks to it."""

    def __init__(self, plan: Plan) -> None:
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self._process = context.Process(target=receiver_main, args=(child, plan), daemon=True)
        self._process.start()
        child.close()
        kind, port = self._conn.recv()
        assert kind == "ready"
        self.url = f"http://127.0.0.1:{port}/hook"

    def heal(self) -> None:
        self._conn.send("heal")
        assert self._conn.recv() == "healed"

    def stop(self) -> ReceiverLog:
        self._conn.send("stop")
        kind, raw = self._conn.recv()
        assert kind == "log"
        self._process.join(timeout=10)
        raw["requests"] = [Request(**r) for r in raw["requests"]]
        raw["retry_after"] = {int(k): v for k, v in raw["retry_after"].items()}
        return ReceiverLog(**raw)

    def kill(self) -> None:
        if self._process.is_alive():
            self._process.kill()
            self._process.join(timeout=10)


# --- events ------------------------------------------------------------------------------

PARAGRAPHS = (
    "The trust has signed a ten-year contract with Oracle Health to replace its patient "
    "administration system, with the Cerner Millennium electronic record going live in "
    "three hospitals first.",
    "Le groupement hospitalier de territoire a retenu Dedalus pour son dossier patient "
    "informatisé ; le déploiement commencera par les urgences et la pharmacie au printemps.",
    "Clinicians were consulted over eighteen months, and the board approved the business "
    "case after a review of the costs of running the old system for another five years.",
    "CompuGroup Medical annonce l'acquisition d'un éditeur de logiciels pour les cabinets "
    "de radiologie, une opération dont le montant n'a pas été communiqué.",
    "The programme includes a new integration engine, an order communications module and "
    "a patient portal, all hosted in the supplier's data centres in the United Kingdom.",
)
VENDOR = VendorMatch(
    name="Oracle Health",
    matched=("Cerner", "Millennium"),
    snippets=(PARAGRAPHS[0],),
)


def make_article(index: int) -> tuple[str, Article, NewVersion]:
    """One article and its first version announcing it (about 2 KB of JSON)."""
    url = f"https://news.example/2026/11/{index:06d}-trust-signs-with-oracle-health/"
    title = f"Trust number {index} signs with Oracle Health for Cerner Millennium"
    paragraphs = tuple(PARAGRAPHS[(index + k) % len(PARAGRAPHS)] for k in range(4))
    article = Article(url=url, title=title, paragraphs=paragraphs, language="en")
    now = utcnow()
    event = Event(
        id=event_id("article.new", url, 1),
        type="article.new",
        created_at=now,
        source_id=SOURCE,
        source_name="Benchmark News",
        article=EventArticle(url=url, title=title, text=article.text, version=1, language="en"),
        vendors=(VENDOR,),
    )
    version = NewVersion(
        number=1, title=title, text=article.text, content_hash=f"h{index}", fetched_at=now,
        change=None, vendors=(VENDOR,), events=((event, (SINK,)),),
    )  # fmt: skip
    return event.id, article, version


def write_event(store: Store, index: int) -> str:
    """Record one article as the pipeline does; returns its event id."""
    eid, article, version = make_article(index)
    store.record_article(
        source_id=SOURCE, url=article.url, aliases=(), article=article, version=version,
        silent=False, etag=None, last_modified=None, entry_updated_at=None,
    )  # fmt: skip
    return eid


# --- the watcher side --------------------------------------------------------------------


@dataclass(frozen=True)
class Options:
    events: int = 10_000
    fail_rate: float = 0.3
    share_429: float = 0.05
    retry_after: int = 1
    outage: float = 20.0
    outage_after: float = 0.3
    outage_mode: str = "refused"
    seed: int = 1
    backoff: str = "1s"
    max_backoff: str = "60s"
    interval: str = "1s"
    max_attempts: int = 12
    poll_size: int = 100
    rate: float = 0.0
    sample: float = 0.1
    timeout: float = 1800.0
    crash: bool = False


def write_config(directory: Path, opts: Options) -> Path:
    path = directory / "sources.yaml"
    path.write_text(
        textwrap.dedent(
            f"""\
            settings:
              delivery:
                backoff: {opts.backoff}
                max_backoff: {opts.max_backoff}
                interval: {opts.interval}
                max_attempts: {opts.max_attempts}
              service: {{port: 0}}
            vendors:
              - name: Oracle Health
                aliases: [Cerner]
            sources:
              - id: {SOURCE}
                url: https://news.example/feed.xml
                enabled: false
            sinks:
              - id: {SINK}
                kind: webhook
                url: ${{BENCH_HOOK_URL}}
                secret: ${{BENCH_HOOK_SECRET}}
            """
        )
    )
    return path


@dataclass
class Sample:
    at: float
    pending: int
    dead: int
    oldest_age: float | None


@dataclass
class Run:
    """What the watcher side saw."""

    event_ids: list[str] = field(default_factory=list)
    started: float = 0.0
    written: float = 0.0  # all events written
    emptied: float | None = None  # nothing pending any more
    samples: list[Sample] = field(default_factory=list)
    attempts: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    replay: str | None = None  # what `watcher deliver --retry-dead` printed
    replay_at: float | None = None  # when it started
    killed_at_sent: int | None = None  # crash scenario: events marked sent at the kill
    killed_at: float | None = None
    most_attempts: int = 0  # by one event
    rss_mb: float | None = None  # peak resident memory of the delivering process


def sample(db: sqlite3.Connection | Any, run: Run) -> tuple[Sample, int]:
    """Record the outbox's depth and oldest pending age now; returns it and the number
    of events marked sent."""
    pending, dead, sent, oldest = db.execute(
        "SELECT sum(o.status = 'pending'), sum(o.status = 'dead'), sum(o.status = 'sent'), "
        "CAST(strftime('%s', min(CASE WHEN o.status = 'pending' THEN e.created_at END)) AS REAL) "
        "FROM outbox o JOIN events e ON e.id = o.event_id"
    ).fetchone()
    now = time.time()
    # created_at is stored to the second: ages are within a second.
    point = Sample(now, pending or 0, dead or 0, now - oldest if oldest else None)
    run.samples.append(point)
    return point, sent or 0


def finish(db: sqlite3.Connection | Any, run: Run) -> None:
    run.attempts, run.most_attempts = db.execute(
        "SELECT coalesce(sum(attempts), 0), coalesce(max(attempts), 0) FROM outbox"
    ).fetchone()
    run.counts = dict(db.execute("SELECT status, count(*) FROM outbox GROUP BY status").fetchall())


@contextlib.contextmanager
def logging_to(log: TextIO) -> Iterator[None]:
    """watcher's own logging set-up, to ``log``, for the time of the run only: the file
    is closed afterwards, and a caller (the test suite) keeps its own set-up."""
    previous, handlers = structlog.get_config(), logging.root.handlers[:]
    log_module.configure("info", json=True, stream=log)
    try:
        yield
    finally:
        structlog.configure(**previous)
        logging.root.handlers[:] = handlers


async def drive_daemon(opts: Options, config: Path, state: Path, log: TextIO) -> Run:
    """The main scenario: the daemon's delivery loop in this process, fed by polls."""
    with logging_to(log):
        return await _drive_daemon(opts, config, state)


async def _drive_daemon(opts: Options, config: Path, state: Path) -> Run:
    settings = load_config(config)
    run = Run()
    async with Watcher(settings, state) as watcher:
        db = watcher.store.db
        stop = asyncio.Event()
        daemon = asyncio.create_task(watcher.run(stop, http=None, grace=5.0))
        await watcher.running.wait()

        async def produce() -> None:
            for start in range(0, opts.events, opts.poll_size):
                began = time.perf_counter()
                for index in range(start, min(start + opts.poll_size, opts.events)):
                    run.event_ids.append(write_event(watcher.store, index))
                # A scheduled poll that produced events wakes delivery the same way.
                watcher._wake_delivery.set()
                pause = (
                    opts.poll_size / opts.rate - (time.perf_counter() - began) if opts.rate else 0
                )
                await asyncio.sleep(max(pause, 0))
            run.written = time.time()

        run.started = time.time()
        producer = asyncio.create_task(produce())
        deadline = run.started + opts.timeout
        try:
            while time.time() < deadline:
                await asyncio.sleep(opts.sample)
                point, _sent = sample(db, run)
                if producer.done() and point.pending == 0:
                    run.emptied = point.at
                    break
        finally:
            producer.cancel()
            stop.set()
            await daemon
        finish(db, run)
    run.rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return run


def watcher_command(config: Path, state: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "watcher", "--config", str(config), "--state", str(state), *args]


def drive_crash(opts: Options, config: Path, state: Path, env: dict[str, str], log: TextIO) -> Run:
    """The crash scenario: `watcher run` killed with SIGKILL at 40%, then restarted."""
    run = Run()
    store = Store.open(state)
    try:
        run.event_ids = [write_event(store, index) for index in range(opts.events)]
    finally:
        store.close()
    db = sqlite3.connect(f"file:{state / 'watcher.db'}?mode=ro", uri=True, timeout=30)
    command = watcher_command(config, state, "run")
    run.started = run.written = time.time()
    daemon = subprocess.Popen(command, env=env, stdout=log, stderr=log)
    deadline = run.started + opts.timeout
    try:
        while time.time() < deadline and daemon.poll() is None:
            time.sleep(opts.sample / 4)
            _point, sent = sample(db, run)
            if sent >= 0.4 * opts.events:
                daemon.send_signal(signal.SIGKILL)
                run.killed_at, run.killed_at_sent = time.time(), sent
                break
        daemon.wait(timeout=30)
        daemon = subprocess.Popen(command, env=env, stdout=log, stderr=log)
        while time.time() < deadline and daemon.poll() is None:
            time.sleep(opts.sample)
            point, _sent = sample(db, run)
            if point.pending == 0:
                run.emptied = point.at
                break
    finally:
        if daemon.poll() is None:
            daemon.send_signal(signal.SIGTERM)
            daemon.wait(timeout=60)
    finish(db, run)
    db.close()
    return run


def replay_dead(
    config: Path, state: Path, env: dict[str, str], receiver: ReceiverProcess, run: Run
) -> None:
    """Dead events count as lost until replayed: heal the receiver (its URL or secret
    fixed, say) and run the real `watcher deliver --retry-dead`."""
    if not run.counts.get("dead"):
        return
    run.replay_at = time.time()
    receiver.heal()
    done = subprocess.run(
        watcher_command(config, state, "deliver", "--retry-dead"),
        env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    run.replay = (done.stdout + done.stderr).strip().replace("\n", "; ")


# --- figures -----------------------------------------------------------------------------


@dataclass
class Figures:
    scenario: str
    events: int
    seconds: float | None
    events_per_s: float | None
    seconds_99: float | None  # until 99% of the events were acknowledged
    most_attempts: int
    paused_429: float  # seconds the receiver asked for, in all
    attempts: int
    retries: int
    requests: int
    answers: dict[int, int]
    not_received: int  # attempts that never reached the receiver (refused, dropped)
    rate_limited: int
    honoured_sink: int
    honoured_event: int
    dead: int
    lost_before_replay: int
    lost: int
    replay: str | None
    duplicate_ids: int
    extra_deliveries: int
    peak_depth: int
    oldest_age_outage: float | None
    oldest_age_max: float | None
    outage: tuple[float, float] | None
    drained_after_outage: float | None
    bad_signatures: int
    killed_at_sent: int | None
    rss_mb: float | None
    duplicate_notes: list[str] = field(default_factory=list)


def honoured(log: ReceiverLog) -> tuple[int, int]:
    """429s after which no request came (sink), or not the same event (event), within
    the Retry-After."""
    sink = event = 0
    for index, wait in log.retry_after.items():
        refused = log.requests[index]
        later = [r for r in log.requests[index + 1 :] if r.at < refused.at + wait]
        sink += not later
        event += not any(r.event_id == refused.event_id for r in later)
    return sink, event


def explain_duplicates(run: Run, log: ReceiverLog, acked: Counter[str]) -> list[str]:
    """Where each duplicate's first acknowledgement fell: just before the outage cut the
    connections, or the kill, or elsewhere."""
    notes = []
    for eid, count in acked.items():
        if count < 2:
            continue
        first = next(r.at for r in log.requests if r.event_id == eid and r.status < 300)
        when = f"acknowledged {count} times, first at {first - run.started:.2f} s"
        if log.outage_start is not None and abs(first - log.outage_start) < 1:
            when += f", {1000 * (log.outage_start - first):.0f} ms before the outage"
        if run.killed_at is not None and abs(first - run.killed_at) < 1:
            when += f", {1000 * (run.killed_at - first):.0f} ms before the SIGKILL"
        notes.append(f"{eid}: {when}")
    return notes


def figures(scenario: str, opts: Options, run: Run, log: ReceiverLog, lost_before: int) -> Figures:
    acked = Counter(r.event_id for r in log.requests if r.status < 300)
    lost = sum(1 for eid in run.event_ids if eid not in acked)
    seconds = (run.emptied - run.started) if run.emptied else None
    # The requests of the run itself, not of the replay of dead events after it.
    during_run = [r for r in log.requests if run.replay_at is None or r.at < run.replay_at]
    firsts = sorted({r.event_id: r.at for r in reversed(during_run) if r.status < 300}.values())
    need = max(math.ceil(0.99 * len(run.event_ids)), 1)
    nearly = firsts[need - 1] if len(firsts) >= need else None
    outage = (
        (log.outage_start, log.outage_end)
        if log.outage_start is not None and log.outage_end is not None
        else None
    )
    during = [
        s.oldest_age
        for s in run.samples
        if outage and outage[0] <= s.at <= outage[1] and s.oldest_age is not None
    ]
    ages = [s.oldest_age for s in run.samples if s.oldest_age is not None]
    sink, event = honoured(log)
    return Figures(
        scenario=scenario,
        events=len(run.event_ids),
        seconds=seconds,
        events_per_s=len(run.event_ids) / seconds if seconds else None,
        seconds_99=(nearly - run.started) if nearly is not None else None,
        most_attempts=run.most_attempts,
        paused_429=sum(log.retry_after.values()),
        attempts=run.attempts,
        retries=run.attempts - len(run.event_ids),
        requests=len(during_run),
        answers=dict(sorted(Counter(r.status for r in during_run).items())),
        not_received=max(run.attempts - len(during_run), 0),
        rate_limited=len(log.retry_after),
        honoured_sink=sink,
        honoured_event=event,
        dead=run.counts.get("dead", 0),
        lost_before_replay=lost_before,
        lost=lost,
        replay=run.replay,
        duplicate_ids=sum(1 for n in acked.values() if n > 1),
        extra_deliveries=sum(n - 1 for n in acked.values() if n > 1),
        peak_depth=max((s.pending for s in run.samples), default=0),
        oldest_age_outage=max(during, default=None),
        oldest_age_max=max(ages, default=None),
        outage=outage,
        drained_after_outage=(run.emptied - outage[1]) if outage and run.emptied else None,
        bad_signatures=log.bad_signatures,
        killed_at_sent=run.killed_at_sent,
        rss_mb=run.rss_mb,
        duplicate_notes=explain_duplicates(run, log, acked),
    )


def scenario(name: str, opts: Options, directory: Path) -> Figures:
    """Run one scenario in ``directory`` with a fresh receiver and state."""
    secret = "whsec_" + base64.b64encode(random.Random(opts.seed).randbytes(32)).decode()
    crash = name == "crash"
    plan = Plan(
        secret=secret,
        fail_rate=opts.fail_rate,
        share_429=opts.share_429,
        retry_after=opts.retry_after,
        outage=0.0 if crash else opts.outage,
        outage_after=0
        if crash or not opts.outage
        else max(int(opts.events * opts.outage_after), 1),
        outage_mode=opts.outage_mode,
        seed=opts.seed + crash,  # another random sequence than the first scenario's
    )
    directory.mkdir(parents=True, exist_ok=True)
    state = directory / "state"
    receiver = ReceiverProcess(plan)
    try:
        env = {**os.environ, "BENCH_HOOK_URL": receiver.url, "BENCH_HOOK_SECRET": secret}
        os.environ.update({"BENCH_HOOK_URL": receiver.url, "BENCH_HOOK_SECRET": secret})
        config = write_config(directory, opts)
        with (directory / "watcher.log").open("w") as log:
            if crash:
                run = drive_crash(opts, config, state, env, log)
            else:
                run = asyncio.run(drive_daemon(opts, config, state, log))
        # Before any replay, what the outbox has not marked sent was not acknowledged.
        lost_before = run.counts.get("dead", 0) + run.counts.get("pending", 0)
        replay_dead(config, state, env, receiver, run)
        received = receiver.stop()
    finally:
        receiver.kill()
    return figures(name, opts, run, received, lost_before)


# --- output ------------------------------------------------------------------------------


def _num(value: float | None, digits: int = 0, unit: str = "") -> str:
    if value is None:
        return "-"
    return f"{value:,.{digits}f}{unit}"


def table(opts: Options, results: Sequence[Figures]) -> str:
    rows: list[tuple[str, list[str]]] = []

    def row(label: str, cell: Any) -> None:
        rows.append((label, [cell(f) for f in results]))

    row("events", lambda f: f"{f.events:,}")
    row("time to an empty outbox", lambda f: _num(f.seconds, 1, " s"))
    row("events/s, end to end", lambda f: _num(f.events_per_s, 0))
    row("99% acknowledged after", lambda f: _num(f.seconds_99, 1, " s"))
    row("attempts (retries)", lambda f: f"{f.attempts:,} ({f.retries:,})")
    row(
        "requests received in the run, by answer",
        lambda f: f"{f.requests:,}: " + ", ".join(f"{n:,}×{s}" for s, n in f.answers.items()),
    )
    row("attempts refused or dropped", lambda f: f"{f.not_received:,}")
    row("most attempts for one event", lambda f: f"{f.most_attempts}")
    row(
        "429s honoured: sink / event",
        lambda f: (
            f"{f.honoured_sink}/{f.rate_limited} / {f.honoured_event}/{f.rate_limited}"
            + f" ({f.paused_429:g} s asked)"
        ),
    )
    row("dead (parked)", lambda f: f"{f.dead:,}")
    row(
        "lost",
        lambda f: (
            f"{f.lost:,}"
            + (f" (before `deliver --retry-dead`: {f.lost_before_replay:,})" if f.replay else "")
        ),
    )
    row(
        "duplicates: ids (extra deliveries)",
        lambda f: f"{f.duplicate_ids:,} ({f.extra_deliveries:,})",
    )
    row("peak outbox depth", lambda f: f"{f.peak_depth:,}")
    row(
        "outage",
        lambda f: (
            _num(f.outage[1] - f.outage[0], 1, " s") + f" ({opts.outage_mode})" if f.outage else "-"
        ),
    )
    row("oldest pending, during the outage", lambda f: _num(f.oldest_age_outage, 1, " s"))
    row("oldest pending, worst", lambda f: _num(f.oldest_age_max, 1, " s"))
    row("outage end to empty outbox", lambda f: _num(f.drained_after_outage, 1, " s"))
    row(
        "SIGKILL at (events marked sent)",
        lambda f: f"{f.killed_at_sent:,}" if f.killed_at_sent is not None else "-",
    )
    row("bad signatures", lambda f: f"{f.bad_signatures:,}")
    row("peak memory (RSS)", lambda f: _num(f.rss_mb, 0, " MB"))
    header = "| | " + " | ".join(f.scenario for f in results) + " |"
    lines = [header, "|---|" + "---:|" * len(results)]
    lines += [f"| {label} | " + " | ".join(cells) + " |" for label, cells in rows]
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None) -> tuple[Options, argparse.Namespace]:
    defaults = Options()
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0] if __doc__ else None,
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    add = parser.add_argument
    add("--events", type=int, default=defaults.events, help="events to deliver")
    add("--fail-rate", type=float, default=defaults.fail_rate, help="share of requests failed")
    add(
        "--share-429", type=float, default=defaults.share_429, help="share of failures that are 429"
    )
    add("--retry-after", type=int, default=defaults.retry_after, help="429 Retry-After, seconds")
    add("--outage", type=float, default=defaults.outage, help="seconds fully down (0: none)")
    add("--outage-after", type=float, default=defaults.outage_after,
        help="share of the events acknowledged before the outage")  # fmt: skip
    add("--outage-mode", choices=("refused", "503"), default=defaults.outage_mode)
    add("--seed", type=int, default=defaults.seed)
    add("--backoff", default=defaults.backoff, help="settings.delivery.backoff")
    add("--max-backoff", default=defaults.max_backoff, help="settings.delivery.max_backoff")
    add("--interval", default=defaults.interval, help="settings.delivery.interval")
    add("--max-attempts", type=int, default=defaults.max_attempts,
        help="settings.delivery.max_attempts")  # fmt: skip
    add("--poll-size", type=int, default=defaults.poll_size, help="events written per poll")
    add("--rate", type=float, default=defaults.rate, help="events written a second (0: at once)")
    add("--sample", type=float, default=defaults.sample, help="seconds between outbox samples")
    add("--timeout", type=float, default=defaults.timeout, help="give up after this many seconds")
    add("--crash", action="store_true", help="also run the SIGKILL-and-restart scenario")
    add("--keep", type=Path, help="run in this directory and keep it (logs, state)")
    add("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    opts = Options(
        events=args.events, fail_rate=args.fail_rate, share_429=args.share_429,
        retry_after=args.retry_after, outage=args.outage, outage_after=args.outage_after,
        outage_mode=args.outage_mode, seed=args.seed, backoff=args.backoff,
        max_backoff=args.max_backoff, interval=args.interval, max_attempts=args.max_attempts,
        poll_size=args.poll_size, rate=args.rate, sample=args.sample, timeout=args.timeout,
        crash=args.crash,
    )  # fmt: skip
    return opts, args


@contextlib.contextmanager
def workdir(keep: Path | None) -> Iterator[Path]:
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
        yield keep
        return
    with tempfile.TemporaryDirectory(prefix="watcher-bench-delivery-") as name:
        yield Path(name)


def run(opts: Options, directory: Path) -> list[Figures]:
    label = f"{opts.fail_rate:.0%} failing" + (f", {opts.outage:g} s outage" if opts.outage else "")
    results = [scenario(label, opts, directory / "daemon")]
    if opts.crash:
        results.append(scenario("crash", opts, directory / "crash"))  # a SIGKILL, no outage
    return results


def main(argv: Sequence[str] | None = None) -> int:
    opts, args = parse_args(argv)
    print(
        f"delivery benchmark: {opts.events:,} events, fail rate {opts.fail_rate:.0%} "
        f"({opts.share_429:.0%} of failures 429 with Retry-After {opts.retry_after}s), "
        f"outage {opts.outage:g}s ({opts.outage_mode}) after {opts.outage_after:.0%} acknowledged, "
        f"seed {opts.seed}; delivery backoff {opts.backoff}, max_backoff {opts.max_backoff}, "
        f"interval {opts.interval}, max_attempts {opts.max_attempts}",
        flush=True,
    )
    load_before = os.getloadavg()[0]
    with workdir(args.keep) as directory:
        results = run(opts, directory)
    print(table(opts, results))
    print(
        f"machine: {os.cpu_count()} CPUs, load average {load_before:.1f} at the start, "
        f"{os.getloadavg()[0]:.1f} at the end; Python {sys.version.split()[0]}, "
        f"SQLite {sqlite3.sqlite_version}"
    )
    for result in results:
        for note in result.duplicate_notes:
            print(f"duplicate ({result.scenario}): {note}")
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in results], indent=2))
    return 0 if all(r.lost == 0 for r in results) else 1


if __name__ == "__main__":
    # Through the module's real name: the receiver process (spawned) unpickles its plan
    # and target by that name, not by __main__'s.
    from benchmarks.delivery import main as entry

    sys.exit(entry())
