"""``kind: webhook``: a signed JSON POST, per the Standard Webhooks specification."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar

import httpx

from watcher.config import Duration, Secret
from watcher.models import Digest, Event
from watcher.notify import register
from watcher.notify.base import post, refuse_problems

if TYPE_CHECKING:
    from watcher.config import SinkConfig


def secret_key(secret: str) -> bytes:
    """The HMAC key of a ``whsec_<base64>`` secret (the prefix is optional)."""
    encoded = secret.removeprefix("whsec_")
    try:
        return base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("a webhook secret must be whsec_ followed by base64") from None


def _secrets(options: WebhookSink.Options) -> list[str]:
    """The signing secrets set, the current one first."""
    found = (options.secret, options.previous_secret)
    return [secret.reveal() for secret in found if secret is not None and secret.reveal()]


def sign(key: bytes, event_id: str, timestamp: int, body: bytes) -> str:
    """``v1,<base64 HMAC-SHA256 of "id.timestamp.body">``.

    Twelve lines of stdlib: the spec is this small, and the receiver-side library
    (``standardwebhooks``) verifies it in our tests.
    """
    message = f"{event_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, message, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def encode_body(event: Event) -> bytes:
    return json.dumps(event.to_dict(), ensure_ascii=False, separators=(",", ":")).encode("utf-8")


@register
class WebhookSink:
    """POST each event as JSON to a URL, signed when a secret is set.

    ```yaml
    - id: webhook
      kind: webhook
      url: ${WATCHER_WEBHOOK_URL}
      secret: ${WATCHER_WEBHOOK_SECRET}   # whsec_<base64>; optional
      previous_secret: ${WATCHER_WEBHOOK_OLD_SECRET}  # optional, while rotating
      headers: {X-Team: market-intel}     # optional extra headers
    ```

    Headers sent: ``webhook-id`` (the event id: de-duplicate on it), ``webhook-timestamp``
    and ``webhook-signature`` (``v1,<base64 HMAC-SHA256>`` of ``id.timestamp.body``).
    While ``previous_secret`` is set, each request carries two signatures (new, then
    old, space-separated, as the specification allows), so the receiver can switch to
    the new secret at its own pace. Any 2xx answer is success; 400, 401, 403, 404, 405,
    410, 413 and 422 park the event as dead at once; anything else is retried.
    """

    kind: ClassVar[str] = "webhook"

    @dataclass(frozen=True)
    class Options:
        url: Secret
        secret: Secret | None = None
        previous_secret: Secret | None = None
        headers: dict[str, str] = field(default_factory=dict)
        timeout: Duration = Duration(15)

    def __init__(
        self,
        config: SinkConfig,
        client: httpx.AsyncClient,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.options: WebhookSink.Options = config.options
        self._client = client
        self._clock = clock
        refuse_problems(config, self.problems(self.options))
        self._keys = [secret_key(secret) for secret in _secrets(self.options)]

    @classmethod
    def problems(cls, options: WebhookSink.Options) -> Iterator[tuple[str, str]]:
        for name in ("secret", "previous_secret"):
            secret: Secret | None = getattr(options, name)
            if secret is not None and secret.reveal():
                try:
                    secret_key(secret.reveal())
                except ValueError as exc:
                    yield name, str(exc)
        previous, current = options.previous_secret, options.secret
        if previous and previous.reveal() and not (current and current.reveal()):
            yield "previous_secret", "needs a secret as well (the new one)"

    def headers(self, message_id: str, body: bytes) -> dict[str, str]:
        timestamp = int(self._clock())
        headers = {
            **self.options.headers,
            "content-type": "application/json",
            "webhook-id": message_id,
            "webhook-timestamp": str(timestamp),
        }
        if self._keys:
            headers["webhook-signature"] = " ".join(
                sign(key, message_id, timestamp, body) for key in self._keys
            )
        return headers

    async def send(self, event: Event) -> None:
        await self._post(event.id, encode_body(event))

    async def send_digest(self, digest: Digest) -> None:
        """One POST of ``type: digest`` holding the events' own bodies."""
        body = json.dumps(digest.to_dict(), ensure_ascii=False, separators=(",", ":"))
        await self._post(digest.id, body.encode("utf-8"))

    async def _post(self, message_id: str, body: bytes) -> None:
        await post(
            self._client,
            self.options.url.reveal(),
            content=body,
            headers=self.headers(message_id, body),
            seconds=float(self.options.timeout),
            what=f"webhook {self.config.id}",
        )
