"""Teams sink: an Adaptive Card in a Workflows message, user text kept out of markdown,
Teams' 28 KB limit, and Teams' two ways of saying no."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import jsonschema
import pytest
import respx
from hypothesis import HealthCheck, given, settings

from tests.factories import make_event
from tests.strategies import HOSTILE, events
from watcher.config import Duration, Secret, SinkConfig
from watcher.errors import DeliveryError
from watcher.models import Change, Event, EventType, SourceHealth, VendorMatch
from watcher.notify.teams import MAX_BYTES, TeamsSink, build_message, encode, escape_markdown

URL = "https://prod-42.westeurope.logic.azure.com/workflows/abc/triggers/manual/paths/invoke?api-version=2016-06-01&sig=S1GN4TURE"

# The part of the Adaptive Card schema (adaptivecards.io, version 1.4) that this sink
# uses, closed, so that a misspelt property or value fails here rather than in Teams.
_SPACING = {"enum": ["none", "small", "default", "medium", "large", "extraLarge", "padding"]}
_OPEN_URL = {
    "type": "object",
    "required": ["type", "url"],
    "properties": {
        "type": {"const": "Action.OpenUrl"},
        "url": {"type": "string", "pattern": "^https?://", "maxLength": 2048},
        "title": {"type": "string"},
    },
    "additionalProperties": False,
}
TEXT_RUN = {
    "type": "object",
    "required": ["type", "text"],
    "properties": {
        "type": {"const": "TextRun"},
        "text": {"type": "string", "minLength": 1},
        "size": {"enum": ["default", "small", "medium", "large", "extraLarge"]},
        "weight": {"enum": ["default", "lighter", "bolder"]},
        "color": {"enum": ["default", "dark", "light", "accent", "good", "warning", "attention"]},
        "isSubtle": {"type": "boolean"},
        "italic": {"type": "boolean"},
        "strikethrough": {"type": "boolean"},
        "selectAction": _OPEN_URL,
    },
    "additionalProperties": False,
}
CARD_MESSAGE = {
    "type": "object",
    "required": ["type", "attachments"],
    "properties": {
        "type": {"const": "message"},
        "attachments": {
            "type": "array",
            "minItems": 1,
            "maxItems": 1,
            "items": {
                "type": "object",
                "required": ["contentType", "content"],
                "properties": {
                    "contentType": {"const": "application/vnd.microsoft.card.adaptive"},
                    "contentUrl": {"type": "null"},
                    "content": {
                        "type": "object",
                        "required": ["type", "version", "body"],
                        "properties": {
                            "$schema": {
                                "const": "http://adaptivecards.io/schemas/adaptive-card.json"
                            },
                            "type": {"const": "AdaptiveCard"},
                            "version": {"enum": ["1.4", "1.5"]},
                            "fallbackText": {"type": "string"},
                            "msteams": {"const": {"width": "Full"}},
                            "actions": {"type": "array", "items": _OPEN_URL},
                            "body": {
                                "type": "array",
                                "minItems": 1,
                                "items": {
                                    "type": "object",
                                    "required": ["type", "inlines"],
                                    "properties": {
                                        "type": {"const": "RichTextBlock"},
                                        "inlines": {
                                            "type": "array",
                                            "minItems": 1,
                                            "items": TEXT_RUN,
                                        },
                                        "spacing": _SPACING,
                                    },
                                    "additionalProperties": False,
                                },
                            },
                        },
                        "additionalProperties": False,
                    },
                },
                "additionalProperties": False,
            },
        },
    },
    "additionalProperties": False,
}


def validate(message: dict[str, Any]) -> dict[str, Any]:
    """Check a message against the card subset and the size limit; return the card."""
    jsonschema.validate(message, CARD_MESSAGE)
    assert len(encode(message)) <= MAX_BYTES
    card: dict[str, Any] = message["attachments"][0]["content"]
    return card


def runs(card: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for block in card["body"]:
        yield from block["inlines"]


def lines(card: dict[str, Any]) -> list[str]:
    return ["".join(run["text"] for run in block["inlines"]) for block in card["body"]]


def sink(**kwargs: Any) -> TeamsSink:
    options = TeamsSink.Options(url=Secret(URL), min_interval=Duration(0))
    return TeamsSink(
        SinkConfig(id="teams", kind="teams", options=options), httpx.AsyncClient(), **kwargs
    )


def test_new_article_card_reads_like_the_slack_message() -> None:
    card = validate(build_message(make_event()))
    assert lines(card) == [
        "Cerner suspends design work",
        "Digital Health · 06 Sep 2007 · English",
        "Oracle Health (Cerner, Millennium)",
        "“Cerner has suspended design work on the Millennium platform.”",
        "Cerner has suspended design work on the Millennium platform.",
        "watcher · article.new · evt_test1",
    ]
    title = card["body"][0]["inlines"][0]
    assert title["selectAction"]["url"] == "https://www.digitalhealth.net/2007/09/cerner-suspends/"
    assert card["actions"][0]["url"] == title["selectAction"]["url"]
    assert card["fallbackText"].startswith("New: Cerner suspends design work \\(Digital Health\\)")


def test_an_update_strikes_the_words_that_went_and_bolds_those_that_came() -> None:
    change = Change(
        from_version=1,
        added=("Le contrat porte sur 2,5 millions d'euros.", "Une phrase ajoutée."),
        removed=("Le contrat porte sur 1,5 million d'euros.", "Une phrase retirée."),
        diff="",
        classes=("correction",),
        replaced=(
            (
                "Le contrat porte sur 1,5 million d'euros.",
                "Le contrat porte sur 2,5 millions d'euros.",
            ),
        ),
    )
    card = validate(build_message(make_event(event_type="article.updated", change=change)))
    text = lines(card)
    assert text[0] == "Updated: Cerner suspends design work"
    assert "Digital Health · 06 Sep 2007 · English · version 1 → 2" in text
    start = text.index("What changed (correction)")
    assert text[start + 1 : start + 4] == [
        "Le contrat porte sur 1,5 million 2,5 millions d'euros.",
        "Une phrase retirée.",
        "Une phrase ajoutée.",
    ]
    edited = card["body"][start + 1]["inlines"]
    assert [r["text"] for r in edited if r.get("strikethrough")] == ["1,5 million"]
    assert [r["text"] for r in edited if r.get("weight") == "bolder"] == ["2,5 millions"]
    assert card["body"][start + 2]["inlines"][0]["strikethrough"] is True
    assert card["body"][start + 3]["inlines"][0]["color"] == "good"


def test_user_text_is_never_read_as_markdown() -> None:
    hostile = "**Cerner** [click](javascript:alert(1)) <at>everyone</at> {{DATE(2017-02-14T06:08:39Z, SHORT)}} _x_"
    card = validate(build_message(make_event(title=hostile, text=hostile)))
    # User text only ever goes into TextRuns, which take no markdown; the date
    # function Teams would evaluate is broken by an invisible word joiner.
    texts = [run["text"] for run in runs(card)]
    assert any(
        t.startswith("**Cerner** [click](javascript:alert(1)) <at>everyone</at> {\u2060{DATE(")
        for t in texts
    )
    assert not any("{{DATE" in t for t in texts)
    # The fallback text is markdown: every special character is escaped.
    assert (
        "\\*\\*Cerner\\*\\* \\[click\\]\\(javascript:alert\\(1\\)\\) \\<at\\>"
        in card["fallbackText"]
    )
    # A javascript: address never becomes a link.
    assert "javascript" not in json.dumps([r.get("selectAction") for r in runs(card)])


def test_escape_markdown_escapes_each_special_character() -> None:
    assert (
        escape_markdown("a*b_c[d](e)`f`#g~h<i>|j\\k")
        == "a\\*b\\_c\\[d\\]\\(e\\)\\`f\\`\\#g\\~h\\<i\\>\\|j\\\\k"
    )
    assert (
        escape_markdown("bell\x07 and {{TIME(2017-02-14T06:08:39Z)}}")
        == "bell and {\u2060{TIME\\(2017-02-14T06:08:39Z\\)}}"
    )


def test_huge_events_are_shortened_to_fit_28_kb() -> None:
    vendors = tuple(
        VendorMatch(name=f"Vendor {i}", matched=("é" * 500,), snippets=("中" * 5000,))
        for i in range(80)
    )
    change = Change(
        from_version=1,
        added=tuple("a" * 900 for _ in range(40)),
        removed=tuple("€" * 900 for _ in range(40)),
        diff="",
    )
    event = make_event(
        event_type="article.updated",
        title="T" * 400,
        text="z" * 100_000,
        vendors=vendors,
        change=change,
        also_seen_at=tuple(f"https://site{i}.example/a" for i in range(50)),
    )
    card = validate(build_message(event))
    assert lines(card)[0].startswith("Updated: TTT") and lines(card)[0].endswith("…")
    assert "What changed" in lines(card)
    assert lines(card)[-1] == "watcher · article.updated · evt_test1"


def test_cuts_never_split_a_character_drawn_as_one() -> None:
    family = "👨\u200d👩\u200d👧\u200d👦"
    title = "x" * 297 + family  # the cut at 300 falls inside the ZWJ sequence
    card = validate(build_message(make_event(title=title + " and more")))
    shown = card["body"][0]["inlines"][0]["text"]
    assert shown == "x" * 297 + "…"
    accented = "e\u0301" * 200  # "é" as letter + combining accent
    card = validate(build_message(make_event(title=accented)))
    shown = card["body"][0]["inlines"][0]["text"]
    assert shown.endswith("e\u0301…")


@pytest.mark.parametrize("kind", ["source.unhealthy", "source.recovered"])
def test_health_events(kind: EventType) -> None:
    from tests.factories import NOW

    health = (
        SourceHealth(
            "unreachable", 5, failing_since=NOW, last_error="cannot connect <b>", next_poll_at=NOW
        )
        if kind == "source.unhealthy"
        else SourceHealth("ok", 0)
    )
    event = Event(
        id="evt_h", type=kind, created_at=NOW, source_id="dsih", source_name="DSIH", health=health
    )
    card = validate(build_message(event))
    text = lines(card)
    if kind == "source.unhealthy":
        assert text[:5] == [
            "Source unhealthy: DSIH",
            "State: unreachable · 5 failed polls in a row",
            "Failing since: 23 Nov 2026 10:00 UTC",
            "Last error: cannot connect <b>",
            "Next try: 23 Nov 2026 10:00 UTC",
        ]
        assert card["body"][0]["inlines"][0]["color"] == "attention"
    else:
        assert text[0] == "Source recovered: DSIH"
        assert card["body"][0]["inlines"][0]["color"] == "good"
    assert text[-1] == f"watcher · {kind} · dsih · evt_h"
    assert "actions" not in card


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events())
def test_every_event_makes_a_valid_card_within_the_limit(event: Event) -> None:
    card = validate(build_message(event))
    for run in runs(card):
        assert "\x00" not in run["text"] and "{{DATE" not in run["text"].upper()


async def test_posts_the_card_as_json(respx_mock: respx.MockRouter) -> None:
    route = respx_mock.post(URL).respond(202)
    await sink().send(make_event())
    request = route.calls.last.request
    assert request.headers["content-type"] == "application/json"
    validate(json.loads(request.content))


@pytest.mark.parametrize(
    ("status", "headers", "retryable", "retry_after"),
    [
        (429, {"Retry-After": "17"}, True, 17),
        (503, {}, True, None),
        (502, {"Retry-After": "5"}, True, 5),
        (400, {}, False, None),
        (404, {}, False, None),
    ],
)
async def test_refusals_are_delivery_errors_without_the_url(
    respx_mock: respx.MockRouter,
    status: int,
    headers: dict[str, str],
    retryable: bool,
    retry_after: float | None,
) -> None:
    respx_mock.post(URL).respond(status, headers=headers, json={"error": {"code": "x"}})
    with pytest.raises(DeliveryError) as caught:
        await sink().send(make_event())
    error = caught.value
    assert (error.retryable, error.retry_after) == (retryable, retry_after)
    assert f"HTTP {status}" in str(error)
    assert "S1GN4TURE" not in str(error) and "logic.azure.com" not in str(error)


@pytest.mark.parametrize(("status", "retryable"), [(429, True), (413, False), (400, False)])
async def test_an_office_connector_refusal_hidden_in_a_200_is_a_refusal(
    respx_mock: respx.MockRouter, status: int, retryable: bool
) -> None:
    body = (
        "Webhook message delivery failed with error: Microsoft Teams endpoint returned "
        f"HTTP error {status} with ContextId tcid=0,server=msgapi-production-weu,cv=abc.0.."
    )
    respx_mock.post(URL).respond(200, text=body)
    with pytest.raises(DeliveryError) as caught:
        await sink().send(make_event())
    assert f"HTTP {status}, reported in a 200 answer" in str(caught.value)
    assert caught.value.retryable is retryable


async def test_an_office_connector_success_is_success(respx_mock: respx.MockRouter) -> None:
    respx_mock.post(URL).respond(200, text="1")
    await sink().send(make_event())


async def test_network_errors_are_delivery_errors(respx_mock: respx.MockRouter) -> None:
    respx_mock.post(URL).mock(side_effect=httpx.ConnectError(f"cannot reach {URL}"))
    with pytest.raises(DeliveryError, match="ConnectError") as caught:
        await sink().send(make_event())
    assert "S1GN4TURE" not in str(caught.value)


async def test_requests_are_spaced_by_min_interval(respx_mock: respx.MockRouter) -> None:
    respx_mock.post(URL).respond(202)
    now = [100.0]
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)
        now[0] += seconds

    options = TeamsSink.Options(url=Secret(URL), min_interval=Duration(1))
    async with httpx.AsyncClient() as client:
        teams = TeamsSink(
            SinkConfig(id="teams", kind="teams", options=options),
            client,
            clock=lambda: now[0],
            sleep=sleep,
        )
        await teams.send(make_event())
        now[0] += 0.4
        await teams.send(make_event())
    assert waits == [pytest.approx(0.6)]


def test_hostile_strings_survive_as_literal_text() -> None:
    for hostile in HOSTILE:
        card = validate(build_message(make_event(title=f"a {hostile} b")))
        shown = card["body"][0]["inlines"][0]["text"]
        if hostile in ("\x00", "\x1b[31m"):
            assert shown == f"a {hostile.replace(chr(0), '').replace(chr(27), '')} b"
        elif "{{DATE" not in hostile:
            assert shown == f"a {hostile} b"


def test_the_readme_example_is_a_valid_card() -> None:
    from pathlib import Path

    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    example = readme.split("### Teams card", 1)[1].split("```json\n", 1)[1].split("```", 1)[0]
    card = validate(json.loads(example))
    assert lines(card)[0] == "Updated: Cerner suspends design work"
