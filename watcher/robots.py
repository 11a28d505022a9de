"""robots.txt, fetched once per origin, cached with an expiry, obeyed for every URL.

Parsing is protego's (wildcards, Allow/Disallow precedence, Crawl-delay as the big
crawlers read them). What the answer means follows RFC 9309: a robots.txt that does
not exist (any 4xx) restricts nothing; one that cannot be read (5xx, network failure)
means "disallow everything" for a while, then we ask again.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol
from urllib.parse import urlsplit

from protego import Protego

# How long answers are kept: a day for a readable file (RFC 9309 suggests at most 24h),
# a few minutes when it could not be read, so a transient error does not block a
# source for long.
TTL = 24 * 3600.0
ERROR_TTL = 300.0
MAX_BYTES = 500_000  # RFC 9309: parse at least 500 KiB; more is not needed


@dataclass(frozen=True)
class Rules:
    """The robots.txt verdicts for one origin."""

    parser: Protego | None  # None: no restrictions (or none readable, see ``blocked``)
    blocked: str | None  # a reason when everything is disallowed (unreadable file)
    expires: float

    def allows(self, url: str, agent: str) -> bool:
        if self.blocked:
            return False
        return self.parser is None or bool(self.parser.can_fetch(url, agent))

    def crawl_delay(self, agent: str) -> float | None:
        if self.parser is None:
            return None
        delay = self.parser.crawl_delay(agent)
        return float(delay) if delay is not None else None


class RobotsStore(Protocol):
    """Where answers outlive the process (the store: ``watcher once`` runs and restarts
    reuse them until they expire)."""

    def robots_answer(self, origin: str) -> tuple[int | None, bytes, datetime] | None: ...

    def save_robots_answer(
        self, origin: str, status: int | None, body: bytes, fetched_at: datetime
    ) -> None: ...


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def agent_token(user_agent: str) -> str:
    """The product token robots.txt groups are matched against ("watcher")."""
    return user_agent.split("/", 1)[0].split()[0] if user_agent.strip() else "*"


def rules_from_response(
    status: int | None,
    body: bytes,
    *,
    clock: Callable[[], float] = time.monotonic,
    error: str | None = None,
) -> Rules:
    """Rules from the answer to ``GET /robots.txt`` (``status`` None: no answer, for
    the reason ``error`` says: a refused connection, a name that does not resolve)."""
    now = clock()
    if status is None or status >= 500:
        if status is not None:
            reason = f"robots.txt answered {status}"
        else:  # the cause is the site's problem, and often the user's typo: say it
            reason = f"robots.txt unreachable ({error})" if error else "robots.txt unreachable"
        return Rules(parser=None, blocked=reason, expires=now + ERROR_TTL)
    if status >= 400 or not body.strip():
        return Rules(parser=None, blocked=None, expires=now + TTL)
    text = body[:MAX_BYTES].decode("utf-8", errors="replace").lstrip("\ufeff")
    return Rules(parser=Protego.parse(text), blocked=None, expires=now + TTL)
