"""Prometheus metrics: counters fed by the daemon from the reports each stage returns,
and gauges read from the database when Prometheus scrapes (so they are never stale).

One registry per :class:`Metrics`, not prometheus_client's global one: tests and a
reloaded daemon get their own, and nothing leaks between them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from watcher.models import utcnow
from watcher.notify.outbox import DeliveryReport
from watcher.pipeline import SourceReport
from watcher.store import Store

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# Fetch latency buckets, in seconds: news sites answer in 50 ms to a few seconds.
_LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class Metrics:
    """Everything ``/metrics`` exposes."""

    def __init__(self, store: Callable[[], Store | None] | None = None) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.polls = Counter(
            "watcher_polls", "Polls of a source's index, by outcome.", ["source", "outcome"],
            registry=r,
        )  # fmt: skip
        self.articles = Counter(
            "watcher_articles", "Article pages processed, by outcome (new, updated, unchanged, "
            "skipped, failed).", ["source", "outcome"], registry=r,
        )  # fmt: skip
        self.http_responses = Counter(
            "watcher_http_responses", "Responses from sources, by status code (or error kind).",
            ["status"], registry=r,
        )  # fmt: skip
        self.fetch_seconds = Histogram(
            "watcher_fetch_duration_seconds", "Time to fetch one page from a source.",
            buckets=_LATENCY_BUCKETS, registry=r,
        )  # fmt: skip
        self.robots_blocked = Counter(
            "watcher_robots_blocked", "Requests not made because robots.txt disallows them.",
            registry=r,
        )  # fmt: skip
        self.events = Counter(
            "watcher_events", "Notification events by sink and state (queued, delivered, "
            "retried, dead).", ["sink", "state"], registry=r,
        )  # fmt: skip
        self.reloads = Counter(
            "watcher_config_reloads", "Configuration reloads (SIGHUP), applied or rejected.",
            ["result"], registry=r,
        )  # fmt: skip
        if store is not None:
            r.register(_StateCollector(store))

    def record_poll(self, report: SourceReport) -> None:
        if report.backing_off:
            outcome = "backing_off"
        elif not report.ok:
            outcome = report.state or "error"
        else:
            outcome = "not_modified" if report.not_modified else "ok"
        self.polls.labels(report.source_id, outcome).inc()
        for name, count in report.counts.items():
            self.articles.labels(report.source_id, name).inc(count)

    def record_queued(self, sink_counts: dict[str, int]) -> None:
        for sink, count in sink_counts.items():
            self.events.labels(sink, "queued").inc(count)

    def record_delivery(self, report: DeliveryReport) -> None:
        for sink, count in report.by_sink.items():
            self.events.labels(sink, "delivered").inc(count)
        for sink, count in report.failed_by_sink.items():
            self.events.labels(sink, "retried").inc(count)
        for sink, count in report.dead_by_sink.items():
            self.events.labels(sink, "dead").inc(count)

    def record_fetch(self, status: int | str, seconds: float | None) -> None:
        """Called by the fetcher for every request: a status code, or "robots",
        "timeout", "connect", "too_large"... when there was no usable answer."""
        if status == "robots":
            self.robots_blocked.inc()
            return
        self.http_responses.labels(str(status)).inc()
        if seconds is not None:
            self.fetch_seconds.observe(seconds)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


class _StateCollector(Collector):
    """Gauges read from the database at scrape time: source health and the outbox."""

    def __init__(self, store: Callable[[], Store | None]) -> None:
        self._store = store

    def describe(self) -> Iterator[Metric]:
        return iter(())  # gauges appear once there is a database to read

    def collect(self) -> Iterator[Metric]:
        store = self._store()
        if store is None:
            return
        now = utcnow()
        up = GaugeMetricFamily(
            "watcher_source_up", "1 when the source's last poll succeeded.", labels=["source"]
        )
        state = GaugeMetricFamily(
            "watcher_source_state", "The source's health state (1 for its current state).",
            labels=["source", "state"],
        )  # fmt: skip
        failures = GaugeMetricFamily(
            "watcher_source_consecutive_failures", "Failed polls in a row.", labels=["source"]
        )
        last_ok = GaugeMetricFamily(
            "watcher_source_last_success_timestamp_seconds",
            "When the source was last polled successfully (Unix time).", labels=["source"],
        )  # fmt: skip
        for source in store.sources():
            up.add_metric([source.id], 1.0 if source.state == "ok" else 0.0)
            state.add_metric([source.id, source.state], 1.0)
            failures.add_metric([source.id], float(source.failures))
            if source.last_ok_at is not None:
                last_ok.add_metric([source.id], source.last_ok_at.timestamp())
        yield from (up, state, failures, last_ok)
        outbox = GaugeMetricFamily(
            "watcher_outbox_events", "Events in the outbox by sink and status.",
            labels=["sink", "status"],
        )  # fmt: skip
        for (sink, status), count in store.outbox_counts().items():
            outbox.add_metric([sink, status], float(count))
        yield outbox
        age = GaugeMetricFamily(
            "watcher_outbox_oldest_pending_age_seconds",
            "Age of the oldest event not yet delivered, by sink.", labels=["sink"],
        )  # fmt: skip
        for sink, oldest in store.oldest_pending().items():
            age.add_metric([sink], _seconds_since(oldest, now))
        yield age


def _seconds_since(when: datetime, now: datetime) -> float:
    return max((now - when).total_seconds(), 0.0)
