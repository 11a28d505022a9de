"""Shared fixtures: real pages from tests/fixtures, configs written to tmp_path, a store."""

from __future__ import annotations

import gzip
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import respx

from watcher.encoding import decode_html
from watcher.store import Store

FIXTURES = Path(__file__).parent / "fixtures"


def page_bytes(name: str) -> bytes:
    """Raw bytes of a fixture page (``articles/<set>/<id>.html.gz``)."""
    data = (FIXTURES / "articles" / name).read_bytes()
    return gzip.decompress(data) if name.endswith(".gz") else data


def page_text(name: str) -> str:
    return decode_html(page_bytes(name))[0]


@pytest.fixture
def write_config(tmp_path: Path) -> Callable[[str], Path]:
    """Write a sources.yaml (dedented) into tmp_path and return its path."""

    def write(text: str, name: str = "sources.yaml") -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
        return path

    return write


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    """A migrated state database in tmp_path."""
    db = Store.open(tmp_path / "state")
    yield db
    db.close()


@pytest.fixture
def respx_mock(respx_mock: respx.MockRouter) -> respx.MockRouter:
    """respx's fixture, with every site's robots.txt absent (404: no restrictions) unless
    a test routes /robots.txt itself first."""
    respx_mock.route(path="/robots.txt", name="robots").respond(404)
    return respx_mock
