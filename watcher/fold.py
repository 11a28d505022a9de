"""Folding text for comparison: case, accents, typographic punctuation, invisible
characters and whitespace made uniform (pure).

One ``str.translate`` table, filled on first sight of each character, serves every
stage that compares text (boilerplate phrases, vendor names, dates, change detection):
it is C-speed after warm-up, where per-character normalisation in Python is not.
"""

from __future__ import annotations

import re
import unicodedata

# Characters that carry nothing: soft hyphen, zero-width space/joiners, word joiner, BOM.
INVISIBLE = frozenset("\u00ad\u200b\u200c\u200d\u2060\ufeff")
_PLAIN = str.maketrans(
    {"’": "'", "‘": "'", "ʼ": "'", "´": "'", "‐": "-", "‑": "-", "‒": "-", "–": "-", "—": "-"}
)


class _FoldTable(dict[int, str]):
    def __missing__(self, code: int) -> str:
        char = chr(code)
        if char in INVISIBLE:
            folded = ""
        elif char.isspace():
            folded = " "
        else:
            pieces = unicodedata.normalize("NFKD", char.translate(_PLAIN))
            folded = "".join(p for p in pieces if not unicodedata.combining(p)).casefold()
        self[code] = folded
        return folded


_TABLE = _FoldTable()


def fold(text: str) -> str:
    """Casefolded, accent-free, plain apostrophes and dashes, every space a " "."""
    return text.translate(_TABLE)


def fold_words(text: str) -> str:
    """:func:`fold`, with runs of whitespace collapsed and the ends stripped."""
    if text.isascii():  # the table folds ASCII as lower() does: lower() is C-speed
        return " ".join(text.lower().split())
    return " ".join(text.translate(_TABLE).split())


def fold_with_map(text: str) -> tuple[str, list[int] | None]:
    """Folded text, and for each of its characters the index of the original character
    it came from (``None`` when folding kept every position, the usual case)."""
    folded = text.translate(_TABLE)
    odd = "".join(c for c in set(text) if len(_TABLE[ord(c)]) != 1)
    if not odd:
        return folded, None
    # Runs of characters that fold to one character map position for position: only
    # the odd ones (an ellipsis that becomes "...", an invisible one that goes) are
    # visited in Python; a French article has a few of them in thousands of characters.
    index: list[int] = []
    start = 0
    for match in re.finditer(f"[{re.escape(odd)}]", text):
        position = match.start()
        index.extend(range(start, position))
        index.extend([position] * len(_TABLE[ord(text[position])]))
        start = position + 1
    index.extend(range(start, len(text)))
    return folded, index
