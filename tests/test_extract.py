"""Extraction on real pages (tests/fixtures/articles/cases.yaml) and on small edge cases."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import FIXTURES, page_text
from watcher.clean import Block, leading_words
from watcher.config import ExtractRules
from watcher.extract import _BAD_HINT, _COMMENT_HINT, _LEAD_HINT, extract
from watcher.lang import words

CASES: list[dict[str, Any]] = yaml.safe_load((FIXTURES / "articles" / "cases.yaml").read_text())


@pytest.mark.parametrize("case", CASES, ids=[Path(c["page"]).name.split(".html")[0] for c in CASES])
def test_real_page(case: dict[str, Any]) -> None:
    article = extract(page_text(case["page"]), case["url"])
    text = article.text
    for snippet in case["contains"]:
        assert snippet in text, f"missing from body: {snippet!r}"
    for snippet in case["absent"]:
        assert snippet not in text, f"boilerplate in body: {snippet!r}"
    if "title" in case:
        assert article.title == case["title"]
    assert article.language == case["language"]
    if "published" in case:
        assert article.published_at == datetime.fromisoformat(
            case["published"].replace("Z", "+00:00")
        )


def test_inline_tags_do_not_split_words() -> None:
    html = "<html><body><article><p>La commission europ<b>éenne</b> a validé le projet de dossier patient partagé.</p></article></body></html>"
    article = extract(html, "https://example.org/a")
    assert "La commission européenne a validé" in article.text


def test_blocks_are_separated_and_br_breaks_lines() -> None:
    html = "<body><article><h2>Contexte</h2><p>Premier paragraphe assez long pour compter dans le score.</p><p>Deuxième ligne<br>troisième ligne du même bloc de texte.</p></article></body>"
    article = extract(html, "https://example.org/a")
    assert article.paragraphs == (
        "Contexte",
        "Premier paragraphe assez long pour compter dans le score.",
        "Deuxième ligne\ntroisième ligne du même bloc de texte.",
    )


BOILERPLATE_PAGE = """
<html lang="fr"><head><title>Le CHU de Nantes choisit Dedalus | Site Santé</title>
<meta property="og:site_name" content="Site Santé"></head><body>
<nav><a href="/">Accueil</a><a href="/e-sante">e-santé</a></nav>
<div class="share-bar">Partager sur Facebook Partager sur Twitter</div>
<article>
  <h1>Le CHU de Nantes choisit Dedalus</h1>
  <p>Publié le 10 février 2022</p>
  <p>Le CHU de Nantes a retenu le DPI DxCare de Dedalus pour ses 3 000 lits, après un appel d'offres de dix-huit mois.</p>
  <p>Lire aussi : Dedalus rachète une société de logiciels</p>
  <p>Le déploiement commencera en septembre par les services de médecine, puis la chirurgie en 2023.</p>
  <div class="newsletter">Inscrivez-vous à notre newsletter santé</div>
  <p>Vos réactions</p>
  <p>Afficher/Masquer les commentaires (1)</p>
  <p>Super article, merci !</p>
</article>
<aside class="related"><h3>Related News</h3><a href="/x">Autre histoire sur un autre sujet</a></aside>
<footer>Mentions légales - Contact</footer>
</body></html>
"""


def test_boilerplate_is_removed_with_reasons() -> None:
    article = extract(BOILERPLATE_PAGE, "https://example.org/chu")
    assert article.title == "Le CHU de Nantes choisit Dedalus"
    assert article.paragraphs == (
        "Le CHU de Nantes a retenu le DPI DxCare de Dedalus pour ses 3 000 lits, après un appel d'offres de dix-huit mois.",
        "Le déploiement commencera en septembre par les services de médecine, puis la chirurgie en 2023.",
    )
    assert article.published_at == datetime.fromisoformat("2022-02-10T00:00:00+00:00")
    assert article.language == "fr"
    reasons = {r.reason for r in article.removed}
    assert "boilerplate 'lire aussi'" in reasons
    assert any(r.startswith("after 'vos reactions'") for r in reasons)
    assert any("Super article" in r.text for r in article.removed)


def test_injected_pharma_spam_is_removed() -> None:
    """Synthetic: the spam tail of a hacked page (DESIGN.md) appended to a real-style article."""
    html = """<body><article><h1>Cerner suspends design work</h1>
    <p>Cerner has suspended design work on the Millennium platform for the trust, the company said on 6 September 2007.</p>
    <p>The decision follows months of delays at the four sites that went live last year.</p>
    <p>B Well Mart</p><p>Shopping cart</p><p>Best sleep aid generics.</p>
    </article></body>"""
    article = extract(html, "https://example.org/cerner")
    assert "Shopping cart" not in article.text
    assert "sleep aid" not in article.text
    assert "B Well Mart" not in article.text
    assert "The decision follows months of delays" in article.text
    assert {r.reason for r in article.removed} >= {"spam"}


def test_hidden_text_is_never_article_text() -> None:
    html = """<body><article><h1>Titre</h1>
    <p>Un paragraphe visible et assez long pour être retenu comme texte de l'article principal.</p>
    <div style="display:none">cheap viagra online pharmacy buy now</div>
    <p hidden>texte caché</p>
    <span style="position:absolute; left:-9999px">casino en ligne</span>
    </article></body>"""
    article = extract(html, "https://example.org/x")
    assert (
        "viagra" not in article.text
        and "caché" not in article.text
        and "casino" not in article.text
    )
    assert [r.reason for r in article.removed].count("hidden") == 3


def test_hiding_classes_hide_whatever_their_case() -> None:
    """Atomic CSS names its utilities in capitals (Yahoo's ``Hidden``)."""
    html = """<body><article><h1>Titre</h1>
    <p>Un paragraphe visible et assez long pour être retenu comme texte de l'article principal.
    <b class="Hidden">Aide</b></p>
    <div class="SR-Only">Menu principal</div>
    </article></body>"""
    article = extract(html, "https://example.org/x")
    assert "Aide" not in article.text and "Menu principal" not in article.text
    assert [r.text for r in article.removed if r.reason == "hidden"] == ["Aide", "Menu principal"]


def test_a_standfirst_under_a_microdata_headline_is_kept() -> None:
    """``<h1 itemprop=headline>`` is one headline: the standfirst under it is the
    article's, though it sits outside the body's element."""
    body = "".join(
        f"<p>Paragraphe {n} du corps de l'article, assez long pour compter comme de la prose "
        "dans le choix de l'élément qui porte le texte.</p>"
        for n in range(10)
    )
    html = f"""<body><div id="page">
    <div class="top"><h1 itemprop="headline">Le CHU choisit un nouveau DPI</h1>
    <p>Le chapeau de l'article, qui résume en une phrase ce que le lecteur va apprendre ensuite.</p>
    </div>
    <div class="x"><div class="y"><div class="corps">{body}</div></div></div>
    </div></body>"""
    article = extract(html, "https://example.org/x")
    assert article.paragraphs[0].startswith("Le chapeau de l'article")
    assert len(article.paragraphs) == 11


def test_a_visible_update_line_gives_the_modification_date() -> None:
    """The page's meta says when it was published, its dateline when it was updated."""
    html = f"""<html lang="fr"><head><title>Le CHU choisit un DPI</title>
    <meta property="article:published_time" content="2022-02-10T09:00:00+00:00"></head>
    <body><article><h1>Le CHU choisit un DPI</h1>
    <p>Publié le 10 février 2022, mis à jour le 11 février 2022 à 14h30</p>
    {ARTICLE_PARAGRAPHS}</article></body></html>"""
    article = extract(html, "https://example.org/x")
    assert article.published_at == datetime.fromisoformat("2022-02-10T09:00:00+00:00")
    assert article.modified_at is not None
    assert (article.modified_at.day, article.modified_at.hour) == (11, 14)


def test_configured_selectors_override_the_generic_finder() -> None:
    html = """<body><div class="story"><p>Texte configuré que le finder générique pourrait rater ici.</p>
    <p class="promo">Abonnez-vous !</p></div>
    <div class="other"><p>Un autre bloc très long, très long, très long, avec beaucoup, beaucoup, beaucoup de virgules, pour gagner.</p></div></body>"""
    rules = ExtractRules(body="div.story", remove=(".promo",))
    article = extract(html, "https://example.org/x", rules)
    assert article.paragraphs == ("Texte configuré que le finder générique pourrait rater ici.",)
    assert article.removed[0].reason == "configured remove"


@pytest.mark.parametrize(
    "html",
    ["", "<", "<html>", "<p>seul</p>", "\x00\x01binary", "<div>" * 5000 + "deep" + "</div>" * 5000],
)
def test_bad_html_never_raises(html: str) -> None:
    article = extract(html, "https://example.org/x")
    assert isinstance(article.paragraphs, tuple)


ARTICLE_PARAGRAPHS = (
    "<p>Le CHU de Nantes a retenu le DPI DxCare de Dedalus pour ses 3 000 lits, après un "
    "appel d'offres de dix-huit mois, a indiqué sa direction jeudi.</p>"
    "<p>Le déploiement commencera en septembre par les services de médecine, puis la "
    "chirurgie en 2023, selon le calendrier présenté aux équipes.</p>"
)


@pytest.mark.parametrize(
    "line",
    [
        "This article has been read 12,345 times.",
        "Cet article a été lu 12 345 fois.",
        "Dieser Artikel wurde 1.234 Mal gelesen.",
        "Este artículo ha sido leído 1.234 veces.",
        "12\u202f345 vues",
        "1,234 views · 3 min read",
        "Updated 3 minutes ago",
        "Mis à jour il y a 3 minutes",
        "Aktualisiert vor 3 Minuten",
        "Actualizado hace 3 minutos",
    ],
)
@pytest.mark.parametrize("where", ["before", "after"])
def test_counters_and_relative_times_are_not_article_text(line: str, where: str) -> None:
    """They change at every visit: kept, each fetch would be an edit."""
    meta = f'<div class="meta">{line}</div>'
    body = meta + ARTICLE_PARAGRAPHS if where == "before" else ARTICLE_PARAGRAPHS + meta
    article = extract(f"<body><article><h1>Titre</h1>{body}</article></body>", "https://x.org/a")
    assert line not in article.text and len(article.paragraphs) == 2


def test_a_counter_word_in_a_caption_is_not_a_counter() -> None:
    html = (
        "<body><article>" + ARTICLE_PARAGRAPHS + "<p>12 views of the hospital</p></article></body>"
    )
    removed = {r.text: r.reason for r in extract(html, "https://x.org/a").removed}
    assert removed.get("12 views of the hospital") != "audience counter"


def test_spam_does_not_swallow_the_pages_own_section_headings() -> None:
    html = f"""<body><article><h1>Titre</h1>{ARTICLE_PARAGRAPHS}
    <p>Buy cheap viagra online</p><p>More from Sim Santé</p>
    <ul><li><a href="/1">Une autre actualité du jour sur les hôpitaux</a></li>
    <li><a href="/2">Encore une autre actualité du jour</a></li></ul>
    </article></body>"""
    article = extract(html, "https://x.org/a")
    assert "viagra" not in article.text and "autre actualité" not in article.text
    reasons = {r.text: r.reason for r in article.removed}
    assert reasons["More from Sim Santé"] != "spam"  # the heading ended the article itself


ENGLISH_PARAGRAPHS = (
    "<p>A total of 6,000 surgical masks have been lost at a hospital in the city, officials "
    "said on Tuesday, and the police are investigating the case as a theft.</p>"
    "<p>The masks had been kept in a locked machine room on the third floor of the "
    "hospital, where an employee noticed on Thursday that boxes were missing.</p>"
    "<p>The hospital says it still has enough masks for its own staff, and that the loss "
    "will not change how patients are cared for in the coming weeks.</p>"
)


def _related_box(n: int) -> str:
    items = "".join(
        f'<li><a href="/related/{i}">Une autre actualité sur les hôpitaux et le numérique, n° {i}</a></li>'
        for i in range(n)
    )
    return f'<aside class="related"><h2>À lire aussi</h2><ul>{items}</ul></aside>'


SPAM_LINKS = (
    '<div class="entry-extra"><p>B Well Mart</p><p>Shopping cart</p>'
    '<p><a href="http://pills.example/a">cheap viagra</a> '
    '<a href="http://pills.example/b">cialis online pharmacy</a></p></div>'
)


@pytest.mark.parametrize("appended", [_related_box(5), _related_box(12), SPAM_LINKS])
def test_what_is_appended_after_the_article_does_not_move_it(appended: str) -> None:
    """The article's element must not hang on furniture or spam added at its end: a box
    of links weighed against its container, so a short line beside the body (a bio, a
    "subscribe" prompt) came and went with it, and each fetch read as an edit."""

    def page(extra: str) -> str:
        return f"""<body><article><h1>Titre</h1>
        <div class="body">{ARTICLE_PARAGRAPHS * 3}</div>
        <div class="endnote"><p>Jeanne Martin est journaliste à Nantes, spécialiste de la santé.</p>
        {extra}</div></article></body>"""

    before = extract(page(""), "https://x.org/a")
    after = extract(page(appended), "https://x.org/a")
    assert "Jeanne Martin est journaliste à Nantes, spécialiste de la santé." in before.paragraphs
    assert after.paragraphs == before.paragraphs


def test_ruby_annotations_are_not_text() -> None:
    html = (
        "<body><article><p><ruby>子<rt>こ</rt></ruby>どもへの<ruby>体罰<rp>(</rp><rt>たいばつ</rt>"
        "<rp>)</rp></ruby>を<ruby>禁止<rt>きんし</rt></ruby>する<ruby>法律<rt>ほうりつ</rt></ruby>"
        "ができました。親が子どもを教育するために、たたいたり蹴ったりする体罰を禁止します。"
        "</p></article></body>"
    )
    assert extract(html, "https://x.org/a").text.startswith(
        "子どもへの体罰を禁止する法律ができました。"
    )


TEMPLATE_PAGE = """<body><div class="post"><h3>Titre du billet</h3>
<div class="post-content" itemprop="articleBody">
<script type="text/template">{template}</script>
<noscript>{fallback}</noscript>
</div></div></body>"""


def test_an_html_template_that_is_the_post_is_read() -> None:
    html = TEMPLATE_PAGE.format(template=ARTICLE_PARAGRAPHS, fallback="Le CHU de Nantes…")
    assert "Le déploiement commencera en septembre" in extract(html, "https://x.org/a").text


def test_data_templates_and_widgets_are_not_read() -> None:
    data = TEMPLATE_PAGE.format(
        template='<![CDATA[{"type": "Text", "html": "<p>Données pour un script</p>"}]]>',
        fallback="",
    )
    assert "Données pour un script" not in extract(data, "https://x.org/a").text
    widget = (
        f"<body><article>{ARTICLE_PARAGRAPHS}<div class='comments'><p>Commentez :</p>"
        "<script type='text/template'><p>Un modèle de formulaire de commentaire</p></script>"
        "</div></article></body>"
    )
    assert "modèle de formulaire" not in extract(widget, "https://x.org/a").text


@pytest.mark.parametrize(
    ("attrs", "is_comment"),
    [
        ('class="comment-body"', True),
        ('class="post-comment"', True),
        ('class="user-post-text" id="comment-text"', True),
        ('class="entry-content comments-open"', False),
        ('class="article-body"', False),
    ],
)
def test_comment_threads_are_told_by_class_and_id(attrs: str, is_comment: bool) -> None:
    reader = (
        "Un lecteur écrit ici un très long commentaire sur le choix du CHU de Nantes et "
        "sur le calendrier de déploiement, qui lui paraît bien trop optimiste pour 2023."
    )
    html = f"<body><article>{ARTICLE_PARAGRAPHS * 2}<div {attrs}><p>{reader}</p></div></article></body>"
    removed = {r.text: r.reason for r in extract(html, "https://x.org/a").removed}
    assert removed.get(reader, "").startswith("comments") is is_comment


def test_a_sign_up_form_is_furniture_but_a_page_wide_form_is_not() -> None:
    pitch = (
        "Recevoir les informations de l'association, la lettre mensuelle et les appels à "
        "mobilisation, au maximum une fois par semaine, dans votre boîte aux lettres."
    )
    aside = f'<div class="droite"><form action="/listes"><h3>Je m’informe</h3><p>{pitch}</p></form></div>'
    html = f"<body><div class='main'>{ARTICLE_PARAGRAPHS * 2}</div>{aside}</body>"
    assert pitch not in extract(html, "https://x.org/a").text
    # ASP.NET pages put the whole page in one <form>: it is not furniture then.
    webforms = f"<body><form id='aspnetForm' action='/a.aspx'><div>{ARTICLE_PARAGRAPHS * 2}</div></form></body>"
    assert "Le déploiement commencera en septembre" in extract(webforms, "https://x.org/a").text


def test_german_related_blocks_and_comment_counts_end_the_article() -> None:
    text = (
        "<p>Der Luxemburger setzte sich in der Nacht von Montag auf Dienstag in zwei Sätzen "
        "durch und steht damit in der zweiten Runde der Qualifikation für das Turnier.</p>"
    )
    html = f"""<body><article>{text * 3}<p>0 Kommentare</p>
    <h2>Das könnte Sie auch interessieren</h2><p>Reitsport</p>
    <p>Die Reitertage werden 2026 nicht in gewohnter internationaler Form stattfinden, das
    steht bereits seit vergangener Woche fest, wie die Veranstalter mitteilten.</p></article></body>"""
    article = extract(html, "https://x.org/a")
    assert "Reitertage" not in article.text and "Kommentare" not in article.text


def test_a_teaser_river_after_more_from_the_site_ends_the_article() -> None:
    """Teaser blurbs are long sentences, but each sits under a linked headline: they are
    not article prose that would make "More TechCrunch" an insert inside the article."""
    teasers = "".join(
        f'<p><a href="/c/{i}">Santé</a></p><h3><a href="/t/{i}">Un autre titre, numéro {i}</a></h3>'
        f"<p>Il y a {i} heures</p><p>Le résumé de cet autre article, qui parle d'un autre "
        f"hôpital et d'un autre appel d'offres pour un dossier patient, tient en trente mots, "
        f"comme tous les résumés de cette rubrique du site, numéro {i}.</p>"
        for i in range(1, 5)
    )
    html = f"<body><article>{ARTICLE_PARAGRAPHS * 3}<h2>Plus de SimSanté</h2>{teasers}</article></body>"
    article = extract(html, "https://x.org/a")
    assert "Le déploiement commencera" in article.text
    assert "Le résumé de cet autre article" not in article.text


CLOSING = (
    "The theft comes at a time when the country is seeing a shortage of face masks, as "
    "the new virus goes on spreading and people buy them up."
)


def test_a_paragraph_beside_the_articles_own_after_a_related_box_is_kept() -> None:
    """One short closing paragraph after a "Related stories" box inside the article: it
    sits beside the article's paragraphs, so the box alone goes (japantimes)."""
    items = "".join(
        f'<li><a href="/r/{i}">Another story about hospitals and masks, number {i}</a></li>'
        for i in range(4)
    )
    closing = f"<p>{CLOSING}</p>"
    html = f"""<body><article><div class="entry">{ENGLISH_PARAGRAPHS}
    <div class="inline"><h3>Related stories</h3><ul>{items}</ul></div>{closing}
    </div><div class="share"><a href="/t">Twitter</a></div></article></body>"""
    article = extract(html, "https://x.org/a")
    assert article.paragraphs[-1] == CLOSING
    assert "Another story" not in article.text


def test_a_standfirst_above_the_body_element_is_kept() -> None:
    lead = (
        "La région lance un programme de cinq ans pour équiper ses hôpitaux d'un dossier "
        "patient commun, a annoncé mardi son président."
    )
    links = "".join(
        f'<li><a href="/r/{i}">Un lien vers une autre rubrique du site, avec un titre long '
        f"comme en ont tous les liens de ce menu, numéro {i}</a></li>"
        for i in range(5)
    )
    # The links weigh the top column down: the body's own element is chosen alone.
    html = f"""<body><div class="col"><p class="intro">{lead}</p><ul>{links}</ul></div>
    <div class="col"><div class="text">{ARTICLE_PARAGRAPHS * 3}</div></div></body>"""
    article = extract(html, "https://x.org/a")
    assert article.paragraphs[0] == lead
    assert "Un lien vers une autre rubrique" not in article.text


def test_look_alike_letters_and_copyright_notices_are_not_article_text() -> None:
    ad = "Yоur соntеnt іѕ dеlіvеrеd іnѕtаntlу tо thоuѕаndѕ оf uѕеrѕ!"  # Cyrillic о, е, і, ѕ, а, у
    notice = "Tous droits réservés. Reproduction interdite sans autorisation."
    russian = "Больница в Москве перешла на новую систему электронных карт пациентов."
    html = f"<body><article>{ARTICLE_PARAGRAPHS * 2}<p>{russian}</p><p>{ad}</p><p>{notice}</p></article></body>"
    article = extract(html, "https://x.org/a")
    reasons = {r.text: r.reason for r in article.removed}
    assert reasons.get(ad) == "spam (look-alike letters)"
    assert notice not in article.text
    assert not reasons.get(russian, "").startswith("spam")  # Cyrillic prose is no look-alike


def test_a_drop_cap_set_apart_from_its_paragraph_is_its_first_letter() -> None:
    html = f'<body><article><span class="cap">T</span><p>he region{ENGLISH_PARAGRAPHS[8:]}</article></body>'
    article = extract(html, "https://x.org/a")
    assert article.paragraphs[0].startswith("The region")


def test_a_standfirst_under_the_headline_outside_the_body_element_is_kept() -> None:
    """The headline and its standfirst (no class saying so) in a header above the body's
    columns, the byline between them (standard.co.uk)."""
    dek = "Penalties for those who refuse to self-isolate are to be raised to a maximum of £10,000."
    html = f"""<body><div class="page"><header><nav><a href="/news">News</a></nav>
    <div class="h"><h1>Hospital masks stolen</h1><div class="x1"><p>{dek}</p></div></div></header>
    <div class="cols"><div class="c1"><div class="author"><span>By</span> <a href="/a">Jane Doe</a>
    </div><div class="c2"><div id="main"><div class="c3">{ENGLISH_PARAGRAPHS}</div></div></div>
    </div></div></div></body>"""
    article = extract(html, "https://x.org/a")
    assert article.title == "Hospital masks stolen"
    assert article.paragraphs[0] == dek
    assert "Jane Doe" not in article.text


def test_rating_widgets_and_the_authors_bio_box_are_not_article_text() -> None:
    html = f"""<head><meta name="author" content="Jane Doe"></head><body><article>
    {ENGLISH_PARAGRAPHS}<div class="post-ratings"><p>(No Ratings Yet) Loading...</p></div>
    <h3>About Jane Doe</h3><p>Jane is our UK-based editor and news reporter. Before joining
    the team, she spent 14 years writing for our sister site and holds a degree in
    computer science from a university in the Midlands, which she still visits.</p>
    <p><a href="/author/jane">Read the latest from Jane Doe</a></p></article></body>"""
    article = extract(html, "https://x.org/a")
    assert article.paragraphs[-1].startswith("The hospital says")
    assert article.author == "Jane Doe"


@pytest.mark.parametrize(
    "note",
    [
        "Update July 3rd, 8:05AM ET: Added ARKit explanation and tweet.",
        "Correction : une version précédente citait un mauvais chiffre.",
        "Editor's note: this story has been updated.",
    ],
)
def test_update_and_correction_notes_at_the_edges_are_kept(note: str) -> None:
    tail = '<p><a href="/tag/a">Hôpitaux</a> <a href="/tag/b">Numérique</a></p>'
    html = f"<body><article>{ENGLISH_PARAGRAPHS}<p><em>{note}</em></p>{tail}</article></body>"
    article = extract(html, "https://x.org/a")
    assert article.paragraphs[-1] == note


def test_a_live_commentary_in_comment_classed_elements_is_the_article() -> None:
    """Every line of a live match page sits in a "live-match-comment" element: with no
    prose anywhere else, those are not reader comments (sports.fr)."""
    lines = [
        "C'est terminé au Moustoir ! Lorient a tenu tête à l'OL dans ce match nul.",
        "Carton jaune pour le gardien, qui a perdu trop de temps avant de jouer le ballon.",
        "Les Merlus tentent d'opérer en contre mais la passe est trop longue pour Lemoine.",
        "Les deux équipes se cherchent en ce début de match.",
    ]
    items = "".join(
        f'<div class="live-match-comment"><div class="live-match-comment-body">{line}</div>'
        f'<div class="live-match-comment-time"><span>{90 - 30 * i}\'</span></div></div>'
        for i, line in enumerate(lines)
    )
    widget = (
        '<div class="dsq-widget"><ul><li class="dsq-widget-item">Jean : je trouve que '
        "le remplaçant est meilleur que les autres, vraiment.</li></ul></div>"
    )
    html = f'<body><main><div class="live-match-comments">{items}</div></main>{widget}</body>'
    article = extract(html, "https://x.org/a")
    for line in lines:
        assert line in article.paragraphs
    assert "je trouve" not in article.text


def test_an_embedded_tweet_ending_the_article_keeps_its_attribution() -> None:
    tweet = (
        '<blockquote class="twitter-tweet"><p>Malgré les tentatives de la présidence, la '
        "grève continue, voici le programme de la semaine https://t.co/x</p>"
        "<p>— Solidaires Étudiant-e-s Saint-Denis (@SolidairesEtuP8) February 17, 2020</p>"
        "</blockquote>"
    )
    html = f"<body><article>{ARTICLE_PARAGRAPHS * 2}{tweet}</article></body>"
    article = extract(html, "https://x.org/a")
    assert article.paragraphs[-1].startswith("— Solidaires Étudiant-e-s Saint-Denis")


@pytest.mark.parametrize(
    "line",
    [
        "Related",
        "À lire",
        "Read the latest from Jane Doe",
        "More articles by Jane Doe",
        "Voir tous les articles de Jane Doe",
        "This article contains affiliate links to products selected by our editors.",
        "Rate this article",
        "(Pas encore de note)",
    ],
)
def test_lone_prompts_inside_an_article_are_boilerplate(line: str) -> None:
    html = f"<body><article>{ENGLISH_PARAGRAPHS}<p>{line}</p>{ENGLISH_PARAGRAPHS}</article></body>"
    article = extract(html, "https://x.org/a")
    assert line not in article.paragraphs
    assert len(article.paragraphs) == 6


def test_a_rating_widget_is_told_by_its_class_beside_a_content_word() -> None:
    """ "post-ratings" holds "post", a content word, but names a widget."""
    widget = '<div class="post-ratings"><p>4.5 stars from 12 readers, thank you</p></div>'
    html = f"<body><article>{ENGLISH_PARAGRAPHS}{widget}{ENGLISH_PARAGRAPHS}</article></body>"
    article = extract(html, "https://x.org/a")
    assert "4.5 stars from 12 readers, thank you" not in article.paragraphs
    assert len(article.paragraphs) == 6


@given(
    st.lists(st.text(alphabet="aZé ΣΟσ'İK\u212a2_-.\n‘", max_size=12), max_size=6),
    st.sampled_from([" ", "\n"]),
    st.integers(min_value=0, max_value=60),
)
def test_leading_words_are_the_words_of_the_joined_text(
    texts: list[str], sep: str, limit: int
) -> None:
    # The language detection reads each block's own tokens, not the joined text's.
    parts: list[str | Block] = [t if i % 2 else Block(t) for i, t in enumerate(texts)]
    assert leading_words(parts, sep, limit) == words(sep.join(texts)[:limit])


# The hint words, their parts, some near misses, and separators of each kind.
_HINTS = (_BAD_HINT, _COMMENT_HINT, _LEAD_HINT)
_HINT_PIECES = sorted(
    {form for hint in _HINTS for form in hint.forms}
    | {part for hint in _HINTS for form in hint.forms for part in form.split("-")}
    | {"bad", "post", "x", "-", "_", " ", "\n", "\xa0", "\u2003", "\x1f"}
)


@given(st.lists(st.sampled_from(_HINT_PIECES), max_size=8))
def test_class_hints_are_read_as_their_regexes_read_them(pieces: list[str]) -> None:
    # The hint words are matched from a class's tokens; the regex they stand for is
    # the definition (hyphenated words, separators of every kind, Unicode spaces).
    lower = "".join(pieces)
    for hint in _HINTS:
        assert hint.search(lower) == (hint.regex.search(lower) is not None), lower


def test_class_hints_read_every_hint_word_as_their_regexes_do() -> None:
    for hint in _HINTS:
        for form in hint.forms:
            parts = form.split("-")
            # Each "-" inside the word kept or left out.
            variants = {parts[0]}
            for part in parts[1:]:
                variants = {v + joint + part for v in variants for joint in ("", "-", "_")}
            for variant in variants:
                for lower in (variant, f"x-{variant}", f"{variant}_x", f"a {variant}\xa0b"):
                    assert hint.search(lower) == (hint.regex.search(lower) is not None), lower


def test_class_hints_take_hyphenated_words_with_or_without_their_hyphens() -> None:
    assert _BAD_HINT.search("c-read-more-link")
    assert _BAD_HINT.search("post readmore")
    assert _BAD_HINT.search("about-theauthor")
    assert not _BAD_HINT.search("read_more")  # "_" is no hyphen: "read", "more"
    assert not _BAD_HINT.search("bread-crumbs-header")
    assert _LEAD_HINT.search("entry sous-titre")
    assert not _LEAD_HINT.search("leader-board")
