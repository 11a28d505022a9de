"""The backfill benchmark (benchmarks/backfill.py) at a tiny size: its correctness
properties only (everything stored, nothing fetched twice across an interrupted and
resumed run, a crash costs at most the pages being read); no timing is asserted."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks import backfill as bench


@pytest.mark.timeout(600)
def test_backfill_benchmark_at_tiny_size(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    results = bench.main(
        ["--articles", "200", "--sites", "4", "--queries-repeat", "1",
         "--keep", str(tmp_path / "work"), "--json", str(out)]
    )  # fmt: skip
    assert json.loads(out.read_text()) == json.loads(json.dumps(results))
    full = results["full"]
    assert full["exit_code"] == 0
    assert full["stored"] == full["expected"] == 200
    assert full["missing"] == full["unexpected"] == full["fetched_twice"] == 0
    assert results["export"]["rows"] == 200
    assert results["stats"]["exit_code"] == 0
    assert results["search"]["timed"] == len(bench.QUERIES)
    # Ctrl-C halfway (exit code 130, unless the run was already over), then the same
    # command: no article page fetched twice, everything stored.
    resume = results["resume"]
    assert resume["interrupt_exit_code"] in (130, 0)
    assert resume["resume_exit_code"] == 0
    assert resume["stored"] == 200 and resume["missing"] == 0
    assert resume["refetched"] == 0
    # SIGKILL: at most the articles being read are fetched again, nothing is lost.
    crash = results["crash"]
    assert crash["missing"] == 0
    assert crash["refetched"] <= crash["sources"] * crash["concurrency"]
