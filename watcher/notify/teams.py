"""``kind: teams``: an Adaptive Card posted to a Microsoft Teams channel webhook."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import httpx

from watcher.config import Duration, Secret
from watcher.errors import DeliveryError
from watcher.fetch import parse_retry_after
from watcher.models import Event
from watcher.notify import register, summary
from watcher.notify.base import http_refusal, post, retryable_status
from watcher.notify.pacing import Pacer
from watcher.notify.summary import cut

if TYPE_CHECKING:
    from watcher.config import SinkConfig

# Teams refuses a message over about 28 KB; the card is kept under this many bytes of
# JSON, which leaves room for what Teams wraps around it.
MAX_BYTES = 27_000
CARD_VERSION = "1.4"
MAX_URL = 2048  # longer addresses are shown, not linked
_DATE_FUNCTION = re.compile(r"\{\{(?=\s*(?:DATE|TIME)\s*\()", re.IGNORECASE)
_MARKDOWN = re.compile(r"([\\`*_\[\]()#~<>|])")
# What an Office 365 connector ("incoming webhook") answers, with status 200, when
# Teams refused the message behind it.
_CONNECTOR_FAILURE = re.compile(
    r"Webhook message delivery failed with error:(?:.*?HTTP error (\d{3}))?", re.DOTALL
)


def plain(text: str) -> str:
    """User text ready for a ``TextRun``, which never reads markdown: only control
    characters and the ``{{DATE(...)}}``/``{{TIME(...)}}`` functions, which Teams would
    otherwise evaluate, need neutralising (a word joiner between the braces)."""
    return _DATE_FUNCTION.sub("{\u2060{", summary.printable(text))


def escape_markdown(text: str) -> str:
    """User text for the card's ``fallbackText``, which Teams reads as markdown."""
    return _MARKDOWN.sub(r"\\\1", plain(text))


def _url(url: str) -> str | None:
    return url if summary.is_web_url(url) and len(url) <= MAX_URL else None


def _run(text: str, url: str | None = None, **style: Any) -> dict[str, Any]:
    run: dict[str, Any] = {"type": "TextRun", "text": plain(text), **style}
    if url and _url(url):
        run["selectAction"] = {"type": "Action.OpenUrl", "url": url}
    return run


def _rich(*inlines: dict[str, Any], **props: Any) -> dict[str, Any]:
    # An empty TextRun is invalid; a block left without runs is dropped by build_card.
    return {"type": "RichTextBlock", "inlines": [r for r in inlines if r["text"]], **props}


@dataclass(frozen=True)
class _Caps:
    """How much of each part a card shows; smaller sets are tried until the card fits."""

    title: int = 300
    text: int = 600  # vendor names and snippets, changed sentences, errors, linked titles
    excerpt: int = summary.EXCERPT
    vendors: int = summary.MAX_VENDORS
    changed: int = summary.MAX_CHANGED
    linked: int = summary.MAX_LINKED
    also_seen: int = summary.MAX_ALSO_SEEN


_LEVELS = (
    _Caps(),
    _Caps(text=300, excerpt=250, changed=4, also_seen=5),
    _Caps(title=200, text=150, excerpt=120, vendors=3, changed=2, linked=1, also_seen=3),
    _Caps(title=150, text=80, excerpt=0, vendors=1, changed=1, linked=0, also_seen=0),
)


def _edit_runs(old: str, new: str) -> list[dict[str, Any]]:
    runs: list[dict[str, Any]] = []
    for span in summary.word_spans(old, new):
        if span.kept:
            runs.append(_run(span.kept))
        changed = span.came or span.gone
        lead = changed[: len(changed) - len(changed.lstrip())]
        trail = changed[len(changed.rstrip()) :]
        marks = []
        if span.gone.strip():
            marks.append(_run(span.gone.strip(), strikethrough=True, color="attention"))
        if span.came.strip():
            marks.append(_run(span.came.strip(), weight="bolder", color="good"))
        if marks:
            if lead:
                runs.append(_run(lead))
            runs.append(marks[0])
            if len(marks) == 2:
                runs += [_run(" "), marks[1]]
            if trail:
                runs.append(_run(trail))
    return runs


def _changes(event: Event, caps: _Caps) -> list[dict[str, Any]]:
    change = event.change
    if change is None or caps.changed == 0:
        return []
    sentences = summary.changed_sentences(change)
    if not sentences:
        return []
    kinds = f" ({', '.join(change.classes)})" if change.classes else ""
    blocks = [_rich(_run(f"What changed{kinds}", weight="bolder"), spacing="medium")]
    for kind, old, new in sentences[: caps.changed]:
        if kind == "edited":
            runs = _edit_runs(cut(old, caps.text), cut(new, caps.text))
        elif kind == "removed":
            runs = [_run(cut(old, caps.text), strikethrough=True, color="attention")]
        else:
            runs = [_run(cut(new, caps.text), weight="bolder", color="good")]
        blocks.append(_rich(*runs, spacing="small"))
    if len(sentences) > caps.changed:
        more = len(sentences) - caps.changed
        blocks.append(_rich(_run(f"…and {more} more changed sentences", italic=True)))
    return blocks


def _article_body(event: Event, caps: _Caps) -> list[dict[str, Any]]:
    article = event.article
    assert article is not None
    updated = event.type == "article.updated"
    title = [_run("Updated: ", size="large", weight="bolder", color="warning")] if updated else []
    title.append(
        _run(
            cut(article.title or article.url, caps.title),
            article.url,
            size="large",
            weight="bolder",
        )
    )
    body = [
        _rich(*title),
        _rich(
            _run(cut(" · ".join(summary.meta(event)), caps.title), isSubtle=True), spacing="none"
        ),
    ]
    for vendor in event.vendors[: caps.vendors]:
        names = cut(", ".join(vendor.matched), caps.text)
        body.append(
            _rich(
                _run(cut(vendor.name, caps.text), weight="bolder"),
                _run(f" ({names})", isSubtle=True),
                spacing="medium",
            )
        )
        if vendor.snippets:
            body.append(_rich(_run(f"“{cut(vendor.snippets[0], caps.text)}”", italic=True)))
    if updated and event.change:
        body += _changes(event, caps)
    elif article.text and caps.excerpt:
        body.append(_rich(_run(summary.excerpt(article.text, caps.excerpt)), spacing="medium"))
    for report in event.linked[: caps.linked]:
        language = summary.language_name(report.language)
        body.append(
            _rich(
                _run(f"Same story in {language}: "),
                _run(cut(report.title or report.url, caps.text), report.url),
                spacing="medium",
            )
        )
        if report.only_here or report.only_there:
            here = cut(", ".join(report.only_here[:8]) or "-", caps.text)
            there = cut(", ".join(report.only_there[:8]) or "-", caps.text)
            body.append(_rich(_run(f"Only here: {here} · only there: {there}", isSubtle=True)))
    if event.also_seen_at and caps.also_seen:
        runs = [_run("Also seen at: ")]
        for index, url in enumerate(event.also_seen_at[: caps.also_seen]):
            runs += [_run(", ")] if index else []
            runs.append(_run(cut(summary.host(url), 100), url))
        body.append(_rich(*runs, spacing="medium"))
    return body


def _health_body(event: Event, caps: _Caps) -> list[dict[str, Any]]:
    color = "good" if event.type == "source.recovered" else "attention"
    body = [
        _rich(
            _run(
                cut(summary.headline(event), caps.title), size="large", weight="bolder", color=color
            )
        )
    ]
    for label, value in summary.health_facts(event):
        body.append(
            _rich(_run(f"{label}: ", weight="bolder"), _run(cut(value, caps.text)), spacing="small")
        )
    return body


def build_card(event: Event, caps: _Caps = _LEVELS[0]) -> dict[str, Any]:
    """The Adaptive Card for an event, showing at most what ``caps`` allows."""
    if event.article is None:
        body = _health_body(event, caps)
        footer = f"watcher · {event.type} · {event.source_id} · {event.id}"
    else:
        body = _article_body(event, caps)
        footer = summary.footer(event)
    body.append(_rich(_run(footer, isSubtle=True, size="small"), spacing="medium"))
    body = [block for block in body if block["inlines"]]
    card: dict[str, Any] = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": CARD_VERSION,
        "fallbackText": escape_markdown(cut(summary.fallback(event), 500)),
        "body": body,
        "msteams": {"width": "Full"},
    }
    if event.article is not None and _url(event.article.url):
        card["actions"] = [
            {"type": "Action.OpenUrl", "title": "Open article", "url": event.article.url}
        ]
    return card


def encode(message: dict[str, Any]) -> bytes:
    return json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def build_message(event: Event) -> dict[str, Any]:
    """The Workflows webhook payload: a message with the card as its one attachment,
    shortened step by step until it fits in :data:`MAX_BYTES`."""
    message: dict[str, Any] = {}
    for caps in _LEVELS:
        message = {
            "type": "message",
            "attachments": [
                {
                    "contentType": "application/vnd.microsoft.card.adaptive",
                    "contentUrl": None,
                    "content": build_card(event, caps),
                }
            ],
        }
        if len(encode(message)) <= MAX_BYTES:
            break
    return message


def refusal(response: httpx.Response, what: str) -> DeliveryError | None:
    """Workflows answer 202 or an error status; the older Office 365 connectors answer
    200 even when Teams refused the message, and say so in the body."""
    error = http_refusal(response, what)
    if error is not None:
        return error
    match = _CONNECTOR_FAILURE.search(response.text[:2000])
    if match is None:
        return None
    status = int(match.group(1)) if match.group(1) else None
    told = f"HTTP {status}" if status else "an error"
    return DeliveryError(
        f"{what}: Teams refused the message ({told}, reported in a {response.status_code} answer)",
        retryable=status is None or retryable_status(status),
        retry_after=parse_retry_after(response.headers.get("retry-after")),
    )


@register
class TeamsSink:
    """Post each event to a Microsoft Teams channel as an Adaptive Card.

    ```yaml
    - id: teams
      kind: teams
      url: ${TEAMS_WEBHOOK_URL}
    ```

    ``url`` is the address of a Teams Workflows flow started by "When a Teams webhook
    request is received" (the "Post to a channel when a webhook request is received"
    template), or of an older Office 365 connector. The card links the title, names the
    source, date and language, quotes the sentence each vendor was found in, and for
    an update shows the removed (struck, red) and added (bold, green) words. It stays
    under Teams' 28 KB message limit by showing less of long articles.
    """

    kind: ClassVar[str] = "teams"

    @dataclass(frozen=True)
    class Options:
        url: Secret
        timeout: Duration = Duration(15)
        min_interval: Duration = Duration(1)

    def __init__(
        self,
        config: SinkConfig,
        client: httpx.AsyncClient,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.config = config
        self.options: TeamsSink.Options = config.options
        self._client = client
        self._what = f"teams {config.id}"
        self._pacer = Pacer(
            float(self.options.min_interval), what=self._what, clock=clock, sleep=sleep
        )

    async def send(self, event: Event) -> None:
        await self._pacer.wait()
        await post(
            self._client,
            self.options.url.reveal(),
            content=encode(build_message(event)),
            headers={"content-type": "application/json"},
            seconds=float(self.options.timeout),
            what=self._what,
            refusal=refusal,
        )
