"""``kind: slack``: a Slack incoming-webhook message, Block Kit with a text fallback."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar
from zoneinfo import ZoneInfo

import httpx

from watcher.config import Duration, Secret
from watcher.models import Digest, Event
from watcher.notify import register, summary
from watcher.notify.base import post
from watcher.notify.summary import cut

if TYPE_CHECKING:
    from watcher.config import SinkConfig

# Slack's published limits (https://api.slack.com/reference/block-kit/blocks).
MAX_BLOCKS = 50
MAX_HEADER = 150
MAX_SECTION = 3000
MAX_CONTEXT = 2000
MAX_FALLBACK = 3000


def escape(text: str) -> str:
    """Slack's three control characters; everything else is literal in mrkdwn text."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _link(url: str, label: str) -> str:
    # In <url|label>, "|" and ">" would end the link early.
    safe_url = url.replace("|", "%7C").replace(">", "%3E").replace("<", "%3C")
    return f"<{safe_url}|{escape(label).replace('|', '¦')}>"


def mark_words(old: str, new: str) -> str:
    """One line showing a sentence edited in place: the words that went struck
    (~1,5 million~), the words that came in bold (*2,5 millions*), the rest as is."""
    return summary.render_edit(
        old, new, text=escape, gone=lambda s: f"~{escape(s)}~", came=lambda s: f"*{escape(s)}*"
    )


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": cut(text, MAX_SECTION)}}


def _header(text: str) -> dict[str, Any]:
    return {
        "type": "header",
        "text": {"type": "plain_text", "text": cut(text, MAX_HEADER), "emoji": False},
    }


def _context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text}]}


def _health_message(event: Event) -> dict[str, Any]:
    headline = summary.headline(event)
    facts = [f"*{label}:* {escape(value)}" for label, value in summary.health_facts(event)]
    blocks: list[dict[str, Any]] = [_header(headline)]
    if facts:
        blocks.append(_section("\n".join(facts)))
    blocks.append(_context(escape(f"watcher · {event.type} · {event.source_id} · {event.id}")))
    return {"text": cut(escape(headline), MAX_FALLBACK), "blocks": blocks}


def build_message(event: Event) -> dict[str, Any]:
    """The Slack payload for an event: ``text`` fallback plus Block Kit ``blocks``."""
    article = event.article
    if article is None:
        return _health_message(event)
    meta = " · ".join(summary.meta(event))
    blocks: list[dict[str, Any]] = [
        _header(summary.headline(event)),
        _section(f"*{_link(article.url, article.title or article.url)}*\n{escape(meta)}"),
    ]
    for vendor in event.vendors[: summary.MAX_VENDORS]:
        names = ", ".join(vendor.matched)
        quote = f"\n>{escape(vendor.snippets[0])}" if vendor.snippets else ""
        blocks.append(_section(f"*{escape(vendor.name)}* ({escape(names)}){quote}"))
    if event.type == "article.updated" and event.change:
        change = event.change
        lines = [
            mark_words(old, new) if kind == "edited"
            else f"~{escape(old)}~" if kind == "removed"
            else f"*{escape(new)}*"
            for kind, old, new in summary.changed_sentences(change)
        ]  # fmt: skip
        shown = lines[: summary.MAX_CHANGED]
        if len(lines) > len(shown):
            shown.append(f"_…and {len(lines) - len(shown)} more changed sentences_")
        kinds = f" ({escape(', '.join(change.classes))})" if change.classes else ""
        if shown:
            blocks.append(_section(f"*What changed*{kinds}\n" + "\n".join(shown)))
    elif article.text:
        blocks.append(_section(escape(summary.excerpt(article.text))))
    for report in event.linked[: summary.MAX_LINKED]:
        language = summary.language_name(report.language)
        differs = ""
        if report.only_here or report.only_there:
            differs = (
                f"\nOnly here: {escape(', '.join(report.only_here[:8]) or '-')}"
                f" · only there: {escape(', '.join(report.only_there[:8]) or '-')}"
            )
        link = _link(report.url, report.title or report.url)
        blocks.append(_section(f"Same story in {language}: {link}{differs}"))
    if event.also_seen_at:
        others = ", ".join(
            _link(u, summary.host(u)) for u in event.also_seen_at[: summary.MAX_ALSO_SEEN]
        )
        blocks.append(_section(f"Also seen at: {others}"))
    blocks.append(_context(cut(escape(summary.footer(event)), MAX_CONTEXT)))
    return {
        "text": cut(escape(summary.fallback(event)), MAX_FALLBACK),
        "blocks": blocks[:MAX_BLOCKS],
    }


@register
class SlackSink:
    """Post each event to a Slack incoming webhook.

    ```yaml
    - id: slack
      kind: slack
      url: ${SLACK_WEBHOOK_URL}
    ```

    The message links the title, names the source, date and language, quotes the
    sentence each vendor was found in, and for an update shows the removed (struck)
    and added (bold) sentences. At most one message a second per webhook, as Slack asks.
    """

    kind: ClassVar[str] = "slack"

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
        self.options: SlackSink.Options = config.options
        self._client = client
        self._clock = clock
        self._sleep = sleep
        self._next_send = 0.0

    async def send(self, event: Event) -> None:
        await self._post(build_message(event))

    async def send_digest(self, digest: Digest) -> None:
        for message in build_digest(digest):
            await self._post(message)

    async def _post(self, message: dict[str, Any]) -> None:
        wait = self._next_send - self._clock()
        if wait > 0:
            await self._sleep(wait)
        self._next_send = self._clock() + float(self.options.min_interval)
        body = json.dumps(message, ensure_ascii=False).encode("utf-8")
        await post(
            self._client,
            self.options.url.reveal(),
            content=body,
            headers={"content-type": "application/json"},
            seconds=float(self.options.timeout),
            what=f"slack {self.config.id}",
        )


def _digest_line(event: Event) -> str:
    """One article in a digest: linked title, source, date, and "updated" when it is."""
    article = event.article
    if article is None:
        health = event.health
        state = (
            "recovered" if event.type == "source.recovered" else (health.state if health else "")
        )
        error = f" — {escape(cut(health.last_error, 150))}" if health and health.last_error else ""
        return f"• {escape(event.source_name)}: {escape(state)}{error}"
    meta = [event.source_name]
    if article.published_at:
        meta.append(article.published_at.strftime("%d %b"))
    if article.language:
        meta.append(article.language)
    mark = "_updated_ · " if event.type == "article.updated" else ""
    return (
        f"• {mark}{_link(article.url, article.title or article.url)} — {escape(' · '.join(meta))}"
    )


def build_digest(digest: Digest) -> list[dict[str, Any]]:
    """A digest as Slack messages: a header, then each vendor's articles. Long digests
    are split into several messages, each within Slack's limits."""
    when = digest.until.astimezone(ZoneInfo(digest.timezone))
    count = len(digest.events)
    title = f"watcher digest · {count} event{'s' if count != 1 else ''} · {when:%d %b %Y %H:%M}"
    sections: list[dict[str, Any]] = []
    for group, events in digest.by_vendor():
        lines = [_digest_line(e) for e in events]
        heading = f"*{escape(group)}* ({len(events)})"
        chunk: list[str] = []
        for line in lines:
            if chunk and len(heading) + sum(len(x) + 1 for x in chunk) + len(line) >= MAX_SECTION:
                sections.append(_section(heading + "\n" + "\n".join(chunk)))
                heading, chunk = f"*{escape(group)}* (continued)", []
            chunk.append(cut(line, MAX_SECTION - len(heading) - 2))
        sections.append(_section(heading + "\n" + "\n".join(chunk)))
    per_message = MAX_BLOCKS - 2  # the header and the context line
    pages = [sections[i : i + per_message] for i in range(0, len(sections), per_message)]
    messages = []
    for number, page in enumerate(pages, start=1):
        suffix = f" ({number}/{len(pages)})" if len(pages) > 1 else ""
        header = {
            "type": "header",
            "text": {
                "type": "plain_text",
                "text": cut(title + suffix, MAX_HEADER),
                "emoji": False,
            },
        }
        context = {
            "type": "context",
            "elements": [{"type": "mrkdwn", "text": escape(f"watcher · digest · {digest.id}")}],
        }
        fallback = f"{title}{suffix}: " + ", ".join(
            f"{group} ({len(events)})" for group, events in digest.by_vendor()
        )
        messages.append(
            {"text": cut(escape(fallback), MAX_FALLBACK), "blocks": [header, *page, context]}
        )
    return messages
