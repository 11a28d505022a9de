"""``kind: log``: print each event to standard output (on by default, needs nothing)."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, Literal, TextIO

import httpx

from watcher.models import Digest, Event, isoformat
from watcher.notify import register

if TYPE_CHECKING:
    from watcher.config import SinkConfig


@register
class LogSink:
    """Write each event to stdout: one readable line, or the webhook JSON body.

    ```yaml
    - id: log
      kind: log
      format: text      # or json (one webhook body per line)
    ```

    It is how a first run with no secrets shows what the other sinks would receive.
    """

    kind: ClassVar[str] = "log"

    @dataclass(frozen=True)
    class Options:
        format: Literal["text", "json"] = "text"

    def __init__(
        self, config: SinkConfig, client: httpx.AsyncClient, *, stream: TextIO | None = None
    ) -> None:
        self.config = config
        self.options: LogSink.Options = config.options
        self._stream = stream

    async def send(self, event: Event) -> None:
        stream = self._stream or sys.stdout
        if self.options.format == "json":
            line = json.dumps(event.to_dict(), ensure_ascii=False)
        else:
            line = format_line(event)
        stream.write(line + "\n")
        stream.flush()

    async def send_digest(self, digest: Digest) -> None:
        stream = self._stream or sys.stdout
        if self.options.format == "json":
            text = json.dumps(digest.to_dict(), ensure_ascii=False)
        else:
            text = format_digest(digest)
        stream.write(text + "\n")
        stream.flush()


def format_digest(digest: Digest) -> str:
    """A digest as readable lines: a heading, then each vendor's events."""
    lines = [f"[digest] {len(digest.events)} events until {isoformat(digest.until)}"]
    for group, events in digest.by_vendor():
        lines.append(f"  {group} ({len(events)})")
        for event in events:
            if event.article is not None:
                mark = "updated: " if event.type == "article.updated" else ""
                lines.append(
                    f"    - {mark}{event.article.title} ({event.source_name}) <{event.article.url}>"
                )
            else:
                lines.append(f"    - {event.type}: {event.source_name}")
    return "\n".join(lines)


def format_line(event: Event) -> str:
    article = event.article
    if article is None:
        health = event.health
        detail = f" ({health.state}: {health.last_error})" if health and health.last_error else ""
        return f"[{event.type}] {event.source_name}{detail}"
    vendors = ", ".join(f"{v.name} ({', '.join(v.matched)})" for v in event.vendors) or "no vendor"
    line = (
        f"[{event.type}] {event.source_name}: {article.title} <{article.url}> "
        f"v{article.version} lang={article.language or '?'} vendors: {vendors}"
    )
    if event.change:
        line += f" (+{len(event.change.added)}/-{len(event.change.removed)} sentences)"
    if event.vendors and event.vendors[0].snippets:
        line += f"\n    “{event.vendors[0].snippets[0]}”"
    return line
