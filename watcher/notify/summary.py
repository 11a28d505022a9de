"""What a human-readable alert says about an event, before any markup.

Slack, Teams, Discord and Apprise show the same facts (headline, source, date,
language, vendors and the sentence each was found in, what changed, the same story
elsewhere); each sink turns these markup-free pieces into its own format and does its
own escaping. Nothing here escapes anything.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

from watcher.models import Change, Event

LANGUAGES = {"fr": "French", "en": "English", "de": "German", "es": "Spanish"}
EXCERPT = 400  # characters of an article shown when there is no change to show
MAX_VENDORS = 5
MAX_CHANGED = 6
MAX_LINKED = 3
MAX_ALSO_SEEN = 10
ELLIPSIS = "…"

_TOKENS = re.compile(r"\s+|[^\s]+")
# C0/C1 controls other than tab and newline, and lone surrogates (which no UTF-8
# encoder accepts): neither belongs in a chat message.
_UNPRINTABLE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")
_ZWJ = "\u200d"


def language_name(code: str | None, unknown: str = "?") -> str:
    """``fr`` -> ``French``; other codes as they are; ``unknown`` when there is none."""
    if not code:
        return unknown
    return LANGUAGES.get(code, code)


def printable(text: str) -> str:
    """``text`` without control characters or lone surrogates (tabs and newlines stay)."""
    return _UNPRINTABLE.sub(lambda m: "\ufffd" if m.group() >= "\ud800" else "", text)


def _joined(text: str, index: int) -> bool:
    """Whether a cut before ``text[index]`` would split one visible character: a base
    letter from its accent, an emoji from its modifier or its ZWJ sequence, half a flag."""
    char, before = text[index], text[index - 1]
    if before == _ZWJ or char == _ZWJ:
        return True
    if unicodedata.category(char) in ("Mn", "Mc", "Me"):  # combining marks, variation selectors
        return True
    if "\U0001f3fb" <= char <= "\U0001f3ff" or "\U000e0020" <= char <= "\U000e007f":
        return True  # skin-tone modifiers, emoji tag sequences (subdivision flags)
    if "\U0001f1e6" <= char <= "\U0001f1ff" and "\U0001f1e6" <= before <= "\U0001f1ff":
        run = 0  # regional indicators pair up from the start of their run
        while index - run - 1 >= 0 and "\U0001f1e6" <= text[index - run - 1] <= "\U0001f1ff":
            run += 1
        return run % 2 == 1
    return False


def cut(text: str, limit: int) -> str:
    """``text`` if it fits in ``limit`` characters, else its start and "…" in exactly
    that room, never splitting a character that is drawn as one (``é`` written as
    ``e`` + accent, an emoji with its modifiers, a flag)."""
    if len(text) <= limit:
        return text
    end = max(limit - 1, 0)
    while 0 < end < len(text) and _joined(text, end):
        end -= 1
    return text[:end].rstrip() + ELLIPSIS


def excerpt(text: str, limit: int = EXCERPT) -> str:
    """The start of an article body on one line."""
    return cut(" ".join(text.split()), limit)


def host(url: str) -> str:
    """The host part of a URL, to name a site in a list of links."""
    return url.split("/")[2] if "//" in url else url


def is_web_url(url: str) -> bool:
    """Only http(s) addresses become links (never ``javascript:`` and the like)."""
    return url.lower().startswith(("http://", "https://"))


# --- headlines ---------------------------------------------------------------------


def headline(event: Event) -> str:
    """``Updated: <title>``, ``<title>``, or ``Source unhealthy: <name>``."""
    article = event.article
    if article is None:
        state = "recovered" if event.type == "source.recovered" else "unhealthy"
        return f"Source {state}: {event.source_name}"
    return ("Updated: " if event.type == "article.updated" else "") + (article.title or article.url)


def fallback(event: Event) -> str:
    """One line saying it all, for notifications and clients that show no rich text."""
    article = event.article
    if article is None:
        return headline(event)
    vendor_names = ", ".join(v.name for v in event.vendors) or "no watched vendor"
    kind = "Updated" if event.type == "article.updated" else "New"
    return f"{kind}: {article.title} ({event.source_name}) — {vendor_names} — {article.url}"


def meta(event: Event) -> list[str]:
    """Source, publication date, language and (for an update) the versions."""
    parts = [event.source_name]
    article = event.article
    if article is None:
        return parts
    if article.published_at:
        parts.append(article.published_at.strftime("%d %b %Y"))
    if article.language:
        parts.append(LANGUAGES.get(article.language, article.language))
    if event.type == "article.updated" and event.change:
        parts.append(f"version {event.change.from_version} → {article.version}")
    return parts


def footer(event: Event) -> str:
    return f"watcher · {event.type} · {event.id}"


def health_facts(event: Event) -> list[tuple[str, str]]:
    """(label, value) pairs describing an unhealthy source; none for a recovery."""
    health = event.health
    if health is None or event.type == "source.recovered":
        return []
    facts = [("State", f"{health.state} · {health.failures} failed polls in a row")]
    if health.failing_since:
        facts.append(("Failing since", f"{health.failing_since:%d %b %Y %H:%M} UTC"))
    if health.last_error:
        facts.append(("Last error", cut(health.last_error, 500)))
    if health.next_poll_at:
        facts.append(("Next try", f"{health.next_poll_at:%d %b %Y %H:%M} UTC"))
    return facts


# --- what changed ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Span:
    """A stretch of an edited sentence: text kept as is, then the words that went and
    the words that came in their place (either may be empty)."""

    kept: str
    gone: str
    came: str


def word_spans(old: str, new: str) -> list[Span]:
    """Where a sentence edited in place changed, word by word. A change separated from
    the next by whitespace alone is one span ("1,5 million" -> "2,5 millions", not
    "1,5" -> "2,5" then "million" -> "millions")."""
    a, b = _TOKENS.findall(old), _TOKENS.findall(new)
    opcodes = difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes()
    spans: list[Span] = []
    kept, gone, came = "", "", ""
    for index, (op, i1, i2, j1, j2) in enumerate(opcodes):
        equal = "".join(b[j1:j2])
        between = 0 < index < len(opcodes) - 1 and equal.isspace()
        if op == "equal" and not (between and (gone or came)):
            if gone or came:
                spans.append(Span(kept, gone, came))
                kept, gone, came = "", "", ""
            kept += equal
        else:
            gone += "".join(a[i1:i2])
            came += "".join(b[j1:j2])
    spans.append(Span(kept, gone, came))
    return spans


Render = Callable[[str], str]


def render_edit(old: str, new: str, *, text: Render, gone: Render, came: Render) -> str:
    """One line showing a sentence edited in place: ``text`` renders (escapes) what was
    kept, ``gone``/``came`` render the words that went and came; spacing is kept."""
    out: list[str] = []
    for span in word_spans(old, new):
        out.append(text(span.kept))
        changed = span.came or span.gone  # the side whose spacing the line keeps
        lead = changed[: len(changed) - len(changed.lstrip())]
        trail = changed[len(changed.rstrip()) :]
        marks = [gone(span.gone.strip())] if span.gone.strip() else []
        marks += [came(span.came.strip())] if span.came.strip() else []
        if marks:
            out.append(lead + " ".join(marks) + trail)
    return "".join(out)


def changed_sentences(change: Change) -> list[tuple[str, str, str]]:
    """Every changed sentence once, in display order, as (kind, before, after):
    ``edited`` sentences (changed in place) first, then ``removed``, then ``added``."""
    in_place = {old for old, _ in change.replaced} | {new for _, new in change.replaced}
    lines = [("edited", old, new) for old, new in change.replaced]
    lines += [("removed", s, "") for s in change.removed if s not in in_place]
    lines += [("added", "", s) for s in change.added if s not in in_place]
    return lines
