"""The polling benchmark (benchmarks/polling.py) keeps working: its simulated web answers
like a well-behaved site, and a tiny run of the real ``watcher once`` goes through.
No timing is asserted: a test machine's speed says nothing about watcher's."""

from __future__ import annotations

import http.client
import json
from pathlib import Path

import pytest
import yaml

from benchmarks import polling
from benchmarks.newsweb import NewsWeb


def get(base: str, path: str, **headers: str) -> tuple[int, dict[str, str], bytes]:
    host = base.removeprefix("http://")
    conn = http.client.HTTPConnection(host, timeout=10)
    try:
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


def test_the_simulated_web_answers_like_a_careful_site() -> None:
    web = NewsWeb(2, 3, seed=1)
    with web.serve():
        base = web.sites[0].base
        status, headers, feed = get(base, "/feed.xml")
        assert status == 200 and feed.count(b"<item>") == 3
        article = web.sites[0].article(0)
        assert f"{base}/articles/{article.slug}?utm_source=rss".encode() in feed
        status, headers, page = get(base, f"/articles/{article.slug}")
        assert status == 200 and headers["Content-Type"].startswith("text/html")
        assert page == web.sites[0].page(article)  # the same bytes at every request
        assert f'<link rel="canonical" href="{base}/articles/{article.slug}">'.encode() in page
        assert (
            get(base, f"/articles/{article.slug}", **{"If-None-Match": headers["ETag"]})[0] == 304
        )
        since = headers["Last-Modified"]
        assert get(base, f"/articles/{article.slug}", **{"If-Modified-Since": since})[0] == 304
        assert get(base, f"/articles/{article.slug}", **{"If-None-Match": '"other"'})[0] == 200
        assert get(base, "/articles/00009-nope")[0] == 404
        assert get(base, "/robots.txt")[2].startswith(b"User-agent: *")
        assert web.sites[1].language != web.sites[0].language
        _cpu, answers = web.snapshot()
        assert answers[("article", 304)] == 2 and answers[("article", 404)] == 1


def test_urlwatch_jobs_are_one_document_per_page(tmp_path: Path) -> None:
    urls = ["http://127.0.0.1:1/articles/a", "http://127.0.0.1:1/articles/b"]
    jobs = list(
        yaml.safe_load_all(polling.write_urlwatch_jobs(tmp_path / "urls.yaml", urls).read_text())
    )
    assert [j["url"] for j in jobs] == urls
    assert jobs[0]["filter"] == [{"css": "div.article-body"}]


def test_a_tiny_run_goes_through(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "polling.json"
    argv = ["--sources", "3", "--articles", "3", "--skip-urlwatch", "--skip-steady"]
    assert polling.main([*argv, "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    runs = {r["name"]: r for r in report["runs"]}
    first, still = runs["watcher first pass"], runs["watcher no-change pass"]
    assert (first["pages"], first["stored"], first["requests"]) == (9, 9, 3 + 9 + 3)
    # Nothing changed: each feed answers 304 and no article is due for a re-check.
    assert (still["pages"], still["not_modified"], still["stored"]) == (0, 3, 9)
    rechecked = runs["watcher no-change pass, all re-checked"]
    assert (rechecked["pages"], rechecked["not_modified"]) == (0, 3 + 9)
    # The bare-client floor reads the same pages: GET only, then parsing, then extracting.
    floors = [
        runs[name] for name in (polling.FLOOR_GET, polling.FLOOR_PARSE, polling.FLOOR_EXTRACT)
    ]
    assert [(r["pages"], r["requests"], r["tool"]) for r in floors] == [(9, 9, "floor")] * 3
    assert [t["target"] for t in report["targets"]] == ["no-change CPU / first-pass CPU"]
    printed = capsys.readouterr().out
    assert "| watcher first pass |" in printed and "| target | goal |" in printed
    assert f"{polling.FLOOR_EXTRACT}: " in printed and " ms of CPU per page." in printed
