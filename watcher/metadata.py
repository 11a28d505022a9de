"""An article page's metadata: title, dates, language, author, canonical URL (pure).

Sources are tried from the most to the least reliable: JSON-LD, then OpenGraph and
article meta tags, then ``<time>`` elements, then visible bylines such as "Publié le 10
février 2022, mis à jour le 11 février". Publication and modification dates are kept
apart at every step.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

from selectolax.lexbor import LexborHTMLParser, LexborNode

from watcher.dates import find_dates, parse_date
from watcher.fold import fold_words as fold


@dataclass(frozen=True, slots=True)
class Metadata:
    title: str | None = None
    published_at: datetime | None = None
    modified_at: datetime | None = None
    language: str | None = None
    author: str | None = None
    canonical_url: str | None = None
    site_name: str | None = None


# Everything extraction asks of a page outside its body text, gathered by ONE css query:
# each query is a full C traversal of the page (~0.1 ms on a news page), so one query
# with a selector list costs a fraction of asking each question separately.
# (Hidden elements are looked for by the extractor, in the part of the page it reads.)
_INDEX = (
    "meta, link[rel], title, script[type='application/ld+json'], h1, time[datetime], "
    "[itemprop], a[rel=author], p"
)


@dataclass
class PageIndex:
    """The nodes and values metadata and the body finder need, from one pass."""

    tree: LexborHTMLParser
    metas: dict[str, str] = field(default_factory=dict)
    links: list[dict[str, str | None]] = field(default_factory=list)
    title: str = ""
    json_ld: list[str] = field(default_factory=list)
    h1: list[LexborNode] = field(default_factory=list)
    times: list[LexborNode] = field(default_factory=list)
    itemprops: list[tuple[str, LexborNode]] = field(default_factory=list)
    authors: list[LexborNode] = field(default_factory=list)
    paragraphs: list[LexborNode] = field(default_factory=list)

    @classmethod
    def build(cls, tree: LexborHTMLParser) -> PageIndex:
        index = cls(tree=tree)
        seen: set[int] = set()
        for node in tree.css(_INDEX):
            # lexbor lists an element once per selector of the list that it matches: an
            # <h1 itemprop=headline> twice, which made the page look as if it had two.
            node_id = node.mem_id
            if node_id in seen:
                continue
            seen.add(node_id)
            tag = node.tag
            attrs = node.attributes
            if tag == "p":
                index.paragraphs.append(node)
            elif tag == "meta":
                content = attrs.get("content")
                if content is not None:
                    for key in ("property", "name", "itemprop", "http-equiv"):
                        name = attrs.get(key)
                        if name:
                            index.metas.setdefault(name.strip().lower(), content.strip())
            elif tag == "link":
                index.links.append(attrs)
            elif tag == "title":
                index.title = index.title or _text(node)
            elif tag == "script":
                index.json_ld.append(node.text(deep=True) or "")
            elif tag == "h1":
                index.h1.append(node)
            elif tag == "time" and attrs.get("datetime"):
                index.times.append(node)
            elif tag == "a" and attrs.get("rel") == "author":
                index.authors.append(node)
            prop = attrs.get("itemprop")
            if prop and tag != "meta":
                index.itemprops.append((prop, node))
        return index


_PUBLISHED_META = (
    "article:published_time", "og:published_time", "datepublished", "publishdate",
    "pubdate", "publish-date", "date", "dc.date.issued", "dc.date", "dcterms.created",
    "dcterms.issued", "sailthru.date", "parsely-pub-date", "article.published",
    "og:article:published_time", "cxenseparse:recs:publishtime", "citation_publication_date",
)  # fmt: skip
_MODIFIED_META = (
    "article:modified_time", "og:updated_time", "datemodified", "lastmod", "last-modified",
    "dcterms.modified", "dc.date.modified", "article.updated", "og:article:modified_time",
)  # fmt: skip
_ARTICLE_TYPES = {
    "article", "newsarticle", "reportagenews", "blogposting", "analysisnewsarticle",
    "opinionnewsarticle", "backgroundnewsarticle", "scholarlyarticle", "techarticle",
    "webpage", "livebloposting", "report", "medicalscholarlyarticle",
}  # fmt: skip
_TITLE_SEPARATORS = re.compile(r"\s+[|\-–—:·»/]{1,2}\s+")
# Elements whose class or id suggests a date or byline, selected by lexbor (C) rather
# than by testing every element's attributes in Python.
_DATE_HINT_WORDS = (
    "date",
    "time",
    "publi",
    "byline",
    "posted",
    "meta",
    "info",
    "signature",
    "auteur",
    "author",
)
_DATE_HINTS = ", ".join(f"[class*={w} i], [id*={w} i]" for w in _DATE_HINT_WORDS)
_LANG = re.compile(r"^[a-z]{2,3}$")


def _primary(tag: str | None) -> str | None:
    if not tag:
        return None
    primary = tag.strip().replace("_", "-").split("-")[0].lower()
    return primary if _LANG.match(primary) else None


def _json_ld(scripts: list[str]) -> Iterator[dict[str, Any]]:
    """Every object in the page's JSON-LD scripts, flattened through @graph and lists."""
    for raw in scripts:
        raw = raw.strip()
        if not raw:
            continue
        raw = raw.removeprefix("<!--").removesuffix("-->").strip()
        raw = raw.removeprefix("//<![CDATA[").removesuffix("//]]>").strip()
        try:
            data = json.loads(raw)
        except ValueError:
            try:  # stray control characters are the usual culprit
                data = json.loads(re.sub(r"[\x00-\x1f]", " ", raw))
            except ValueError:
                continue
        stack = [data]
        while stack:
            item = stack.pop()
            if isinstance(item, list):
                stack.extend(reversed(item))
            elif isinstance(item, dict):
                yield item
                graph = item.get("@graph")
                if isinstance(graph, list):
                    stack.extend(reversed(graph))


def _is_article(item: dict[str, Any]) -> bool:
    """schema.org types of articles: NewsArticle, ReportageNewsArticle, BlogPosting,
    SocialMediaPosting, Report, WebPage (the fallback many sites use)..."""
    kind = item.get("@type")
    kinds = kind if isinstance(kind, list) else [kind]
    for name in (str(k).lower() for k in kinds if k):
        if name in _ARTICLE_TYPES or name.endswith(("article", "posting")):
            return True
    return False


def _names(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return _names(value.get("name"))
    if isinstance(value, list):
        return [n for v in value for n in _names(v)]
    return []


def _text(node: LexborNode | None) -> str:
    return " ".join((node.text(deep=True) or "").split()) if node is not None else ""


def clean_title(raw: str, site_name: str | None, host: str) -> str:
    """Drop " | Site name" (or "Site name - ") from a title."""
    title = " ".join(raw.split())
    parts = _TITLE_SEPARATORS.split(title)
    if len(parts) < 2:
        return title
    site_keys = {fold(site_name)} if site_name else set()
    host_key = host.removeprefix("www.").split(".")[0]

    def is_site(part: str) -> bool:
        key = fold(part)
        compact = key.replace(" ", "")
        return key in site_keys or host_key in compact or compact in host_key

    if is_site(parts[-1]) or (
        len(parts[-1].split()) <= 3 and len(" ".join(parts[:-1]).split()) >= 4
    ):
        separator = _TITLE_SEPARATORS.findall(title)[-1]
        return title[: title.rfind(separator)].strip()
    if is_site(parts[0]):
        separator = _TITLE_SEPARATORS.findall(title)[0]
        return title[title.find(separator) + len(separator) :].strip()
    return title


def _in_article(node: LexborNode) -> bool:
    parent = node.parent
    while parent is not None:
        if parent.tag in ("article", "main"):
            return True
        parent = parent.parent
    return False


def _pick_title(
    index: PageIndex,
    meta: dict[str, str],
    ld_headline: str | None,
    site: str | None,
    url: str,
) -> str | None:
    host = urlsplit(url).hostname or ""
    h1 = ""
    # The first h1 inside the article (or main) if there is one, else the page's first.
    for node in sorted(index.h1, key=lambda n: not _in_article(n)):
        h1 = _text(node)
        if len(h1) >= 8:
            break
    candidates = [meta.get("og:title"), meta.get("twitter:title"), ld_headline, index.title]
    cleaned = [clean_title(c, site, host) for c in candidates if c and c.strip()]
    if h1 and len(h1.split()) >= 2:
        h1_key = fold(h1)
        # The visible headline is the best title when the page's own metadata agrees.
        if any(h1_key in fold(c) or fold(c) in h1_key for c in cleaned) or not cleaned:
            return h1
    return cleaned[0] if cleaned else (h1 or None)


def read_metadata(
    tree: LexborHTMLParser | PageIndex, url: str, *, date_selector: str | None = None
) -> Metadata:
    """Everything but the body: title, dates, language, author, canonical URL."""
    index = tree if isinstance(tree, PageIndex) else PageIndex.build(tree)
    meta = index.metas
    ld_published = ld_modified = ld_headline = ld_language = None
    ld_authors: list[str] = []
    for item in _json_ld(index.json_ld):
        if not _is_article(item):
            continue
        ld_published = ld_published or item.get("datePublished") or item.get("dateCreated")
        ld_modified = ld_modified or item.get("dateModified")
        if not ld_headline and isinstance(item.get("headline"), str):
            ld_headline = item["headline"]
        if not ld_language and isinstance(item.get("inLanguage"), str):
            ld_language = item["inLanguage"]
        if not ld_authors:
            ld_authors = _names(item.get("author"))
    site = meta.get("og:site_name") or meta.get("application-name")

    root = index.tree.root
    root_attrs = root.attributes if root is not None and root.tag == "html" else {}
    language = (
        _primary(root_attrs.get("lang"))
        or _primary(root_attrs.get("xml:lang"))
        or _primary(ld_language)
        or _primary(meta.get("content-language"))
        or _primary(meta.get("og:locale"))
        or _primary(meta.get("language"))
    )
    lang_tag = root_attrs.get("lang") or language
    itemprops = index.itemprops

    published = (
        _first_date([ld_published], lang_tag)
        or _first_date([meta.get(k) for k in _PUBLISHED_META], lang_tag)
        or _microdata_date(itemprops, "datePublished", lang_tag)
    )
    modified = (
        _first_date([ld_modified], lang_tag)
        or _first_date([meta.get(k) for k in _MODIFIED_META], lang_tag)
        or _microdata_date(itemprops, "dateModified", lang_tag)
    )
    if date_selector:
        node = index.tree.css_first(date_selector)
        if node is not None:
            text_pub, text_mod = find_dates(
                (node.attributes.get("datetime") or "") + " " + _text(node), language=lang_tag
            )
            published = text_pub or published
            modified = modified or text_mod
    if published is None:
        for node in index.times:
            published = parse_date(node.attributes.get("datetime"), language=lang_tag)
            if published:
                break
    if published is None:
        # The slow way, only when the page has no machine-readable publication date: the
        # query costs as much as the page index. (Run for a missing modification date as
        # well, it found one on 2 of the corpus's 361 pages, both the publication's day;
        # the extractor reads the article's own "updated" lines.)
        for node in index.tree.css(_DATE_HINTS):
            text = _text(node)
            if not text or len(text) > 300:
                continue
            text_pub, text_mod = find_dates(text, language=lang_tag)
            published = published or text_pub
            modified = modified or text_mod
            if published and modified:
                break

    author = ", ".join(dict.fromkeys(a.strip() for a in ld_authors if a.strip())) or None
    if not author:
        candidate = meta.get("author") or meta.get("article:author") or meta.get("dc.creator")
        if candidate and not candidate.startswith("http"):
            author = candidate
    if not author:
        nodes = index.authors + [n for prop, n in itemprops if prop == "author"]
        text = _text(nodes[0]) if nodes else ""
        author = text if 0 < len(text) <= 80 else None

    canonical = None
    href = next(
        (
            link.get("href")
            for link in index.links
            if (link.get("rel") or "").lower() == "canonical"
        ),
        None,
    ) or meta.get("og:url")
    if href and href.strip():
        absolute = urljoin(url, href.strip())
        if absolute.startswith(("http://", "https://")):
            canonical = absolute

    return Metadata(
        title=_pick_title(index, meta, ld_headline, site, url),
        published_at=published,
        modified_at=modified,
        language=language,
        author=author,
        canonical_url=canonical,
        site_name=site,
    )


def _microdata_date(
    itemprops: list[tuple[str, LexborNode]], prop: str, language: str | None
) -> datetime | None:
    for name, node in itemprops:
        if name != prop:
            continue
        attrs = node.attributes
        moment = parse_date(
            attrs.get("content") or attrs.get("datetime") or _text(node), language=language
        )
        if moment:
            return moment
    return None


def _first_date(values: list[Any], language: str | None) -> datetime | None:
    for value in values:
        if isinstance(value, list):
            value = value[0] if value else None
        if isinstance(value, str):
            moment = parse_date(value, language=language)
            if moment:
                return moment
    return None
