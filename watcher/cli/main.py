"""The command group, and the commands that run watcher: check, once, run, extract."""

from __future__ import annotations

import asyncio
import gzip
import json
import os
import signal
import sys
import textwrap
from pathlib import Path
from typing import Any

import click

from watcher import log as log_module
from watcher.cli.common import DurationParam, Options, duration, handle_errors, optional_settings
from watcher.config import HttpSettings, Settings, SourceConfig
from watcher.daemon import DaemonLock, Watcher, serve
from watcher.errors import ConfigError, WatcherError
from watcher.models import isoformat
from watcher.pipeline import (
    Extraction,
    SourceReport,
    extract_bytes,
    extract_url,
    probe_sources,
)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option(
    "--config", "-c", "config_path", envvar="WATCHER_CONFIG", default="sources.yaml",
    show_default=True, type=click.Path(dir_okay=False, path_type=Path),
    help="Configuration file (or $WATCHER_CONFIG).",
)  # fmt: skip
@click.option(
    "--state", "state_dir", envvar="WATCHER_STATE", default="state", show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Directory of the SQLite state (or $WATCHER_STATE).",
)  # fmt: skip
@click.option(
    "--log-level", envvar="WATCHER_LOG_LEVEL", default=None,
    type=click.Choice(["debug", "info", "warning", "error"], case_sensitive=False),
    help="Overrides settings.log_level (or $WATCHER_LOG_LEVEL).",
)  # fmt: skip
@click.option(
    "--log-format", envvar="WATCHER_LOG_FORMAT", default="auto", show_default=True,
    type=click.Choice(["auto", "json", "text"]),
    help="auto: readable on a terminal, JSON lines otherwise.",
)  # fmt: skip
@click.version_option(package_name="watcher")
@click.pass_context
def cli(
    ctx: click.Context, config_path: Path, state_dir: Path, log_level: str | None, log_format: str
) -> None:
    """watcher: watch the health-IT press for news about the vendors you follow.

    Polls news feeds, keeps a clean copy of every article version in SQLite, and
    alerts Slack and webhooks when an article mentions a watched vendor or changes.
    """
    ctx.obj = Options(config_path, state_dir, log_level, log_format)


@cli.command()
@click.option(
    "--discover", is_flag=True,
    help="Also poll each enabled source once (nothing stored) and say what it found.",
)  # fmt: skip
@click.pass_obj
@handle_errors
def check(opts: Options, discover: bool) -> None:
    """Validate the configuration and print what would run.

    With --discover, each enabled source's feed, listing or sitemap is fetched once
    (politely, nothing stored): entries found, the feed a home page announces, or why
    it fails. Exits 1 if a source fails.

    Example:

        watcher --config sources.yaml check --discover
    """
    settings = opts.settings(warn=False)  # warnings are listed with the sinks below
    Watcher.check_sinks(settings)  # a bad secret or a missing extra: now, not at `run`
    enabled = [s for s in settings.sources if s.enabled]
    click.echo(
        f"config: {settings.path} ({len(enabled)} sources enabled, "
        f"{len(settings.vendors)} vendors, {len(settings.sinks)} sinks)"
    )
    click.echo(f"state:  {opts.state / 'watcher.db'}")
    click.echo("\nsources:")
    width = max((len(s.id) for s in settings.sources), default=4)
    for source in settings.sources:
        status = "" if source.enabled else "  (disabled)"
        click.echo(
            f"  {source.id:<{width}}  {source.kind:<7} {source.language or '?':<3} "
            f"every {duration(source.interval):<6} {source.url}{status}"
        )
    click.echo("\nvendors:")
    for vendor in settings.vendors:
        names = ", ".join(t.term for t in vendor.terms)
        urgent = "  (priority: high)" if vendor.priority == "high" else ""
        click.echo(f"  {vendor.name}: {names}{urgent}")
    click.echo("\nsinks:")
    for sink in settings.sinks:
        filters = [
            f"{name}={','.join(values)}"
            for name, values in (
                ("events", sink.events), ("vendors", sink.vendors),
                ("sources", sink.sources), ("languages", sink.languages),
            )
            if values
        ]  # fmt: skip
        when = f"  digest {sink.digest.describe()}" if sink.digest else ""
        click.echo(f"  {sink.id}  ({sink.kind})  {' '.join(filters) or 'every event'}{when}")
    if settings.warnings:
        click.echo()
    for warning in settings.warnings:
        click.secho(f"warning: {warning}", fg="yellow")
    click.secho("\nconfiguration OK", fg="green")
    if discover and not _discover(settings, enabled):
        sys.exit(1)


def _discover(settings: Settings, sources: list[SourceConfig]) -> bool:
    """Print what each source's index holds; False if one of them failed."""
    click.echo("\ndiscover:")
    probes = asyncio.run(probe_sources(sources, settings.http))
    width = max((len(p.source_id) for p in probes), default=4)
    for probe in probes:
        if probe.error:
            click.secho(f"  {probe.source_id:<{width}}  {probe.state}: {probe.error}", fg="red")
            continue
        found = f"{len(probe.entries)} entries"
        if probe.index_url:
            found += f" from the feed it announces, {probe.index_url}"
        click.echo(f"  {probe.source_id:<{width}}  {found}")
        for warning in probe.warnings:
            if not warning.startswith("using the feed"):
                click.secho(f"  {'':<{width}}  warning: {warning}", fg="yellow")
        for entry in probe.entries[:3]:
            title = entry.title or entry.url
            click.echo(f"  {'':<{width}}  - {title if len(title) <= 90 else title[:89] + '…'}")
    return all(p.error is None for p in probes)


@cli.command()
@click.option("--source", "-s", "source_ids", multiple=True, help="Only this source (repeatable).")
@click.option("--force", is_flag=True, help="Poll failing sources even while they back off.")
@click.pass_obj
@handle_errors
def once(opts: Options, source_ids: tuple[str, ...], force: bool) -> None:
    """Poll the sources once, deliver what is due, and exit (for cron or a first look).

    Example:

        watcher once --source dsih --source digitalhealth
    """
    settings = opts.settings()

    async def go() -> Any:
        async with Watcher(settings, opts.state) as watcher:
            watcher.select_sources(source_ids)  # unknown ids fail before any request
            return await watcher.run_once(source_ids, force=force)

    report = asyncio.run(go())
    width = max([6, *(len(s.source_id) for s in report.sources)])
    statuses = [_once_status(s) for s in report.sources]
    wide = max([13, *map(len, statuses)])
    columns = "entries  new  updated  unchanged  skipped  failed  events"
    click.echo(f"{'source':<{width}}  {'status':<{wide}} {columns}")
    for s, status in zip(report.sources, statuses, strict=True):
        click.echo(
            f"{s.source_id:<{width}}  {status:<{wide}} {s.entries:>7} {s.count('new'):>4} "
            f"{s.count('updated'):>8} {s.count('unchanged'):>10} {s.count('skipped'):>8} "
            f"{s.count('failed'):>7} {s.events:>7}"
        )
        if s.error:
            click.secho(f"{'':<{width}}  {s.error}", fg="yellow")
        if s.backing_off:
            click.secho(
                f"{'':<{width}}  failing; next try {isoformat(s.backing_off)} (--force)",
                fg="yellow",
            )
    d = report.delivery
    click.echo(f"delivered: {d.sent} sent, {d.failed} to retry, {d.dead} dead")


def _once_status(s: SourceReport) -> str:
    if s.backing_off:
        return "backing off"
    if not s.ok:
        return s.state or "error"
    status = "not modified" if s.not_modified else "ok"
    return status + (" (baseline)" if s.baseline else "")


@cli.command()
@click.option(
    "--grace", type=DurationParam(), envvar="WATCHER_GRACE",
    help="How long in-flight work gets to finish on SIGTERM/SIGINT, e.g. 10s or 1m "
    "(default: settings.service.grace, 10s; or $WATCHER_GRACE).",
)  # fmt: skip
@click.option(
    "--http-host", envvar="WATCHER_HTTP_HOST",
    help="Address of /healthz, /readyz, /metrics and /status "
    "(default: settings.service.host, 127.0.0.1; or $WATCHER_HTTP_HOST).",
)  # fmt: skip
@click.option(
    "--http-port", type=int, envvar="WATCHER_HTTP_PORT",
    help="Their port, 0 for none (default: settings.service.port, 8080; or $WATCHER_HTTP_PORT).",
)  # fmt: skip
@click.pass_obj
@handle_errors
def run(opts: Options, grace: float | None, http_host: str | None, http_port: int | None) -> None:
    """Run the daemon: poll each source on its schedule, deliver alerts, and answer
    /healthz, /readyz, /metrics and /status over HTTP.

    Stops cleanly on SIGTERM or SIGINT (Ctrl-C); SIGHUP (or `watcher reload`) re-reads
    the configuration without a restart.

    Example:

        watcher --config sources.yaml --state ./state run --http-port 9100
    """
    settings = opts.settings()
    service = settings.service
    port = service.port if http_port is None else http_port
    http = (http_host or service.host, port) if port else None

    def on_reload(new: Settings) -> None:
        # New sinks bring new secrets to redact; a --log-level given here still wins.
        log_module.reconfigure(level=opts.log_level or new.log_level, secrets=new.secret_values())

    asyncio.run(serve(settings, opts.state, grace=grace, http=http, on_reload=on_reload))


@cli.command()
@click.pass_obj
@handle_errors
def reload(opts: Options) -> None:
    """Make the running daemon re-read its configuration (sends it SIGHUP).

    Sources added, removed or changed are applied without a restart; a configuration
    with errors is rejected (see the daemon's log) and the old one keeps running.
    Check a new file first with `watcher check`.

    Example:

        watcher reload
    """
    pid = DaemonLock.running_pid(opts.state)
    if pid is None:
        raise WatcherError(f"no watcher daemon is running on {opts.state}")
    try:
        os.kill(pid, signal.SIGHUP)
    except ProcessLookupError:
        raise WatcherError(f"the daemon (pid {pid}) is gone") from None
    click.echo(f"asked the daemon (pid {pid}) to reload its configuration")


@cli.command("extract")
@click.argument("target")
@click.option(
    "--source", "-s", "source_id", help="Use this source's extract rules from the config."
)
@click.option("--url", "page_url", help="The page's address, when TARGET is a file.")
@click.option(
    "--removed/--no-removed", default=True, show_default=True, help="List dropped blocks."
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_obj
@handle_errors
def extract_command(
    opts: Options,
    target: str,
    source_id: str | None,
    page_url: str | None,
    removed: bool,
    as_json: bool,
) -> None:
    """Show what watcher extracts from a page (a URL or a saved file, .gz allowed):
    title, dates, language, the body, and every dropped block with the reason.

    The first thing to run when a source's alerts look wrong.

    Example:

        watcher extract https://www.dsih.fr/article/1234/exemple.html
        watcher extract --source dsih --url https://www.dsih.fr/a page.html
    """
    settings = optional_settings(opts)
    source = settings.source(source_id) if (settings and source_id) else None
    rules = source.extract if source else None
    if source_id and settings is None:
        raise ConfigError(f"{opts.config}: --source needs a configuration file")
    http = settings.http if settings else HttpSettings()
    if target.startswith(("http://", "https://")):
        allow = source.allow_private if source else False
        result = asyncio.run(extract_url(target, http, rules, allow_private=allow))
    else:
        path = Path(target)
        try:
            content = path.read_bytes()
        except OSError as exc:
            raise WatcherError(f"{target}: {exc.strerror}") from None
        if path.suffix == ".gz":
            content = gzip.decompress(content)
        result = extract_bytes(content, page_url or path.resolve().as_uri(), rules)
    article = result.article
    if article.refusal:
        # Nothing was read (a PDF, an image, hostile markup): say so, not "(no title)".
        raise WatcherError(f"{target}: {article.refusal}")
    if as_json:
        click.echo(json.dumps(_article_json(result, removed), ensure_ascii=False, indent=2))
        return
    click.secho(article.title or "(no title)", bold=True)
    facts = [
        ("url", result.url),
        ("canonical", article.canonical_url),
        ("published", isoformat(article.published_at)),
        ("modified", isoformat(article.modified_at)),
        ("language", article.language),
        ("author", article.author),
        ("encoding", result.encoding),
        ("size", f"{len(article.paragraphs)} paragraphs, {len(article.text.split())} words"),
    ]
    for name, value in facts:
        click.echo(f"{name + ':':11} {value or '-'}")
    click.echo()
    for paragraph in article.paragraphs:
        click.echo(textwrap.fill(paragraph, width=100) + "\n")
    if removed and article.removed:
        click.secho(f"dropped ({len(article.removed)} blocks):", bold=True)
        for item in article.removed:
            text = " ".join(item.text.split())
            text = text if len(text) <= 100 else text[:99] + "…"
            click.echo(f"  [{item.reason}] {text}")


def _article_json(result: Extraction, removed: bool) -> dict[str, Any]:
    article = result.article
    return {
        "url": result.url,
        "title": article.title,
        "canonical_url": article.canonical_url,
        "published_at": isoformat(article.published_at),
        "modified_at": isoformat(article.modified_at),
        "language": article.language,
        "author": article.author,
        "encoding": result.encoding,
        "paragraphs": list(article.paragraphs),
        "removed": [{"reason": r.reason, "text": r.text} for r in article.removed]
        if removed
        else [],
    }


def main() -> None:
    cli(prog_name="watcher")


# The other commands register themselves on the group.
from watcher.cli import archive as _archive  # noqa: E402,F401
from watcher.cli import backfill as _backfill  # noqa: E402,F401
from watcher.cli import delivery as _delivery  # noqa: E402,F401
