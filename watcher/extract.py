"""Extract stage: HTML -> :class:`~watcher.models.Article` (pure, selectolax/lexbor).

1. Metadata is read first, from the untouched tree (:mod:`watcher.metadata`).
2. One walk over the page collects its text block by block (paragraphs, headings, list
   items...). Inline tags are joined with no separator, so ``europ<b>éenne</b>`` stays
   one word; scripts, forms and the like are skipped; hidden elements (``hidden``,
   ``display:none``, off-screen, zero-size) are skipped and recorded. Each block
   remembers the elements it sits in, and whether one of them is page furniture
   (``<nav>``, ``<aside>``, a site ``<header>``/``<footer>``) or says boilerplate in its
   class or id (share, newsletter, comments, related...).
3. Each block is valued like jusText does, in the language the text shows: long blocks
   of running prose (many function words, few links) count for, link lists and
   non-prose text count against. The article is the element whose blocks add up to the
   most: a tight container around the prose, wide enough to take in a body split by an
   advert; a standfirst just above it (class "chapo", "intro", "lead"..., or the
   paragraph right under the headline, which the region read is widened to take in)
   joins it.
4. Class and id hints are believed only when they are credible: sites put "ad-portal",
   "paywall" or "sidebar" on the article itself, so when the hinted blocks hold most of
   the page's prose (and the page's <article> has none of its own elsewhere) the hints
   are ignored. What the hints mark, and injected spam, weighs nothing in step 3: a
   "related" box added to the page must not move the choice.
5. :mod:`watcher.clean` drops what is left of boilerplate and injected spam. A source
   may instead name its body with a CSS selector (``extract.body``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from selectolax.lexbor import LexborHTMLParser, LexborNode

from watcher.clean import (
    CLEANERS,
    Block,
    CleanContext,
    clean,
    drop_spam,
    leading_words,
    prose_value,
)
from watcher.config import ExtractRules
from watcher.dates import find_dates
from watcher.encoding import repair_article
from watcher.fold import fold_words
from watcher.lang import FUNCTION_WORDS, detect_language, unspaced
from watcher.metadata import PageIndex, read_metadata
from watcher.models import Article, Removal

# Never article text, skipped with everything inside.
_SKIP = frozenset(
    "script style noscript template svg math iframe object embed canvas video audio img "
    "picture source input select textarea button dialog head title meta link rt rp".split()
)
_BLOCK_TAGS = frozenset(
    "address article aside blockquote dd details div dl dt fieldset figcaption figure footer "
    "form h1 h2 h3 h4 h5 h6 header hgroup hr li main nav ol p pre section table tbody thead "
    "tfoot tr td th ul summary caption center menu".split()
)
_HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
# <form> too: sign-up and contact forms hold prose. (ASP.NET pages wrap everything in
# one <form>: a flag that holds most of the prose is not believed, see _resolve_flags.)
_ALWAYS_FURNITURE = frozenset({"nav", "aside", "menu", "figure", "figcaption", "form"})
_SITE_FURNITURE = frozenset({"header", "footer"})  # furniture unless inside the article
_ARTICLE_TAGS = frozenset({"article", "main"})
_BAD_ROLES = frozenset({"navigation", "complementary", "banner", "contentinfo", "search"})
# Class/id words of boilerplate. Sites also put most of them on wrappers of the article
# itself ("ad-portal", "sidebar-grid", "js-social-anchor"), so a flagged element that
# holds most of the page's prose is not believed. Comment threads are the exception:
# they can out-write the article, and their markers are never put on an article.


class _HintWords:
    r"""Whether a lower-cased class or id string holds one of ``words`` as a word of its
    own, between separators (white space, "_", "-") or the string's ends; a "-" inside a
    word may be left out ("read-more", "readmore"). The same as the regex
    ``(?:^|[\s_-])(read-?more|...)(?:$|[\s_-])``, answered from the string's tokens:
    sites have thousands of distinct classes, most match nothing, and on a miss the
    regex tried its alternatives at every separator (a classification took 4.1-4.4 µs
    over the corpus's 27,932 class strings, now 2.1 µs)."""

    def __init__(self, words: str) -> None:
        self.forms = forms = tuple(words.split())
        alternatives = "|".join(re.escape(w).replace(r"\-", "-?") for w in forms)
        self.regex = re.compile(rf"(?:^|[\s_-])({alternatives})(?:$|[\s_-])")
        self.tokens = frozenset(w.replace("-", "") for w in forms)
        # Where a word written with a "-" starts: its first token ("about" of
        # "about-the-author", "aboutthe" of "aboutthe-author"). Only then is the regex
        # asked.
        self.heads = frozenset(
            "".join(parts[:n])
            for parts in (w.split("-") for w in forms)
            for n in range(1, len(parts))
        )
        # Few words ("comment", "disqus"...): a class without one of their first parts
        # in it is settled by a few substring tests, without splitting it.
        firsts = {w.split("-")[0] for w in forms}
        needles = tuple(sorted(f for f in firsts if not any(g != f and g in f for g in firsts)))
        self.needles = needles if len(needles) <= 4 else None

    def search(self, lower: str) -> bool:
        if self.needles is not None:
            for needle in self.needles:
                if needle in lower:
                    break
            else:
                return False
        # str.split() and the regex's "\s" agree on what white space is.
        tokens = lower.replace("-", " ").replace("_", " ").split()
        if not self.tokens.isdisjoint(tokens):
            return True
        return not self.heads.isdisjoint(tokens) and self.regex.search(lower) is not None


_COMMENT_HINT = _HintWords("comment comments commentaire commentaires disqus reactions")
_BAD_HINT = _HintWords(
    """share sharing sharebar social newsletter subscribe subscription related
    relatedposts recommend recommended recommendations outbrain taboola cookie consent gdpr
    author-bio bio-toggle about-the-author author-info author-box more-stories read-more
    lire-aussi most-read trending promo advert adverts ad ads adslot advertisement sponsor
    sponsored breadcrumb breadcrumbs sidebar aside widget popup modal toolbar author
    authors contributor contributors byline caption credit credits tag tags pagination
    pager skip-link signup masthead site-header site-footer footer menu nav navbar
    banner"""
)
# Widgets that are never article text, whatever content-looking word sits beside
# theirs ("post-ratings", "entry-rating"): star ratings and their "no votes yet".
_WIDGET_HINT = re.compile(r"(?:^|[_-])(ratings?|star-?ratings?)(?:$|[_-])")
# Matched anywhere in the class ("postBody", "maincontent"); lower-cased too: without
# re.IGNORECASE the regex engine can skip ahead on literals.
_GOOD_HINT = re.compile(
    r"article|body|content|entry|main|post|story|text|chapo|corps|contenu|prose"
)
# Standfirsts: sites set them apart from the body's element, often above it.
_LEAD_HINT = _HintWords(
    """chapo chapeau intro lead lede standfirst excerpt dek summary article-summary
    sous-titre subtitle teaser-text"""
)
# Both are matched against the lower-cased style (CSS names and keywords are ASCII
# case-insensitive): without re.I the regex engine skips ahead on literals, 2-3x faster.
_HIDDEN_STYLE = re.compile(
    r"display\s*:\s*none|visibility\s*:\s*hidden|(?:left|top|text-indent)\s*:\s*-\d{3,}|"
    r"font-size\s*:\s*0(?:px)?\s*(?:;|$)"
)
_ZERO_SIZE = re.compile(r"(?:^|;)\s*(?:width|height)\s*:\s*0(?:px)?\s*(?:;|$)")
# Stands for <br> in collected text (source newlines are mere whitespace).
_BR = "\x1f"
# React's streaming server rendering sends content in <div hidden id="S:1"> segments
# that its runtime moves into place: readers see them.
_REACT_SEGMENT = re.compile(r"^S:[0-9a-f]+$")
# The subscribers' full text, shipped hidden (not the paywall prompt: prompts are short
# and are dropped by the cleaners as boilerplate).
# Classes that hide by convention (Bootstrap, utility CSS, screen-reader-only text).
_HIDING_CLASSES = (
    "hidden", "d-none", "is-hidden", "hide", "invisible", "display-none", "sr-only",
    "visually-hidden", "visuallyhidden", "screen-reader-text", "screenreader-only",
    "u-visually-hidden", "element-invisible", "a11y-hidden", "offscreen", "sr-text",
)  # fmt: skip
# What may hide an element, selected by lexbor in the part of the page that is read only
# (a third of the page's nodes, typically): each selector costs a C test per node.
_MAYBE_HIDDEN = '[hidden], [aria-hidden="true"], [style], ' + ", ".join(
    f"[class~={name} i]" for name in _HIDING_CLASSES
)
_HIDING_CLASS = re.compile(
    r"(?:^|\s)(" + "|".join(map(re.escape, _HIDING_CLASSES)) + r")(?:$|\s)", re.I
)
_PAYWALLED = re.compile(
    r"(?:^|[\s_-])(paywall|paywalled|premium-content|subscriber-content|locked-content|"
    r"restricted-content|article-premium|contenu-abonne|reserve-abonnes)(?:$|[\s_-])",
    re.IGNORECASE,
)


@dataclass(slots=True)
class _Ctx:
    """Where the walk is: the enclosing elements (a cons list of node ids) and flags."""

    path: tuple[Any, ...] | None = None
    flags: tuple[Any, ...] | None = None  # cons list of (node id, reason) of flagged elements
    in_article: bool = False
    in_link: bool = False
    lead: bool = False  # in a standfirst ("chapo", "intro", "excerpt"...)


@dataclass
class _Walk:
    blocks: list[Block] = field(default_factory=list)
    parts: list[str] = field(default_factory=list)
    link_chars: int = 0
    kind: str = "p"
    ctx: _Ctx = field(default_factory=_Ctx)
    removed: list[Removal] = field(default_factory=list)
    # Zero-size elements: (node, context, block kind, text length, index in ``removed``).
    hidden: list[tuple[LexborNode, _Ctx, str, int, int]] = field(default_factory=list)

    def flush(self) -> None:
        if not self.parts:
            return
        raw = "".join(self.parts)
        self.parts.clear()
        links, self.link_chars = self.link_chars, 0
        if _BR not in raw:
            text = " ".join(raw.split())
            if text:
                self._add(text, links)
            return
        # One <br> breaks a line inside a paragraph; two (or more) separate paragraphs.
        paragraphs: list[list[str]] = [[]]
        for line in raw.split(_BR):
            line = " ".join(line.split())
            if line:
                paragraphs[-1].append(line)
            elif paragraphs[-1]:
                paragraphs.append([])
        texts = ["\n".join(lines) for lines in paragraphs if lines]
        total = sum(len(t) for t in texts) or 1
        for text in texts:
            self._add(text, round(links * len(text) / total))

    def _add(self, text: str, links: int) -> None:
        self.blocks.append(
            Block(
                text=text,
                tag=self.kind,
                link_chars=links,
                path=self.ctx.path,
                flags=self.ctx.flags,
                in_article=self.ctx.in_article,
                lead=self.ctx.lead,
            )
        )


def _hidden_how(attrs: dict[str, str | None]) -> str | None:
    """Why an element is invisible ("hidden", or "zero-size"), or None if it is not.

    Two hidden things are article text: React streaming segments (its runtime shows
    them) and the full text a paywalled site ships hidden for its subscribers.
    """
    if _HIDING_CLASS.search(attrs.get("class") or ""):
        return "hidden"
    if "hidden" in attrs:
        return None if _REACT_SEGMENT.match(attrs.get("id") or "") else "hidden"
    if attrs.get("aria-hidden") == "true":
        return "hidden"
    style = attrs.get("style")
    if not style:
        return None
    style = style.lower()
    if _HIDDEN_STYLE.search(style):
        return "hidden"
    return "zero-size" if _ZERO_SIZE.search(style) else None


def _preview(node: LexborNode) -> str:
    return " ".join((node.text(deep=True) or "").split())[:160]


def _enter(node: LexborNode, tag: str, ctx: _Ctx) -> _Ctx:
    """The context inside block element ``node``: its id on the path, and its flag."""
    attrs = node.attributes
    in_article = ctx.in_article or tag in _ARTICLE_TAGS or attrs.get("itemprop") == "articleBody"
    reason = None
    strong = False
    classes = attrs.get("class")
    if tag in _ALWAYS_FURNITURE or (
        tag in _SITE_FURNITURE and not ctx.in_article and not _article_header(node, tag)
    ):
        reason = f"page furniture <{tag}>"
    elif tag == "footer":
        reason = "article footer"
    elif attrs.get("role") in _BAD_ROLES:
        reason = f"page furniture (role={attrs.get('role')})"
    else:
        id_ = attrs.get("id")
        if classes or id_:
            reason, strong = _classify_hint(classes or "", id_ or "")
    node_id = node.mem_id
    return _Ctx(
        (node_id, ctx.path),
        ((node_id, reason, strong), ctx.flags) if reason else ctx.flags,
        in_article,
        ctx.in_link,
        ctx.lead or (classes is not None and tag in _LEAD_TAGS and _is_lead(classes)),
    )


def _article_header(node: LexborNode, tag: str) -> bool:
    """A <header> holding the page's <h1> is the article's header (title, standfirst),
    even outside an <article>."""
    return tag == "header" and node.css_first("h1") is not None


def _close_above(blocks: list[Block], position: int, first: int) -> bool:
    """Whether at most 5 blocks that are not furniture (a byline, a photo) separate
    the block at ``position`` from the article's first block at ``first``."""
    return sum(1 for b in blocks[position + 1 : first] if not b.boiler) <= 5


def _after_title(blocks: list[Block], position: int, title: str, language: str | None) -> bool:
    """Whether the block at ``position`` comes right after the article's title heading,
    a few short lines that are not prose (a byline, a counter, a date) aside."""
    for before in reversed(blocks[max(position - 4, 0) : position]):
        if before.tag == "h" and before.folded == title:
            return True
        if not before.boiler and (before.words > 12 or prose_value(before, language) > 0):
            return False
    return False


_LEAD_TAGS = frozenset({"p", "div", "h2"})


@lru_cache(maxsize=4096)
def _is_lead(classes: str) -> bool:
    """Whether a class says standfirst; cached: a page's paragraphs share their class."""
    return _LEAD_HINT.search(classes.lower())


@lru_cache(maxsize=8192)
def _classify_hint(classes: str, id_: str) -> tuple[str | None, bool]:
    """``(reason, strong)`` for an element's class and id; cached: sites repeat classes."""
    lower_classes, lower_id = classes.lower(), id_.lower()
    # An id names the element: id="comment-text" is a comment whatever its classes say.
    # Among classes, "comment-body" or "post-comment" is a comment, but "entry-content
    # comments-open" is the article saying something about its comments.
    # Each word is looked at only when the whole string has a match (most have none).
    if _COMMENT_HINT.search(lower_id):
        return f"comments ({_shown(classes, id_)})", True
    if _COMMENT_HINT.search(lower_classes):
        words = classes.split()
        comment = [w for w in words if _COMMENT_HINT.search(w.lower())]
        if comment and not any(_GOOD_HINT.search(w.lower()) for w in words if w not in comment):
            return f"comments ({_shown(classes, id_)})", True
    if "rating" in lower_classes:
        widget = next((w for w in classes.split() if _WIDGET_HINT.search(w.lower())), None)
        if widget:
            return f"widget ({widget[:60]})", False
    # A content word overrules a boilerplate one ("post-sidebar"); asked second, as
    # most classes have neither.
    lower = f"{lower_classes} {lower_id}"
    if _BAD_HINT.search(lower) and not _GOOD_HINT.search(lower):
        return f"boilerplate element ({_shown(classes, id_)})", False
    return None, False


def _shown(classes: str, id_: str) -> str:
    return " ".join(f"{classes} {id_}".split())[:60]


def _inside_article(node: LexborNode) -> bool:
    """Whether ``node`` is, or sits in, an <article>/<main> (the walk may start there)."""
    current: LexborNode | None = node
    while current is not None:
        if current.tag in _ARTICLE_TAGS:
            return True
        current = current.parent
    return False


def _hidden_elements(root: LexborNode) -> dict[int, str]:
    """``{node id: "hidden" | "zero-size"}`` for the elements under ``root``, from those
    lexbor selects as possibly hidden, so the walk never reads every element's
    attributes."""
    found: dict[int, str] = {}
    for node in root.css(_MAYBE_HIDDEN):
        attrs = node.attributes
        how = _hidden_how(attrs)
        if how and not _subscribers_text(node, attrs):
            found[node.mem_id] = how
    return found


def _subscribers_text(node: LexborNode, attrs: dict[str, str | None]) -> bool:
    """A paywalled site's full text, shipped hidden for subscribers: a paywall-classed
    element made of long paragraphs (the paywall's own prompt is short lines)."""
    if not _PAYWALLED.search(f"{attrs.get('class') or ''} {attrs.get('id') or ''}"):
        return False
    lengths = [len(p.text(deep=True) or "") for p in node.css("p")]
    long = sum(n for n in lengths if n >= 120)
    return long >= 400 and long >= 0.5 * len(node.text(deep=True) or "")


def _walk(root: LexborNode) -> _Walk:
    """Collect the text of ``root`` as blocks, in document order (explicit stack: pages
    nest thousands deep)."""
    walk = _Walk()
    walk.ctx = _Ctx(path=(root.mem_id, None), in_article=_inside_article(root))
    hidden = _hidden_elements(root)
    if root.first_child is not None:
        _run(walk, root.first_child, walk.ctx, hidden)
    # Broken markup (an unclosed zero-size ad slot) can swallow a whole article that
    # readers do see: a zero-size element with more text than all the rest is not hidden.
    visible = sum(len(b.text) for b in walk.blocks)
    revealed = set()
    for node, ctx, kind, chars, index in walk.hidden:
        if chars > visible:
            revealed.add(index)
            walk.kind, walk.ctx = kind, ctx
            _run(walk, node, ctx, {}, siblings=False)
    if revealed:
        walk.removed = [r for i, r in enumerate(walk.removed) if i not in revealed]
    _join_drop_caps(walk.blocks)
    return walk


def _join_drop_caps(blocks: list[Block]) -> None:
    """A drop cap set apart from its paragraph (``<span>T</span><p>urkey, …``) is the
    paragraph's first letter."""
    for index in range(len(blocks) - 2, -1, -1):
        cap, block = blocks[index], blocks[index + 1]
        if len(cap.text) == 1 and cap.text.isupper() and block.text[:1].islower():
            block.text = cap.text + block.text
            del blocks[index]


def _run(
    walk: _Walk, first: LexborNode, ctx: _Ctx, hidden: dict[int, str], siblings: bool = True
) -> None:
    """Collect the text of ``first`` (and of its following siblings, if ``siblings``)."""
    # The hot loop of extraction: one pass over every node, so kept lean (helpers
    # inlined, few lexbor calls per node). Children are reached by first_child/next and
    # a frame is pushed per element, not per node: layout whitespace, most of a page's
    # nodes, costs one test.
    parts = walk.parts
    frames: list[tuple[LexborNode | None, _Ctx, tuple[str, _Ctx] | None]] = []
    pop, push = frames.pop, frames.append
    node: LexborNode | None = first
    while True:
        if node is None:
            if not frames:
                break
            node, ctx, resume = pop()
            if resume is not None:  # the end of a block element
                if parts:
                    walk.flush()
                walk.kind, walk.ctx = resume
            continue
        tag = node.tag
        if tag == "-text":
            if not node.is_empty_text_node:  # tested in C, not decoded
                text = node.text_content
                if text:
                    parts.append(text)
                    if ctx.in_link:
                        # Collapsed, as the block's text will be: reflowed markup must
                        # not change a block's link density.
                        walk.link_chars += len(" ".join(text.split()))
            elif parts:  # layout whitespace separates words, but never starts a block
                parts.append(" ")
            node = node.next
            continue
        after = node.next if siblings or frames else None
        if tag in _SKIP or not node.is_element_node:
            node = after
            continue
        if hidden and node.mem_id in hidden:
            text = " ".join((node.text(deep=True) or "").split())
            if text:
                if hidden[node.mem_id] == "zero-size":
                    walk.hidden.append((node, ctx, walk.kind, len(text), len(walk.removed)))
                walk.removed.append(Removal("hidden", text[:160]))
            node = after
            continue
        if tag == "br":
            parts.append(_BR)
            node = after
            continue
        if tag in _BLOCK_TAGS:
            if parts:
                walk.flush()
            push((after, ctx, (walk.kind, walk.ctx)))
            outer = walk.kind
            walk.kind = _KINDS.get(tag) or (outer if outer == "quote" or outer == "li" else "p")
            ctx = walk.ctx = _enter(node, tag, ctx)
            node = node.first_child
            continue
        child = node.first_child
        if child is not None:  # an inline element: its text joins the block's
            push((after, ctx, None))
            if tag == "a" and not ctx.in_link:
                ctx = _Ctx(ctx.path, ctx.flags, ctx.in_article, True, ctx.lead)
        node = child if child is not None else after
    if parts:
        walk.flush()


# The kind of block a block element starts (others continue a quote or list item).
_KINDS = {"li": "li", "blockquote": "quote", "pre": "pre"} | {h: "h" for h in _HEADINGS}


def text_blocks(node: LexborNode) -> list[Block]:
    """The text of ``node`` as blocks, in document order (no selection, no cleaning)."""
    return _walk(node).blocks


def _within(path: tuple[Any, ...] | None, node_id: int) -> bool:
    while path is not None:
        if path[0] == node_id:
            return True
        path = path[1]
    return False


def _resolve_flags(blocks: list[Block], values: list[float]) -> None:
    """Set each block's ``boiler`` reason from the flagged elements around it, ignoring
    any weakly flagged element that holds most of the page's prose: its class is lying,
    unless the page's <article> has prose of its own outside it (a live feed in an
    <aside> can out-write the article beside it)."""
    # Grouped by reason, i.e. by class: a site that splits its article over several
    # <div class="sidebar-grid__container"> has them hold most of the prose together.
    prose: dict[str, float] = {}
    in_article: dict[str, float] = {}
    total = article = in_comments = unflagged = 0.0
    for block, value in zip(blocks, values, strict=True):
        if value <= 0:
            continue
        total += value
        if block.in_article:
            article += value
        flags = block.flags
        commented = False
        while flags is not None:
            reason = flags[0][1]
            commented = commented or flags[0][2]
            prose[reason] = prose.get(reason, 0.0) + value
            if block.in_article:
                in_article[reason] = in_article.get(reason, 0.0) + value
            flags = flags[1]
        if commented:
            in_comments += value
        elif block.flags is None:
            unflagged += value
    # A page whose prose is in "comment" elements, none outside any flagged element, is
    # a live commentary (a match, a live blog), not an article with its comments: those
    # classes are not believed.
    commentary = in_comments > 0.5 * total and unflagged < 150
    lying = {
        reason
        for reason, held in prose.items()
        if held > 0.5 * total and article - in_article.get(reason, 0.0) < 0.2 * total
    }
    for block in blocks:
        flags = block.flags
        block.boiler = None
        while flags is not None:
            (_node_id, reason, strong), flags = flags
            if strong and commentary:
                continue
            if strong or reason not in lying:
                block.boiler = reason  # ends on the outermost credible one


def _select(blocks: list[Block], language: str | None, core: int | None = None) -> int | None:
    """The id of the element that holds the article (and each block's ``boiler``);
    only blocks inside ``core``, if given, have a say."""
    values = [prose_value(b, language) for b in blocks]
    _resolve_flags(blocks, values)
    scores: dict[int, float] = {}
    for block, value in zip(blocks, values, strict=True):
        if block.boiler or block.dropped or (core is not None and not _within(block.path, core)):
            # What goes anyway (furniture, a comment thread, injected spam) is no
            # evidence for or against where the article is: a "related" box or a spam
            # link list appended to the page weighed against its container, so adding
            # one moved the choice, and the article "changed" (benchmarks/changes.py).
            # Nor is the headline's neighbourhood, taken in for its standfirst only.
            value = 0.0
        if value == 0:
            continue
        path = block.path
        while path is not None:
            scores[path[0]] = scores.get(path[0], 0.0) + value
            path = path[1]
    if not scores:
        return None
    return max(scores, key=scores.__getitem__)


def _region(body: LexborNode, paragraphs: list[LexborNode] | None = None) -> LexborNode:
    """Where to look: the smallest element holding most of the page's long paragraphs,
    widened by one level (a standfirst or a headline sits beside the body), found with
    lexbor doing the selecting and the text (C speed), so that the detailed walk covers
    a part of the page, not all of it. Pages without such paragraphs get the body."""
    # Each paragraph's length goes to its parent, and is summed up the tree once at the
    # end: walking up to the root from every paragraph was most of this function's time.
    weights: dict[int, float] = {}
    nodes: dict[int, LexborNode] = {}
    depth: dict[int, int] = {}
    total = 0.0
    for para in body.css("p") if paragraphs is None else paragraphs:
        text = " ".join((para.text(deep=True) or "").split())  # indentation is not prose
        length = len(text) * (3 if unspaced(text) else 1)
        if length < 80:
            continue
        total += length
        parent = para.parent
        if parent is None:
            continue
        weights[parent.mem_id] = weights.get(parent.mem_id, 0.0) + length
        fresh: list[LexborNode] = []  # the ancestors not seen yet, up to one that was
        node: LexborNode | None = parent
        while node is not None and node.mem_id not in nodes:
            nodes[node.mem_id] = node
            fresh.append(node)
            node = node.parent
        level = 0 if node is None else depth[node.mem_id] + 1
        for ancestor in reversed(fresh):
            depth[ancestor.mem_id] = level
            level += 1
    for node_id in sorted(depth, key=depth.__getitem__, reverse=True):  # deepest first
        parent = nodes[node_id].parent
        if parent is not None:
            weights[parent.mem_id] = weights.get(parent.mem_id, 0.0) + weights.get(node_id, 0.0)
    if total < 400:
        return body
    body_id = body.mem_id
    best = max(
        (i for i, w in weights.items() if w >= 0.9 * total and i in depth),
        key=lambda i: depth[i],
        default=body_id,
    )
    region = nodes.get(best, body)
    # Widen to the enclosing <article>/<main> when there is one close by, else by two
    # levels: standfirsts, abstracts and lead paragraphs sit beside the body text.
    candidate: LexborNode | None = region
    for _ in range(4):
        if candidate is None or candidate.mem_id == body_id:
            break
        if candidate.tag in _ARTICLE_TAGS:
            return candidate
        candidate = candidate.parent
    for _ in range(2):
        parent = region.parent
        if parent is None or region.mem_id == body_id or parent.tag in {"html", "#document"}:
            break
        region = parent
    return region


def _with_headline(
    region: LexborNode, body: LexborNode, headlines: list[LexborNode], title: str | None
) -> LexborNode:
    """``region`` widened to take in the article's <h1> (the page's only one, or the one
    that reads as its title; ``headlines``: the page's) when it sits close above it, so
    that a standfirst under the headline is seen."""
    if len(headlines) > 1 and title:
        key = fold_words(title)
        headlines = [h for h in headlines if fold_words(h.text(deep=True) or "") == key]
    if len(headlines) != 1:
        return region
    ancestors = set()
    node: LexborNode | None = headlines[0].parent
    while node is not None:
        ancestors.add(node.mem_id)
        node = node.parent
    candidate: LexborNode | None = region
    for _ in range(4):
        if candidate is None or candidate.mem_id == body.mem_id:
            return region
        if candidate.mem_id in ancestors:
            return candidate
        candidate = candidate.parent
    return region


def _page_language(meta_language: str | None, blocks: list[Block]) -> str | None:
    """The language prose is judged in: the text's own, when it tells; the page's
    declared one otherwise. A template's lang attribute is often the site's or the
    blog platform's, and English prose judged as French reads as a link list."""
    long = [b for b in blocks if len(b.text) > 60]
    sample = " ".join(b.text for b in long)[:6000]
    # The blocks' words are needed later anyway: tokenised once, here.
    return detect_language(sample, leading_words(long, " ")) or meta_language


# Block elements left open make lexbor's tree construction quadratic (each new block
# scans the stack of open elements): 10,000 levels parse in 0.1 s, 50,000 in 8 s. No
# real page comes near; a hostile one is refused rather than allowed to stall a worker.
MAX_UNCLOSED_BLOCKS = 10_000
_NESTING_TAGS = re.compile(
    r"<(/?)(div|section|article|p|li|ul|ol|table|td|tr|blockquote|dl|dd|form|main|aside|nav|"
    r"header|footer|figure|fieldset)(?=[\s/>])",
    re.IGNORECASE,
)


def unclosed_blocks(html: str) -> int:
    """Block tags opened and never closed (a cheap upper bound of the nesting depth),
    or 0 when the page has too few tags to reach :data:`MAX_UNCLOSED_BLOCKS`."""
    # One C-level count settles nearly every page: a page cannot leave open more tags
    # than it has. (Counting each tag name was a third of all extraction time.)
    if html.count("<") <= MAX_UNCLOSED_BLOCKS:
        return 0
    opened: dict[str, int] = {}
    for close, tag in _NESTING_TAGS.findall(html):
        tag = tag.lower()
        opened[tag] = opened.get(tag, 0) + (-1 if close else 1)
    return sum(max(n, 0) for n in opened.values())


def _render_templates(tree: LexborHTMLParser) -> None:
    """Put in place the HTML templates that are an element's only content: a
    client-side rendered post (Blogger ships the whole article so, in a
    ``<script type="text/template">`` inside ``itemprop=articleBody``). Templates beside
    other content are widgets (comment forms, carousels) and stay out."""
    selector = 'script[type="text/template"], script[type="text/x-template"]'
    for script in tree.css(selector):
        parent = script.parent
        if parent is None or parent.tag in {"head", "html", "body"}:
            continue
        alone = all(
            child.mem_id == script.mem_id
            or child.tag == "noscript"  # the same content, for browsers without scripts
            or not (child.text(deep=True) or "").strip()
            for child in parent.iter(include_text=True)
        )
        markup = (script.text(deep=True) or "").lstrip()
        if not alone or not markup.startswith("<") or markup.startswith("<![CDATA["):
            continue  # beside other content, or data (JSON) for a script to render
        body = LexborHTMLParser(f"<body>{markup}</body>").body
        if body is not None:
            for child in list(body.iter(include_text=True)):
                script.insert_before(child)
        script.decompose()


_CLEANERS_AFTER_SPAM = tuple(c for c in CLEANERS if c is not drop_spam)


def extract(html: str, url: str, rules: ExtractRules | None = None) -> Article:
    """The clean article in ``html`` (fetched from ``url``). Never raises on bad HTML."""
    rules = rules or ExtractRules()
    unclosed = unclosed_blocks(html)
    if unclosed > MAX_UNCLOSED_BLOCKS:
        return Article.refused(
            url, f"{unclosed} unclosed block elements (broken or hostile markup)"
        )
    tree = LexborHTMLParser(html)
    if "text/template" in html or "text/x-template" in html:
        _render_templates(tree)
    index = PageIndex.build(tree)
    meta = read_metadata(index, url, date_selector=rules.date)
    removed: list[Removal] = []
    for selector in rules.remove:
        for node in reversed(tree.css(selector)):
            text = _preview(node)
            if text:
                removed.append(Removal("configured remove", text))
            node.decompose()
    configured = tree.css_first(rules.body) if rules.body else None
    body = tree.body
    # ``core``: where the article is looked for; ``root``: what is read, the core and
    # the headline above it (for a standfirst).
    core = root = configured
    if configured is None and body is not None:
        # After removals the index may hold freed nodes: ask the tree again.
        stale = bool(rules.remove)
        core = _region(body, None if stale else index.paragraphs)
        root = _with_headline(core, body, body.css("h1") if stale else index.h1, meta.title)
    elif configured is None:
        root = tree.root
    walk = _walk(root) if root is not None else _Walk()
    removed.extend(walk.removed)
    language = _page_language(meta.language, walk.blocks)
    if configured is not None:
        chosen = walk.blocks  # the source says where the article is: trust it
    else:
        # Spam first: it weighs nothing in the choice of the article's element.
        drop_spam(walk.blocks, CleanContext(language=language))
        widened = core is not None and root is not None and core.mem_id != root.mem_id
        best = _select(walk.blocks, language, core.mem_id if widened and core else None)
        chosen = []
        first = next(
            (i for i, b in enumerate(walk.blocks) if best is None or _within(b.path, best)), 0
        )
        title_key = fold_words(meta.title) if meta.title else "\0"
        for position, block in enumerate(walk.blocks):
            # A standfirst just above the article's element is the article's too: told
            # by its class, or by coming right after the title.
            if (
                0 < first - position <= 20
                and _close_above(walk.blocks, position, first)
                and (block.lead or _after_title(walk.blocks, position, title_key, language))
                and not block.boiler
                and prose_value(block, language) > 0
            ):
                chosen.append(block)
                continue
            # No prose anywhere (a short page): everything that is not furniture.
            if best is not None and not _within(block.path, best):
                if block.dropped:  # spam, found before the choice
                    removed.append(Removal(block.dropped, block.text))
                continue
            if block.boiler:
                removed.append(Removal(block.boiler, block.text))
                continue
            chosen.append(block)
    title = meta.title or ""
    context = CleanContext(
        title=title, language=language, author=meta.author, trim=configured is None
    )
    # The generic finder has looked for spam already, over the whole walk.
    cleaners = CLEANERS if configured is not None else _CLEANERS_AFTER_SPAM
    paragraphs, dropped = clean(chosen, context, cleaners)
    removed.extend(dropped)
    published, modified = meta.published_at, meta.modified_at
    if published is None or modified is None:  # the article's own dateline
        bylines = " ".join(r.text for r in dropped if r.reason == "byline or date")
        text_pub, text_mod = find_dates(bylines, language=meta.language)
        published = published or text_pub
        modified = modified or text_mod
    # The paragraphs are the kept blocks' texts: their words are known already.
    head: list[str | Block] = [title, *[b for b in chosen if not b.dropped][:20]]
    detected = detect_language(title + "\n" + "\n".join(paragraphs[:20]), leading_words(head, "\n"))
    # Templates often carry a wrong or site-wide lang attribute; the text does not lie,
    # but only trust it over the page for languages it can actually tell apart.
    final_language: str | None = detected or meta.language
    if meta.language and meta.language not in FUNCTION_WORDS and detected in FUNCTION_WORDS:
        final_language = meta.language
    title, paragraphs = repair_article(title, paragraphs, final_language)
    return Article(
        url=url,
        title=title,
        paragraphs=tuple(paragraphs),
        canonical_url=meta.canonical_url,
        published_at=published,
        modified_at=modified,
        language=final_language,
        author=meta.author,
        removed=tuple(removed),
    )
