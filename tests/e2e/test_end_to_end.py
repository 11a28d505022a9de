"""End to end: a simulated news site and a webhook receiver on 127.0.0.1, and the real
``watcher`` command in a subprocess, as a user would run it."""

from __future__ import annotations

import base64
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
import standardwebhooks

from tests.sim import SimArticle, SimSite, WebhookReceiver, serve_receiver, serve_site

SECRET = "whsec_" + base64.b64encode(b"e2e-secret-e2e-secret-e2e-secret").decode()
CERNER = [
    "Le CHU de Rennes a choisi Cerner pour remplacer son dossier patient informatisé.",
    "Le contrat porte sur 1,5 million d'euros et sur dix ans.",
    "Le déploiement commencera en décembre 2019 dans douze services.",
]


class Env:
    def __init__(
        self, tmp_path: Path, site: SimSite, site_url: str, receiver: WebhookReceiver, hook_url: str
    ):
        self.site, self.receiver = site, receiver
        self.config = tmp_path / "sources.yaml"
        self.state = tmp_path / "state"
        self.config.write_text(
            textwrap.dedent(
                f"""
                settings:
                  http: {{host_delay: 0s, retries: 0, timeout: 5s}}
                  delivery: {{backoff: 0s, interval: 200ms}}
                defaults:
                  interval: 1h
                  recheck_every: 0s
                vendors:
                  - name: Oracle Health
                    aliases: [Cerner]
                sources:
                  - id: sim
                    name: Sim Santé
                    url: {site_url}/feed.xml
                    language: fr
                    allow_private: true   # the simulated site is on 127.0.0.1
                sinks:
                  - id: hook
                    kind: webhook
                    url: ${{HOOK_URL}}
                    secret: ${{HOOK_SECRET}}
                  - id: log
                    kind: log
                """
            )
        )
        self.env = {
            **os.environ,
            "HOOK_URL": hook_url,
            "HOOK_SECRET": SECRET,
            "WATCHER_LOG_FORMAT": "json",
        }

    def args(self, *command: str) -> list[str]:
        return [
            sys.executable,
            "-m",
            "watcher",
            "--config",
            str(self.config),
            "--state",
            str(self.state),
            *command,
        ]

    def once(self) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            self.args("once"), env=self.env, capture_output=True, text=True, timeout=60
        )
        assert result.returncode == 0, result.stderr
        return result

    def events(self) -> list[dict]:  # type: ignore[type-arg]
        return [r.json for r in self.receiver.received]


@pytest.fixture
def e2e(tmp_path: Path) -> Iterator[Env]:
    site, receiver = SimSite(), WebhookReceiver()
    with serve_site(site) as site_url, serve_receiver(receiver) as hook_url:
        yield Env(tmp_path, site, site_url, receiver, hook_url)


def test_alerts_from_a_fresh_state(e2e: Env) -> None:
    site, receiver = e2e.site, e2e.receiver
    verifier = standardwebhooks.Webhook(SECRET)

    # 1. First poll: a silent baseline, whatever the site already has.
    site.add(
        SimArticle(
            "deja-la",
            "Cerner déjà publié",
            [
                "Le CHU de Brest utilise Cerner depuis 2015 pour ses urgences, a rappelé sa direction."
            ],
        )
    )
    site.add(
        SimArticle(
            "autre", "Un guide cybersécurité", ["Le ministère publie un guide pour les hôpitaux."]
        )
    )
    first = e2e.once()
    assert "ok (baseline)" in first.stdout
    assert receiver.received == []

    # 2. A new article naming a watched vendor: exactly one signed article.new.
    article = site.add(SimArticle("rennes", "Rennes choisit Cerner", list(CERNER)))
    e2e.once()
    assert len(receiver.received) == 1
    new = receiver.received[0]
    assert verifier.verify(new.body, new.headers) == new.json
    assert new.json["type"] == "article.new"
    assert new.json["data"]["article"]["url"] == f"{site.base}/articles/rennes"
    assert new.json["data"]["vendors"][0]["matched"] == ["Cerner"]
    assert new.headers["webhook-id"] == new.json["data"]["event_id"]

    # 3. A material edit: one article.updated with its diff.
    article.paragraphs[1] = "Le contrat porte sur 2,5 millions d'euros et sur dix ans."
    e2e.once()
    assert len(receiver.received) == 2
    update = receiver.received[1].json
    assert update["type"] == "article.updated"
    assert update["data"]["change"]["removed"] == [
        "Le contrat porte sur 1,5 million d'euros et sur dix ans."
    ]
    assert (
        "+Le contrat porte sur 2,5 millions d'euros et sur dix ans."
        in update["data"]["change"]["diff"]
    )

    # 4. Cosmetic churn (rotating related block, view counter, whitespace): nothing.
    article.related = ["Une autre histoire", "Encore une autre"]
    article.views = 9876
    article.spacing = "   "
    e2e.once()
    # 5. A new article with no watched vendor: nothing either.
    site.add(
        SimArticle(
            "guide", "Nouveau référentiel", ["L'ANS publie un référentiel d'interopérabilité."]
        )
    )
    e2e.once()
    assert len(receiver.received) == 2

    # 6. The receiver fails with 500, then recovers: the event arrives later, once.
    receiver.status = 500
    site.add(
        SimArticle(
            "nantes", "Nantes choisit Cerner", ["Le CHU de Nantes a choisi Cerner à son tour."]
        )
    )
    failing = e2e.once()
    assert "1 to retry" in failing.stdout and len(receiver.received) == 2
    receiver.status = 200
    e2e.once()
    assert len(receiver.received) == 3
    assert receiver.received[2].json["data"]["article"]["title"] == "Nantes choisit Cerner"
    e2e.once()
    ids = [r.headers["webhook-id"] for r in receiver.received]
    assert len(ids) == len(set(ids)) == 3

    # 7. The daemon: polls at once, delivers, and stops cleanly on SIGTERM.
    site.add(
        SimArticle("lyon", "Lyon choisit Cerner", ["Les HCL ont choisi Cerner pour leur DPI."])
    )
    daemon = subprocess.Popen(
        e2e.args("run"), env=e2e.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert receiver.wait_for(4, timeout=30), "the daemon did not deliver"
    finally:
        daemon.send_signal(signal.SIGTERM)
        _out, err = daemon.communicate(timeout=20)
    assert daemon.returncode == 0, err
    assert "daemon.stopped" in err
    assert receiver.received[3].json["data"]["article"]["title"] == "Lyon choisit Cerner"
    assert len(receiver.received) == 4


def test_the_same_story_on_two_sites_is_one_alert(tmp_path: Path) -> None:
    first, second, receiver = SimSite(), SimSite(), WebhookReceiver()
    story = [
        "Le GHT de Bretagne occidentale a retenu Cerner pour son dossier patient commun aux huit hôpitaux.",
        "Le marché, estimé à 24 millions d'euros sur dix ans, prévoit un déploiement progressif à partir de 2026.",
        "Les premiers services concernés seront les urgences et la médecine interne, selon le directeur du GHT.",
    ]
    with serve_site(first) as one, serve_site(second) as two, serve_receiver(receiver) as hook:
        env = Env(tmp_path, first, one, receiver, hook)
        config = env.config.read_text()
        config = config.replace(
            "sinks:",
            f"  - id: sim2\n    name: Sim Deux\n    url: {two}/feed.xml\n    language: fr\n"
            "    allow_private: true\nsinks:",
        )
        env.config.write_text(config)
        env.once()  # baseline of both
        first.add(SimArticle("ght", "Le GHT choisit Cerner", list(story)))
        second.add(
            SimArticle(
                "reprise-ght",
                "Cerner pour le GHT breton",
                ["Reprise d'une dépêche de notre partenaire.", *story],
            )
        )
        env.once()
        assert len(receiver.received) == 1
        data = receiver.received[0].json["data"]
        urls = {data["article"]["url"], *data["also_seen_at"]}
        assert urls == {f"{one}/articles/ght", f"{two}/articles/reprise-ght"}
        assert len(data["also_seen_at"]) == 1
