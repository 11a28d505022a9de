"""The delivery benchmark (benchmarks/delivery.py) at a tiny size: a correctness check
(nothing lost, every signature good, every Retry-After held), not a timing."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks import delivery as bench


@pytest.mark.timeout(120)  # starts a receiver process and `watcher deliver`
def test_nothing_is_lost_through_failures_an_outage_and_dead_events(tmp_path: Path) -> None:
    # Half the requests fail and an event gets two attempts: some are parked as dead,
    # and `watcher deliver --retry-dead` must bring them back.
    opts = bench.Options(
        events=50, fail_rate=0.5, share_429=0.1, outage=0.5, outage_mode="refused",
        backoff="100ms", max_backoff="1s", interval="200ms", max_attempts=2,
        poll_size=10, sample=0.05, timeout=60,
    )  # fmt: skip
    (figures,) = bench.run(opts, tmp_path)
    assert figures.events == 50
    assert figures.lost == 0, figures
    assert figures.dead > 0 and figures.lost_before_replay > 0 and figures.replay
    assert figures.bad_signatures == 0
    assert figures.outage is not None
    assert figures.honoured_sink == figures.rate_limited
