"""One story, many pages: near-duplicate fingerprints and cross-language evidence (pure).

**Syndication** (a reprint, a wire copy, a lightly edited copy under another template)
is found with a bottom-k MinHash sketch of the normalised body: every 5-word shingle is
hashed once and the ``SKETCH_SIZE`` smallest hashes are kept. Two copies of one story
share most of their smallest hashes, two different stories share none, so the store
can index sketches by hash and find candidates with a handful of indexed lookups,
whatever the size of the archive. Candidates are then confirmed on the exact shingle
sets: resemblance (Jaccard) for copies, containment for a copy cut short.

**Cross-language links** (the same story in French and in English) cannot use words.
They use what translation keeps: numbers and years, proper nouns, acronyms, vendor
names. A French and an English report of one story share many of them; two stories in
the same week about the same vendor share a few at most.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterable
from dataclasses import dataclass

from watcher.diff import tokens

SHINGLE = 5
SKETCH_SIZE = 64
# Thresholds measured on the shared corpus (339 articles, 57,291 pairs; reproduced by
# benchmarks/changes.py): distinct stories share at most 0.20 containment and 0.08
# resemblance; same-story variants (another template, an added intro, 2.5% or 6.7% of
# words changed, paragraphs reordered, cut to 40% of the text) keep containment >= 0.68
# and share >= 15 of their 64 smallest hashes. Each threshold sits inside its gap.
MIN_SHARED = 8  # smallest hashes in common before the exact comparison runs
RESEMBLANCE = 0.4
CONTAINMENT = 0.5
MIN_SHINGLES = 20  # too short to tell a reprint from a shared boilerplate sentence

_NUMBER = re.compile(r"(?<![\w.,])\d+(?:[.,]\d+)*(?![\w])")
_CAPITALISED = re.compile(r"(?<![\w’'-])([A-ZÀ-ÖØ-Þ][\w’'-]*(?:[ -][A-ZÀ-ÖØ-Þ][\w’'-]*)*)")
_SENTENCE_START = re.compile(r"(?:^|[.!?…]\s+|\n)[«\"“(]?\s*$")
# Capitalised words that name nothing in particular (sentence starts are skipped too).
_COMMON = frozenset(
    """Le La Les Un Une Des Du De Et En Au Aux Ce Cette Ces Il Elle Ils Elles On Nous Vous
    Selon Pour Par Sur Dans Avec Mais Ou Si The A An And In On At For With By From Of To It
    This That These Those He She They We You But Or If As After Before When While Mr Mrs Ms
    Dr M Mme Monday Tuesday Wednesday Thursday Friday Saturday Sunday Lundi Mardi Mercredi
    Jeudi Vendredi Samedi Dimanche January February March April May June July August
    September October November December""".split()
)
_THOUSANDS = re.compile(r"(?<=\d)[\s\u00a0\u202f\u2009](?=\d{3}(?!\d))")


_COMMON_LOWER = frozenset(w.lower() for w in _COMMON)


def shingles(text: str) -> set[int]:
    """Hashes of the normalised text's 5-word shingles (a stable hash: crc32 of the
    shingle's words joined by a space, in UTF-8)."""
    words = [word.encode() for word in tokens(text)]
    if len(words) < SHINGLE:
        return {zlib.crc32(b" ".join(words))} if words else set()
    # zip of the word list shifted 0..4 places: each 5-word window, without slicing.
    windows = zip(*(words[i:] for i in range(SHINGLE)), strict=False)
    return set(map(zlib.crc32, map(b" ".join, windows)))


def sketch(hashes: Iterable[int]) -> list[int]:
    """The bottom-k MinHash sketch: the ``SKETCH_SIZE`` smallest shingle hashes."""
    return sorted(set(hashes))[:SKETCH_SIZE]


@dataclass(frozen=True)
class Similarity:
    resemblance: float  # |A ∩ B| / |A ∪ B|
    containment: float  # |A ∩ B| / min(|A|, |B|)

    @property
    def same_story(self) -> bool:
        return self.resemblance >= RESEMBLANCE or self.containment >= CONTAINMENT


def similarity(a: set[int], b: set[int]) -> Similarity:
    if len(a) < MIN_SHINGLES or len(b) < MIN_SHINGLES:
        return Similarity(0.0, 0.0)
    shared = len(a & b)
    return Similarity(
        resemblance=shared / len(a | b),
        containment=shared / min(len(a), len(b)),
    )


# --- cross-language evidence ---------------------------------------------------------


def _canonical_number(token: str) -> str:
    # "1,5" and "1.5" are one figure; "3 000" was joined by normalisation already.
    return token.replace(",", ".")


def entities(title: str, text: str) -> set[str]:
    """Language-independent features of a story: numbers, proper nouns, acronyms.

    Proper nouns are capitalised words not at the start of a sentence, folded to
    lower case; numbers keep their value ("1,5" = "1.5"); single digits are dropped
    (too common to mean anything).
    """
    document = _THOUSANDS.sub("", f"{title}\n{text}")
    found: set[str] = set()
    for match in _NUMBER.finditer(document):
        value = _canonical_number(match.group())
        if len(value.replace(".", "")) >= 2:
            found.add("#" + value)
    for match in _CAPITALISED.finditer(document):
        name = match.group(1)
        # At a sentence start, only multi-word names and acronyms are evidence.
        at_start = _SENTENCE_START.search(document, max(0, match.start() - 3), match.start())
        if at_start and " " not in name and not name.isupper():
            continue
        # Name words, not whole names: "CHU de Nantes" and "Nantes University Hospital"
        # share "nantes", which is what survives translation.
        for part in re.split(r"[ -]", name):
            if part in _COMMON or len(part) < 2 or part.lower() in _COMMON_LOWER:
                continue
            found.add(part.lower())
    return found


@dataclass(frozen=True)
class CrossLink:
    score: float
    shared: frozenset[str]
    only_here: tuple[str, ...]  # in the new article, not in the other (a figure, a name)
    only_there: tuple[str, ...]


# Linking needs real overlap: several shared specifics, at least one of them a number
# or a name beyond the vendor itself, and a high share of each text's specifics.
MIN_SHARED_ENTITIES = 5
CROSS_LINK_SCORE = 0.35


def cross_link(here: set[str], there: set[str], *, vendors: Iterable[str] = ()) -> CrossLink | None:
    """Whether two reports in different languages tell one story, and how they differ.

    ``vendors`` are the names both mention: they are why the two were compared, so they
    are not evidence that the stories are the same.
    """
    vendor_keys = {word.lower() for name in vendors for word in re.split(r"[ -]", name)}
    shared = here & there
    specific = shared - vendor_keys
    if len(specific) < MIN_SHARED_ENTITIES:
        return None
    score = len(shared) / min(len(here), len(there))
    if score < CROSS_LINK_SCORE:
        return None
    return CrossLink(
        score=score,
        shared=frozenset(shared),
        only_here=tuple(sorted(_readable(here - there))),
        only_there=tuple(sorted(_readable(there - here))),
    )


def _readable(features: set[str]) -> list[str]:
    return [f[1:] if f.startswith("#") else f for f in features]
