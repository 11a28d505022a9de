from __future__ import annotations

from datetime import UTC, datetime

import pytest

from watcher.dates import find_dates, parse_date


def d(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "language", "expected"),
    [
        ("2022-02-10T14:30:00+01:00", None, d(2022, 2, 10, 13, 30)),
        ("2022-02-10T14:30:00Z", None, d(2022, 2, 10, 14, 30)),
        ("2022-02-10", None, d(2022, 2, 10)),
        ("2022-02", None, d(2022, 2, 1)),
        ("Thu, 06 Sep 2007 10:00:00 GMT", None, d(2007, 9, 6, 10)),
        ("10 février 2022", "fr", d(2022, 2, 10)),
        ("Publié le 1er mars 2021 à 14h30", "fr", d(2021, 3, 1, 14, 30)),
        ("le 3 Décembre 2019", "fr", d(2019, 12, 3)),
        ("6 September 2007", "en", d(2007, 9, 6)),
        ("September 6, 2007", "en", d(2007, 9, 6)),
        ("Sept. 6, 2007 at 3:15 pm", "en", d(2007, 9, 6, 15, 15)),
        ("Feb. 23, 2015 -- Life-threatening peanut allergies", "en", d(2015, 2, 23)),
        ("03/04/2021", "fr", d(2021, 4, 3)),
        ("03/04/2021", "en-US", d(2021, 3, 4)),
        ("25/12/2020", "en-US", d(2020, 12, 25)),
        ("nothing here", None, None),
        ("le 31 février 2022", "fr", None),
        ("2999-01-01", None, None),
    ],
)
def test_parse_date(text: str, language: str | None, expected: datetime | None) -> None:
    assert parse_date(text, language=language, now=d(2026, 11, 23)) == expected


@pytest.mark.parametrize(
    ("text", "published", "modified"),
    [
        (
            "Publié le 10 février 2022 à 09h00, mis à jour le 11 février 2022 à 18h12",
            d(2022, 2, 10, 9),
            d(2022, 2, 11, 18, 12),
        ),
        (
            "Mis à jour le 11 février 2022. Publié le 10 février 2022",
            d(2022, 2, 10),
            d(2022, 2, 11),
        ),
        ("Published 6 September 2007. Updated 8 September 2007", d(2007, 9, 6), d(2007, 9, 8)),
        ("Par Jean Dupont, le 10/02/2022", d(2022, 2, 10), None),
    ],
)
def test_find_dates_keeps_publication_and_modification_apart(
    text: str, published: datetime, modified: datetime | None
) -> None:
    assert find_dates(text, language="fr", now=d(2026, 11, 23)) == (published, modified)
