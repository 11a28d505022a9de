"""A simulated news web on 127.0.0.1 for the polling benchmark (benchmarks/polling.py).

``NewsWeb(sites, articles)`` is ``sites`` news sites, each on its own port of 127.0.0.1
(so each is its own host and origin to a crawler), each with ``articles`` articles:

- ``/feed.xml``: an RSS 2.0 feed of all the site's articles, newest first, links with
  ``utm_*`` parameters (as ``tests/sim.py`` writes them);
- ``/articles/<slug>``: an article page;
- ``/robots.txt``: ``Disallow: /admin/`` for every agent;
- anything else: 404.

Pages are built to cost a parser what a real news page costs, not to be pretty: the
median page of ``tests/fixtures/articles`` is 180 KB, of which the article is a few
KB. An article page here (about 50 KB) has a ``<head>`` with Open Graph and JSON-LD
metadata, an inline stylesheet and an inline analytics script, a site header with a
120-link menu, breadcrumbs and a share bar, then the article (``<h1>``, a standfirst,
6 to 10 paragraphs, about 600 words), a "most read" aside of ten teasers, a
newsletter box, a comment thread, a view counter and a footer of 80 links. The furniture
comes in eight variants (one per site modulo 8) and names its site.

Text is drawn word by word (unigram frequencies) from the article text of the real
pages in ``tests/fixtures/articles``, per language (half the sites are French, half
English), so that language detection, vendor matching and the syndication sketches see
text with a real vocabulary, and no two articles share a sentence. One article in five
names a watched vendor (Cerner, Dedalus, CompuGroup ...) somewhere in its body.
Everything is a pure function of the seed, the site number and the article number:
pages are rendered when asked for (nothing is held, so 2,000 sites x 50 articles need
no memory), and always the same.

Validators: each page has an ``ETag`` (derived from the site, the article and its
revision, not hashed from the bytes) and a ``Last-Modified`` (its publication time); a
matching ``If-None-Match`` (or, without one, an ``If-Modified-Since`` not older than
``Last-Modified``) gets ``304 Not Modified``. Bodies are not compressed.

The server is one asyncio event loop in a thread of the benchmark's process, speaking
just enough HTTP/1.1 (GET, keep-alive, ``Connection: close``); it counts the answers it
gave by status. Its CPU time is that thread's (``RUSAGE_THREAD``).
"""

from __future__ import annotations

import asyncio
import functools
import gzip
import html
import json
import random
import resource
import threading
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from functools import lru_cache
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "tests" / "fixtures" / "articles"
EPOCH = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)  # the newest article of every site
LANGUAGES = ("fr", "en")
# Written into one article in five, at a random place in its body.
VENDOR_NAMES = (
    "Cerner", "Oracle Health", "Dedalus", "CompuGroup Medical", "Microsoft", "Fujitsu",
    "Maincare", "Softway Medical", "Epic", "Philips",
)  # fmt: skip
ROBOTS = b"User-agent: *\nDisallow: /admin/\n"


@lru_cache(maxsize=1)
def vocabulary() -> dict[str, tuple[str, ...]]:
    """Every word of the fixture articles' extracted text, in order, by language."""
    from watcher.encoding import decode_html
    from watcher.extract import extract

    words: dict[str, list[str]] = {lang: [] for lang in LANGUAGES}
    for path in sorted(FIXTURES.glob("*/*.html.gz")):
        article = extract(decode_html(gzip.decompress(path.read_bytes()))[0], "https://x.test/")
        if article.language in words:
            words[article.language].extend(w.strip('.,;:!?«»"()[]') for w in article.text.split())
    return {lang: tuple(w for w in ws if w and len(w) < 20) for lang, ws in words.items()}


def _sentence(rng: random.Random, words: tuple[str, ...], vendor: str | None = None) -> str:
    chosen = [rng.choice(words) for _ in range(rng.randint(9, 26))]
    if vendor is not None:
        chosen.insert(rng.randint(1, len(chosen) - 1), vendor)
    chosen[0] = chosen[0][:1].upper() + chosen[0][1:]
    return " ".join(chosen) + "."


def _paragraph(rng: random.Random, words: tuple[str, ...]) -> str:
    return " ".join(_sentence(rng, words) for _ in range(rng.randint(2, 4)))


@dataclass(frozen=True)
class Article:
    site: int
    number: int  # 0 is the newest
    slug: str
    title: str
    published: datetime
    language: str

    @property
    def etag(self) -> str:
        return f'"a{self.site}-{self.number}-r1"'


class Site:
    """One simulated site: its articles and its pages, rendered on demand."""

    def __init__(self, web: NewsWeb, number: int, base: str) -> None:
        self.web = web
        self.number = number
        self.base = base
        self.language = LANGUAGES[number % len(LANGUAGES)]
        self.name = f"Site {number:04d} {'Santé' if self.language == 'fr' else 'Health'}"

    def article(self, number: int) -> Article:
        rng = self._rng("title", number)
        words = self.web.words[self.language]
        title_words = [rng.choice(words) for _ in range(rng.randint(5, 11))]
        slug = (
            "-".join(w.lower() for w in title_words[:6] if w.isascii() and w.isalnum()) or "article"
        )
        title = " ".join(title_words)
        return Article(
            site=self.number,
            number=number,
            slug=f"{number:05d}-{slug}",
            title=title[:1].upper() + title[1:],
            published=EPOCH - timedelta(hours=3 * number + self.number % 3),
            language=self.language,
        )

    def find(self, slug: str) -> Article | None:
        head = slug.split("-", 1)[0]
        if not head.isdigit() or int(head) >= self.web.articles:
            return None
        article = self.article(int(head))
        return article if article.slug == slug else None

    def _rng(self, what: str, number: int) -> random.Random:
        return random.Random(f"{self.web.seed}:{self.number}:{what}:{number}")

    def feed(self) -> bytes:
        items = []
        for n in range(self.web.articles):
            a = self.article(n)
            items.append(
                f"<item><title>{html.escape(a.title)}</title>\n"
                f"<link>{self.base}/articles/{a.slug}?utm_source=rss&amp;utm_medium=feed</link>\n"
                f'<guid isPermaLink="false">{a.slug}</guid>\n'
                f"<pubDate>{format_datetime(a.published)}</pubDate></item>"
            )
        body = "\n".join(items)
        return (
            f'<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>'
            f"<title>{html.escape(self.name)}</title><link>{self.base}/</link>\n"
            f"<description>Simulated health-IT news</description>\n{body}\n</channel></rss>"
        ).encode()

    def page(self, article: Article) -> bytes:
        rng = self._rng("body", article.number)
        words = self.web.words[self.language]
        paragraphs = [_paragraph(rng, words) for _ in range(rng.randint(6, 10))]
        if rng.random() < 0.2:
            vendor = rng.choice(VENDOR_NAMES)
            at = rng.randrange(len(paragraphs))
            paragraphs[at] += " " + _sentence(rng, words, vendor)
        standfirst = _sentence(rng, words)
        url = f"{self.base}/articles/{article.slug}"
        title = html.escape(article.title)
        ld = json.dumps(
            {
                "@context": "https://schema.org",
                "@type": "NewsArticle",
                "headline": article.title,
                "datePublished": article.published.isoformat(),
                "inLanguage": article.language,
                "publisher": {"@type": "Organization", "name": self.name},
            },
            ensure_ascii=False,
        )
        body = "\n".join(f"<p>{html.escape(p)}</p>" for p in paragraphs)
        chrome = self.web.chrome(self.number % 8, self.language)
        views = rng.randint(10, 90_000)
        published = article.published.isoformat()
        return chrome.format(
            lang=article.language,
            title=title,
            site=html.escape(self.name),
            base=self.base,
            url=url,
            published=published,
            ld=ld.replace("</", "<\\/"),
            article=(
                f'<article class="article"><h1 class="article-title">{title}</h1>\n'
                f'<p class="byline">Par la rédaction · <time datetime="{published}">'
                f"{article.published:%d/%m/%Y}</time></p>\n"
                f'<p class="standfirst"><strong>{html.escape(standfirst)}</strong></p>\n'
                f'<div class="article-body">\n{body}\n</div></article>'
            ),
            views=views,
        ).encode()

    def answer(self, path: str, headers: dict[bytes, bytes]) -> tuple[int, list[str], bytes]:
        bare = path.split("?", 1)[0]
        if bare == "/robots.txt":
            return 200, ["Content-Type: text/plain"], ROBOTS
        if bare == "/feed.xml":
            etag = f'"f{self.number}-{self.web.articles}-r1"'
            modified = EPOCH
            kind = "application/rss+xml; charset=utf-8"
            article = None
        elif bare.startswith("/articles/"):
            article = self.find(bare.removeprefix("/articles/"))
            if article is None:
                return 404, ["Content-Type: text/plain"], b"not found"
            etag, modified, kind = article.etag, article.published, "text/html; charset=utf-8"
        else:
            return 404, ["Content-Type: text/plain"], b"not found"
        validators = [f"ETag: {etag}", f"Last-Modified: {format_datetime(modified, usegmt=True)}"]
        if _fresh(headers, etag, modified):
            return 304, validators, b""
        body = self.feed() if article is None else self.page(article)
        return 200, [f"Content-Type: {kind}", *validators], body


def _fresh(headers: dict[bytes, bytes], etag: str, modified: datetime) -> bool:
    """Whether the client's copy is current (RFC 9110 13.2.2: If-None-Match first)."""
    match = headers.get(b"if-none-match")
    if match is not None:
        return etag in [t.strip() for t in match.decode("latin-1").split(",")]
    since = headers.get(b"if-modified-since")
    if since is None:
        return False
    try:
        return parsedate_to_datetime(since.decode("latin-1")) >= modified
    except (TypeError, ValueError):
        return False


def _kind(target: bytes) -> str:
    if target.startswith(b"/articles/"):
        return "article"
    return {b"/feed.xml": "feed", b"/robots.txt": "robots"}.get(target, "other")


_REASONS = {200: "OK", 304: "Not Modified", 400: "Bad Request", 404: "Not Found"}


class _Connection(asyncio.Protocol):
    def __init__(self, site: Site) -> None:
        self.site = site
        self.buffer = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.site.web.answers[("connection", 0)] += 1
        self.site.web.open.add(transport)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.transport is not None:
            self.site.web.open.discard(self.transport)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while self.transport is not None and not self.transport.is_closing():
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(self.buffer) > 65536:
                    self.transport.close()
                return
            head, self.buffer = self.buffer[:end], self.buffer[end + 4 :]
            self._respond(head)

    def _respond(self, head: bytes) -> None:
        assert self.transport is not None
        lines = head.split(b"\r\n")
        parts = lines[0].split(b" ")
        headers: dict[bytes, bytes] = {}
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            headers[name.strip().lower()] = value.strip()
        if len(parts) != 3 or parts[0] not in (b"GET", b"HEAD"):
            status, extra, body = 400, ["Content-Type: text/plain"], b"bad request"
        else:
            status, extra, body = self.site.answer(parts[1].decode("latin-1"), headers)
        self.site.web.answers[(_kind(parts[1] if len(parts) == 3 else b""), status)] += 1
        close = headers.get(b"connection", b"").lower() == b"close" or parts[-1] == b"HTTP/1.0"
        if parts[0] == b"HEAD":
            body = b""
        response = "\r\n".join(
            [
                f"HTTP/1.1 {status} {_REASONS.get(status, 'Unknown')}",
                *extra,
                f"Content-Length: {len(body)}",
                "Connection: close" if close else "Connection: keep-alive",
                "",
                "",
            ]
        ).encode("latin-1")
        self.transport.write(response + body)
        if close:
            self.transport.close()


class NewsWeb:
    """``sites`` sites of ``articles`` articles; ``serve()`` puts them on 127.0.0.1."""

    def __init__(self, sites: int, articles: int, *, seed: int = 0) -> None:
        self.sites_wanted = sites
        self.articles = articles
        self.seed = seed
        self.words = vocabulary()
        self.sites: list[Site] = []
        # (what, status) -> answers given; ("connection", 0) -> connections accepted
        self.answers: Counter[tuple[str, int]] = Counter()
        self._chrome: dict[tuple[int, str], str] = {}
        self.open: set[asyncio.Transport] = set()  # connections not closed yet
        self._loop: asyncio.AbstractEventLoop | None = None

    def chrome(self, variant: int, language: str) -> str:
        """The page around the article, a ``str.format`` template (built once)."""
        key = (variant, language)
        if key not in self._chrome:
            self._chrome[key] = _chrome(
                random.Random(f"{self.seed}:chrome:{variant}"), self, language
            )
        return self._chrome[key]

    @contextmanager
    def serve(self) -> Iterator[NewsWeb]:
        """Listen on one port of 127.0.0.1 per site, in a thread, until the block ends."""
        ready: Future[asyncio.Event] = Future()

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            try:
                servers = loop.run_until_complete(self._listen(loop))
                stop = asyncio.Event()
            except BaseException as exc:
                ready.set_exception(exc)
                loop.close()
                return
            ready.set_result(stop)
            loop.run_until_complete(stop.wait())
            for server in servers:
                server.close()
            for transport in list(self.open):
                transport.close()
            loop.run_until_complete(asyncio.sleep(0.05))  # let the closes complete
            loop.close()

        thread = threading.Thread(target=run, name="newsweb", daemon=True)
        thread.start()
        stop = ready.result(timeout=120)
        try:
            yield self
        finally:
            assert self._loop is not None
            self._loop.call_soon_threadsafe(stop.set)
            thread.join(timeout=30)

    async def _listen(self, loop: asyncio.AbstractEventLoop) -> list[asyncio.Server]:
        servers = []
        for number in range(self.sites_wanted):
            site = Site(self, number, "")
            server = await loop.create_server(
                functools.partial(_Connection, site), "127.0.0.1", 0, backlog=256
            )
            site.base = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
            self.sites.append(site)
            servers.append(server)
        return servers

    def snapshot(self) -> tuple[float, Counter[tuple[str, int]]]:
        """The CPU time the server thread has used so far (user + system, seconds) and
        the answers it gave, read in that thread."""
        assert self._loop is not None, "serve() first"
        future = asyncio.run_coroutine_threadsafe(self._snapshot(), self._loop)
        return future.result(timeout=30)

    async def _snapshot(self) -> tuple[float, Counter[tuple[str, int]]]:
        usage = resource.getrusage(resource.RUSAGE_THREAD)
        return usage.ru_utime + usage.ru_stime, Counter(self.answers)


def _chrome(rng: random.Random, web: NewsWeb, language: str) -> str:
    """Head, header, aside and footer of a news page; ``{article}`` and the other fields
    are filled in per page (literal braces are doubled)."""
    words = web.words[language]

    def esc(text: str) -> str:
        return text.replace("{", "{{").replace("}", "}}")

    def words_(low: int, high: int) -> str:
        return " ".join(rng.choice(words) for _ in range(rng.randint(low, high)))

    def phrase(low: int, high: int) -> str:  # HTML text, ready for the template
        return esc(html.escape(words_(low, high)))

    css = "\n".join(
        f".c{i} {{ margin: {rng.randint(0, 40)}px {rng.randint(0, 40)}px; "
        f"color: #{rng.randrange(16**6):06x}; "
        f"font: {rng.randint(10, 30)}px/1.{rng.randint(1, 9)} sans-serif }}"
        for i in range(160)
    )
    script = "\n".join(
        "window.dataLayer.push("
        + json.dumps({"event": f"e{i}", "id": rng.randrange(10**12), "k": words_(2, 5)})
        + ");"
        for i in range(180)
    )
    menu = "".join(
        f'<li class="menu-item"><a href="{{base}}/rubrique/{i}">{phrase(1, 3)}</a>'
        + (
            '<ul class="sub-menu">'
            + "".join(
                f'<li><a href="{{base}}/rubrique/{i}/{j}">{phrase(1, 3)}</a></li>' for j in range(7)
            )
            + "</ul>"
            if i % 2 == 0
            else ""
        )
        + "</li>"
        for i in range(30)
    )
    teasers = "".join(
        f'<li class="teaser"><a href="{{base}}/articles/{rng.randrange(10**6)}-x">'
        f'<img src="/img/{i}.jpg" alt="">{phrase(6, 12)}</a>'
        f'<span class="date">{rng.randint(1, 28)}/11</span></li>'
        for i in range(10)
    )
    comments = "".join(
        f'<li class="comment"><p class="comment-author">{phrase(1, 2)}</p>'
        f"<p>{phrase(10, 40)}</p></li>"
        for _ in range(5)
    )
    footer = "".join(f'<li><a href="{{base}}/page/{i}">{phrase(1, 3)}</a></li>' for i in range(80))
    newsletter = (
        "Abonnez-vous à notre newsletter" if language == "fr" else "Subscribe to our newsletter"
    )
    counter = (
        "Cet article a été lu {views} fois."
        if language == "fr"
        else "This article has been read {views} times."
    )
    return (
        '<!DOCTYPE html>\n<html lang="{lang}"><head><meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        "<title>{title} | {site}</title>\n"
        '<meta property="og:site_name" content="{site}">\n'
        '<meta property="og:title" content="{title}">\n'
        '<meta property="og:type" content="article">\n'
        '<meta property="og:url" content="{url}">\n'
        '<meta property="article:published_time" content="{published}">\n'
        '<link rel="canonical" href="{url}">\n'
        '<link rel="alternate" type="application/rss+xml" href="{base}/feed.xml">\n'
        '<link rel="stylesheet" href="/static/main.css"><link rel="icon" href="/favicon.ico">\n'
        '<script type="application/ld+json">{ld}</script>\n'
        f"<style>\n{esc(css)}\n</style>\n"
        f"<script>window.dataLayer = window.dataLayer || [];\n{esc(script)}\n</script>\n"
        "</head><body>\n"
        '<div class="cookie-consent">Nous utilisons des cookies. <button>Accepter</button></div>\n'
        '<header class="site-header"><a class="logo" href="{base}/">{site}</a>\n'
        f'<nav class="main-nav"><ul class="menu">{menu}</ul></nav>\n'
        '<form class="search" action="/search"><input name="q"><button>OK</button></form>'
        "</header>\n"
        '<div class="breadcrumbs"><a href="{base}/">Accueil</a> › '
        '<a href="{base}/e-sante">e-santé</a></div>\n'
        '<div class="share-bar"><a href="#">Facebook</a> <a href="#">LinkedIn</a> '
        '<a href="#">X</a></div>\n'
        '<main class="content">\n{article}\n'
        f'<section class="comments"><h2>Commentaires</h2><ol>{comments}</ol></section>\n'
        '<aside class="sidebar most-read"><h2>Les plus lus</h2>'
        f"<ul>{teasers}</ul></aside>\n"
        f'<div class="newsletter-box"><p>{newsletter}</p>'
        '<form><input name="email"><button>OK</button></form></div>\n'
        '<div class="ad-slot">Publicité</div>\n</main>\n'
        f'<footer class="site-footer"><p class="views">{counter}</p>'
        f"<ul>{footer}</ul><p>© {{site}} 2026</p></footer>\n"
        "</body></html>"
    )
