"""Delivery: at least once, stable ids, backoff, dead letters, one sink never blocks another."""

from __future__ import annotations

from datetime import datetime, timedelta

from tests.factories import NOW, make_event
from tests.test_store import ARTICLE
from watcher.config import DeliverySettings, Duration
from watcher.errors import DeliveryError
from watcher.models import Event
from watcher.notify.outbox import Outbox, backoff
from watcher.store import NewVersion, Store


class FakeSink:
    """Records what it is sent; fails while ``failing`` is set."""

    def __init__(self, failing: bool = False, crash: bool = False, gone: bool = False) -> None:
        self.sent: list[Event] = []
        self.attempts = 0
        self.failing = failing
        self.crash = crash
        self.gone = gone

    async def send(self, event: Event) -> None:
        self.attempts += 1
        if self.crash:
            raise RuntimeError("bug in sink")
        if self.gone:
            raise DeliveryError("HTTP 404", retryable=False)
        if self.failing:
            raise DeliveryError("HTTP 500")
        self.sent.append(event)


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


def enqueue(store: Store, *ids: str, sinks: tuple[str, ...] = ("a", "b")) -> None:
    for number, event_id in enumerate(ids, start=1):
        store.record_article(
            source_id="s", url=ARTICLE.url, aliases=(), article=ARTICLE, silent=False, etag=None,
            last_modified=None, entry_updated_at=None,
            version=NewVersion(
                number=number, title="T", text="x", content_hash=str(number), fetched_at=NOW,
                change=None, vendors=(), events=((make_event(event_id=event_id), sinks),),
            ),
        )  # fmt: skip


SETTINGS = DeliverySettings(max_attempts=3, backoff=Duration(10), max_backoff=Duration(60))


async def test_events_are_delivered_once_to_each_sink(store: Store) -> None:
    enqueue(store, "evt_1", "evt_2")
    a, b = FakeSink(), FakeSink()
    outbox = Outbox(store, {"a": a, "b": b}, SETTINGS, clock=Clock())
    report = await outbox.deliver_due()
    assert report.sent == 4
    assert [e.id for e in a.sent] == ["evt_1", "evt_2"] == [e.id for e in b.sent]
    assert (await outbox.deliver_due()).sent == 0


async def test_a_failing_sink_backs_off_without_delaying_the_others(store: Store) -> None:
    enqueue(store, "evt_1", "evt_2")
    down, up = FakeSink(failing=True), FakeSink()
    clock = Clock()
    outbox = Outbox(store, {"a": down, "b": up}, SETTINGS, clock=clock)
    report = await outbox.deliver_due()
    assert (report.sent, report.failed) == (2, 1)
    assert down.attempts == 1  # stopped after the first failure this round
    assert [e.id for e in up.sent] == ["evt_1", "evt_2"]
    # evt_1 waits for its backoff; evt_2 was never tried, so it is due now.
    (due,) = store.due_deliveries("a", clock.now)
    assert due.event.id == "evt_2"
    down.failing = False
    clock.now += timedelta(seconds=11)
    await outbox.deliver_due()
    assert sorted(e.id for e in down.sent) == ["evt_1", "evt_2"]


async def test_redelivery_after_a_crash_carries_the_same_id(store: Store) -> None:
    enqueue(store, "evt_1", sinks=("a",))
    (before,) = store.due_deliveries("a", NOW)
    # A crash between "receiver said yes" and "marked sent": nothing was marked.
    sink = FakeSink()
    await Outbox(store, {"a": sink}, SETTINGS, clock=Clock()).deliver_due()
    assert [e.id for e in sink.sent] == [before.event.id] and sink.sent[0] == before.event


async def test_events_are_parked_as_dead_after_max_attempts(store: Store) -> None:
    enqueue(store, "evt_1", sinks=("a",))
    sink, clock = FakeSink(failing=True), Clock()
    outbox = Outbox(store, {"a": sink}, SETTINGS, clock=clock)
    for _ in range(3):
        await outbox.deliver_due()
        clock.now += timedelta(hours=1)
    assert sink.attempts == 3
    assert store.outbox_counts() == {("a", "dead"): 1}
    row = store.db.execute("SELECT last_error, attempts FROM outbox").fetchone()
    assert row == ("HTTP 500", 3)


async def test_a_crashing_sink_is_a_failure_not_a_stop(store: Store) -> None:
    enqueue(store, "evt_1")
    ok = FakeSink()
    report = await Outbox(
        store, {"a": FakeSink(crash=True), "b": ok}, SETTINGS, clock=Clock()
    ).deliver_due()
    assert report.failed == 1 and [e.id for e in ok.sent] == ["evt_1"]


def test_backoff_doubles_with_jitter_and_a_cap() -> None:
    low = [backoff(n, SETTINGS, rand=lambda: 0.0) for n in (1, 2, 3, 4, 5)]
    high = [backoff(n, SETTINGS, rand=lambda: 1.0) for n in (1, 2, 3, 4, 5)]
    assert low == [5, 10, 20, 30, 30] and high == [10, 20, 40, 60, 60]
    assert backoff(1, SETTINGS, retry_after=120, rand=lambda: 0.5) == 120


async def test_a_refusal_for_good_parks_the_event_at_once(store: Store) -> None:
    enqueue(store, "evt_1", "evt_2", sinks=("a",))
    sink = FakeSink(gone=True)
    report = await Outbox(store, {"a": sink}, SETTINGS, clock=Clock()).deliver_due()
    assert (report.dead, report.failed, sink.attempts) == (2, 0, 2)
    assert store.outbox_counts() == {("a", "dead"): 2}


async def test_an_event_too_old_is_parked_instead_of_retried_for_ever(store: Store) -> None:
    enqueue(store, "evt_1", sinks=("a",))
    settings = DeliverySettings(max_attempts=100, max_age=Duration(3600), backoff=Duration(60))
    sink, clock = FakeSink(failing=True), Clock()
    outbox = Outbox(store, {"a": sink}, settings, clock=clock)
    await outbox.deliver_due()
    assert store.outbox_counts() == {("a", "pending"): 1}
    clock.now += timedelta(hours=2)
    assert (await outbox.deliver_due()).dead == 1
    assert store.outbox_counts() == {("a", "dead"): 1}


async def test_dead_events_replay_with_the_same_id(store: Store) -> None:
    enqueue(store, "evt_1", sinks=("a", "b"))
    clock = Clock()
    await Outbox(
        store, {"a": FakeSink(gone=True), "b": FakeSink(gone=True)}, SETTINGS, clock=clock
    ).deliver_due()
    assert store.requeue_dead(clock.now, "a") == 1  # only that sink's
    (entry_b,) = store.outbox_entries(statuses=("dead",))
    assert (entry_b.sink_id, entry_b.last_error, entry_b.attempts) == ("b", "HTTP 404", 1)
    sink = FakeSink()
    await Outbox(store, {"a": sink, "b": FakeSink(gone=True)}, SETTINGS, clock=clock).deliver_due()
    assert [e.id for e in sink.sent] == ["evt_1"]
    assert store.outbox_counts() == {("a", "sent"): 1, ("b", "dead"): 1}
