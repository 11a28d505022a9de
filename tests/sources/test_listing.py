"""``kind: listing``: article links from an HTML index page, with pagination."""

from __future__ import annotations

import respx

from watcher.config import Duration, HttpSettings, SourceConfig
from watcher.fetch import Fetcher, make_client
from watcher.sources.listing import ListingSource, parse_listing

PAGE = b"""<html><body>
<nav><a href="/">Accueil</a> <a href="/e-sante">E-sant\xc3\xa9</a> <a href="https://twitter.com/x">Twitter</a></nav>
<main>
  <article><h2><a href="/actualites/2026/11/le-chu-de-rennes-choisit-cerner-1234">Le CHU de Rennes choisit Cerner pour son DPI</a></h2></article>
  <article><h2><a href="https://www.site.example/actualites/dedalus-rachete-un-editeur?utm_source=home">Dedalus rach\xc3\xa8te un \xc3\xa9diteur fran\xc3\xa7ais</a></h2></article>
  <article><h2><a href="https://ailleurs.example/article-externe-tres-interessant">Un article sur un autre site</a></h2></article>
  <article><h2><a href="#comments">Commentaires</a></h2></article>
</main>
<div class="pagination"><a class="next" href="/actualites?page=2">Suivant</a></div>
</body></html>"""


def test_generic_guess_finds_article_links_of_the_site() -> None:
    entries, following = parse_listing(PAGE, url="https://www.site.example/actualites")
    assert [(e.url, e.title) for e in entries] == [
        (
            "https://www.site.example/actualites/2026/11/le-chu-de-rennes-choisit-cerner-1234",
            "Le CHU de Rennes choisit Cerner pour son DPI",
        ),
        (
            "https://www.site.example/actualites/dedalus-rachete-un-editeur",
            "Dedalus rachète un éditeur français",
        ),
    ]
    assert following == "https://www.site.example/actualites?page=2"


def test_a_configured_selector_and_other_sites() -> None:
    entries, _ = parse_listing(
        PAGE, url="https://www.site.example/", links="main h2 a", same_site=False
    )
    assert len(entries) == 3  # the other site's link too; never the #comments anchor


async def test_poll_follows_pages_and_is_conditional(respx_mock: respx.MockRouter) -> None:
    page2 = b'<main><h2><a href="/actualites/troisieme-article-de-la-liste-99">Troisi\xc3\xa8me article de la liste</a></h2></main>'
    # The more specific route first: respx matches a URL without a query to any query.
    second = respx_mock.get("https://www.site.example/actualites?page=2").respond(
        200, content=page2
    )
    first = respx_mock.get("https://www.site.example/actualites").respond(
        200, content=PAGE, headers={"ETag": '"l1"'}
    )
    source = SourceConfig(
        id="l", name="L", kind="listing", url="https://www.site.example/actualites",
        options=ListingSource.Options(pages=2),
    )  # fmt: skip
    http = HttpSettings(retries=0, host_delay=Duration(0))
    async with make_client(http) as client:
        poll = await ListingSource(source).poll(Fetcher(client, http))
    assert len(poll.entries) == 3 and poll.etag == '"l1"'
    assert first.called and second.called
