"""Soak benchmark: a day of the daemon, compressed into minutes (issue 7).

The real daemon, ``watcher run``, runs as a subprocess (``python -m watcher``) against a
simulated web on 127.0.0.1: ``--sites`` news sites (``tests/sim.py``'s ``SimSite``, one
HTTP server each, RSS feed of the latest 10 articles) and a webhook receiver that consumes
every event. Time is compressed through the configuration only: one round of the day is
``--interval`` seconds of wall time and stands for 15 minutes of a real schedule, so the
default 96 rounds are one day of polling every 15 minutes. Every duration the daemon reads
is scaled the same way (one round = 15 minutes):

- every source is polled every round (``interval``; ``jitter`` is the default 10%);
- an article is re-read for edits while it is younger than 6 h (``recheck_for``: 24
  rounds), at most every 30 min (``recheck_every``: 2 rounds);
- retention keeps ``--keep-versions`` versions per article (default 3), versions older
  than 12 h (``max_age``: 48 rounds, never an article's latest) and delivered events for
  6 h (``events``: 24 rounds), applied by the daemon every 3 h (``every``: 12 rounds, so
  8 passes in the day; the shipped default is daily);
- ``host_delay`` is 0 (1 s between two requests to a host does not fit in a round of 2 s).

The churn, the same for a given ``--seed``: each site starts with 8 articles (the silent
baseline), then at every round, on every site, a new article appears with probability
0.3 (40% of articles name a watched vendor, so they are announced); with probability 0.3
one article still being re-read is edited materially (a figure corrected, a sentence
added, or, one time in ten, the title changed); every article's view counter moves, its
"related" block is redrawn, and one time in five its spacing changes: cosmetic churn that
changes the page's bytes and ETag, so it is fetched and read again, and must not count as
an edit. Articles beyond the feed's 10 latest drop off it.

Measured, while it runs (about once a second): the daemon's resident memory (VmRSS from
``/proc/PID/status``), the polls it has done (the sum of ``watcher_polls_total`` from its
``/metrics``, on ``$WATCHER_HTTP_PORT``), the database size (``watcher.db`` and its WAL),
and the articles and versions in it (a read-only connection). Reported:

- RSS after warm-up: the median of the samples taken in rounds 10%-15% of the run;
- RSS at the end: the median of the samples in the last 5% of rounds (medians, so that one
  sample taken in the middle of a burst does not decide); growth is end / warm-up - 1, and
  the target of issue 7 is growth under 10%; peak RSS is the kernel's high-water mark
  (VmHWM);
- polls done (from /metrics) against the rounds x sites planned, article outcomes and
  HTTP statuses (from /metrics), events the receiver accepted;
- the database before and after ``watcher vacuum`` (run once the daemon has stopped: it
  applies the same retention and compacts the file), and the most versions any article has
  (at most the configured number right after a retention pass);
- a series of 10 samples (RSS, polls, articles, versions, database size) over the day.

Not a timed test: figures depend on the machine (the script prints what it ran on).
Run ``python benchmarks/soak.py --help`` (or ``make bench-soak BENCH_ARGS="..."``).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import random
import shlex
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
from prometheus_client.parser import text_string_to_metric_families

if TYPE_CHECKING:
    from tests.sim import SimArticle, SimSite

REPO = Path(__file__).resolve().parents[1]
ROUND = timedelta(minutes=15)  # what one round stands for
FEED_SIZE = 10
INITIAL_ARTICLES = 8
P_NEW = 0.3
P_EDIT = 0.3
P_VENDOR = 0.4
RECHECK_FOR_ROUNDS = 24  # 6 h
RECHECK_EVERY_ROUNDS = 2  # 30 min
MAX_AGE_ROUNDS = 48  # 12 h
EVENTS_ROUNDS = 24  # 6 h
RETENTION_EVERY_ROUNDS = 12  # 3 h
GROWTH_TARGET = 0.10
DAY_START = datetime(2026, 11, 23, 0, 0, tzinfo=UTC)

VENDORS = {
    "Oracle Health": ["Cerner", "Oracle Cerner"],
    "Dedalus": [],
    "CompuGroup Medical": ["CompuGroup"],
    "Maincare": [],
    "Microsoft": ["Nuance"],
}
VENDOR_NAMES = ["Cerner", "Dedalus", "CompuGroup", "Maincare", "Nuance"]
CITIES = (
    "Rennes Nantes Lille Lyon Marseille Bordeaux Toulouse Nancy Brest Caen Rouen Amiens "
    "Dijon Besançon Grenoble Nice Montpellier Limoges Poitiers Tours Angers Reims Metz"
).split()
WORDS = (
    "hôpital patient dossier données santé numérique plateforme projet déploiement "
    "service soins équipe médecin infirmier direction système information logiciel "
    "éditeur contrat marché public région agence groupement territoire établissement "
    "urgence imagerie laboratoire pharmacie parcours télémédecine consultation sécurité "
    "hébergement interopérabilité identité messagerie prescription facturation budget "
    "investissement calendrier phase pilote version module interface formation usage "
    "utilisateur retour expérience gouvernance comité pilotage appel offres candidat "
    "migration serveur réseau cybersécurité incident sauvegarde audit conformité "
    "référentiel annuaire portail application mobile rendez-vous accueil admission "
    "séjour sortie courrier compte rendu résultat biologie radiologie cardiologie "
    "oncologie pédiatrie gériatrie psychiatrie chirurgie anesthésie réanimation"
).split()
LINKS = "de la le les des du pour avec dans sur par entre après avant selon".split()


def sentence(rng: random.Random) -> str:
    """A French-looking sentence of random words with a figure: articles never share
    enough of their text to be taken for copies of one another."""
    words = [rng.choice(WORDS) if i % 3 else rng.choice(LINKS) for i in range(rng.randint(9, 16))]
    words.insert(rng.randint(1, len(words) - 1), str(rng.randint(2, 9999)))
    return (" ".join(words) + ".").capitalize()


def paragraph(rng: random.Random) -> str:
    return " ".join(sentence(rng) for _ in range(rng.randint(2, 3)))


@dataclass
class Churn:
    """What the simulated web did, in total."""

    new: int = 0
    vendor_new: int = 0
    edits: int = 0
    cosmetic: int = 0


class Web:
    """The simulated sites and their churn, round by round."""

    def __init__(self, sites: list[SimSite], seed: int) -> None:
        self.sites = sites
        self.rng = random.Random(seed)
        self.counter = 0
        self.born: dict[str, int] = {}  # slug -> round it appeared in
        self.churn = Churn()

    def new_article(self, site: SimSite, round_no: int) -> SimArticle:
        from tests.sim import SimArticle

        rng = self.rng
        self.counter += 1
        city = rng.choice(CITIES)
        paragraphs = [paragraph(rng) for _ in range(rng.randint(3, 6))]
        title = f"{city} : {rng.choice(WORDS)} {rng.choice(LINKS)} {rng.choice(WORDS)}"
        if rng.random() < P_VENDOR:
            vendor = rng.choice(VENDOR_NAMES)
            title = f"{city} choisit {vendor} pour son {rng.choice(WORDS)}"
            paragraphs.insert(
                1,
                f"Le CHU de {city} a retenu {vendor} pour remplacer son dossier patient "
                f"informatisé, un marché de {rng.randint(2, 90)} millions d'euros.",
            )
            self.churn.vendor_new += 1
        slug = f"a{self.counter}"
        published = DAY_START + ROUND * round_no - timedelta(minutes=rng.randint(0, 14))
        article = site.add(SimArticle(slug, title, paragraphs, published=published))
        self.born[slug] = round_no
        self.churn.new += 1
        return article

    def seed_sites(self) -> None:
        for site in self.sites:
            for back in range(INITIAL_ARTICLES, 0, -1):
                self.new_article(site, -back)

    def step(self, round_no: int) -> None:
        """One round of churn on every site."""
        rng = self.rng
        for site in self.sites:
            with site._lock:  # the server renders under this lock: no torn pages
                site.requests.clear()  # the site's request log is not needed: keep the
                site.hits.clear()  # harness's own memory flat
                if rng.random() < P_NEW:
                    self.new_article(site, round_no)
                young = [
                    a
                    for slug, a in site.articles.items()
                    if round_no - self.born[slug] < RECHECK_FOR_ROUNDS - RECHECK_EVERY_ROUNDS
                ]
                if young and rng.random() < P_EDIT:
                    self.edit(rng.choice(young))
                titles = [a.title for a in site.feed_articles()]
                for article in site.feed_articles():
                    article.views += rng.randint(1, 40)
                    article.related = rng.sample(titles, k=min(3, len(titles)))
                    if rng.random() < 0.2:
                        article.spacing = "  " if article.spacing == " " else " "
                    self.churn.cosmetic += 1

    def edit(self, article: SimArticle) -> None:
        rng = self.rng
        self.churn.edits += 1
        roll = rng.random()
        if roll < 0.1:
            article.title = f"{article.title} ({rng.choice(['mise à jour', 'précision'])})"
        elif roll < 0.55:
            index = rng.randrange(len(article.paragraphs))
            article.paragraphs[index] += f" Le montant atteint {rng.randint(2, 9999)} euros."
        else:
            article.paragraphs.append(paragraph(rng))


# --- measuring ---------------------------------------------------------------------------


@dataclass
class Sample:
    seconds: float
    round_no: float
    rss: int  # bytes
    polls: int
    db_bytes: int  # watcher.db
    wal_bytes: int  # watcher.db-wal
    articles: int
    versions: int
    max_versions: int


@dataclass
class Counts:
    articles: int = 0
    versions: int = 0
    max_versions: int = 0
    events: int = 0


def rss_of(pid: int) -> tuple[int, int]:
    """(VmRSS, VmHWM) of a process, in bytes."""
    values = {"VmRSS": 0, "VmHWM": 0}
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            name, _, rest = line.partition(":")
            if name in values:
                values[name] = int(rest.split()[0]) * 1024
    return values["VmRSS"], values["VmHWM"]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
        fields = stat.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def metric_totals(text: str) -> dict[tuple[str, str], float]:
    """Prometheus text -> {(sample name, "label=value,..."): value}, plus each sample
    name's total under (name, "")."""
    totals: dict[tuple[str, str], float] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            labels = ",".join(f"{k}={v}" for k, v in sorted(s.labels.items()))
            totals[(s.name, labels)] = s.value
            totals[(s.name, "")] = totals.get((s.name, ""), 0.0) + s.value
    return totals


def by_label(totals: dict[tuple[str, str], float], name: str, label: str) -> dict[str, int]:
    """The samples of ``name`` summed by one label's value."""
    out: dict[str, int] = {}
    for (sample, labels), value in totals.items():
        if sample != name or not labels:
            continue
        parts = dict(p.split("=", 1) for p in labels.split(","))
        key = parts.get(label, "")
        out[key] = out.get(key, 0) + int(value)
    return out


def file_size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def db_size(state: Path) -> int:
    """The database and its write-ahead log, in bytes."""
    return file_size(state / "watcher.db") + file_size(state / "watcher.db-wal")


def db_counts(state: Path) -> Counts:
    path = state / "watcher.db"
    if not path.exists():
        return Counts()
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
    except sqlite3.Error:
        return Counts()
    try:
        articles = db.execute("SELECT count(*) FROM articles").fetchone()[0]
        versions, most = db.execute(
            "SELECT coalesce(sum(n), 0), coalesce(max(n), 0) FROM "
            "(SELECT count(*) AS n FROM versions GROUP BY article_id)"
        ).fetchone()
        events = db.execute("SELECT count(*) FROM events").fetchone()[0]
        return Counts(articles, int(versions or 0), int(most), events)
    except sqlite3.Error:  # the schema is not there yet
        return Counts()
    finally:
        db.close()


def window_median(samples: list[Sample], low: float, high: float, rounds: int) -> int:
    """Median RSS of the samples taken between fractions ``low`` and ``high`` of the
    rounds (the nearest sample when none was)."""
    inside = [s.rss for s in samples if low * rounds <= s.round_no <= high * rounds]
    if inside:
        return int(statistics.median(inside))
    target = (low + high) / 2 * rounds
    return min(samples, key=lambda s: abs(s.round_no - target)).rss


def series(samples: list[Sample], points: int, rounds: int) -> list[Sample]:
    """``points`` samples spread over the run (nearest to each tenth of the rounds)."""
    picked: list[Sample] = []
    for i in range(1, points + 1):
        target = rounds * i / points
        best = min(samples, key=lambda s: abs(s.round_no - target))
        if best not in picked:
            picked.append(best)
    return picked


# --- running -----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def config_text(bases: list[str], interval: float, keep_versions: int | None) -> str:
    """The daemon's sources.yaml; ``keep_versions`` None turns retention off (every
    version and every delivered event kept; the pass still runs)."""

    def secs(rounds: int) -> str:
        return f"{rounds * interval:g}s"

    def kept(rounds: int) -> str:  # a retention limit; "0" is none
        return secs(rounds) if keep_versions is not None else "0"

    vendors = "".join(
        f"  - name: {name}\n" + (f"    aliases: [{', '.join(aliases)}]\n" if aliases else "")
        for name, aliases in VENDORS.items()
    )
    sources = "".join(
        f"  - id: site{i:03d}\n    name: Site {i}\n    url: {base}/feed.xml\n"
        "    language: fr\n    allow_private: true\n"
        for i, base in enumerate(bases)
    )
    head = textwrap.dedent(
        f"""\
        # Written by benchmarks/soak.py: one round ({interval:g}s) stands for 15 minutes.
        settings:
          http: {{host_delay: 0s}}
          delivery: {{interval: 1s, backoff: 1s}}
          service: {{grace: 5s}}
          retention:
            versions: {keep_versions or 0}
            max_age: {kept(MAX_AGE_ROUNDS)}
            events: {kept(EVENTS_ROUNDS)}
            every: {RETENTION_EVERY_ROUNDS * interval:g}s
        defaults:
          interval: {interval:g}s
          recheck_for: {secs(RECHECK_FOR_ROUNDS)}
          recheck_every: {secs(RECHECK_EVERY_ROUNDS)}
          max_articles: {FEED_SIZE}
        """
    )
    sinks = (
        "sinks:\n  - id: hook\n    kind: webhook\n    url: ${SOAK_HOOK_URL}\n"
        "    secret: whsec_c29hay1iZW5jaG1hcmstc2VjcmV0LTAxMjM0NQ==\n"
    )
    return head + "vendors:\n" + vendors + "sources:\n" + sources + sinks


@dataclass
class Result:
    args: argparse.Namespace
    command: str
    seconds: float = 0.0
    samples: list[Sample] = field(default_factory=list)
    hwm: int = 0
    cpu: float = 0.0
    metrics: dict[tuple[str, str], float] = field(default_factory=dict)
    churn: Churn = field(default_factory=Churn)
    received: int = 0
    exit_code: int | None = None
    before: Counts = field(default_factory=Counts)
    after: Counts = field(default_factory=Counts)
    size_before: int = 0
    size_after: int = 0
    vacuum_output: str = ""
    log_warnings: int = 0
    busy_skips: int = 0  # scheduled polls skipped: the previous one was still running
    log_errors: int = 0
    log_tail: str = ""


@contextlib.contextmanager
def simulated_web(count: int) -> Iterator[tuple[list[SimSite], list[str]]]:
    from tests.sim import SimSite, serve_site

    sites = [SimSite(title=f"Site {i}", feed_size=FEED_SIZE) for i in range(count)]
    with contextlib.ExitStack() as stack:
        bases = [stack.enter_context(serve_site(site)) for site in sites]
        yield sites, bases


def soak(args: argparse.Namespace, workdir: Path, command: str) -> Result:
    """Run the day, stop the daemon, run ``watcher vacuum``; everything measured."""
    from tests.sim import WebhookReceiver, serve_receiver

    result = Result(args=args, command=command)
    state, config, log_path = workdir / "state", workdir / "sources.yaml", workdir / "daemon.log"
    port = free_port()
    receiver = WebhookReceiver()
    with simulated_web(args.sites) as (sites, bases), serve_receiver(receiver) as hook:
        web = Web(sites, args.seed)
        web.seed_sites()
        keep = None if args.no_retention else args.keep_versions
        config.write_text(config_text(bases, float(args.interval), keep), encoding="utf-8")
        env = {
            **os.environ,
            "SOAK_HOOK_URL": hook,
            "WATCHER_HTTP_PORT": str(port),
            "WATCHER_LOG_FORMAT": "json",
            "WATCHER_LOG_LEVEL": "warning",
        }
        watcher = [sys.executable, "-m", "watcher", "--config", str(config), "--state", str(state)]
        with log_path.open("w", encoding="utf-8") as log_file:
            daemon = subprocess.Popen(
                [*watcher, "run"], env=env, stdout=subprocess.DEVNULL, stderr=log_file, cwd=workdir
            )
            try:
                with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
                    _wait_up(client, daemon)
                    _drive(args, web, daemon, client, state, result)
            finally:
                if daemon.poll() is None:
                    daemon.send_signal(signal.SIGTERM)
                try:
                    result.exit_code = daemon.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    daemon.kill()
                    result.exit_code = daemon.wait()
        result.received = len(receiver.received)
        result.churn = web.churn
    result.before, result.size_before = db_counts(state), db_size(state)
    vacuum = subprocess.run(
        [*watcher, "vacuum"], env=env, capture_output=True, text=True, timeout=300, cwd=workdir
    )
    result.vacuum_output = (vacuum.stdout + vacuum.stderr).strip()
    result.after, result.size_after = db_counts(state), db_size(state)
    _read_log(log_path.read_text(encoding="utf-8").splitlines(), result)
    return result


def _drive(
    args: argparse.Namespace,
    web: Web,
    daemon: subprocess.Popen[bytes],
    client: httpx.Client,
    state: Path,
    result: Result,
) -> None:
    """The day: a round of churn every ``interval`` seconds, a sample every
    ``sample_every`` seconds, until ``rounds`` rounds have passed."""
    interval, rounds = float(args.interval), int(args.rounds)
    started = time.monotonic()
    cpu_start = cpu_seconds(daemon.pid)
    round_no, next_sample, end = 0, started, started + rounds * interval

    def sample() -> None:
        seconds = time.monotonic() - started
        result.samples.append(_sample(client, daemon.pid, state, seconds, seconds / interval))

    while (now := time.monotonic()) < end:
        if daemon.poll() is not None:
            raise RuntimeError(f"the daemon exited ({daemon.returncode})")
        if now >= started + round_no * interval and round_no < rounds:
            web.step(round_no)
            round_no += 1
        if now >= next_sample:
            sample()
            next_sample += args.sample_every
        wake = min(started + round_no * interval, next_sample, end)
        time.sleep(max(0.0, min(wake - time.monotonic(), 0.5)))
    sample()
    result.seconds = time.monotonic() - started
    result.hwm = rss_of(daemon.pid)[1]
    result.cpu = cpu_seconds(daemon.pid) - cpu_start
    result.metrics = metric_totals(client.get("/metrics").text)


def _read_log(lines: list[str], result: Result) -> None:
    """Count the daemon's warnings and errors: structlog's JSON lines, and the stdlib's
    "LEVEL logger: message" lines (apscheduler's)."""
    result.log_warnings = sum(
        '"level": "warning"' in line or line.startswith("WARNING ") for line in lines
    )
    result.log_errors = sum(
        '"level": "error"' in line or line.startswith("ERROR ") for line in lines
    )
    result.busy_skips = sum("maximum number of running instances reached" in line for line in lines)
    result.log_tail = "\n".join(lines[-5:])


def _wait_up(client: httpx.Client, daemon: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if daemon.poll() is not None:
            raise RuntimeError(f"the daemon exited at start ({daemon.returncode})")
        with contextlib.suppress(httpx.HTTPError):
            if client.get("/healthz").status_code == 200:
                return
        time.sleep(0.1)
    raise RuntimeError("the daemon's /healthz never answered")


def _sample(client: httpx.Client, pid: int, state: Path, seconds: float, round_no: float) -> Sample:
    rss, _hwm = rss_of(pid)
    try:
        totals = metric_totals(client.get("/metrics").text)
        polls = int(totals.get(("watcher_polls_total", ""), 0))
    except httpx.HTTPError:
        polls = -1
    counts = db_counts(state)
    return Sample(
        seconds=seconds,
        round_no=round_no,
        rss=rss,
        polls=polls,
        db_bytes=file_size(state / "watcher.db"),
        wal_bytes=file_size(state / "watcher.db-wal"),
        articles=counts.articles,
        versions=counts.versions,
        max_versions=counts.max_versions,
    )


# --- reporting ---------------------------------------------------------------------------


def mb(size: float) -> str:
    return f"{size / 2**20:.1f} MiB"


def growth(result: Result) -> tuple[int, int, float]:
    rounds = int(result.args.rounds)
    warm = window_median(result.samples, 0.10, 0.15, rounds)
    end = window_median(result.samples, 0.95, 1.0, rounds)
    return warm, end, (end / warm - 1.0) if warm else 0.0


def render(result: Result) -> str:
    args = result.args
    warm, end, grew = growth(result)
    planned = args.sites * args.rounds
    m = result.metrics
    polls = int(m.get(("watcher_polls_total", ""), 0))
    outcomes = by_label(m, "watcher_articles_total", "outcome")
    statuses = by_label(m, "watcher_http_responses_total", "status")
    events = by_label(m, "watcher_events_total", "state")
    retention = (
        "off (every version and delivered event kept)"
        if args.no_retention
        else f"{args.keep_versions} versions per article, versions older than "
        f"{MAX_AGE_ROUNDS * args.interval:g}s (12 h), delivered events for "
        f"{EVENTS_ROUNDS * args.interval:g}s (6 h), applied every "
        f"{RETENTION_EVERY_ROUNDS * args.interval:g}s (3 h)"
    )
    kept = "all" if args.no_retention else str(args.keep_versions)
    verdict = "met" if grew < GROWTH_TARGET else "MISSED"
    rows = [
        ("sites x rounds (1 round = 15 min)", f"{args.sites} x {args.rounds}, "
         f"{args.interval:g} s per round, seed {args.seed}"),
        ("wall time", f"{result.seconds:.0f} s"),
        ("source polls done (planned)", f"{polls:,} ({planned:,})"),
        ("scheduled polls skipped, the previous one still running", f"{result.busy_skips:,}"),
        ("article pages: new / updated / unchanged / skipped / failed",
         " / ".join(f"{outcomes.get(k, 0):,}"
                    for k in ("new", "updated", "unchanged", "skipped", "failed"))),
        ("HTTP responses: 200 / 304 / other",
         f"{statuses.get('200', 0):,} / {statuses.get('304', 0):,} / "
         f"{sum(v for k, v in statuses.items() if k not in ('200', '304')):,}"),
        ("churn: new / material edits / cosmetic changes",
         f"{result.churn.new:,} / {result.churn.edits:,} / {result.churn.cosmetic:,}"),
        ("events delivered (webhook receiver accepted)",
         f"{events.get('delivered', 0):,} ({result.received:,})"),
        ("daemon CPU", f"{result.cpu:.0f} s ({1000 * result.cpu / max(polls, 1):.0f} ms per poll)"),
        ("RSS after warm-up (rounds 10-15%)", mb(warm)),
        ("RSS at end (last 5% of rounds)", mb(end)),
        ("RSS growth after warm-up (target < 10%)", f"{grew:+.1%} ({verdict})"),
        ("peak RSS (VmHWM)", mb(result.hwm)),
        ("articles / versions at end", f"{result.before.articles:,} / {result.before.versions:,}"),
        (f"most versions of one article: at end / after vacuum (kept: {kept})",
         f"{result.before.max_versions} / {result.after.max_versions}"),
        ("versions after vacuum", f"{result.after.versions:,}"),
        ("database at end / after `watcher vacuum`",
         f"{mb(result.size_before)} / {mb(result.size_after)}"),
        ("database per article after `watcher vacuum`",
         f"{result.size_after / max(result.after.articles, 1) / 1024:.1f} KiB"),
        ("daemon exit status, log warnings / errors",
         f"{result.exit_code}, {result.log_warnings} / {result.log_errors}"),
    ]  # fmt: skip
    out = [
        f"# watcher soak: {args.sites} sites, {args.rounds} rounds",
        "",
        f"command: {result.command}",
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python "
        f"{platform.python_version()}, {platform.system()} {platform.release()}",
        f"retention: {retention}",
        "",
        "| figure | value |",
        "|---|---|",
        *(f"| {name} | {value} |" for name, value in rows),
        "",
        "Over the run:",
        "",
        "| round | hour | polls | RSS | articles | versions | most versions | database | WAL |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for s in series(result.samples, 10, args.rounds):
        hour = s.round_no * ROUND.total_seconds() / 3600
        out.append(
            f"| {s.round_no:.0f} | {hour:.1f} h | {s.polls:,} | {mb(s.rss)} | {s.articles:,} | "
            f"{s.versions:,} | {s.max_versions} | {mb(s.db_bytes)} | {mb(s.wal_bytes)} |"
        )
    out += ["", "`watcher vacuum`:", textwrap.indent(result.vacuum_output, "    ")]
    return "\n".join(out)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="A day of `watcher run` compressed into minutes: RSS, polls, database."
    )
    parser.add_argument("--sites", type=int, default=32, help="simulated sites (default 32)")
    parser.add_argument(
        "--rounds", type=int, default=96, help="rounds of 15 simulated minutes (default 96)"
    )
    parser.add_argument(
        "--minutes", type=float, help="run this long instead (rounds = minutes*60/interval)"
    )
    parser.add_argument(
        "--interval", type=float, default=2.0, help="wall seconds per round (default 2)"
    )
    parser.add_argument("--seed", type=int, default=1, help="seed of the churn (default 1)")
    parser.add_argument(
        "--keep-versions", type=int, default=3, help="retention.versions (default 3)"
    )
    parser.add_argument(
        "--sample-every", type=float, default=1.0, help="seconds between samples (default 1)"
    )
    parser.add_argument(
        "--no-retention",
        action="store_true",
        help="keep every version and delivered event (for comparison)",
    )
    parser.add_argument("--workdir", type=Path, help="keep the state and log here")
    parser.add_argument("--check", action="store_true", help="exit 1 when RSS grew by 10% or more")
    args = parser.parse_args(argv)
    if args.minutes is not None:
        args.rounds = max(1, round(args.minutes * 60 / args.interval))
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if str(REPO) not in sys.path:  # run as a script: tests/ is not installed
        sys.path.insert(0, str(REPO))
    command = shlex.join(
        [os.path.relpath(sys.executable), os.path.relpath(__file__),
         *(sys.argv[1:] if argv is None else argv)]
    )  # fmt: skip
    with contextlib.ExitStack() as stack:
        if args.workdir is not None:
            workdir = args.workdir
            workdir.mkdir(parents=True, exist_ok=True)
        else:
            workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="soak-")))
        result = soak(args, workdir, command)
    print(render(result), flush=True)
    _warm, _end, grew = growth(result)
    if result.exit_code != 0:
        print(f"the daemon exited with {result.exit_code}:\n{result.log_tail}", file=sys.stderr)
        return 1
    if args.check and grew >= GROWTH_TARGET:
        print(f"target missed: RSS grew {grew:.1%} after warm-up", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
