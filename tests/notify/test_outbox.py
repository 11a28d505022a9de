"""Delivery: at least once, stable ids, backoff, dead letters, one sink never blocks another,
a flaky sink keeps going, a sink that is down or asked for a pause is left alone."""

from __future__ import annotations

from datetime import datetime, timedelta

from tests.factories import NOW, make_event
from tests.test_store import ARTICLE
from watcher.config import DeliverySettings, Duration
from watcher.errors import DeliveryError
from watcher.models import Event
from watcher.notify.outbox import DOWN_AFTER, Outbox, backoff
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


async def test_a_sink_that_is_down_is_paused_without_delaying_the_others(store: Store) -> None:
    ids = [f"evt_{n}" for n in range(DOWN_AFTER + 2)]
    enqueue(store, *ids)
    down, up = FakeSink(failing=True), FakeSink()
    clock = Clock()
    outbox = Outbox(store, {"a": down, "b": up}, SETTINGS, clock=clock)
    report = await outbox.deliver_due()
    assert (report.sent, report.failed) == (len(ids), DOWN_AFTER)
    assert down.attempts == DOWN_AFTER  # then taken to be down
    assert [e.id for e in up.sent] == ids
    # The failed events wait for their backoff; the last two were never tried: due now,
    assert [d.event.id for d in store.due_deliveries("a", clock.now)] == ids[DOWN_AFTER:]
    # but the sink is left alone for delivery.interval, then tried once at a time.
    clock.now += timedelta(seconds=4)
    await outbox.deliver_all()
    assert down.attempts == DOWN_AFTER
    clock.now += timedelta(seconds=1)
    await outbox.deliver_all()
    assert down.attempts == DOWN_AFTER + 1
    down.failing = False
    clock.now += timedelta(seconds=30)  # past every backoff
    await outbox.deliver_all()
    assert sorted(e.id for e in down.sent) == sorted(ids)


class FlakySink(FakeSink):
    """Fails every ``every``-th request."""

    def __init__(self, every: int, retry_after: float | None = None) -> None:
        super().__init__()
        self.every = every
        self.retry_after = retry_after

    async def send(self, event: Event) -> None:
        self.attempts += 1
        if self.attempts % self.every == 0:
            raise DeliveryError("HTTP 503", retry_after=self.retry_after)
        self.sent.append(event)


async def test_a_flaky_sink_goes_on_after_a_failure(store: Store) -> None:
    ids = [f"evt_{n}" for n in range(9)]
    enqueue(store, *ids, sinks=("a",))
    sink, clock = FlakySink(every=3), Clock()
    outbox = Outbox(store, {"a": sink}, SETTINGS, clock=clock)
    report = await outbox.deliver_due()
    assert (report.sent, report.failed, sink.attempts) == (6, 3, 9)
    sink.every = 1000
    clock.now += timedelta(seconds=11)  # the failed ones' backoff
    await outbox.deliver_all()
    assert sorted(e.id for e in sink.sent) == ids


async def test_retry_after_pauses_the_whole_sink(store: Store) -> None:
    enqueue(store, "evt_1", "evt_2", "evt_3", sinks=("a",))
    sink, clock = FlakySink(every=1, retry_after=30), Clock()
    outbox = Outbox(store, {"a": sink}, SETTINGS, clock=clock)
    report = await outbox.deliver_all()
    assert (report.sent, report.failed, sink.attempts) == (0, 1, 1)
    sink.every = 1000
    clock.now += timedelta(seconds=29)  # evt_2 and evt_3 are due, but the sink asked for 30 s
    assert (await outbox.deliver_all()).sent == 0 and sink.attempts == 1
    clock.now += timedelta(seconds=1)
    assert (await outbox.deliver_all()).sent == 3


async def test_a_retry_is_never_due_earlier_than_asked(store: Store) -> None:
    """The store keeps whole seconds: a next attempt is rounded up, not down."""
    enqueue(store, "evt_1", sinks=("a",))
    settings = DeliverySettings(backoff=Duration(0))
    clock = Clock()
    clock.now += timedelta(seconds=0.9)
    await Outbox(
        store, {"a": FlakySink(every=1, retry_after=1)}, settings, clock=clock
    ).deliver_due()
    assert store.due_deliveries("a", NOW + timedelta(seconds=1.5)) == []
    assert len(store.due_deliveries("a", NOW + timedelta(seconds=2))) == 1


async def test_without_backoff_a_failed_event_is_due_again_at_once(store: Store) -> None:
    """backoff 0s asks for no wait: rounding up to the next second would make the next
    run within the same second (a cron `watcher once`, a test) skip the event."""
    enqueue(store, "evt_1", sinks=("a",))
    clock = Clock()
    clock.now += timedelta(seconds=0.4)
    await Outbox(
        store, {"a": FakeSink(failing=True)}, DeliverySettings(backoff=Duration(0)), clock=clock
    ).deliver_due()
    assert len(store.due_deliveries("a", clock.now)) == 1


async def test_a_sink_that_is_down_never_slows_another_one(store: Store) -> None:
    ids = [f"evt_{n}" for n in range(250)]  # more than one round (batches of 100)
    enqueue(store, *ids)
    down, up = FakeSink(failing=True), FakeSink()
    report = await Outbox(store, {"a": down, "b": up}, SETTINGS, clock=Clock()).deliver_all()
    assert [e.id for e in up.sent] == ids and report.sent == 250
    assert down.attempts == DOWN_AFTER


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
