"""A small simulated news site and webhook receiver, for tests and benchmarks.

``SimSite`` holds articles and answers requests for its RSS feed and article pages,
with ETag/Last-Modified validators, so it can back a respx route (unit tests) or a real
HTTP server on 127.0.0.1 (end-to-end tests, benchmarks). Pages look like a real news
site: navigation, share bar, the article, a rotating "related" block, a view counter
and a footer, so that cosmetic churn exists to be ignored.
"""

from __future__ import annotations

import hashlib
import html
import json
import random
import threading
import time
import unicodedata
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class SimArticle:
    slug: str
    title: str
    paragraphs: list[str]
    published: datetime = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
    language: str = "fr"
    # Cosmetic state: changes here must never count as edits.
    related: list[str] = field(default_factory=lambda: ["Autre actualité du jour"])
    views: int = 0
    spacing: str = " "


_TOPICS = (
    "dossier patient informatisé", "imagerie médicale", "télémédecine", "cybersécurité",
    "interopérabilité", "intelligence artificielle", "facturation", "pharmacie hospitalière",
    "biologie médicale", "plateforme régionale", "messagerie sécurisée", "hébergement HDS",
)  # fmt: skip
_PLACES = (
    "Rennes", "Brest", "Lille", "Nantes", "Lyon", "Grenoble", "Toulouse", "Bordeaux",
    "Strasbourg", "Dijon", "Amiens", "Rouen", "Tours", "Nancy", "Limoges", "Caen",
)  # fmt: skip
_VENDORS = ("Cerner", "Dedalus", "Epic", "Doctolib", "Maincare", "Philips")


def _ascii(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()


def history_articles(
    count: int, *, newest: datetime, every: float = 1.0, seed: int = 0, vendor_share: float = 0.5
) -> list[SimArticle]:
    """``count`` distinct articles, one every ``every`` days back from ``newest`` (newest
    first), about half naming a vendor: an archive for backfill tests and benchmarks.
    Texts differ in words and numbers, so no two are taken for copies of one story."""
    rng = random.Random(seed)
    articles = []
    for i in range(count):
        place, topic = rng.choice(_PLACES), rng.choice(_TOPICS)
        vendor = rng.choice(_VENDORS) if rng.random() < vendor_share else None
        who = f"l'éditeur {vendor}" if vendor else f"un groupement de {rng.randint(3, 40)} hôpitaux"
        amount, year = rng.randint(2, 900) / 10, rng.randint(2024, 2031)
        paragraphs = [
            f"Le centre hospitalier de {place} a retenu {who} pour son projet de {topic}, "
            f"annonce sa direction dans un communiqué publié le {i % 28 + 1} du mois.",
            f"Le marché, d'un montant de {amount} millions d'euros, couvre {rng.randint(2, 60)} "
            f"sites et {rng.randint(100, 9000)} professionnels de santé jusqu'en {year}.",
            f"Selon le directeur des systèmes d'information, la bascule du lot {i} aura lieu "
            f"en {rng.choice(['janvier', 'mars', 'juin', 'septembre', 'novembre'])}, après "
            f"{rng.randint(2, 24)} mois de préparation avec les équipes de {topic}.",
        ]
        articles.append(
            SimArticle(
                slug=f"{place.lower()}-{_ascii(topic.split()[0].lower())}-projet-{i}",
                title=f"{place} : {topic}, lot {i}" + (f" avec {vendor}" if vendor else ""),
                paragraphs=paragraphs,
                published=newest - timedelta(days=i * every),
            )
        )
    return articles


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes
    delay: float = 0.0  # seconds the server waits before answering
    truncate: int | None = None  # send only this many bytes, then close
    stream: Callable[[], Iterator[bytes]] | None = None  # a body too big to hold


@dataclass
class Fault:
    """How the site misbehaves on one path (for the first ``times`` requests, or always)."""

    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None
    delay: float = 0.0
    times: int | None = None
    truncate: int | None = None
    stream: Callable[[], Iterator[bytes]] | None = None


@dataclass
class Hit:
    """One request as the server saw it."""

    path: str
    headers: dict[str, str]
    started: float
    in_flight: int  # requests being answered at that moment, this one included


def article_page(article: SimArticle, base: str) -> str:
    """An article page with the furniture of a real news site."""
    paragraphs = "\n".join(
        f"<p>{html.escape(p).replace(' ', article.spacing)}</p>" for p in article.paragraphs
    )
    related = "".join(
        f'<li><a href="{base}/related/{i}">{html.escape(t)}</a></li>'
        for i, t in enumerate(article.related)
    )
    return f"""<!DOCTYPE html>
<html lang="{article.language}"><head><meta charset="utf-8">
<title>{html.escape(article.title)} | Sim Santé</title>
<meta property="og:site_name" content="Sim Santé">
<meta property="article:published_time" content="{article.published.isoformat()}">
<link rel="canonical" href="{base}/articles/{article.slug}">
</head><body>
<header class="site-header"><a href="/">Sim Santé</a><nav><a href="/e-sante">e-santé</a> <a href="/hopital">Hôpital</a></nav></header>
<div class="share-bar">Partager sur Facebook · Partager sur LinkedIn</div>
<main><article>
<h1>{html.escape(article.title)}</h1>
<div class="article-body">
{paragraphs}
</div>
</article>
<aside class="related"><h2>À lire aussi</h2><ul>{related}</ul></aside>
</main>
<footer class="site-footer"><p>Cet article a été lu {article.views} fois.</p><p>© Sim Santé 2026</p></footer>
</body></html>"""


def rss(site_title: str, base: str, articles: list[SimArticle]) -> str:
    items = "\n".join(
        f"""<item><title>{html.escape(a.title)}</title>
<link>{base}/articles/{a.slug}?utm_source=rss&amp;utm_medium=feed</link>
<guid isPermaLink="false">{a.slug}</guid>
<pubDate>{format_datetime(a.published)}</pubDate></item>"""
        for a in articles
    )
    return f"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>{html.escape(site_title)}</title><link>{base}/</link>
<description>Simulated health-IT news</description>
{items}
</channel></rss>"""


def home_page(site_title: str, base: str, articles: list[SimArticle]) -> str:
    """A home page that announces its feed and links the latest articles."""
    links = "".join(
        f'<li class="teaser"><a href="{base}/articles/{a.slug}">{html.escape(a.title)}</a></li>'
        for a in articles
    )
    return f"""<!DOCTYPE html><html><head><meta charset="utf-8"><title>{html.escape(site_title)}</title>
<link rel="alternate" type="application/rss+xml" title="RSS" href="/feed.xml">
</head><body><ul class="news">{links}</ul></body></html>"""


def listing_page(base: str, articles: list[SimArticle], page: int, more: bool) -> str:
    """One page of the paginated archive, newest first, with a "next" link."""
    links = "".join(
        f'<article class="teaser"><a href="{base}/articles/{a.slug}">{html.escape(a.title)}</a>'
        f'<time datetime="{a.published.isoformat()}"></time></article>'
        for a in articles
    )
    nxt = f'<a rel="next" href="/news?page={page + 1}">Page suivante</a>' if more else ""
    return f"""<!DOCTYPE html><html><head><meta charset="utf-8"><title>Actualités</title></head>
<body><main class="archive">{links}</main><nav class="pagination">{nxt}</nav></body></html>"""


def sitemap_index(base: str, months: list[str]) -> str:
    items = "".join(f"<sitemap><loc>{base}/sitemaps/{m}.xml</loc></sitemap>" for m in months)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{items}</sitemapindex>'
    )


def urlset(base: str, articles: list[SimArticle]) -> str:
    items = "".join(
        f"<url><loc>{base}/articles/{a.slug}</loc><lastmod>{a.published.isoformat()}</lastmod></url>"
        for a in articles
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{items}</urlset>'
    )


class SimSite:
    """The site's state; ``handle()`` answers one GET like a well-behaved server.

    Paths: ``/`` (home page announcing the feed), ``/feed.xml`` (the latest
    ``feed_size`` articles; ``/feed.xml?paged=N``: older ones, 404 past the last),
    ``/news?page=N`` (paginated archive, ``page_size`` per page, 404 past the last), ``/sitemap.xml`` (an index of monthly ``/sitemaps/YYYY-MM.xml`` urlsets),
    ``/articles/SLUG`` and ``/robots.txt``.
    """

    def __init__(
        self,
        base: str = "http://sim.example",
        title: str = "Sim Santé",
        *,
        feed_size: int | None = None,
        page_size: int = 10,
    ) -> None:
        self.base = base
        self.title = title
        self.feed_size = feed_size
        self.page_size = page_size
        self.articles: dict[str, SimArticle] = {}
        self.order: list[str] = []
        self.failing: dict[str, int] = {}  # path -> status to answer with
        self.faults: dict[str, Fault] = {}  # path -> misbehaviour
        self.robots: str | None = None  # robots.txt body (None: 404)
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.hits: list[Hit] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Condition()

    def add(self, article: SimArticle) -> SimArticle:
        with self._lock:
            self.articles[article.slug] = article
            self.order.insert(0, article.slug)
        return article

    def feed_articles(self) -> list[SimArticle]:
        slugs = self.order if self.feed_size is None else self.order[: self.feed_size]
        return [self.articles[s] for s in slugs]

    def newest_first(self) -> list[SimArticle]:
        return sorted(self.articles.values(), key=lambda a: a.published, reverse=True)

    def _months(self) -> dict[str, list[SimArticle]]:
        months: dict[str, list[SimArticle]] = {}
        for article in self.newest_first():
            months.setdefault(article.published.strftime("%Y-%m"), []).append(article)
        return months

    def begin(self, path: str, headers: dict[str, str]) -> None:
        with self._lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            self.hits.append(Hit(path, dict(headers), time.monotonic(), self.in_flight))
            self._lock.notify_all()

    def wait_for_hit(self, done: Callable[[list[Hit]], bool], timeout: float = 10.0) -> bool:
        """Block until ``done(hits)`` holds (checked at each request) or time out."""
        with self._lock:
            return self._lock.wait_for(lambda: done(self.hits), timeout=timeout)

    def end(self) -> None:
        with self._lock:
            self.in_flight -= 1

    def handle(self, path: str, headers: dict[str, str]) -> Response:
        with self._lock:
            self.requests.append((path, dict(headers)))
            bare = path.split("?")[0]
            fault = self.faults.get(bare)
            if fault is not None and fault.times is not None and fault.times <= 0:
                fault = None  # the misbehaviour is over: answer normally
            if fault is not None:
                if fault.times is not None:
                    fault.times -= 1
                if fault.status is not None or fault.body is not None or fault.stream is not None:
                    return Response(
                        fault.status or 200,
                        {"Content-Type": "text/html", **fault.headers},
                        fault.body or b"",
                        delay=fault.delay,
                        truncate=fault.truncate,
                        stream=fault.stream,
                    )
            if bare in self.failing:
                return Response(self.failing[bare], {"Content-Type": "text/plain"}, b"failure")
            if bare == "/robots.txt":
                if self.robots is None:
                    return Response(404, {"Content-Type": "text/plain"}, b"not found")
                return Response(200, {"Content-Type": "text/plain"}, self.robots.encode())
            query = path.partition("?")[2]
            if bare == "/feed.xml" and query.startswith("paged="):  # WordPress's feed pages
                page, size = int(query.removeprefix("paged=") or 1), self.feed_size or 10
                chunk = self.newest_first()[(page - 1) * size : page * size]
                if page < 1 or (not chunk and page > 1):
                    return Response(404, {"Content-Type": "text/plain"}, b"not found")
                body = rss(self.title, self.base, chunk).encode()
                content_type = "application/rss+xml; charset=utf-8"
            elif bare == "/feed.xml":
                body = rss(self.title, self.base, self.feed_articles()).encode()
                content_type = "application/rss+xml; charset=utf-8"
            elif bare == "/":
                body = home_page(self.title, self.base, self.newest_first()[:10]).encode()
                content_type = "text/html; charset=utf-8"
            elif bare == "/news":
                page = int(query.removeprefix("page=") or 1) if query.startswith("page=") else 1
                ordered = self.newest_first()
                start = (page - 1) * self.page_size
                if page < 1 or (start >= len(ordered) and page > 1):
                    return Response(404, {"Content-Type": "text/plain"}, b"not found")
                chunk = ordered[start : start + self.page_size]
                more = start + self.page_size < len(ordered)
                body = listing_page(self.base, chunk, page, more).encode()
                content_type = "text/html; charset=utf-8"
            elif bare == "/sitemap.xml":
                body = sitemap_index(self.base, list(self._months())).encode()
                content_type = "application/xml"
            elif bare.startswith("/sitemaps/") and bare.endswith(".xml"):
                month = self._months().get(bare.removeprefix("/sitemaps/").removesuffix(".xml"))
                if month is None:
                    return Response(404, {"Content-Type": "text/plain"}, b"not found")
                body = urlset(self.base, month).encode()
                content_type = "application/xml"
            elif bare.startswith("/articles/") and bare.removeprefix("/articles/") in self.articles:
                article = self.articles[bare.removeprefix("/articles/")]
                body = article_page(article, self.base).encode()
                content_type = "text/html; charset=utf-8"
            else:
                return Response(404, {"Content-Type": "text/plain"}, b"not found")
        etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
        lowered = {k.lower(): v for k, v in headers.items()}
        delay = fault.delay if fault is not None else 0.0
        if lowered.get("if-none-match") == etag:
            return Response(304, {"ETag": etag}, b"", delay=delay)
        extra = fault.headers if fault is not None else {}
        truncate = fault.truncate if fault is not None else None
        return Response(
            200,
            {"Content-Type": content_type, "ETag": etag, **extra},
            body,
            delay=delay,
            truncate=truncate,
        )


class _Handler(BaseHTTPRequestHandler):
    site: SimSite
    release: threading.Event  # set at shutdown: stalled answers give up

    def do_GET(self) -> None:
        self.site.begin(self.path, dict(self.headers))
        try:
            answer = self.site.handle(self.path, dict(self.headers))
            if answer.delay:
                self.release.wait(answer.delay)  # a slow server, not a sleeping test
            self.send_response(answer.status)
            for name, value in answer.headers.items():
                self.send_header(name, value)
            if answer.stream is None:
                self.send_header("Content-Length", str(len(answer.body)))
            self.end_headers()
            if answer.stream is not None:
                for chunk in answer.stream():
                    self.wfile.write(chunk)
                self.close_connection = True
            elif answer.truncate is not None:
                self.wfile.write(answer.body[: answer.truncate])
                self.close_connection = True
            else:
                self.wfile.write(answer.body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a size cap, a timeout): that is the point
        finally:
            self.site.end()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


class WebhookReceiver:
    """Records POSTs; answers ``status`` (set it to 500 to simulate an outage)."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.status = 200
        self.delay = 0.0  # seconds between reading a delivery and answering it
        self.fail_rate = 0.0  # share of requests answered 503 at random
        self.rng = random.Random(7)
        self.requests = 0
        self.release = threading.Event()  # set at shutdown: slow answers give up
        self._changed = threading.Condition()

    def record(self, headers: dict[str, str], body: bytes) -> int:
        with self._changed:
            self.requests += 1
            status = self.status
            if status < 300 and self.fail_rate and self.rng.random() < self.fail_rate:
                status = 503
            if status < 300:
                self.received.append(Received({k.lower(): v for k, v in headers.items()}, body))
            self._changed.notify_all()
        return status

    def wait_for(self, count: int, timeout: float = 10.0) -> bool:
        """Block until ``count`` deliveries were accepted (or time out): no polling."""
        return self.wait_until(lambda received: len(received) >= count, timeout)

    def wait_until(self, done: Callable[[list[Received]], bool], timeout: float = 10.0) -> bool:
        """Block until ``done(received)`` holds (checked at each delivery) or time out."""
        with self._changed:
            return self._changed.wait_for(lambda: done(self.received), timeout=timeout)


class _ReceiverHandler(BaseHTTPRequestHandler):
    receiver: WebhookReceiver

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length)
        status = self.receiver.record(dict(self.headers), body)
        if self.receiver.delay:
            self.receiver.release.wait(self.receiver.delay)  # a slow receiver
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def _serve(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@contextmanager
def serve_site(site: SimSite) -> Iterator[str]:
    """Serve ``site`` on 127.0.0.1 (its ``base`` is set to the real address)."""
    release = threading.Event()
    handler = type("SiteHandler", (_Handler,), {"site": site, "release": release})
    try:
        with _serve(handler) as base:
            site.base = base
            yield base
            release.set()
    finally:
        release.set()


@contextmanager
def serve_receiver(receiver: WebhookReceiver) -> Iterator[str]:
    handler = type("ReceiverHandler", (_ReceiverHandler,), {"receiver": receiver})
    try:
        with _serve(handler) as base:
            yield base + "/hook"
            receiver.release.set()
    finally:
        receiver.release.set()
