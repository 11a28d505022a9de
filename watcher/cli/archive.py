"""Commands that read the archive: sources, articles, search, show, diff, export, stats
(and vacuum, which applies retention to it)."""

from __future__ import annotations

import json
import re
import sys
from datetime import UTC, datetime
from typing import Any

import click
from rich.console import Console
from rich.text import Text

from watcher.archive import (
    ArticleDetail,
    ExportFormat,
    SourceOverview,
    articles,
    export,
    resolve_vendor,
    search,
    show,
    source_overview,
    unknown_vendor,
    vendor_stats,
    version_diff,
)
from watcher.backfill import moment
from watcher.cli.common import (
    F,
    Moment,
    Options,
    ago,
    duration,
    handle_errors,
    open_store,
    optional_settings,
    print_table,
    short,
)
from watcher.cli.main import cli
from watcher.errors import WatcherError
from watcher.maintenance import prune
from watcher.models import isoformat, utcnow
from watcher.store import ArchiveQuery

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

    \b
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
    if result.old.number == result.new.number:
        if len(result.versions) == 1:
            click.echo("only one version is stored: nothing to compare yet")
        else:
            click.echo(f"version {result.new.number} is compared with itself: give --from and --to")
        return
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


@cli.command("vacuum")
@click.option("--dry-run", is_flag=True, help="Only count what retention would delete.")
@click.pass_obj
@handle_errors
def vacuum_command(opts: Options, dry_run: bool) -> None:
    """Apply the retention settings now and give the freed space back to the disk.

    Deletes old versions of articles (never the latest) and delivered events older
    than settings.retention allows (never pending or dead ones), then compacts the
    database. Safe while the daemon runs (it waits for the database).

    Example:

        watcher vacuum --dry-run
    """
    settings = opts.settings()
    retention = settings.retention
    store = open_store(opts)
    try:
        before = store.size()
        report = prune(store, retention, utcnow(), dry_run=dry_run)
        if not dry_run:
            store.vacuum()
        after = store.size()
    finally:
        store.close()
    rules = (
        f"keep {retention.versions or 'all'} versions per article"
        + (
            f", versions younger than {duration(float(retention.max_age))}"
            if retention.max_age
            else ""
        )
        + (
            f", delivered events for {duration(float(retention.events))}"
            if retention.events
            else ", delivered events forever"
        )
    )
    verb = "would delete" if dry_run else "deleted"
    click.echo(f"retention: {rules}")
    click.echo(f"{verb}: {report.versions} old versions, {report.events} delivered events")
    if not dry_run:
        click.echo(f"database: {_mb(before)} -> {_mb(after)}")


def _mb(size: int) -> str:
    return f"{size / 1_000_000:.1f} MB"


# --- articles, search, show, export, stats ----------------------------------------------


def archive_filters(func: F) -> F:
    """The filters every archive query takes."""
    options = (
        click.option("--vendor", "-v", help="Only articles naming this vendor (or an alias)."),
        click.option("--source", "-s", "source_ids", multiple=True, help="Only this source."),
        click.option("--lang", type=click.Choice(["fr", "en"]), help="Only this language."),
        click.option("--since", type=Moment(), help="Published on or after (2025-01-31, 30d)."),
        click.option("--until", type=Moment(), help="Published before this date."),
    )
    for option in reversed(options):
        func = option(func)
    return func


def _query(
    opts: Options, *, vendor: str | None, source_ids: tuple[str, ...], lang: str | None,
    since: datetime | None, until: datetime | None, limit: int | None,
) -> ArchiveQuery:  # fmt: skip
    settings = optional_settings(opts)
    if warning := unknown_vendor(settings, vendor):
        click.secho(f"warning: {warning}", fg="yellow", err=True)
    return ArchiveQuery(
        vendor=resolve_vendor(settings, vendor), sources=source_ids, language=lang,
        since=since, until=until, limit=limit,
    )  # fmt: skip


@cli.command("articles")
@archive_filters
@click.option("--limit", "-n", default=50, show_default=True, help="At most this many (0: all).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON lines, one per article.")
@click.pass_obj
@handle_errors
def articles_command(
    opts: Options, vendor: str | None, source_ids: tuple[str, ...], lang: str | None,
    since: datetime | None, until: datetime | None, limit: int, as_json: bool,
) -> None:  # fmt: skip
    """List stored articles, newest first (by publication date).

    Example:

        watcher articles --vendor Cerner --lang fr --since 90d
    """
    query = _query(
        opts, vendor=vendor, source_ids=source_ids, lang=lang, since=since, until=until,
        limit=limit or None,
    )  # fmt: skip
    store = open_store(opts)
    try:
        rows = list(articles(store, query))
    finally:
        store.close()
    if as_json:
        for row in rows:
            click.echo(json.dumps(row.to_dict(), ensure_ascii=False))
        return
    print_table(
        ("published", "source", "lang", "vendors", "title", "url"),
        [
            (
                _day(row.published_at or row.first_seen_at), row.source_id, row.language or "",
                short(", ".join(row.vendors), 30), short(row.title, 70), row.url,
            )
            for row in rows
        ],
    )  # fmt: skip
    if limit and len(rows) == limit:
        click.secho(f"(the first {limit}; --limit 0 for all)", dim=True, err=True)


@cli.command("search")
@click.argument("query", nargs=-1, required=True)
@archive_filters
@click.option("--limit", default=20, show_default=True, help="At most this many results.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON lines, one per result.")
@click.pass_obj
@handle_errors
def search_command(
    opts: Options, query: tuple[str, ...], vendor: str | None, source_ids: tuple[str, ...],
    lang: str | None, since: datetime | None, until: datetime | None, limit: int, as_json: bool,
) -> None:  # fmt: skip
    """Full-text search over the titles and bodies of stored articles, best first.

    All words must appear, in any order; accents and case are ignored (hopital finds
    hôpital). "a phrase" in quotes, prefix*, -excluded (or NOT excluded), and OR
    between two words. Quote the whole query when it holds quotes or -words.

    Example:

    \b
        watcher search dossier patient --lang fr
        watcher search 'Epic OR Cerner "dossier patient" -Doctolib'
    """
    filters = _query(
        opts, vendor=vendor, source_ids=source_ids, lang=lang, since=since, until=until,
        limit=limit,
    )  # fmt: skip
    store = open_store(opts)
    try:
        hits = search(store, " ".join(query), filters)
    finally:
        store.close()
    if as_json:
        for hit in hits:
            click.echo(
                json.dumps(
                    {
                        "url": hit.url, "source_id": hit.source_id, "title": _marked(hit.title),
                        "snippet": _marked(hit.snippet), "language": hit.language,
                        "published_at": isoformat(hit.published_at),
                        "score": float(f"{-hit.score:.4g}"),  # higher is better
                    },
                    ensure_ascii=False,
                )
            )  # fmt: skip
        return
    if not hits:
        click.echo("no match", err=True)
        return
    console = Console(highlight=False, soft_wrap=True)
    for rank, hit in enumerate(hits, 1):
        meta = f"{hit.source_id} · {_day(hit.published_at)} · {hit.language or '?'}"
        console.print(Text.assemble(f"{rank:>2}. ", _rich(hit.title, "bold"), f"  ({meta})"))
        console.print(Text("    " + hit.url, style="dim"))
        console.print(Text.assemble("    ", _rich(" ".join(hit.snippet.split()), "")))


def _marked(text: str) -> str:
    """Matched words between ** (JSON output, and anywhere colours are not shown)."""
    return text.replace("\x02", "**").replace("\x03", "**")


def _rich(text: str, style: str) -> Text:
    """Matched words in bold yellow (plain ** in a pipe)."""
    out = Text(style=style)
    for index, part in enumerate(re.split("[\x02\x03]", text)):
        out.append(part, style="bold yellow" if index % 2 else "")
    if not Console().is_terminal:
        return Text(_marked(text), style=style)
    return out


@cli.command("show")
@click.argument("url")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.pass_obj
@handle_errors
def show_command(opts: Options, url: str, as_json: bool) -> None:
    """One article: its metadata, vendors, versions, linked reports and events.

    Example:

        watcher show https://www.dsih.fr/article/1234/exemple.html
    """
    store = open_store(opts)
    try:
        detail = show(store, url)
    finally:
        store.close()
    if as_json:
        click.echo(json.dumps(_detail_json(detail), ensure_ascii=False, indent=2))
        return
    a = detail.summary
    click.secho(a.title, bold=True)
    click.echo(a.url)
    fields = [
        ("source", a.source_id), ("language", a.language), ("author", a.author),
        ("published", isoformat(a.published_at)), ("modified", isoformat(a.modified_at)),
        ("first seen", f"{isoformat(a.first_seen_at)}{' (backfill)' if a.backfilled else ''}"),
        ("also at", ", ".join(detail.aliases)),
    ]  # fmt: skip
    for name, value in fields:
        if value:
            click.echo(f"  {name + ':':<12}{value}")
    click.echo("vendors:" if detail.mentions else "vendors: none")
    for vendor, matched, snippets in detail.mentions:
        click.echo(f"  {vendor} ({', '.join(matched)})")
        for snippet in snippets[:2]:
            click.secho(f"    “{short(snippet, 110)}”", dim=True)
    click.echo("versions:")
    for version in detail.versions:
        change = detail.changes.get(version.number)
        what = ", ".join(change.classes) if change and change.classes else ""
        click.echo(f"  {version.number:>3}  {isoformat(version.fetched_at)}  {what}")
    if detail.story:
        how = f" ({detail.link_kind} of the first)" if detail.link_kind else ""
        click.echo(f"same story{how}:")
        for member in detail.story:
            click.echo(
                f"  {member.source_id}  [{member.language or '?'}]  {short(member.title, 70)}"
            )
            click.secho(f"    {member.url}", dim=True)
    if detail.events:
        click.echo("events:")
        for event in detail.events:
            state = f"{event['sink_id']}: {event['status']}" if event["sink_id"] else "no sink"
            click.echo(f"  {event['id']}  {event['type']} v{event['version']}  {state}")


def _detail_json(detail: ArticleDetail) -> dict[str, Any]:
    return {
        **detail.summary.to_dict(),
        "aliases": list(detail.aliases),
        "mentions": [
            {"vendor": v, "matched": list(m), "snippets": list(s)} for v, m, s in detail.mentions
        ],
        "versions": [
            {
                "number": v.number,
                "title": v.title,
                "fetched_at": isoformat(v.fetched_at),
                "classes": list(detail.changes[v.number].classes)
                if v.number in detail.changes
                else [],
            }
            for v in detail.versions
        ],
        "story": [
            {"url": m.url, "source_id": m.source_id, "title": m.title, "language": m.language}
            for m in detail.story
        ],
        "link_kind": detail.link_kind,
        "events": detail.events,
    }


@cli.command("export")
@archive_filters
@click.option(
    "--format", "fmt", type=click.Choice(["jsonl", "csv"]), default="jsonl", show_default=True,
    help="JSON lines or CSV (UTF-8, a header row).",
)  # fmt: skip
@click.option("--text/--no-text", default=True, show_default=True, help="Include the article body.")
@click.option(
    "--output", "-o", type=click.Path(dir_okay=False, writable=True, allow_dash=True),
    default="-", help="File to write (default: standard output).",
)  # fmt: skip
@click.pass_obj
@handle_errors
def export_command(
    opts: Options, vendor: str | None, source_ids: tuple[str, ...], lang: str | None,
    since: datetime | None, until: datetime | None, fmt: ExportFormat, text: bool, output: str,
) -> None:  # fmt: skip
    """Export stored articles (latest versions, newest first), streaming: the archive
    is never held in memory, whatever its size.

    Example:

    \b
        watcher export --format csv --vendor Dedalus --since 2025-01-01 -o dedalus.csv
        watcher export --lang en | jq -r .title
    """
    query = _query(
        opts, vendor=vendor, source_ids=source_ids, lang=lang, since=since, until=until, limit=None
    )  # fmt: skip
    store = open_store(opts)
    try:
        if output == "-":
            count = export(store, query, sys.stdout, fmt=fmt, with_text=text)
        else:
            with open(output, "w", encoding="utf-8", newline="") as out:
                count = export(store, query, out, fmt=fmt, with_text=text)
    except OSError as exc:
        raise WatcherError(f"cannot write {output}: {exc.strerror}") from exc
    finally:
        store.close()
    if output != "-":
        click.echo(f"{count} articles written to {output}", err=True)


@cli.command("stats")
@archive_filters
@click.option("--json", "as_json", is_flag=True, help="Print JSON lines: month, vendor, articles.")
@click.pass_obj
@handle_errors
def stats_command(
    opts: Options, vendor: str | None, source_ids: tuple[str, ...], lang: str | None,
    since: datetime | None, until: datetime | None, as_json: bool,
) -> None:  # fmt: skip
    """Articles per vendor per month (by publication date; the latest version of each
    article counts), the most mentioned vendors first. Default: the last 12 months.

    Example:

        watcher stats --lang fr --since 2025-01-01
    """
    query = _query(
        opts, vendor=vendor, source_ids=source_ids, lang=lang,
        since=since or moment("12m").replace(day=1), until=until, limit=None,
    )  # fmt: skip
    store = open_store(opts)
    try:
        stats = vendor_stats(store, query)
    finally:
        store.close()
    if as_json:
        for name in stats.vendors():
            for month in stats.months:
                if month in stats.counts[name]:
                    record = {"month": month, "vendor": name, "articles": stats.counts[name][month]}
                    click.echo(json.dumps(record, ensure_ascii=False))
        return
    if not stats.counts:
        click.echo("no vendor mentions in this period", err=True)
        return
    print_table(
        ("vendor", *stats.months, "total"),
        [
            (name, *(stats.counts[name].get(m, "") for m in stats.months), stats.total(name))
            for name in stats.vendors()
        ],
        right=(*stats.months, "total"),
    )


def _day(when: datetime | None) -> str:
    return when.strftime("%Y-%m-%d") if when else ""
