"""schema/webhook-event.schema.json says exactly what the webhook sink sends: every body
it emits validates (hand-made variants, generated events, and events made by the real
pipeline from a simulated site), and bodies that drift from it do not."""

from __future__ import annotations

import copy
import json
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
import respx
from hypothesis import HealthCheck, given, settings

from tests.factories import NOW, make_event
from tests.sim import SimArticle, SimSite
from tests.strategies import events
from tests.test_pipeline import CERNER, LONG, VENDORS, Clock
from watcher.config import (
    DeliverySettings,
    DigestConfig,
    Duration,
    HealthSettings,
    HttpSettings,
    Secret,
    SinkConfig,
    SourceConfig,
)
from watcher.fetch import Fetcher, make_client
from watcher.match import VendorMatcher
from watcher.models import (
    Change,
    Digest,
    Event,
    EventArticle,
    EventType,
    LinkedReport,
    SourceHealth,
    VendorMatch,
)
from watcher.notify.outbox import Outbox
from watcher.notify.webhook import WebhookSink, encode_body
from watcher.pipeline import Context, process_source
from watcher.store import Store

SCHEMA_PATH = Path(__file__).parents[2] / "schema" / "webhook-event.schema.json"
SCHEMA = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)
HOOK = "https://hooks.example/in/T0K3N"
DIGEST_HOOK = "https://hooks.example/digest/T0K3N"


def errors(body: Any) -> list[str]:
    return [f"{list(e.absolute_path)}: {e.message}" for e in VALIDATOR.iter_errors(body)]


def body_of(event: Event) -> Any:
    return json.loads(encode_body(event))


def test_the_schema_is_valid_draft_2020_12() -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    assert SCHEMA["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def _health(kind: EventType, health: SourceHealth | None) -> Event:
    return Event(
        id="evt_abcdefghijklmnopqrstuvwx",
        type=kind,
        created_at=NOW,
        source_id="dsih",
        source_name="DSIH",
        health=health,
    )


CHANGE = Change(
    from_version=1,
    added=("The trust now expects to go live in December 2024.",),
    removed=("The trust now expects to go live in December 2019.",),
    diff="--- version 1\n+++ version 2\n",
    classes=("correction",),
    replaced=(
        (
            "The trust now expects to go live in December 2019.",
            "The trust now expects to go live in December 2024.",
        ),
    ),
)
VARIANTS: dict[str, Event] = {
    "new": make_event(),
    "new, no vendor, no date, no language": Event(
        id="evt_x",
        type="article.new",
        created_at=NOW,
        source_id="s",
        source_name="",
        article=EventArticle(url="http://a.example/", title="", text="", version=1),
    ),
    "new, reprinted and told in French": make_event(
        also_seen_at=("https://other.example/reprise",),
        linked=(
            LinkedReport(
                url="https://fr.example/a",
                title="Nantes suspend Cerner",
                language="fr",
                source_id="dsih",
                only_here=("2024",),
                only_there=("2019",),
            ),
            LinkedReport(url="https://x.example/b", title="", language=None, source_id="x"),
        ),
    ),
    "updated": make_event(event_type="article.updated", change=CHANGE),
    "updated, empty change": make_event(
        event_type="article.updated", change=Change(from_version=3, added=(), removed=(), diff="")
    ),
    "updated, every class": make_event(
        event_type="article.updated",
        change=Change(
            from_version=1,
            added=("a",),
            removed=(),
            diff="",
            classes=("correction", "addition", "removal", "retitle", "rewrite", "paywall"),
        ),
        vendors=(VendorMatch("Dedalus", (), ()), VendorMatch("Oracle Health", ("Cerner",), ("…",))),
    ),
    "unhealthy": _health(
        "source.unhealthy",
        SourceHealth("unreachable", 5, NOW, "cannot connect", NOW + timedelta(hours=1)),
    ),
    "unhealthy, nothing known": _health("source.unhealthy", SourceHealth("failing", 5)),
    "recovered": _health("source.recovered", SourceHealth("ok", 0)),
    "health event stored without health": _health("source.recovered", None),
}


@pytest.mark.parametrize("name", list(VARIANTS))
def test_every_kind_of_event_validates(name: str) -> None:
    assert errors(body_of(VARIANTS[name])) == []


DIGEST = Digest(until=NOW, every="daily", timezone="Europe/Paris", events=tuple(VARIANTS.values()))


async def test_a_digest_validates_as_the_webhook_sends_it(respx_mock: respx.MockRouter) -> None:
    route = respx_mock.post(HOOK).respond(204)
    config = SinkConfig(id="d", kind="webhook", options=WebhookSink.Options(url=Secret(HOOK)))
    async with httpx.AsyncClient() as client:
        await WebhookSink(config, client).send_digest(DIGEST)
    body = json.loads(route.calls.last.request.content)
    assert body["type"] == "digest" and body["data"]["count"] == len(VARIANTS)
    assert errors(body) == []


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events())
def test_generated_events_validate(event: Event) -> None:
    assert errors(body_of(event)) == []
    digest = Digest(until=event.created_at, every="hourly", timezone="UTC", events=(event,))
    assert errors(digest.to_dict()) == []


def _set(path: str, value: Any) -> Callable[[Any], None]:
    def apply(body: Any) -> None:
        *parents, last = path.split(".")
        target = body
        for part in parents:
            target = target[int(part)] if part.isdigit() else target[part]
        key: Any = int(last) if last.isdigit() else last
        if value is KeyError:
            del target[key]
        else:
            target[key] = value

    return apply


DRIFT: dict[str, tuple[str, Callable[[Any], None]]] = {
    "unknown top-level key": ("new", _set("id", "evt_1")),
    "unknown data key": ("new", _set("data.score", 1)),
    "unknown article key": ("new", _set("data.article.author", "x")),
    "unknown vendor key": ("new", _set("data.vendors.0.count", 2)),
    "unknown change key": ("updated", _set("data.change.title_changed", True)),
    "unknown health key": ("unhealthy", _set("data.health.since", None)),
    "missing text": ("new", _set("data.article.text", KeyError)),
    "missing linked": ("new", _set("data.linked", KeyError)),
    "missing change": ("new", _set("data.change", KeyError)),
    "missing health": ("recovered", _set("data.health", KeyError)),
    "unknown type": ("new", _set("type", "article.deleted")),
    "timestamp with offset": ("new", _set("timestamp", "2026-11-23T10:00:00+00:00")),
    "version as text": ("new", _set("data.article.version", "1")),
    "version 0": ("new", _set("data.article.version", 0)),
    "a new article with a change": ("new", _set("data.change", CHANGE.to_dict())),
    "an update without a change": ("updated", _set("data.change", None)),
    "an update at version 1": ("updated", _set("data.article.version", 1)),
    "unknown change class": ("updated", _set("data.change.classes", ["typo"])),
    "an article event without article": ("new", _set("data.article", KeyError)),
    "a health event with an article": ("recovered", _set("data.article", {})),
    "a relative URL": ("new", _set("data.article.url", "/2007/09/cerner")),
    "event id without prefix": ("new", _set("data.event_id", "j3fsj7pwn5ku")),
    "negative failures": ("unhealthy", _set("data.health.failures", -1)),
}


DRIFT.update(
    {
        "unknown digest key": ("digest", _set("data.sink", "d")),
        "a digest without events": ("digest", _set("data.events", [])),
        "a digest counting none": ("digest", _set("data.count", 0)),
        "a digest with an event id": ("digest", _set("data.event_id", "evt_1")),
        "a digest in a digest": ("digest", _set("data.events.0", DIGEST.to_dict())),
        "a drifted event in a digest": ("digest", _set("data.events.1.data.score", 1)),
        "a weekly digest": ("digest", _set("data.every", "weekly")),
    }
)


@pytest.mark.parametrize("name", list(DRIFT))
def test_bodies_that_drift_from_the_schema_are_refused(name: str) -> None:
    variant, change = DRIFT[name]
    source = DIGEST.to_dict() if variant == "digest" else body_of(VARIANTS[variant])
    body = copy.deepcopy(source)
    change(body)
    assert errors(body), f"{name}: the schema let it through"


def test_the_readme_examples_validate() -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme.split("### Webhook payload", 1)[1].split("\n## ", 1)[0]
    blocks = [b.split("```", 1)[0] for b in section.split("```json\n")[1:]]
    new = json.loads(blocks[0])
    assert errors(new) == []
    updated = copy.deepcopy(new)
    updated["type"] = "article.updated"
    updated["data"]["article"]["version"] = 2
    updated["data"]["change"] = json.loads("{" + blocks[1].strip() + "}")["change"]
    assert errors(updated) == []


# --- the real pipeline, on a simulated site, delivering through the webhook sink ----

BASE = "https://sim.example"
EVERY_EVENT = ("article.new", "article.updated", "source.unhealthy", "source.recovered")


def _serve(respx_mock: respx.MockRouter, sim: SimSite, host: str) -> SimSite:
    def answer(request: httpx.Request) -> httpx.Response:
        response = sim.handle(request.url.raw_path.decode(), dict(request.headers))
        return httpx.Response(response.status, headers=response.headers, content=response.body)

    respx_mock.route(host=host).mock(side_effect=answer)
    return sim


@pytest.fixture
async def deliver(
    respx_mock: respx.MockRouter, store: Store
) -> AsyncIterator[tuple[Callable[..., Any], list[Any]]]:
    """Run the pipeline on a source, then deliver every due event to two webhook sinks,
    one sending at once and one an hourly digest; yields (run, bodies received)."""
    bodies: list[Any] = []

    def receive(request: httpx.Request) -> httpx.Response:
        bodies.append(json.loads(request.content))
        return httpx.Response(204)

    respx_mock.post(HOOK).mock(side_effect=receive)
    respx_mock.post(DIGEST_HOOK).mock(side_effect=receive)
    config = SinkConfig(
        id="hook",
        kind="webhook",
        events=EVERY_EVENT,
        options=WebhookSink.Options(url=Secret(HOOK)),
    )
    hourly = SinkConfig(
        id="hourly",
        kind="webhook",
        events=EVERY_EVENT,
        options=WebhookSink.Options(url=Secret(DIGEST_HOOK)),
        digest=DigestConfig(every="hourly", minute=30),
    )
    http = HttpSettings(host_delay=Duration(0), retries=0)
    clock = Clock()
    async with make_client(http) as client:
        outbox = Outbox(
            store,
            {"hook": WebhookSink(config, client), "hourly": WebhookSink(hourly, client)},
            DeliverySettings(),
            digests={"hourly": DigestConfig(every="hourly", minute=30)},
            clock=clock,
        )
        ctx = Context(
            fetch=Fetcher(client, http),
            store=store,
            matcher=VendorMatcher(VENDORS),
            sinks=(config, hourly),
            health=HealthSettings(unhealthy_after=2),
            clock=clock,
        )

        async def run(source: SourceConfig | None = None) -> None:
            if source is not None:
                await process_source(ctx, source, force=True)
            await outbox.deliver_due()
            clock.now += timedelta(hours=1)

        yield run, bodies


async def test_every_body_the_pipeline_sends_validates(
    respx_mock: respx.MockRouter, deliver: tuple[Callable[..., Any], list[Any]]
) -> None:
    from tests.test_stories import EN, FR

    run, bodies = deliver
    site = _serve(respx_mock, SimSite(base=BASE), "sim.example")
    other = _serve(respx_mock, SimSite(base="https://other.example"), "other.example")
    french = SourceConfig(
        id="sim", name="Sim Santé", kind="feed", url=f"{BASE}/feed.xml", language="fr",
        recheck_every=Duration(0),
    )  # fmt: skip
    english = SourceConfig(
        id="other", name="Other", kind="feed", url="https://other.example/feed.xml",
        language="en", recheck_every=Duration(0),
    )  # fmt: skip
    await run(french)  # baselines
    await run(english)
    # A new article, then an edit of it.
    article = site.add(SimArticle("a1", "Rennes choisit Cerner", list(CERNER)))
    await run(french)
    article.paragraphs = [CERNER[0], "Le contrat porte sur 2,5 millions d'euros et sur dix ans."]
    await run(french)
    # A reprint elsewhere (also_seen_at), and one story told in two languages (linked).
    site.add(SimArticle("a2", "Rennes choisit Cerner pour dix ans", list(LONG)))
    await run(french)
    other.add(SimArticle("reprise", "Cerner retenu", ["Article de notre partenaire.", *LONG]))
    await run(english)
    site.add(SimArticle("fr", FR[0], [FR[1]]))
    await run(french)
    other.add(SimArticle("en", EN[0], [EN[1]], language="en"))
    await run(english)
    # The English site goes down long enough to be reported, then comes back.
    other.failing["/feed.xml"] = 503
    await run(english)
    await run(english)
    del other.failing["/feed.xml"]
    await run(english)
    await run()  # the last hourly digest

    assert sorted({b["type"] for b in bodies}) == sorted((*EVERY_EVENT, "digest"))
    digested = [e for b in bodies if b["type"] == "digest" for e in b["data"]["events"]]
    assert len(digested) == len(bodies) - sum(b["type"] == "digest" for b in bodies)
    assert any(b["data"].get("linked") for b in bodies)
    for body in bodies:
        assert errors(body) == [], body["type"]
