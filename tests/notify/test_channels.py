"""What every chat sink owes the outbox: a refusal with the receiver's wait, retried by
the outbox after it; a success marked sent; no secret in logs or stored errors; and a
documented YAML example that loads."""

from __future__ import annotations

import json
import re
import textwrap
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from structlog.testing import capture_logs

from tests.notify.test_outbox import SETTINGS, Clock, enqueue
from watcher.config import Secret, SinkConfig, load
from watcher.notify import SINK_KINDS
from watcher.notify.discord import DiscordSink
from watcher.notify.outbox import Outbox
from watcher.notify.slack import SlackSink
from watcher.notify.teams import TeamsSink
from watcher.notify.webhook import WebhookSink
from watcher.store import Store

TOKEN = "T0K3N-9f8e7d6c5b4a"


# Sinks that pace themselves get the outbox's clock, so both see the same time pass.
Seconds = Callable[[], float]


def _teams(client: httpx.AsyncClient, clock: Seconds) -> tuple[Any, str]:
    url = f"https://prod-1.westeurope.logic.azure.com/workflows/x/invoke?sig={TOKEN}"
    options = TeamsSink.Options(url=Secret(url))
    return TeamsSink(SinkConfig(id="a", kind="teams", options=options), client, clock=clock), url


def _discord(client: httpx.AsyncClient, clock: Seconds) -> tuple[Any, str]:
    url = f"https://discord.com/api/webhooks/1234567890/{TOKEN}"
    options = DiscordSink.Options(url=Secret(url))
    config = SinkConfig(id="a", kind="discord", options=options)
    return DiscordSink(config, client, clock=clock), url


def _slack(client: httpx.AsyncClient, clock: Seconds) -> tuple[Any, str]:
    url = f"https://hooks.slack.com/services/T0/B0/{TOKEN}"
    options = SlackSink.Options(url=Secret(url))
    return SlackSink(SinkConfig(id="a", kind="slack", options=options), client, clock=clock), url


def _webhook(client: httpx.AsyncClient, clock: Seconds) -> tuple[Any, str]:
    url = f"https://hooks.example/in/{TOKEN}"
    options = WebhookSink.Options(url=Secret(url))
    return WebhookSink(SinkConfig(id="a", kind="webhook", options=options), client), url


SINKS: dict[str, Callable[[httpx.AsyncClient, Seconds], tuple[Any, str]]] = {
    "teams": _teams,
    "discord": _discord,
    "slack": _slack,
    "webhook": _webhook,
}


@pytest.mark.parametrize("kind", list(SINKS))
@pytest.mark.parametrize(
    ("status", "headers", "wait"),
    [(429, {"Retry-After": "120"}, 120), (503, {"Retry-After": "300"}, 300), (500, {}, None)],
)
async def test_the_outbox_retries_a_refusal_after_the_wait_asked_for(
    respx_mock: respx.MockRouter,
    store: Store,
    kind: str,
    status: int,
    headers: dict[str, str],
    wait: float | None,
) -> None:
    enqueue(store, "evt_1", sinks=("a",))
    clock = Clock()
    async with httpx.AsyncClient() as client:
        sink, url = SINKS[kind](client, lambda: clock.now.timestamp())
        route = respx_mock.post(url=re.compile(re.escape(url.split("?")[0]) + r"(\?.*)?$"))
        route.side_effect = [httpx.Response(status, headers=headers), httpx.Response(204)]
        outbox = Outbox(store, {"a": sink}, SETTINGS, clock=clock)
        with capture_logs() as logs:
            report = await outbox.deliver_due()
            assert (report.sent, report.failed) == (0, 1)
            if wait is not None:  # not before the receiver's wait...
                clock.now += timedelta(seconds=wait - 1)
                assert store.due_deliveries("a", clock.now) == []
                assert (await outbox.deliver_due()).sent == 0
            # ...and then once, with the same event (the outbox's own backoff is <= 10 s).
            clock.now += timedelta(seconds=2 if wait is not None else 10)
            assert (await outbox.deliver_due()).sent == 1
    assert route.call_count == 2
    assert json.loads(route.calls[0].request.content) == json.loads(route.calls[1].request.content)
    (retry,) = [e for e in logs if e["event"] == "event.retry"]
    assert retry["error"] == f"{kind} a: HTTP {status}"
    assert wait is None or retry["retry_in"] == wait
    assert store.outbox_counts() == {("a", "sent"): 1}
    for entry in logs:
        assert TOKEN not in repr(entry)


# The YAML example in each new kind's docstring is the user's documentation: it loads.
ENV = {
    "TEAMS_WEBHOOK_URL": "https://prod-1.westeurope.logic.azure.com/workflows/x/invoke?sig=s",
    "DISCORD_WEBHOOK_URL": "https://discord.com/api/webhooks/1/t",
    "NTFY_URL": "ntfys://ntfy.sh/watcher-test",
    "ALERTS_MAILTO": "mailtos://user:password@gmail.com?to=team@example.org",
}


@pytest.mark.parametrize("kind", ["teams", "discord", "apprise"])
def test_the_documented_example_loads(kind: str, tmp_path: Path) -> None:
    doc = SINK_KINDS[kind].__doc__ or ""
    example = textwrap.dedent(doc.split("```yaml")[1].split("```")[0])
    path = tmp_path / "sources.yaml"
    path.write_text("sources: []\nsinks:\n" + textwrap.indent(example, "  "), encoding="utf-8")
    settings = load(path, env=ENV)
    (config,) = settings.sinks
    assert config.kind == kind
    SINK_KINDS[kind](config, httpx.AsyncClient())
