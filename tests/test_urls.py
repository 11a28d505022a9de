from __future__ import annotations

import pytest

from watcher.urls import canonicalize, host_of


@pytest.mark.parametrize(
    ("url", "canonical"),
    [
        ("HTTPS://WWW.DSIH.FR/article/123", "https://www.dsih.fr/article/123"),
        ("https://example.org:443/a", "https://example.org/a"),
        ("http://example.org:80/a", "http://example.org/a"),
        ("http://example.org:8080/a", "http://example.org:8080/a"),
        ("https://example.org/a#comments", "https://example.org/a"),
        ("https://example.org/a?utm_source=rss&utm_medium=feed&id=7", "https://example.org/a?id=7"),
        ("https://example.org/a?xtor=RSS-1&at_medium=x&fbclid=y&gclid=z", "https://example.org/a"),
        ("https://example.org//a//b", "https://example.org/a/b"),
        ("https://example.org", "https://example.org/"),
        ("https://user:pw@example.org/a", "https://example.org/a"),
    ],
)
def test_canonicalize(url: str, canonical: str) -> None:
    assert canonicalize(url) == canonical


def test_relative_links_resolve_against_the_page() -> None:
    assert (
        canonicalize("../b?utm_campaign=x", base="https://example.org/news/a/")
        == "https://example.org/news/b"
    )


def test_host_of_keeps_non_default_ports() -> None:
    assert host_of("http://127.0.0.1:8123/feed") == "127.0.0.1:8123"
    assert host_of("https://WWW.Example.org/x") == "www.example.org"


@pytest.mark.parametrize(
    ("url", "canonical"),
    [
        (
            "https://www.medscape.com/viewarticle/x?src=rss",
            "https://www.medscape.com/viewarticle/x",
        ),
        ("https://example.org/img?src=photo.jpg", "https://example.org/img?src=photo.jpg"),
        ("https://example.org/a?ref=twitter", "https://example.org/a"),
    ],
)
def test_generic_parameters_are_dropped_only_when_they_name_a_channel(
    url: str, canonical: str
) -> None:
    assert canonicalize(url) == canonical
