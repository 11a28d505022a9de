"""Drive ``watcher`` inside a container against a simulated news site on 127.0.0.1.

Used by ``scripts/docker-smoke.sh``; run from the repository root (it imports
``tests.sim``, which needs only the standard library, so with ``PYTHONPATH=.``)::

    PYTHONPATH=. python3 scripts/docker_smoke_sim.py WORKDIR [--healthcheck JSON] -- PREFIX...

PREFIX is the command that runs a program in the container (for example
``buildah run --isolation chroot -v WORKDIR/sources.yaml:/app/sources.yaml:ro CTR --``).
The driver serves the site and a webhook receiver on the host's 127.0.0.1, writes
``WORKDIR/sources.yaml`` pointing at them (mount it over ``/app/sources.yaml``), runs
``watcher once`` twice and ``watcher run`` through PREFIX, and checks what the receiver
got. It prints one PASS or FAIL line per check and exits 1 if any check failed.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from threading import Thread
from typing import Any

from tests.sim import SimArticle, SimSite, WebhookReceiver, serve_receiver, serve_site

SECRET = "whsec_" + base64.b64encode(b"docker-smoke-secret-docker-smoke").decode()
CERNER = [
    "Le CHU de Rennes a choisi Cerner pour remplacer son dossier patient informatisé.",
    "Le contrat porte sur 1,5 million d'euros et sur dix ans.",
]
BREST = [
    "Le CHU de Brest utilise Cerner depuis 2015 pour ses urgences, a rappelé sa direction.",
    "Quatre cents soignants y saisissent leurs observations chaque jour.",
]
LYON = [
    "Les Hospices civils de Lyon ont retenu Cerner pour leurs blocs opératoires en 2027.",
    "Le projet mobilise trente agents de la direction du numérique pendant deux ans.",
]


class Checks:
    def __init__(self) -> None:
        self.failed = 0

    def check(self, ok: bool, what: str, detail: str = "") -> bool:
        print(f"{'PASS' if ok else 'FAIL'} {what}" + (f": {detail}" if detail and not ok else ""))
        self.failed += not ok
        return ok


def config(site_url: str, hook_url: str) -> str:
    # The secret comes from the environment, as it would from `--env-file .env`.
    return textwrap.dedent(
        f"""
        settings:
          http: {{host_delay: 0s, retries: 0, timeout: 5s}}
          delivery: {{backoff: 0s, interval: 200ms}}
        defaults:
          interval: 1h
        vendors:
          - name: Oracle Health
            aliases: [Cerner]
        sources:
          - id: sim
            name: Sim Santé
            url: {site_url}/feed.xml
            language: fr
            allow_private: true   # the simulated site is on the host's 127.0.0.1
        sinks:
          - id: hook
            kind: webhook
            url: {hook_url}
            secret: ${{WATCHER_WEBHOOK_SECRET}}
          - id: log
            kind: log
        """
    )


def signed(headers: dict[str, str], body: bytes) -> bool:
    """Standard Webhooks: v1,<base64 HMAC-SHA256 of "id.timestamp.body">."""
    key = base64.b64decode(SECRET.removeprefix("whsec_"))
    message = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    expected = "v1," + base64.b64encode(hmac.new(key, message, hashlib.sha256).digest()).decode()
    return any(hmac.compare_digest(expected, s) for s in headers["webhook-signature"].split())


@contextmanager
def serve_healthz() -> Iterator[int]:
    """A stand-in for the daemon's /healthz (being written separately), to exercise the
    image's HEALTHCHECK command."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200 if self.path == "/healthz" else 404)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def find_daemon(parent: int) -> int | None:
    """The pid of ``python /opt/venv/bin/watcher run`` among ``parent``'s descendants.

    With chroot isolation the container's processes live in the host's pid namespace.
    Signalling ours directly is what `docker stop` does to a container's pid 1; a
    signal to `buildah run` itself is not passed on (buildah kills the command).
    """
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            number, rest = stat.read_text().split(" (", 1)
        except OSError:
            continue  # the process ended meanwhile
        ppid = int(rest.rsplit(") ", 1)[1].split()[1])  # after "(comm) state"
        children.setdefault(ppid, []).append(int(number))
    todo = list(children.get(parent, []))
    while todo:
        pid = todo.pop()
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[:-1]
        except OSError:
            continue
        if len(cmdline) >= 2 and cmdline[-2].endswith(b"/watcher") and cmdline[-1] == b"run":
            return pid
        todo.extend(children.get(pid, []))
    return None


def process_uids(pid: int) -> list[int]:
    """Real, effective, saved and filesystem uids of ``pid``."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Uid:"):
            return [int(uid) for uid in line.split()[1:]]
    return []


def free_port() -> int:
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    port = server.server_address[1]
    server.server_close()
    return port


def main() -> int:
    parser = argparse.ArgumentParser(
        usage="%(prog)s WORKDIR [--healthcheck JSON] -- PREFIX...",
        description=__doc__.splitlines()[0],
    )
    parser.add_argument("workdir", type=Path)
    parser.add_argument("--healthcheck", help="the image's HEALTHCHECK test, as JSON")
    argv = sys.argv[1:]
    if "--" not in argv or argv.index("--") == len(argv) - 1:
        parser.error("give the command that runs a program in the container after --")
    split = argv.index("--")
    args = parser.parse_args(argv[:split])
    prefix = argv[split + 1 :]
    env = ["env", f"WATCHER_WEBHOOK_SECRET={SECRET}"]
    checks = Checks()

    def in_container(*command: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*prefix, *command], capture_output=True, text=True, timeout=timeout, check=False
        )

    site, receiver = SimSite(), WebhookReceiver()
    with serve_site(site) as site_url, serve_receiver(receiver) as hook_url:
        args.workdir.mkdir(parents=True, exist_ok=True)
        (args.workdir / "sources.yaml").write_text(config(site_url, hook_url))
        print(f"simulated site {site_url}, webhook receiver {hook_url} (host 127.0.0.1)")

        # 1. First poll: a silent baseline, stored in the image's /app/state volume.
        # (Another story than the next one: a copy of a story already seen is not news.)
        site.add(SimArticle("deja-la", "Cerner déjà publié", BREST))
        first = in_container(*env, "watcher", "once")
        print(textwrap.indent(first.stdout.rstrip(), "    "))
        checks.check(
            first.returncode == 0 and "ok (baseline)" in first.stdout,
            "watcher once in the container reaches the host's 127.0.0.1 (baseline poll)",
            f"exit {first.returncode}\n{first.stderr}",
        )
        checks.check(receiver.received == [], "baseline poll sends nothing")

        # 2. A new article naming a watched vendor: one signed article.new.
        site.add(SimArticle("rennes", "Rennes choisit Cerner", CERNER))
        second = in_container(*env, "watcher", "once")
        print(textwrap.indent(second.stdout.rstrip(), "    "))
        got = receiver.received
        checks.check(
            second.returncode == 0
            and len(got) == 1
            and got[0].json["type"] == "article.new"
            and got[0].json["data"]["article"]["title"] == "Rennes choisit Cerner",
            "second watcher once remembers the baseline (state persisted) and sends article.new",
            f"exit {second.returncode}, received {[r.json.get('type') for r in got]}\n"
            f"{second.stderr}",
        )
        checks.check(bool(got) and signed(got[0].headers, got[0].body), "webhook is signed")

        # 3. The image's default command, `watcher run`: delivers, then stops on SIGTERM.
        site.add(SimArticle("lyon", "Lyon choisit Cerner", LYON))
        daemon = subprocess.Popen(
            [*prefix, *env, "watcher", "run"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            delivered = receiver.wait_for(2, timeout=60)
        finally:
            pid = find_daemon(daemon.pid)
            uids = process_uids(pid) if pid else []
            checks.check(
                bool(uids) and 0 not in uids,
                f"watcher run process (host pid {pid}) runs as uid {sorted(set(uids))}",
                "not found under buildah" if pid is None else f"uids {uids}",
            )
            os.kill(daemon.pid if pid is None else pid, signal.SIGTERM)
            try:
                _out, err = daemon.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                daemon.kill()
                _out, err = daemon.communicate()
        checks.check(delivered, "watcher run in the container polls and delivers")
        checks.check(
            daemon.returncode == 0 and "daemon.stopped" in err,
            "watcher run stops cleanly on SIGTERM",
            f"exit {daemon.returncode}\n{err[-2000:]}",
        )

    # 4. The HEALTHCHECK command, with python's stdlib, against a stand-in /healthz.
    if args.healthcheck:
        test = json.loads(args.healthcheck)
        command = test[1:] if test[:1] == ["CMD"] else ["sh", "-c", test[1]]
        with serve_healthz() as port:
            healthy = in_container("env", f"WATCHER_HTTP_PORT={port}", *command, timeout=30)
        checks.check(
            healthy.returncode == 0,
            "HEALTHCHECK passes when /healthz answers 200",
            f"exit {healthy.returncode}\n{healthy.stderr}",
        )
        down = in_container("env", f"WATCHER_HTTP_PORT={free_port()}", *command, timeout=30)
        checks.check(down.returncode != 0, "HEALTHCHECK fails when nothing listens")

    return 1 if checks.failed else 0


if __name__ == "__main__":
    sys.exit(main())
