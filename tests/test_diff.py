"""Only words and numbers count: cosmetic edits are never changes, material ones always."""

from __future__ import annotations

import pytest

from watcher.diff import (
    compare,
    content_hash,
    is_teaser,
    normalize,
    split_sentences,
    tokens,
    word_changes,
)
from watcher.models import Change

BODY = (
    "Le CHU de Rennes a choisi le DPI de Dedalus. Le contrat porte sur 1,5 million d'euros.\n\n"
    "Le déploiement commencera en décembre 2019 dans 12 services."
)


@pytest.mark.parametrize(
    ("label", "new"),
    [
        ("whitespace", BODY.replace(" ", "  ").replace("\n\n", "\n\n\n")),
        ("case", BODY.upper()),
        ("typographic apostrophe", BODY.replace("d'euros", "d’euros")),
        ("lost apostrophe", BODY.replace("d'euros", "deuros")),
        ("punctuation only", BODY.replace(".", " !")),
        (
            "soft hyphen and zero-width space",
            BODY.replace("déploiement", "dé\u00adploie\u200bment"),
        ),
        ("accents lost", BODY.replace("é", "e")),
        ("non-breaking spaces", BODY.replace(" ", "\u00a0")),
        ("thousands separator", BODY.replace("12 services", "12 services")),
    ],
)
def test_cosmetic_edits_are_not_changes(label: str, new: str) -> None:
    assert compare("Titre", BODY, "Titre", new, from_version=1) is None
    assert content_hash("Titre", BODY) == content_hash("Titre", new)


@pytest.mark.parametrize(
    ("label", "new", "removed", "added"),
    [
        ("figure", BODY.replace("1,5 million", "15 millions"), 1, 1),
        ("decimal figure", BODY.replace("1,5", "2,5"), 1, 1),
        ("date", BODY.replace("décembre 2019", "décembre 2024"), 1, 1),
        ("name", BODY.replace("Rennes", "Nantes"), 1, 1),
        ("sentence added", BODY + " Il concerne 3 000 lits.", 0, 1),
        ("paragraph removed", BODY.split("\n\n")[0], 1, 0),
    ],
)
def test_material_edits_are_changes(label: str, new: str, removed: int, added: int) -> None:
    change = compare("Titre", BODY, "Titre", new, from_version=3)
    assert change is not None
    assert change.from_version == 3
    assert (len(change.removed), len(change.added)) == (removed, added)
    assert change.diff.startswith("--- version 3\n+++ version 4")
    assert content_hash("Titre", BODY) != content_hash("Titre", new)


def test_retitle_is_a_change_and_shows_in_the_diff() -> None:
    change = compare("Dedalus gagne", BODY, "Dedalus perd", BODY, from_version=1)
    assert change is not None and change.title_changed
    assert "-Dedalus gagne\n+Dedalus perd" in change.diff
    assert change.added == () and change.removed == ()


@pytest.mark.parametrize("new_title", ["Dedalus perd", "Dedalus gagne"])
def test_a_change_comes_back_whole_from_its_payload(new_title: str) -> None:
    # Events wait in the outbox as JSON: the change read back is the change sent.
    new = BODY.replace("12 services", "14 services")
    change = compare("Dedalus gagne", BODY, new_title, new, from_version=1)
    assert change is not None
    assert Change.from_dict(change.to_dict()) == change


def test_unified_diff_shows_changed_sentence_with_context() -> None:
    new = BODY.replace("1,5 million", "2 millions")
    change = compare("T", BODY, "T", new, from_version=1)
    assert change is not None
    assert "-Le contrat porte sur 1,5 million d'euros." in change.diff
    assert "+Le contrat porte sur 2 millions d'euros." in change.diff
    assert " Le CHU de Rennes a choisi le DPI de Dedalus." in change.diff


def test_split_sentences() -> None:
    assert split_sentences("Un. Deux ? « Trois » dit-il.\n\nQuatre") == [
        "Un.",
        "Deux ?",
        "« Trois » dit-il.",
        "Quatre",
    ]
    # A quote inside a quote closes with ’” (typographic quotes): still a sentence end.
    assert split_sentences("“He said ‘no.’” Then he left.") == ["“He said ‘no.’”", "Then he left."]


@pytest.mark.parametrize(
    ("old", "new"),
    [("en abril en India", "en mayo en India"), ("im März begonnen", "im April begonnen")],
)
def test_spanish_and_german_month_edits_are_corrections(old: str, new: str) -> None:
    text = f"Das Projekt hat {old}, sagte die Klinik. Es kostet 3 Millionen Euro."
    change = compare("T", text, "T", text.replace(old, new), from_version=1)
    assert change is not None and change.classes == ("correction",)


@pytest.mark.parametrize(
    ("label", "title", "new", "classes"),
    [
        ("figure", "Titre", BODY.replace("1,5 million", "2,5 millions"), ("correction",)),
        ("date", "Titre", BODY.replace("décembre 2019", "décembre 2024"), ("correction",)),
        ("name", "Titre", BODY.replace("Rennes", "Nantes"), ("correction",)),
        ("sentence added", "Titre", BODY + " Il concerne 3 000 lits.", ("addition",)),
        ("paragraph removed", "Titre", BODY.split("\n\n")[0], ("removal",)),
        ("retitle", "Nouveau titre", BODY, ("retitle",)),
        (
            "reworded",
            "Titre",
            BODY.replace("a choisi", "a finalement retenu, après de longs débats,"),
            ("rewrite",),
        ),
        ("everything", "Titre", "Un tout autre texte. Sans rapport. Vraiment aucun.", ("rewrite",)),
        ("figure and retitle", "Autre", BODY.replace("1,5", "2,5"), ("correction", "retitle")),
    ],
)
def test_changes_are_classified(label: str, title: str, new: str, classes: tuple[str, ...]) -> None:
    change = compare("Titre", BODY, title, new, from_version=1)
    assert change is not None and change.classes == classes


def test_replaced_sentences_are_paired_for_word_marking() -> None:
    change = compare("T", BODY, "T", BODY.replace("1,5 million", "2,5 millions"), from_version=1)
    assert change is not None
    assert change.replaced == (
        ("Le contrat porte sur 1,5 million d'euros.", "Le contrat porte sur 2,5 millions d'euros."),
    )
    assert word_changes(*change.replaced[0]) == (["1,5", "million"], ["2,5", "millions"])


FULL = (
    BODY
    + "\n\n"
    + " ".join(
        f"Détail {i} du projet réservé aux abonnés, avec chiffres et calendrier." for i in range(12)
    )
)


@pytest.mark.parametrize(
    ("short", "long", "teaser"),
    [
        (BODY, FULL, True),  # the opening of the full text
        (BODY[:-20] + "…", FULL, True),  # cut mid-sentence
        (FULL, BODY, False),  # the long one is not a teaser of the short one
        (BODY.replace("Rennes", "Nantes"), FULL, False),  # an edit, not a teaser
        ("Un autre article.", FULL, False),
        # A long paragraph removed from the middle leaves a shorter text made of the
        # full one's sentences, but not its opening: an edit, never a teaser.
        (
            BODY + "\n\n" + FULL.split("\n\n")[-1][-200:],
            BODY
            + "\n\n"
            + "Un paragraphe entier supprimé ensuite, long de plusieurs phrases. " * 8
            + "\n\n"
            + FULL.split("\n\n")[-1][-200:],
            False,
        ),
    ],
)
def test_paywall_teasers(short: str, long: str, teaser: bool) -> None:
    assert is_teaser(short, long) is teaser


def test_content_hashes_are_stable_across_releases() -> None:
    # Stored versions keep their hash: were the hash to change, every article's next
    # check would look like an edit. A new way of computing it must give this value.
    text = (
        "Le CHU de Rennes a choisi le DPI de Dedalus. Le contrat porte sur 1,5 million "
        "d'euros.\n\nLe déploiement commencera en décembre 2019 dans 12 services, pour "
        "1 000 000 patients."
    )
    assert (
        content_hash("Titre à l'été", text)
        == "b9bb4fdec2423cbd8e9ba8790455cd24ec0758fa33ddb912ca9213839be575fa"
    )


@pytest.mark.parametrize(
    "text", ["", "Un mot", "1 000 000 et 12 345,5", "ﬁ ß É\u00ad x\u200by", "a\tb\nc  d"]
)
def test_tokens_are_the_normalised_words(text: str) -> None:
    assert tokens(text) == tuple(normalize(text).split())
