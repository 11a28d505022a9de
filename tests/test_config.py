"""Config loading: validated once, every error naming the file, the line and the field."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from watcher.config import Duration, Secret, load
from watcher.errors import ConfigError

Write = Callable[..., Path]

VALID = """
settings:
  http: {per_host: 3, host_delay: 2s, max_page_size: 2MB}
defaults:
  interval: 15m
vendors:
  - name: Oracle Health
    aliases: [Cerner]
    products: [{term: Millennium, case_sensitive: true, near: [Cerner]}]
sources:
  - id: dsih
    url: https://www.dsih.fr/rss.php
    language: fr
  - id: digitalhealth
    name: Digital Health
    kind: feed
    url: https://www.digitalhealth.net/feed/
    interval: 1h
    extract: {body: "div.entry", remove: [".promo"]}
sinks:
  - id: log
    kind: log
"""


def test_valid_config_loads_with_defaults(write_config: Write) -> None:
    settings = load(write_config(VALID), env={})
    dsih, digitalhealth = settings.sources
    assert dsih.name == "dsih" and dsih.kind == "feed" and float(dsih.interval) == 900
    assert digitalhealth.interval == Duration(3600) and digitalhealth.name == "Digital Health"
    assert digitalhealth.extract.body == "div.entry" and digitalhealth.extract.remove == (".promo",)
    assert settings.http.per_host == 3 and float(settings.http.host_delay) == 2
    assert settings.http.max_page_size == 2_000_000
    vendor = settings.vendors[0]
    assert [t.term for t in vendor.terms] == ["Oracle Health", "Cerner", "Millennium"]
    assert vendor.products[0].case_sensitive and vendor.products[0].near == ("Cerner",)
    assert [s.id for s in settings.sinks] == ["log"]


def test_shipped_config_is_valid() -> None:
    settings = load(Path(__file__).parents[1] / "sources.yaml", env={})
    languages = [s.language for s in settings.sources]
    assert len(settings.sources) >= 12
    assert languages.count("fr") >= 5 and languages.count("en") >= 5
    assert len(settings.vendors) >= 20
    # With no secrets in the environment only the log sink runs, and we say why.
    assert [s.id for s in settings.sinks] == ["log"]
    assert any("slack" in w and "SLACK_WEBHOOK_URL" in w for w in settings.warnings)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("sourcez: []\n", 'sources.yaml:1: unknown key "sourcez" (did you mean "sources"?)'),
        (
            "sources:\n  - id: a\n    url: https://a.example/feed\n    selecter: x\n",
            'sources.yaml:4: source "a": unknown key "selecter"',
        ),
        (
            "sources:\n  - id: a\n    kind: fed\n    url: https://a.example/feed\n",
            'sources.yaml:3: source "a": unknown kind "fed" (did you mean "feed"?)',
        ),
        (
            "sources:\n  - id: a\n    url: https://a.example/\n  - id: a\n    url: https://b.example/\n",
            'sources.yaml:4: source "a": duplicate id (first used on line 2)',
        ),
        (
            "sources:\n  - id: a\n    url: https://a.example/\n    interval: 5 minutes\n",
            "sources.yaml:4: source \"a\": interval: not a duration: '5 minutes'",
        ),
        (
            "sources:\n  - id: a\n    url: ftp://a.example/feed\n",
            'sources.yaml:3: source "a": url must be an http(s) URL',
        ),
        ("sources:\n  - id: a\n", 'sources.yaml:2: source "a": missing required key "url"'),
        (
            "sources:\n  - id: a\n    url:\n",
            'sources.yaml:3: source "a": url must be an http(s) URL',
        ),
        (
            "sources:\n  - id: a\n    url: https://a.example/feed\n    history: {kind: sitemap}\n",
            'sources.yaml:4: source "a": history: url must be an http(s) URL',
        ),
        (
            "sources:\n  - id: a\n    url: https://${FEED_HOST}/feed\n",
            'sources.yaml:3: source "a": url: ${FEED_HOST} is not set in the environment',
        ),
        (
            "sources:\n  - id: a\n    url: https://a.example/feed\n"
            "    history: {kind: sitemap, url: '${SITEMAP_URL}'}\n",
            'sources.yaml:4: source "a": history: url: ${SITEMAP_URL} is not set in the environment',
        ),
        (
            "sinks:\n  - id: hook\n    kind: webhook\n    url: not a url\n",
            'sources.yaml:4: sink "hook": url must be an http(s) URL with a host',
        ),
        (
            "sinks:\n  - id: s\n    kind: slack\n    url: hooks.slack.com/services/T/B/x\n",
            'sources.yaml:4: sink "s": url must be an http(s) URL with a host',
        ),
        (
            "sources:\n  - id: Bad Id\n    url: https://a.example/\n",
            'sources.yaml:2: source "Bad Id": id must be lower-case',
        ),
        (
            "settings:\n  http:\n    per_host: many\n",
            "sources.yaml:3: settings.http: per_host: must be a whole number, not 'many'",
        ),
        (
            "sinks:\n  - id: hook\n    kind: webhook\n    enabled: true\n    url: ${HOOK_URL}\n",
            'sources.yaml:2: sink "hook": enabled, but ${HOOK_URL} not set in the environment',
        ),
        (
            "sinks:\n  - id: hook\n    kind: webhok\n",
            'sources.yaml:3: sink "hook": unknown kind "webhok" (did you mean "webhook"?)',
        ),
        (
            "sinks:\n  - id: log\n    kind: log\n    sources: [nope]\n",
            'sources.yaml:4: sink "log": sources: unknown source "nope"',
        ),
        (
            "vendors:\n  - name: Epic\n    aliases: Epic Systems\n",
            'sources.yaml:3: vendor "Epic": aliases must be a list',
        ),
        (
            "settings:\n  retention:\n    every: 0s\n",
            "sources.yaml:3: settings.retention: every must be positive",
        ),
        ("sources: [\n", "sources.yaml:2: not valid YAML"),
        (
            "sources:\n  - id: a\n    url: x\n    url: y\n",
            "sources.yaml:4: not valid YAML: duplicate key 'url'",
        ),
    ],
)
def test_errors_name_file_line_and_field(write_config: Write, text: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load(write_config(text), env={})
    assert message in str(caught.value)
    assert "not a url" not in str(caught.value)  # a sink URL is a secret, even a wrong one


def test_source_urls_come_from_the_environment_too(write_config: Write) -> None:
    text = (
        "sources:\n  - id: a\n    url: https://${FEED_HOST}/feed\n"
        "    history: {kind: sitemap, url: '${FEED_BASE:-https://a.example}/sitemap.xml'}\n"
    )
    (source,) = load(write_config(text), env={"FEED_HOST": "news.example"}).sources
    assert source.url == "https://news.example/feed"
    assert source.history is not None and source.history.url == "https://a.example/sitemap.xml"


def test_every_error_is_reported_at_once(write_config: Write) -> None:
    text = (
        "sources:\n  - id: a\n    url: nope\n  - id: b\n    url: https://b/\n    interval: soon\n"
    )
    with pytest.raises(ConfigError) as caught:
        load(write_config(text), env={})
    lines = str(caught.value).splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("sources.yaml:3:") and lines[1].startswith("sources.yaml:6:")


def test_a_sink_kind_s_own_rules_are_reported_with_the_other_errors(
    write_config: Write,
) -> None:
    """A bad webhook secret, a Discord role that is not an id and an Apprise URL Apprise
    cannot use come in the same list as a bad source, each at its own line (they used
    to come one at a time, once everything else was right, in another format)."""
    pytest.importorskip("apprise")
    text = (
        "sources:\n  - id: a\n    url: nope\n"  # 3
        "sinks:\n"
        "  - id: hook\n    kind: webhook\n    url: https://hooks.example/x\n"
        "    secret: whsec_not base64!\n"  # 8
        "  - id: chat\n    kind: discord\n    url: https://discord.example/api/webhooks/1/t\n"
        "    mention_roles: ['@admins']\n"  # 12
        "  - id: phones\n    kind: apprise\n    urls:\n"
        "      - json://localhost/x\n      - nosuchservice://token@host/x\n"  # 17
    )
    with pytest.raises(ConfigError) as caught:
        load(write_config(text), env={})
    assert str(caught.value).splitlines() == [
        "sources.yaml:3: source \"a\": url must be an http(s) URL, not 'nope'",
        'sources.yaml:8: sink "hook": secret: a webhook secret must be whsec_ followed by base64',
        "sources.yaml:12: sink \"chat\": mention_roles: '@admins' is not a role id "
        "(digits, from Copy Role ID)",
        'sources.yaml:17: sink "phones": urls[1]: not one URL Apprise can use '
        "(service 'nosuchservice'; see https://appriseit.com/services/)",
    ]


def test_a_bad_sink_url_and_a_bad_secret_are_reported_together(write_config: Write) -> None:
    text = "sinks:\n  - id: hook\n    kind: webhook\n    url: nope\n    secret: whsec_!!\n"
    with pytest.raises(ConfigError) as caught:
        load(write_config(text), env={})
    assert str(caught.value).splitlines() == [
        'sources.yaml:4: sink "hook": url must be an http(s) URL with a host',
        'sources.yaml:5: sink "hook": secret: a webhook secret must be whsec_ followed by base64',
    ]


def test_a_previous_webhook_secret_needs_a_current_one(write_config: Write) -> None:
    text = (
        "sinks:\n  - id: hook\n    kind: webhook\n    url: https://hooks.example/x\n"
        "    previous_secret: whsec_c2VjcmV0\n"
    )
    with pytest.raises(ConfigError) as caught:
        load(write_config(text), env={})
    assert str(caught.value) == (
        'sources.yaml:5: sink "hook": previous_secret: needs a secret as well (the new one)'
    )


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such configuration file"):
        load(tmp_path / "absent.yaml")


def test_sink_with_unset_variables_is_skipped_with_one_warning(write_config: Write) -> None:
    path = write_config(
        """
        sources:
          - {id: a, url: "https://a.example/feed"}
        sinks:
          - id: slack
            kind: slack
            url: ${SLACK_WEBHOOK_URL}
        """
    )
    settings = load(path, env={})
    assert settings.sinks == ()
    assert settings.warnings == (
        "sink 'slack' skipped: ${SLACK_WEBHOOK_URL} not set in the environment",
    )


def test_secrets_come_from_the_environment_and_never_show(write_config: Write) -> None:
    path = write_config(
        """
        sinks:
          - id: hook
            kind: webhook
            url: ${HOOK_URL}
            secret: ${HOOK_SECRET:-}
            headers: {X-Team: intel}
        """
    )
    settings = load(path, env={"HOOK_URL": "https://hooks.example/T0K3N"})
    options = settings.sinks[0].options
    assert options.url == Secret("https://hooks.example/T0K3N")
    assert options.url.reveal() == "https://hooks.example/T0K3N"
    assert "T0K3N" not in repr(settings) and "T0K3N" not in str(options.url)
    assert options.secret == Secret("")
    assert options.headers == {"X-Team": "intel"}


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90", 90), ("90s", 90), ("30m", 1800), ("1h30m", 5400), ("2d", 172800), ("500ms", 0.5)],
)
def test_durations(write_config: Write, text: str, seconds: float) -> None:
    path = write_config(f"sources:\n  - id: a\n    url: https://a.example/\n    interval: {text}\n")
    assert load(path, env={}).sources[0].interval == seconds


def test_extension_keys_hold_anchors(write_config: Write) -> None:
    path = write_config(
        """
        x-terms: &terms [santé, hôpital]
        sources:
          - id: a
            url: https://a.example/
            require_any: *terms
        """
    )
    assert load(path, env={}).sources[0].require_any == ("santé", "hôpital")


@pytest.mark.parametrize(
    "text",
    ["", "sources: []\n", "sources:\n  - {id: a, url: 'https://a.example/f', enabled: false}\n"],
)
def test_a_file_with_no_source_enabled_is_warned_about(write_config: Write, text: str) -> None:
    settings = load(write_config(text), env={})
    assert "no source enabled in sources.yaml: nothing will be polled" in settings.warnings
