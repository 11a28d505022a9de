"""``kind: slack``: a Slack incoming-webhook message, Block Kit with a text fallback."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import httpx

from watcher.config import Duration, Secret
from watcher.models import Event
from watcher.notify import register
from watcher.notify.base import post

if TYPE_CHECKING:
    from watcher.config import SinkConfig

# Slack's published limits (https://api.slack.com/reference/block-kit/blocks).
MAX_BLOCKS = 50
MAX_HEADER = 150
MAX_SECTION = 3000
MAX_CONTEXT = 2000
MAX_FALLBACK = 3000
_EXCERPT = 400
_MAX_VENDORS = 5
_MAX_CHANGED = 6
_LANGUAGES = {"fr": "French", "en": "English", "de": "German", "es": "Spanish"}


def escape(text: str) -> str:
    """Slack's three control characters; everything else is literal in mrkdwn text."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _link(url: str, label: str) -> str:
    # In <url|label>, "|" and ">" would end the link early.
    safe_url = url.replace("|", "%7C").replace(">", "%3E").replace("<", "%3C")
    return f"<{safe_url}|{escape(label).replace('|', '¦')}>"


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": _cut(text, MAX_SECTION)}}


def build_message(event: Event) -> dict[str, Any]:
    """The Slack payload for an event: ``text`` fallback plus Block Kit ``blocks``."""
    article = event.article
    updated = event.type == "article.updated"
    vendor_names = ", ".join(v.name for v in event.vendors) or "no watched vendor"
    fallback = (
        f"{'Updated' if updated else 'New'}: {article.title} ({event.source_name}) "
        f"— {vendor_names} — {article.url}"
    )
    meta = [event.source_name]
    if article.published_at:
        meta.append(article.published_at.strftime("%d %b %Y"))
    if article.language:
        meta.append(_LANGUAGES.get(article.language, article.language))
    if updated and event.change:
        meta.append(f"version {event.change.from_version} → {article.version}")
    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {
                "type": "plain_text",
                "text": _cut(
                    ("Updated: " if updated else "") + article.title or article.url, MAX_HEADER
                ),
                "emoji": False,
            },
        },
        _section(
            f"*{_link(article.url, article.title or article.url)}*\n{escape(' · '.join(meta))}"
        ),
    ]
    for vendor in event.vendors[:_MAX_VENDORS]:
        names = ", ".join(vendor.matched)
        quote = f"\n>{escape(vendor.snippets[0])}" if vendor.snippets else ""
        blocks.append(_section(f"*{escape(vendor.name)}* ({escape(names)}){quote}"))
    if updated and event.change:
        lines = [f"~{escape(s)}~" for s in event.change.removed[:_MAX_CHANGED]]
        lines += [f"*{escape(s)}*" for s in event.change.added[:_MAX_CHANGED]]
        hidden = len(event.change.removed) + len(event.change.added) - len(lines)
        if hidden > 0:
            lines.append(f"_…and {hidden} more changed sentences_")
        if lines:
            blocks.append(_section("*What changed*\n" + "\n".join(lines)))
    elif article.text:
        blocks.append(_section(escape(_cut(" ".join(article.text.split()), _EXCERPT))))
    if event.also_seen_at:
        others = ", ".join(
            _link(u, u.split("/")[2] if "//" in u else u) for u in event.also_seen_at[:10]
        )
        blocks.append(_section(f"Also seen at: {others}"))
    blocks.append(
        {
            "type": "context",
            "elements": [
                {
                    "type": "mrkdwn",
                    "text": _cut(escape(f"watcher · {event.type} · {event.id}"), MAX_CONTEXT),
                }
            ],
        }
    )
    return {"text": _cut(escape(fallback), MAX_FALLBACK), "blocks": blocks[:MAX_BLOCKS]}


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
        wait = self._next_send - self._clock()
        if wait > 0:
            await self._sleep(wait)
        self._next_send = self._clock() + float(self.options.min_interval)
        body = json.dumps(build_message(event), ensure_ascii=False).encode("utf-8")
        await post(
            self._client,
            self.options.url.reveal(),
            content=body,
            headers={"content-type": "application/json"},
            seconds=float(self.options.timeout),
            what=f"slack {self.config.id}",
        )
