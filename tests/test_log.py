"""Logging: every line on standard error has one format, secrets scrubbed, ours or not."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
import structlog

from watcher import log as log_module

SECRET = "xoxb-1234567890-s3cr3t-token"


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers = handlers
    root.setLevel(level)
    structlog.reset_defaults()
    log_module._last.update(level="info", json=None, stream=None, secrets=[])


def _lines(stream: io.StringIO) -> list[str]:
    return [line for line in stream.getvalue().splitlines() if line]


def test_a_dependency_warning_is_a_json_line_like_ours() -> None:
    stream = io.StringIO()
    log_module.configure("info", json=True, stream=stream)
    structlog.get_logger("watcher").info("poll.done", source="hospimedia")
    logging.getLogger("apscheduler.executors.default").warning(
        'Run time of job "%s" was missed by %s', "poll:hospimedia", "0:00:07"
    )

    ours, theirs = (json.loads(line) for line in _lines(stream))
    assert ours["event"] == "poll.done" and ours["level"] == "info"
    assert theirs["event"] == 'Run time of job "poll:hospimedia" was missed by 0:00:07'
    assert theirs["level"] == "warning"
    assert theirs["logger"] == "apscheduler.executors.default"
    assert theirs["timestamp"].endswith("Z")


def test_a_dependency_exception_keeps_its_traceback_in_the_json() -> None:
    stream = io.StringIO()
    log_module.configure("info", json=True, stream=stream)
    try:
        raise RuntimeError("job crashed")
    except RuntimeError:
        logging.getLogger("apscheduler.executors.default").exception("Job raised")

    (line,) = _lines(stream)
    record = json.loads(line)
    assert record["event"] == "Job raised" and record["level"] == "error"
    assert "RuntimeError: job crashed" in record["exception"]


def test_secrets_are_scrubbed_from_dependency_records_too() -> None:
    stream = io.StringIO()
    log_module.configure("info", json=True, stream=stream, secrets=[SECRET])
    logging.getLogger("httpx").warning("POST https://hooks.example/%s failed", SECRET)
    structlog.get_logger("watcher").warning("sink.failed", url=f"https://x/{SECRET}")

    output = stream.getvalue()
    assert SECRET not in output
    assert output.count("***") == 2


def test_a_reload_configures_again_without_doubling_lines() -> None:
    stream = io.StringIO()
    log_module.configure("info", json=True, stream=stream)
    log_module.reconfigure(level="debug", secrets=[SECRET])
    logging.getLogger("apscheduler").warning("once, %s", SECRET)

    (line,) = _lines(stream)
    assert json.loads(line)["event"] == "once, ***"
    assert sum(isinstance(h, log_module._Handler) for h in logging.getLogger().handlers) == 1


def test_quiet_dependencies_stay_quiet_and_the_console_format_is_readable() -> None:
    stream = io.StringIO()
    log_module.configure("info", json=False, stream=stream)
    logging.getLogger("httpx").info("HTTP Request: GET https://example.org/feed")
    logging.getLogger("apscheduler.scheduler").warning("Scheduler started late")

    (line,) = _lines(stream)
    assert "Scheduler started late" in line and "warning" in line
    assert not line.startswith("{")
