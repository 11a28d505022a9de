"""Hypothesis strategies for events of every type, hostile text included (markup of
every chat service, mentions, emoji sequences, combining accents, very long strings)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hypothesis import strategies as st

from watcher.models import (
    Change,
    Event,
    EventArticle,
    LinkedReport,
    SourceHealth,
    VendorMatch,
)

HOSTILE = [
    "@everyone", "@here", "<@123456789012345678>", "<@&123456789012345678>", "<t:0:R>",
    "**bold**", "__under__", "~~strike~~", "`code`", "```block```", "||spoiler||",
    "[link](https://evil.example)", "# heading", "> quote", "- item", "1. item", "-# small",
    "<b>html</b>", "&amp;", "<at>everyone</at>", "{{DATE(2017-02-14T06:08:39Z, SHORT)}}",
    "${secret}", "\\", "|", "*", "_", "\n", "\t", "\x00", "\x1b[31m",
    "👨‍👩‍👧‍👦", "🇫🇷", "👍🏽", "é", "e\u0301", "한국어", "€", "\u200d", "\ufe0f",
]  # fmt: skip
CHANGE_CLASSES = ["correction", "addition", "removal", "retitle", "rewrite", "paywall"]

text = st.one_of(
    st.text(max_size=80),
    st.lists(st.sampled_from(HOSTILE) | st.text(max_size=12), max_size=12).map("".join),
)
long_text = text | st.text(min_size=3000, max_size=12000) | st.just("é" * 9000)
words = st.lists(text, max_size=6).map(tuple)
moment = st.none() | st.datetimes(
    min_value=datetime(1990, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)
url = st.sampled_from(
    [
        "https://www.digitalhealth.net/2007/09/cerner-suspends/",
        "https://fr.example/a?x=(1)&y=<2>|3",
        "http://other.example/reprise",
        "https://long.example/" + "p" * 3000,
    ]
)
event_id = st.from_regex(r"evt_[a-z2-7]{24}", fullmatch=True)
source_id = st.from_regex(r"[a-z0-9][a-z0-9_.-]{0,20}", fullmatch=True)


@st.composite
def changes(draw: st.DrawFn) -> Change:
    added, removed = draw(st.lists(long_text, max_size=12)), draw(st.lists(long_text, max_size=12))
    pairs = list(zip(removed, added, strict=False))[: draw(st.integers(0, 3))]
    return Change(
        from_version=draw(st.integers(1, 40)),
        added=tuple(added),
        removed=tuple(removed),
        diff=draw(text),
        classes=tuple(draw(st.lists(st.sampled_from(CHANGE_CLASSES), max_size=3, unique=True))),
        replaced=tuple(pairs),
    )


@st.composite
def events(draw: st.DrawFn, types: tuple[str, ...] | None = None) -> Event:
    kind = draw(
        st.sampled_from(
            types or ("article.new", "article.updated", "source.unhealthy", "source.recovered")
        )
    )
    common: dict[str, Any] = {
        "id": draw(event_id),
        "type": kind,
        "created_at": draw(moment.filter(lambda m: m is not None)),
        "source_id": draw(source_id),
        "source_name": draw(text.filter(bool)),
    }
    if kind.startswith("source."):
        health = SourceHealth(
            state=draw(st.sampled_from(["ok", "failing", "unreachable", "gone", "rate_limited"])),
            failures=draw(st.integers(0, 500)),
            failing_since=draw(moment),
            last_error=draw(st.none() | long_text),
            next_poll_at=draw(moment),
        )
        return Event(**common, health=health)
    change = draw(changes()) if kind == "article.updated" else None
    return Event(
        **common,
        article=EventArticle(
            url=draw(url),
            title=draw(long_text),
            text=draw(long_text),
            version=change.from_version + 1 if change else 1,
            published_at=draw(moment),
            language=draw(st.none() | st.sampled_from(["fr", "en", "de", "pt"])),
        ),
        vendors=tuple(
            draw(
                st.lists(
                    st.builds(VendorMatch, name=text.filter(bool), matched=words, snippets=words),
                    max_size=30,
                )
            )
        ),
        change=change,
        also_seen_at=tuple(draw(st.lists(url, max_size=15))),
        linked=tuple(
            draw(
                st.lists(
                    st.builds(
                        LinkedReport,
                        url=url,
                        title=long_text,
                        language=st.none() | st.sampled_from(["fr", "en"]),
                        source_id=source_id,
                        only_here=words,
                        only_there=words,
                    ),
                    max_size=5,
                )
            )
        ),
    )
