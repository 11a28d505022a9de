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
from functools import lru_cache

from watcher.fold import fold
from watcher.models import Change

# Digits grouped by thousands with a space ("1 000 000") are one number: the space goes,
# the digit before it stays (matched rather than looked behind for: a pattern that starts
# with a class lets ``re`` skip ahead to the next digit).
_THOUSANDS = re.compile(r"(\d)[\s\u00a0\u202f\u2009](?=\d{3}(?!\d))")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_LETTERS = re.compile(r"[^\W\d_]+")
_TOKEN = re.compile(r"\d+(?:[.,]\d+)*|[^\W\d_]+")
# A sentence ends at . ! ? or … and the closing quotes or brackets after it, where the
# next one starts with a capital or a digit (after its opening quote, if any).
_SENTENCE_END = re.compile(r"[.!?…][\"'»”’)\]]*(?=\s+[\"'«“‘„(\[]?\s?[A-ZÀ-ÖØ-Þ0-9])")


@lru_cache(maxsize=4)
def tokens(text: str) -> tuple[str, ...]:
    """The folded words and numbers of a text, in order (``normalize(text).split()``).

    Cached: the pipeline asks for each article's twice, for its content hash and for
    its story shingles, one right after the other (a few entries are enough, and keep
    the memory held by long texts small), and folding and tokenising are most of what
    either costs."""
    return tuple(_TOKEN.findall(_THOUSANDS.sub(r"\1", fold(text))))


def normalize(text: str) -> str:
    """Text reduced to what counts: folded words and numbers, one space apart."""
    return " ".join(tokens(text))


def material_key(text: str) -> str:
    """What must differ for a change to count: letters (ignoring where words break,
    since lost apostrophes and spacing are not edits) and numbers (kept apart, since
    1.5 and 15 are not the same figure)."""
    return "".join(
        [f"#{token.replace(',', '.')}#" if token[0].isdigit() else token for token in tokens(text)]
    )


def content_hash(title: str, text: str) -> str:
    """The hash stored with each version: equal hashes mean no material change."""
    key = material_key(title) + "\x1e" + material_key(text)
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def split_sentences(text: str) -> list[str]:
    """Sentences of an article, paragraph by paragraph."""
    out: list[str] = []
    for paragraph in text.split("\n\n"):
        paragraph = " ".join(paragraph.split())
        start = 0
        for end in _SENTENCE_END.finditer(paragraph):
            out.append(paragraph[start : end.end()].strip())
            start = end.end()
        if paragraph[start:].strip():
            out.append(paragraph[start:].strip())
    return out


CHANGE_CLASSES = ("correction", "addition", "removal", "retitle", "rewrite", "paywall")
_MONTH_WORDS = frozenset(
    """janvier février fevrier mars avril mai juin juillet août aout septembre octobre novembre
    décembre decembre january february march april may june july august september october
    november december jan feb mar apr jun jul aug sep sept oct nov dec
    enero febrero marzo abril mayo junio julio agosto septiembre setiembre octubre
    noviembre diciembre januar jänner februar märz maerz juni juli oktober dezember""".split()
)
_WORDS = re.compile(r"\w+(?:[.,]\d+)*")
# A changed sentence counts as a correction when at most this many words moved and at
# least half of them are figures, dates or names (a figure drags its unit along:
# "1,5 million" -> "2,5 millions"); anything else is a rewrite of that sentence.
_CORRECTION_WORDS = 6
# A change touching more than this share of the sentences is a rewrite of the article.
_REWRITE_SHARE = 0.5


def _specific(token: str) -> bool:
    """A figure, a date word or a name: what a correction changes."""
    return any(c.isdigit() for c in token) or token.lower() in _MONTH_WORDS or token[:1].isupper()


def word_changes(old: str, new: str) -> tuple[list[str], list[str]]:
    """The words of ``old`` that went and the words of ``new`` that came."""
    a, b = _WORDS.findall(old), _WORDS.findall(new)
    matcher = difflib.SequenceMatcher(
        a=[w.casefold() for w in a], b=[w.casefold() for w in b], autojunk=False
    )
    gone: list[str] = []
    came: list[str] = []
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op != "equal":
            gone.extend(a[i1:i2])
            came.extend(b[j1:j2])
    return gone, came


def classify(
    *,
    title_changed: bool,
    replaced: Sequence[tuple[str, str]],
    removed: Sequence[str],
    added: Sequence[str],
    sentences: int,
) -> tuple[str, ...]:
    """What kind of change this is (several can apply), in the order users rank them."""
    classes: list[str] = []
    corrected = rewritten = False
    for old, new in replaced:
        gone, came = word_changes(old, new)
        moved = gone + came
        specific = sum(1 for w in moved if _specific(w))
        if moved and len(moved) <= _CORRECTION_WORDS and specific * 2 >= len(moved):
            corrected = True
        else:
            rewritten = True
    if corrected:
        classes.append("correction")
    if added:
        classes.append("addition")
    if removed:
        classes.append("removal")
    if title_changed:
        classes.append("retitle")
    touched = len(replaced) + max(len(added), len(removed))
    if rewritten or (sentences and touched / sentences > _REWRITE_SHARE):
        classes.append("rewrite")
    return tuple(classes)


def is_teaser(short_text: str, long_text: str) -> bool:
    """Whether ``short_text`` is a paywall teaser of ``long_text``: much shorter, and
    made of the full text's opening (its last sentence may be cut off mid-way)."""
    short_key, long_key = material_key(short_text), material_key(long_text)
    if not short_key or len(short_key) > 0.6 * len(long_key):
        return False
    keys = [material_key(s) for s in split_sentences(short_text)]
    whole = "".join(keys[:-1] if len(keys) > 1 else keys)
    # The opening, not any part: a text that lost a middle paragraph is an edit. A little
    # slack at the start allows for a kicker or standfirst only one version has.
    start = long_key.find(whole)
    if start < 0 or start > max(40, len(whole) // 10):
        return False
    cut = keys[-1][: max(len(keys[-1]) // 2, 1)]  # a cut sentence still starts alike
    return len(keys) == 1 or long_key.find(cut, start + len(whole)) >= 0


def compare(
    old_title: str,
    old_text: str,
    new_title: str,
    new_text: str,
    *,
    from_version: int,
    to_version: int | None = None,
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
    replaced: list[tuple[str, str]] = []
    only_added: list[str] = []
    only_removed: list[str] = []
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            continue
        olds, news = old_sentences[i1:i2], new_sentences[j1:j2]
        removed.extend(olds)
        added.extend(news)
        paired = min(len(olds), len(news)) if op == "replace" else 0
        replaced.extend(zip(olds[:paired], news[:paired], strict=True))
        only_removed.extend(olds[paired:])
        only_added.extend(news[paired:])
    target = to_version if to_version is not None else from_version + 1
    return Change(
        from_version=from_version,
        added=tuple(added),
        removed=tuple(removed),
        diff=_unified(
            matcher,
            old_sentences,
            new_sentences,
            (from_version, target),
            (old_title, new_title) if title_changed else None,
        ),
        title_changed=title_changed,
        classes=classify(
            title_changed=title_changed,
            replaced=replaced,
            removed=only_removed,
            added=only_added,
            sentences=max(len(old_sentences), len(new_sentences)),
        ),
        replaced=tuple(replaced),
    )


def _unified(
    matcher: difflib.SequenceMatcher[str],
    old: Sequence[str],
    new: Sequence[str],
    versions: tuple[int, int],
    titles: tuple[str, str] | None,
) -> str:
    """A unified diff, one sentence per line. Sentences are matched on their normalised
    form, so a sentence whose only edit is cosmetic shows as unchanged context."""
    lines = [f"--- version {versions[0]}", f"+++ version {versions[1]}"]
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
