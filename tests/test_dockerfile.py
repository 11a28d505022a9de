"""The container contract, read from the Dockerfile, compose.yaml and their companions.

These are static checks (no Docker, no network); `scripts/docker-smoke.sh` builds and
runs the image.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from dockerfile_parse import DockerfileParser

ROOT = Path(__file__).resolve().parent.parent
STATE = "/app/state"


@pytest.fixture(scope="module")
def dockerfile() -> DockerfileParser:
    # env_replace=False: read what is written, not what a build would substitute.
    return DockerfileParser(path=str(ROOT / "Dockerfile"), env_replace=False)


@pytest.fixture(scope="module")
def final_stage(dockerfile: DockerfileParser) -> list[dict[str, Any]]:
    """The instructions after the last FROM: what the shipped image is made of."""
    structure = dockerfile.structure
    last_from = max(i for i, ins in enumerate(structure) if ins["instruction"] == "FROM")
    return [ins for ins in structure[last_from + 1 :] if ins["instruction"] != "COMMENT"]


def values(stage: list[dict[str, Any]], instruction: str) -> list[str]:
    return [ins["value"] for ins in stage if ins["instruction"] == instruction]


@pytest.fixture(scope="module")
def compose() -> Any:
    return yaml.safe_load((ROOT / "compose.yaml").read_text())


def test_is_multi_stage(dockerfile: DockerfileParser) -> None:
    assert dockerfile.is_multistage
    assert len(dockerfile.parent_images) >= 2


def test_base_images_are_pinned_to_a_python_patch_version(dockerfile: DockerfileParser) -> None:
    for image in dockerfile.parent_images:
        name, _, tag = image.partition(":")
        assert name == "python", image
        assert tag != "latest"
        assert re.fullmatch(r"3\.11\.\d+-slim-bookworm(@sha256:[0-9a-f]{64})?", tag), image


def test_final_stage_runs_as_a_numeric_non_root_user(final_stage: list[dict[str, Any]]) -> None:
    (user,) = values(final_stage, "USER")
    ids = user.split(":")
    assert all(part.isdigit() for part in ids), f"USER {user} is not numeric"
    assert all(int(part) != 0 for part in ids), f"USER {user} is root"
    # The state directory is created for that uid before it becomes a volume.
    (setup,) = [v for v in values(final_stage, "RUN") if "useradd" in v]
    assert f"--uid {ids[0]}" in setup
    assert f"chown {user} {STATE}" in setup


def test_entrypoint_and_cmd_are_exec_form(final_stage: list[dict[str, Any]]) -> None:
    assert [json.loads(v) for v in values(final_stage, "ENTRYPOINT")] == [["watcher"]]
    assert [json.loads(v) for v in values(final_stage, "CMD")] == [["run"]]


def test_state_is_a_volume_and_the_config_is_in_app(
    dockerfile: DockerfileParser, final_stage: list[dict[str, Any]]
) -> None:
    assert values(final_stage, "VOLUME") == [STATE]
    assert values(final_stage, "WORKDIR") == ["/app"]
    assert "sources.yaml /app/sources.yaml" in values(final_stage, "COPY")
    env = dockerfile.envs  # the final stage's
    assert env["WATCHER_CONFIG"] == "/app/sources.yaml"
    assert env["WATCHER_STATE"] == STATE
    assert env["PYTHONUNBUFFERED"] == "1"
    # The endpoints answer the HEALTHCHECK and Prometheus from outside the container.
    assert env["WATCHER_HTTP_HOST"] == "0.0.0.0" and env["WATCHER_HTTP_PORT"] == "8080"


def test_healthcheck_gets_healthz_with_the_stdlib(final_stage: list[dict[str, Any]]) -> None:
    (healthcheck,) = values(final_stage, "HEALTHCHECK")
    options, _, command = healthcheck.partition("CMD ")
    assert "--interval=" in options and "--timeout=" in options
    test = json.loads(command)  # exec form: no shell in between
    assert test[:2] == ["python", "-c"]
    code = test[2]
    compile(code, "HEALTHCHECK", "exec")
    assert "urllib.request" in code and "curl" not in code
    assert "http://127.0.0.1:" in code and "/healthz" in code
    assert "WATCHER_HTTP_PORT" in code and "'8080'" in code
    assert values(final_stage, "EXPOSE") == ["8080"]


def test_dependencies_come_from_the_hashed_lock_before_the_source(
    dockerfile: DockerfileParser,
) -> None:
    steps = [(ins["instruction"], ins["value"]) for ins in dockerfile.structure]
    lock = steps.index(("COPY", "requirements/runtime.txt requirements/runtime.txt"))
    source = steps.index(("COPY", "watcher/ watcher/"))
    (install,) = [i for i, (ins, v) in enumerate(steps) if ins == "RUN" and "--require-hashes" in v]
    assert "-r requirements/runtime.txt" in steps[install][1]
    (package,) = [i for i, (ins, v) in enumerate(steps) if ins == "RUN" and "--no-deps" in v]
    assert lock < install < source < package


def test_build_ca_argument_stays_in_the_builder(final_stage: list[dict[str, Any]]) -> None:
    text = (ROOT / "Dockerfile").read_text()
    assert 'ARG PIP_CERT_BUNDLE=""' in text  # optional: empty unless passed
    assert "/etc/ssl/certs/ca-certificates.crt;" in text  # the base image's, not a host path
    assert not any("PIP_CERT" in ins["value"] for ins in final_stage)


def test_compose_keeps_state_in_a_volume_and_secrets_in_an_env_file(compose: Any) -> None:
    (service,) = compose["services"].values()
    volumes = service["volumes"]
    (state,) = [v for v in volumes if v.split(":")[1] == STATE]
    assert state.split(":")[0] in compose["volumes"], "state should be a named volume"
    assert "./sources.yaml:/app/sources.yaml:ro" in volumes
    env_files = service["env_file"]
    assert ".env" in ([env_files] if isinstance(env_files, str) else env_files)
    assert service["restart"] == "unless-stopped"
    assert any(str(p).endswith(":8080") for p in service["ports"])
    # No secret is written into compose.yaml itself.
    assert not {"SLACK_WEBHOOK_URL", "WATCHER_WEBHOOK_URL", "WATCHER_WEBHOOK_SECRET"} & set(
        service.get("environment", {})
    )


def test_env_example_lists_the_secrets_without_values() -> None:
    lines = (ROOT / ".env.example").read_text().splitlines()
    settings = dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))
    assert settings == {
        "SLACK_WEBHOOK_URL": "",
        "WATCHER_WEBHOOK_URL": "",
        "WATCHER_WEBHOOK_SECRET": "",
    }
    # ...and every one of them is a variable the shipped sources.yaml uses.
    shipped = (ROOT / "sources.yaml").read_text()
    assert all(f"${{{name}" in shipped for name in settings)


def test_dockerignore_keeps_local_state_and_secrets_out() -> None:
    patterns = [
        line
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line and not line.startswith("#")
    ]
    # An allow-list: everything is ignored, then what the Dockerfile copies is let in.
    assert patterns[0] == "*"
    allowed = {p.removeprefix("!").rstrip("/") for p in patterns if p.startswith("!")}
    assert allowed == {
        "requirements/runtime.txt",
        "pyproject.toml",
        "README.md",
        "sources.yaml",
        "watcher",
    }
