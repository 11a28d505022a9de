"""Retention benchmark: how long the daemon is held by a retention pass.

What runs: a synthetic archive is written straight into a real state database (the
current migrations) in a temporary directory: ``--articles`` articles with 1 to 12
versions each (500 characters of text; every third article with a vendor mention per
version), the oldest version a day older per later one, and ``--events`` delivered events
0 to 60 days old. Retention then keeps 3 versions per article and 30 days of events, as a
first pass does on an archive where it was just turned on.

The same archive (a copy of the file) is pruned twice, and each prints:

- ``one transaction``: every row in one ``Store.prune_batches`` batch, which is what
  retention did before batching: the daemon's event loop is held for all of it;
- ``batches``: the daemon's way (``size`` rows per transaction, the default
  ``watcher.store.PRUNE_BATCH``): the longest and the median pause between two turns of
  the event loop, the number of transactions and the total time.

Both must leave the same rows (checked: counts and sums of ids of what is left).

Run it with ``make bench-retention`` or::

    .venv/bin/python benchmarks/retention.py [--articles N] [--events N] [--seed N]

Figures are wall times on one core and are noisy: compare the two lines of one run.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from watcher.store import PRUNE_BATCH, Store

KEEP_VERSIONS = 3
EVENTS_DAYS = 30


@dataclass(frozen=True)
class Figures:
    label: str
    transactions: int
    total_s: float
    longest_ms: float
    median_ms: float
    versions: int
    events: int
    left: tuple[int, ...]


def build(state: Path, articles: int, events: int, seed: int, now: datetime) -> None:
    """The synthetic archive, written with plain SQL (fast) into a migrated database."""
    rng = random.Random(seed)
    store = Store.open(state)
    text = " ".join(["word"] * 100)
    article_rows, version_rows, mention_rows = [], [], []
    version_id = 0
    for article in range(1, articles + 1):
        count = rng.randint(1, 12)
        article_rows.append((article, f"https://news.example/{article}", now.isoformat(), count))
        for number in range(1, count + 1):
            version_id += 1
            fetched = (now - timedelta(days=count - number)).isoformat()
            version_rows.append((version_id, article, number, text, fetched))
            if article % 3 == 0:
                mention_rows.append((article, number))
    event_rows = [
        (f"evt_{i}", i % articles + 1, (now - timedelta(days=rng.randint(0, 60))).isoformat())
        for i in range(events)
    ]
    conn = store.db.conn
    with conn:
        conn.executemany(
            "INSERT INTO articles (id, url, source_id, first_seen_at, version) "
            "VALUES (?, ?, 's', ?, ?)",
            article_rows,
        )
        conn.executemany(
            "INSERT INTO versions (id, article_id, number, title, text, content_hash, "
            "fetched_at) VALUES (?, ?, ?, 'T', ?, 'h', ?)",
            version_rows,
        )
        conn.executemany(
            "INSERT INTO mentions VALUES (?, ?, 'Epic', '[\"Epic\"]', '[]')", mention_rows
        )
        conn.executemany(
            "INSERT INTO events (id, type, article_id, created_at, payload) "
            "VALUES (?, 'article.new', ?, ?, '{}')",
            event_rows,
        )
        conn.executemany(
            "INSERT INTO outbox (event_id, sink_id, status, next_attempt_at) "
            "VALUES (?, 'hook', 'sent', ?)",
            [(row[0], row[2]) for row in event_rows],
        )
    store.close()


def prune(state: Path, label: str, size: int, now: datetime) -> Figures:
    store = Store.open(state)
    try:
        pauses: list[float] = []
        versions = events = 0
        start = last = time.perf_counter()
        for batch in store.prune_batches(
            keep_versions=KEEP_VERSIONS,
            versions_before=None,
            events_before=now - timedelta(days=EVENTS_DAYS),
            size=size,
        ):
            current = time.perf_counter()
            pauses.append(current - last)
            last = current
            versions += batch.versions
            events += batch.events
        total = time.perf_counter() - start
        left = tuple(
            int(value or 0)
            for query in (
                "SELECT count(*), sum(id), sum(number) FROM versions",
                "SELECT count(*), sum(article_id * 100 + version) FROM mentions",
                "SELECT count(*) FROM events",
                "SELECT count(*) FROM outbox",
            )
            for value in store.db.execute(query).fetchone()
        )
    finally:
        store.close()
    return Figures(
        label=label,
        transactions=len(pauses),
        total_s=total,
        longest_ms=max(pauses) * 1000,
        median_ms=statistics.median(pauses) * 1000,
        versions=versions,
        events=events,
        left=left,
    )


def run(articles: int, events: int, seed: int, work: Path) -> list[Figures]:
    now = datetime.now(UTC)
    pristine = work / "pristine"
    build(pristine, articles, events, seed, now)
    results = []
    for label, size in (("one transaction", sys.maxsize), ("batches", PRUNE_BATCH)):
        copy = work / label.replace(" ", "-")
        shutil.copytree(pristine, copy)
        results.append(prune(copy, label, size, now))
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=50_000)
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="watcher-retention-") as tmp:
        results = run(args.articles, args.events, args.seed, Path(tmp))
    print(f"archive: {args.articles:,} articles, {args.events:,} delivered events")
    print(f"{'':16} {'deleted versions':>16} {'events':>8} {'transactions':>12} "
          f"{'longest pause':>13} {'median pause':>12} {'total':>7}")  # fmt: skip
    for f in results:
        print(
            f"{f.label:16} {f.versions:>16,} {f.events:>8,} {f.transactions:>12,} "
            f"{f.longest_ms:>10.0f} ms {f.median_ms:>9.0f} ms {f.total_s:>5.1f} s"
        )
    same = len({f.left for f in results}) == 1
    print("same rows left:", "yes" if same else "NO")
    if args.json:
        args.json.write_text(json.dumps([f.__dict__ for f in results], indent=2))
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
