"""Webhook sink: Standard Webhooks signatures (verified by the reference library) and the
documented JSON body."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime

import httpx
import pytest
import respx
import standardwebhooks

from tests.factories import make_event
from watcher.config import Secret, SinkConfig
from watcher.errors import ConfigError, DeliveryError
from watcher.notify.webhook import WebhookSink, encode_body

SECRET = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()
URL = "https://hooks.example/in/T0K3N"


def sink(
    secret: str | None = SECRET,
    headers: dict[str, str] | None = None,
    clock: Callable[[], float] = lambda: 1_795_000_000,
    previous: str | None = None,
) -> WebhookSink:
    options = WebhookSink.Options(
        url=Secret(URL),
        secret=Secret(secret) if secret is not None else None,
        previous_secret=Secret(previous) if previous is not None else None,
        headers=headers or {},
    )
    return WebhookSink(
        SinkConfig(id="hook", kind="webhook", options=options), httpx.AsyncClient(), clock=clock
    )


async def test_signed_post_verifies_with_standardwebhooks(respx_mock: respx.MockRouter) -> None:
    route = respx_mock.post(URL).respond(204)
    event = make_event()
    await sink(headers={"X-Team": "intel"}, clock=time.time).send(event)
    request = route.calls.last.request
    headers = dict(request.headers)
    assert headers["webhook-id"] == event.id
    assert abs(int(headers["webhook-timestamp"]) - time.time()) < 60
    assert headers["x-team"] == "intel"
    assert headers["content-type"] == "application/json"
    payload = standardwebhooks.Webhook(SECRET).verify(request.content, headers)
    assert payload == event.to_dict()


def test_signature_matches_the_reference_implementation() -> None:
    event = make_event()
    body = encode_body(event)
    ours = sink().headers(event.id, body)["webhook-signature"]
    theirs = standardwebhooks.Webhook(SECRET).sign(
        event.id, datetime.fromtimestamp(1_795_000_000, UTC), body.decode()
    )
    assert ours == theirs


def test_body_is_the_documented_payload() -> None:
    body = json.loads(encode_body(make_event()))
    assert body["type"] == "article.new"
    assert body["timestamp"] == "2026-11-23T10:00:00Z"
    data = body["data"]
    assert data["event_id"] == "evt_test1"
    assert data["source"] == {"id": "digitalhealth", "name": "Digital Health"}
    assert data["article"]["published_at"] == "2007-09-06T00:00:00Z"
    assert data["article"]["version"] == 1 and data["article"]["language"] == "en"
    assert data["vendors"][0] == {
        "name": "Oracle Health",
        "matched": ["Cerner", "Millennium"],
        "snippets": ["Cerner has suspended design work on the Millennium platform."],
    }
    assert data["change"] is None and data["also_seen_at"] == []


async def test_unsigned_when_no_secret(respx_mock: respx.MockRouter) -> None:
    route = respx_mock.post(URL).respond(200)
    await sink(secret="").send(make_event())
    assert "webhook-signature" not in route.calls.last.request.headers


async def test_refusals_are_delivery_errors_without_the_url(respx_mock: respx.MockRouter) -> None:
    respx_mock.post(URL).respond(503, headers={"Retry-After": "30"})
    with pytest.raises(DeliveryError) as caught:
        await sink().send(make_event())
    assert caught.value.retry_after == 30 and caught.value.retryable
    assert "T0K3N" not in str(caught.value) and "HTTP 503" in str(caught.value)


@pytest.mark.parametrize(
    ("status", "location", "retryable", "where"),
    [
        (301, "https://hooks.example/in/T0K3N", False, "to https://hooks.example/…"),
        (308, "//new.example:8443/x?token=T0K3N", False, "to https://new.example:8443/…"),
        (307, "/in/T0K3N/", True, "to https://hooks.example/…"),
        (302, None, True, "redirected (sinks"),
        (301, "https://user:T0K3N@hooks.example/", False, "to https://hooks.example/…"),
    ],
)
async def test_a_redirect_says_where_to_without_the_path(
    respx_mock: respx.MockRouter, status: int, location: str | None, retryable: bool, where: str
) -> None:
    headers = {"Location": location} if location else {}
    respx_mock.post(URL).respond(status, headers=headers)
    with pytest.raises(DeliveryError) as caught:
        await sink().send(make_event())
    message = str(caught.value)
    assert f"HTTP {status}, redirected" in message and where in message
    assert "configure the URL it redirects to" in message
    assert "T0K3N" not in message
    assert caught.value.retryable is retryable


async def test_network_errors_are_delivery_errors(respx_mock: respx.MockRouter) -> None:
    respx_mock.post(URL).mock(side_effect=httpx.ConnectError("refused"))
    with pytest.raises(DeliveryError, match="ConnectError"):
        await sink().send(make_event())


def test_a_malformed_secret_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="whsec_ followed by base64"):
        sink(secret="whsec_not base64!")


OLD_SECRET = "whsec_" + base64.b64encode(b"the-old-secret-the-old-secret-!!").decode()


async def test_rotation_signs_with_both_secrets_until_the_old_one_goes(
    respx_mock: respx.MockRouter,
) -> None:
    route = respx_mock.post(URL).respond(204)
    event = make_event()
    await sink(previous=OLD_SECRET, clock=time.time).send(event)
    request = route.calls.last.request
    headers = dict(request.headers)
    assert len(headers["webhook-signature"].split(" ")) == 2
    # A receiver still on the old secret and one already on the new both accept it.
    for secret in (SECRET, OLD_SECRET):
        assert standardwebhooks.Webhook(secret).verify(request.content, headers) == event.to_dict()
    wrong = "whsec_" + base64.b64encode(b"somebody-else-somebody-else-!!!!").decode()
    with pytest.raises(standardwebhooks.webhooks.WebhookVerificationError):
        standardwebhooks.Webhook(wrong).verify(request.content, headers)


def test_a_previous_secret_alone_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="previous_secret: needs a secret as well"):
        sink(secret=None, previous=OLD_SECRET)
