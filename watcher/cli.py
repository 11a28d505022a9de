"""The ``watcher`` command: parse options, call the core, print, choose the exit code.

No decision is made here. A :class:`~watcher.errors.WatcherError` becomes one red line
and an exit code (2 for configuration errors, 1 for the others); anything unexpected
keeps its traceback.
"""

from __future__ import annotations

import asyncio
import functools
import gzip
import json
import sys
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import click

from watcher import config as config_module
from watcher import log as log_module
from watcher.archive import version_diff
from watcher.config import HttpSettings, Secret, Settings
from watcher.daemon import Watcher, serve
from watcher.errors import ConfigError, WatcherError
from watcher.models import isoformat
from watcher.pipeline import Extraction, extract_bytes, extract_url
from watcher.store import Store

F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class _Options:
    config: Path
    state: Path
    log_level: str | None
    log_format: str

    def settings(self, *, warn: bool = True) -> Settings:
        settings = config_module.load(self.config)
        log_module.configure(
            self.log_level or settings.log_level,
            json={"json": True, "text": False}.get(self.log_format),
            secrets=_secret_values(settings),
        )
        if warn:
            for warning in settings.warnings:
                click.secho(f"warning: {warning}", fg="yellow", err=True)
        return settings


def _secret_values(settings: Settings) -> list[str]:
    values = []
    for sink in settings.sinks:
        for value in vars(sink.options).values() if sink.options else ():
            if isinstance(value, Secret):
                values.append(value.reveal())
    return values


def _handle_errors(func: F) -> F:
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
    ctx.obj = _Options(config_path, state_dir, log_level, log_format)


@cli.command()
@click.pass_obj
@_handle_errors
def check(opts: _Options) -> None:
    """Validate the configuration and print what would run.

    Example:

        watcher --config sources.yaml check
    """
    settings = opts.settings(warn=False)  # warnings are listed with the sinks below
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
            f"every {_duration(source.interval):<6} {source.url}{status}"
        )
    click.echo("\nvendors:")
    for vendor in settings.vendors:
        names = ", ".join(t.term for t in vendor.terms)
        click.echo(f"  {vendor.name}: {names}")
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
        click.echo(f"  {sink.id}  ({sink.kind})  {' '.join(filters) or 'every event'}")
    for warning in settings.warnings:
        click.echo(f"  {warning}")
    click.secho("\nconfiguration OK", fg="green")


@cli.command()
@click.option("--source", "-s", "source_ids", multiple=True, help="Only this source (repeatable).")
@click.option("--force", is_flag=True, help="Poll failing sources even while they back off.")
@click.pass_obj
@_handle_errors
def once(opts: _Options, source_ids: tuple[str, ...], force: bool) -> None:
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
    columns = "status        entries  new  updated  unchanged  skipped  failed  events"
    click.echo(f"{'source':<{width}}  {columns}")
    for s in report.sources:
        if s.backing_off:
            status = "backing off"
        elif not s.ok:
            status = s.state or "error"
        else:
            status = "not modified" if s.not_modified else "ok"
        status += " (baseline)" if s.baseline and s.ok else ""
        click.echo(
            f"{s.source_id:<{width}}  {status:<13} {s.entries:>7} {s.count('new'):>4} "
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


@cli.command()
@click.option(
    "--grace", default=10.0, show_default=True,
    help="Seconds in-flight polls get to finish on SIGTERM/SIGINT.",
)  # fmt: skip
@click.pass_obj
@_handle_errors
def run(opts: _Options, grace: float) -> None:
    """Run the daemon: poll each source on its schedule and deliver alerts.

    Stops cleanly on SIGTERM or SIGINT (Ctrl-C).

    Example:

        watcher --config sources.yaml --state ./state run
    """
    settings = opts.settings()
    asyncio.run(serve(settings, opts.state, grace=grace))


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
@_handle_errors
def extract_command(
    opts: _Options,
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
    settings = _optional_settings(opts)
    rules = settings.source(source_id).extract if (settings and source_id) else None
    if source_id and settings is None:
        raise ConfigError(f"{opts.config}: --source needs a configuration file")
    http = settings.http if settings else HttpSettings()
    if target.startswith(("http://", "https://")):
        result = asyncio.run(extract_url(target, http, rules))
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


@cli.command("diff")
@click.argument("url")
@click.option(
    "--from", "from_version", type=int, help="Older version (default: the one before --to)."
)
@click.option("--to", "to_version", type=int, help="Newer version (default: the latest).")
@click.pass_obj
@_handle_errors
def diff_command(
    opts: _Options, url: str, from_version: int | None, to_version: int | None
) -> None:
    """Show an article's versions and what changed between two of them.

    Example:

        watcher diff https://www.dsih.fr/article/1234/exemple.html
        watcher diff --from 1 --to 3 https://www.dsih.fr/article/1234/exemple.html
    """
    store = Store.open(opts.state)
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


def _optional_settings(opts: _Options) -> Settings | None:
    """The config when there is one; ``watcher extract`` also works without."""
    if not opts.config.exists():
        log_module.configure(opts.log_level or "warning")
        return None
    return opts.settings(warn=False)


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


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def main() -> None:
    cli(prog_name="watcher")
