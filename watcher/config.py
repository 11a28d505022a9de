"""``sources.yaml`` -> frozen, validated settings.

This is the only module that reads YAML or the environment. Everything after it gets
typed, frozen objects. Every problem found is reported at once, each naming the file,
the line and the field: ``sources.yaml:42: source "acme": unknown key "selecter"``.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import os
import re
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from watcher.errors import ConfigError
from watcher.yamlnodes import LineDict, LineList, load_yaml

DEFAULT_USER_AGENT = "watcher/0.1 (+https://github.com/watcher-health/watcher)"
# The change classes of watcher.diff (repeated, not imported: config must not depend on
# a pipeline stage).
_CHANGE_CLASSES = ("correction", "addition", "removal", "retitle", "rewrite", "paywall")
_HEALTH_EVENTS = ("source.unhealthy", "source.recovered")
_EVENT_TYPES = ("article.new", "article.updated", *_HEALTH_EVENTS)
_ID = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)")
_DURATION_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmg]i?b|b)?\s*$", re.IGNORECASE)
_SIZE_UNITS = {"b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9}
_SIZE_UNITS.update({"kib": 2**10, "mib": 2**20, "gib": 2**30})


class Duration(float):
    """Seconds, written in YAML as ``90``, ``90s``, ``30m``, ``1h30m``, ``2d``."""


class ByteSize(int):
    """Bytes, written in YAML as ``5000000``, ``5MB`` or ``4MiB``."""


class Secret:
    """A value from the environment that must never reach a log line or a repr."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


@dataclass(frozen=True)
class HttpSettings:
    """How watcher talks to the sites it watches."""

    user_agent: str = DEFAULT_USER_AGENT
    timeout: Duration = Duration(20)
    connect_timeout: Duration = Duration(10)
    max_page_size: ByteSize = ByteSize(5_000_000)
    max_redirects: int = 5
    concurrency: int = 16
    per_host: int = 2
    host_delay: Duration = Duration(1)
    retries: int = 3


@dataclass(frozen=True)
class DeliverySettings:
    """How the outbox retries a sink that fails."""

    max_attempts: int = 12
    max_age: Duration = Duration(7 * 86400)  # an event still failing after this is parked
    backoff: Duration = Duration(10)
    max_backoff: Duration = Duration(3600)
    interval: Duration = Duration(5)


@dataclass(frozen=True)
class ServiceSettings:
    """The daemon's HTTP endpoints (/healthz, /readyz, /metrics, /status)."""

    host: str = "127.0.0.1"  # the Docker image sets WATCHER_HTTP_HOST=0.0.0.0
    port: int = 8080  # 0: no endpoints
    grace: Duration = Duration(10)  # on SIGTERM, how long in-flight work may finish


@dataclass(frozen=True)
class RetentionSettings:
    """What the database keeps (applied by the daemon ``every`` day, and by ``watcher
    vacuum``).

    An article's latest version is always kept, and dead events are never deleted."""

    versions: int = 20  # per article, the latest ones; 0 keeps them all
    max_age: Duration = Duration(0)  # older versions go (not the latest); 0: no limit
    events: Duration = Duration(30 * 86400)  # delivered events are kept this long
    every: Duration = Duration(86400)  # how often the daemon applies it


@dataclass(frozen=True)
class HealthSettings:
    """When a failing source is retried, and when it is reported."""

    unhealthy_after: int = 5  # consecutive failed polls before source.unhealthy
    max_backoff: Duration = Duration(86400)  # a failing source is retried at least daily


@dataclass(frozen=True)
class Term:
    """One way a vendor is written, with the context guards that make it unambiguous."""

    term: str
    case_sensitive: bool = False
    near: tuple[str, ...] = ()
    not_near: tuple[str, ...] = ()
    within: int = 30


@dataclass(frozen=True)
class VendorConfig:
    name: str
    aliases: tuple[Term, ...]
    products: tuple[Term, ...]
    line: int = 0
    # "high": its events skip the digest of digest sinks and go out at once.
    priority: Literal["high", "normal"] = "normal"

    @property
    def terms(self) -> tuple[Term, ...]:
        return self.aliases + self.products


@dataclass(frozen=True)
class ExtractRules:
    """Per-source extraction overrides (CSS selectors); empty means the generic finder."""

    body: str | None = None
    remove: tuple[str, ...] = ()
    date: str | None = None


@dataclass(frozen=True)
class SourceConfig:
    id: str
    name: str
    kind: str
    url: str
    language: str | None = None
    interval: Duration = Duration(1800)
    jitter: Duration | None = None
    enabled: bool = True
    require_any: tuple[str, ...] = ()
    recheck_for: Duration = Duration(3 * 86400)
    recheck_every: Duration = Duration(6 * 3600)
    max_articles: int = 100
    # URLs of this source may point at private or loopback addresses (an intranet
    # source, a local test site); refused otherwise.
    allow_private: bool = False
    extract: ExtractRules = field(default_factory=ExtractRules)
    options: Any = None
    line: int = 0
    # Where ``watcher backfill`` reads the source's past (a sitemap or an archive
    # listing for a feed that only holds its latest items); None: the source itself.
    history: SourceConfig | None = None

    @property
    def effective_jitter(self) -> float:
        return float(self.jitter) if self.jitter is not None else min(self.interval * 0.1, 300.0)


@dataclass(frozen=True)
class DigestConfig:
    """When a digest sink sends: every hour at ``minute``, or every day at
    ``hour:minute``, in ``timezone``."""

    every: Literal["hourly", "daily"]
    hour: int = 8
    minute: int = 0
    timezone: str = "UTC"

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def last_slot(self, now: datetime) -> datetime:
        """The latest scheduled send time at or before ``now`` (UTC)."""
        local = now.astimezone(self.zone)
        if self.every == "hourly":
            slot = local.replace(minute=self.minute, second=0, microsecond=0)
            if slot > local:
                slot = (slot.astimezone(UTC) - timedelta(hours=1)).astimezone(self.zone)
            return slot.astimezone(UTC)
        day = local.date()
        slot = datetime.combine(day, time(self.hour, self.minute), self.zone)
        if slot > local:
            slot = datetime.combine(
                day - timedelta(days=1), time(self.hour, self.minute), self.zone
            )
        return slot.astimezone(UTC)

    def next_slot(self, now: datetime) -> datetime:
        """The first scheduled send time after ``now`` (UTC)."""
        step = timedelta(hours=1) if self.every == "hourly" else timedelta(days=1)
        candidate = self.last_slot(now)
        while candidate <= now:  # local arithmetic: a DST change moves a daily slot by 1h
            local = candidate.astimezone(self.zone)
            if self.every == "hourly":
                candidate = candidate + step
            else:
                nxt = datetime.combine(local.date() + step, time(self.hour, self.minute), self.zone)
                candidate = nxt.astimezone(UTC)
        return candidate

    def describe(self) -> str:
        if self.every == "hourly":
            return f"hourly at :{self.minute:02d}"
        return f"daily at {self.hour:02d}:{self.minute:02d} {self.timezone}"


@dataclass(frozen=True)
class SinkConfig:
    id: str
    kind: str
    options: Any = None
    digest: DigestConfig | None = None  # None: each event is sent at once
    vendors: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    events: tuple[str, ...] = ()
    changes: tuple[str, ...] = ()
    line: int = 0

    def wants_event(self, event: Any) -> bool:
        """Whether this sink's filters let an :class:`~watcher.models.Event` through
        (an empty filter lets everything through)."""
        if event.type in _HEALTH_EVENTS:  # only for sinks that ask for them
            return event.type in self.events and (
                not self.sources or event.source_id in self.sources
            )
        if self.events and event.type not in self.events:
            return False
        if self.sources and event.source_id not in self.sources:
            return False
        if self.languages and (event.article.language or "") not in self.languages:
            return False
        changes = set(event.change.classes) if event.change is not None else None
        if self.changes and changes is not None and not changes.intersection(self.changes):
            return False
        return not self.vendors or any(v.name in self.vendors for v in event.vendors)


@dataclass(frozen=True)
class Settings:
    path: Path
    http: HttpSettings = field(default_factory=HttpSettings)
    delivery: DeliverySettings = field(default_factory=DeliverySettings)
    health: HealthSettings = field(default_factory=HealthSettings)
    service: ServiceSettings = field(default_factory=ServiceSettings)
    retention: RetentionSettings = field(default_factory=RetentionSettings)
    notify_baseline: bool = False
    log_level: str = "info"
    vendors: tuple[VendorConfig, ...] = ()
    sources: tuple[SourceConfig, ...] = ()
    sinks: tuple[SinkConfig, ...] = ()
    # Things the user should know at start-up that are not errors (a sink skipped
    # because its environment variables are unset, ...). The CLI logs them once.
    warnings: tuple[str, ...] = ()

    def secret_values(self) -> list[str]:
        """Every secret the configuration holds, for the log redactor."""
        values = []
        for sink in self.sinks:
            for value in vars(sink.options).values() if sink.options else ():
                if isinstance(value, Secret):
                    values.append(value.reveal())
                elif isinstance(value, tuple):
                    values.extend(v.reveal() for v in value if isinstance(v, Secret))
        return values

    def source(self, source_id: str) -> SourceConfig:
        for source in self.sources:
            if source.id == source_id:
                return source
        raise ConfigError(f"{self.path}: no source with id {source_id!r}")


# --- loading -------------------------------------------------------------------------


class _Invalid(Exception):
    """A value that does not fit its field; the message completes 'field ...: '."""


@dataclass
class _Context:
    path: Path
    env: Mapping[str, str]
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    missing_env: list[str] = field(default_factory=list)

    def error(self, line: int, where: str, message: str) -> None:
        self.errors.append(f"{self.path.name}:{line}: {where}{message}")


def load(path: str | Path, env: Mapping[str, str] | None = None) -> Settings:
    """Read and validate ``path``; raise ``ConfigError`` listing every problem found."""
    path = Path(path)
    ctx = _Context(path=path, env=os.environ if env is None else env)
    try:
        raw = load_yaml(path)
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such configuration file") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line = f":{mark.line + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{path.name}{line}: not valid YAML: {problem}") from None
    if raw is None:
        raw = LineDict()
        raw.line, raw.key_lines = 1, {}
    if not isinstance(raw, LineDict):
        raise ConfigError(f"{path.name}:1: the file must be a mapping with a 'sources' key")
    settings = _settings(raw, ctx)
    if ctx.errors:
        raise ConfigError("\n".join(ctx.errors))
    return settings


def _settings(raw: LineDict, ctx: _Context) -> Settings:
    # Top-level keys starting with "x-" hold YAML anchors for reuse (as in compose files).
    extensions = {key for key in raw if key.startswith("x-")}
    _unknown(raw, {"settings", "defaults", "vendors", "sources", "sinks"} | extensions, "", ctx)
    general = _mapping(raw, "settings", ctx)
    http = _build(HttpSettings, _mapping(general, "http", ctx), "settings.http: ", ctx)
    delivery = _build(
        DeliverySettings, _mapping(general, "delivery", ctx), "settings.delivery: ", ctx
    )
    health = _build(HealthSettings, _mapping(general, "health", ctx), "settings.health: ", ctx)
    service = _build(ServiceSettings, _mapping(general, "service", ctx), "settings.service: ", ctx)
    raw_retention = _mapping(general, "retention", ctx)
    retention = _build(RetentionSettings, raw_retention, "settings.retention: ", ctx)
    if retention is not None and retention.every <= 0:
        ctx.error(raw_retention.line_of("every"), "settings.retention: ", "every must be positive")
    _unknown(
        general,
        {"http", "delivery", "health", "service", "retention", "notify_baseline", "log_level"},
        "settings: ",
        ctx,
    )
    notify_baseline = _scalar(general, "notify_baseline", bool, False, "settings: ", ctx)
    log_level = _scalar(general, "log_level", str, "info", "settings: ", ctx)
    if log_level.lower() not in {"debug", "info", "warning", "error"}:
        ctx.error(
            general.line_of("log_level"),
            "settings: ",
            "log_level must be debug, info, warning or error",
        )
    defaults = _mapping(raw, "defaults", ctx)
    _unknown(defaults, _SOURCE_DEFAULTABLE, "defaults: ", ctx)
    vendors = _vendors(raw, ctx)
    sources = _sources(raw, defaults, ctx)
    if not any(source.enabled for source in sources):  # an empty or wrong file, often
        ctx.warnings.append(f"no source enabled in {ctx.path.name}: nothing will be polled")
    sinks = _sinks(raw, {s.id for s in sources}, {v.name for v in vendors}, ctx)
    return Settings(
        path=ctx.path,
        http=http,
        delivery=delivery,
        health=health,
        service=service,
        retention=retention,
        notify_baseline=notify_baseline,
        log_level=log_level.lower(),
        vendors=vendors,
        sources=sources,
        sinks=sinks,
        warnings=tuple(ctx.warnings),
    )


_SOURCE_COMMON = {
    "id", "name", "kind", "url", "language", "interval", "jitter", "enabled",
    "require_any", "recheck_for", "recheck_every", "max_articles", "extract", "allow_private",
    "history",
}  # fmt: skip
_SOURCE_FIELDS = _SOURCE_COMMON - {"id", "kind", "url", "extract", "history"}
_SOURCE_DEFAULTABLE = {
    "interval", "jitter", "language", "recheck_for", "recheck_every", "max_articles",
}  # fmt: skip


def _sources(raw: LineDict, defaults: LineDict, ctx: _Context) -> tuple[SourceConfig, ...]:
    from watcher.sources import SOURCE_KINDS

    items = _sequence(raw, "sources", ctx)
    seen: dict[str, int] = {}
    out: list[SourceConfig] = []
    for index, item in enumerate(items):
        line = items.line_of(index)
        if not isinstance(item, LineDict):
            ctx.error(line, f"sources[{index}]: ", "each source must be a mapping")
            continue
        sid = item.get("id")
        where = f'source "{sid}": ' if isinstance(sid, str) else f"sources[{index}]: "
        if not isinstance(sid, str) or not _ID.match(sid):
            ctx.error(
                item.line_of("id"), where, "id must be lower-case letters, digits, '-', '_' or '.'"
            )
            continue
        if sid in seen:
            ctx.error(item.line_of("id"), where, f"duplicate id (first used on line {seen[sid]})")
            continue
        seen[sid] = item.line_of("id")
        kind = item.get("kind", "feed")
        if kind not in SOURCE_KINDS:
            ctx.error(
                item.line_of("kind"),
                where,
                f'unknown kind "{kind}"{_hint(str(kind), SOURCE_KINDS)}',
            )
            continue
        # Every registered kind has a nested Options dataclass (register() checks it).
        options_cls: type[Any] = getattr(SOURCE_KINDS[kind], "Options")  # noqa: B009
        option_names = {f.name for f in dataclasses.fields(options_cls)}
        _unknown(item, _SOURCE_COMMON | option_names, where, ctx)
        url = _source_url(item, where, ctx)
        if "url" not in item:
            ctx.error(item.line, where, 'missing required key "url"')
        elif url is not _UNSET and not _valid_url(url):
            ctx.error(item.line_of("url"), where, f"url must be an http(s) URL, not {url!r}")
        values = _fields(SourceConfig, _merge(defaults, item), where, ctx, only=_SOURCE_FIELDS)
        if values.get("interval", 1) <= 0:
            ctx.error(item.line_of("interval"), where, "interval must be positive")
        extract = _build(ExtractRules, _mapping(item, "extract", ctx), where + "extract: ", ctx)
        options = _build(options_cls, _subset(item, option_names), where, ctx)
        source = SourceConfig(
            id=sid,
            kind=str(kind),
            name=values.pop("name", sid),
            url=str(url),
            extract=extract,
            options=options,
            line=item.line,
            **values,
        )
        if "history" in item:
            history = _history(item, source, where + "history: ", ctx)
            source = dataclasses.replace(source, history=history)
        out.append(source)
    return tuple(out)


_UNSET = object()  # a url naming an unset variable (already reported)


def _source_url(item: LineDict, where: str, ctx: _Context) -> Any:
    """A source's (or history's) ``url``, ``${NAME}`` replaced from the environment;
    ``_UNSET`` (error reported) when a variable it needs is unset."""
    try:
        return _interpolate(item.get("url"), ctx, allow_missing=False)
    except _Invalid as exc:
        ctx.error(item.line_of("url"), where, f"url: {exc}")
        return _UNSET


def _history(
    item: LineDict, source: SourceConfig, where: str, ctx: _Context
) -> SourceConfig | None:
    """``history: {kind: sitemap, url: ..., <that kind's options>}``: the index that
    ``watcher backfill`` walks instead of the source's own."""
    from watcher.sources import SOURCE_KINDS

    raw = item["history"]
    if not isinstance(raw, LineDict):
        ctx.error(item.line_of("history"), where, "must be a mapping with kind and url")
        return None
    kind = raw.get("kind", "sitemap")
    if kind not in SOURCE_KINDS:
        ctx.error(
            raw.line_of("kind"), where, f'unknown kind "{kind}"{_hint(str(kind), SOURCE_KINDS)}'
        )
        return None
    options_cls: type[Any] = getattr(SOURCE_KINDS[kind], "Options")  # noqa: B009
    option_names = {f.name for f in dataclasses.fields(options_cls)}
    _unknown(raw, {"kind", "url"} | option_names, where, ctx)
    url = _source_url(raw, where, ctx)
    if url is _UNSET:
        return None
    if not _valid_url(url):
        ctx.error(raw.line_of("url"), where, f"url must be an http(s) URL, not {url!r}")
        return None
    options = _build(options_cls, _subset(raw, option_names), where, ctx)
    return dataclasses.replace(source, kind=str(kind), url=str(url), options=options, history=None)


def _vendors(raw: LineDict, ctx: _Context) -> tuple[VendorConfig, ...]:
    items = _sequence(raw, "vendors", ctx)
    names: set[str] = set()
    out: list[VendorConfig] = []
    for index, item in enumerate(items):
        line = items.line_of(index)
        if isinstance(item, str):
            item = LineDict(name=item)
            item.line, item.key_lines = line, {"name": line}
        if not isinstance(item, LineDict) or not isinstance(item.get("name"), str):
            ctx.error(line, f"vendors[{index}]: ", "each vendor needs a name")
            continue
        name = item["name"]
        where = f'vendor "{name}": '
        if name in names:
            ctx.error(item.line_of("name"), where, "duplicate vendor name")
        names.add(name)
        _unknown(item, {"name", "aliases", "products", "match_name", "priority"}, where, ctx)
        priority = _scalar(item, "priority", str, "normal", where, ctx)
        if priority not in ("high", "normal"):
            ctx.error(
                item.line_of("priority"),
                where,
                f"priority must be high or normal, not {priority!r}",
            )
            priority = "normal"
        aliases = _terms(item, "aliases", where, ctx)
        products = _terms(item, "products", where, ctx)
        if _scalar(item, "match_name", bool, True, where, ctx) and not any(
            t.term.casefold() == name.casefold() for t in aliases
        ):
            aliases = (Term(term=name), *aliases)
        out.append(
            VendorConfig(
                name=name, aliases=aliases, products=products, line=item.line, priority=priority
            )
        )
    return tuple(out)


_AT = re.compile(r"^(?:(\d{1,2}))?:(\d{2})$")


def _digest(item: LineDict, where: str, ctx: _Context) -> DigestConfig | None:
    """``digest: daily`` / ``hourly``, or a mapping with ``every``, ``at``, ``timezone``."""
    raw = item["digest"]
    line = item.line_of("digest")
    if isinstance(raw, str):
        raw = LineDict(every=raw)
        raw.line, raw.key_lines = line, {"every": line}
    if not isinstance(raw, LineDict):
        ctx.error(line, where, "digest must be hourly, daily, or a mapping with every/at/timezone")
        return None
    _unknown(raw, {"every", "at", "timezone"}, where + "digest: ", ctx)
    every = raw.get("every")
    if every not in ("hourly", "daily"):
        ctx.error(
            raw.line_of("every"), where, f"digest: every must be hourly or daily, not {every!r}"
        )
        return None
    at = str(raw.get("at", "08:00" if every == "daily" else ":00"))
    match = _AT.match(at.strip())
    hour, minute = (int(match.group(1) or 0), int(match.group(2))) if match else (-1, -1)
    hour_given = bool(match and match.group(1))
    if not (0 <= hour < 24 and 0 <= minute < 60) or (every == "daily" and not hour_given):
        ctx.error(
            raw.line_of("at"), where,
            f'digest: at must be "HH:MM" (daily) or ":MM" (hourly), not {at!r}',
        )  # fmt: skip
        return None
    timezone = str(raw.get("timezone", "UTC"))
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        ctx.error(
            raw.line_of("timezone"), where,
            f'digest: unknown time zone "{timezone}" (write e.g. Europe/Paris)',
        )  # fmt: skip
        return None
    return DigestConfig(every=every, hour=hour, minute=minute, timezone=timezone)


def _terms(item: LineDict, key: str, where: str, ctx: _Context) -> tuple[Term, ...]:
    if key not in item:
        return ()
    values = item[key]
    if not isinstance(values, LineList):
        ctx.error(item.line_of(key), where, f"{key} must be a list")
        return ()
    terms: list[Term] = []
    for index, value in enumerate(values):
        line = values.line_of(index)
        if isinstance(value, str):
            raw = LineDict(term=value)
            raw.line, raw.key_lines = line, {"term": line}
        elif isinstance(value, LineDict):
            raw = value
        else:
            ctx.error(line, where, f"{key}[{index}] must be a name or a mapping with 'term'")
            continue
        if not str(raw.get("term", "")).strip():
            ctx.error(line, where, f"{key}[{index}] needs a 'term'")
            continue
        built = _build(Term, raw, f"{where}{key}[{index}]: ", ctx)
        if built is not None:
            terms.append(built)
    return tuple(terms)


def _sinks(
    raw: LineDict, source_ids: set[str], vendor_names: set[str], ctx: _Context
) -> tuple[SinkConfig, ...]:
    from watcher.notify import SINK_KINDS

    items = _sequence(raw, "sinks", ctx)
    seen: set[str] = set()
    out: list[SinkConfig] = []
    filters = {"vendors", "sources", "languages", "events", "changes"}
    for index, item in enumerate(items):
        line = items.line_of(index)
        if not isinstance(item, LineDict):
            ctx.error(line, f"sinks[{index}]: ", "each sink must be a mapping")
            continue
        sid = item.get("id")
        where = f'sink "{sid}": ' if isinstance(sid, str) else f"sinks[{index}]: "
        if not isinstance(sid, str) or not _ID.match(sid):
            ctx.error(
                item.line_of("id"), where, "id must be lower-case letters, digits, '-', '_' or '.'"
            )
            continue
        if sid in seen:
            ctx.error(item.line_of("id"), where, "duplicate id")
            continue
        seen.add(sid)
        kind = item.get("kind")
        if kind not in SINK_KINDS:
            ctx.error(
                item.line_of("kind"), where, f'unknown kind "{kind}"{_hint(str(kind), SINK_KINDS)}'
            )
            continue
        options_cls: type[Any] = getattr(SINK_KINDS[kind], "Options")  # noqa: B009
        option_names = {f.name for f in dataclasses.fields(options_cls)}
        _unknown(item, {"id", "kind", "enabled", "digest"} | filters | option_names, where, ctx)
        enabled = item.get("enabled", "auto")
        if enabled not in (True, False, "auto"):
            ctx.error(item.line_of("enabled"), where, "enabled must be true, false or auto")
            continue
        if enabled is False:
            continue
        errors_before = len(ctx.errors)
        ctx.missing_env = []
        options = _build(
            options_cls, _subset(item, option_names), where, ctx, allow_missing_env=True
        )
        if ctx.missing_env:
            names = ", ".join(f"${{{n}}}" for n in dict.fromkeys(ctx.missing_env))
            if enabled == "auto":
                del ctx.errors[errors_before:]
                ctx.warnings.append(f"sink {sid!r} skipped: {names} not set in the environment")
                continue
            ctx.error(item.line, where, f"enabled, but {names} not set in the environment")
            continue
        built = options is not None and len(ctx.errors) == errors_before
        url = getattr(options, "url", None)
        if isinstance(url, Secret) and url.reveal() and not _valid_url(url.reveal()):
            # Not quoted: a sink URL is a secret, even a mistyped one.
            ctx.error(item.line_of("url"), where, "url must be an http(s) URL with a host")
        problems = getattr(SINK_KINDS[kind], "problems", None)  # the kind's own rules
        if built and problems is not None:
            for key, message in problems(options):
                ctx.error(_key_line(item, key), where, f"{key}: {message}")
        values = _fields(SinkConfig, item, where, ctx, only=filters)
        for key, known, what in (
            ("sources", source_ids, "source"),
            ("vendors", vendor_names, "vendor"),
        ):
            for value in values.get(key, ()):
                if value not in known:
                    ctx.error(
                        item.line_of(key),
                        where,
                        f'{key}: unknown {what} "{value}"{_hint(value, known)}',
                    )
        for value in values.get("events", ()):
            if value not in _EVENT_TYPES:
                ctx.error(item.line_of("events"), where, f'events: unknown event type "{value}"')
        for value in values.get("changes", ()):
            if value not in _CHANGE_CLASSES:
                ctx.error(
                    item.line_of("changes"),
                    where,
                    f'changes: unknown change class "{value}"{_hint(value, _CHANGE_CLASSES)}',
                )
        digest = _digest(item, where, ctx) if "digest" in item else None
        out.append(
            SinkConfig(
                id=sid, kind=str(kind), options=options, digest=digest, line=item.line, **values
            )
        )
    return tuple(out)


def _key_line(item: LineDict, key: str) -> int:
    """The line of ``key`` in ``item``, or of ``key[i]``'s item."""
    name, _, index = key.partition("[")
    value = item.get(name)
    if index.rstrip("]").isdigit() and isinstance(value, LineList):
        return value.line_of(int(index.rstrip("]")))
    return item.line_of(name)


# --- generic field coercion ----------------------------------------------------------


def _build(
    cls: type, raw: LineDict, where: str, ctx: _Context, allow_missing_env: bool = False
) -> Any:
    """Make a ``cls`` dataclass from ``raw``, reporting unknown keys and bad values."""
    names = {f.name for f in dataclasses.fields(cls)}
    _unknown(raw, names, where, ctx)
    values = _fields(cls, raw, where, ctx, only=names, allow_missing_env=allow_missing_env)
    missing = [
        f.name
        for f in dataclasses.fields(cls)
        if f.name not in values
        and f.default is dataclasses.MISSING
        and f.default_factory is dataclasses.MISSING
    ]
    for name in missing:
        if name not in raw:
            ctx.error(raw.line, where, f'missing required key "{name}"')
    if missing:
        return None
    return cls(**values)


@functools.cache
def _type_hints(cls: type) -> dict[str, Any]:
    """A dataclass's field types, resolved once: ``typing.get_type_hints`` evaluates
    every annotation string at each call, which was most of the time spent reading a
    configuration of a few thousand sources."""
    return typing.get_type_hints(cls)


def _fields(
    cls: type,
    raw: LineDict,
    where: str,
    ctx: _Context,
    only: set[str],
    allow_missing_env: bool = False,
) -> dict[str, Any]:
    hints = _type_hints(cls)
    values: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in only or key not in hints:
            continue
        try:
            values[key] = _coerce(_interpolate(value, ctx, allow_missing_env), hints[key])
        except _Invalid as exc:
            ctx.error(raw.line_of(key), where, f"{key}: {exc}")
    return values


def _interpolate(value: Any, ctx: _Context, allow_missing: bool) -> Any:
    if isinstance(value, str) and "${" in value:

        def replace(match: re.Match[str]) -> str:
            name, default = match.group(1), match.group(2)
            if name in ctx.env and ctx.env[name] != "":
                return ctx.env[name]
            if default is not None:
                return default
            ctx.missing_env.append(name)
            if not allow_missing:
                raise _Invalid(f"${{{name}}} is not set in the environment")
            return ""

        return _ENV.sub(replace, value)
    if isinstance(value, list):
        return [_interpolate(v, ctx, allow_missing) for v in value]
    if isinstance(value, dict):
        return {k: _interpolate(v, ctx, allow_missing) for k, v in value.items()}
    return value


def _coerce(value: Any, hint: Any) -> Any:
    origin = typing.get_origin(hint)
    if origin in (types.UnionType, typing.Union):
        options = [a for a in typing.get_args(hint) if a is not type(None)]
        if value is None:
            return None
        return _coerce(value, options[0])
    if origin is Literal:
        allowed = typing.get_args(hint)
        if value not in allowed:
            raise _Invalid(f"must be one of {', '.join(map(str, allowed))}, not {value!r}")
        return value
    if origin is tuple:
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list):
            raise _Invalid("must be a list")
        (item_hint, _ellipsis) = typing.get_args(hint)
        return tuple(_coerce(v, item_hint) for v in value)
    if origin is dict:
        if not isinstance(value, dict):
            raise _Invalid("must be a mapping")
        return {str(k): str(v) for k, v in value.items()}
    if hint is Duration:
        return _duration(value)
    if hint is ByteSize:
        return _size(value)
    if hint is Secret:
        if not isinstance(value, str):
            raise _Invalid("must be a string")
        return Secret(value)
    if hint is bool:
        if not isinstance(value, bool):
            raise _Invalid(f"must be true or false, not {value!r}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise _Invalid(f"must be a whole number, not {value!r}")
        if value < 0:
            raise _Invalid("must not be negative")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _Invalid(f"must be a number, not {value!r}")
        return float(value)
    if hint is str:
        if isinstance(value, bool) or value is None or isinstance(value, dict | list):
            raise _Invalid(f"must be a string, not {value!r}")
        return str(value)
    raise TypeError(f"unsupported config type {hint!r}")  # a bug in an Options class


def _duration(value: Any) -> Duration:
    if isinstance(value, bool):
        raise _Invalid(f"not a duration: {value!r}")
    if isinstance(value, int | float):
        if value < 0:
            raise _Invalid("must not be negative")
        return Duration(value)
    text = str(value).strip().lower().replace(" ", "")
    if not text or _DURATION_PART.sub("", text):
        raise _Invalid(f"not a duration: {value!r} (write e.g. 90s, 30m, 1h30m, 2d)")
    return Duration(sum(float(n) * _DURATION_UNITS[u] for n, u in _DURATION_PART.findall(text)))


def parse_duration(value: str) -> Duration:
    """A duration as sources.yaml writes it (``90``, ``90s``, ``1h30m``...); ValueError."""
    try:
        return _duration(float(value) if _NUMBER.match(value) else value)
    except _Invalid as exc:
        raise ValueError(str(exc)) from None


_NUMBER = re.compile(r"^\s*\d+(?:\.\d+)?\s*$")


def _size(value: Any) -> ByteSize:
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return ByteSize(value)
    match = _SIZE.match(str(value))
    if not match:
        raise _Invalid(f"not a size: {value!r} (write e.g. 5MB or 512KiB)")
    number, unit = match.groups()
    return ByteSize(int(float(number) * _SIZE_UNITS[(unit or "b").lower()]))


# --- small helpers -------------------------------------------------------------------


def _subset(raw: LineDict, keys: set[str]) -> LineDict:
    out = LineDict({k: v for k, v in raw.items() if k in keys})
    out.line, out.key_lines = raw.line, raw.key_lines
    return out


def _merge(base: LineDict, over: LineDict) -> LineDict:
    out = LineDict({**base, **over})
    out.line, out.key_lines = over.line, {**base.key_lines, **over.key_lines}
    return out


def _mapping(parent: LineDict, key: str, ctx: _Context) -> LineDict:
    value = parent.get(key)
    if isinstance(value, LineDict):
        return value
    if value is not None:
        ctx.error(parent.line_of(key), "", f"{key} must be a mapping")
    empty = LineDict()
    empty.line, empty.key_lines = parent.line_of(key), {}
    return empty


def _sequence(parent: LineDict, key: str, ctx: _Context) -> LineList:
    value = parent.get(key)
    if isinstance(value, LineList):
        return value
    if value is not None:
        ctx.error(parent.line_of(key), "", f"{key} must be a list")
    empty = LineList()
    empty.line, empty.item_lines = parent.line_of(key), []
    return empty


def _scalar(parent: LineDict, key: str, kind: type, default: Any, where: str, ctx: _Context) -> Any:
    if key not in parent:
        return default
    try:
        return _coerce(parent[key], kind)
    except _Invalid as exc:
        ctx.error(parent.line_of(key), where, f"{key}: {exc}")
        return default


def _unknown(raw: LineDict, allowed: set[str], where: str, ctx: _Context) -> None:
    for key in raw:
        if key not in allowed:
            ctx.error(raw.line_of(key), where, f'unknown key "{key}"{_hint(key, allowed)}')


def _hint(word: str, choices: typing.Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f' (did you mean "{close[0]}"?)' if close else ""


def _valid_url(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    parts = urlsplit(value)
    return parts.scheme in {"http", "https"} and bool(parts.hostname)
