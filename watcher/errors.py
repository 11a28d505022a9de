"""The exceptions watcher raises.

::

    WatcherError
    ├── ConfigError      bad sources.yaml or environment; shown to the user, exit code 2
    ├── SourceError      one source failed this round (.source)
    │   ├── FetchError   network/HTTP failure after retries (.url, .status)
    │   └── ParseError   the feed or page did not parse, or the extractor found nothing
    ├── StoreError       database or migration trouble
    └── DeliveryError    a sink refused (.retryable)

"Skip this item" (spam, unchanged, not an article) is a return value, never an exception.
"""

from __future__ import annotations


class WatcherError(Exception):
    """Base class of every error watcher raises on purpose."""


class ConfigError(WatcherError):
    """The configuration file or the environment is wrong; the user must fix it."""


class SourceError(WatcherError):
    """One source could not be polled this round; the other sources go on."""

    def __init__(self, message: str, *, source: str | None = None) -> None:
        super().__init__(message)
        self.source = source


class FetchError(SourceError):
    """An HTTP request failed for good (after retries), or was refused by a safety limit."""

    def __init__(
        self,
        message: str,
        *,
        url: str,
        status: int | None = None,
        reason: str = "error",
        retry_after: float | None = None,
        source: str | None = None,
        body: bytes = b"",
    ) -> None:
        super().__init__(message, source=source)
        self.url = url
        self.status = status
        # The start of the error page, to tell a bot challenge from a plain refusal.
        self.body = body
        # A short machine-readable cause ("timeout", "too_large", "http_status", ...)
        # that the source-health bookkeeping keys on.
        self.reason = reason
        self.retry_after = retry_after


class ParseError(SourceError):
    """A feed or page was fetched but could not be understood."""


class StoreError(WatcherError):
    """The state database could not be opened, migrated or written."""


class DeliveryError(WatcherError):
    """A sink refused a notification; ``retryable`` says whether to try again later."""

    def __init__(
        self, message: str, *, retryable: bool = True, retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.retry_after = retry_after
