"""The retention benchmark (benchmarks/retention.py) at a tiny size: batches leave the
same rows as one transaction (a correctness check, not a timing)."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks import retention as bench


def test_batches_and_one_transaction_leave_the_same_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bench, "PRUNE_BATCH", 50)
    whole, batches = bench.run(articles=300, events=400, seed=3, work=tmp_path)
    assert whole.transactions == 1 and batches.transactions > 5
    assert whole.versions == batches.versions > 0
    assert whole.events == batches.events > 0
    assert whole.left == batches.left
