"""Discord sink: one embed within Discord's limits, no mention from article text, and
Discord's rate limits (headers, 429 bodies) followed."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import jsonschema
import pytest
import respx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.factories import NOW, make_event
from tests.strategies import HOSTILE, events
from watcher.config import Secret, SinkConfig
from watcher.errors import ConfigError, DeliveryError
from watcher.models import Change, Event, EventType, LinkedReport, SourceHealth, VendorMatch
from watcher.notify import summary
from watcher.notify.discord import (
    MAX_EMBED_TOTAL,
    DiscordSink,
    build_message,
    embed_size,
    escape,
)

URL = "https://discord.com/api/webhooks/123456789012345678/T0K3N-abcdefghijklmnop"
POSTED = f"{URL}?wait=true"


def _text(limit: int) -> dict[str, Any]:
    return {"type": "string", "maxLength": limit}


# Discord's execute-webhook limits as a schema (jsonschema counts code points, as
# Discord does); the 6,000-character total is checked by validate().
MESSAGE = {
    "type": "object",
    "required": ["embeds", "allowed_mentions"],
    "properties": {
        "content": {"type": "string", "minLength": 1, "maxLength": 2000},
        "username": _text(80),
        "allowed_mentions": {
            "type": "object",
            "required": ["parse"],
            "properties": {
                "parse": {"const": []},
                "roles": {"type": "array", "items": {"type": "string", "pattern": r"^\d+$"}},
            },
            "additionalProperties": False,
        },
        "embeds": {
            "type": "array",
            "minItems": 1,
            "maxItems": 10,
            "items": {
                "type": "object",
                "required": ["title"],
                "properties": {
                    "title": {"type": "string", "minLength": 1, "maxLength": 256},
                    "description": _text(4096),
                    "url": {"type": "string", "pattern": "^https?://", "maxLength": 2048},
                    "color": {"type": "integer", "minimum": 0, "maximum": 0xFFFFFF},
                    "timestamp": {
                        "type": "string",
                        "pattern": r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$",
                    },
                    "author": {
                        "type": "object",
                        "properties": {
                            "name": {"type": "string", "minLength": 1, "maxLength": 256}
                        },
                        "additionalProperties": False,
                    },
                    "footer": {
                        "type": "object",
                        "properties": {"text": _text(2048)},
                        "additionalProperties": False,
                    },
                    "fields": {
                        "type": "array",
                        "maxItems": 25,
                        "items": {
                            "type": "object",
                            "required": ["name", "value"],
                            "properties": {
                                "name": {"type": "string", "minLength": 1, "maxLength": 256},
                                "value": {"type": "string", "minLength": 1, "maxLength": 1024},
                                "inline": {"type": "boolean"},
                            },
                            "additionalProperties": False,
                        },
                    },
                },
                "additionalProperties": False,
            },
        },
    },
    "additionalProperties": False,
}
_UNESCAPE = re.compile(r"\\([^0-9A-Za-z\s])")


def validate(message: dict[str, Any]) -> dict[str, Any]:
    jsonschema.validate(message, MESSAGE)
    assert sum(embed_size(e) for e in message["embeds"]) <= MAX_EMBED_TOTAL
    embed: dict[str, Any] = message["embeds"][0]
    return embed


def unescape(text: str) -> str:
    """What Discord shows for escaped text: a backslash before punctuation vanishes."""
    return _UNESCAPE.sub(r"\1", text)


def sink(**options: Any) -> DiscordSink:
    config = SinkConfig(
        id="discord", kind="discord", options=DiscordSink.Options(url=Secret(URL), **options)
    )
    return DiscordSink(config, httpx.AsyncClient())


def test_new_article_embed() -> None:
    message = build_message(make_event())
    embed = validate(message)
    assert message["allowed_mentions"] == {"parse": []} and "content" not in message
    assert embed["title"] == "Cerner suspends design work"
    assert embed["url"] == "https://www.digitalhealth.net/2007/09/cerner-suspends/"
    assert embed["author"] == {"name": "Digital Health"}
    assert embed["description"] == (
        "Digital Health · 06 Sep 2007 · English\n\n"
        "Cerner has suspended design work on the Millennium platform."
    )
    assert embed["fields"] == [
        {
            "name": "Oracle Health",
            "value": "Cerner, Millennium\n> Cerner has suspended design work on the Millennium platform.",
        }
    ]
    assert embed["footer"] == {"text": "watcher · article.new · evt_test1"}
    assert embed["timestamp"] == "2026-11-23T10:00:00Z"


def test_an_update_strikes_what_went_and_bolds_what_came() -> None:
    change = Change(
        from_version=1,
        added=("Le contrat porte sur 2,5 millions d'euros.", "Une phrase ajoutée."),
        removed=("Le contrat porte sur 1,5 million d'euros.", "Une phrase retirée."),
        diff="",
        classes=("correction", "addition"),
        replaced=(
            (
                "Le contrat porte sur 1,5 million d'euros.",
                "Le contrat porte sur 2,5 millions d'euros.",
            ),
        ),
    )
    embed = validate(build_message(make_event(event_type="article.updated", change=change)))
    assert embed["title"] == "Updated: Cerner suspends design work"
    assert embed["description"].splitlines() == [
        "Digital Health · 06 Sep 2007 · English · version 1 → 2",
        "",
        "**What changed** (correction, addition)",
        "Le contrat porte sur ~~1,5 million~~ **2,5 millions** d'euros.",
        "~~Une phrase retirée.~~",
        "**Une phrase ajoutée.**",
    ]


def test_linked_reports_and_other_outlets_are_fields() -> None:
    report = LinkedReport(
        url="https://fr.example/a(1)",
        title="Nantes suspend [Cerner]",
        language="fr",
        source_id="dsih",
        only_here=("2024",),
        only_there=("2019",),
    )
    event = make_event(linked=(report,), also_seen_at=("https://other.example/x", "ftp://odd/x"))
    embed = validate(build_message(event))
    same, also = embed["fields"][1], embed["fields"][2]
    assert same == {
        "name": "Same story in French",
        "value": "[Nantes suspend \\[Cerner\\]](https://fr.example/a%281%29)\nOnly here: 2024 · only there: 2019",
    }
    assert also == {
        "name": "Also seen at",
        "value": "[other.example](https://other.example/x), odd",
    }


@pytest.mark.parametrize("hostile", HOSTILE)
def test_user_text_is_shown_literally(hostile: str) -> None:
    title = f"a {hostile} b"
    message = build_message(make_event(title=title, text=title))
    embed = validate(message)
    assert unescape(embed["title"]) == summary.printable(title)
    # Nothing in the message can ping: mentions are off, and no content is sent.
    assert message["allowed_mentions"] == {"parse": []} and "content" not in message


@given(st.text() | st.lists(st.sampled_from(HOSTILE)).map("".join))
def test_escaped_text_has_no_live_markdown(text: str) -> None:
    escaped = escape(text)
    assert unescape(escaped) == summary.printable(text)
    # Every markdown character is preceded by a backslash that is not itself escaped.
    live = re.sub(r"\\.", "x", escaped, flags=re.DOTALL)
    assert not re.search(r"[*_~`|\[\]()<>\\]", live)
    assert not re.search(r"(?m)^\s*([#>+-]|\d+\.)", live)


def test_mention_roles_are_the_only_pings() -> None:
    message = build_message(make_event(title="@everyone <@&1>"), roles=("123456789012345678",))
    validate(message)
    assert message["content"] == "<@&123456789012345678>"
    assert message["allowed_mentions"] == {"parse": [], "roles": ["123456789012345678"]}


def test_a_role_that_is_not_an_id_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="mention_roles: '@admins' is not a role id"):
        sink(mention_roles=("@admins",))


def test_huge_events_stay_within_discord_limits() -> None:
    vendors = tuple(
        VendorMatch(name=f"Vendor {i} " + "_" * 300, matched=("x" * 500,), snippets=("*" * 5000,))
        for i in range(80)
    )
    change = Change(
        from_version=1,
        added=tuple("a_" * 450 for _ in range(40)),
        removed=tuple("r*" * 450 for _ in range(40)),
        diff="",
    )
    event = make_event(
        event_type="article.updated",
        title="T" * 400,
        text="z" * 100_000,
        vendors=vendors,
        change=change,
        also_seen_at=tuple(f"https://site{i}.example/a" for i in range(50)),
        linked=tuple(
            LinkedReport(
                url="https://l.example/" + "p" * 3000, title="L" * 900, language="fr", source_id="x"
            )
            for _ in range(5)
        ),
    )
    embed = validate(build_message(event))
    assert len(embed["title"]) == 256 and embed["title"].endswith("…")
    assert "**What changed**" in embed["description"]
    assert embed["description"].count("~~") % 2 == 0  # no strike left open
    assert embed["footer"]["text"] == "watcher · article.updated · evt_test1"


def test_titles_are_cut_between_characters_not_inside_them() -> None:
    flags = "🇫🇷" * 200  # each flag is two code points
    embed = validate(build_message(make_event(title="x" + flags)))
    title = embed["title"]
    assert len(title) <= 256 and title.endswith("…")
    assert (len(title) - 2) % 2 == 0  # "x", whole flags, "…"
    skin = "👍🏽" * 200
    title = validate(build_message(make_event(title=skin)))["title"]
    assert title[:-1] == "👍🏽" * ((len(title) - 1) // 2)


@pytest.mark.parametrize("kind", ["source.unhealthy", "source.recovered"])
def test_health_events(kind: EventType) -> None:
    health = (
        SourceHealth("gone", 5, failing_since=NOW, last_error="HTTP 404 *gone*", next_poll_at=NOW)
        if kind == "source.unhealthy"
        else SourceHealth("ok", 0)
    )
    event = Event(
        id="evt_h",
        type=kind,
        created_at=NOW,
        source_id="dsih",
        source_name="DSIH",
        health=health,
    )
    embed = validate(build_message(event))
    assert embed["title"] == f"Source {kind.split('.')[1]}: DSIH"
    assert embed["footer"]["text"] == f"watcher · {kind} · dsih · evt_h"
    if kind == "source.unhealthy":
        assert embed["description"].splitlines() == [
            "**State:** gone · 5 failed polls in a row",
            "**Failing since:** 23 Nov 2026 10:00 UTC",
            "**Last error:** HTTP 404 \\*gone\\*",
            "**Next try:** 23 Nov 2026 10:00 UTC",
        ]
    else:
        assert "description" not in embed and "url" not in embed


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events())
def test_every_event_makes_a_valid_message(event: Event) -> None:
    validate(build_message(event))


async def test_posts_with_wait_true(respx_mock: respx.MockRouter) -> None:
    route = respx_mock.post(POSTED).respond(200, json={"id": "1"})
    await sink(username="watcher").send(make_event())
    body = json.loads(route.calls.last.request.content)
    assert validate(body)["title"] == "Cerner suspends design work"
    assert body["username"] == "watcher"


async def test_a_thread_id_in_the_url_is_kept() -> None:
    config = SinkConfig(
        id="d", kind="discord", options=DiscordSink.Options(url=Secret(URL + "?thread_id=42"))
    )
    with respx.mock(assert_all_called=True) as mock:
        mock.post(URL, params={"thread_id": "42", "wait": "true"}).respond(204)
        async with httpx.AsyncClient() as client:
            await DiscordSink(config, client).send(make_event())


@pytest.mark.parametrize(
    ("headers", "body", "expected"),
    [
        (
            {"Retry-After": "3"},
            {"message": "You are being rate limited.", "retry_after": 2.5, "global": False},
            3,
        ),
        (
            {"Retry-After": "1"},
            {"message": "You are being rate limited.", "retry_after": 64.57, "global": False},
            64.57,
        ),
        ({"Retry-After": "1.5"}, None, 1.5),
        ({"X-RateLimit-Reset-After": "7.25"}, None, 7.25),
    ],
)
async def test_429_is_retried_after_the_wait_discord_asks_for(
    respx_mock: respx.MockRouter, headers: dict[str, str], body: Any, expected: float
) -> None:
    respx_mock.post(POSTED).respond(429, headers=headers, json=body)
    with pytest.raises(DeliveryError) as caught:
        await sink().send(make_event())
    assert caught.value.retryable and caught.value.retry_after == expected
    assert "HTTP 429" in str(caught.value) and "T0K3N" not in str(caught.value)


async def test_a_permanent_refusal_says_why_without_the_token(respx_mock: respx.MockRouter) -> None:
    respx_mock.post(POSTED).respond(404, json={"message": "Unknown Webhook", "code": 10015})
    with pytest.raises(DeliveryError) as caught:
        await sink().send(make_event())
    assert str(caught.value) == "discord discord: HTTP 404 (10015 Unknown Webhook)"
    assert not caught.value.retryable


async def test_5xx_and_network_errors_are_retryable(respx_mock: respx.MockRouter) -> None:
    route = respx_mock.post(POSTED)
    route.side_effect = [
        httpx.Response(502, text="<html>bad gateway</html>"),
        httpx.ConnectError(URL),
    ]
    for expected in ("HTTP 502", "ConnectError"):
        with pytest.raises(DeliveryError) as caught:
            await sink().send(make_event())
        assert expected in str(caught.value) and caught.value.retryable
        assert "T0K3N" not in str(caught.value)


async def test_an_empty_rate_limit_bucket_delays_the_next_request(
    respx_mock: respx.MockRouter,
) -> None:
    route = respx_mock.post(POSTED)
    route.side_effect = [
        httpx.Response(
            200, headers={"X-RateLimit-Remaining": "0", "X-RateLimit-Reset-After": "1.5"}
        ),
        httpx.Response(
            200, headers={"X-RateLimit-Remaining": "0", "X-RateLimit-Reset-After": "120"}
        ),
    ]
    now = [0.0]
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)
        now[0] += seconds

    config = SinkConfig(id="discord", kind="discord", options=DiscordSink.Options(url=Secret(URL)))
    async with httpx.AsyncClient() as client:
        discord = DiscordSink(config, client, clock=lambda: now[0], sleep=sleep)
        await discord.send(make_event())
        await discord.send(make_event())  # slept 1.5 s first
        with pytest.raises(DeliveryError) as caught:  # 120 s: handed back to the outbox
            await discord.send(make_event())
    assert waits == [1.5] and route.call_count == 2
    assert caught.value.retry_after == pytest.approx(120)


def _readme_example(heading: str) -> Any:
    from pathlib import Path

    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme.split(heading, 1)[1]
    return json.loads(section.split("```json\n", 1)[1].split("```", 1)[0])


def test_the_readme_example_is_what_the_sink_sends() -> None:
    line = "The trust now expects to go live in December"
    change = Change(
        from_version=1,
        added=(f"{line} 2024.",),
        removed=(f"{line} 2019.",),
        diff="",
        classes=("correction",),
        replaced=((f"{line} 2019.", f"{line} 2024."),),
    )
    event = make_event(
        event_id="evt_bd7wlxi5slm7brvx3s6dj2ak", event_type="article.updated", change=change
    )
    assert _readme_example("### Discord message") == build_message(event)


def test_a_linked_report_with_long_lists_stays_within_the_field_limit() -> None:
    """Found by the property test above: a long linked title (600 characters of link)
    and both "only here / only there" lists (200 each) passed Discord's 1,024."""
    url = "https://www.digitalhealth.net/2007/09/cerner-suspends/"
    names = ("@everyone" * 10, "@everyone" * 12)
    linked = tuple(
        LinkedReport(url=url, title="é" * 2000, language=None, source_id="s", only_here=names,
                     only_there=names)
        for _ in range(2)
    )  # fmt: skip
    validate(build_message(make_event(linked=linked)))
