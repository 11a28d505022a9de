"""Commands about notifications: outbox, deliver, notify-test."""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import UTC, datetime

import click

from watcher.cli.common import Options, ago, handle_errors, open_store, print_table, short
from watcher.cli.main import cli
from watcher.daemon import Watcher
from watcher.errors import DeliveryError
from watcher.models import EventType, isoformat
from watcher.notify.outbox import DeliveryReport
from watcher.notify.sample import SAMPLE_TYPES

_OUTBOX_COLUMNS = (
    "event", "sink", "type", "status", "attempts", "created", "next try", "title", "last error",
)  # fmt: skip


@cli.command("outbox")
@click.option("--sink", "sink_id", help="Only this sink's events.")
@click.option(
    "--status", "statuses", multiple=True, type=click.Choice(["pending", "held", "dead", "sent"]),
    help="Which events (repeatable; default: pending, held and dead).",
)  # fmt: skip
@click.option("--limit", default=200, show_default=True, help="At most this many rows.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON lines.")
@click.pass_obj
@handle_errors
def outbox_command(
    opts: Options, sink_id: str | None, statuses: tuple[str, ...], limit: int, as_json: bool
) -> None:
    """List the events waiting for a sink (pending), kept for a backfill's digest
    (held) or parked after failing (dead), with their attempts and last error.

    Example:

        watcher outbox --status dead
    """
    store = open_store(opts)
    try:
        counts = store.outbox_counts()
        rows = store.outbox_entries(
            statuses=statuses or ("pending", "held", "dead"), sink_id=sink_id, limit=limit
        )
    finally:
        store.close()
    if as_json:
        for row in rows:
            record = {
                "event_id": row.event_id, "sink": row.sink_id, "type": row.type,
                "status": row.status, "attempts": row.attempts,
                "created_at": isoformat(row.created_at),
                "next_attempt_at": isoformat(row.next_attempt_at),
                "sent_at": isoformat(row.sent_at), "last_error": row.last_error,
                "title": row.title,
            }  # fmt: skip
            click.echo(json.dumps(record, ensure_ascii=False))
        return
    sinks = sorted({sink for sink, _ in counts if sink_id is None or sink == sink_id})
    for sink in sinks:
        summary = ", ".join(
            f"{counts.get((sink, status), 0)} {status}" for status in ("pending", "dead", "sent")
        )
        click.echo(f"{sink}: {summary}")
    if not rows:
        click.echo("nothing waiting" if sinks else "the outbox is empty")
        return
    now = datetime.now(UTC)
    click.echo()
    print_table(
        _OUTBOX_COLUMNS,
        (
            [
                row.event_id, row.sink_id, row.type, row.status, row.attempts,
                ago(row.created_at, now),
                ago(row.next_attempt_at, now, future=True) if row.status == "pending" else "-",
                short(row.title, 50), short(row.last_error, 60),
            ]
            for row in rows
        ),
        right=("attempts",),
        styles=["red" if row.status == "dead" else None for row in rows],
    )  # fmt: skip


@cli.command("deliver")
@click.option(
    "--sink", "sink_ids", multiple=True, help="Only to this sink (repeatable; default: all)."
)
@click.option(
    "--retry-dead", is_flag=True,
    help="First put the dead (parked) events back in line, with fresh attempts.",
)  # fmt: skip
@click.pass_obj
@handle_errors
def deliver_command(opts: Options, sink_ids: tuple[str, ...], retry_dead: bool) -> None:
    """Send what the outbox holds now, without polling; exits 1 if some of it failed.

    Dead events (parked after too many failed attempts, or refused for good by the
    receiver) are only sent again with --retry-dead, typically once the sink's URL
    or secret is fixed. Receivers de-duplicate on the event id, so a replay is safe.

    Example:

        watcher deliver --retry-dead --sink slack
    """
    settings = opts.settings()

    async def go() -> tuple[int, DeliveryReport]:
        async with Watcher(settings, opts.state) as watcher:
            chosen = watcher.select_sinks(sink_ids) if sink_ids else None
            requeued = watcher.retry_dead(chosen) if retry_dead else 0
            return requeued, await watcher.deliver(chosen)

    requeued, report = asyncio.run(go())
    if retry_dead:
        click.echo(f"requeued: {requeued} dead events")
    click.echo(f"delivered: {report.sent} sent, {report.failed} to retry, {report.dead} dead")
    if report.failed or report.dead:
        click.secho("see `watcher outbox` for the errors", fg="yellow")
        sys.exit(1)


@cli.command("notify-test")
@click.argument("sink_id", metavar="SINK")
@click.option(
    "--type", "event_type", type=click.Choice(SAMPLE_TYPES), default="article.new",
    show_default=True, help="Which kind of event to send.",
)  # fmt: skip
@click.option("--digest", is_flag=True, help="Send a sample digest instead of one event.")
@click.pass_obj
@handle_errors
def notify_test_command(opts: Options, sink_id: str, event_type: EventType, digest: bool) -> None:
    """Send a sample notification to one sink now, to check its URL, secret and the
    look of the message. Nothing is stored; secrets are never printed.

    Example:

        watcher notify-test slack --type article.updated
    """
    settings = opts.settings()

    async def go() -> str:
        async with Watcher(settings, opts.state) as watcher:
            return await watcher.notify_test(sink_id, event_type, digest=digest)

    try:
        sent = asyncio.run(go())
    except DeliveryError as exc:
        click.secho(f"{sink_id}: not delivered: {exc}", fg="red", err=True)
        sys.exit(1)
    click.secho(f"{sink_id}: delivered {sent}", fg="green")
