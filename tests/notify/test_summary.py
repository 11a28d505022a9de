"""The markup-free pieces shared by the chat sinks (pure)."""

from __future__ import annotations

import pytest

from watcher.notify.summary import Span, cut, printable, word_spans

FAMILY = "👨\u200d👩\u200d👧\u200d👦"  # one emoji, seven code points


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        ("short", 10, "short"),
        ("exactly ten", 11, "exactly ten"),
        ("a sentence that is too long", 12, "a sentence…"),  # trailing space dropped
        ("café" + "e\u0301" * 3, 6, "café…"),  # never "caf" + "e" without its accent
        ("ab" + FAMILY + "cd", 6, "ab…"),  # the whole family goes, not half of it
        ("ab" + FAMILY + "cd", 10, "ab" + FAMILY + "…"),
        ("🇫🇷🇩🇪🇬🇧", 4, "🇫🇷…"),  # flags are pairs of regional indicators
        ("🇫🇷🇩🇪🇬🇧", 5, "🇫🇷🇩🇪…"),
        ("👍🏽👍🏽👍🏽", 4, "👍🏽…"),  # a skin tone stays with its hand
        ("x", 0, "…"),
    ],
)
def test_cut_between_visible_characters(text: str, limit: int, expected: str) -> None:
    assert cut(text, limit) == expected
    assert len(cut(text, limit)) <= max(limit, 1)


def test_printable_drops_controls_and_lone_surrogates() -> None:
    assert printable("a\x00b\x1bc\td\ne\x7f\x85f\ud800g") == "abc\td\nef\ufffdg"
    assert printable("é 中 👍🏽") == "é 中 👍🏽"


def test_word_spans_group_a_change_across_spaces() -> None:
    assert word_spans(
        "Le contrat porte sur 1,5 million d'euros.", "Le contrat porte sur 2,5 millions d'euros."
    ) == [
        Span("Le contrat porte sur ", "1,5 million", "2,5 millions"),
        Span(" d'euros.", "", ""),
    ]
