"""Folding: the map back to the original text, checked against the plain definition."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from watcher.fold import fold, fold_with_map, fold_words


def reference_map(text: str) -> list[int]:
    """Each folded character's original position, computed one character at a time."""
    index: list[int] = []
    for position, char in enumerate(text):
        index.extend([position] * len(fold(char)))
    return index


# Characters that fold to one character, to several ("…" -> "...", "ß" -> "ss"), or to
# none (soft hyphen, zero-width space), and characters special inside a regex class.
ODD = "…ßﬁ\u00ad\u200b\ufeffé\u0301œ]^-\\[’"


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=st.sampled_from(ODD) | st.characters(), max_size=200))
def test_fold_with_map_maps_every_folded_character_back(text: str) -> None:
    folded, index = fold_with_map(text)
    assert folded == fold(text)
    if index is None:
        assert reference_map(text) == list(range(len(text)))
    else:
        assert index == reference_map(text)
        assert len(index) == len(folded)


def test_the_usual_text_needs_no_map() -> None:
    assert fold_with_map("Le CHU de Rennes a choisi Cerner.") == (
        "le chu de rennes a choisi cerner.",
        None,
    )
    folded, index = fold_with_map("Straße… fin")
    assert folded == "strasse... fin"
    assert index == [0, 1, 2, 3, 4, 4, 5, 6, 6, 6, 7, 8, 9, 10]


@given(st.text(alphabet=st.characters(max_codepoint=127), max_size=80))
def test_ascii_text_folds_to_its_words_lower_cased(text: str) -> None:
    # fold_words' shortcut for ASCII text must agree with the table.
    assert fold_words(text) == " ".join(fold(text).split())
