"""Vendor matching: names, products, case and accents, and guards that are data."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from watcher.config import load
from watcher.fold import fold
from watcher.match import VendorMatcher, _pattern, _words

MATCHER = VendorMatcher(load(Path(__file__).parents[1] / "sources.yaml", env={}).vendors)


def vendors(text: str) -> list[str]:
    return [m.name for m in MATCHER.find("", text)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Cerner has suspended design work on the Millennium platform.", ["Oracle Health"]),
        (
            "HealtheIntent, the population health platform, is now Oracle Health's.",
            ["Oracle Health"],
        ),
        ("Le groupe COMPUGROUP MÉDICAL rachète un éditeur.", ["CompuGroup Medical"]),
        ("Compugroup Medical et CGM France annoncent un partenariat.", ["CompuGroup Medical"]),
        ("CGM signe avec un GHT pour son logiciel de cabinet.", ["CompuGroup Medical"]),
        ("Le CHU a choisi Dedalus pour son DPI.", ["Dedalus"]),
        ("Epic won the hospital's EHR contract.", ["Epic Systems"]),
        ("Patients use MyChart to book appointments.", ["Epic Systems"]),
        ("Microsoft et Nuance lancent DAX Copilot en France.", ["Microsoft"]),
        (
            "The consortium EDS-Siemens-Bull lost to IBM-France Télécom-Cap Gemini.",
            ["IBM", "Capgemini"],
        ),
        ("BT will run the N3 network for the NHS.", ["BT"]),
        ("Doctolib lève 500 millions d'euros.", ["Doctolib"]),
        ("Le logiciel Hôpital Manager de Softway Medical.", ["Softway Medical"]),
        ("hopital manager, sans accents ni majuscules.", ["Softway Medical"]),
    ],
)
def test_vendor_found(text: str, expected: list[str]) -> None:
    assert vendors(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "It was an epic battle for the hospital budget.",  # "epic" the adjective
        "An epic fail.",
        "A new millennium of care began in 2000.",  # a thousand years
        "The Millennium Development Goals were set by the UN.",
        "Les capteurs CGM mesurent la glycémie en continu chez le patient diabétique.",  # glucose monitoring
        "Continuous glucose monitoring (CGM) sensors from Dexcom.",
        "Dedalus and Icarus escaped the labyrinth with wings of wax.",  # the myth
        "Le mythe de Dedalus et du Minotaure.",
        "Le DAX a perdu 2 % à la Bourse de Francfort.",  # the stock index
        "The BBC and ITV reported it.",  # BT is not in "BBC"
        "Epicentre of the outbreak.",  # word boundaries
    ],
)
def test_no_false_positive(text: str) -> None:
    assert vendors(text) == []


def test_snippet_quotes_the_sentence_as_written() -> None:
    text = "Premier point. Le CHU a signé avec Cerner l'an dernier. Troisième point."
    (match,) = MATCHER.find("Titre", text)
    assert match.matched == ("Cerner",)
    assert match.snippets == ("Le CHU a signé avec Cerner l'an dernier.",)


def test_title_counts_and_terms_are_listed_once() -> None:
    (match,) = MATCHER.find("Oracle Health rachète", "Oracle Health et Cerner. Cerner encore.")
    assert match.name == "Oracle Health"
    assert set(match.matched) == {"Oracle Health", "Cerner"}


def test_long_snippets_are_cut_around_the_match() -> None:
    text = "x " * 300 + "Cerner" + " y" * 300
    (match,) = MATCHER.find("", text)
    snippet = match.snippets[0]
    assert "Cerner" in snippet and len(snippet) <= 242 and snippet.startswith("…")


def test_snippets_prefer_the_body_to_the_title() -> None:
    (match,) = MATCHER.find("Rennes choisit Cerner", "Le CHU a signé avec Cerner l'an dernier.")
    assert match.snippets == ("Le CHU a signé avec Cerner l'an dernier.",)
    (only_title,) = MATCHER.find("Rennes choisit Cerner", "Le CHU a signé un contrat.")
    assert only_title.snippets == ("Rennes choisit Cerner",)


# Pieces that make the matcher work: every term and guard word of the shipped list, in
# other cases, accented or not, glued to letters, with characters whose folded form has
# another length (an ellipsis folds to "...", a soft hyphen to nothing).
_TERMS = [
    t.term
    for v in load(Path(__file__).parents[1] / "sources.yaml", env={}).vendors
    for t in v.terms
]
_GUARDS = ["EHR", "hôpital", "glucose", "Icare", "mythe", "Bourse", "trust", "DPI"]
_PIECES = (
    st.sampled_from(_TERMS + _GUARDS)
    | st.sampled_from(_TERMS).map(str.upper)
    | st.sampled_from(
        [" ", " ", ". ", "\n\n", "…", "\u00ad", "ﬁ", "ß", "e\u0301", "x", "l'", "-", "é", "CHU"]
    )
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_PIECES, max_size=40).map("".join), st.lists(_PIECES, max_size=6).map("".join))
def test_the_substring_prefilter_never_changes_a_result(text: str, title: str) -> None:
    # The needle only lets find() skip terms whose regex cannot match: without it
    # (an empty needle is in every text), the answer must be the same.
    unfiltered = VendorMatcher([])
    unfiltered._terms = [replace(t, needle="") for t in MATCHER._terms]
    unfiltered.vendor_names = MATCHER.vendor_names
    assert MATCHER.find(title, text) == unfiltered.find(title, text)


_EDGES = st.sampled_from(["", "x", "_", "1", "é", " ", "\n", "(", "-", "'"])


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(_TERMS + _GUARDS),
    st.booleans(),
    st.lists(_EDGES | _PIECES, max_size=12).map("".join),
)
def test_term_patterns_match_where_a_word_boundary_lookbehind_would(
    term: str, case_sensitive: bool, text: str
) -> None:
    # _pattern puts "not after a letter" after the term's first character, for speed;
    # it must find exactly what the plain (?<!\w) in front of the term finds.
    words = _words(term, case_sensitive=case_sensitive)
    plain = re.compile(r"(?<!\w)" + r"\s+".join(map(re.escape, words)) + r"(?!\w)")
    fast = re.compile(_pattern(term, case_sensitive=case_sensitive))
    for haystack in (text, fold(text), f"{term} {text} x{term}", f"{fold(term)}{text}"):
        assert [m.span() for m in fast.finditer(haystack)] == [
            m.span() for m in plain.finditer(haystack)
        ]
