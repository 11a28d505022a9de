"""Extraction benchmark: watcher's extractor against trafilatura and readability-lxml.

What it measures, on the ground-truth article pages of the shared corpus
(``../shared/corpus/articles``; read its README), per set and overall, per extractor:

* Body text against the set's ground truth, which does not mean the same thing in every set.
  Tokens are lowercase Unicode ``\\w+`` words after NFKC, with invisible format characters
  (soft hyphens, zero-width spaces) removed. Text in scripts written without spaces (ja,
  zh, th) gives one token per run between punctuation marks, so it is scored coarsely.
  - fundus, readability, newspaper4k (the full body): precision, recall and F1 of the
    tokens compared as bags (multisets). Each page gets its own P/R/F1, and a set's figure
    is the mean over its pages (macro). Figures from pooled token counts (micro) are also
    printed. An empty output scores 0.
  - goose3, postlight (only the first words of the body): precision against a prefix
    means nothing, so it is n/a. "prefix recall" is the share of the prefix's tokens
    (as a bag) found in the output. "prefix found" is the share of pages whose output
    holds the prefix's tokens contiguously, which is stricter: both ground truths are other
    extractors' output and sometimes start with a caption or a standfirst.
  - trafilatura (human-annotated snippets): the share of "must contain" snippets present,
    of "must not contain" snippets absent, and of both checks together. A snippet must
    match exactly, case included, after the same normalisation and collapsed whitespace.
* Title exact-match rate on pages with a ground-truth title (the same normalisation and
  collapsed whitespace; case, quotes and punctuation count).
* Date accuracy: the published date falls on the same calendar day in UTC. Only pages with a
  ground-truth date count, and their number is printed. A date with no time or no UTC
  offset (trafilatura's output, some ground truths) cannot be moved to UTC, so it is
  compared as written.
* Language accuracy: the primary subtag against ``lang_primary`` in ``index.jsonl``.
* Milliseconds per page: the median, p95 and maximum wall time (``time.perf_counter``) of
  one extraction call. In this process, each extractor runs once over every page untimed
  (a warm-up); then the timed pass goes page by page, each page through every extractor
  in turn (their order rotating from page to page), so that a machine that slows down or
  speeds up during the run (shared cores do) weighs on all of them alike, and the ratio
  of their medians stays comparable between runs.

The calls: ``watcher.extract.extract``; ``trafilatura.bare_extraction`` with metadata (body,
title and date in one call, as watcher's) and without comments (no ground truth has
comments; trafilatura's own evaluation leaves them out too), other options default;
readability-lxml's ``Document.short_title()`` and ``.summary()``, its HTML turned into text
with a line break around each block. readability-lxml gives no date and no language, and
trafilatura no language: those cells are n/a.

Input: every extractor gets the same input, the page's bytes, and decodes them its own way:
watcher with ``watcher.encoding.decode_html``, trafilatura and readability-lxml with their
own charset detection. So every time includes decoding, and a wrong charset guess costs
the extractor that made it. (Handing the others the text decoded by watcher instead would
charge them with watcher's decoding mistakes. On two pages watcher mis-decodes, they then
score 0 as watcher does; from the bytes they score 0.9 or more.)

Run it with ``make bench-extraction``, which installs the pinned benchmark extras from
requirements/bench.txt into .venv (pass options with ``BENCH_ARGS="..."``), or directly::

    .venv/bin/python benchmarks/extraction.py [--corpus DIR] [--set NAME ...] [--limit N]
        [--extractor NAME ...] [--failures N] [--json FILE] [--dump DIR] [--check]

The corpus is ``$WATCHER_CORPUS`` or, by default, ``../shared/corpus`` next to the repository.
The exit status is 0 (this is a report), except with ``--check``: it is 1 when watcher misses
one of its targets (body score at least trafilatura's on every set and overall, median time
at most a tenth of trafilatura's, no page over 1 s). The script never uses the network: a
socket connection raises.
"""

from __future__ import annotations

import argparse
import gc
import gzip
import html
import json
import logging
import os
import re
import statistics
import sys
import time
import unicodedata
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from importlib import metadata
from pathlib import Path
from typing import Any, Literal

from watcher.encoding import decode_html
from watcher.extract import extract

REPO = Path(__file__).resolve().parent.parent
DEFAULT_CORPUS = REPO.parent / "shared" / "corpus"
# Upstream readability tests parse their pages with this base URL. Pages with no URL in
# index.jsonl get it for every extractor.
FAKE_URL = "http://fakehost/test/page.html"
SETS = ("fundus", "readability", "newspaper4k", "goose3", "postlight", "trafilatura")
EXTRACTORS = ("watcher", "trafilatura", "readability-lxml")
TARGET_SPEEDUP = 10.0
MAX_PAGE_SECONDS = 1.0

Kind = Literal["full", "prefix", "snippets"]
_TOKEN = re.compile(r"\w+")
_SPACE = re.compile(r"\s+")


# --- Ground truth ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Truth:
    """What a page's ground truth says; ``kind`` says how its body is scored."""

    kind: Kind
    body: str = ""  # full text ("full") or first words ("prefix")
    must_contain: tuple[str, ...] = ()
    must_not_contain: tuple[str, ...] = ()
    title: str | None = None
    published: str | None = None
    language: str | None = None


@dataclass(frozen=True, slots=True)
class Page:
    set: str
    id: str
    url: str
    raw: bytes  # the page as fetched: every extractor's input
    truth: Truth


def _read_json(path: Path) -> dict[str, Any]:
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"{path}: not a JSON object")
    return data


def _str_or_none(value: object) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


def load_truth(set_name: str, folder: Path, row: dict[str, Any]) -> Truth:
    """The ground truth of one page, read as that set's README section describes it."""
    title = _str_or_none(row.get("title"))
    language = _str_or_none(row.get("lang_primary"))
    if set_name == "fundus":
        expected = _read_json(folder / "expected.json")["expected"]
        return Truth(
            kind="full",
            body=(folder / "expected_body.txt").read_text(encoding="utf-8"),
            title=_str_or_none(expected.get("title")) or title,
            published=_str_or_none(expected.get("publishing_date")),
            language=language,
        )
    if set_name == "readability":
        meta = _read_json(folder / "expected-metadata.json")
        return Truth(
            kind="full",
            body=(folder / "expected.txt").read_text(encoding="utf-8"),
            title=_str_or_none(meta.get("title")) or title,
            published=_str_or_none(meta.get("publishedTime")),
            language=language,
        )
    if set_name == "newspaper4k":
        meta_path = folder / "expected-metadata.json"
        meta = _read_json(meta_path) if meta_path.exists() else {}
        return Truth(
            kind="full",
            body=(folder / "expected.txt").read_text(encoding="utf-8"),
            title=_str_or_none(meta.get("title")) or title,
            published=_str_or_none(meta.get("publish_date")),
            language=language,
        )
    if set_name == "goose3":
        expected = _read_json(folder / "expected.json")["expected"]
        return Truth(
            kind="prefix",
            body=expected.get("cleaned_text") or "",
            title=_str_or_none(expected.get("title")) or title,
            language=language,
        )
    if set_name == "postlight":
        expected = _read_json(folder / "expected.json")["expected"]
        # The strings come from JavaScript test code, entities and all ("&#151; -- Hillary").
        first_words = html.unescape(expected.get("content_first_words") or "")
        return Truth(
            kind="prefix",
            body=first_words,
            title=_str_or_none(expected.get("title")) or title,
            published=_str_or_none(expected.get("date_published")),
            language=language,
        )
    if set_name == "trafilatura":
        expected = _read_json(folder / "expected.json")
        return Truth(
            kind="snippets",
            must_contain=tuple(expected.get("with") or ()),
            must_not_contain=tuple(expected.get("without") or ()),
            title=title,
            language=language,
        )
    raise ValueError(f"unknown set {set_name!r}")


def load_pages(corpus: Path, sets: Sequence[str], limit: int | None) -> list[Page]:
    """The pages of ``sets`` listed in ``articles/index.jsonl``, at most ``limit`` per set."""
    articles = corpus / "articles"
    pages: list[Page] = []
    per_set: Counter[str] = Counter()
    with (articles / "index.jsonl").open(encoding="utf-8") as index:
        for line in index:
            if not line.strip():
                continue
            row = json.loads(line)
            set_name = row["set"]
            if set_name not in sets or (limit is not None and per_set[set_name] >= limit):
                continue
            folder = corpus / row["path"]
            page_file = folder / ("source.html.gz" if set_name == "readability" else "page.html.gz")
            pages.append(
                Page(
                    set=set_name,
                    id=row["id"],
                    url=_str_or_none(row.get("url")) or FAKE_URL,
                    raw=gzip.decompress(page_file.read_bytes()),
                    truth=load_truth(set_name, folder, row),
                )
            )
            per_set[set_name] += 1
    return pages


# --- Extractors -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Output:
    text: str
    title: str | None = None
    published: datetime | date | str | None = None
    language: str | None = None


@dataclass(frozen=True, slots=True)
class Extractor:
    name: str
    version: str
    run: Callable[[Page], Output]
    gives_title: bool
    gives_date: bool
    gives_language: bool


def _version(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "?"


def _run_watcher(page: Page) -> Output:
    text, _codec = decode_html(page.raw)
    article = extract(text, page.url)
    return Output(article.text, article.title, article.published_at, article.language)


def _make_trafilatura() -> Callable[[Page], Output]:
    import trafilatura

    def run(page: Page) -> Output:
        # bare_extraction with metadata gives the body, title and date in one call, as
        # watcher's extract() does. Comments are left out: no ground truth includes them
        # (trafilatura's own evaluation does the same). Other options are the defaults.
        doc = trafilatura.bare_extraction(
            page.raw, url=page.url, with_metadata=True, include_comments=False
        )
        if doc is None or isinstance(doc, dict):
            return Output("")
        return Output(doc.text or "", doc.title, doc.date)

    return run


_BLOCKS = frozenset(
    {
        "address", "article", "aside", "blockquote", "br", "dd", "div", "dl", "dt",
        "figcaption", "figure", "footer", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr",
        "li", "main", "ol", "p", "pre", "section", "table", "td", "th", "tr", "ul",
    }
)  # fmt: skip


def html_to_text(fragment: str) -> str:
    """The text of an HTML fragment, a line break around each block element."""
    from lxml import etree
    from lxml import html as lxml_html

    if not fragment.strip():
        return ""
    root = lxml_html.fromstring(fragment)
    parts: list[str] = []
    for event, element in etree.iterwalk(root, events=("start", "end")):
        tag = element.tag if isinstance(element.tag, str) else ""
        block = tag.lower() in _BLOCKS
        if event == "start":
            if block:
                parts.append("\n")
            if tag and element.text:  # comments and processing instructions have no tag
                parts.append(element.text)
        else:
            if block:
                parts.append("\n")
            if element is not root and element.tail:
                parts.append(element.tail)
    lines = (_SPACE.sub(" ", line).strip() for line in "".join(parts).split("\n"))
    return "\n".join(line for line in lines if line)


def _make_readability() -> Callable[[Page], Output]:
    from readability import Document

    def run(page: Page) -> Output:
        # short_title() before summary(), which mutates the tree (each call re-parses the
        # page: that is readability-lxml's cost of giving a title too). No date, no language.
        doc = Document(page.raw, url=page.url)
        title = doc.short_title()
        body = doc.summary(html_partial=True)
        return Output(html_to_text(body), None if title == "[no-title]" else title)

    return run


def make_extractor(name: str) -> Extractor:
    """The extractor called ``name`` (ImportError when its package is not installed)."""
    run: Callable[[Page], Output]
    if name == "watcher":
        run, title, day, language = _run_watcher, True, True, True
    elif name == "trafilatura":
        run, title, day, language = _make_trafilatura(), True, True, False
    elif name == "readability-lxml":
        run, title, day, language = _make_readability(), True, False, False
    else:
        raise ValueError(f"unknown extractor {name!r}")
    return Extractor(
        name, _version(name), run, gives_title=title, gives_date=day, gives_language=language
    )


# --- Metrics --------------------------------------------------------------------------


def _canonical(text: str) -> str:
    """NFKC, without invisible format characters (soft hyphens, zero-width spaces...)."""
    text = unicodedata.normalize("NFKC", text)
    if text.isascii():
        return text
    return "".join(c for c in text if unicodedata.category(c) != "Cf")


def tokens(text: str) -> list[str]:
    """Lowercase Unicode word tokens (``\\w+``) of ``text``, after :func:`_canonical`."""
    return _TOKEN.findall(_canonical(text).lower())


@dataclass(frozen=True, slots=True)
class Overlap:
    """Bag-of-tokens overlap of an output with a reference."""

    common: int
    predicted: int
    expected: int

    @property
    def precision(self) -> float:
        return self.common / self.predicted if self.predicted else 0.0

    @property
    def recall(self) -> float:
        return self.common / self.expected if self.expected else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def overlap(predicted: Sequence[str], expected: Sequence[str]) -> Overlap:
    common = sum((Counter(predicted) & Counter(expected)).values())
    return Overlap(common, len(predicted), len(expected))


def contains_sequence(haystack: Sequence[str], needle: Sequence[str]) -> bool:
    """Whether ``needle`` occurs in ``haystack`` as a contiguous run of tokens."""
    if not needle:
        return False
    return f" {' '.join(needle)} " in f" {' '.join(haystack)} "


def normalize(text: str) -> str:
    """:func:`_canonical`, whitespace runs collapsed to one space, stripped; case is kept."""
    return _SPACE.sub(" ", _canonical(text)).strip()


def parse_when(value: datetime | date | str | None) -> datetime | date | None:
    """A date or datetime from an ISO 8601 string ("2024-06-25" stays a date)."""
    if value is None or isinstance(value, date):
        return value
    value = value.strip()
    try:
        return date.fromisoformat(value) if len(value) == 10 else datetime.fromisoformat(value)
    except ValueError:
        return None


def same_day(found: datetime | date, expected: datetime | date) -> bool:
    """Same calendar day in UTC; a value with no time or offset is taken as written."""
    if (
        isinstance(found, datetime)
        and isinstance(expected, datetime)
        and found.tzinfo is not None
        and expected.tzinfo is not None
    ):
        return found.astimezone(UTC).date() == expected.astimezone(UTC).date()
    found_day = found.date() if isinstance(found, datetime) else found
    expected_day = expected.date() if isinstance(expected, datetime) else expected
    return found_day == expected_day


def primary_language(tag: str | None) -> str | None:
    if not tag:
        return None
    return tag.strip().replace("_", "-").split("-")[0].lower() or None


@dataclass(frozen=True, slots=True)
class Scores:
    """One extractor's scores on one page (None: not applicable)."""

    kind: Kind
    precision: float | None = None
    recall: float | None = None
    f1: float | None = None
    common: int = 0
    predicted: int = 0
    expected: int = 0
    prefix_recall: float | None = None
    prefix_found: bool | None = None
    contain_passed: int = 0
    contain_total: int = 0
    exclude_passed: int = 0
    exclude_total: int = 0
    title_ok: bool | None = None
    date_ok: bool | None = None
    language_ok: bool | None = None

    @property
    def body(self) -> float | None:
        """The page's headline body score: F1, prefix recall, or share of checks passed."""
        if self.kind == "full":
            return self.f1
        if self.kind == "prefix":
            return self.prefix_recall
        total = self.contain_total + self.exclude_total
        return (self.contain_passed + self.exclude_passed) / total if total else None


def score(page: Page, extractor: Extractor, output: Output) -> Scores:
    truth = page.truth
    found = tokens(output.text)
    body: dict[str, Any] = {}
    if truth.kind == "full":
        o = overlap(found, tokens(truth.body))
        body = {
            "precision": o.precision,
            "recall": o.recall,
            "f1": o.f1,
            "common": o.common,
            "predicted": o.predicted,
            "expected": o.expected,
        }
    elif truth.kind == "prefix" and truth.body.strip():
        prefix = tokens(truth.body)
        o = overlap(found, prefix)
        body = {
            "prefix_recall": o.recall,
            "prefix_found": contains_sequence(found, prefix),
            "common": o.common,
            "predicted": o.predicted,
            "expected": o.expected,
        }
    elif truth.kind == "snippets":
        text = normalize(output.text)
        body = {
            "contain_passed": sum(normalize(s) in text for s in truth.must_contain),
            "contain_total": len(truth.must_contain),
            "exclude_passed": sum(normalize(s) not in text for s in truth.must_not_contain),
            "exclude_total": len(truth.must_not_contain),
        }
    title_ok = date_ok = language_ok = None
    if extractor.gives_title and truth.title:
        title_ok = normalize(output.title or "") == normalize(html.unescape(truth.title))
    expected_day = parse_when(truth.published)
    if extractor.gives_date and expected_day is not None:
        found_day = parse_when(output.published)
        date_ok = found_day is not None and same_day(found_day, expected_day)
    if extractor.gives_language and truth.language:
        language_ok = primary_language(output.language) == primary_language(truth.language)
    return Scores(
        kind=truth.kind, title_ok=title_ok, date_ok=date_ok, language_ok=language_ok, **body
    )


# --- Running --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Result:
    page: Page
    extractor: str
    output: Output
    seconds: float
    error: str | None
    scores: Scores


def _call(extractor: Extractor, page: Page) -> tuple[Output, float, str | None]:
    start = time.perf_counter()
    try:
        output = extractor.run(page)
    except Exception as exc:  # an extractor's failure on a page is a result, not a crash
        return Output(""), time.perf_counter() - start, f"{type(exc).__name__}: {exc}"[:200]
    return output, time.perf_counter() - start, None


def run_extractors(
    extractors: Sequence[Extractor], pages: Sequence[Page]
) -> dict[str, list[Result]]:
    """One untimed warm-up pass of each extractor over ``pages``, then the timed pass
    that is scored: page by page, the extractors interleaved (see the docstring)."""
    for extractor in extractors:
        for page in pages:
            _call(extractor, page)
    gc.collect()
    results: dict[str, list[Result]] = {e.name: [] for e in extractors}
    for number, page in enumerate(pages):
        shift = number % len(extractors)
        for extractor in [*extractors[shift:], *extractors[:shift]]:
            output, seconds, error = _call(extractor, page)
            scores = score(page, extractor, output)
            results[extractor.name].append(
                Result(page, extractor.name, output, seconds, error, scores)
            )
    return results


# --- Aggregation ----------------------------------------------------------------------


def _mean(values: Sequence[float]) -> float | None:
    return statistics.fmean(values) if values else None


def _rate(flags: Sequence[bool | None]) -> tuple[float | None, int]:
    known = [f for f in flags if f is not None]
    return (sum(known) / len(known) if known else None), len(known)


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-quantile (0..1) with linear interpolation between closest ranks."""
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    position = q * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


@dataclass(frozen=True, slots=True)
class Summary:
    """One extractor's figures over a group of pages."""

    pages: int
    full_pages: int
    precision: float | None
    recall: float | None
    f1: float | None
    micro_precision: float | None
    micro_recall: float | None
    micro_f1: float | None
    prefix_pages: int
    prefix_recall: float | None
    prefix_found: float | None
    snippet_pages: int
    contain_passed: int
    contain_total: int
    exclude_passed: int
    exclude_total: int
    title: float | None
    title_n: int
    date: float | None
    date_n: int
    language: float | None
    language_n: int
    median_ms: float
    p95_ms: float
    max_ms: float
    slowest: str
    errors: int

    @property
    def contain_rate(self) -> float | None:
        return self.contain_passed / self.contain_total if self.contain_total else None

    @property
    def exclude_rate(self) -> float | None:
        return self.exclude_passed / self.exclude_total if self.exclude_total else None

    @property
    def checks_rate(self) -> float | None:
        total = self.contain_total + self.exclude_total
        return (self.contain_passed + self.exclude_passed) / total if total else None

    def count(self, kind: Kind) -> int:
        """The number of pages of ``kind`` (those with a body score of that kind)."""
        return {
            "full": self.full_pages,
            "prefix": self.prefix_pages,
            "snippets": self.snippet_pages,
        }[kind]

    def body(self, kind: Kind) -> float | None:
        """The headline body score for pages of ``kind``."""
        return {"full": self.f1, "prefix": self.prefix_recall, "snippets": self.checks_rate}[kind]


def summarize(results: Sequence[Result]) -> Summary:
    full = [r.scores for r in results if r.scores.kind == "full"]
    prefix = [r.scores for r in results if r.scores.prefix_recall is not None]
    snippets = [r.scores for r in results if r.scores.kind == "snippets"]
    micro = Overlap(
        sum(s.common for s in full), sum(s.predicted for s in full), sum(s.expected for s in full)
    )
    title, title_n = _rate([r.scores.title_ok for r in results])
    day, date_n = _rate([r.scores.date_ok for r in results])
    language, language_n = _rate([r.scores.language_ok for r in results])
    ms = [r.seconds * 1000 for r in results]
    slowest = max(results, key=lambda r: r.seconds)
    return Summary(
        pages=len(results),
        full_pages=len(full),
        precision=_mean([s.precision for s in full if s.precision is not None]),
        recall=_mean([s.recall for s in full if s.recall is not None]),
        f1=_mean([s.f1 for s in full if s.f1 is not None]),
        micro_precision=micro.precision if full else None,
        micro_recall=micro.recall if full else None,
        micro_f1=micro.f1 if full else None,
        prefix_pages=len(prefix),
        prefix_recall=_mean([s.prefix_recall for s in prefix if s.prefix_recall is not None]),
        prefix_found=_rate([s.prefix_found for s in prefix])[0],
        snippet_pages=len(snippets),
        contain_passed=sum(s.contain_passed for s in snippets),
        contain_total=sum(s.contain_total for s in snippets),
        exclude_passed=sum(s.exclude_passed for s in snippets),
        exclude_total=sum(s.exclude_total for s in snippets),
        title=title,
        title_n=title_n,
        date=day,
        date_n=date_n,
        language=language,
        language_n=language_n,
        median_ms=statistics.median(ms),
        p95_ms=percentile(ms, 0.95),
        max_ms=max(ms),
        slowest=f"{slowest.page.set}/{slowest.page.id}",
        errors=sum(r.error is not None for r in results),
    )


# Summaries keyed by group ("fundus", ..., "overall") then extractor name.
Table = dict[str, dict[str, Summary]]


def summarize_all(results: dict[str, list[Result]], sets: Sequence[str]) -> Table:
    table: Table = {}
    for group in [*sets, "overall"]:
        table[group] = {
            name: summarize(
                rows if group == "overall" else [r for r in rows if r.page.set == group]
            )
            for name, rows in results.items()
        }
    return table


# --- Report ---------------------------------------------------------------------------


def _f(value: float | None, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _rate_n(value: float | None, n: int) -> str:
    return "n/a" if value is None else f"{value:.3f} ({n})"


def _ms(value: float) -> str:
    return f"{value:.1f}" if value < 100 else f"{value:.0f}"


def _table(
    header: Sequence[str], rows: Sequence[Sequence[str]], left: tuple[int, ...] = (0, 2)
) -> list[str]:
    """Aligned columns: ``left`` ones to the left, the others (figures) to the right."""
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]

    def line(row: Sequence[str]) -> str:
        cells = [
            c.ljust(w) if i in left else c.rjust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ]
        return "  ".join(cells).rstrip()

    return [line(header), *(line(row) for row in rows)]


def _groups(table: Table, sets: Sequence[str], kind: Kind | None = None) -> list[str]:
    """The sets (with pages of ``kind``), then "overall" when there are several."""
    groups = [g for g in sets if kind is None or next(iter(table[g].values())).count(kind)]
    return [*groups, "overall"] if len(groups) > 1 else groups


def _section(
    title: str,
    header: Sequence[str],
    table: Table,
    groups: Sequence[str],
    pages: Callable[[Summary], int],
    cells: Callable[[Summary], list[str]],
) -> list[str]:
    """A titled table: one row per group and extractor, after "set", "pages", "extractor"."""
    if not groups:
        return []
    rows = [
        [group if i == 0 else "", str(pages(s)) if i == 0 else "", name, *cells(s)]
        for group in groups
        for i, (name, s) in enumerate(table[group].items())
    ]
    return [title, *_table(["set", "pages", "extractor", *header], rows), ""]


def report(
    table: Table, sets: Sequence[str], extractors: Sequence[Extractor], corpus: Path
) -> list[str]:
    names = [e.name for e in extractors]
    per_set = ", ".join(f"{s} {table[s][names[0]].pages}" for s in sets)
    out = [
        f"Extraction benchmark: {table['overall'][names[0]].pages} pages of "
        f"{corpus / 'articles'} ({per_set})",
        "Extractors: " + ", ".join(f"{e.name} {e.version}" for e in extractors),
        "Input: the page's bytes for all; each extractor decodes them its own way, within its "
        "timed call.",
        "Body tokens: lowercase Unicode \\w+ after NFKC (invisible characters removed), "
        "compared as bags (multisets). P/R/F1 are means over pages (macro); micro = pooled "
        "token counts. ja/zh/th text has no spaces: a token there is a run between "
        "punctuation marks.",
        "",
    ]
    out += _section(
        "Body, full ground truth: token precision / recall / F1",
        ["P", "R", "F1", "micro P", "micro R", "micro F1"],
        table,
        _groups(table, sets, "full"),
        lambda s: s.full_pages,
        lambda s: [
            *map(_f, (s.precision, s.recall, s.f1)),
            *map(_f, (s.micro_precision, s.micro_recall, s.micro_f1)),
        ],
    )
    out += _section(
        "Body, prefix ground truth: the first words of the body only, so precision is n/a",
        ["P", "prefix recall", "prefix found"],
        table,
        _groups(table, sets, "prefix"),
        lambda s: s.prefix_pages,
        lambda s: ["n/a", _f(s.prefix_recall), _f(s.prefix_found)],
    )
    out += _section(
        "Body, snippet checks (human-annotated snippets, no token P/R/F1): share passed",
        ["must contain", "must not contain", "all checks"],
        table,
        _groups(table, sets, "snippets"),
        lambda s: s.snippet_pages,
        lambda s: [
            f"{_f(s.contain_rate)} ({s.contain_passed}/{s.contain_total})",
            f"{_f(s.exclude_rate)} ({s.exclude_passed}/{s.exclude_total})",
            _f(s.checks_rate),
        ],
    )
    out += _section(
        "Title exact match, date on the same day, language: share right, (n) = pages with "
        "that ground truth; time per page",
        ["title", "date", "language", "median ms", "p95 ms", "max ms", "errors"],
        table,
        _groups(table, sets),
        lambda s: s.pages,
        lambda s: [
            _rate_n(s.title, s.title_n),
            _rate_n(s.date, s.date_n),
            _rate_n(s.language, s.language_n),
            *map(_ms, (s.median_ms, s.p95_ms, s.max_ms)),
            str(s.errors),
        ],
    )
    for name in names:
        s = table["overall"][name]
        out.append(f"Slowest page, {name}: {s.slowest} ({_ms(s.max_ms)} ms)")
    if "watcher" in names and "trafilatura" in names:
        w, t = table["overall"]["watcher"].median_ms, table["overall"]["trafilatura"].median_ms
        out.append(
            f"Median time, watcher / trafilatura: {_ms(w)} / {_ms(t)} ms = {w / t:.3f} "
            f"(1/{t / w:.1f})"
        )
    return out


def targets(table: Table, sets: Sequence[str]) -> list[tuple[bool, str]]:
    """The issue's targets for watcher, each with whether it is met."""
    checks: list[tuple[bool, str]] = []
    overall = table["overall"]
    if "watcher" not in overall:
        return checks
    if "trafilatura" in overall:
        metric = {"full": "F1", "prefix": "prefix recall", "snippets": "all-checks pass rate"}
        for kind in ("full", "prefix", "snippets"):
            for group in _groups(table, sets, kind):
                w = table[group]["watcher"].body(kind)
                t = table[group]["trafilatura"].body(kind)
                if w is None or t is None:
                    continue
                checks.append(
                    (
                        w >= t,
                        f"body {metric[kind]} on {group}: watcher {w:.3f} >= trafilatura {t:.3f}",
                    )
                )
        w_ms, t_ms = overall["watcher"].median_ms, overall["trafilatura"].median_ms
        checks.append(
            (
                w_ms * TARGET_SPEEDUP <= t_ms,
                f"median time: watcher {_ms(w_ms)} ms <= trafilatura {_ms(t_ms)} ms / "
                f"{TARGET_SPEEDUP:g}",
            )
        )
    slowest = overall["watcher"]
    checks.append(
        (
            slowest.max_ms <= MAX_PAGE_SECONDS * 1000,
            f"no page over {MAX_PAGE_SECONDS:g} s: watcher's slowest is {slowest.slowest} "
            f"({_ms(slowest.max_ms)} ms)",
        )
    )
    return checks


def failures(results: dict[str, list[Result]], count: int) -> list[str]:
    """The ``count`` pages where watcher's body score is lowest, with the competitors'."""
    mine = sorted(
        (r for r in results["watcher"] if r.scores.body is not None),
        key=lambda r: (r.scores.body or 0.0, r.page.set, r.page.id),
    )[:count]
    others = {
        name: {(r.page.set, r.page.id): r for r in rows}
        for name, rows in results.items()
        if name != "watcher"
    }
    metric = {"full": "F1", "prefix": "prefix recall", "snippets": "checks passed"}
    header = ["page", "metric", "watcher", "P", "R", "words", "expected", *others, "error"]
    rows = []
    for r in mine:
        s = r.scores
        key = (r.page.set, r.page.id)
        rows.append(
            [
                f"{r.page.set}/{r.page.id}",
                metric[s.kind],
                _f(s.body),
                _f(s.precision, 2),
                _f(s.recall, 2),
                str(len(tokens(r.output.text))),
                str(s.expected) if s.kind != "snippets" else "",
                *(_f(by_page[key].scores.body) for by_page in others.values()),
                r.error or "",
            ]
        )
    title = f"Worst {len(rows)} watcher pages by body score (pages under <corpus>/articles/):"
    return [title, *_table(header, rows, left=(0, 1, len(header) - 1))]


def to_json(
    table: Table,
    results: dict[str, list[Result]],
    extractors: Sequence[Extractor],
    checks: list[tuple[bool, str]],
) -> dict[str, Any]:
    return {
        "extractors": {e.name: e.version for e in extractors},
        "summary": {
            group: {
                name: {**asdict(s), "contain_rate": s.contain_rate, "exclude_rate": s.exclude_rate}
                for name, s in row.items()
            }
            for group, row in table.items()
        },
        "targets": [{"met": ok, "target": text} for ok, text in checks],
        "pages": [
            {
                "set": r.page.set,
                "id": r.page.id,
                "extractor": name,
                "ms": r.seconds * 1000,
                "error": r.error,
                "body_score": r.scores.body,
                **asdict(r.scores),
                "title": r.output.title,
                "published": str(r.output.published) if r.output.published else None,
                "language": r.output.language,
            }
            for name, rows in results.items()
            for r in rows
        ],
    }


def dump(results: dict[str, list[Result]], folder: Path) -> None:
    """Each extractor's output text, as ``folder/<extractor>/<set>/<id>.txt``."""
    for name, rows in results.items():
        for r in rows:
            path = folder / name / r.page.set / f"{r.page.id}.txt"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(f"{r.output.title or ''}\n\n{r.output.text}\n", encoding="utf-8")


# --- Command line ---------------------------------------------------------------------


def _no_network(event: str, args: tuple[Any, ...]) -> None:
    if event in {"socket.connect", "socket.getaddrinfo"}:
        raise RuntimeError(f"the benchmark must not use the network ({event} {args[:2]!r})")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Benchmark watcher's extractor against trafilatura and readability-lxml."
    )
    parser.add_argument(
        "--corpus",
        type=Path,
        default=Path(os.environ.get("WATCHER_CORPUS") or DEFAULT_CORPUS),
        help="the shared corpus (default: $WATCHER_CORPUS or ../shared/corpus)",
    )
    parser.add_argument("--set", action="append", choices=SETS, help="only this set (repeatable)")
    parser.add_argument("--limit", type=int, help="at most N pages per set (quick runs)")
    parser.add_argument(
        "--extractor",
        action="append",
        choices=EXTRACTORS,
        help="only this extractor (repeatable; default: all three)",
    )
    parser.add_argument(
        "--failures", type=int, default=0, metavar="N", help="list watcher's N worst pages"
    )
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write the results here")
    parser.add_argument("--dump", type=Path, metavar="DIR", help="write every output text here")
    parser.add_argument("--check", action="store_true", help="exit 1 when watcher misses a target")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    for noisy in ("trafilatura", "htmldate", "courlan", "readability", "justext"):
        logging.getLogger(noisy).setLevel(logging.CRITICAL)
    started = time.perf_counter()
    corpus: Path = args.corpus.resolve()
    if not (corpus / "articles" / "index.jsonl").is_file():
        print(f"error: no articles/index.jsonl under {corpus} (use --corpus)", file=sys.stderr)
        return 2
    names = args.extractor or EXTRACTORS
    try:
        extractors = [make_extractor(n) for n in EXTRACTORS if n in names]
    except ImportError as exc:
        print(
            f"error: {exc}: install the benchmark extras (make bench-extraction)", file=sys.stderr
        )
        return 2
    pages = load_pages(corpus, args.set or SETS, args.limit)
    sets = [s for s in SETS if any(p.set == s for p in pages)]
    if not pages:
        print("error: no pages selected", file=sys.stderr)
        return 2
    results = run_extractors(extractors, pages)
    table = summarize_all(results, sets)
    checks = targets(table, sets)
    lines = report(table, sets, extractors, corpus)
    lines += ["", "Targets:"]
    lines += [f"  {'met   ' if ok else 'MISSED'}  {text}" for ok, text in checks]
    if args.failures and "watcher" in results:
        lines += ["", *failures(results, args.failures)]
    lines += ["", f"Run time: {time.perf_counter() - started:.1f} s"]
    print("\n".join(lines))
    if args.json:
        data = to_json(table, results, extractors, checks)
        args.json.write_text(json.dumps(data, indent=1, ensure_ascii=False), encoding="utf-8")
    if args.dump:
        dump(results, args.dump)
    if args.check and not all(ok for ok, _ in checks):
        print("\nTargets missed:", file=sys.stderr)
        for ok, text in checks:
            if not ok:
                print(f"  {text}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.addaudithook(_no_network)  # for the whole process: not in main(), which tests call
    sys.exit(main())
