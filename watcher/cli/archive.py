"""Commands that read the archive: sources, diff (and search, export and statistics)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import click

from watcher.archive import SourceOverview, source_overview, version_diff
from watcher.cli.common import (
    Options,
    ago,
    handle_errors,
    open_store,
    optional_settings,
    print_table,
    short,
)
from watcher.cli.main import cli
from watcher.models import isoformat

_SOURCE_COLUMNS = (
    "source", "kind", "state", "since", "failures", "next try", "articles", "last article", "error",
)  # fmt: skip
# Row colours by health state (a terminal only).
_STATE_STYLES = {"ok": "green", "new": "dim"}


@cli.command("sources")
@click.option("--json", "as_json", is_flag=True, help="Print JSON lines, one per source.")
@click.pass_obj
@handle_errors
def sources_command(opts: Options, as_json: bool) -> None:
    """Each source's health: state, failures, backoff, articles stored, last error.

    States: new (never polled), ok, failing, unreachable, malformed, gone (404/410),
    forbidden, blocked_robots, blocked_bot (a challenge page), paywall, rate_limited,
    too_large, redirect_loop, refused (private address or bad URL).

    Example:

        watcher sources
    """
    settings = optional_settings(opts)
    store = open_store(opts)
    try:
        rows = source_overview(settings, store)
    finally:
        store.close()
    if as_json:
        for row in rows:
            click.echo(json.dumps(_source_json(row), ensure_ascii=False))
        return
    now = datetime.now(UTC)
    print_table(
        _SOURCE_COLUMNS,
        (
            [
                row.id + ("" if row.configured else " (not in config)"),
                row.kind,
                row.state.state + ("" if row.enabled or not row.configured else " (disabled)"),
                ago(row.state.failing_since or row.state.last_ok_at, now),
                row.state.failures or "",
                ago(row.state.next_poll_at, now, future=True),
                row.articles,
                ago(row.last_article_at, now),
                short(row.state.last_error),
            ]
            for row in rows
        ),
        right=("failures", "articles"),
        styles=[_STATE_STYLES.get(row.state.state, "yellow") for row in rows],
    )  # fmt: skip


def _source_json(row: SourceOverview) -> dict[str, Any]:
    state = row.state
    return {
        "id": row.id,
        "kind": row.kind,
        "url": row.url,
        "configured": row.configured,
        "enabled": row.enabled,
        "state": state.state,
        "failures": state.failures,
        "failing_since": isoformat(state.failing_since),
        "last_ok_at": isoformat(state.last_ok_at),
        "last_poll_at": isoformat(state.last_poll_at),
        "next_poll_at": isoformat(state.next_poll_at),
        "unhealthy_since": isoformat(state.unhealthy_at),
        "last_error": state.last_error,
        "articles": row.articles,
        "last_article_at": isoformat(row.last_article_at),
    }


@cli.command("diff")
@click.argument("url")
@click.option(
    "--from", "from_version", type=int, help="Older version (default: the one before --to)."
)
@click.option("--to", "to_version", type=int, help="Newer version (default: the latest).")
@click.pass_obj
@handle_errors
def diff_command(opts: Options, url: str, from_version: int | None, to_version: int | None) -> None:
    """Show an article's versions and what changed between two of them.

    Example:

        watcher diff https://www.dsih.fr/article/1234/exemple.html
        watcher diff --from 1 --to 3 https://www.dsih.fr/article/1234/exemple.html
    """
    store = open_store(opts)
    try:
        result = version_diff(store, url, from_version=from_version, to_version=to_version)
    finally:
        store.close()
    click.secho(result.new.title, bold=True)
    click.echo(result.article.url)
    click.echo("versions:")
    for version in result.versions:
        mark = "*" if version.number == result.article.version else " "
        click.echo(
            f"  {mark} {version.number:>3}  {isoformat(version.fetched_at)}  {version.title}"
        )
    click.echo()
    if result.change is None:
        click.echo(
            f"versions {result.old.number} and {result.new.number}: no change in words or numbers"
        )
        return
    if result.classes:
        click.echo(f"change: {', '.join(result.classes)}")
    for line in result.change.diff.splitlines():
        if line.startswith(("---", "+++")):
            click.secho(line, bold=True)
        elif line.startswith("@@"):
            click.secho(line, fg="cyan")
        elif line.startswith("-"):
            click.secho(line, fg="red")
        elif line.startswith("+"):
            click.secho(line, fg="green")
        else:
            click.echo(line)
