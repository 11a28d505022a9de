"""``watcher backfill``: import each source's history, with a live progress display."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from collections.abc import Iterator
from datetime import datetime

import click
from rich.console import Console
from rich.live import Live
from rich.table import Table

from watcher.backfill import Backfill, Request
from watcher.cli.common import Moment, Options, handle_errors, print_table
from watcher.cli.main import cli
from watcher.daemon import DaemonLock, Watcher
from watcher.errors import ConfigError
from watcher.notify.outbox import DeliveryReport
from watcher.sources.base import Window

# How often the display is redrawn, and how often a plain progress line is logged.
_REFRESH_PER_SECOND = 2
_LOG_EVERY_S = 10.0


@cli.command("backfill")
@click.option("--source", "-s", "source_ids", multiple=True, help="Only this source (repeatable).")
@click.option(
    "--since", type=Moment(), default="365d", show_default=True,
    help="Oldest publication date to import: a date (2025-01-31) or a span back (90d, 6m, 1y).",
)  # fmt: skip
@click.option("--until", type=Moment(), help="Import only what was published before this.")
@click.option(
    "--max-articles", type=click.IntRange(min=1), metavar="N",
    help="Store at most N articles per source in this run (a re-run continues).",
)  # fmt: skip
@click.option("--notify", is_flag=True, help="Announce what is imported, as the daemon would.")
@click.option(
    "--digest", "digest_sink", metavar="SINK",
    help="Announce what is imported to this sink only, as one digest at the end.",
)  # fmt: skip
@click.option("--dry-run", is_flag=True, help="Walk the indexes and count; fetch no article.")
@click.option(
    "--concurrency", type=click.IntRange(1, 32), default=4, show_default=True,
    help="Articles of one source read at once (per-host politeness still applies).",
)  # fmt: skip
@click.pass_obj
@handle_errors
def backfill_command(
    opts: Options,
    source_ids: tuple[str, ...],
    since: datetime,
    until: datetime | None,
    max_articles: int | None,
    notify: bool,
    digest_sink: str | None,
    dry_run: bool,
    concurrency: int,
) -> None:
    """Import the sources' past articles (sitemaps, archive pages, archived feeds),
    silently: nothing is announced, now or later, unless --notify or --digest says so.

    Resumable: each source keeps a checkpoint in the state database; after Ctrl-C or a
    crash, the same command continues where it stopped, and an article already stored
    is never fetched again. It can run while the daemon runs.

    Example:

    \b
        watcher backfill --since 2025-01-01
        watcher backfill --source dsih --since 90d --max-articles 200
        watcher backfill --digest slack --since 30d
    """
    if notify and digest_sink:
        raise ConfigError("--notify and --digest are alternatives: choose one")
    if until is not None and until <= since:
        raise ConfigError("--until must be later than --since")
    # One line per article would bury the progress display: warnings only, unless asked.
    settings = opts.settings(log_level="warning")
    request = Request(
        window=Window(since=since, until=until), max_articles=max_articles, notify=notify,
        digest=digest_sink, dry_run=dry_run, concurrency=concurrency,
    )  # fmt: skip
    running: list[Backfill] = []
    delivered: list[DeliveryReport] = []

    async def go() -> None:
        async with Watcher(settings, opts.state) as watcher:
            job = watcher.backfill(request, source_ids)
            running.append(job)
            with _display(job), _interruptible(job):
                await job.run()
            if dry_run:
                return
            if digest_sink:
                delivered.append(await watcher.send_held(digest_sink))
            elif notify:
                daemon = DaemonLock.running_pid(opts.state)
                if daemon is not None:  # two senders would race for the same outbox rows
                    click.echo(f"the daemon (pid {daemon}) delivers the alerts", err=True)
                else:
                    delivered.append(await watcher.deliver())

    window = f"{since.date()} .. {until.date() if until else 'now'}"
    click.echo(f"backfill {window}{' (dry run)' if dry_run else ''}", err=True)
    try:
        asyncio.run(go())
    except (KeyboardInterrupt, asyncio.CancelledError):
        if running:
            _summary(running[0], dry_run)
        click.secho("interrupted: run the same command again to resume", fg="yellow", err=True)
        sys.exit(130)
    _summary(running[0], dry_run)
    if running[0].stopping:
        click.secho("interrupted: run the same command again to resume", fg="yellow", err=True)
        sys.exit(130)
    for report in delivered:
        click.echo(f"delivered: {report.sent} sent, {report.failed} to retry, {report.dead} dead")
    if any(p.state == "failed" for p in running[0].progress.values()):
        sys.exit(1)


@contextlib.contextmanager
def _interruptible(job: Backfill) -> Iterator[None]:
    """The first Ctrl-C (or SIGTERM) lets the articles being read finish and saves the
    checkpoint; a second one stops at once (a re-run may then read a few pages again)."""
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    assert task is not None

    def interrupt() -> None:
        if job.stopping:  # the second time: stop now
            task.cancel()
            return
        job.stop()
        click.secho(
            "stopping after the articles being read (Ctrl-C again to quit now)",
            fg="yellow",
            err=True,
        )

    signals = (signal.SIGINT, signal.SIGTERM)
    for signum in signals:
        loop.add_signal_handler(signum, interrupt)
    try:
        yield
    finally:
        for signum in signals:
            loop.remove_signal_handler(signum)


@contextlib.contextmanager
def _display(job: Backfill) -> Iterator[None]:
    """A live table on a terminal; a log line per source every few seconds otherwise."""
    console = Console(stderr=True)
    if console.is_terminal:
        with Live(get_renderable=lambda: _live_table(job), console=console,
                  refresh_per_second=_REFRESH_PER_SECOND, transient=True):  # fmt: skip
            yield
        return
    task = asyncio.get_running_loop().create_task(_log_progress(job))
    try:
        yield
    finally:
        task.cancel()


async def _log_progress(job: Backfill) -> None:
    # Plain lines on stderr (whatever the log level): a cron job's mail or `docker logs`.
    while True:
        await asyncio.sleep(_LOG_EVERY_S)
        for p in job.progress.values():
            if p.state == "walking":
                eta = f" eta={_clock(p.eta)}" if p.eta is not None else ""
                click.echo(
                    f"backfill: {p.source_id} pages={p.pages} found={p.discovered} "
                    f"fetched={p.fetched} stored={p.stored} skipped={p.skipped} "
                    f"failed={p.failed} rate={p.rate:.1f}/s{eta}",
                    err=True,
                )


_LIVE_COLUMNS = (
    "source",
    "state",
    "pages",
    "found",
    "fetched",
    "stored",
    "skipped",
    "failed",
    "rate",
    "eta",
)


def _live_table(job: Backfill) -> Table:
    table = Table(title="watcher backfill", title_justify="left", expand=False)
    for column in _LIVE_COLUMNS:
        table.add_column(column, justify="left" if column in ("source", "state") else "right")
    for p in job.progress.values():
        table.add_row(
            p.source_id, p.state, str(p.pages), str(p.discovered), str(p.fetched),
            str(p.stored), str(p.skipped), str(p.failed),
            f"{p.rate:.1f}/s" if p.fetched else "", _clock(p.eta),
        )  # fmt: skip
    return table


def _summary(job: Backfill, dry_run: bool) -> None:
    rows = list(job.progress.values())
    if dry_run:
        print_table(
            ("source", "state", "pages", "in window", "stored already", "to fetch"),
            [
                (p.source_id, p.state, p.pages, p.discovered, p.skipped, p.discovered - p.skipped)
                for p in rows
            ],
            right=("pages", "in window", "stored already", "to fetch"),
        )
        return
    print_table(
        ("source", "state", "pages", "found", "fetched", "stored", "skipped", "failed",
         "outside", "events", "time", "rate"),
        [
            (
                p.source_id + (" (resumed)" if p.resumed else ""), p.state, p.pages,
                p.discovered, p.fetched, p.stored, p.skipped, p.failed, p.outside, p.events,
                _clock(p.elapsed), f"{p.rate:.1f}/s" if p.fetched else "",
            )
            for p in rows
        ],
        right=("pages", "found", "fetched", "stored", "skipped", "failed", "outside", "events",
               "time", "rate"),
    )  # fmt: skip
    for p in rows:
        if p.error:
            click.secho(f"{p.source_id}: {p.error}", fg="yellow", err=True)


def _clock(seconds: float | None) -> str:
    if seconds is None:
        return ""
    seconds = int(seconds)
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"
