"""``kind: apprise``: any of the services Apprise reaches (e-mail, Matrix, Telegram,
ntfy, Pushover, …), with a title and a plain-text body.

Apprise is an optional extra (``pip install 'watcher[apprise]'``): it is imported only
when a sink of this kind is configured. It is synchronous, so each service is called
in a worker thread, never on the event loop.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import httpx
import structlog

from watcher.config import Duration, Secret
from watcher.errors import DeliveryError
from watcher.models import Event
from watcher.notify import register, summary
from watcher.notify.base import refuse_problems
from watcher.notify.summary import cut

if TYPE_CHECKING:
    from watcher.config import SinkConfig

MAX_BODY = 4000  # Apprise splits or truncates further for services that need it
_REMEMBERED = 1000  # events whose partial delivery is remembered between retries
_FRAGMENTS = re.compile(r"[/:@?&=#,;\s]+")
_MIN_FRAGMENT = 6  # as watcher.log: shorter pieces would hide ordinary words

log = structlog.get_logger("watcher.deliver")


class _Scrubber(logging.Filter):
    """Apprise logs some URLs as it was given them ("Unparseable URL ..."), and at debug
    level the requests it makes: every piece of a configured URL is replaced with ***
    in what the ``apprise`` and ``urllib3`` loggers emit."""

    def __init__(self) -> None:
        super().__init__()
        self.secrets: set[str] = set()

    def add(self, url: str) -> None:
        self.secrets.add(url)
        rest = url.split("://", 1)[-1]  # the scheme names a service; it is no secret
        self.secrets.update(p for p in _FRAGMENTS.split(rest) if len(p) >= _MIN_FRAGMENT)

    def scrub(self, text: str) -> str:
        for secret in sorted(self.secrets, key=len, reverse=True):
            text = text.replace(secret, "***")
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        scrubbed = self.scrub(message)
        if scrubbed != message:
            record.msg, record.args = scrubbed, ()
        return True


_SCRUBBER = _Scrubber()
for _name in ("apprise", "urllib3.connectionpool"):
    if _SCRUBBER not in logging.getLogger(_name).filters:
        logging.getLogger(_name).addFilter(_SCRUBBER)


def scheme(url: str) -> str:
    """The service a URL names (``mailtos``, ``tgram``, ``ntfy``): safe to show."""
    head = url.split("://", 1)[0] if "://" in url else ""
    return head.lower() if re.fullmatch(r"[A-Za-z][A-Za-z0-9+.-]{0,20}", head) else "?"


def build_text(event: Event) -> tuple[str, str]:
    """The title and plain-text body of an event (Apprise adapts them per service)."""
    title = cut(summary.headline(event), 250)
    article = event.article
    footer = summary.footer(event)
    if article is None:
        lines = [f"{label}: {value}" for label, value in summary.health_facts(event)]
        lines += ["", f"watcher · {event.type} · {event.source_id} · {event.id}"]
        return title, summary.printable("\n".join(lines).strip())
    lines = [" · ".join(summary.meta(event)), article.url]
    for vendor in event.vendors[: summary.MAX_VENDORS]:
        lines += ["", f"{vendor.name} ({', '.join(vendor.matched)})"]
        if vendor.snippets:
            lines.append(f"  “{cut(vendor.snippets[0], 500)}”")
    change = event.change
    if event.type == "article.updated" and change is not None:
        sentences = summary.changed_sentences(change)
        kinds = f" ({', '.join(change.classes)})" if change.classes else ""
        lines += ["", f"What changed{kinds}:"] if sentences else []
        for kind, old, new in sentences[: summary.MAX_CHANGED]:
            lines += [f"- {cut(old, 500)}"] if kind in ("edited", "removed") else []
            lines += [f"+ {cut(new, 500)}"] if kind in ("edited", "added") else []
        if len(sentences) > summary.MAX_CHANGED:
            lines.append(f"…and {len(sentences) - summary.MAX_CHANGED} more changed sentences")
    elif article.text:
        lines += ["", summary.excerpt(article.text)]
    for report in event.linked[: summary.MAX_LINKED]:
        language = summary.language_name(report.language)
        lines += ["", f"Same story in {language}: {report.title or report.url} <{report.url}>"]
        if report.only_here or report.only_there:
            here, there = ", ".join(report.only_here[:8]), ", ".join(report.only_there[:8])
            lines.append(f"  Only here: {here or '-'} · only there: {there or '-'}")
    if event.also_seen_at:
        lines += ["", "Also seen at: " + ", ".join(event.also_seen_at[: summary.MAX_ALSO_SEEN])]
    body = cut("\n".join(lines), MAX_BODY - len(footer) - 2) + "\n\n" + footer
    return title, summary.printable(body)


def _apprise() -> Any | None:
    """The apprise module, or None without the extra."""
    try:
        import apprise
    except ImportError:
        return None
    return apprise


def _target(apprise: Any, url: str) -> Any | None:
    """One Apprise object for ``url``, or None when Apprise cannot use it."""
    _SCRUBBER.add(url)  # before Apprise first sees it: it may log it
    target = apprise.Apprise()
    return target if target.add(url) and len(target) == 1 else None


@register
class AppriseSink:
    """Send each event through Apprise to one or more services, as a title and a
    plain-text body.

    ```yaml
    - id: phones
      kind: apprise
      urls:                          # secrets: each is one Apprise URL
        - ${NTFY_URL}                # e.g. ntfys://ntfy.sh/my-topic
        - ${ALERTS_MAILTO}           # e.g. mailtos://user:app-password@gmail.com?to=team@example.org
    ```

    Needs the optional extra: ``pip install 'watcher[apprise]'``. Each URL is checked
    when watcher starts. When some services fail, the event is retried later for those
    only (the others are not sent it twice, unless watcher restarted in between).
    """

    kind: ClassVar[str] = "apprise"

    @dataclass(frozen=True)
    class Options:
        urls: tuple[Secret, ...]
        timeout: Duration = Duration(30)

    def __init__(self, config: SinkConfig, client: httpx.AsyncClient) -> None:
        self.config = config
        self.options: AppriseSink.Options = config.options
        self._what = f"apprise {config.id}"
        apprise = _apprise()
        targets = [_target(apprise, s.reveal()) for s in self.options.urls] if apprise else []
        if apprise is None or not targets or any(t is None for t in targets):
            refuse_problems(config, self.problems(self.options))  # says which one
        assert apprise is not None
        self._targets: list[tuple[str, Any]] = [
            (f"urls[{index}] ({scheme(secret.reveal())})", target)
            for index, (secret, target) in enumerate(zip(self.options.urls, targets, strict=True))
        ]
        self._format = apprise.NotifyFormat.TEXT
        self._delivered: OrderedDict[str, set[int]] = OrderedDict()

    @classmethod
    def problems(cls, options: AppriseSink.Options) -> Iterator[tuple[str, str]]:
        apprise = _apprise()
        if apprise is None:
            yield "kind", "\"apprise\" needs the apprise extra: pip install 'watcher[apprise]'"
            return
        if not options.urls:
            yield "urls", "give at least one Apprise URL"
        for index, secret in enumerate(options.urls):
            if _target(apprise, secret.reveal()) is None:
                yield (
                    f"urls[{index}]",
                    (
                        f"not one URL Apprise can use (service {scheme(secret.reveal())!r}; "
                        "see https://appriseit.com/services/)"
                    ),
                )

    async def _notify(self, label: str, target: Any, title: str, body: str) -> bool:
        # A thread that outlives the timeout cannot be stopped: it may still deliver,
        # and the retry may then send a duplicate (delivery is at least once).
        try:
            result = await asyncio.wait_for(
                asyncio.to_thread(target.notify, body=body, title=title, body_format=self._format),
                timeout=float(self.options.timeout),
            )
        except TimeoutError:
            log.warning("apprise.timeout", sink=self.config.id, service=label)
            return False
        except Exception as exc:  # a plugin bug; its message may quote the URL: type only
            log.warning(
                "apprise.crashed", sink=self.config.id, service=label, error=type(exc).__name__
            )
            return False
        return bool(result)

    async def send(self, event: Event) -> None:
        title, body = build_text(event)
        done = self._delivered.get(event.id, set())
        pending = [i for i in range(len(self._targets)) if i not in done]
        results = await asyncio.gather(
            *(self._notify(*self._targets[i], title, body) for i in pending)
        )
        done = done | {i for i, ok in zip(pending, results, strict=True) if ok}
        failed = [self._targets[i][0] for i in pending if i not in done]
        if not failed:
            self._delivered.pop(event.id, None)
            return
        self._delivered[event.id] = done
        self._delivered.move_to_end(event.id)
        while len(self._delivered) > _REMEMBERED:
            self._delivered.popitem(last=False)
        raise DeliveryError(
            f"{self._what}: {len(failed)} of {len(self._targets)} services failed: "
            + ", ".join(failed)
        )
