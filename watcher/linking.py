"""Which story a new article belongs to: a copy of one already stored (syndication), a
report of it in another language, or a story of its own.

The evidence is computed in :mod:`watcher.stories` (pure); this module asks the store
for candidates (a few indexed lookups, whatever the archive's size) and confirms them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from watcher.models import LinkedReport
from watcher.store import Store, StoryMember
from watcher.stories import (
    MIN_SHARED,
    CrossLink,
    Similarity,
    cross_link,
    entities,
    shingles,
    similarity,
    sketch,
)

# Reports of one story in two languages are published days apart at most.
TRANSLATION_WINDOW = timedelta(days=14)


@dataclass(frozen=True)
class StoryLink:
    story_id: int
    kind: str  # "copy" or "translation"
    score: float
    other: StoryMember
    cross: CrossLink | None = None


@dataclass(frozen=True)
class Evidence:
    """What is stored with an article so later ones can be linked to it."""

    sketch: tuple[int, ...]
    entities: tuple[str, ...] | None


def evidence(title: str, text: str, *, with_entities: bool) -> tuple[Evidence, set[int]]:
    hashes = shingles(text)
    features = tuple(sorted(entities(title, text))) if with_entities else None
    return Evidence(sketch=tuple(sketch(hashes)), entities=features), hashes


def find_story(
    store: Store,
    *,
    article_id: int | None,
    evidence: Evidence,
    hashes: set[int],
    language: str | None,
    vendors: tuple[str, ...],
    now: datetime,
    published: datetime | None = None,
) -> StoryLink | None:
    """The story a new article belongs to, if any: a copy first, then a translation
    (a report in another language published within TRANSLATION_WINDOW of this one:
    around its publication date when known, as for history read by a backfill)."""
    best: tuple[Similarity, int] | None = None
    for candidate_id, _shared in store.sketch_candidates(
        evidence.sketch, min_shared=MIN_SHARED, exclude=article_id
    ):
        latest = store.latest_version(candidate_id)
        if latest is None:
            continue
        score = similarity(hashes, shingles(latest.text))
        if score.same_story and (best is None or score.containment > best[0].containment):
            best = (score, candidate_id)
    if best is not None:
        story_id = store.story_of(best[1]) or best[1]
        original = next((m for m in store.story_members(story_id) if m.id == best[1]), None)
        if original is not None:
            return StoryLink(story_id, "copy", best[0].containment, original)
    if not vendors or not evidence.entities:
        return None
    here = set(evidence.entities)
    found: tuple[CrossLink, StoryMember] | None = None
    when = published or now
    for member in store.translation_candidates(
        vendors=vendors, language=language, since=when - TRANSLATION_WINDOW,
        until=when + TRANSLATION_WINDOW, exclude=article_id,
    ):  # fmt: skip
        link = cross_link(here, set(member.entities), vendors=vendors)
        if link is not None and (found is None or link.score > found[0].score):
            found = (link, member)
    if found is None:
        return None
    link, member = found
    story_id = store.story_of(member.id) or member.id
    return StoryLink(story_id, "translation", link.score, member, link)


def story_context(
    store: Store, story_id: int | None, article_id: int | None, language: str | None
) -> tuple[tuple[str, ...], tuple[LinkedReport, ...]]:
    """``(also_seen_at, linked)`` for an event about an article of this story: the
    other pages in its language, and the reports in other languages."""
    if story_id is None:
        return (), ()
    also: list[str] = []
    linked: list[LinkedReport] = []
    for member in store.story_members(story_id):
        if member.id == article_id:
            continue
        if member.language == language or not member.language or not language:
            also.append(member.url)
        else:
            linked.append(
                LinkedReport(
                    url=member.url,
                    title=member.title,
                    language=member.language,
                    source_id=member.source_id,
                )
            )
    return tuple(also), tuple(linked)
