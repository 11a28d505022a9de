"""Logging set-up, called once by the CLI.

structlog renders events as readable lines on a terminal and as JSON lines otherwise
(for Docker and log shippers), to standard error: standard output belongs to command
output and to the ``log`` sink. Known secret values are scrubbed from every event as
a last line of defence (configuration already keeps them in :class:`Secret`).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable, MutableMapping
from typing import Any, TextIO

import structlog

_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}


class _Redactor:
    """Replace any occurrence of a secret value in an event's strings with ***."""

    def __init__(self, secrets: Iterable[str]) -> None:
        # Very short values would redact ordinary words; they are not real secrets.
        self._secrets = sorted({s for s in secrets if len(s) >= 6}, key=len, reverse=True)

    def __call__(
        self, logger: Any, method: str, event: MutableMapping[str, Any]
    ) -> MutableMapping[str, Any]:
        if not self._secrets:
            return event
        for key, value in event.items():
            if isinstance(value, str):
                for secret in self._secrets:
                    if secret in value:
                        value = value.replace(secret, "***")
                event[key] = value
        return event


def configure(
    level: str = "info",
    *,
    json: bool | None = None,
    secrets: Iterable[str] = (),
    stream: TextIO | None = None,
) -> None:
    """Set up structlog (and quiet the chatty stdlib loggers of our dependencies)."""
    secrets = list(secrets)
    _last.update(level=level, json=json, stream=stream, secrets=secrets)
    stream = stream or sys.stderr
    as_json = (not stream.isatty()) if json is None else json
    numeric = _LEVELS.get(level.lower(), logging.INFO)
    shared: list[Any] = [
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _Redactor(secrets),
    ]
    renderer: Any
    if as_json:
        renderer = structlog.processors.JSONRenderer()
        tail: list[Any] = [structlog.processors.format_exc_info, renderer]
    else:
        renderer = structlog.dev.ConsoleRenderer(colors=stream.isatty())
        tail = [renderer]
    structlog.configure(
        processors=[structlog.contextvars.merge_contextvars, *shared, *tail],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(file=stream),
        cache_logger_on_first_use=False,
    )
    # httpx logs every request URL at INFO, and sink URLs carry tokens: keep it quiet.
    for name, floor in (
        ("httpx", logging.WARNING),
        ("httpcore", logging.WARNING),
        ("apscheduler", logging.WARNING),
    ):
        logging.getLogger(name).setLevel(max(floor, numeric))
    # Our dependencies' stdlib records (apscheduler's "missed run", apprise's warnings)
    # go through the same processors: one format on standard error (a log shipper reading
    # JSON lines gets no odd line), and the same secret scrubbing.
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[structlog.stdlib.add_logger_name, *shared],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            *([structlog.processors.format_exc_info] if as_json else []),
            renderer,
        ],
    )
    handler = _Handler(stream)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    # Only our own handler is replaced (a reload configures again): others, such as a
    # test runner's, stay.
    for old in [h for h in root.handlers if isinstance(h, _Handler)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(max(numeric, logging.WARNING))


class _Handler(logging.StreamHandler):  # type: ignore[type-arg]
    """The handler :func:`configure` installs (and replaces when called again)."""


# What configure() was last called with, so that a reload can change one thing.
_last: dict[str, Any] = {"level": "info", "json": None, "stream": None, "secrets": []}


def reconfigure(*, level: str | None = None, secrets: Iterable[str] | None = None) -> None:
    """Configure again with a new level and/or new secrets (a reloaded configuration),
    keeping the output choices made at start-up."""
    configure(
        level or _last["level"],
        json=_last["json"],
        stream=_last["stream"],
        secrets=_last["secrets"] if secrets is None else secrets,
    )
