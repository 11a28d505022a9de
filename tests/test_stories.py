"""Fingerprints for syndicated copies, and evidence for cross-language reports (pure)."""

from __future__ import annotations

import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import page_text
from watcher.diff import normalize
from watcher.extract import extract
from watcher.stories import MIN_SHARED, cross_link, entities, shingles, similarity, sketch

ARTICLE = extract(page_text("readability/lemonde-1.html.gz"), "https://www.lemonde.fr/a").text
OTHER = extract(page_text("fundus/LeMonde_2023_09_01.html.gz"), "https://www.lemonde.fr/b").text


def reprint_variants(text: str) -> dict[str, str]:
    paragraphs = text.split("\n\n")
    words = text.split()
    return {
        "identical": text,
        "intro and outro added": "Article publié avec l'accord de notre partenaire.\n\n"
        + text
        + "\n\nLire la suite sur le site d'origine.",
        "first and last paragraphs dropped": "\n\n".join(paragraphs[1:-1]),
        "cut to 40%": " ".join(words[: int(len(words) * 0.4)]),
        "paragraphs reordered": "\n\n".join(paragraphs[:2][::-1] + paragraphs[2:]),
        "a few words edited": text.replace("députés", "élus").replace("projet de loi", "texte"),
    }


@pytest.mark.parametrize("variant", list(reprint_variants(ARTICLE)))
def test_copies_of_a_story_are_the_same_story(variant: str) -> None:
    original, copy = shingles(ARTICLE), shingles(reprint_variants(ARTICLE)[variant])
    assert similarity(original, copy).same_story
    assert len(set(sketch(original)) & set(sketch(copy))) >= MIN_SHARED


def test_distinct_stories_are_not_linked() -> None:
    a, b = shingles(ARTICLE), shingles(OTHER)
    assert not similarity(a, b).same_story
    assert len(set(sketch(a)) & set(sketch(b))) < MIN_SHARED


def test_short_texts_are_never_linked() -> None:
    assert not similarity(shingles("Cerner signe."), shingles("Cerner signe.")).same_story


# Synthetic (written for the test): one story in French and English whose two reports
# disagree on the go-live year and name the hospital differently, as in DESIGN.md.
FR = (
    "Nantes suspend le déploiement de Cerner",
    "Le CHU de Nantes a suspendu le déploiement du dossier patient de Cerner. Le projet, lancé "
    "en 2017, devait s'achever fin décembre 2019. Selon la direction, 14 services sur 32 "
    "utilisent déjà Millennium. Le budget atteint 12,5 millions d'euros. Oracle Health n'a pas commenté.",
)
EN = (
    "Nantes pauses Cerner rollout",
    "Nantes University Hospital has paused its Cerner patient record rollout. The project, "
    "launched in 2017, was due to finish in December 2024. According to management, 14 of 32 "
    "departments already use Millennium. The budget has reached €12.5 million. Oracle Health declined to comment.",
)
OTHER_FR = (
    "Rennes choisit Cerner",
    "Le CHU de Rennes a choisi Cerner et Millennium pour ses 3 000 lits en 2025. Le contrat avec "
    "Oracle Health court sur dix ans et couvre les urgences.",
)


def test_entities_are_numbers_and_names() -> None:
    assert entities(*FR) == {
        "#2017",
        "#2019",
        "#14",
        "#32",
        "#12.5",
        "cerner",
        "chu",
        "nantes",
        "millennium",
        "oracle",
        "health",
    }
    assert "#3000" in entities(*OTHER_FR)


def test_the_same_story_in_two_languages_is_linked_and_its_differences_shown() -> None:
    link = cross_link(entities(*EN), entities(*FR), vendors=["Oracle Health"])
    assert link is not None and link.score > 0.7
    assert set(link.only_here) == {"2024", "hospital", "university"}
    assert set(link.only_there) == {"2019", "chu"}


def test_another_story_about_the_same_vendor_is_not_linked() -> None:
    assert cross_link(entities(*EN), entities(*OTHER_FR), vendors=["Oracle Health"]) is None


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab é1 2,.\n\u00a0ß'")), max_size=80))
def test_shingles_are_the_crc32_of_each_five_words(text: str) -> None:
    words = normalize(text).split()
    windows = [" ".join(words[i : i + 5]) for i in range(len(words) - 4)] or (
        [" ".join(words)] if words else []
    )
    assert shingles(text) == {zlib.crc32(w.encode()) for w in windows}


def test_the_sketch_is_the_smallest_hashes_in_order() -> None:
    hashes = {zlib.crc32(str(n).encode()) for n in range(500)}
    assert sketch(hashes) == sorted(hashes)[:64]
    assert sketch([3, 1, 2, 1]) == [1, 2, 3]
