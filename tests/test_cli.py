"""The CLI: thin, documented, one red line per user error, exit codes that mean something."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import click
import httpx
import pytest
import respx
from click.testing import CliRunner

from tests.sim import SimArticle, SimSite
from watcher.cli import cli

Write = Callable[..., Path]

CONFIG = """
settings:
  http: {host_delay: 0s, retries: 0}
vendors:
  - name: Oracle Health
    aliases: [Cerner]
sources:
  - id: sim
    name: Sim Santé
    url: https://sim.example/feed.xml
    language: fr
sinks:
  - id: log
    kind: log
"""


def commands(group: click.Group) -> list[tuple[str, click.Command]]:
    return sorted(group.commands.items())


@pytest.mark.parametrize(("name", "command"), commands(cli))
def test_every_command_has_help_with_an_example(name: str, command: click.Command) -> None:
    result = CliRunner().invoke(cli, [name, "--help"])
    assert result.exit_code == 0
    assert command.help and "Example:" in command.help, (
        f"watcher {name} needs an Example in its help"
    )


def test_check_prints_what_would_run(write_config: Write, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli, ["--config", str(write_config(CONFIG)), "--state", str(tmp_path), "check"]
    )
    assert result.exit_code == 0, result.output
    assert "sim" in result.output and "https://sim.example/feed.xml" in result.output
    assert "Oracle Health: Oracle Health, Cerner" in result.output
    assert "configuration OK" in result.output


def test_config_errors_exit_2_with_one_line_per_problem(write_config: Write) -> None:
    path = write_config("sources:\n  - id: a\n    url: https://a.example/\n    intervall: 5m\n")
    result = CliRunner().invoke(cli, ["--config", str(path), "check"])
    assert result.exit_code == 2
    assert result.output.strip() == (
        'error: sources.yaml:4: source "a": unknown key "intervall" (did you mean "interval"?)'
    )


def test_config_path_from_the_environment(write_config: Write, tmp_path: Path) -> None:
    path = write_config(CONFIG)
    result = CliRunner().invoke(
        cli, ["check"], env={"WATCHER_CONFIG": str(path), "WATCHER_STATE": str(tmp_path)}
    )
    assert result.exit_code == 0 and str(tmp_path / "watcher.db") in result.output


def test_unknown_source_id_is_a_user_error(write_config: Write, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli,
        [
            "--config",
            str(write_config(CONFIG)),
            "--state",
            str(tmp_path),
            "once",
            "--source",
            "nope",
        ],
    )
    assert result.exit_code == 2 and "no source with id 'nope'" in result.output


def test_unusable_state_directory_exits_1(write_config: Write, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    result = CliRunner().invoke(
        cli, ["--config", str(write_config(CONFIG)), "--state", str(blocker / "s"), "once"]
    )
    assert result.exit_code == 1 and "cannot open the state database" in result.output


def test_once_polls_and_reports(write_config: Write, tmp_path: Path) -> None:
    site = SimSite(base="https://sim.example")
    site.add(
        SimArticle(
            "a1", "Rennes choisit Cerner", ["Le CHU de Rennes a choisi Cerner pour son DPI."]
        )
    )
    args = [
        "--config",
        str(write_config(CONFIG)),
        "--state",
        str(tmp_path / "state"),
        "--log-level",
        "warning",
        "once",
    ]
    with respx.mock:
        respx.route(host="sim.example").mock(side_effect=lambda request: _answer(site, request))
        first = CliRunner().invoke(cli, args)
        site.add(
            SimArticle(
                "a2", "Nantes choisit Cerner", ["Le CHU de Nantes a choisi Cerner à son tour."]
            )
        )
        second = CliRunner().invoke(cli, args)
    assert first.exit_code == 0, first.output
    assert "ok (baseline)" in first.output
    assert second.exit_code == 0, second.output
    assert "[article.new] Sim Santé: Nantes choisit Cerner" in second.output  # the log sink
    assert "delivered: 1 sent, 0 to retry, 0 dead" in second.output


def test_once_table_columns_line_up_whatever_the_status(
    write_config: Write, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from datetime import UTC, datetime

    from watcher.daemon import RunReport
    from watcher.pipeline import SourceReport

    async def run_once(self: object, *args: object, **kwargs: object) -> RunReport:
        return RunReport(
            sources=[
                SourceReport("sim-sante", baseline=True, entries=3, counts={"new": 3}),
                SourceReport(
                    "broken", baseline=True, backing_off=datetime(2026, 11, 24, tzinfo=UTC)
                ),
                SourceReport("blocked", ok=False, state="blocked by bot protection"),
            ]
        )

    monkeypatch.setattr("watcher.daemon.Watcher.run_once", run_once)
    args = ["--config", str(write_config(CONFIG)), "--state", str(tmp_path / "state"), "once"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    header, *rows = [line for line in result.output.splitlines() if line[:1].strip()][:4]
    end = header.index("entries") + len("entries")
    assert [row[:end].split()[-1] for row in rows] == ["3", "0", "0"]
    assert "backing off (baseline)" not in result.output
    assert "blocked by bot protection" in rows[2]


def _answer(site: SimSite, request: httpx.Request) -> httpx.Response:
    answer = site.handle(request.url.raw_path.decode(), dict(request.headers))
    return httpx.Response(answer.status, headers=answer.headers, content=answer.body)


def test_extract_a_saved_page_shows_body_and_dropped_blocks(tmp_path: Path) -> None:
    page = Path(__file__).parent / "fixtures" / "articles" / "readability" / "lemonde-1.html.gz"
    result = CliRunner().invoke(
        cli,
        [
            "--config",
            str(tmp_path / "none.yaml"),
            "extract",
            str(page),
            "--url",
            "https://www.lemonde.fr/a",
        ],
    )
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "Le projet de loi sur le renseignement massivement approuvé à l'Assemblée"
    assert "language:   fr" in lines and "published:  2015-05-04T11:36:31Z" in lines
    assert "Les députés ont, sans surprise, adopté à une large majorité" in result.output
    assert "[boilerplate 'lire aussi'] Lire aussi : Les critiques de la CNIL" in result.output


def test_extract_as_json_with_a_sources_rules(write_config: Write, tmp_path: Path) -> None:
    config = write_config(
        """
        sources:
          - id: site
            url: https://site.example/feed
            extract: {body: "div.story", remove: [".promo"]}
        """
    )
    page = tmp_path / "page.html"
    page.write_text(
        "<div class=story><p>Le texte de l'article.</p><p class=promo>Abonnez-vous</p></div><p>Autre</p>"
    )
    result = CliRunner().invoke(
        cli, ["--config", str(config), "extract", "--json", "--source", "site", str(page)]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["paragraphs"] == ["Le texte de l'article."]
    assert data["removed"] == [{"reason": "configured remove", "text": "Abonnez-vous"}]


def test_extract_a_missing_file_is_one_clear_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli, ["--config", str(tmp_path / "none.yaml"), "extract", str(tmp_path / "nope.html")]
    )
    assert result.exit_code == 1 and "nope.html: No such file or directory" in result.output


def test_extract_a_pdf_says_it_is_not_a_page(tmp_path: Path) -> None:
    # Feeds link to reports: a PDF read as text would be one paragraph of garbage.
    pdf = tmp_path / "rapport.pdf"
    pdf.write_bytes(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\n(Cerner)\n")
    result = CliRunner().invoke(cli, ["--config", str(tmp_path / "none.yaml"), "extract", str(pdf)])
    assert result.exit_code == 1
    assert "rapport.pdf: refused: not an HTML page (a PDF file)" in result.output


async def test_extract_url_refuses_an_image_labelled_html(respx_mock: respx.MockRouter) -> None:
    from watcher.config import Duration, HttpSettings
    from watcher.pipeline import extract_url

    respx_mock.get("https://news.example/photo").respond(
        200,
        content=b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01Cerner Oracle Health" * 20,
        headers={"Content-Type": "text/html"},
    )
    result = await extract_url(
        "https://news.example/photo", HttpSettings(retries=0, host_delay=Duration(0))
    )
    assert result.article.paragraphs == ()
    assert [r.reason for r in result.article.removed] == [
        "refused: not an HTML page (binary content)"
    ]


async def test_extract_url_fetches_and_extracts(respx_mock: respx.MockRouter) -> None:
    from watcher.config import Duration, HttpSettings
    from watcher.pipeline import extract_url

    respx_mock.get("https://news.example/a").respond(
        200,
        content="<html lang=fr><body><article><h1>Titre</h1><p>Un paragraphe de l’article, assez long pour être retenu.</p></article></body></html>".encode(
            "cp1252"
        ),
        headers={"Content-Type": "text/html; charset=iso-8859-1"},
    )
    result = await extract_url(
        "https://news.example/a", HttpSettings(retries=0, host_delay=Duration(0))
    )
    assert result.encoding == "cp1252" and result.status == 200
    assert result.article.paragraphs == (
        "Un paragraphe de l’article, assez long pour être retenu.",
    )


def test_diff_shows_versions_and_the_change(tmp_path: Path) -> None:
    from watcher.diff import compare, content_hash
    from watcher.models import Article
    from watcher.store import NewVersion, Store

    store = Store.open(tmp_path / "state")
    texts = [
        "Le CHU de Rennes a choisi Cerner. Le contrat porte sur 1,5 million d'euros.",
        "Le CHU de Rennes a choisi Cerner. Le contrat porte sur 2,5 millions d'euros.",
    ]
    from tests.factories import NOW

    for number, text in enumerate(texts, start=1):
        change = compare("T", texts[0], "T", text, from_version=1) if number == 2 else None
        store.record_article(
            source_id="s", url="https://a.example/x", aliases=(), silent=False, etag=None,
            last_modified=None, entry_updated_at=None,
            article=Article(url="https://a.example/x", title="Rennes choisit Cerner", paragraphs=(text,)),
            version=NewVersion(number=number, title="Rennes choisit Cerner", text=text,
                               content_hash=content_hash("T", text), fetched_at=NOW, change=change, vendors=()),
        )  # fmt: skip
    store.close()
    result = CliRunner().invoke(
        cli, ["--state", str(tmp_path / "state"), "diff", "https://a.example/x?utm_source=rss"]
    )
    assert result.exit_code == 0, result.output
    assert "change: correction" in result.output
    assert "-Le contrat porte sur 1,5 million d'euros." in result.output
    assert "+Le contrat porte sur 2,5 millions d'euros." in result.output
    same = CliRunner().invoke(
        cli, ["--state", str(tmp_path / "state"), "diff", "--from", "2", "https://a.example/x"]
    )
    assert same.output.endswith("version 2 is compared with itself: give --from and --to\n")
    missing = CliRunner().invoke(
        cli, ["--state", str(tmp_path / "state"), "diff", "--from", "7", "https://a.example/x"]
    )
    assert missing.exit_code == 1 and "no version 7 (stored: 1, 2)" in missing.output
    unknown = CliRunner().invoke(
        cli, ["--state", str(tmp_path / "state"), "diff", "https://a.example/nope"]
    )
    assert (
        unknown.exit_code == 1 and "no stored article for https://a.example/nope" in unknown.output
    )


def test_diff_of_an_article_with_one_version_says_there_is_nothing_to_compare(
    tmp_path: Path,
) -> None:
    from tests.factories import NOW
    from watcher.diff import content_hash
    from watcher.models import Article
    from watcher.store import NewVersion, Store

    store = Store.open(tmp_path / "state")
    text = "Le CHU de Rennes a choisi Cerner."
    store.record_article(
        source_id="s", url="https://a.example/x", aliases=(), silent=False, etag=None,
        last_modified=None, entry_updated_at=None,
        article=Article(url="https://a.example/x", title="T", paragraphs=(text,)),
        version=NewVersion(number=1, title="T", text=text, content_hash=content_hash("T", text),
                           fetched_at=NOW, change=None, vendors=()),
    )  # fmt: skip
    store.close()
    result = CliRunner().invoke(
        cli, ["--state", str(tmp_path / "state"), "diff", "https://a.example/x"]
    )
    assert result.exit_code == 0, result.output
    assert result.output.endswith("only one version is stored: nothing to compare yet\n")
    assert "versions 1 and 1" not in result.output


def test_sources_shows_each_sources_health(write_config: Write, tmp_path: Path) -> None:
    config = write_config(
        CONFIG.replace(
            "sinks:",
            "  - id: gone\n    url: https://gone.example/feed.xml\n"
            "  - id: later\n    url: https://later.example/feed.xml\n    enabled: false\nsinks:",
        )
    )
    state = tmp_path / "state"
    base = ["--config", str(config), "--state", str(state), "--log-level", "error"]
    before = CliRunner().invoke(cli, [*base, "sources"])
    assert before.exit_code == 1 and "no state database" in before.output
    site = SimSite(base="https://sim.example")
    site.add(SimArticle("a1", "Rennes choisit Cerner", ["Le CHU de Rennes a choisi Cerner."]))
    with respx.mock:
        respx.route(host="sim.example").mock(side_effect=lambda request: _answer(site, request))
        respx.route(host="gone.example").mock(return_value=httpx.Response(410))
        assert CliRunner().invoke(cli, [*base, "once"]).exit_code == 0
    table = CliRunner().invoke(cli, [*base, "sources"])
    assert table.exit_code == 0, table.output
    lines = {line.split()[0]: line for line in table.output.splitlines()[2:] if line.strip()}
    assert lines["sim"].split()[1:3] == ["feed", "ok"]
    assert lines["gone"].split()[1:3] == ["feed", "gone"] and "HTTP 410" in lines["gone"]
    assert "new (disabled)" in lines["later"]
    rows = [
        json.loads(line)
        for line in CliRunner().invoke(cli, [*base, "sources", "--json"]).output.splitlines()
    ]
    by_id = {row["id"]: row for row in rows}
    assert by_id["sim"]["state"] == "ok" and by_id["sim"]["articles"] == 1
    assert by_id["gone"]["failures"] == 1 and by_id["gone"]["next_poll_at"] is not None
    assert by_id["later"] == by_id["later"] | {"state": "new", "enabled": False, "articles": 0}


def test_check_discover_finds_the_feed_a_home_page_announces(
    write_config: Write, tmp_path: Path
) -> None:
    config = write_config(
        CONFIG.replace("url: https://sim.example/feed.xml", "url: https://sim.example/").replace(
            "sinks:", "  - id: gone\n    url: https://gone.example/feed.xml\nsinks:"
        )
    )
    site = SimSite(base="https://sim.example")
    site.add(SimArticle("a1", "Rennes choisit Cerner", ["Le CHU de Rennes a choisi Cerner."]))
    with respx.mock:
        respx.route(host="sim.example").mock(side_effect=lambda request: _answer(site, request))
        respx.route(host="gone.example").mock(return_value=httpx.Response(404))
        result = CliRunner().invoke(
            cli, ["--config", str(config), "--state", str(tmp_path), "check", "--discover"]
        )
    assert result.exit_code == 1, result.output  # a source fails: scripts can tell
    assert (
        "sim   1 entries from the feed it announces, https://sim.example/feed.xml" in result.output
    )
    assert "- Rennes choisit Cerner" in result.output
    assert "gone  gone: HTTP 404" in result.output
    assert not (tmp_path / "watcher.db").exists()  # nothing stored


def test_outbox_lists_dead_events_and_deliver_retry_dead_replays_them(
    write_config: Write, tmp_path: Path
) -> None:
    config = write_config(
        CONFIG.replace(
            "  - id: log\n    kind: log\n",
            "  - id: hook\n    kind: webhook\n    url: https://hook.example/in\n",
        )
    )
    base = ["--config", str(config), "--state", str(tmp_path / "state"), "--log-level", "error"]
    site = SimSite(base="https://sim.example")
    site.add(SimArticle("a1", "Rennes choisit Cerner", ["Le CHU de Rennes a choisi Cerner."]))
    with respx.mock:
        respx.route(host="sim.example").mock(side_effect=lambda request: _answer(site, request))
        hook = respx.post("https://hook.example/in").mock(return_value=httpx.Response(404))
        assert CliRunner().invoke(cli, [*base, "once"]).exit_code == 0  # baseline
        site.add(SimArticle("a2", "Nantes choisit Cerner", ["Le CHU de Nantes a choisi Cerner."]))
        second = CliRunner().invoke(cli, [*base, "once"])
        assert "delivered: 0 sent, 0 to retry, 1 dead" in second.output
        listing = CliRunner().invoke(cli, [*base, "outbox"])
        assert listing.exit_code == 0, listing.output
        assert "hook: 0 pending, 1 dead, 0 sent" in listing.output
        assert "Nantes choisit Cerner" in listing.output and "HTTP 404" in listing.output
        (row,) = [
            json.loads(line)
            for line in CliRunner().invoke(cli, [*base, "outbox", "--json"]).output.splitlines()
        ]
        assert row["status"] == "dead" and row["type"] == "article.new"
        plain = CliRunner().invoke(cli, [*base, "deliver"])
        assert plain.exit_code == 0 and "delivered: 0 sent" in plain.output  # dead stays dead
        hook.mock(return_value=httpx.Response(204))
        unknown = CliRunner().invoke(cli, [*base, "deliver", "--retry-dead", "--sink", "nope"])
        assert unknown.exit_code == 2 and "no sink with id 'nope' (sinks: hook)" in unknown.output
        replay = CliRunner().invoke(cli, [*base, "deliver", "--retry-dead", "--sink", "hook"])
    assert replay.exit_code == 0, replay.output
    assert "requeued: 1 dead events" in replay.output and "delivered: 1 sent" in replay.output
    assert hook.calls.last.request.headers["webhook-id"] == row["event_id"]
    after = CliRunner().invoke(cli, [*base, "outbox"])
    assert "hook: 0 pending, 0 dead, 1 sent" in after.output and "nothing waiting" in after.output


def test_notify_test_sends_a_sample_and_never_prints_secrets(
    write_config: Write, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import base64

    import standardwebhooks

    secret = "whsec_" + base64.b64encode(b"notify-test-secret-notify-test!!").decode()
    monkeypatch.setenv("HOOK_URL", "https://hook.example/in/S3CR3T-T0KEN")
    monkeypatch.setenv("HOOK_SECRET", secret)
    config = write_config(
        CONFIG.replace(
            "  - id: log\n    kind: log\n",
            "  - id: hook\n    kind: webhook\n    url: ${HOOK_URL}\n    secret: ${HOOK_SECRET}\n"
            "  - id: chat\n    kind: slack\n    url: https://hooks.slack.example/services/XOXB\n",
        )
    )
    base = ["--config", str(config), "--state", str(tmp_path / "state"), "--log-level", "debug"]
    with respx.mock:
        hook = respx.post("https://hook.example/in/S3CR3T-T0KEN").mock(
            return_value=httpx.Response(200)
        )
        slack = respx.post("https://hooks.slack.example/services/XOXB").mock(
            return_value=httpx.Response(200)
        )
        ok = CliRunner().invoke(cli, [*base, "notify-test", "hook", "--type", "article.updated"])
        digest = CliRunner().invoke(cli, [*base, "notify-test", "chat", "--digest"])
        hook.mock(return_value=httpx.Response(500))
        failed = CliRunner().invoke(cli, [*base, "notify-test", "hook"])
        unknown = CliRunner().invoke(cli, [*base, "notify-test", "nope"])
    assert ok.exit_code == 0, ok.output
    assert "hook: delivered a sample article.updated event (evt_test_" in ok.output
    request = hook.calls[0].request
    body = standardwebhooks.Webhook(secret).verify(request.content, dict(request.headers))
    assert body["type"] == "article.updated"
    assert body["data"]["article"]["title"] == "[test] Hospital group picks Oracle Health"
    assert body["data"]["change"]["classes"] == ["correction"]
    assert digest.exit_code == 0 and "a sample digest of 3 events" in digest.output
    assert (
        "watcher digest · 3 events"
        in json.loads(slack.calls[0].request.content)["blocks"][0]["text"]["text"]
    )
    assert failed.exit_code == 1 and "hook: not delivered: webhook hook: HTTP 500" in failed.output
    assert unknown.exit_code == 2 and "no sink with id 'nope'" in unknown.output
    for result in (ok, digest, failed, unknown):
        assert "S3CR3T" not in result.output and secret not in result.output
        assert "XOXB" not in result.output


def test_vacuum_applies_retention(write_config: Write, tmp_path: Path) -> None:
    config = write_config(
        CONFIG.replace("settings:\n", "settings:\n  retention: {versions: 1}\n").replace(
            "vendors:", "defaults:\n  recheck_every: 0s\nvendors:"
        )
    )
    base = ["--config", str(config), "--state", str(tmp_path / "state"), "--log-level", "error"]
    missing = CliRunner().invoke(cli, [*base, "vacuum"])
    assert missing.exit_code == 1 and "no state database" in missing.output
    site = SimSite(base="https://sim.example")
    text = "Le CHU de Rennes a choisi Cerner pour son dossier patient, pour 1,5 million d'euros."
    article = site.add(SimArticle("a1", "Rennes choisit Cerner", [text]))
    with respx.mock:
        respx.route(host="sim.example").mock(side_effect=lambda request: _answer(site, request))
        CliRunner().invoke(cli, [*base, "once"])
        article.paragraphs = [text.replace("1,5", "2,5")]
        CliRunner().invoke(cli, [*base, "once"])
    dry = CliRunner().invoke(cli, [*base, "vacuum", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "keep 1 versions per article, delivered events for 30d" in dry.output
    assert "would delete: 1 old versions" in dry.output
    done = CliRunner().invoke(cli, [*base, "vacuum"])
    assert "deleted: 1 old versions" in done.output and "database: " in done.output


def test_check_builds_the_sinks(write_config: Write, tmp_path: Path) -> None:
    path = write_config(
        CONFIG
        + "  - id: hook\n    kind: webhook\n    url: https://hooks.example/x\n"
        + "    secret: not-a-whsec-secret\n"
    )
    result = CliRunner().invoke(cli, ["--config", str(path), "--state", str(tmp_path), "check"])
    assert result.exit_code == 2
    assert "sources.yaml" in result.output and 'sink "hook"' in result.output
    assert "whsec_" in result.output and "not-a-whsec-secret" not in result.output


def test_run_grace_is_a_duration_like_in_the_config() -> None:
    from watcher.config import parse_duration

    assert [parse_duration(v) for v in ("10", "10s", "1m30s", "2.5")] == [10, 10, 90, 2.5]
    result = CliRunner().invoke(cli, ["run", "--grace", "10x"])
    assert result.exit_code == 2
    assert "not a duration: '10x' (write e.g. 90s, 30m, 1h30m, 2d)" in result.output


def test_run_on_a_taken_port_says_so_and_exits(write_config: Write, tmp_path: Path) -> None:
    import socket

    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    port = holder.getsockname()[1]
    try:
        argv = ["--config", str(write_config(CONFIG)), "--state", str(tmp_path / "state")]
        result = CliRunner().invoke(cli, [*argv, "run", "--http-port", str(port)])
    finally:
        holder.close()
    assert result.exit_code == 1
    assert f"error: cannot answer /healthz, /readyz, /metrics and /status on 127.0.0.1:{port}" in (
        result.output
    )


def test_extract_with_source_uses_its_allow_private(write_config: Write) -> None:
    """A page on 127.0.0.1 is refused unless the named source allows private addresses."""
    from tests.sim import serve_site

    site = SimSite()
    site.add(SimArticle("a1", "Rennes choisit Cerner", ["Le CHU de Rennes a choisi Cerner."]))
    with serve_site(site) as base:
        path = write_config(
            f"sources:\n  - id: local\n    url: {base}/feed.xml\n    allow_private: true\n"
        )
        url = f"{base}/articles/a1"
        named = CliRunner().invoke(
            cli, ["--config", str(path), "extract", "--source", "local", url]
        )
        bare = CliRunner().invoke(cli, ["--config", str(path), "extract", url])
    assert named.exit_code == 0, named.output
    assert "Rennes choisit Cerner" in named.output
    assert bare.exit_code != 0 and "private or loopback" in bare.output


def test_an_unknown_vendor_filter_is_warned_about(write_config: Write, tmp_path: Path) -> None:
    from watcher.store import Store

    Store.open(tmp_path / "state").close()
    argv = ["--config", str(write_config(CONFIG)), "--state", str(tmp_path / "state")]
    typo = CliRunner().invoke(cli, [*argv, "articles", "--vendor", "cernr"])
    assert typo.exit_code == 0, typo.output
    assert (
        'warning: "cernr" is no configured vendor or alias (did you mean "Oracle Health"?): '
        "only articles stored under that exact name match"
    ) in typo.stderr
    known = CliRunner().invoke(cli, [*argv, "stats", "--vendor", "CERNER"])
    assert "warning" not in known.stderr


def test_check_lists_the_config_warnings_last(write_config: Write, tmp_path: Path) -> None:
    path = write_config("sources: []\n")
    result = CliRunner().invoke(cli, ["--config", str(path), "--state", str(tmp_path), "check"])
    assert result.exit_code == 0, result.output
    assert result.output.endswith(
        "\nwarning: no source enabled in sources.yaml: nothing will be polled\n\nconfiguration OK\n"
    )
