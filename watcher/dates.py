"""Dates as the press writes them, French and English (pure functions).

Machine forms (ISO 8601 and its partial "2022-02", RFC 2822) and the visible ones:
"10 février 2022", "1er mars 2021", "6 September 2007", "September 6, 2007",
"Sept. 6, 2007", "10/02/2022" (day first in French, month first in US English when
unambiguous), "publié le … mis à jour le …". A date with no zone is taken as UTC.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from email.utils import parsedate_to_datetime

from watcher.fold import fold

_MONTHS = {
    # English
    "january": 1, "jan": 1, "february": 2, "feb": 2, "march": 3, "mar": 3, "april": 4,
    "apr": 4, "may": 5, "june": 6, "jun": 6, "july": 7, "jul": 7, "august": 8, "aug": 8,
    "september": 9, "sept": 9, "sep": 9, "october": 10, "oct": 10, "november": 11,
    "nov": 11, "december": 12, "dec": 12,
    # French (accents folded before lookup)
    "janvier": 1, "janv": 1, "fevrier": 2, "fevr": 2, "fev": 2, "mars": 3, "avril": 4,
    "avr": 4, "mai": 5, "juin": 6, "juillet": 7, "juil": 7, "aout": 8, "septembre": 9,
    "octobre": 10, "novembre": 11, "decembre": 12, "dec.": 12,
}  # fmt: skip
_MONTH_NAMES = "|".join(sorted((re.escape(m) for m in _MONTHS), key=len, reverse=True))

# ISO 8601 "basic" form, as some CMSs write it: 20180619T055000+0900.
_ISO_BASIC = re.compile(r"^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})?(Z|[+-]\d{4})?$")
_ISO = re.compile(
    r"(?<!\d)(\d{4})-(\d{1,2})(?:-(\d{1,2})(?:[T ](\d{1,2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?"
    r"\s*(Z|[+-]\d{2}:?\d{2})?)?)?(?!\d)"
)
_DAY_MONTH_YEAR = re.compile(
    rf"(?<![\w])(\d{{1,2}})(?:er|st|nd|rd|th)?\.?\s+({_MONTH_NAMES})\.?,?\s+(\d{{4}})(?!\d)"
    r"(?:\s*(?:,|à|a|at|-)?\s*(\d{1,2})\s*[h:]\s*(\d{2}))?",
    re.IGNORECASE,
)
_MONTH_DAY_YEAR = re.compile(
    rf"(?<![\w])({_MONTH_NAMES})\.?\s+(\d{{1,2}})(?:st|nd|rd|th)?,?\s+(\d{{4}})(?!\d)"
    r"(?:\s*(?:,|at|-)?\s*(\d{1,2}):(\d{2})\s*([ap]\.?m\.?)?)?",
    re.IGNORECASE,
)
_RFC_2822 = re.compile(r"[A-Za-z]{3},? \d")  # "Mon, 6 Sep 2007..." (the comma is optional)
_NUMERIC = re.compile(r"(?<![\d/.])(\d{1,2})[/.](\d{1,2})[/.](\d{4})(?![\d/.])")
_PUBLISHED = re.compile(
    r"\b(publi[ée]e?\s+le|publication\s*:|cr[ée]{2}\s+le|published(?:\s+on)?|posted(?:\s+on)?)\b",
    re.IGNORECASE,
)
_MODIFIED = re.compile(
    r"\b(mis\s+[àa]\s+jour\s+le|mise?\s+[àa]\s+jour\s*:|modifi[ée]e?\s+le|actualis[ée]e?\s+le|"
    r"updated(?:\s+on)?|last\s+updated|modified(?:\s+on)?)\b",
    re.IGNORECASE,
)
# Every form above has a four-digit year: most bylines and labels a page is searched
# through have none, and one scan for it settles them.
_YEAR = re.compile(r"\d{4}")
# The press's own archives go back to the 1990s; nothing is published in the far future.
_EARLIEST = datetime(1990, 1, 1, tzinfo=UTC)


def _plausible(moment: datetime, now: datetime | None) -> datetime | None:
    latest = (now or datetime.now(UTC)) + timedelta(days=2)
    return moment if _EARLIEST <= moment <= latest else None


def _build(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0,
    tz: timezone = UTC,
) -> datetime | None:  # fmt: skip
    try:
        return datetime(year, month, day, hour, minute, second, tzinfo=tz).astimezone(UTC)
    except ValueError:
        return None


def _zone(text: str | None) -> timezone:
    if not text or text == "Z":
        return UTC
    sign = -1 if text[0] == "-" else 1
    digits = text[1:].replace(":", "")
    return timezone(sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:4])))


def _from_iso(match: re.Match[str]) -> datetime | None:
    y, mo, d, h, mi, s, tz = match.groups()
    return _build(int(y), int(mo), int(d or 1), int(h or 0), int(mi or 0), int(s or 0), _zone(tz))


def parse_date(
    text: str | None, *, language: str | None = None, now: datetime | None = None
) -> datetime | None:
    """The first date written in ``text``, or ``None``.

    ``language`` decides ``03/04/2021``: 3 April in French (and by default), 4 March
    only for US English ("en-US"), since UK and French pages write the day first.
    """
    if not text:
        return None
    text = text.strip()
    if not text:
        return None
    basic = _ISO_BASIC.match(text)
    if basic:
        y, mo, d, h, mi, s, tz = basic.groups()
        moment = _build(int(y), int(mo), int(d), int(h), int(mi), int(s or 0), _zone(tz))
        return _plausible(moment, now) if moment else None
    iso = _ISO.search(text)
    if iso and iso.start() < 3:
        moment = _from_iso(iso)
        if moment:
            return _plausible(moment, now)
    if "," in text[:5] or _RFC_2822.match(text):
        try:
            moment = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            moment = None
        if moment is not None:
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=UTC)
            return _plausible(moment.astimezone(UTC), now)
    return _plausible_or_none(_visible(text, language), now)


def _plausible_or_none(moment: datetime | None, now: datetime | None) -> datetime | None:
    return _plausible(moment, now) if moment else None


def _visible(text: str, language: str | None) -> datetime | None:
    folded = fold(text)
    if not _YEAR.search(folded):
        return None
    found: list[tuple[int, datetime]] = []
    for match in _DAY_MONTH_YEAR.finditer(folded):
        day, month, year, hour, minute = match.groups()
        moment = _build(
            int(year), _MONTHS[month.lower()], int(day), int(hour or 0), int(minute or 0)
        )
        if moment:
            found.append((match.start(), moment))
            break
    for match in _MONTH_DAY_YEAR.finditer(folded):
        month, day, year, hour, minute, ampm = match.groups()
        h = int(hour or 0)
        if ampm and ampm.lower().startswith("p") and h < 12:
            h += 12
        elif ampm and h == 12:
            h = 0
        moment = _build(int(year), _MONTHS[month.lower()], int(day), h, int(minute or 0))
        if moment:
            found.append((match.start(), moment))
            break
    for match in _NUMERIC.finditer(folded):
        a, b, year = (int(g) for g in match.groups())
        us = (language or "").lower().replace("_", "-") == "en-us"
        month, day = (a, b) if us else (b, a)
        if month > 12 and day <= 12:
            month, day = day, month
        moment = _build(year, month, day)
        if moment:
            found.append((match.start(), moment))
            break
    iso = _ISO.search(folded)
    if iso and iso.group(3):  # a bare "2022-02" inside prose is too often something else
        moment = _from_iso(iso)
        if moment:
            found.append((iso.start(), moment))
    return min(found, key=lambda pair: pair[0])[1] if found else None


def find_dates(
    text: str, *, language: str | None = None, now: datetime | None = None
) -> tuple[datetime | None, datetime | None]:
    """``(published, modified)`` from a byline such as "Publié le 10 février 2022 à 14h30,
    mis à jour le 11 février 2022" or "Published 6 September 2007. Updated …"."""
    mod = _MODIFIED.search(text)
    pub = _PUBLISHED.search(text)

    def after(found: re.Match[str], other: re.Match[str] | None) -> str:
        # The date follows its keyword, and stops where the other keyword starts.
        end = found.end() + 80
        if other is not None and other.start() > found.start():
            end = min(end, other.start())
        return text[found.end() : end]

    modified = parse_date(after(mod, pub), language=language, now=now) if mod else None
    if pub:
        published = parse_date(after(pub, mod), language=language, now=now)
    else:
        published = parse_date(text[: mod.start()] if mod else text, language=language, now=now)
    return published, modified
