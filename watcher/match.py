"""Match stage: which watched vendors an article mentions, and where (pure).

Names match case- and accent-insensitively on word boundaries ("Compugroup Médical",
"COMPUGROUP MEDICAL" and "CompuGroup Medical" are one), unless a term is marked
``case_sensitive``. Ambiguous names are guarded by data in the vendor list, never by
code: ``near`` (one of these words must be close by: "Millennium" near "Cerner" or
"EHR") and ``not_near`` (none of these may be: "CGM" near "glucose"). Folding keeps a map
back to the original text, so snippets quote the article as written.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from watcher.config import Term, VendorConfig
from watcher.fold import fold, fold_with_map
from watcher.models import VendorMatch

_SNIPPET_CHARS = 240
_MAX_SNIPPETS = 3
_SENTENCE_END = re.compile(r"[.!?…]\s|\n")


def _words(term: str, *, case_sensitive: bool) -> list[str]:
    return term.split() if case_sensitive else fold(term).split()


def _pattern(term: str, *, case_sensitive: bool) -> str:
    words = _words(term, case_sensitive=case_sensitive)
    if not words:
        return r"(?<!\w)(?!\w)"
    # "Not after a letter", written after the first character ("c(?<!\w.)erner") rather
    # than before it ("(?<!\w)cerner"): the same matches, but a pattern that starts with
    # a literal lets ``re`` jump from one "c" to the next instead of trying every position
    # (15x faster on an article that has the term's needle but not the term).
    first = words[0]
    head = re.escape(first[0]) + r"(?<!\w.)" + re.escape(first[1:])
    body = r"\s+".join([head, *(re.escape(w) for w in words[1:])])
    return rf"{body}(?!\w)"


@dataclass(frozen=True)
class _Compiled:
    vendor: str
    term: Term
    regex: re.Pattern[str]
    near: re.Pattern[str] | None
    not_near: re.Pattern[str] | None
    # A string the regex cannot match without: its longest word (the rarest, usually:
    # "healthcare" rather than "ge"), as it must appear in the text searched. Most terms
    # are absent from most articles, and ``in`` (a C substring search) says so far faster
    # than the regex, whose leading look-behind stops ``re`` from skipping ahead to a
    # literal prefix: it tries every position of the text.
    needle: str


def _any_of(words: Iterable[str]) -> re.Pattern[str] | None:
    patterns = [_pattern(w, case_sensitive=False) for w in words]
    return re.compile("|".join(patterns)) if patterns else None


class VendorMatcher:
    """Compiled once from the vendor list; ``find(title, text)`` is then cheap."""

    def __init__(self, vendors: Iterable[VendorConfig]) -> None:
        self._terms: list[_Compiled] = []
        for vendor in vendors:
            for term in vendor.terms:
                self._terms.append(
                    _Compiled(
                        vendor=vendor.name,
                        term=term,
                        regex=re.compile(_pattern(term.term, case_sensitive=term.case_sensitive)),
                        near=_any_of(term.near),
                        not_near=_any_of(term.not_near),
                        needle=max(
                            _words(term.term, case_sensitive=term.case_sensitive),
                            key=len,
                            default="",
                        ),
                    )
                )
        self.vendor_names = tuple(dict.fromkeys(t.vendor for t in self._terms))
        # Longest terms first, so "CompuGroup Medical" claims its span before "CompuGroup".
        self._terms.sort(key=lambda t: len(t.term.term), reverse=True)

    def find(self, title: str, text: str) -> tuple[VendorMatch, ...]:
        """The vendors mentioned in an article, in the order of the vendor list."""
        document = f"{title}\n\n{text}"
        folded, index = fold_with_map(document)
        to_original = (lambda i: i) if index is None else index.__getitem__
        to_folded = (lambda i: i) if index is None else (lambda i: _first_at_or_after(index, i))
        body_start = len(title) + 2
        found: dict[str, tuple[list[str], list[str]]] = {}
        title_snippets: dict[str, str] = {}
        claimed: list[tuple[int, int]] = []
        for compiled in self._terms:
            haystack = document if compiled.term.case_sensitive else folded
            if compiled.needle not in haystack:
                continue
            for match in compiled.regex.finditer(haystack):
                if compiled.term.case_sensitive:
                    start, end = match.start(), match.end()
                    fstart, fend = to_folded(start), to_folded(end)
                else:
                    fstart, fend = match.start(), match.end()
                    start, end = to_original(fstart), to_original(fend - 1) + 1
                if any(a <= start and end <= b for a, b in claimed):
                    continue
                if not self._guards_pass(compiled, folded, fstart, fend):
                    continue
                claimed.append((start, end))
                terms, snippets = found.setdefault(compiled.vendor, ([], []))
                if compiled.term.term not in terms:
                    terms.append(compiled.term.term)
                if start < body_start:
                    # The title is shown anyway: quote it only if the body never names it.
                    title_snippets.setdefault(compiled.vendor, title.strip())
                    continue
                snippet = _snippet(document, start, end)
                if len(snippets) < _MAX_SNIPPETS and snippet not in snippets:
                    snippets.append(snippet)
        return tuple(
            VendorMatch(
                name=name,
                matched=tuple(found[name][0]),
                snippets=tuple(found[name][1]) or (title_snippets[name],),
            )
            for name in self.vendor_names
            if name in found
        )

    @staticmethod
    def _guards_pass(compiled: _Compiled, folded: str, start: int, end: int) -> bool:
        if compiled.near is None and compiled.not_near is None:
            return True
        window = _window(folded, start, end, compiled.term.within)
        if compiled.not_near is not None and compiled.not_near.search(window):
            return False
        return compiled.near is None or bool(compiled.near.search(window))


def _first_at_or_after(index: list[int], position: int) -> int:
    # index is non-decreasing: binary search for the first folded char at `position`.
    lo, hi = 0, len(index)
    while lo < hi:
        mid = (lo + hi) // 2
        if index[mid] < position:
            lo = mid + 1
        else:
            hi = mid
    return lo


def _window(folded: str, start: int, end: int, words: int) -> str:
    """``words`` words either side of the match (the match itself blanked out)."""
    left = folded[max(0, start - words * 12) : start].split()[-words:]
    right = folded[end : end + words * 12].split()[:words]
    return " ".join(left) + " \x00 " + " ".join(right)


def _snippet(text: str, start: int, end: int) -> str:
    """The sentence around a match, cut to a readable length, marked with … if cut."""
    left = text.rfind("\n", 0, start) + 1
    for found in _SENTENCE_END.finditer(text, max(left, start - _SNIPPET_CHARS), start):
        left = max(left, found.end())
    right_match = _SENTENCE_END.search(text, end)
    right = right_match.start() + 1 if right_match else len(text)
    if right - left > _SNIPPET_CHARS:
        half = (_SNIPPET_CHARS - (end - start)) // 2
        new_left = max(left, start - half)
        new_right = min(right, end + half)
        prefix = "…" if new_left > left else ""
        suffix = "…" if new_right < right else ""
        return prefix + " ".join(text[new_left:new_right].split()) + suffix
    return " ".join(text[left:right].split())
