"""Digest sinks: events wait for the sink's schedule and go out grouped by vendor;
high-priority vendors skip the wait."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
import standardwebhooks

from tests.factories import make_event
from tests.notify.test_outbox import SETTINGS, Clock, FakeSink
from tests.notify.test_slack import validate
from tests.notify.test_webhook import SECRET, URL
from tests.notify.test_webhook import sink as webhook_sink
from tests.test_store import ARTICLE
from watcher import config
from watcher.config import DigestConfig, SinkConfig
from watcher.errors import ConfigError, DeliveryError
from watcher.models import Digest, Event, VendorMatch
from watcher.notify.outbox import Outbox
from watcher.notify.slack import build_digest
from watcher.notify.stdout import LogSink
from watcher.store import NewVersion, Store

PARIS_DAILY = DigestConfig(every="daily", hour=8, minute=30, timezone="Europe/Paris")


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


@pytest.mark.parametrize(
    ("now", "last", "following"),
    [
        # 08:30 in Paris is 07:30 UTC in winter...
        ("2026-11-23T07:29:00+00:00", "2026-11-22T07:30:00+00:00", "2026-11-23T07:30:00+00:00"),
        ("2026-11-23T07:30:00+00:00", "2026-11-23T07:30:00+00:00", "2026-11-24T07:30:00+00:00"),
        # ...and 06:30 UTC in summer; the clocks went back on 25 October 2026.
        ("2026-10-25T12:00:00+00:00", "2026-10-25T07:30:00+00:00", "2026-10-26T07:30:00+00:00"),
        ("2026-10-25T07:00:00+00:00", "2026-10-24T06:30:00+00:00", "2026-10-25T07:30:00+00:00"),
    ],
)
def test_daily_slots_follow_the_sinks_time_zone(now: str, last: str, following: str) -> None:
    assert PARIS_DAILY.last_slot(at(now)) == at(last)
    assert PARIS_DAILY.next_slot(at(now)) == at(following)


def test_hourly_slots() -> None:
    hourly = DigestConfig(every="hourly", minute=15, timezone="Asia/Kolkata")  # UTC+05:30
    # :15 in Kolkata is :45 UTC.
    assert hourly.last_slot(at("2026-11-23T10:44:59+00:00")) == at("2026-11-23T09:45:00+00:00")
    assert hourly.next_slot(at("2026-11-23T10:45:00+00:00")) == at("2026-11-23T11:45:00+00:00")


def test_digest_and_priority_in_the_config(tmp_path: Path) -> None:
    path = tmp_path / "sources.yaml"
    path.write_text(
        """
vendors:
  - name: Epic
    priority: high
  - Dedalus
sources:
  - id: s
    url: https://s.example/feed
sinks:
  - id: daily
    kind: log
    digest: {every: daily, at: "08:30", timezone: Europe/Paris}
  - id: hourly
    kind: log
    digest: hourly
"""
    )
    settings = config.load(path)
    assert settings.sinks[0].digest == PARIS_DAILY
    assert settings.sinks[1].digest == DigestConfig(every="hourly", hour=0, minute=0)
    assert [(v.name, v.priority) for v in settings.vendors] == [
        ("Epic", "high"),
        ("Dedalus", "normal"),
    ]


@pytest.mark.parametrize(
    ("digest", "message"),
    [
        ("{every: weekly}", 'sources.yaml:7: sink "d": digest: every must be hourly or daily'),
        ('{every: daily, at: "25:00"}', 'sources.yaml:7: sink "d": digest: at must be "HH:MM"'),
        ("{every: daily, timezone: Mars/Olympus}", 'unknown time zone "Mars/Olympus"'),
    ],
)
def test_digest_errors_name_the_line(tmp_path: Path, digest: str, message: str) -> None:
    path = tmp_path / "sources.yaml"
    path.write_text(
        "sources:\n  - id: s\n    url: https://s.example/feed\nsinks:\n"
        f"  - id: d\n    kind: log\n    digest: {digest}\n"
    )
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        config.load(path)


class DigestSink(FakeSink):
    def __init__(self, failing: bool = False) -> None:
        super().__init__(failing=failing)
        self.digests: list[Digest] = []

    async def send_digest(self, digest: Digest) -> None:
        self.attempts += 1
        if self.failing:
            raise DeliveryError("HTTP 503")
        self.digests.append(digest)


EPIC = (VendorMatch("Epic", ("Epic",), ("Epic wins again.",)),)


def _enqueue_at(store: Store, when: datetime, *ids: str, vendors: Any = None) -> None:
    for event_id in ids:
        number = store.db.execute("SELECT count(*) FROM versions").fetchone()[0] + 1
        event = make_event(event_id=event_id, created_at=when, vendors=vendors)
        store.record_article(
            source_id="s", url=ARTICLE.url, aliases=(), article=ARTICLE, silent=False, etag=None,
            last_modified=None, entry_updated_at=None,
            version=NewVersion(
                number=number, title="T", text="x", content_hash=str(number), fetched_at=when,
                change=None, vendors=(), events=((event, ("d",)),),
            ),
        )  # fmt: skip


async def test_events_wait_for_the_slot_then_go_as_one_digest(store: Store) -> None:
    clock = Clock()
    clock.now = at("2026-11-23T06:00:00+00:00")  # 07:00 in Paris
    _enqueue_at(store, clock.now, "evt_1", "evt_2")
    _enqueue_at(store, clock.now, "evt_urgent", vendors=EPIC)
    sink = DigestSink()
    outbox = Outbox(
        store, {"d": sink}, SETTINGS, digests={"d": PARIS_DAILY}, urgent_vendors={"Epic"},
        clock=clock,
    )  # fmt: skip
    report = await outbox.deliver_due()
    assert [e.id for e in sink.sent] == ["evt_urgent"] and not sink.digests  # at once
    assert report.sent == 1
    clock.now = at("2026-11-23T07:29:00+00:00")
    assert (await outbox.deliver_due()).sent == 0  # a minute before 08:30 Paris
    clock.now = at("2026-11-23T07:31:00+00:00")
    _enqueue_at(store, clock.now, "evt_late")  # after the slot: tomorrow's digest
    report = await outbox.deliver_due()
    (digest,) = sink.digests
    assert [e.id for e in digest.events] == ["evt_1", "evt_2"] and report.sent == 2
    assert digest.until == at("2026-11-23T07:30:00+00:00")
    assert store.outbox_counts() == {("d", "sent"): 3, ("d", "pending"): 1}


async def test_a_failed_digest_is_retried_whole_with_the_same_id(store: Store) -> None:
    clock = Clock()
    clock.now = at("2026-11-23T06:00:00+00:00")
    _enqueue_at(store, clock.now, "evt_1", "evt_2")
    sink = DigestSink(failing=True)
    outbox = Outbox(store, {"d": sink}, SETTINGS, digests={"d": PARIS_DAILY}, clock=clock)
    clock.now = at("2026-11-23T07:31:00+00:00")
    report = await outbox.deliver_due()
    assert report.failed == 2 and not sink.digests
    sink.failing = False
    clock.now += timedelta(minutes=5)
    await outbox.deliver_due()
    (digest,) = sink.digests
    assert {e.id for e in digest.events} == {"evt_1", "evt_2"}
    again = Digest(digest.until, digest.every, digest.timezone, tuple(reversed(digest.events)))
    assert again.id == digest.id  # the same events: the same id, whatever the order


async def test_a_sink_without_digests_gets_the_events_one_by_one_at_the_slot(
    store: Store,
) -> None:
    clock = Clock()
    clock.now = at("2026-11-23T06:00:00+00:00")
    _enqueue_at(store, clock.now, "evt_1", "evt_2")
    sink = FakeSink()
    outbox = Outbox(store, {"d": sink}, SETTINGS, digests={"d": PARIS_DAILY}, clock=clock)
    await outbox.deliver_due()
    assert not sink.sent
    clock.now = at("2026-11-23T07:30:00+00:00")
    await outbox.deliver_due()
    assert [e.id for e in sink.sent] == ["evt_1", "evt_2"]


def _digest(events: list[Event]) -> Digest:
    return Digest(at("2026-11-23T07:30:00+00:00"), "daily", "Europe/Paris", tuple(events))


def test_digest_groups_by_vendor_most_first() -> None:
    other = VendorMatch("Dedalus", ("Dedalus",), ())
    events = [
        make_event(event_id="evt_1"),
        make_event(event_id="evt_2", vendors=(other,)),
        make_event(event_id="evt_3", vendors=(other, EPIC[0])),
        make_event(event_id="evt_4", vendors=()),
    ]
    groups = [(g, [e.id for e in es]) for g, es in _digest(events).by_vendor()]
    assert groups == [
        ("Dedalus", ["evt_2", "evt_3"]),
        ("Epic", ["evt_3"]),
        ("Oracle Health", ["evt_1"]),
        ("Other articles", ["evt_4"]),
    ]


def test_slack_digest_is_valid_block_kit_and_splits_when_long() -> None:
    (message,) = build_digest(_digest([make_event(event_id="evt_1", title="A <b> & c")]))
    validate(message)
    assert message["blocks"][0]["text"]["text"] == "watcher digest · 1 event · 23 Nov 2026 08:30"
    body = message["blocks"][1]["text"]["text"]
    assert body.startswith("*Oracle Health* (1)\n• <https://www.digitalhealth.net/")
    assert "A &lt;b&gt; &amp; c" in body
    many = [
        make_event(
            event_id=f"evt_{i}", title="Long title " * 20,
            vendors=(VendorMatch(f"Vendor {i % 60}", ("x",), ()),),
        )
        for i in range(600)
    ]  # fmt: skip
    messages = build_digest(_digest(many))
    assert len(messages) > 1
    for message in messages:
        validate(message)
    text = "".join(
        b["text"]["text"] for m in messages for b in m["blocks"] if b["type"] == "section"
    )
    assert all(f"evt_{i}" not in text for i in range(3))  # ids are not shown, titles are
    assert text.count("Long title") == 600 * 20  # every event is in one of the messages


async def test_webhook_digest_is_one_signed_post(respx_mock: respx.MockRouter) -> None:
    route = respx_mock.post(URL).respond(204)
    digest = _digest([make_event(event_id="evt_1"), make_event(event_id="evt_2")])
    await webhook_sink(clock=lambda: datetime.now(UTC).timestamp()).send_digest(digest)
    request = route.calls.last.request
    headers = dict(request.headers)
    assert headers["webhook-id"] == digest.id
    body = standardwebhooks.Webhook(SECRET).verify(request.content, headers)
    assert body["type"] == "digest" and body["data"]["count"] == 2
    assert [e["data"]["event_id"] for e in body["data"]["events"]] == ["evt_1", "evt_2"]


async def test_log_digest_lines() -> None:
    stream = io.StringIO()
    options = LogSink.Options()
    sink = LogSink(
        SinkConfig(id="log", kind="log", options=options), httpx.AsyncClient(), stream=stream
    )
    await sink.send_digest(_digest([make_event(event_id="evt_1")]))
    lines = stream.getvalue().splitlines()
    assert lines[0] == "[digest] 1 events until 2026-11-23T07:30:00Z"
    assert lines[1] == "  Oracle Health (1)"
    assert lines[2].startswith("    - Cerner suspends design work (Digital Health) <https://")
    json_stream = io.StringIO()
    json_sink = LogSink(
        SinkConfig(id="log", kind="log", options=LogSink.Options(format="json")),
        httpx.AsyncClient(), stream=json_stream,
    )  # fmt: skip
    await json_sink.send_digest(_digest([make_event(event_id="evt_1")]))
    assert json.loads(json_stream.getvalue())["type"] == "digest"
