"""The daemon's HTTP endpoints, in process: a real Watcher.run() on an ephemeral port,
a simulated site behind respx, answers read with httpx and Prometheus' own parser."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import respx
from prometheus_client.parser import text_string_to_metric_families

from tests.sim import SimArticle, SimSite
from watcher import config
from watcher.daemon import Watcher
from watcher.service import Answer, Service

CONFIG = """
settings:
  http: {host_delay: 0s, retries: 0}
defaults:
  interval: 1h
vendors:
  - name: Oracle Health
    aliases: [Cerner]
sources:
  - id: sim
    url: https://sim.example/feed.xml
    language: fr
  - id: down
    url: https://down.example/feed.xml
sinks:
  - id: log
    kind: log
"""


class Running:
    def __init__(self, watcher: Watcher, base: str) -> None:
        self.watcher, self.base = watcher, base

    async def get(self, path: str) -> httpx.Response:
        async with httpx.AsyncClient(base_url=self.base) as client:
            return await client.get(path)


@pytest.fixture
async def running(tmp_path: Path) -> AsyncIterator[Running]:
    path = tmp_path / "sources.yaml"
    path.write_text(CONFIG)
    settings = config.load(path)
    site = SimSite(base="https://sim.example")
    site.add(SimArticle("a1", "Rennes choisit Cerner", ["Le CHU de Rennes a choisi Cerner."]))

    def answer(request: httpx.Request) -> httpx.Response:
        got = site.handle(request.url.raw_path.decode(), dict(request.headers))
        return httpx.Response(got.status, headers=got.headers, content=got.body)

    stop = asyncio.Event()
    with respx.mock(assert_all_called=False) as mock:
        mock.route(host="127.0.0.1").pass_through()
        mock.route(host="sim.example").mock(side_effect=answer)
        mock.route(host="down.example").mock(return_value=httpx.Response(503))
        async with Watcher(settings, tmp_path / "state") as watcher:
            task = asyncio.create_task(watcher.run(stop, http=("127.0.0.1", 0)))
            await watcher.running.wait()
            assert watcher.service is not None
            await asyncio.wait_for(watcher.wait_polls(2), timeout=10)  # both sources, once
            try:
                yield Running(watcher, f"http://127.0.0.1:{watcher.service.port}")
            finally:
                stop.set()
                await task


async def test_healthz_is_alive_while_the_scheduler_runs(running: Running) -> None:
    response = await running.get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}
    assert response.headers["cache-control"] == "no-store"


async def test_readyz_after_a_successful_poll(running: Running) -> None:
    response = await running.get("/readyz")
    assert response.status_code == 200, response.json()
    assert response.json() == {
        "ready": True,
        "checks": {"database": "ok", "scheduler": "ok", "polls": "ok"},
    }


async def test_readyz_is_503_until_a_source_answers(tmp_path: Path) -> None:
    path = tmp_path / "sources.yaml"
    path.write_text(CONFIG.replace("https://sim.example/feed.xml", "https://down.example/x"))
    stop = asyncio.Event()
    with respx.mock(assert_all_called=False) as mock:
        mock.route(host="127.0.0.1").pass_through()
        mock.route(host="down.example").mock(return_value=httpx.Response(503))
        async with Watcher(config.load(path), tmp_path / "state") as watcher:
            task = asyncio.create_task(watcher.run(stop, http=("127.0.0.1", 0)))
            await watcher.running.wait()
            await asyncio.wait_for(watcher.wait_polls(2), timeout=10)
            assert watcher.service is not None
            async with httpx.AsyncClient() as client:
                response = await client.get(f"http://127.0.0.1:{watcher.service.port}/readyz")
            stop.set()
            await task
    assert response.status_code == 503
    assert response.json()["checks"]["polls"] == "starting: no successful poll yet"


async def test_metrics_parse_as_prometheus_text(running: Running) -> None:
    response = await running.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    families = {f.name: f for f in text_string_to_metric_families(response.text)}
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in families.values()
        for s in family.samples
    }
    assert samples[("watcher_polls_total", (("outcome", "ok"), ("source", "sim")))] == 1
    assert samples[("watcher_polls_total", (("outcome", "unreachable"), ("source", "down")))] == 1
    assert samples[("watcher_articles_total", (("outcome", "new"), ("source", "sim")))] == 1
    assert samples[("watcher_http_responses_total", (("status", "200"),))] >= 2
    assert samples[("watcher_http_responses_total", (("status", "503"),))] >= 1
    assert samples[("watcher_fetch_duration_seconds_count", ())] >= 3
    assert samples[("watcher_source_up", (("source", "sim"),))] == 1
    assert samples[("watcher_source_up", (("source", "down"),))] == 0
    assert samples[("watcher_source_state", (("source", "down"), ("state", "unreachable")))] == 1
    assert samples[("watcher_source_consecutive_failures", (("source", "down"),))] == 1
    assert "watcher_outbox_oldest_pending_age_seconds" in families
    assert "watcher_events" in families and "watcher_robots_blocked" in families


async def test_status_shows_each_source_and_sink(running: Running) -> None:
    body = (await running.get("/status")).json()
    by_id = {s["id"]: s for s in body["sources"]}
    assert by_id["sim"]["state"] == "ok" and by_id["sim"]["articles"] == 1
    assert by_id["down"]["state"] == "unreachable" and "503" in by_id["down"]["last_error"]
    # Both have a next poll: the healthy one's from the schedule, the failing one's backoff.
    assert by_id["sim"]["next_poll_at"] and by_id["down"]["next_poll_at"]
    assert body["sinks"]["log"] == {
        "pending": 0, "dead": 0, "sent": 0, "oldest_pending_at": None,
    }  # fmt: skip
    assert body["version"] and body["started_at"]


async def test_unknown_paths_and_methods(running: Running) -> None:
    missing = await running.get("/nope")
    assert missing.status_code == 404 and "/metrics" in missing.json()["paths"]
    async with httpx.AsyncClient(base_url=running.base) as client:
        posted = await client.post("/healthz")
        head = await client.head("/healthz")
    assert posted.status_code == 405
    assert head.status_code == 200 and head.content == b""


async def test_a_crashing_endpoint_answers_500_and_the_server_lives_on() -> None:
    async def broken() -> Answer:
        raise RuntimeError("bug")

    async def fine() -> Answer:
        return Answer.json(200, {"fine": True})

    service = Service({"/broken": broken, "/fine": fine}, "127.0.0.1", 0)
    await service.start()
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{service.port}") as client:
            assert (await client.get("/broken")).status_code == 500
            assert (await client.get("/fine")).json() == {"fine": True}
            # Garbage instead of HTTP: the connection is dropped, nothing else happens.
            reader, writer = await asyncio.open_connection("127.0.0.1", service.port)
            writer.write(b"\x00\x01 not http\r\n\r\n")
            await writer.drain()
            assert await reader.read() in (b"", b"HTTP/1.1 400 ")  # closed
            writer.close()
            assert (await client.get("/fine")).status_code == 200
    finally:
        await service.aclose()


def test_answer_json_is_pretty_and_terminated() -> None:
    answer = Answer.json(200, {"a": "é"})
    assert json.loads(answer.body) == {"a": "é"} and answer.body.endswith(b"\n")
