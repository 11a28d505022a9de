"""``kind: discord``: a Discord webhook message with one embed."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import httpx

from watcher.config import Duration, Secret
from watcher.errors import DeliveryError
from watcher.fetch import parse_retry_after
from watcher.models import Event, isoformat
from watcher.notify import register, summary
from watcher.notify.base import post, refuse_problems, retryable_status
from watcher.notify.pacing import Pacer
from watcher.notify.summary import cut

if TYPE_CHECKING:
    from watcher.config import SinkConfig

# Discord's published limits (https://discord.com/developers/docs/resources/message),
# counted in code points as Discord counts them.
MAX_CONTENT = 2000
MAX_TITLE = 256
MAX_DESCRIPTION = 4096
MAX_FIELDS = 25
MAX_FIELD_NAME = 256
MAX_FIELD_VALUE = 1024
MAX_FOOTER = 2048
MAX_AUTHOR = 256
MAX_EMBED_TOTAL = 6000  # title, description, field names and values, footer, author
MAX_URL = 2048

COLORS = {
    "article.new": 0x2E7D32,
    "article.updated": 0xEF6C00,
    "source.unhealthy": 0xC62828,
    "source.recovered": 0x2E7D32,
}
# Inline markdown anywhere; block markers (headings, quotes, lists, -# subtext) only
# mean something at the start of a line.
_INLINE = re.compile(r"([\\*_~`|\[\]()<>])")
_LINE_START = re.compile(r"^(\s*)(?:([#>+-])|(\d+)\.)", re.MULTILINE)
_ROLE_ID = re.compile(r"^\d{5,25}$")


def escape(text: str, *, inline: bool = False) -> str:
    """User text as Discord shows it literally: every markdown character escaped with a
    backslash (``<`` too, so ``<@123>`` or ``<t:0>`` stay text). ``inline`` text sits
    inside a line, where heading, quote and list markers mean nothing."""
    text = _INLINE.sub(r"\\\1", summary.printable(text))
    if inline:
        return text
    return _LINE_START.sub(
        lambda m: m.group(1) + (f"\\{m.group(2)}" if m.group(2) else f"{m.group(3)}\\."), text
    )


def fit(text: str, limit: int) -> str:
    """``text`` escaped, cut so that the escaped form fits in ``limit`` characters."""
    room = limit
    while True:
        escaped = escape(cut(text, room))
        if len(escaped) <= limit or room <= 1:
            return escaped[:limit] if len(escaped) > limit else escaped
        room -= max(len(escaped) - limit, 1)


def _link(label: str, url: str, limit: int) -> str:
    """A masked link ``[label](url)`` in ``limit`` characters, or the escaped label
    alone when the address is not http(s) or too long to fit with a readable label."""
    target = url.replace("(", "%28").replace(")", "%29").replace(" ", "%20")
    room = limit - len(target) - 4
    if not summary.is_web_url(url) or room < 20:
        return fit(label, limit)
    return f"[{fit(label, room)}]({target})"


@dataclass(frozen=True)
class _Caps:
    """How much of each part an embed shows; smaller sets are tried until it fits."""

    text: int = 500  # a snippet, a changed sentence, a linked title
    excerpt: int = summary.EXCERPT
    vendors: int = summary.MAX_VENDORS
    changed: int = summary.MAX_CHANGED
    linked: int = summary.MAX_LINKED
    also_seen: int = summary.MAX_ALSO_SEEN


_LEVELS = (
    _Caps(),
    _Caps(text=250, excerpt=250, changed=4, also_seen=5),
    _Caps(text=120, excerpt=120, vendors=3, changed=2, linked=1, also_seen=3),
    _Caps(text=60, excerpt=0, vendors=1, changed=1, linked=0, also_seen=0),
)


def _mark(old: str, new: str) -> str:
    return summary.render_edit(
        old,
        new,
        text=escape,
        gone=lambda s: f"~~{escape(s, inline=True)}~~",
        came=lambda s: f"**{escape(s, inline=True)}**",
    )


def _description(event: Event, caps: _Caps) -> str:
    article = event.article
    assert article is not None
    text = fit(" · ".join(summary.meta(event)), 512)
    change = event.change
    if event.type == "article.updated" and change is not None:
        sentences = summary.changed_sentences(change)
        kinds = f" ({escape(', '.join(change.classes))})" if change.classes else ""
        if sentences:
            text += f"\n\n**What changed**{kinds}"
        room = MAX_DESCRIPTION - 60  # for the "and N more" line
        shown = 0
        for kind, old, new in sentences[: caps.changed]:
            old, new = cut(old, caps.text), cut(new, caps.text)
            if kind == "edited":
                line = _mark(old, new)
            elif kind == "removed":
                line = f"~~{escape(old)}~~"
            else:
                line = f"**{escape(new)}**"
            if len(text) + 1 + len(line) > room:
                break  # whole lines only: a cut line would leave its markup open
            text += "\n" + line
            shown += 1
        if len(sentences) > shown:
            text += f"\n*…and {len(sentences) - shown} more changed sentences*"
    elif article.text and caps.excerpt:
        text += "\n\n" + escape(summary.excerpt(article.text, caps.excerpt))
    return cut(text, MAX_DESCRIPTION)


def _fields(event: Event, caps: _Caps) -> list[dict[str, Any]]:
    fields: list[dict[str, Any]] = []
    for vendor in event.vendors[: caps.vendors]:
        value = fit(", ".join(vendor.matched), caps.text)
        if vendor.snippets:
            value += "\n> " + fit(vendor.snippets[0], caps.text)
        name = fit(vendor.name, MAX_FIELD_NAME) or "-"  # Discord refuses an empty field
        fields.append({"name": name, "value": cut(value, MAX_FIELD_VALUE) or "-"})
    for report in event.linked[: caps.linked]:
        value = _link(report.title or report.url, report.url, 600)
        if report.only_here or report.only_there:
            here = fit(", ".join(report.only_here[:8]) or "-", 200)
            there = fit(", ".join(report.only_there[:8]) or "-", 200)
            value += f"\nOnly here: {here} · only there: {there}"
        language = summary.language_name(report.language)
        # The link (600) and both lists (200 each) with their labels can pass 1024.
        fields.append({"name": f"Same story in {language}", "value": cut(value, MAX_FIELD_VALUE)})
    if event.also_seen_at and caps.also_seen:
        links = [_link(summary.host(u), u, 300) for u in event.also_seen_at[: caps.also_seen]]
        value = ""
        for link in links:  # whole links only
            if len(value) + len(link) + 2 > MAX_FIELD_VALUE:
                break
            value += (", " if value else "") + link
        if value:
            fields.append({"name": "Also seen at", "value": value})
    return fields[:MAX_FIELDS]


def build_embed(event: Event, caps: _Caps = _LEVELS[0]) -> dict[str, Any]:
    """The embed for an event, showing at most what ``caps`` allows."""
    embed: dict[str, Any] = {
        "title": fit(summary.headline(event), MAX_TITLE) or fit(event.type, MAX_TITLE),
        "color": COLORS.get(event.type, 0x607D8B),
        "author": {
            "name": cut(summary.printable(event.source_name) or event.source_id, MAX_AUTHOR)
        },
        "timestamp": isoformat(event.created_at),
    }
    article = event.article
    if article is None:
        facts = [f"**{label}:** {fit(value, 600)}" for label, value in summary.health_facts(event)]
        if facts:
            embed["description"] = cut("\n".join(facts), MAX_DESCRIPTION)
        footer = f"watcher · {event.type} · {event.source_id} · {event.id}"
    else:
        if summary.is_web_url(article.url) and len(article.url) <= MAX_URL:
            embed["url"] = article.url
        description = _description(event, caps)
        if description:
            embed["description"] = description
        fields = _fields(event, caps)
        if fields:
            embed["fields"] = fields
        footer = summary.footer(event)
    embed["footer"] = {"text": cut(footer, MAX_FOOTER)}
    return embed


def embed_size(embed: dict[str, Any]) -> int:
    """What counts towards Discord's 6,000-character total of an embed."""
    size = len(embed.get("title", "")) + len(embed.get("description", ""))
    size += len(embed.get("author", {}).get("name", ""))
    size += len(embed.get("footer", {}).get("text", ""))
    return size + sum(len(f["name"]) + len(f["value"]) for f in embed.get("fields", ()))


def build_message(
    event: Event, *, roles: tuple[str, ...] = (), username: str | None = None
) -> dict[str, Any]:
    """The execute-webhook payload: one embed, shortened step by step until it fits.

    ``allowed_mentions`` lets nothing ping except the configured roles, so no article
    text can ever notify @everyone.
    """
    embed: dict[str, Any] = {}
    for caps in _LEVELS:
        embed = build_embed(event, caps)
        if embed_size(embed) <= MAX_EMBED_TOTAL:
            break
    message: dict[str, Any] = {
        "embeds": [embed],
        "allowed_mentions": {"parse": [], "roles": list(roles)} if roles else {"parse": []},
    }
    if roles:
        message["content"] = cut(" ".join(f"<@&{role}>" for role in roles), MAX_CONTENT)
    if username:
        message["username"] = cut(username, 80)
    return message


def _seconds(value: Any) -> float | None:
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return None
    return seconds if seconds >= 0 else None


def retry_after(response: httpx.Response) -> float | None:
    """The longest wait Discord asked for: ``Retry-After``, the bucket's
    ``X-RateLimit-Reset-After``, or ``retry_after`` in a 429's JSON body."""
    headers = response.headers
    waits = [
        parse_retry_after(headers.get("retry-after")) or _seconds(headers.get("retry-after")),
        _seconds(headers.get("x-ratelimit-reset-after")) if response.status_code == 429 else None,
    ]
    if response.status_code == 429:
        try:
            body = response.json()
        except ValueError:
            body = None
        if isinstance(body, dict):
            waits.append(_seconds(body.get("retry_after")))
    found = [w for w in waits if w is not None]
    return max(found) if found else None


def _detail(response: httpx.Response) -> str:
    """Discord's own error code and message (``50035 Invalid Form Body``), never the
    request: they say what was wrong without repeating the token."""
    try:
        body = response.json()
    except ValueError:
        return ""
    if not isinstance(body, dict) or "message" not in body:
        return ""
    code = body.get("code")
    return f" ({code} {cut(str(body['message']), 120)})" if code else ""


@register
class DiscordSink:
    """Post each event to a Discord channel webhook, as one embed.

    ```yaml
    - id: discord
      kind: discord
      url: ${DISCORD_WEBHOOK_URL}
      mention_roles: ["123456789012345678"]   # optional: roles pinged on each alert
      username: watcher                       # optional: overrides the webhook's name
    ```

    The embed links the title, names the source, date and language, quotes the
    sentence each vendor was found in, and for an update shows the removed (struck)
    and added (bold) words. Mentions are off (``allowed_mentions``), so article text
    can never ping anyone; only ``mention_roles`` are pinged. Discord's rate-limit
    headers are followed, and a 429 is retried after the wait Discord asks for.
    """

    kind: ClassVar[str] = "discord"

    @dataclass(frozen=True)
    class Options:
        url: Secret
        username: str | None = None
        mention_roles: tuple[str, ...] = ()
        timeout: Duration = Duration(15)

    def __init__(
        self,
        config: SinkConfig,
        client: httpx.AsyncClient,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.config = config
        self.options: DiscordSink.Options = config.options
        self._client = client
        self._what = f"discord {config.id}"
        refuse_problems(config, self.problems(self.options))
        # wait=true: Discord answers once the message exists, or says why it does not.
        url = httpx.URL(self.options.url.reveal())
        self._url = str(url.copy_merge_params({"wait": "true"}))
        self._pacer = Pacer(0.0, what=self._what, clock=clock, sleep=sleep)

    @classmethod
    def problems(cls, options: DiscordSink.Options) -> Iterator[tuple[str, str]]:
        for role in options.mention_roles:
            if not _ROLE_ID.match(role):
                yield "mention_roles", f"{role!r} is not a role id (digits, from Copy Role ID)"

    def _refusal(self, response: httpx.Response, what: str) -> DeliveryError | None:
        # Pause before the next request when the bucket is empty, or when told to wait.
        headers = response.headers
        if headers.get("x-ratelimit-remaining") == "0":
            self._pacer.hold(_seconds(headers.get("x-ratelimit-reset-after")) or 0.0)
        if response.status_code < 300:
            return None
        wait = retry_after(response)
        if response.status_code == 429 and wait is not None:
            self._pacer.hold(wait)
        return DeliveryError(
            f"{what}: HTTP {response.status_code}{_detail(response)}",
            retryable=retryable_status(response.status_code),
            retry_after=wait,
        )

    async def send(self, event: Event) -> None:
        await self._pacer.wait()
        message = build_message(
            event, roles=self.options.mention_roles, username=self.options.username
        )
        await post(
            self._client,
            self._url,
            content=json.dumps(message, ensure_ascii=False).encode("utf-8"),
            headers={"content-type": "application/json"},
            seconds=float(self.options.timeout),
            what=self._what,
            refusal=self._refusal,
        )
