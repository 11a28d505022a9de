"""Extraction under abuse: injected spam, hidden text, random and truncated HTML, deep
nesting and huge pages. Spam cases are SYNTHETIC: spam is injected into real pages."""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import page_text
from watcher.extract import extract

# Real pages (tests/fixtures) and a sentence each that is certainly article text.
PAGES = [
    (
        "readability/lemonde-1.html.gz",
        "Les députés ont, sans surprise, adopté à une large majorité",
    ),
    ("fundus/LeMonde_2023_09_01.html.gz", "Sous les dorures du palais de l’Elysée"),
    (
        "readability/webmd-1.html.gz",
        "Life-threatening peanut allergies have mysteriously been on the rise",
    ),
    ("fundus/BBC_2024_08_01.html.gz", "The Office for Budget Responsibility (OBR) monitors"),
]

# The pharma-hack tail of DESIGN.md, and other shapes injected spam takes.
SPAM = {
    "appended pharma lines": (
        "<p>We will be happy to hear your thoughts</p><p>Leave a reply</p>"
        "<p>B Well Mart</p><p>Shopping cart</p><p>Best sleep aid generics.</p>",
        ["B Well Mart", "Shopping cart", "sleep aid", "happy to hear your thoughts"],
    ),
    "hidden link farm": (
        '<div style="display:none"><a href="http://x">cheap viagra</a> <a href="http://y">cialis online pharmacy</a></div>',
        ["viagra", "cialis"],
    ),
    "off-screen casino": (
        '<p style="position:absolute;left:-9999px">Best online casino bonus, free spins today!</p>',
        ["casino", "free spins"],
    ),
    "zero font loans": (
        '<span style="font-size:0">payday loans bad credit loans cash advance</span>',
        ["payday", "cash advance"],
    ),
    "visible spam paragraph": (
        "<p>Buy cheap tramadol and phentermine without prescription, discount pills, order now!</p>",
        ["tramadol", "phentermine"],
    ),
}


def inject(html: str, spam: str) -> str:
    """Put ``spam`` at the end of the article (or the body): where hacks put it."""
    for marker in ("</article>", "</main>", "</body>"):
        at = html.rfind(marker)
        if at != -1:
            return html[:at] + spam + html[at:]
    return html + spam


@pytest.mark.parametrize(("page", "keep"), PAGES, ids=[p[0].split("/")[1][:20] for p in PAGES])
@pytest.mark.parametrize("kind", list(SPAM))
def test_injected_spam_is_removed_and_the_article_kept(page: str, keep: str, kind: str) -> None:
    html, words = SPAM[kind]
    article = extract(inject(page_text(page), html), "https://example.org/a")
    assert keep in article.text
    for word in words:
        leaked = re.search(rf"\b{re.escape(word)}\b", article.text, re.IGNORECASE)
        assert leaked is None, f"{kind}: {word!r} leaked"
    reasons = {r.reason for r in article.removed}
    assert reasons & {"spam", "hidden"} or any(r.startswith("after") for r in reasons)


def test_health_news_about_drugs_is_not_spam() -> None:
    html = """<article><h1>Antidouleurs</h1><h2>Le tramadol sous surveillance</h2>
    <p>L'ANSM renforce l'encadrement du tramadol, un antalgique opioïde dont les mésusages augmentent.</p>
    <p>Viagra : le brevet expire.</p>
    <p>Les médecins devront désormais limiter les prescriptions à douze semaines, selon l'agence.</p></article>"""
    article = extract(html, "https://example.org/a")
    assert "Le tramadol sous surveillance" in article.paragraphs
    assert "Viagra : le brevet expire." in article.paragraphs


def test_real_pages_mentioning_casinos_and_loans_are_not_spam() -> None:
    """A news paragraph about payday loans is journalism, not spam."""
    html = """<article><h1>Regulator acts</h1>
    <p>The Financial Conduct Authority said on Tuesday that payday loans had fallen by a third
    since the cap was introduced, while online casino advertising would face new rules next year,
    according to the regulator's annual report published in London.</p>
    <p>Consumer groups welcomed the figures but warned that borrowers were turning to unregulated lenders.</p>
    </article>"""
    article = extract(html, "https://example.org/a")
    assert "payday loans had fallen by a third" in article.text
    assert "Consumer groups welcomed" in article.text


HTML_PIECES = st.sampled_from(
    [
        "<p>", "</p>", "<div class='share'>", "</div>", "<article>", "</article>", "<br>", "<b>",
        "</b>", "<a href='x'>", "</a>", "<script>var x = '<p>';</script>", "<!-- c -->", "<table><tr><td>",
        "</td></tr></table>", "<p style='display:none'>", "&amp;", "&#x27;", "&#0;", "<![CDATA[", "]]>",
        "<meta charset=utf-8>", "<title>T</title>", "<h1>", "</h1>", "<li>", "<ul>", "</ul>", "<",
        ">", "\x00", "\ufeff", "é", "’", " ", "\n", "Cerner a signé avec le CHU.", "Lire aussi",
    ]
)  # fmt: skip


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(HTML_PIECES, st.text(max_size=30)), max_size=60))
def test_random_html_never_raises(pieces: list[str]) -> None:
    article = extract("".join(pieces), "https://example.org/a")
    assert isinstance(article.paragraphs, tuple)
    assert all(p.strip() == p and p for p in article.paragraphs)


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=0, max_value=400_000), st.sampled_from([p for p, _ in PAGES]))
def test_truncated_real_pages_never_raise(cut: int, page: str) -> None:
    html = page_text(page)
    extract(html[: cut % (len(html) + 1)], "https://example.org/a")


def test_deeply_nested_page_finishes() -> None:
    depth = 5_000
    html = (
        "<div>" * depth
        + "<p>Le texte de l’article, enfin, tout au fond de la page.</p>"
        + "</div>" * depth
    )
    article = extract(html, "https://example.org/a")
    assert "tout au fond de la page" in article.text


def test_hostile_nesting_is_refused_not_parsed() -> None:
    """50,000 unclosed divs would take lexbor seconds (quadratic): refused at once."""
    html = "<div>" * 50_000 + "<p>Texte.</p>"
    article = extract(html, "https://example.org/a")
    assert article.paragraphs == ()
    assert article.removed[0].reason.startswith("refused: 50000 unclosed block elements")


def test_many_inline_levels_are_fine() -> None:
    inner = "Un texte imbriqué dans cinquante mille span, encore lisible."
    html = "<article><p>" + "<span>" * 50_000 + inner + "</span>" * 50_000 + "</p></article>"
    assert "cinquante mille span" in extract(html, "https://example.org/a").text


def test_a_very_large_page_finishes() -> None:
    """Pages this size are refused by the fetch stage (max_page_size, 5 MB by default);
    extraction itself must still cope with what it is given."""
    paragraph = (
        "<p>" + "Le CHU a signé un contrat de dossier patient, dit le directeur. " * 20 + "</p>"
    )
    html = "<html><body><article>" + paragraph * 4_000 + "</article></body></html>"
    assert len(html) > 5_000_000
    article = extract(html, "https://example.org/a")
    assert len(article.paragraphs) == 4_000


def test_a_repaired_no_break_space_does_not_pad_a_paragraph() -> None:
    """Mojibake repair turns "Â " into a no-break space (found by the test above)."""
    article = extract("Â\r0", "https://example.org/a")
    assert all(p.strip() == p and p for p in article.paragraphs)
