"""What every command shares: options, config loading, error handling, tables."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import click
from rich import box
from rich.console import Console
from rich.table import Table

from watcher import config as config_module
from watcher import log as log_module
from watcher.backfill import moment
from watcher.config import Settings, parse_duration
from watcher.errors import ConfigError, WatcherError
from watcher.store import DB_NAME, Store

F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class Options:
    config: Path
    state: Path
    log_level: str | None
    log_format: str

    def settings(self, *, warn: bool = True, log_level: str | None = None) -> Settings:
        """Load the config and set up logging (``--log-level``, else ``log_level``
        here, else the config's)."""
        settings = config_module.load(self.config)
        log_module.configure(
            self.log_level or log_level or settings.log_level,
            json={"json": True, "text": False}.get(self.log_format),
            secrets=settings.secret_values(),
        )
        if warn:
            for warning in settings.warnings:
                click.secho(f"warning: {warning}", fg="yellow", err=True)
        return settings


class Moment(click.ParamType):  # type: ignore[type-arg]
    """A date (2025-01-31) or a span back from today (90d, 12w, 6m, 1y)."""

    name = "DATE"

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> datetime:
        if isinstance(value, datetime):
            return value
        try:
            return moment(str(value))
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


class DurationParam(click.ParamType):  # type: ignore[type-arg]
    """Seconds, written as in sources.yaml: 10, 10s, 1m30s."""

    name = "DURATION"

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> float:
        if isinstance(value, float):
            return value
        try:
            return float(parse_duration(str(value)))
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


def handle_errors(func: F) -> F:
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except ConfigError as exc:
            click.secho(f"error: {exc}", fg="red", err=True)
            sys.exit(2)
        except WatcherError as exc:
            click.secho(f"error: {exc}", fg="red", err=True)
            sys.exit(1)

    return wrapper  # type: ignore[return-value]


def optional_settings(opts: Options) -> Settings | None:
    """The config when there is one; ``watcher extract`` also works without."""
    if not opts.config.exists():
        log_module.configure(opts.log_level or "warning")
        return None
    return opts.settings(warn=False)


def duration(seconds: float) -> str:
    seconds = int(seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def open_store(opts: Options) -> Store:
    """The state database, which read-only commands need to exist already."""
    if not (opts.state / DB_NAME).exists():
        raise WatcherError(
            f"no state database in {opts.state} (run `watcher once` or `watcher backfill` first)"
        )
    return Store.open(opts.state)


def print_table(
    headers: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    right: Iterable[str] = (),
    styles: Sequence[str | None] | None = None,
) -> None:
    """A table with aligned columns; colours on a terminal, plain text in a pipe.

    ``right`` names the columns aligned right (counts); ``styles`` gives each row a
    rich style (``None`` for none)."""
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False, highlight=False)
    right = set(right)
    for header in headers:
        table.add_column(header, justify="right" if header in right else "left", no_wrap=True)
    rows = [["" if v is None else str(v) for v in row] for row in rows]
    for index, row in enumerate(rows):
        table.add_row(*row, style=styles[index] if styles else None)
    console = Console(highlight=False)
    if not console.is_terminal:
        # In a pipe nothing is cut: the table is as wide as its widest row.
        widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(headers)]
        console = Console(width=sum(widths) + 3 * len(widths) + 4, highlight=False)
    console.print(table)


def ago(when: datetime | None, now: datetime, *, future: bool = False) -> str:
    """'3h ago' / 'in 10m': a person reads a health table for recency, not timestamps."""
    if when is None:
        return "-"
    seconds = (when - now).total_seconds() if future else (now - when).total_seconds()
    if seconds < 0:
        return "now" if future else "just now"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            amount = f"{int(seconds // size)}{unit}"
            return f"in {amount}" if future else f"{amount} ago"
    return "in <1m" if future else "<1m ago"


def short(text: str | None, limit: int = 70) -> str:
    if not text:
        return ""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
