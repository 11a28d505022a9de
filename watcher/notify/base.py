"""What a sink kind is: a small class that delivers one event somewhere."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, ClassVar, Protocol

import httpx

from watcher.errors import ConfigError, DeliveryError
from watcher.fetch import parse_retry_after
from watcher.models import Event

if TYPE_CHECKING:
    from watcher.config import SinkConfig


# Answers that retrying cannot change (a bad payload, a revoked or deleted webhook):
# the event is parked as dead at once, for `watcher deliver --retry-dead` once fixed.
PERMANENT_STATUS = frozenset({400, 401, 403, 404, 405, 410, 413, 422})


class Sink(Protocol):
    """A sink kind: ``kind`` is its name in sources.yaml; a nested frozen dataclass
    ``Options`` lists its own keys (checked by :func:`watcher.notify.register`).

    ``send`` raises :class:`~watcher.errors.DeliveryError` when the receiver did not
    take the event; the outbox then retries it later with backoff.

    A kind whose options have rules of their own (a secret's format, ids) gives them in
    a class method ``problems(options)`` yielding ``(key, message)`` pairs: the config
    reports them with the others, at the key's line (``key`` may be ``urls[1]``).
    """

    kind: ClassVar[str]

    def __init__(self, config: SinkConfig, client: httpx.AsyncClient) -> None: ...

    async def send(self, event: Event) -> None: ...


def refuse_problems(config: SinkConfig, problems: Iterable[tuple[str, str]]) -> None:
    """For a sink built without :func:`watcher.config.load` (which reports these
    itself): its first problem as a ConfigError."""
    for key, message in problems:
        raise ConfigError(f'sink "{config.id}" (line {config.line}): {key}: {message}')


# How a sink reads a receiver's answer: None when it took the event, else the error.
Refusal = Callable[[httpx.Response, str], DeliveryError | None]


def retryable_status(status: int) -> bool:
    """Whether a refusal with this status may succeed later (see PERMANENT_STATUS)."""
    return status not in PERMANENT_STATUS


def http_refusal(response: httpx.Response, what: str) -> DeliveryError | None:
    """The plain reading of an answer: 2xx is success, anything else is a refusal
    (retried by the outbox after ``Retry-After`` when the receiver sent one, unless
    retrying cannot help: then the event is parked as dead)."""
    status = response.status_code
    if status < 300:
        return None
    if status < 400:
        return _redirect_refusal(response, what)
    return DeliveryError(
        f"{what}: HTTP {status}",
        retryable=retryable_status(status),
        retry_after=parse_retry_after(response.headers.get("retry-after")),
    )


def _redirect_refusal(response: httpx.Response, what: str) -> DeliveryError:
    """A receiver that redirects (often http:// to https://, or a moved endpoint).
    Sinks do not follow redirects: the body is signed for one URL, and a receiver
    could send it anywhere. The error says where to, by scheme and host only (a
    path may carry a token); a permanent redirect is not retried."""
    status = response.status_code
    where = ""
    location = response.headers.get("location")
    if location:
        target = response.url.join(location)
        where = f" to {target.scheme}://{target.netloc.decode('ascii', 'replace')}/…"
    return DeliveryError(
        f"{what}: HTTP {status}, redirected{where} (sinks do not follow redirects: "
        "configure the URL it redirects to)",
        retryable=status not in {301, 308},
        retry_after=parse_retry_after(response.headers.get("retry-after")),
    )


async def post(
    client: httpx.AsyncClient,
    url: str,
    *,
    content: bytes,
    headers: dict[str, str],
    seconds: float,
    what: str,
    refusal: Refusal = http_refusal,
) -> httpx.Response:
    """POST to a receiver, turning every failure into a ``DeliveryError``.

    The URL (which often carries a token) never appears in the error message.
    ``refusal`` reads the answer, for receivers with their own ways of saying no.
    """
    try:
        response = await client.post(url, content=content, headers=headers, timeout=seconds)
    except httpx.TimeoutException:
        raise DeliveryError(f"{what}: timed out after {seconds:g}s") from None
    except httpx.HTTPError as exc:
        raise DeliveryError(f"{what}: {type(exc).__name__}") from None
    error = refusal(response, what)
    if error is not None:
        raise error
    return response
