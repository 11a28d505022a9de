"""Compare stage: is a new text a material change of the stored one, and how (pure).

"Material" means a change in words or numbers. Before comparing, text is normalised
(Unicode compatibility forms, accents, case, quotes, dashes, soft hyphens, zero-width
characters, whitespace and punctuation), so a re-encoded apostrophe, a typographic
quote or a reflowed paragraph is not a change, while "1.5 million" -> "15 million" is.
"""

from __future__ import annotations

import difflib
import hashlib
import re
from collections.abc import Sequence

from watcher.fold import fold
from watcher.models import Change

# Digits grouped by thousands with a space ("1 000 000") are one number.
_THOUSANDS = re.compile(r"(?<=\d)[\s\u00a0\u202f\u2009](?=\d{3}(?!\d))")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_LETTERS = re.compile(r"[^\W\d_]+")
_TOKEN = re.compile(r"\d+(?:[.,]\d+)*|[^\W\d_]+")
_SENTENCE = re.compile(r"(?<=[.!?…])[\"'»”)\]]*\s+(?=[\"'«“(\[]?\s?[A-ZÀ-ÖØ-Þ0-9])")


def normalize(text: str) -> str:
    """Text reduced to what counts: folded words and numbers, one space apart."""
    folded = _THOUSANDS.sub("", fold(text))
    return " ".join(_TOKEN.findall(folded))


def material_key(text: str) -> str:
    """What must differ for a change to count: letters (ignoring where words break,
    since lost apostrophes and spacing are not edits) and numbers (kept apart, since
    1.5 and 15 are not the same figure)."""
    folded = _THOUSANDS.sub("", fold(text))
    parts: list[str] = []
    for match in _TOKEN.finditer(folded):
        token = match.group()
        if token[0].isdigit():
            parts.append(f"#{token.replace(',', '.')}#")
        else:
            parts.append(token)
    return "".join(parts)


def content_hash(title: str, text: str) -> str:
    """The hash stored with each version: equal hashes mean no material change."""
    key = material_key(title) + "\x1e" + material_key(text)
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def split_sentences(text: str) -> list[str]:
    """Sentences of an article, paragraph by paragraph."""
    out: list[str] = []
    for paragraph in text.split("\n\n"):
        paragraph = " ".join(paragraph.split())
        if paragraph:
            out.extend(s.strip() for s in _SENTENCE.split(paragraph) if s.strip())
    return out


def compare(
    old_title: str,
    old_text: str,
    new_title: str,
    new_text: str,
    *,
    from_version: int,
) -> Change | None:
    """The change from the old version to the new one, or ``None`` if not material."""
    title_changed = material_key(old_title) != material_key(new_title)
    if not title_changed and material_key(old_text) == material_key(new_text):
        return None
    old_sentences = split_sentences(old_text)
    new_sentences = split_sentences(new_text)
    matcher = difflib.SequenceMatcher(
        a=[material_key(s) for s in old_sentences],
        b=[material_key(s) for s in new_sentences],
        autojunk=False,
    )
    added: list[str] = []
    removed: list[str] = []
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op != "equal":
            removed.extend(old_sentences[i1:i2])
            added.extend(new_sentences[j1:j2])
    return Change(
        from_version=from_version,
        added=tuple(added),
        removed=tuple(removed),
        diff=_unified(
            matcher,
            old_sentences,
            new_sentences,
            from_version,
            (old_title, new_title) if title_changed else None,
        ),
        title_changed=title_changed,
    )


def _unified(
    matcher: difflib.SequenceMatcher[str],
    old: Sequence[str],
    new: Sequence[str],
    from_version: int,
    titles: tuple[str, str] | None,
) -> str:
    """A unified diff, one sentence per line. Sentences are matched on their normalised
    form, so a sentence whose only edit is cosmetic shows as unchanged context."""
    lines = [f"--- version {from_version}", f"+++ version {from_version + 1}"]
    if titles:
        lines += ["@@ title @@", f"-{titles[0]}", f"+{titles[1]}"]
    for group in matcher.get_grouped_opcodes(1):
        i1, i2, j1, j2 = group[0][1], group[-1][2], group[0][3], group[-1][4]
        lines.append(f"@@ -{i1 + 1},{i2 - i1} +{j1 + 1},{j2 - j1} @@")
        for op, a1, a2, b1, b2 in group:
            if op == "equal":
                lines += [f" {s}" for s in new[b1:b2]]
            else:
                lines += [f"-{s}" for s in old[a1:a2]]
                lines += [f"+{s}" for s in new[b1:b2]]
    return "\n".join(lines)
