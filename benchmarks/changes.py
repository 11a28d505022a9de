"""Change-detection benchmark: false changes, missed edits, syndication links, lookup cost.

The figures of issue 4, measured on the article pages of the shared corpus
(``../shared/corpus/articles``; read its README) through watcher's own code paths:
``watcher.encoding.decode_html`` and ``watcher.extract.extract`` read every page,
``watcher.diff.content_hash`` and ``watcher.diff.compare`` judge every new version,
``watcher.stories`` decides whether two texts are one story, and a real
``watcher.store.Store`` answers fingerprint lookups. Every page whose extracted body has at
least 80 words is used (``--limit N`` takes N of them, spread over the index).

1. Cosmetic mutations, made in the page's HTML (lexbor DOM, then serialised), each of
   which must leave ``content_hash(title, text)`` unchanged and ``compare()`` at ``None``:

   - ``related-end`` / ``related-inline``: an ``<aside class="related">`` of five other
     corpus headlines (links) after the article's last paragraph / between two of its
     middle paragraphs;
   - ``counter-article-top`` / ``counter-article-end`` / ``counter-page-footer``: a view
     counter, "This article has been read 12,345 times." (French pages, as in
     ``tests/sim.py``: "Cet article a été lu 12 345 fois."; German and Spanish pages in
     their language), in a ``<div class="article-meta">`` just before the article's
     first paragraph / after its last one, or in a site ``<footer>`` at the end of
     ``<body>`` (where ``tests/sim.py`` puts it);
   - ``views-article-top`` / ``views-article-end``: the short form, "12,345 views"
     ("12 345 vues"), in the same ``<div>`` at the same two places;
   - ``timestamp-article-top`` / ``timestamp-article-end`` / ``timestamp-page-header``:
     "Updated 3 minutes ago" ("Mis à jour il y a 3 minutes") in the same places, the last
     one in a site ``<header>`` at the start of ``<body>``;
   - ``whitespace``: the text inside the article's paragraphs reflowed (spaces become
     newlines, runs of spaces, tabs; padding at both ends);
   - ``ad-slot``: ``<div class="ad-slot">Publicité</div>`` ("Advertisement" on non-French
     pages) after every second paragraph, never after the last;
   - ``spam``: a pharma hack appended after the last paragraph ("B Well Mart", "Shopping
     cart", "Best sleep aid generics.", a line of viagra/cialis links);
   - ``sidebar``: the items of the page's own sidebar lists reversed (lists in ``<aside>``
     or in elements whose class or id says sidebar, related, widget, popular, most-read,
     trending, recommended, more-stories, teaser; a box without a list has its repeated
     children reversed, its heading left first); not applicable on pages without one;
   - ``utm``: ``utm_source``/``utm_medium``/``utm_campaign`` added to every ``<a href>``.

   ``roundtrip`` (parse and serialise, nothing changed) is a control: every mutated page
   goes through the same serialisation, so the baseline is the round-tripped original.

   "The article's paragraphs" are found in the DOM from the extraction: for each extracted
   paragraph, the first ``<p>`` whose text is that paragraph, else the first other element
   (highest in the tree) with that text, else a text node with it (``<br>``-separated
   prose). Insertions between paragraphs only use places where a block is valid HTML.

2. Material edits, made in the DOM so that extraction sees them, on a paragraph chosen with
   a seeded random generator: ``number`` (a digit sequence that is not a year, plus one),
   ``date`` (a year, plus one, or a month name, the next month; whichever the page has,
   chosen at random when it has both), ``name`` (a capitalised word not at a sentence
   start replaced by a surname absent from the page), ``sentence`` (a sentence appended to
   a paragraph that ends with one), ``paragraph`` (a middle paragraph removed), ``title``
   (the headline changed the way a CMS does it, words appended everywhere the title is:
   every element whose text is the title (the visible headline, be it an ``<h1>`` or an
   ``<h2>``, a self-link), an ``<h1>`` around or inside it, ``<title>``, ``og:title``,
   ``twitter:title`` and JSON-LD ``headline``/``name``). A ``None`` from ``compare()`` is a
   miss. The expected class (number/date/name: correction, sentence: addition,
   paragraph: removal, title: retitle) must be among ``change.classes``. A page where an
   edit has nothing to edit is "not applicable" for that edit. What the pipeline's verdict
   (``watcher.verdict.judge``) would add is shown too: a new text that ``is_teaser`` of the
   old is dropped as a paywall teaser, an old text that is a teaser of the new relabels the
   change ``paywall`` and announces nothing.

3. Syndication: copies of each article rendered with ``tests/sim.py``'s ``article_page``
   (another template) with light edits: none (``template``), an intro sentence added,
   1% and 3% of the words replaced by other words of the article, the first or the last
   paragraph dropped, cut to the first 40% and 60% of its words, and ``combined`` (intro,
   2% of words, last paragraph dropped). A copy is linked exactly as
   ``watcher.linking.find_story`` links: its sketch shares at least ``MIN_SHARED`` hashes
   with the original's (``Store.sketch_candidates``) and
   ``similarity(shingles(copy), shingles(original)).same_story``. Distinct stories: every
   pair of different corpus articles, except pairs that are one page present in two corpus
   sets (same normalised title, or resemblance >= 0.9), which are excluded and listed.
   Cross-language: every pair of articles in different languages through
   ``cross_link(..., vendors=())``; the pipeline only tries pairs that share a watched
   vendor within 14 days, so this over-counts false links. The corpus has no honest
   same-story pair in two languages; the synthetic FR/EN pair of ``tests/test_stories.py``
   is shown as a sanity check only.

4. Timing (``time.perf_counter``, this process, single-threaded): ``compare()`` on every
   material edit and every cosmetic mutation; ``linking.evidence`` (shingles and sketch)
   per article; and fingerprint lookups: a ``Store`` in a temporary directory (removed at
   the end) holding N = 1,000, 10,000 and 100,000 articles' sketches. Setup writes rows
   straight into ``articles`` and ``sketches`` (one transaction per size step); lookups
   go through ``store.sketch_candidates(sketch, min_shared=MIN_SHARED, exclude=None)`` as
   the pipeline calls it, ~1,000 per size after 50 untimed, half with a stored article's
   sketch, half with a sketch absent from the store. The corpus's real sketches are
   stored first; the others are synthetic bottom-64 sketches of uniform 32-bit hashes of
   articles whose shingle count is drawn from the corpus (the k smallest of n uniform
   values, drawn as order statistics): real archives also have recurring boilerplate
   shingles, which this does not model (the corpus's own hash sharing is reported).

Targets (``--check`` exits 1 when one is missed and says which): no false change on a
cosmetic mutation; no missed material edit; >= 99% of same-story copies linked; no
distinct stories linked; median lookup under 1 ms at the largest N; and sub-linear
growth: from the smallest to the largest N, the median lookup time grows by less than the
square root of the archive's growth (x10 for x100). Classification accuracy and times per
comparison are reported, not checked (the issue sets no target for them).

Run it with ``make bench-changes`` (options in ``BENCH_ARGS="..."``) or directly::

    .venv/bin/python benchmarks/changes.py [--corpus DIR] [--limit N] [--sizes 1000,10000,100000]
        [--lookups N] [--seed N] [--json FILE] [--check]

The corpus is ``$WATCHER_CORPUS`` or, by default, ``../shared/corpus`` next to the
repository. The script never uses the network: a socket connection raises.
"""

from __future__ import annotations

import argparse
import gzip
import html
import json
import math
import os
import random
import re
import shlex
import shutil
import statistics
import sys
import tempfile
import textwrap
import time
import zlib
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from selectolax.lexbor import LexborHTMLParser, LexborNode

from watcher.diff import compare, content_hash, is_teaser, normalize
from watcher.encoding import decode_html
from watcher.extract import extract
from watcher.linking import evidence
from watcher.models import Change
from watcher.store import Store
from watcher.stories import (
    CONTAINMENT,
    CROSS_LINK_SCORE,
    MIN_SHARED,
    MIN_SHARED_ENTITIES,
    MIN_SHINGLES,
    RESEMBLANCE,
    SHINGLE,
    SKETCH_SIZE,
    cross_link,
    entities,
    shingles,
    similarity,
    sketch,
)

REPO = Path(__file__).resolve().parent.parent
DEFAULT_CORPUS = REPO.parent / "shared" / "corpus"
MIN_WORDS = 80
# readability's pages have no URL upstream; its tests use this one.
FAKE_URL = "http://fakehost/test/page.html"
COPY_BASE = "https://copy.example"
DUPLICATE_RESEMBLANCE = 0.9
LINKED_TARGET = 0.99
LOOKUP_TARGET_MS = 1.0
WARMUP_LOOKUPS = 50

COSMETIC = (
    "roundtrip",
    "related-end",
    "related-inline",
    "counter-article-top",
    "counter-article-end",
    "counter-page-footer",
    "views-article-top",
    "views-article-end",
    "timestamp-article-top",
    "timestamp-article-end",
    "timestamp-page-header",
    "whitespace",
    "ad-slot",
    "spam",
    "sidebar",
    "utm",
)
# Blocks whose content changes from one fetch to the next.
ROTATING = frozenset(
    "related-end related-inline counter-article-top counter-article-end counter-page-footer "
    "views-article-top views-article-end timestamp-article-top timestamp-article-end "
    "timestamp-page-header".split()
)
EDITS = ("number", "date", "name", "sentence", "paragraph", "title")
EXPECTED = {
    "number": "correction",
    "date": "correction",
    "name": "correction",
    "sentence": "addition",
    "paragraph": "removal",
    "title": "retitle",
}
VARIANTS = (
    "template",
    "intro",
    "words-1%",
    "words-3%",
    "drop-first",
    "drop-last",
    "cut-40%",
    "cut-60%",
    "combined",
)

# Phrases in the page's language (French, German, Spanish, else English).
PHRASES: dict[str, dict[str, str]] = {
    "counter": {
        "fr": "Cet article a été lu {n} fois.",
        "de": "Dieser Artikel wurde {n} Mal gelesen.",
        "es": "Este artículo ha sido leído {n} veces.",
        "en": "This article has been read {n} times.",
    },
    "timestamp": {
        "fr": "Mis à jour il y a {n} minutes",
        "de": "Aktualisiert vor {n} Minuten",
        "es": "Actualizado hace {n} minutos",
        "en": "Updated {n} minutes ago",
    },
    "related": {
        "fr": "À lire aussi",
        "de": "Mehr zum Thema",
        "es": "Más sobre",
        "en": "Related stories",
    },
    "ad": {"fr": "Publicité", "de": "Anzeige", "es": "Publicidad", "en": "Advertisement"},
    "sentence": {
        "fr": "La direction a précisé que le calendrier serait revu en commission le mois "
        "prochain.",
        "de": "Ein Sprecher sagte, der Zeitplan werde im kommenden Monat im Ausschuss überprüft.",
        "es": "Un portavoz dijo que el calendario se revisará en la comisión el mes próximo.",
        "en": "A spokesperson said the schedule would be reviewed by the board next month.",
    },
    "title": {
        "fr": ", selon la direction",
        "de": ", sagt die Regierung",
        "es": ", según la dirección",
        "en": ", officials say",
    },
    "intro": {
        "fr": "Cet article a d'abord été publié par notre partenaire et il est reproduit ici "
        "avec son autorisation.",
        "de": "Dieser Artikel erschien zuerst bei unserem Partner und wird hier mit dessen "
        "Genehmigung veröffentlicht.",
        "es": "Este artículo se publicó primero en un medio asociado y se reproduce aquí con "
        "su permiso.",
        "en": "This article was first published by our partner and is republished here with "
        "permission.",
    },
}
SPAM_HTML = (
    '<div class="entry-extra"><p>B Well Mart</p><p>Shopping cart</p>'
    "<p>Best sleep aid generics.</p>"
    '<p><a href="http://pills.example/viagra">cheap viagra</a> '
    '<a href="http://pills.example/cialis">cialis online pharmacy</a> '
    '<a href="http://pills.example/tramadol">tramadol without prescription</a></p></div>'
)
SURNAMES = ("Moreau", "Lindqvist", "Okonkwo", "Halvorsen", "Castellanos", "Wojcik")
MONTHS = {
    "en": "January February March April May June July August September October November "
    "December".split(),
    "de": "Januar Februar März April Mai Juni Juli August September Oktober November "
    "Dezember".split(),
    "fr": "janvier février mars avril mai juin juillet août septembre octobre novembre "
    "décembre".split(),
    "es": "enero febrero marzo abril mayo junio julio agosto septiembre octubre noviembre "
    "diciembre".split(),
}
# English and German month names are capitalised; French and Spanish ones are not,
# except at a sentence start.
_MONTH_RE = re.compile(
    r"(?<![\w-])("
    + "|".join(MONTHS["en"] + MONTHS["de"])
    + "|"
    + "|".join(
        m for lang in ("fr", "es") for m in MONTHS[lang] + [m.capitalize() for m in MONTHS[lang]]
    )
    + r")(?![\w-])"
)
_MONTH_NEXT: dict[str, str] = {}
for _names in MONTHS.values():
    for _i, _name in enumerate(_names):
        _next = _names[(_i + 1) % 12]
        _MONTH_NEXT.setdefault(_name, _next)
        _MONTH_NEXT.setdefault(_name.capitalize(), _next.capitalize())
_YEAR = re.compile(r"(?<![\d.,])(?:19[5-9]\d|20[0-4]\d)(?![\d.,]?\d)")
_DIGITS = re.compile(r"\d+")
_NAME = re.compile(r"(?<![\w'’-])([A-ZÀ-ÖØ-Þ][a-zß-öø-ÿ]{2,})(?![\w'’-])")
# Capitalised words that name nothing (the diff's classifier would still call them names,
# but a "name" edit should change a name).
_NOT_NAMES = frozenset(
    """The This That These Those There Their They When While With Without From After Before
    For And But Not Les Des Une Dans Pour Par Sur Avec Mais Ces Cette Selon Elle Ils Nous
    Vous Der Die Das Und Ein Eine Mit Von Für Auf Los Las Una Con Por Para Del Mr Mrs Dr
    Monday Tuesday Wednesday Thursday Friday Saturday Sunday Lundi Mardi Mercredi Jeudi
    Vendredi Samedi Dimanche""".split()
)
_SENTENCE_END = re.compile(r"[.!?…][\"'»”’)\]]*$")
_TITLE_SEPARATOR = re.compile(r"\s+[|\-–—:·»/]{1,2}\s+")
_SIDEBAR_HINT = re.compile(
    r"(?:^|[\s_-])(sidebar|side-bar|aside|related|widget|popular|most-?read|trending|"
    r"recommended|recommendations|more-?stories|teasers?)(?:$|[\s_-])",
    re.IGNORECASE,
)
_SKIP_TAGS = frozenset(
    "html head body script style noscript template svg math iframe object title meta link".split()
)
_BLOCK_TAGS = frozenset(
    "p div h1 h2 h3 h4 h5 h6 blockquote section article ul ol dl dd dt li table pre figure "
    "header footer main aside center details form".split()
)
_FLOW_PARENTS = frozenset(
    "div td th article section blockquote main body li dd aside center form header footer "
    "figure details".split()
)


# --- Corpus ---------------------------------------------------------------------------


@dataclass
class Page:
    set: str
    id: str
    url: str
    lang: str  # phrase language: fr, de, es or en
    language: str | None  # what extraction said (cross-language pairs)
    html: str
    title: str
    paragraphs: tuple[str, ...]
    # (paragraph index, position in the body's traversal) of each paragraph whose text is
    # held by exactly one node; ``ambiguous``: paragraphs whose text the page holds twice.
    anchors: list[tuple[int, int]] = field(default_factory=list)
    ambiguous: int = 0

    @property
    def key(self) -> str:
        return f"{self.set}/{self.id}"

    @property
    def text(self) -> str:
        return "\n\n".join(self.paragraphs)


def _phrase_lang(*codes: str | None) -> str:
    for code in codes:
        primary = (code or "").split("-")[0].lower()
        if primary in ("fr", "de", "es", "en"):
            return primary
        if primary:
            return "en"
    return "en"


def load_pages(corpus: Path, limit: int | None) -> tuple[list[Page], int, int]:
    """The corpus pages with >= MIN_WORDS extracted words, and (listed, too short)."""
    index = corpus / "articles" / "index.jsonl"
    rows = [json.loads(line) for line in index.read_text(encoding="utf-8").splitlines() if line]
    pages: list[Page] = []
    short = 0
    for row in rows:
        folder = corpus / row["path"]
        name = "source.html.gz" if row["set"] == "readability" else "page.html.gz"
        content, _encoding = decode_html(gzip.decompress((folder / name).read_bytes()))
        url = row.get("url") or FAKE_URL
        article = extract(content, url)
        if len(article.text.split()) < MIN_WORDS:
            short += 1
            continue
        pages.append(
            Page(
                set=row["set"],
                id=row["id"],
                url=url,
                lang=_phrase_lang(row.get("lang_primary"), article.language),
                language=article.language,
                html=content,
                title=article.title,
                paragraphs=article.paragraphs,
            )
        )
    if limit is not None and limit < len(pages):
        step = len(pages) / limit
        pages = [pages[int(i * step)] for i in range(limit)]
    return pages, len(rows), short


def page_rng(seed: int, page: Page, what: str) -> random.Random:
    return random.Random(zlib.crc32(f"{seed}:{page.key}:{what}".encode()))


# --- The page's DOM ----------------------------------------------------------------------


def _norm(text: str | None) -> str:
    return " ".join((text or "").split())


def _traversal(tree: LexborHTMLParser) -> list[LexborNode]:
    body = tree.body
    return list(body.traverse(include_text=True)) if body is not None else []


def locate(page: Page) -> None:
    """Find the nodes that hold the page's extracted paragraphs (once per page; each
    mutation re-parses the page and takes the same traversal positions).

    A paragraph's node is the first ``<p>`` whose text is the paragraph, else the highest
    element with that text, else a text node with it, never one inside ``<noscript>``.
    Paragraphs whose text the page holds in two places (a mobile and a desktop copy, a pull
    quote) are left out: an edit of the wrong copy would be the instrument's miss, not
    watcher's."""
    wanted: dict[str, int] = {}
    for i, paragraph in enumerate(page.paragraphs):
        wanted.setdefault(paragraph, i)
    texts: dict[int, str] = {}
    occurrences: Counter[str] = Counter()
    first_p: dict[str, int] = {}
    first_any: dict[str, int] = {}
    # Nothing inside a <noscript> or a <template> either: a page that renders its post
    # from a script keeps a copy there, which readers (and watcher) do not see.
    hidden: set[int] = set()
    for position, node in enumerate(_traversal(LexborHTMLParser(page.html))):
        parent = node.parent
        if parent is not None and parent.mem_id in hidden:
            hidden.add(node.mem_id)
            continue
        if node.is_element_node and node.tag in {"noscript", "template", "script"}:
            hidden.add(node.mem_id)
            continue
        if node.is_text_node:
            if parent is not None and parent.tag in _SKIP_TAGS and parent.tag != "body":
                continue
            text = _norm(node.text_content)
        elif not node.is_element_node or node.tag in _SKIP_TAGS:
            continue
        else:
            text = _norm(node.text(deep=True))
        texts[node.mem_id] = text
        if text not in wanted:
            continue
        if parent is None or texts.get(parent.mem_id) != text:
            occurrences[text] += 1  # a new place holding it, not a wrapper of the last one
        if node.tag == "p":
            first_p.setdefault(text, position)
        first_any.setdefault(text, position)
    page.anchors = sorted(
        (wanted[t], first_p.get(t, first_any[t])) for t, n in occurrences.items() if n == 1
    )
    page.ambiguous = sum(1 for n in occurrences.values() if n > 1)


class Doc:
    """A fresh parse of a page, with the DOM nodes holding its extracted paragraphs;
    ``state`` tells two states of a rotating block apart."""

    def __init__(self, page: Page, state: int = 0) -> None:
        self.page = page
        self.state = state
        self.tree = LexborHTMLParser(page.html)
        nodes = _traversal(self.tree)
        self.anchors = [(i, nodes[position]) for i, position in page.anchors]
        self.inserted: list[str] = []  # the text of the blocks a mutation inserted
        # What an edit must make visible in the extraction: ("more", token): the token
        # occurs more often; ("fewer", paragraph): the paragraph occurs less often;
        # ("title", words): the title ends with them.
        self.expect: tuple[str, str] | None = None

    def insert(self, where: LexborNode, markup: str, *, after: bool) -> None:
        element = _element(markup)
        self.inserted.append(_norm(element.text(deep=True)))
        if after:
            where.insert_after(element)
        else:
            where.insert_before(element)

    @property
    def nodes(self) -> list[LexborNode]:
        return [node for _i, node in self.anchors]

    def html(self) -> str:
        return self.tree.html or ""


def _block_safe(node: LexborNode) -> bool:
    """Whether a block element may stand beside ``node`` in valid HTML."""
    if node.is_element_node and node.tag in _BLOCK_TAGS:
        return True
    parent = node.parent
    return parent is not None and parent.tag in _FLOW_PARENTS


def _element(markup: str) -> LexborNode:
    node = LexborHTMLParser(f"<body>{markup}</body>").body
    assert node is not None and node.child is not None
    return node.child


def _text_nodes(node: LexborNode) -> list[LexborNode]:
    if node.is_text_node:
        return [node]
    return [n for n in node.traverse(include_text=True) if n.is_text_node]


def _append_text(node: LexborNode, text: str) -> None:
    if node.is_text_node:
        node.insert_after(text)
    else:
        node.insert_child(text)


# --- Cosmetic mutations --------------------------------------------------------------------

Mutation = Callable[[Doc, random.Random, Sequence[str]], bool]


def _insert_edge(doc: Doc, markup: str, *, before_first: bool) -> bool:
    nodes = [n for n in doc.nodes if _block_safe(n)]
    if not nodes:
        return False
    if before_first:
        doc.insert(nodes[0], markup, after=False)
    else:
        doc.insert(nodes[-1], markup, after=True)
    return True


def _related_markup(doc: Doc, rng: random.Random, headlines: Sequence[str]) -> str:
    others = [h for h in headlines if h and h != doc.page.title]
    picked = rng.sample(others, min(5, len(others)))
    items = "".join(
        f'<li><a href="/related/{rng.randrange(10**6)}">{html.escape(h)}</a></li>' for h in picked
    )
    heading = PHRASES["related"][doc.page.lang]
    return f'<aside class="related"><h2>{heading}</h2><ul>{items}</ul></aside>'


def m_roundtrip(doc: Doc, rng: random.Random, headlines: Sequence[str]) -> bool:
    return True


def m_related_end(doc: Doc, rng: random.Random, headlines: Sequence[str]) -> bool:
    return _insert_edge(doc, _related_markup(doc, rng, headlines), before_first=False)


def _middle_gap(doc: Doc) -> LexborNode | None:
    """A paragraph in the middle of the article after which a block may go (not the last)."""
    nodes = doc.nodes
    gaps = [
        nodes[i]
        for i in range(len(nodes) - 1)
        if _block_safe(nodes[i]) and _block_safe(nodes[i + 1])
    ]
    return gaps[len(gaps) // 2] if gaps else None


def m_related_inline(doc: Doc, rng: random.Random, headlines: Sequence[str]) -> bool:
    node = _middle_gap(doc)
    if node is None:
        return False
    doc.insert(node, _related_markup(doc, rng, headlines), after=True)
    return True


def _views(doc: Doc, rng: random.Random) -> str:
    n = rng.randrange(1_000, 50_000) + 50_000 * doc.state
    figure = f"{n:,}".replace(",", "\u202f" if doc.page.lang == "fr" else ",")
    if doc.page.lang in ("de", "es"):
        figure = f"{n:,}".replace(",", ".")
    return html.escape(PHRASES["counter"][doc.page.lang].format(n=figure))


def _ago(doc: Doc, rng: random.Random) -> str:
    minutes = rng.randrange(2, 30) + 29 * doc.state
    return html.escape(PHRASES["timestamp"][doc.page.lang].format(n=minutes))


def _meta(text: str, kind: str) -> str:
    return f'<div class="article-meta"><span class="{kind}">{text}</span></div>'


def _page_edge(doc: Doc, markup: str, *, top: bool) -> bool:
    """Site furniture: a <header> first in <body>, or a <footer> last (as tests/sim.py)."""
    body = doc.tree.body
    if body is None:
        return False
    first = body.child
    if top and first is not None:
        doc.insert(first, markup, after=False)
    else:
        element = _element(markup)
        doc.inserted.append(_norm(element.text(deep=True)))
        body.insert_child(element)
    return True


def m_counter_top(doc: Doc, rng: random.Random, headlines: Sequence[str]) -> bool:
    return _insert_edge(doc, _meta(_views(doc, rng), "views"), before_first=True)


def m_counter_end(doc: Doc, rng: random.Random, headlines: Sequence[str]) -> bool:
    return _insert_edge(doc, _meta(_views(doc, rng), "views"), before_first=False)


def m_counter_page(doc: Doc, rng: random.Random, headlines: Sequence[str]) -> bool:
    markup = f'<footer class="site-footer"><p>{_views(doc, rng)}</p><p>© 2026</p></footer>'
    return _page_edge(doc, markup, top=False)


def _views_short(doc: Doc, rng: random.Random) -> str:
    n = rng.randrange(1_000, 50_000) + 50_000 * doc.state
    if doc.page.lang == "fr":
        return f"{n:,}".replace(",", "\u202f") + " vues"
    return f"{n:,} views"


def m_views_top(doc: Doc, rng: random.Random, headlines: Sequence[str]) -> bool:
    return _insert_edge(doc, _meta(_views_short(doc, rng), "views"), before_first=True)


def m_views_end(doc: Doc, rng: random.Random, headlines: Sequence[str]) -> bool:
    return _insert_edge(doc, _meta(_views_short(doc, rng), "views"), before_first=False)


def m_timestamp_top(doc: Doc, rng: random.Random, headlines: Sequence[str]) -> bool:
    return _insert_edge(doc, _meta(_ago(doc, rng), "updated"), before_first=True)


def m_timestamp_end(doc: Doc, rng: random.Random, headlines: Sequence[str]) -> bool:
    return _insert_edge(doc, _meta(_ago(doc, rng), "updated"), before_first=False)


def m_timestamp_page(doc: Doc, rng: random.Random, headlines: Sequence[str]) -> bool:
    markup = f'<header class="site-header"><p>{_ago(doc, rng)}</p></header>'
    return _page_edge(doc, markup, top=True)


_SPACES = re.compile(r"[ \t\n\r]+")
_REFLOW = ("\n", "  ", "\n      ", "\t", " \n ", "\r\n    ")


def m_whitespace(doc: Doc, rng: random.Random, headlines: Sequence[str]) -> bool:
    """Reflow the paragraphs' source text: existing whitespace becomes other whitespace
    (never added between two characters that touch), and each paragraph is padded."""
    changed = False
    for anchor in doc.nodes:
        nodes = _text_nodes(anchor)
        for n, node in enumerate(nodes):
            text = node.text_content or ""
            out = _SPACES.sub(lambda m: rng.choice(_REFLOW) if rng.random() < 0.4 else " ", text)
            if n == 0:
                out = "\n      " + out.lstrip(" ")
            if n == len(nodes) - 1:
                out = out.rstrip(" ") + "\n    "
            if out != text:
                node.replace_with(out)
                changed = True
    return changed


def m_ad_slot(doc: Doc, rng: random.Random, headlines: Sequence[str]) -> bool:
    nodes = doc.nodes
    label = PHRASES["ad"][doc.page.lang]
    done = False
    for i in range(1, len(nodes) - 1, 2):  # after the 2nd, 4th, ... never after the last
        if _block_safe(nodes[i]) and _block_safe(nodes[i + 1]):
            doc.insert(nodes[i], f'<div class="ad-slot">{label}</div>', after=True)
            done = True
    return done


def m_spam(doc: Doc, rng: random.Random, headlines: Sequence[str]) -> bool:
    return _insert_edge(doc, SPAM_HTML, before_first=False)


def _hinted(node: LexborNode) -> bool:
    if node.tag == "aside" or node.attributes.get("role") == "complementary":
        return True
    hint = f"{node.attributes.get('class') or ''} {node.attributes.get('id') or ''}"
    return bool(_SIDEBAR_HINT.search(hint))


def m_sidebar(doc: Doc, rng: random.Random, headlines: Sequence[str]) -> bool:
    """Reverse the items of the page's own sidebar lists (not ones holding article text)."""
    article_ids = set()
    for anchor in doc.nodes:
        node: LexborNode | None = anchor
        while node is not None:
            article_ids.add(node.mem_id)
            node = node.parent
    containers: list[LexborNode] = []
    for node in doc.tree.css("aside, [class], [id], [role]"):
        if node.mem_id in article_ids or not _hinted(node):
            continue
        if any(_inside(node, c) for c in containers):
            continue
        containers.append(node)
    done = False
    for container in containers:
        lists = container.css("ul, ol")
        for group in lists or [container]:
            done = _reverse_items(group) or done
    return done


def _reverse_items(group: LexborNode) -> bool:
    """Reverse the order of a list's items (the most repeated kind of child, by tag and
    class, e.g. the ``<li>`` of a list or the teaser cards of a box), leaving headings
    and the rest where they are (a box's heading is often a ``<div>`` too, of its own
    class)."""
    children = list(_children(group))

    def kind_of(child: LexborNode) -> tuple[str, str]:
        return (child.tag or "", child.attributes.get("class") or "")

    kinds = Counter(kind_of(c) for c in children if c.is_element_node).most_common(1)
    if not kinds or kinds[0][1] < 2:
        return False
    kind = kinds[0][0]
    slots = [i for i, c in enumerate(children) if c.is_element_node and kind_of(c) == kind]
    order = [
        c.html or "" if c.is_element_node else html.escape(c.text_content or "", quote=False)
        for c in children
    ]
    items = [order[i] for i in slots]
    for slot, item in zip(slots, reversed(items), strict=True):
        order[slot] = item
    group.inner_html = "".join(order)
    return True


def _children(node: LexborNode) -> Iterator[LexborNode]:
    child = node.child
    while child is not None:
        yield child
        child = child.next


def _inside(node: LexborNode, container: LexborNode) -> bool:
    parent = node.parent
    while parent is not None:
        if parent.mem_id == container.mem_id:
            return True
        parent = parent.parent
    return False


def m_utm(doc: Doc, rng: random.Random, headlines: Sequence[str]) -> bool:
    done = False
    for link in doc.tree.css("a[href]"):
        href = link.attributes.get("href") or ""
        if not href or href.startswith(("#", "javascript:", "mailto:", "tel:")):
            continue
        base, hash_, fragment = href.partition("#")
        joiner = "&" if "?" in base else "?"
        tracking = "utm_source=newsletter&utm_medium=email&utm_campaign=bench"
        link.attrs["href"] = f"{base}{joiner}{tracking}{hash_}{fragment}"
        done = True
    return done


MUTATIONS: dict[str, Mutation] = {
    "roundtrip": m_roundtrip,
    "related-end": m_related_end,
    "related-inline": m_related_inline,
    "counter-article-top": m_counter_top,
    "counter-article-end": m_counter_end,
    "counter-page-footer": m_counter_page,
    "views-article-top": m_views_top,
    "views-article-end": m_views_end,
    "timestamp-article-top": m_timestamp_top,
    "timestamp-article-end": m_timestamp_end,
    "timestamp-page-header": m_timestamp_page,
    "whitespace": m_whitespace,
    "ad-slot": m_ad_slot,
    "spam": m_spam,
    "sidebar": m_sidebar,
    "utm": m_utm,
}


# --- Material edits ------------------------------------------------------------------------

Edit = Callable[[Doc, random.Random], str | None]  # what was done, or None: not applicable


def _paragraph_context(anchor: LexborNode) -> list[tuple[LexborNode, str, str]]:
    """Each text node of a paragraph with the paragraph's text before it."""
    out: list[tuple[LexborNode, str, str]] = []
    before = ""
    for node in _text_nodes(anchor):
        text = node.text_content or ""
        out.append((node, before, text))
        before += text
    return out


def _replace_in(node: LexborNode, text: str, start: int, end: int, new: str, paragraph: int) -> str:
    old = text[start:end]
    node.replace_with(text[:start] + new + text[end:])
    return f"p{paragraph + 1}: {old!r} -> {new!r}"


def _pick_target(
    doc: Doc, rng: random.Random, find: Callable[[str, str], list[tuple[int, int, str]]]
) -> str | None:
    """Replace one match of ``find`` (start, end, replacement) in one paragraph."""
    candidates: list[tuple[int, LexborNode, str, int, int, str]] = []
    for index, anchor in doc.anchors:
        for node, before, text in _paragraph_context(anchor):
            for start, end, new in find(before, text):
                candidates.append((index, node, text, start, end, new))
    if not candidates:
        return None
    index, node, text, start, end, new = rng.choice(candidates)
    doc.expect = ("more", new)
    return _replace_in(node, text, start, end, new, index)


def _bump(digits: str) -> str:
    return str(int(digits) + 1).zfill(len(digits))


def e_number(doc: Doc, rng: random.Random) -> str | None:
    def find(before: str, text: str) -> list[tuple[int, int, str]]:
        years = {(m.start(), m.end()) for m in _YEAR.finditer(text)}
        return [
            (m.start(), m.end(), _bump(m.group()))
            for m in _DIGITS.finditer(text)
            if (m.start(), m.end()) not in years
        ]

    return _pick_target(doc, rng, find)


def e_date(doc: Doc, rng: random.Random) -> str | None:
    def months(before: str, text: str) -> list[tuple[int, int, str]]:
        return [(m.start(), m.end(), _MONTH_NEXT[m.group()]) for m in _MONTH_RE.finditer(text)]

    def years(before: str, text: str) -> list[tuple[int, int, str]]:
        return [(m.start(), m.end(), _bump(m.group())) for m in _YEAR.finditer(text)]

    kinds = [("month", months), ("year", years)]
    rng.shuffle(kinds)
    for kind, find in kinds:
        done = _pick_target(doc, rng, find)
        if done is not None:
            return f"{kind} {done}"
    return None


def _sentence_start(before: str) -> bool:
    stripped = before.rstrip().rstrip("\"'«“‘([—–-").rstrip()
    return not stripped or stripped[-1] in ".!?…:;"


def e_name(doc: Doc, rng: random.Random) -> str | None:
    page_text = doc.page.text.casefold() + doc.page.title.casefold()
    surname = next((s for s in SURNAMES if s.casefold() not in page_text), SURNAMES[0])

    def find(before: str, text: str) -> list[tuple[int, int, str]]:
        return [
            (m.start(), m.end(), surname)
            for m in _NAME.finditer(text)
            if m.group() not in _NOT_NAMES
            and m.group() not in _MONTH_NEXT
            and not _sentence_start(before + text[: m.start()])
        ]

    return _pick_target(doc, rng, find)


def _prose(doc: Doc) -> list[tuple[int, LexborNode]]:
    return [(i, n) for i, n in doc.anchors if len(doc.page.paragraphs[i].split()) >= 8]


def e_sentence(doc: Doc, rng: random.Random) -> str | None:
    ends = [(i, n) for i, n in _prose(doc) if _SENTENCE_END.search(doc.page.paragraphs[i])]
    if not ends:
        return None
    index, node = ends[len(ends) // 2]
    sentence = PHRASES["sentence"][doc.page.lang]
    _append_text(node, " " + sentence)
    doc.expect = ("more", sentence)
    return f"p{index + 1}: + {sentence!r}"


def e_paragraph(doc: Doc, rng: random.Random) -> str | None:
    prose = _prose(doc)
    if len(doc.anchors) < 2 or not prose:
        return None
    index, node = prose[len(prose) // 2]
    node.decompose()
    doc.expect = ("fewer", doc.page.paragraphs[index])
    return f"p{index + 1} removed: {_short(doc.page.paragraphs[index], 60)!r}"


def _append_suffix(node: LexborNode, suffix: str) -> bool:
    """Append ``suffix`` right after the last character of ``node``'s text."""
    texts = [n for n in _text_nodes(node) if (n.text_content or "").strip()]
    if not texts:
        return False
    text = texts[-1].text_content or ""
    kept = text.rstrip()
    texts[-1].replace_with(kept + suffix + text[len(kept) :])
    return True


def _retitle(value: str, title: str, suffix: str) -> str:
    value = _norm(value)
    if title and title in value:
        return value.replace(title, title + suffix, 1)
    separator = _TITLE_SEPARATOR.search(value)
    if separator:
        return value[: separator.start()] + suffix + value[separator.start() :]
    return value + suffix


def e_title(doc: Doc, rng: random.Random) -> str | None:
    title = doc.page.title
    if not title:
        return None
    suffix = PHRASES["title"][doc.page.lang]
    folded = title.casefold()
    places: list[str] = []
    olds: set[str] = {title}
    # The visible headline and every other copy of it in the page (an <h2> headline, a
    # self-link, a hidden navigation copy), and any <h1> around or inside the title.
    texts: dict[int, str] = {}
    targets: list[LexborNode] = []
    for node in _traversal(doc.tree):
        if not node.is_element_node or node.tag in _SKIP_TAGS:
            continue
        text = _norm(node.text(deep=True)).casefold()
        texts[node.mem_id] = text
        parent = node.parent
        same = bool(text) and (
            text == folded or (node.tag == "h1" and (text in folded or folded in text))
        )
        if same and (parent is None or texts.get(parent.mem_id) != text):
            targets.append(node)
    for target in targets:
        olds.add(_norm(target.text(deep=True)))
        if _append_suffix(target, suffix):
            places.append(target.tag or "?")
    head_title = doc.tree.css_first("title")
    if head_title is not None and _norm(head_title.text(deep=True)):
        olds.add(_norm(head_title.text(deep=True)))
        new = _retitle(head_title.text(deep=True) or "", title, suffix)
        head_title.inner_html = html.escape(new)
        places.append("title")
    for meta in doc.tree.css("meta[content]"):
        key = (meta.attributes.get("property") or meta.attributes.get("name") or "").lower()
        if key in ("og:title", "twitter:title"):
            olds.add(_norm(meta.attributes.get("content")))
            meta.attrs["content"] = _retitle(meta.attributes.get("content") or "", title, suffix)
            places.append(key)
    for script in doc.tree.css('script[type="application/ld+json"]'):
        try:
            data = json.loads(script.text(deep=True) or "")
        except ValueError:
            continue
        if _retitle_json(data, olds, title, suffix):
            script.inner_html = json.dumps(data, ensure_ascii=False)
            places.append("json-ld")
    if not places:
        return None
    doc.expect = ("title", suffix.strip())
    where = Counter(places)
    return f"{' + '.join(f'{k}x{n}' if n > 1 else k for k, n in where.items())}: + {suffix!r}"


def _retitle_json(data: Any, olds: set[str], title: str, suffix: str) -> bool:
    changed = False
    if isinstance(data, dict):
        for key, value in data.items():
            if key in ("headline", "name", "alternativeHeadline") and isinstance(value, str):
                if _norm(value) in olds:
                    data[key] = _retitle(value, title, suffix)
                    changed = True
            elif isinstance(value, dict | list):
                changed = _retitle_json(value, olds, title, suffix) or changed
    elif isinstance(data, list):
        for item in data:
            changed = _retitle_json(item, olds, title, suffix) or changed
    return changed


EDIT_FUNCTIONS: dict[str, Edit] = {
    "number": e_number,
    "date": e_date,
    "name": e_name,
    "sentence": e_sentence,
    "paragraph": e_paragraph,
    "title": e_title,
}


# --- Syndication ----------------------------------------------------------------------------


def _swap_words(paragraphs: list[str], rate: float, rng: random.Random) -> list[str]:
    split = [p.split(" ") for p in paragraphs]
    positions = [
        (i, j)
        for i, words in enumerate(split)
        for j, word in enumerate(words)
        if any(c.isalpha() for c in word)
    ]
    pool = [split[i][j] for i, j in positions]
    count = max(1, round(rate * sum(len(w) for w in split)))
    for i, j in rng.sample(positions, min(count, len(positions))):
        old = split[i][j]
        for _ in range(20):
            new = rng.choice(pool)
            if new.casefold() != old.casefold():
                break
        split[i][j] = new
    return [" ".join(words) for words in split]


def _cut(paragraphs: list[str], share: float) -> list[str]:
    budget = math.ceil(share * sum(len(p.split()) for p in paragraphs))
    out: list[str] = []
    for paragraph in paragraphs:
        words = paragraph.split()
        if budget <= 0:
            break
        out.append(" ".join(words[:budget]))
        budget -= len(words)
    return out


def variant_paragraphs(page: Page, variant: str, rng: random.Random) -> list[str] | None:
    paragraphs = list(page.paragraphs)
    intro = PHRASES["intro"][page.lang]
    if variant == "template":
        return paragraphs
    if variant == "intro":
        return [intro, *paragraphs]
    if variant.startswith("words-"):
        return _swap_words(paragraphs, float(variant[6:-1]) / 100, rng)
    if variant in ("drop-first", "drop-last"):
        if len(paragraphs) < 2:
            return None
        return paragraphs[1:] if variant == "drop-first" else paragraphs[:-1]
    if variant.startswith("cut-"):
        return _cut(paragraphs, float(variant[4:-1]) / 100)
    if variant == "combined":
        if len(paragraphs) < 2:
            return None
        return [intro, *_swap_words(paragraphs[:-1], 0.02, rng)]
    raise ValueError(variant)


def linked(a: set[int], b: set[int], sketch_a: Sequence[int], sketch_b: Sequence[int]) -> bool:
    """``find_story``'s test: a sketch candidate, then the exact comparison."""
    shared = len(set(sketch_a) & set(sketch_b))
    return shared >= MIN_SHARED and similarity(a, b).same_story


# --- Results ----------------------------------------------------------------------------------


@dataclass
class CosmeticResult:
    page: str
    mutation: str
    status: str  # ok, false-change, n/a
    changed: str = ""  # for a false change: what compare() saw
    # For a false change: "kept" when the only difference is the inserted block's own
    # text, kept as article text; "moved" when the extraction itself changed.
    shape: str = ""
    # Rotating blocks: whether two states of the block (other headlines, other numbers)
    # also differ from each other (a change on every fetch, not only when it appears).
    rotation: bool | None = None


@dataclass
class EditResult:
    page: str
    edit: str
    status: str  # detected, missed, n/a
    detail: str = ""
    classes: tuple[str, ...] = ()
    class_ok: bool = False
    teaser: bool = False  # the pipeline's verdict would drop it as a paywall teaser
    paywall: bool = False  # ... or relabel it "paywall" and announce nothing
    compare_ms: float = 0.0
    diagnosis: str = ""


@dataclass
class CopyResult:
    page: str
    variant: str
    status: str  # linked, not-linked, n/a
    resemblance: float = 0.0
    containment: float = 0.0
    shared: int = 0
    shingles: int = 0


@dataclass
class LookupResult:
    size: int
    rows: int
    setup_s: float
    db_mb: float
    lookups: int
    median_ms: float
    p95_ms: float
    present_median_ms: float
    absent_median_ms: float
    present_found: float  # share of present lookups that found their article
    mean_candidates_absent: float


@dataclass
class Report:
    command: str
    corpus: str
    started: str
    index_pages: int
    short_pages: int
    pages: int
    page_stats: list[dict[str, Any]] = field(default_factory=list)
    cosmetic: list[CosmeticResult] = field(default_factory=list)
    edits: list[EditResult] = field(default_factory=list)
    copies: list[CopyResult] = field(default_factory=list)
    distinct: dict[str, Any] = field(default_factory=dict)
    cross_language: dict[str, Any] = field(default_factory=dict)
    timing: dict[str, Any] = field(default_factory=dict)
    lookups: list[LookupResult] = field(default_factory=list)
    sketch_sharing: dict[str, Any] = field(default_factory=dict)
    targets: list[tuple[str, bool, str]] = field(default_factory=list)
    seconds: float = 0.0


def _short(text: str, width: int = 110) -> str:
    text = _norm(text)
    return text if len(text) <= width else text[: width - 1] + "…"


def describe(change: Change) -> str:
    parts: list[str] = []
    if change.title_changed:
        parts.append("title changed")
    for old, new in change.replaced[:2]:
        parts.append(f"~ {_short(old, 70)!r} -> {_short(new, 70)!r}")
    replaced_old = {old for old, _new in change.replaced}
    replaced_new = {new for _old, new in change.replaced}
    plus = [s for s in change.added if s not in replaced_new]
    minus = [s for s in change.removed if s not in replaced_old]
    parts += [f"+ {_short(s, 90)!r}" for s in plus[:3]]
    parts += [f"- {_short(s, 90)!r}" for s in minus[:3]]
    hidden = len(plus) - 3 + len(minus) - 3 + len(change.replaced) - 2
    if hidden > 0:
        parts.append(f"(+{hidden} more)")
    return "; ".join(parts)


# --- Runs ----------------------------------------------------------------------------------


def run_cosmetic(
    page: Page, seed: int, headlines: Sequence[str], times: list[float]
) -> list[CosmeticResult]:
    out: list[CosmeticResult] = []
    for name in COSMETIC:
        doc = Doc(page)
        if not MUTATIONS[name](doc, page_rng(seed, page, name), headlines):
            out.append(CosmeticResult(page.key, name, "n/a"))
            continue
        after = extract(doc.html(), page.url)
        fingerprint = content_hash(after.title, after.text)
        same = content_hash(page.title, page.text) == fingerprint
        start = time.perf_counter()
        change = compare(page.title, page.text, after.title, after.text, from_version=1)
        times.append((time.perf_counter() - start) * 1000)
        result = CosmeticResult(page.key, name, "ok")
        if not same or change is not None:
            result.status = "false-change"
            result.changed = describe(change) if change else "content_hash differs, compare() None"
            result.shape = _shape(page, after.title, after.paragraphs, doc.inserted)
        if name in ROTATING:
            other = Doc(page, state=1)
            MUTATIONS[name](other, page_rng(seed, page, name + ":B"), headlines)
            second = extract(other.html(), page.url)
            result.rotation = content_hash(second.title, second.text) != fingerprint
        out.append(result)
    return out


def _shape(page: Page, title: str, paragraphs: Sequence[str], inserted: Sequence[str]) -> str:
    lost = Counter(page.paragraphs) - Counter(paragraphs)
    gained = Counter(paragraphs) - Counter(page.paragraphs)
    if (
        title == page.title
        and not lost
        and gained
        and all(any(_norm(p) in text for text in inserted) for p in gained)
    ):
        return "kept"
    return "moved"


def run_edits(page: Page, seed: int) -> list[EditResult]:
    out: list[EditResult] = []
    for name in EDITS:
        doc = Doc(page)
        detail = EDIT_FUNCTIONS[name](doc, page_rng(seed, page, name))
        if detail is None:
            out.append(EditResult(page.key, name, "n/a"))
            continue
        after = extract(doc.html(), page.url)
        start = time.perf_counter()
        change = compare(page.title, page.text, after.title, after.text, from_version=1)
        elapsed = (time.perf_counter() - start) * 1000
        result = EditResult(page.key, name, "missed", detail, compare_ms=elapsed)
        if change is not None and not _visible(doc.expect, page, after.title, after.paragraphs):
            result.classes = change.classes
            result.diagnosis = (
                "the edit is not in the extraction; compare() saw other changes only: "
                + describe(change)
            )
        elif change is not None:
            result.status = "detected"
            result.classes = change.classes
            result.class_ok = EXPECTED[name] in change.classes
            result.teaser = is_teaser(after.text, page.text)
            result.paywall = not result.teaser and is_teaser(page.text, after.text)
            result.diagnosis = describe(change)
        else:
            result.diagnosis = _miss_diagnosis(page, after.title, after.paragraphs, name)
        out.append(result)
    return out


def _visible(
    expect: tuple[str, str] | None, page: Page, title: str, paragraphs: Sequence[str]
) -> bool:
    """Whether the extraction after an edit shows the edit itself."""
    if expect is None:
        return True
    kind, value = expect
    if kind == "title":
        return title.endswith(value) and not page.title.endswith(value)
    if kind == "fewer":
        return paragraphs.count(value) < page.paragraphs.count(value)
    # A plain count: inline markup glues words and figures together ("MoreauMedline").
    return "\n\n".join(paragraphs).count(value) > page.text.count(value)


def _miss_diagnosis(page: Page, title: str, paragraphs: Sequence[str], edit: str) -> str:
    if edit == "title":
        return f"extracted title unchanged: {_short(title, 90)!r}"
    kept = set(paragraphs)
    lost = [p for p in page.paragraphs if p not in kept]
    new = [p for p in paragraphs if p not in set(page.paragraphs)]
    if not lost and not new:
        return "extracted text identical: the edited text was not in the extraction"
    return (
        f"text differs only immaterially; lost {[_short(p, 60) for p in lost[:2]]} "
        f"new {[_short(p, 60) for p in new[:2]]}"
    )


def run_copies(
    page: Page, seed: int, original: set[int], original_sketch: Sequence[int]
) -> list[CopyResult]:
    from tests.sim import SimArticle, article_page  # main() puts the repository on sys.path

    out: list[CopyResult] = []
    for variant in VARIANTS:
        paragraphs = variant_paragraphs(page, variant, page_rng(seed, page, variant))
        if paragraphs is None:
            out.append(CopyResult(page.key, variant, "n/a"))
            continue
        slug = f"copy-{zlib.crc32(page.key.encode()):08x}"
        sim = SimArticle(
            slug=slug,
            title=page.title,
            paragraphs=paragraphs,
            language=page.language or page.lang,
            published=datetime(2026, 11, 20, 9, 0, tzinfo=UTC),
        )
        copy = extract(article_page(sim, COPY_BASE), f"{COPY_BASE}/articles/{slug}")
        hashes = shingles(copy.text)
        copy_sketch = sketch(hashes)
        score = similarity(hashes, original)
        shared = len(set(copy_sketch) & set(original_sketch))
        ok = linked(hashes, original, copy_sketch, original_sketch)
        out.append(
            CopyResult(
                page.key,
                variant,
                "linked" if ok else "not-linked",
                round(score.resemblance, 4),
                round(score.containment, 4),
                shared,
                len(hashes),
            )
        )
    return out


def run_distinct(
    pages: Sequence[Page], sets: Sequence[set[int]], sketches: Sequence[Sequence[int]]
) -> dict[str, Any]:
    titles = [normalize(p.title) for p in pages]
    sketch_sets = [set(s) for s in sketches]
    duplicates: list[dict[str, Any]] = []
    wrong: list[dict[str, Any]] = []
    pairs = candidates = similar = 0
    best_res = (0.0, "", "")
    best_cont = (0.0, "", "")
    best_shared = (0, "", "")
    for i in range(len(pages)):
        for j in range(i + 1, len(pages)):
            score = similarity(sets[i], sets[j])
            same_title = bool(titles[i]) and titles[i] == titles[j]
            if same_title or score.resemblance >= DUPLICATE_RESEMBLANCE:
                duplicates.append(
                    {
                        "a": pages[i].key,
                        "b": pages[j].key,
                        "same_title": same_title,
                        "resemblance": round(score.resemblance, 4),
                    }
                )
                continue
            pairs += 1
            shared = len(sketch_sets[i] & sketch_sets[j])
            if shared >= MIN_SHARED:
                candidates += 1
            if score.same_story:
                similar += 1
            if shared >= MIN_SHARED and score.same_story:
                wrong.append(
                    {
                        "a": pages[i].key,
                        "b": pages[j].key,
                        "resemblance": round(score.resemblance, 4),
                        "containment": round(score.containment, 4),
                        "shared": shared,
                    }
                )
            if score.resemblance > best_res[0]:
                best_res = (score.resemblance, pages[i].key, pages[j].key)
            if score.containment > best_cont[0]:
                best_cont = (score.containment, pages[i].key, pages[j].key)
            if shared > best_shared[0]:
                best_shared = (shared, pages[i].key, pages[j].key)
    return {
        "pairs": pairs,
        "duplicates_excluded": duplicates,
        "wrongly_linked": wrong,
        "sketch_candidates": candidates,
        "same_story_by_similarity": similar,
        "max_resemblance": {"value": round(best_res[0], 4), "a": best_res[1], "b": best_res[2]},
        "max_containment": {
            "value": round(best_cont[0], 4),
            "a": best_cont[1],
            "b": best_cont[2],
        },
        "max_shared": {"value": best_shared[0], "a": best_shared[1], "b": best_shared[2]},
    }


def run_cross_language(pages: Sequence[Page], excluded: set[tuple[str, str]]) -> dict[str, Any]:
    features = [entities(p.title, p.text) for p in pages]
    pairs = 0
    links: list[dict[str, Any]] = []
    best = (0.0, "", "", 0)
    for i in range(len(pages)):
        for j in range(i + 1, len(pages)):
            a, b = pages[i], pages[j]
            if not a.language or not b.language or a.language == b.language:
                continue
            if (a.key, b.key) in excluded:
                continue
            pairs += 1
            shared = features[i] & features[j]
            if len(shared) >= MIN_SHARED_ENTITIES:
                score = len(shared) / min(len(features[i]), len(features[j]))
                if score > best[0]:
                    best = (score, a.key, b.key, len(shared))
            link = cross_link(features[i], features[j], vendors=())
            if link is not None:
                links.append(
                    {"a": a.key, "b": b.key, "score": round(link.score, 4), "shared": len(shared)}
                )
    synthetic: dict[str, Any] = {}
    try:
        from tests.test_stories import EN, FR, OTHER_FR
    except ImportError as exc:  # pragma: no cover - tests are part of the repository
        synthetic = {"error": str(exc)}
    else:
        same = cross_link(entities(*FR), entities(*EN), vendors=("Oracle Health",))
        other = cross_link(entities(*OTHER_FR), entities(*EN), vendors=("Oracle Health",))
        synthetic = {
            "same_story_linked": same is not None,
            "same_story_score": round(same.score, 4) if same else None,
            "other_story_linked": other is not None,
        }
    return {
        "pairs": pairs,
        "linked": links,
        "max_score": {"value": round(best[0], 4), "a": best[1], "b": best[2], "shared": best[3]},
        "synthetic_pair": synthetic,
    }


# --- Fingerprint lookups --------------------------------------------------------------------


def synthetic_sketch(rng: random.Random, counts: Sequence[int]) -> list[int]:
    """The bottom-k sketch of an article with a shingle count drawn from the corpus: the
    k smallest of n uniform 32-bit hashes, drawn directly as order statistics."""
    n = rng.choice(counts)
    if n <= SKETCH_SIZE:
        return sorted(rng.sample(range(2**32), n))
    scale = 2**32 / (n + 1)
    acc = 0.0
    out: set[int] = set()
    for _ in range(SKETCH_SIZE):
        acc += rng.expovariate(1.0)
        out.add(min(int(acc * scale), 2**32 - 1))
    return sorted(out)


def _percentile(values: Sequence[float], share: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, max(0, math.ceil(share * len(ordered)) - 1))]


def run_lookups(
    real: Sequence[Sequence[int]],
    counts: Sequence[int],
    sizes: Sequence[int],
    lookups: int,
    seed: int,
    progress: Callable[[str], None],
) -> list[LookupResult]:
    results: list[LookupResult] = []
    directory = tempfile.mkdtemp(prefix="watcher-bench-changes-")
    try:
        store = Store.open(directory)
        try:
            conn = store.db.conn
            stored = 0
            for size in sorted(sizes):
                start = time.perf_counter()
                first, last = stored + 1, size
                conn.executemany(
                    "INSERT INTO articles (id, url, source_id, first_seen_at, version) "
                    "VALUES (?, ?, ?, ?, 1)",
                    _article_rows(first, last),
                )
                conn.executemany(
                    "INSERT OR IGNORE INTO sketches (hash, article_id) VALUES (?, ?)",
                    _sketch_rows(first, last, real, counts, seed),
                )
                conn.commit()
                stored = size
                setup = time.perf_counter() - start
                count = conn.execute("SELECT COUNT(*) FROM sketches").fetchone()[0]
                pages, page_size = (
                    conn.execute("PRAGMA page_count").fetchone()[0],
                    conn.execute("PRAGMA page_size").fetchone()[0],
                )
                results.append(
                    _measure(
                        store, size, int(count), setup, pages * page_size, lookups, seed, counts
                    )
                )
                progress(f"lookups at N={size:,}: median {results[-1].median_ms:.3f} ms")
        finally:
            store.close()
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    return results


def _article_rows(first: int, last: int) -> Iterator[tuple[int, str, str, str]]:
    for i in range(first, last + 1):
        yield (i, f"https://bench.invalid/{i}", "bench", "2026-11-20T09:00:00Z")


def _sketch_rows(
    first: int, last: int, real: Sequence[Sequence[int]], counts: Sequence[int], seed: int
) -> Iterator[tuple[int, int]]:
    """``(hash, article_id)``: the corpus's real sketches first, then synthetic ones."""
    for i in range(first, last + 1):
        if i <= len(real):
            values: Sequence[int] = real[i - 1]
        else:
            values = synthetic_sketch(random.Random(f"{seed}:{i}"), counts)
        for value in values:
            yield (value, i)


def _measure(
    store: Store,
    size: int,
    rows: int,
    setup: float,
    db_bytes: int,
    lookups: int,
    seed: int,
    counts: Sequence[int],
) -> LookupResult:
    rng = random.Random(f"{seed}:lookups:{size}")
    plan: list[tuple[str, int, list[int]]] = []
    for n in range(lookups + WARMUP_LOOKUPS):
        if n % 2 == 0:
            article = rng.randint(1, size)
            values = [
                int(r[0])
                for r in store.db.execute(
                    "SELECT hash FROM sketches WHERE article_id = ?", [article]
                ).fetchall()
            ]
            plan.append(("present", article, values))
        else:
            values = synthetic_sketch(random.Random(f"{seed}:absent:{size}:{n}"), counts)
            plan.append(("absent", 0, values))
    rng.shuffle(plan)
    times: dict[str, list[float]] = {"present": [], "absent": []}
    found = 0
    absent_candidates = 0
    for n, (kind, article, values) in enumerate(plan):
        start = time.perf_counter()
        result = store.sketch_candidates(values, min_shared=MIN_SHARED, exclude=None)
        elapsed = (time.perf_counter() - start) * 1000
        if n < WARMUP_LOOKUPS:
            continue
        times[kind].append(elapsed)
        if kind == "present":
            found += any(a == article for a, _shared in result)
        else:
            absent_candidates += len(result)
    everything = times["present"] + times["absent"]
    return LookupResult(
        size=size,
        rows=rows,
        setup_s=round(setup, 2),
        db_mb=round(db_bytes / 1e6, 1),
        lookups=len(everything),
        median_ms=statistics.median(everything),
        p95_ms=_percentile(everything, 0.95),
        present_median_ms=statistics.median(times["present"]),
        absent_median_ms=statistics.median(times["absent"]),
        present_found=found / max(len(times["present"]), 1),
        mean_candidates_absent=absent_candidates / max(len(times["absent"]), 1),
    )


# --- Report ---------------------------------------------------------------------------------


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    cells = [[str(h) for h in headers]] + [[_cell(v) for v in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    out = []
    for n, row in enumerate(cells):
        line = "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        )
        out.append(line.rstrip())
        if n == 0:
            out.append("  ".join("-" * w for w in widths))
    return out


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3f}" if value < 10 else f"{value:.1f}"
    return str(value)


def _pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "n/a"


def render(report: Report) -> str:
    lines: list[str] = []
    lines += [
        "watcher change-detection benchmark (benchmarks/changes.py)",
        f"command: {report.command}",
        f"started: {report.started}",
        f"corpus:  {report.corpus}: {report.index_pages} pages listed, "
        f"{report.short_pages} with < {MIN_WORDS} extracted words skipped, "
        f"{report.pages} used",
        f"watcher: SHINGLE={SHINGLE} SKETCH_SIZE={SKETCH_SIZE} MIN_SHARED={MIN_SHARED} "
        f"RESEMBLANCE={RESEMBLANCE} CONTAINMENT={CONTAINMENT} MIN_SHINGLES={MIN_SHINGLES}",
        "(what each mutation, edit and copy does: the docstring of benchmarks/changes.py)",
        "",
    ]
    _render_cosmetic(report, lines)
    _render_edits(report, lines)
    _render_copies(report, lines)
    _render_timing(report, lines)
    lines.append("Targets")
    for name, ok, detail in report.targets:
        lines.append(f"  [{'PASS' if ok else 'FAIL'}] {name}: {detail}")
    lines += ["", f"total run time: {report.seconds:.1f} s"]
    return "\n".join(lines)


def _render_cosmetic(report: Report, lines: list[str]) -> None:
    lines.append("1. Cosmetic mutations (target: no false change)")
    rows: list[list[Any]] = []
    total_done = total_false = 0
    for name in COSMETIC:
        results = [r for r in report.cosmetic if r.mutation == name]
        done = [r for r in results if r.status != "n/a"]
        false = [r for r in done if r.status == "false-change"]
        rotating = sum(bool(r.rotation) for r in done) if name in ROTATING else "-"
        rows.append(
            [name, len(done), len(results) - len(done), len(false), _pct(len(false), len(done)),
             rotating]
        )  # fmt: skip
        if name != "roundtrip":
            total_done += len(done)
            total_false += len(false)
    rows.append(["all mutations", total_done, "", total_false, _pct(total_false, total_done), ""])
    lines += table(["mutation", "pages", "n/a", "false changes", "rate", "on rotation"], rows)
    ambiguous = sum(1 for r in report.page_stats if r["ambiguous"])
    lines += [
        "  false change: content_hash of the mutated page differs from the original's (roundtrip",
        "  is the control, not counted). on rotation: pages where two states of the block (other",
        "  headlines/numbers) also differ from each other, i.e. a change on every fetch.",
        f"  {ambiguous} pages hold some paragraph's text twice; those paragraphs are not used as",
        "  places to mutate or edit.",
        "",
    ]
    order = {name: i for i, name in enumerate(COSMETIC)}
    false_changes = sorted(
        (r for r in report.cosmetic if r.status == "false-change"),
        key=lambda r: (order[r.mutation], r.page),
    )
    lines.append(
        f"False changes ({len(false_changes)}):" if false_changes else "False changes: none"
    )
    kept = [r for r in false_changes if r.shape == "kept"]
    if kept:
        lines.append(
            "  The inserted block itself was kept as article text, nothing else changed "
            "(* = also on rotation):"
        )
    for name in COSMETIC:
        group = [r for r in kept if r.mutation == name]
        if group:
            lines.append(f"  [{name}] {len(group)} pages:")
            ids = ", ".join(r.page + ("*" if r.rotation else "") for r in group)
            lines += textwrap.wrap(
                ids,
                100,
                initial_indent="    ",
                subsequent_indent="    ",
                break_long_words=False,
                break_on_hyphens=False,
            )
    moved = [r for r in false_changes if r.shape != "kept"]
    if moved:
        lines.append("  The extraction itself changed (what compare() saw):")
    for r in moved:
        also = " (also on rotation)" if r.rotation else ""
        lines.append(f"  {r.page}  [{r.mutation}]{also}  {r.changed}")
    lines.append("")


def _render_edits(report: Report, lines: list[str]) -> None:
    lines.append("2. Material edits (target: no miss)")
    rows: list[list[Any]] = []
    all_done = all_missed = all_ok = 0
    for name in EDITS:
        results = [r for r in report.edits if r.edit == name]
        done = [r for r in results if r.status != "n/a"]
        missed = [r for r in done if r.status == "missed"]
        detected = [r for r in done if r.status == "detected"]
        ok = [r for r in detected if r.class_ok]
        only = [r for r in ok if r.classes == (EXPECTED[name],)]
        rows.append(
            [name, EXPECTED[name], len(done), len(results) - len(done), len(missed),
             _pct(len(missed), len(done)), _pct(len(ok), len(done)), _pct(len(only), len(done)),
             sum(r.teaser for r in detected), sum(r.paywall for r in detected)]
        )  # fmt: skip
        all_done += len(done)
        all_missed += len(missed)
        all_ok += len(ok)
    rows.append(
        ["all edits", "", all_done, "", all_missed, _pct(all_missed, all_done),
         _pct(all_ok, all_done), "", "", ""]
    )  # fmt: skip
    headers = ["edit", "expected", "pages", "n/a", "missed", "miss rate", "class ok"]
    lines += table([*headers, "class only", "teaser", "paywall"], rows)
    dates = Counter(r.detail.split(" ")[0] for r in report.edits if r.edit == "date" and r.detail)
    lines += [
        "  class ok: the expected class is among change.classes; class only: it is the only one.",
        "  teaser/paywall: what watcher.verdict.judge would do on top of compare() (teaser: the",
        "  new text is_teaser of the old: dropped, nothing stored; paywall: stored, announced to",
        "  nobody).",
        f"  date edits: {dates.get('month', 0)} month names, {dates.get('year', 0)} years",
        "",
    ]
    misses = [r for r in report.edits if r.status == "missed"]
    lines.append(f"Misses ({len(misses)}):" if misses else "Misses: none")
    for r in misses:
        lines.append(f"  {r.page}  [{r.edit}]  {r.detail}  => {r.diagnosis}")
    wrong = [r for r in report.edits if r.status == "detected" and not r.class_ok]
    lines += ["", f"Confusions ({len(wrong)}):" if wrong else "Confusions: none"]
    for r in wrong:
        lines.append(
            f"  {r.page}  [{r.edit}] expected {EXPECTED[r.edit]}, got {','.join(r.classes)}  "
            f"{r.detail}  => {r.diagnosis}"
        )
    odd = [r for r in report.edits if r.teaser or r.paywall]
    if odd:
        lines += ["", f"Edits the verdict would swallow or relabel ({len(odd)}):"]
        for r in odd:
            what = "teaser" if r.teaser else "paywall"
            lines.append(f"  {r.page}  [{r.edit}]  {what}  {r.detail}")
    lines.append("")


def _render_copies(report: Report, lines: list[str]) -> None:
    lines.append("3. Syndication")
    rows: list[list[Any]] = []
    linked_total = copies_total = 0
    for name in VARIANTS:
        results = [r for r in report.copies if r.variant == name]
        done = [r for r in results if r.status != "n/a"]
        ok = [r for r in done if r.status == "linked"]
        rows.append(
            [name, len(done), len(results) - len(done), len(ok), _pct(len(ok), len(done)),
             min((r.containment for r in done), default=0.0),
             min((r.shared for r in done), default=0)]
        )  # fmt: skip
        linked_total += len(ok)
        copies_total += len(done)
    rows.append(
        ["all copies", copies_total, "", linked_total, _pct(linked_total, copies_total), "", ""]
    )
    lines += table(
        ["copy", "pairs", "n/a", "linked", "rate", "min containment", "min shared"], rows
    )
    lines += ["  (target: >= 99% linked; shared = smallest hashes in common, of 64)", ""]
    unlinked = [r for r in report.copies if r.status == "not-linked"]
    lines.append(f"Copies not linked ({len(unlinked)}):" if unlinked else "Copies not linked: none")
    for r in unlinked:
        lines.append(
            f"  {r.page}  [{r.variant}]  resemblance {r.resemblance:.3f} containment "
            f"{r.containment:.3f} shared {r.shared} shingles {r.shingles}"
        )
    d = report.distinct
    lines += [
        "",
        f"Distinct stories: {d['pairs']:,} pairs of different articles "
        f"({len(d['duplicates_excluded'])} pairs excluded as one page in two corpus sets)",
        f"  wrongly linked (target 0): {len(d['wrongly_linked'])}",
    ]
    for w in d["wrongly_linked"]:
        lines.append(
            f"    {w['a']} ~ {w['b']}  resemblance {w['resemblance']} containment "
            f"{w['containment']} shared {w['shared']}"
        )
    lines.append(
        f"  reaching the sketch gate (>= {MIN_SHARED} shared): {d['sketch_candidates']}; "
        f"same_story by shingles alone: {d['same_story_by_similarity']}"
    )
    for key, label in (
        ("max_resemblance", "max resemblance"),
        ("max_containment", "max containment"),
        ("max_shared", "max shared hashes"),
    ):
        m = d[key]
        pair = f"  ({m['a']} ~ {m['b']})" if m["a"] else ""
        lines.append(f"  {label}: {m['value']}{pair}")
    lines.append("  excluded duplicates:")
    for dup in d["duplicates_excluded"]:
        why = "same title" if dup["same_title"] else "resemblance"
        lines.append(f"    {dup['a']} = {dup['b']}  ({why}, resemblance {dup['resemblance']})")
    c = report.cross_language
    lines += [
        "",
        "Cross-language: cross_link(..., vendors=()) on every pair of articles in two languages",
        "(the pipeline only tries pairs sharing a watched vendor within 14 days: an upper bound)",
        f"  {c['pairs']:,} pairs, {len(c['linked'])} linked",
    ]
    for link in c["linked"]:
        lines.append(
            f"    {link['a']} ~ {link['b']}  score {link['score']} shared {link['shared']}"
        )
    m = c["max_score"]
    lines += [
        f"  max score among pairs sharing >= {MIN_SHARED_ENTITIES} specifics: {m['value']} "
        f"(CROSS_LINK_SCORE {CROSS_LINK_SCORE}; {m['shared']} shared; {m['a']} ~ {m['b']})",
        "  honest same-story pairs in two languages: none in the corpus; the synthetic FR/EN pair",
        f"  of tests/test_stories.py: {c['synthetic_pair']}",
    ]
    s = report.sketch_sharing
    lines += [
        f"  corpus sketches: {s['distinct_hashes']} distinct hashes in {s['sketches']} sketches; "
        f"the most shared hash is in {s['max_articles']} sketches",
        "",
    ]


def _render_timing(report: Report, lines: list[str]) -> None:
    lines.append("4. Timing (ms, this machine, as measured)")
    rows: list[list[Any]] = [
        [name, v["n"], v["median"], v["p95"]] for name, v in report.timing.items()
    ]
    lines += table(["call", "n", "median", "p95"], rows)
    lines += [
        "",
        "Fingerprint lookups: store.sketch_candidates(sketch, min_shared=MIN_SHARED), half of",
        "them with a stored article's sketch (present), half with an absent one",
    ]
    rows = [
        [f"{r.size:,}", f"{r.rows:,}", r.db_mb, r.setup_s, r.lookups, r.median_ms, r.p95_ms,
         r.present_median_ms, r.absent_median_ms, f"{100 * r.present_found:.0f}%",
         r.mean_candidates_absent]
        for r in report.lookups
    ]  # fmt: skip
    headers = ["articles", "sketch rows", "db MB", "setup s", "lookups", "median", "p95"]
    lines += table([*headers, "present", "absent", "found", "cand/absent"], rows)
    if len(report.lookups) >= 2:
        first, last = report.lookups[0], report.lookups[-1]
        growth = last.median_ms / first.median_ms
        data = last.size / first.size
        lines.append(
            f"  median grows x{growth:.2f} from {first.size:,} to {last.size:,} articles "
            f"(x{data:.0f} data; exponent {math.log(growth) / math.log(data):.2f}, 1 = linear)"
        )
    lines.append("")


def evaluate(report: Report) -> list[tuple[str, bool, str]]:
    targets: list[tuple[str, bool, str]] = []
    done = [r for r in report.cosmetic if r.status != "n/a" and r.mutation != "roundtrip"]
    false = sum(r.status == "false-change" for r in done)
    targets.append(("cosmetic mutations: no false change", false == 0, f"{false} of {len(done)}"))
    edits = [r for r in report.edits if r.status != "n/a"]
    missed = sum(r.status == "missed" for r in edits)
    targets.append(("material edits: no miss", missed == 0, f"{missed} of {len(edits)}"))
    copies = [r for r in report.copies if r.status != "n/a"]
    ok = sum(r.status == "linked" for r in copies)
    rate = ok / len(copies) if copies else 0.0
    targets.append(
        (
            f"same-story copies linked >= {100 * LINKED_TARGET:.0f}%",
            rate >= LINKED_TARGET,
            f"{100 * rate:.2f}% ({ok} of {len(copies)})",
        )
    )
    wrong = len(report.distinct["wrongly_linked"])
    targets.append(
        (
            "distinct stories: none linked",
            wrong == 0,
            f"{wrong} of {report.distinct['pairs']:,}",
        )
    )
    if report.lookups:
        last = report.lookups[-1]
        targets.append(
            (
                f"lookup median < {LOOKUP_TARGET_MS} ms at {last.size:,} articles",
                last.median_ms < LOOKUP_TARGET_MS,
                f"{last.median_ms:.3f} ms",
            )
        )
    if len(report.lookups) >= 2:
        first, last = report.lookups[0], report.lookups[-1]
        growth = last.median_ms / first.median_ms
        limit = math.sqrt(last.size / first.size)
        targets.append(
            (
                "lookup cost sub-linear (median grows < sqrt of archive growth)",
                growth < limit,
                f"x{growth:.2f} for x{last.size / first.size:.0f} articles (limit x{limit:.0f})",
            )
        )
    return targets


def _timing(values: Sequence[float]) -> dict[str, Any]:
    return {
        "n": len(values),
        "median": statistics.median(values) if values else float("nan"),
        "p95": _percentile(values, 0.95),
    }


# --- Command line --------------------------------------------------------------------------


def _no_network(event: str, args: tuple[Any, ...]) -> None:
    if event in {"socket.connect", "socket.getaddrinfo"}:
        raise RuntimeError(f"the benchmark must not use the network ({event} {args[:2]!r})")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Benchmark watcher's change detection, syndication links and lookups."
    )
    parser.add_argument(
        "--corpus",
        type=Path,
        default=Path(os.environ.get("WATCHER_CORPUS") or DEFAULT_CORPUS),
        help="the shared corpus (default: $WATCHER_CORPUS or ../shared/corpus)",
    )
    parser.add_argument("--limit", type=int, help="use N pages, spread over the index")
    parser.add_argument(
        "--sizes",
        default="1000,10000,100000",
        help="archive sizes for the lookup timing (comma-separated; default 1000,10000,100000)",
    )
    parser.add_argument("--lookups", type=int, default=1000, help="timed lookups per size")
    parser.add_argument("--seed", type=int, default=0, help="seed of every random choice")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write the results here")
    parser.add_argument(
        "--check", action="store_true", help="exit 1 when a target is missed (and say which)"
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    sys.addaudithook(_no_network)
    if str(REPO) not in sys.path:  # run as a script: tests/ is not installed
        sys.path.insert(0, str(REPO))
    started = time.perf_counter()
    sizes = sorted({int(s) for s in args.sizes.split(",") if s.strip()})

    def progress(message: str) -> None:
        print(f"[{time.perf_counter() - started:6.1f}s] {message}", file=sys.stderr, flush=True)

    pages, listed, short = load_pages(args.corpus, args.limit)
    progress(f"{len(pages)} pages with >= {MIN_WORDS} words ({short} shorter skipped)")
    report = Report(
        command=shlex.join(
            [
                os.path.relpath(sys.executable),
                os.path.relpath(__file__),
                *(sys.argv[1:] if argv is None else argv),
            ]
        ),
        corpus=str(args.corpus),
        started=datetime.now(UTC).isoformat(timespec="seconds"),
        index_pages=listed,
        short_pages=short,
        pages=len(pages),
    )
    headlines = [p.title for p in pages]
    compare_same: list[float] = []
    fingerprint_ms: list[float] = []
    sets: list[set[int]] = []
    sketches: list[list[int]] = []
    for n, page in enumerate(pages, 1):
        locate(page)
        report.page_stats.append(
            {
                "page": page.key,
                "paragraphs": len(page.paragraphs),
                "anchors": len(page.anchors),
                "ambiguous": page.ambiguous,
            }
        )
        report.cosmetic += run_cosmetic(page, args.seed, headlines, compare_same)
        report.edits += run_edits(page, args.seed)
        start = time.perf_counter()
        found, hashes = evidence(page.title, page.text, with_entities=False)
        fingerprint_ms.append((time.perf_counter() - start) * 1000)
        sets.append(hashes)
        sketches.append(list(found.sketch))
        report.copies += run_copies(page, args.seed, hashes, found.sketch)
        if n % 50 == 0:
            progress(f"{n} pages mutated, edited and copied")
    progress("distinct pairs")
    report.distinct = run_distinct(pages, sets, sketches)
    excluded = {(d["a"], d["b"]) for d in report.distinct["duplicates_excluded"]}
    report.cross_language = run_cross_language(pages, excluded)
    sharing = Counter(h for s in sketches for h in s)
    report.sketch_sharing = {
        "sketches": len(sketches),
        "distinct_hashes": len(sharing),
        "max_articles": max(sharing.values(), default=0),
    }
    report.timing = {
        "compare() on a material edit": _timing(
            [r.compare_ms for r in report.edits if r.status != "n/a"]
        ),
        "compare() on a cosmetic mutation": _timing(compare_same),
        "linking.evidence() per article": _timing(fingerprint_ms),
    }
    progress("fingerprint lookups")
    counts = [len(s) for s in sets]
    report.lookups = run_lookups(sketches, counts, sizes, args.lookups, args.seed, progress)
    report.targets = evaluate(report)
    report.seconds = time.perf_counter() - started
    print(render(report))
    if args.json:
        args.json.write_text(
            json.dumps(asdict(report), ensure_ascii=False, indent=1) + "\n", encoding="utf-8"
        )
    if args.check:
        failed = [t for t in report.targets if not t[1]]
        for name, _ok, detail in failed:
            print(f"target missed: {name} ({detail})", file=sys.stderr)
        return 1 if failed else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
