"""``kind: log``: print each event to standard output (on by default, needs nothing)."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, Literal, TextIO

import httpx

from watcher.models import Event
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
