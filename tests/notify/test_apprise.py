"""Apprise sink, against the real library: a local service registered with Apprise's
plugin decorator stands in for e-mail, Telegram and the rest (no network)."""

from __future__ import annotations

import logging
import sys
import threading
from typing import Any

import httpx
import pytest
from apprise.decorators import notify

from tests.factories import NOW, make_event
from watcher.config import Duration, Secret, SinkConfig, load
from watcher.errors import ConfigError, DeliveryError
from watcher.models import Change, Event, LinkedReport, SourceHealth
from watcher.notify.apprise import AppriseSink, build_text

TOKEN = "s3cr3t-t0ken-4ee2"
CALLS: list[dict[str, Any]] = []
FAILING: set[str] = set()  # hosts whose service refuses
BLOCK = threading.Event()  # cleared: the "slow" host hangs until it is set


@notify(on="watchertest", name="watcher test service")  # type: ignore[untyped-decorator]
def _service(
    body: str, title: str, notify_type: str, meta: dict[str, Any], *args: Any, **kwargs: Any
) -> bool:
    host = meta.get("host", "")
    CALLS.append({"host": host, "title": title, "body": body, "thread": threading.current_thread()})
    if host == "slow":
        BLOCK.wait(5)
    # A careless service logs the URL it was given, token and all.
    logging.getLogger("apprise").warning("watchertest says no to %s", meta.get("url"))
    return host not in FAILING


@pytest.fixture(autouse=True)
def _reset() -> Any:
    CALLS.clear()
    FAILING.clear()
    BLOCK.set()
    yield
    BLOCK.set()


def url(host: str) -> str:
    return f"watchertest://{host}/{TOKEN}"


def sink(*hosts: str, timeout: float = 30) -> AppriseSink:
    options = AppriseSink.Options(
        urls=tuple(Secret(url(h)) for h in hosts), timeout=Duration(timeout)
    )
    return AppriseSink(
        SinkConfig(id="phones", kind="apprise", options=options, line=7), httpx.AsyncClient()
    )


async def test_sends_a_title_and_a_plain_text_body_from_a_worker_thread() -> None:
    await sink("one", "two").send(make_event())
    assert sorted(c["host"] for c in CALLS) == ["one", "two"]
    call = CALLS[0]
    assert call["title"] == "Cerner suspends design work"
    assert call["body"].splitlines() == [
        "Digital Health · 06 Sep 2007 · English",
        "https://www.digitalhealth.net/2007/09/cerner-suspends/",
        "",
        "Oracle Health (Cerner, Millennium)",
        "  “Cerner has suspended design work on the Millennium platform.”",
        "",
        "Cerner has suspended design work on the Millennium platform.",
        "",
        "watcher · article.new · evt_test1",
    ]
    assert call["thread"] is not threading.main_thread()


def test_an_update_lists_what_went_and_what_came() -> None:
    change = Change(
        from_version=1,
        added=("It will cost £20m.", "New sentence."),
        removed=("It will cost £10m.",),
        diff="",
        classes=("correction",),
        replaced=(("It will cost £10m.", "It will cost £20m."),),
    )
    report = LinkedReport(
        url="https://fr.example/a",
        title="Nantes",
        language="fr",
        source_id="x",
        only_here=("2024",),
    )
    title, body = build_text(
        make_event(event_type="article.updated", change=change, linked=(report,))
    )
    assert title == "Updated: Cerner suspends design work"
    assert (
        "\n\nWhat changed (correction):\n- It will cost £10m.\n+ It will cost £20m.\n+ New sentence.\n"
        in body
    )
    assert (
        "Same story in French: Nantes <https://fr.example/a>\n  Only here: 2024 · only there: -"
        in body
    )


def test_a_health_event() -> None:
    health = SourceHealth("unreachable", 5, failing_since=NOW, last_error="timeout")
    event = Event(
        id="evt_h",
        type="source.unhealthy",
        created_at=NOW,
        source_id="dsih",
        source_name="DSIH",
        health=health,
    )
    title, body = build_text(event)
    assert title == "Source unhealthy: DSIH"
    assert body.splitlines() == [
        "State: unreachable · 5 failed polls in a row",
        "Failing since: 23 Nov 2026 10:00 UTC",
        "Last error: timeout",
        "",
        "watcher · source.unhealthy · dsih · evt_h",
    ]


def test_a_long_article_keeps_the_body_short() -> None:
    _, body = build_text(
        make_event(
            text="word " * 50_000,
            also_seen_at=tuple(f"https://s{i}.example/" + "p" * 900 for i in range(10)),
        )
    )
    assert len(body) <= 4000 and body.endswith("watcher · article.new · evt_test1")


async def test_a_failed_service_is_retried_alone(caplog: pytest.LogCaptureFixture) -> None:
    phones = sink("one", "down", "two")
    FAILING.add("down")
    with pytest.raises(DeliveryError) as caught:
        await phones.send(make_event())
    assert str(caught.value) == "apprise phones: 1 of 3 services failed: urls[1] (watchertest)"
    assert caught.value.retryable
    FAILING.clear()
    CALLS.clear()
    await phones.send(make_event())  # the outbox's retry
    assert [c["host"] for c in CALLS] == ["down"]
    CALLS.clear()
    await phones.send(make_event(event_id="evt_other"))
    assert len(CALLS) == 3


async def test_secrets_never_reach_logs_or_errors(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    phones = sink("down")
    FAILING.add("down")
    with pytest.raises(DeliveryError) as caught:
        await phones.send(make_event())
    assert TOKEN not in str(caught.value) and TOKEN not in repr(phones.options)
    assert "watchertest says no to ***" in caplog.text
    assert TOKEN not in caplog.text


def test_a_url_apprise_cannot_use_is_a_config_error_that_hides_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    options = AppriseSink.Options(
        urls=(Secret(url("ok")), Secret(f"nosuchservice://{TOKEN}@host/x"))
    )
    with pytest.raises(ConfigError) as caught:
        AppriseSink(
            SinkConfig(id="phones", kind="apprise", options=options, line=7), httpx.AsyncClient()
        )
    message = str(caught.value)
    assert message.startswith('sink "phones" (line 7): urls[1]: not one URL Apprise can use')
    assert "'nosuchservice'" in message and TOKEN not in message
    assert "Unparseable URL" in caplog.text or "Unsupported URL" in caplog.text  # Apprise said so…
    assert TOKEN not in caplog.text  # …without the token


def test_one_entry_must_be_one_url() -> None:
    options = AppriseSink.Options(urls=(Secret(f"{url('a')}, {url('b')}"),))
    with pytest.raises(ConfigError, match=r"urls\[0\]: not one URL"):
        AppriseSink(SinkConfig(id="phones", kind="apprise", options=options), httpx.AsyncClient())


def test_without_the_extra_the_error_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "apprise", None)  # import apprise now raises ImportError
    with pytest.raises(ConfigError) as caught:
        sink("one")
    assert str(caught.value) == (
        'sink "phones" (line 7): kind: "apprise" needs the apprise extra: '
        "pip install 'watcher[apprise]'"
    )


async def test_a_service_that_hangs_times_out() -> None:
    BLOCK.clear()
    with pytest.raises(DeliveryError, match=r"urls\[0\] \(watchertest\)"):
        await sink("slow", timeout=0.05).send(make_event())
    BLOCK.set()


def test_urls_come_from_the_environment_as_secrets(write_config: Any) -> None:
    path = write_config(
        """
        sources: []
        sinks:
          - id: phones
            kind: apprise
            urls:
              - ${NTFY_URL}
              - ${MAIL_URL}
          - id: one
            kind: apprise
            urls: ${NTFY_URL}
        """
    )
    settings = load(path, env={"NTFY_URL": url("a"), "MAIL_URL": url("b")})
    phones, one = settings.sinks
    assert phones.options.urls == (Secret(url("a")), Secret(url("b")))
    assert one.options.urls == (Secret(url("a")),)
    assert TOKEN not in repr(settings)
