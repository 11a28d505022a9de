"""The soak benchmark (benchmarks/soak.py) at a tiny size: it runs the real daemon to the
end and reports its figures. No timing or memory threshold: those are the benchmark's."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from benchmarks import soak
from watcher.config import load

METRICS = """\
# HELP watcher_polls_total Polls of a source's index, by outcome.
# TYPE watcher_polls_total counter
watcher_polls_total{outcome="ok",source="a"} 3.0
watcher_polls_total{outcome="not_modified",source="a"} 2.0
watcher_polls_total{outcome="ok",source="b"} 4.0
"""


def test_metric_totals_sum_samples_and_labels() -> None:
    totals = soak.metric_totals(METRICS)
    assert totals[("watcher_polls_total", "")] == 9
    assert totals[("watcher_polls_total", "outcome=ok,source=b")] == 4
    assert soak.by_label(totals, "watcher_polls_total", "outcome") == {
        "ok": 7,
        "not_modified": 2,
    }


def test_rss_windows_take_medians_or_the_nearest_sample() -> None:
    samples = [
        soak.Sample(
            seconds=r,
            round_no=r,
            rss=100 + r,
            polls=0,
            db_bytes=0,
            wal_bytes=0,
            articles=0,
            versions=0,
            max_versions=0,
        )
        for r in range(0, 100, 3)
    ]
    assert soak.window_median(samples, 0.10, 0.15, 100) == 113  # rounds 12 and 15
    assert soak.window_median(samples, 0.95, 1.0, 100) == 197  # rounds 96 and 99
    assert soak.window_median(samples, 0.43, 0.435, 100) == 100 + 42  # none: the nearest
    assert len(soak.series(samples, 10, 100)) == 10


def test_a_tiny_soak_runs_the_daemon_and_reports(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--sites", "2", "--rounds", "6", "--interval", "0.5", "--seed", "3"]
    assert soak.main([*argv, "--sample-every", "0.25", "--workdir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    polls = re.search(r"\| source polls done \(planned\) \| ([\d,]+) \(12\) \|", out)
    assert polls is not None and int(polls.group(1).replace(",", "")) > 0
    for figure in (
        "RSS after warm-up",
        "RSS at end",
        "RSS growth after warm-up",
        "peak RSS",
        "articles / versions at end",
        "database at end / after `watcher vacuum`",
    ):
        assert f"| {figure}" in out
    assert re.search(r"\| daemon exit status, log warnings / errors \| 0, ", out)
    assert "deleted:" in out  # watcher vacuum's own report
    assert (tmp_path / "state" / "watcher.db").exists()


@pytest.mark.parametrize("keep", [3, None])
def test_the_daemon_config_compresses_time_and_retention_can_be_off(
    tmp_path: Path, keep: int | None
) -> None:
    path = tmp_path / "sources.yaml"
    path.write_text(soak.config_text(["http://127.0.0.1:1", "http://127.0.0.1:2"], 2.0, keep))
    settings = load(path, env={"SOAK_HOOK_URL": "http://127.0.0.1:3/hook"})
    source = settings.sources[1]
    assert source.allow_private and source.interval == 2.0
    assert (source.recheck_for, source.recheck_every) == (48.0, 4.0)  # 6 h and 30 min
    retention = settings.retention
    assert retention.every == 24.0  # 3 h
    if keep is None:
        assert (retention.versions, retention.max_age, retention.events) == (0, 0.0, 0.0)
    else:
        assert (retention.versions, retention.max_age, retention.events) == (3, 96.0, 48.0)
    assert [s.id for s in settings.sinks] == ["hook"]
