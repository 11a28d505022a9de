"""Slack sink: Block Kit validated by slack_sdk's models, plus the limits they don't check."""

from __future__ import annotations

import json
from typing import Any

import httpx
import respx
from slack_sdk.models.blocks import Block

from tests.factories import make_event
from watcher.config import Secret, SinkConfig
from watcher.models import Change, LinkedReport, VendorMatch
from watcher.notify.slack import MAX_BLOCKS, SlackSink, build_message, mark_words


def validate(message: dict[str, Any]) -> None:
    assert 0 < len(message["blocks"]) <= MAX_BLOCKS
    assert message["text"] and len(message["text"]) <= 3000
    for raw in message["blocks"]:
        block = Block.parse(raw)
        assert block is not None
        block.validate_json()  # raises SlackObjectFormationError past Slack's limits
        if raw["type"] == "section":
            assert len(raw["text"]["text"]) <= 3000
        for element in raw.get("elements", []):
            assert len(element.get("text", "")) <= 2000


def test_new_article_message() -> None:
    message = build_message(make_event())
    validate(message)
    header, link = message["blocks"][0], message["blocks"][1]
    assert header["text"]["text"] == "Cerner suspends design work"
    assert link["text"]["text"].startswith(
        "*<https://www.digitalhealth.net/2007/09/cerner-suspends/|Cerner suspends design work>*"
    )
    assert "Digital Health · 06 Sep 2007 · English" in link["text"]["text"]
    reason = message["blocks"][2]["text"]["text"]
    assert reason.startswith("*Oracle Health* (Cerner, Millennium)")
    assert ">Cerner has suspended design work on the Millennium platform." in reason
    assert "Oracle Health" in message["text"]


def test_update_marks_removed_and_added_sentences() -> None:
    change = Change(
        from_version=1, added=("It will cost £20m.",), removed=("It will cost £10m.",), diff="…"
    )
    message = build_message(make_event(event_type="article.updated", change=change))
    validate(message)
    body = json.dumps(message, ensure_ascii=False)
    assert "~It will cost £10m.~" in body and "*It will cost £20m.*" in body
    assert message["blocks"][0]["text"]["text"].startswith("Updated: ")
    assert "version 1 → 2" in body


def test_user_text_is_escaped() -> None:
    event = make_event(title="<b>Cerner</b> & <Epic>", text="a <script> & b")
    message = build_message(event)
    validate(message)
    link = message["blocks"][1]["text"]["text"]
    assert "&lt;b&gt;Cerner&lt;/b&gt; &amp; &lt;Epic&gt;" in link
    assert "<script>" not in json.dumps(message)


def test_huge_events_stay_within_slack_limits() -> None:
    vendors = tuple(
        VendorMatch(name=f"Vendor {i}", matched=("x" * 500,), snippets=("y" * 5000,))
        for i in range(80)
    )
    change = Change(
        from_version=1,
        added=tuple("a" * 900 for _ in range(40)),
        removed=tuple("r" * 900 for _ in range(40)),
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
    validate(build_message(event))


async def test_one_message_per_second_per_webhook(respx_mock: respx.MockRouter) -> None:
    route = respx_mock.post("https://hooks.slack.com/services/T/B/X").respond(200, text="ok")
    now = [100.0]
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)
        now[0] += seconds

    config = SinkConfig(
        id="slack",
        kind="slack",
        options=SlackSink.Options(url=Secret("https://hooks.slack.com/services/T/B/X")),
    )
    async with httpx.AsyncClient() as client:
        slack = SlackSink(config, client, clock=lambda: now[0], sleep=sleep)
        await slack.send(make_event())
        now[0] += 0.25
        await slack.send(make_event())
    assert route.call_count == 2 and waits == [0.75]
    assert json.loads(route.calls.last.request.content)["blocks"]


def test_edited_sentences_show_the_changed_words() -> None:
    change = Change(
        from_version=1,
        added=("Le contrat porte sur 2,5 millions d'euros.", "Une phrase ajoutée."),
        removed=("Le contrat porte sur 1,5 million d'euros.",),
        diff="",
        classes=("correction", "addition"),
        replaced=(
            (
                "Le contrat porte sur 1,5 million d'euros.",
                "Le contrat porte sur 2,5 millions d'euros.",
            ),
        ),
    )
    message = build_message(make_event(event_type="article.updated", change=change))
    validate(message)
    what = next(
        b["text"]["text"]
        for b in message["blocks"]
        if b["type"] == "section" and "What changed" in b["text"]["text"]
    )
    assert what.splitlines() == [
        "*What changed* (correction, addition)",
        "Le contrat porte sur ~1,5 million~ *2,5 millions* d'euros.",
        "*Une phrase ajoutée.*",
    ]


def test_mark_words_escapes_user_text() -> None:
    assert mark_words("a <b> & 1", "a <b> & 2") == "a &lt;b&gt; &amp; ~1~ *2*"


def test_linked_reports_show_their_differences() -> None:
    report = LinkedReport(
        url="https://fr.example/a",
        title="Nantes suspend Cerner",
        language="fr",
        source_id="dsih",
        only_here=("2024",),
        only_there=("2019",),
    )
    message = build_message(make_event(linked=(report,)))
    validate(message)
    text = json.dumps(message, ensure_ascii=False)
    assert "Same story in French: <https://fr.example/a|Nantes suspend Cerner>" in text
    assert "Only here: 2024 · only there: 2019" in text
