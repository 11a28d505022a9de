"""What a re-read article means, given its stored versions.

A new text of a stored article is one of:

- the same text (no material change): nothing to store;
- a text the article had recently (``revisit``): A/B tests, a CDN serving a stale copy
  and teaser/full alternation make pages flap between bodies. Comparing with the last
  version only would announce every flip; comparing with the recent versions announces
  the first change and stays quiet while the page flaps;
- a paywall teaser of the stored full text: not an edit, nothing is stored;
- the full text of a stored teaser: stored as a version (class ``paywall``), announced
  to nobody: the article did not change, the paywall did;
- a material change: a new version with its diff and classes.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

from watcher.diff import compare, is_teaser
from watcher.models import Change, Version
from watcher.store import Store

# How many recent versions the flapping guard looks back on.
RECENT_VERSIONS = 6

VerdictKind = Literal["same", "revisit", "teaser", "change"]


@dataclass(frozen=True)
class Verdict:
    kind: VerdictKind
    number: int | None = None  # the version to point at (revisit) or to create (change)
    change: Change | None = None
    announce: bool = True


def judge(
    store: Store, article_id: int, latest: Version, title: str, text: str, fingerprint: str
) -> Verdict:
    """Decide what ``title``/``text`` means for the article whose current version is
    ``latest`` (their content hashes differ)."""
    recent = store.recent_versions(article_id, RECENT_VERSIONS)
    for version in recent:
        if version.content_hash == fingerprint and version.number != latest.number:
            return Verdict("revisit", number=version.number)
    if is_teaser(text, latest.text):
        return Verdict("teaser")
    number = store.next_version_number(article_id)
    change = compare(
        latest.title, latest.text, title, text, from_version=latest.number, to_version=number
    )
    if change is None:
        return Verdict("same")
    if is_teaser(latest.text, text):
        return Verdict(
            "change", number=number, change=replace(change, classes=("paywall",)), announce=False
        )
    return Verdict("change", number=number, change=change)
