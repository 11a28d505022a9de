"""What a sink kind is: a small class that delivers one event somewhere."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, Protocol

import httpx

from watcher.errors import DeliveryError
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
    """

    kind: ClassVar[str]

    def __init__(self, config: SinkConfig, client: httpx.AsyncClient) -> None: ...

    async def send(self, event: Event) -> None: ...


async def post(
    client: httpx.AsyncClient,
    url: str,
    *,
    content: bytes,
    headers: dict[str, str],
    seconds: float,
    what: str,
) -> httpx.Response:
    """POST to a receiver, turning every failure into a ``DeliveryError``.

    The URL (which often carries a token) never appears in the error message.
    """
    try:
        response = await client.post(url, content=content, headers=headers, timeout=seconds)
    except httpx.TimeoutException:
        raise DeliveryError(f"{what}: timed out after {seconds:g}s") from None
    except httpx.HTTPError as exc:
        raise DeliveryError(f"{what}: {type(exc).__name__}") from None
    if response.status_code >= 300:
        raise DeliveryError(
            f"{what}: HTTP {response.status_code}",
            retryable=response.status_code not in PERMANENT_STATUS,
            retry_after=parse_retry_after(response.headers.get("retry-after")),
        )
    return response
