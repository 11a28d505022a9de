"""Extract stage: HTML -> :class:`~watcher.models.Article` (pure, selectolax/lexbor).

1. Metadata is read first, from the untouched tree (:mod:`watcher.metadata`).
2. Never-text elements (scripts, forms, navigation...), hidden elements and elements
   whose class or id says boilerplate (share, newsletter, comments, related...) are
   pruned, each removal recorded.
3. The main container is the source's configured ``extract.body`` selector or, on sites
   nobody configured, the element that collects the most paragraph-like text once link
   density and class hints are weighed (readability's idea, on lexbor's tree).
4. Its text is collected block by block: inline tags are joined with no separator (so
   ``europ<b>éenne</b>`` stays one word), blocks are separated.
5. :mod:`watcher.clean` drops what is left of boilerplate and injected spam.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from selectolax.lexbor import LexborHTMLParser, LexborNode

from watcher.clean import Block, CleanContext, clean
from watcher.config import ExtractRules
from watcher.dates import find_dates
from watcher.metadata import detect_language, read_metadata
from watcher.models import Article, Removal

_NEVER_TEXT = (
    "script, style, noscript, template, svg, math, iframe, object, embed, canvas, video, "
    "audio, img, picture, source, input, select, textarea, button, nav, dialog, "
    "link, meta, head"
)
# Containers of page furniture. (<header>/<footer> inside an <article> hold the
# headline and the author box: pruned as well, since the title comes from metadata.)
_FURNITURE = "header, footer, aside, menu, figcaption"
_HIDDEN = (
    '[hidden], [aria-hidden="true"], [style*="display:none"], [style*="display: none"], '
    '[style*="visibility:hidden"], [style*="visibility: hidden"], '
    '[style*="left:-9999"], [style*="left: -9999"], [style*="text-indent:-9999"]'
)
_ZERO_SIZE = re.compile(r"(?:^|;)\s*(?:width|height)\s*:\s*0(?:px)?\s*(?:;|$)|font-size\s*:\s*0")
_BAD_HINT = re.compile(
    r"(^|[\s_-])(share|sharing|social|newsletter|subscribe|subscription|comments?|"
    r"commentaires?|disqus|related|relatedposts|recommend(ed|ations)?|promo|advert|adverts|"
    r"ads?|adslot|advertisement|sponsor(ed)?|outbrain|taboola|cookie|consent|gdpr|"
    r"breadcrumbs?|sidebar|widget|popup|modal|paywall|toolbar|social-links|author-?bio|"
    r"bio-?toggle|more-?stories|read-?more|lire-?aussi|most-?read|trending|tags?|"
    r"pagination|pager|skip-link|print|byline-share|newsletter-signup|signup|"
    r"masthead|site-?header|site-?footer|footer|menu|nav|navbar|banner)($|[\s_-])",
    re.IGNORECASE,
)
_GOOD_HINT = re.compile(
    r"article|body|content|entry|main|post|story|text|chapo|corps|contenu|prose|blog",
    re.IGNORECASE,
)
_ARTICLE_BODY = (
    '[itemprop="articleBody"], [data-component="text-block"], .article-body, .article__body, '
    ".articleBody, .article-content, .article__content, .entry-content, .post-content, "
    ".story-body, .field-name-body, #article-body, #articleBody, .c-article-body, .content-article"
)
_BLOCK_TAGS = frozenset(
    [
        "address",
        "article",
        "aside",
        "blockquote",
        "dd",
        "details",
        "div",
        "dl",
        "dt",
        "fieldset",
        "figcaption",
        "figure",
        "footer",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "header",
        "hgroup",
        "hr",
        "li",
        "main",
        "ol",
        "p",
        "pre",
        "section",
        "table",
        "tbody",
        "thead",
        "tfoot",
        "tr",
        "td",
        "th",
        "ul",
        "summary",
        "caption",
        "center",
        "br",
    ]
)
_SCORED_TAGS = "p, pre, blockquote, td, h2, h3, li"
_WHITESPACE = re.compile(r"[ \t\r\n\f\u00a0\u200b\u202f]+")
_COMMA = re.compile(r"[,;،，]")


@dataclass
class _Walk:
    """Block-by-block text collection state."""

    blocks: list[Block] = field(default_factory=list)
    parts: list[str] = field(default_factory=list)
    link_chars: int = 0
    tag: str = "p"

    def flush(self) -> None:
        text = _WHITESPACE.sub(" ", "".join(self.parts)).strip()
        if text:
            self.blocks.append(Block(text=text, tag=self.tag, link_chars=self.link_chars))
        self.parts.clear()
        self.link_chars = 0


@dataclass(frozen=True, slots=True)
class _Exit:
    """Stack marker: the end of a block element, restoring the enclosing block kind."""

    outer: str


def _push_children(
    stack: list[tuple[LexborNode, bool] | _Exit], node: LexborNode, in_link: bool
) -> None:
    child = node.last_child
    while child is not None:
        stack.append((child, in_link))
        child = child.prev


def _collect(root: LexborNode, walk: _Walk) -> None:
    """Walk ``root`` in document order with an explicit stack (pages nest thousands deep)."""
    stack: list[tuple[LexborNode, bool] | _Exit] = []
    _push_children(stack, root, False)
    while stack:
        item = stack.pop()
        if isinstance(item, _Exit):
            walk.flush()
            walk.tag = item.outer
            continue
        node, in_link = item
        if node.is_text_node:
            text = node.text_content or ""
            walk.parts.append(text)
            if in_link:
                walk.link_chars += len(text.strip())
        elif node.is_element_node:
            tag = node.tag or ""
            if tag in _BLOCK_TAGS:
                walk.flush()
                if tag != "br":
                    stack.append(_Exit(outer=walk.tag))
                    walk.tag = _block_kind(tag, walk.tag)
                    _push_children(stack, node, in_link)
            else:
                _push_children(stack, node, in_link or tag == "a")


def _block_kind(tag: str, outer: str) -> str:
    if tag in {"h1", "h2", "h3", "h4", "h5", "h6"}:
        return "h"
    if tag == "li":
        return "li"
    if tag == "blockquote":
        return "quote"
    if tag == "pre":
        return "pre"
    return outer if outer in {"quote", "li"} else "p"


def text_blocks(node: LexborNode) -> list[Block]:
    """The text of ``node`` as blocks, in document order."""
    walk = _Walk()
    _collect(node, walk)
    walk.flush()
    return walk.blocks


def _hint(node: LexborNode) -> str:
    attrs = node.attributes
    return f"{attrs.get('class') or ''} {attrs.get('id') or ''} {attrs.get('role') or ''}"


def _preview(node: LexborNode) -> str:
    text = _WHITESPACE.sub(" ", node.text(deep=True) or "").strip()
    return text[:160]


def _remove(
    nodes: list[LexborNode],
    removed: list[Removal],
    reason: str | Callable[[LexborNode], str] | None,
) -> None:
    """Decompose ``nodes``, recording their text under ``reason`` (None: not worth showing).

    Children are removed before their ancestors (reverse document order), so no node of
    the list is touched after an ancestor freed it.
    """
    for node in reversed(nodes):
        if node.tag in {"html", "body"}:
            continue
        if reason is not None:
            text = _preview(node)
            if text:
                removed.append(Removal(reason if isinstance(reason, str) else reason(node), text))
        node.decompose()


def _prune(root: LexborNode, removed: list[Removal], rules: ExtractRules, *, generic: bool) -> None:
    for selector in rules.remove:
        _remove(root.css(selector), removed, "configured remove")
    _remove(root.css(_NEVER_TEXT), removed, None)
    _remove(root.css(_HIDDEN), removed, "hidden")
    styled = [
        n
        for n in root.css("[style]")
        if _ZERO_SIZE.search((n.attributes.get("style") or "").replace(" ", "").lower())
    ]
    _remove(styled, removed, "hidden")
    if not generic:
        return  # a configured body selector says where the article is: trust it
    _remove(root.css(_FURNITURE), removed, lambda n: f"page furniture <{n.tag}>")
    furniture = []
    for node in root.css("[class], [id], [role]"):
        if node.tag in {"html", "body", "article", "main"}:
            continue
        hint = _hint(node)
        role = node.attributes.get("role")
        if role in {"navigation", "complementary", "banner", "contentinfo"} or (
            _BAD_HINT.search(hint) and not _GOOD_HINT.search(hint)
        ):
            furniture.append(node)
    _remove(furniture, removed, lambda n: f"boilerplate element ({_hint(n).strip()[:60]})")


def _class_weight(node: LexborNode) -> float:
    hint = _hint(node)
    weight = 0.0
    if _GOOD_HINT.search(hint):
        weight += 25
    if _BAD_HINT.search(hint):
        weight -= 25
    if node.tag in {"article", "main"}:
        weight += 20
    return weight


def _link_density(node: LexborNode) -> float:
    text = len(_WHITESPACE.sub("", node.text(deep=True) or ""))
    if not text:
        return 1.0
    links = sum(len(_WHITESPACE.sub("", a.text(deep=True) or "")) for a in node.css("a"))
    return links / text


def _best_container(tree: LexborHTMLParser) -> LexborNode | None:
    body = tree.body
    if body is None:
        return None
    marked = [n for n in tree.css(_ARTICLE_BODY) if len(n.text(deep=True) or "") >= 250]
    if len(marked) == 1:
        return marked[0]
    scores: dict[int, float] = {}
    nodes: dict[int, LexborNode] = {}
    paragraphs = list(tree.css(_SCORED_TAGS))
    # Pages that write paragraphs as text between <br>s in a <div> have no <p> at all.
    for div in tree.css("div"):
        direct = sum(len((c.text_content or "").strip()) for c in _children(div) if c.is_text_node)
        if direct >= 80:
            paragraphs.append(div)
    for para in paragraphs:
        text = _WHITESPACE.sub(" ", para.text(deep=True) or "").strip()
        if len(text) < 25:
            continue
        score = 1 + len(_COMMA.findall(text)) + min(len(text) / 100, 3)
        ancestor = para.parent
        for level in range(3):
            if ancestor is None or ancestor.tag in {"html", "#document"}:
                break
            key = ancestor.mem_id
            if key not in scores:
                nodes[key] = ancestor
                scores[key] = _class_weight(ancestor)
            scores[key] += score / (1, 2, 3)[level]
            ancestor = ancestor.parent
    if not scores:
        return body
    best_key = max(scores, key=lambda k: scores[k] * (1 - _link_density(nodes[k])))
    best = nodes[best_key]
    # When the winner is one of several siblings that share the text (pages that split
    # the body into several <div>s), climb to the parent that holds them all.
    parent = best.parent
    if parent is not None and parent.mem_id in scores and parent.tag not in {"body", "html"}:
        best_score = scores[best_key] * (1 - _link_density(best))
        parent_score = scores[parent.mem_id] * (1 - _link_density(parent))
        if parent_score >= best_score * 0.9:
            best = parent
    return best


def _children(node: LexborNode) -> list[LexborNode]:
    out = []
    child = node.child
    while child is not None:
        out.append(child)
        child = child.next
    return out


def extract(html: str, url: str, rules: ExtractRules | None = None) -> Article:
    """The clean article in ``html`` (fetched from ``url``). Never raises on bad HTML."""
    rules = rules or ExtractRules()
    tree = LexborHTMLParser(html)
    meta = read_metadata(tree, url, date_selector=rules.date)
    removed: list[Removal] = []
    container = tree.css_first(rules.body) if rules.body else None
    if container is None:
        if tree.root is not None:
            _prune(tree.root, removed, rules, generic=True)
        container = _best_container(tree)
    else:
        _prune(container, removed, rules, generic=False)
    blocks = text_blocks(container) if container is not None else []
    title = meta.title or ""
    paragraphs, dropped = clean(blocks, CleanContext(title=title))
    removed.extend(dropped)
    published, modified = meta.published_at, meta.modified_at
    if published is None:
        bylines = " ".join(r.text for r in dropped if r.reason == "byline or date")
        text_pub, text_mod = find_dates(bylines, language=meta.language)
        published = text_pub
        modified = modified or text_mod
    language = meta.language
    detected = detect_language(title + "\n" + "\n".join(paragraphs[:20]))
    if detected and detected != language:
        # Templates often carry a wrong or site-wide lang attribute; the text does not lie.
        language = detected
    return Article(
        url=url,
        title=title,
        paragraphs=tuple(paragraphs),
        canonical_url=meta.canonical_url,
        published_at=published,
        modified_at=modified,
        language=language,
        author=meta.author,
        removed=tuple(removed),
    )
