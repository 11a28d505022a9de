"""Strip boilerplate and spam from an article's blocks (pure).

The extractor hands over the text blocks of the region it chose, in order; each cleaner
here is a small function that marks the blocks it rejects with a reason, so that
``watcher extract`` can show what was dropped and why. The phrase lists are data, in
French and English, and only ever match *short* blocks: a real paragraph that happens
to contain "lire aussi" is never dropped.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar, overload

from watcher.fold import fold_words
from watcher.lang import WORD_SAMPLE, prose_ratio, unspaced, words
from watcher.models import Removal

# Phrases that open a block which is not article text. Matched at the start of the
# block, after accents are folded and case is lowered.
_DROP_PHRASES = (
    # read also / related inserts
    "lire aussi", "a lire aussi", "a lire egalement", "lire egalement", "voir aussi",
    "sur le meme sujet", "read more", "read also", "see also", "related:", "related article",
    "lire la suite", "continue reading", "more on this", "recommended:", "related coverage",
    "explore further", "tagged:", "tags:", "mots-cles", "mots cles", "empfohlene beitrage",
    "mehr zum thema", "lesen sie auch", "auch interessant", "mas sobre", "lee tambien",
    "te puede interesar", "vous aimerez aussi", "a decouvrir", "a voir aussi", "en savoir plus",
    "sur le meme theme", "pour aller plus loin",
    # newsletters and subscriptions
    "subscribe to our newsletter", "sign up for our newsletter", "sign up to our newsletter",
    "get our newsletter", "inscrivez-vous a notre newsletter", "inscrivez-vous a la newsletter",
    "abonnez-vous a notre newsletter", "recevez notre newsletter", "newsletter",
    # author-bio toggles
    "lire la biographie", "masquer la biographie", "afficher la biographie",
    "read the author's bio", "about the author", "a propos de l'auteur",
    # sharing and printing
    "partager", "share this", "share on", "share:", "tweet", "imprimer", "print this",
    "envoyer par e-mail", "email this", "copy link", "copier le lien",
    # paywalls
    "cet article est reserve aux abonnes", "article reserve aux abonnes", "reserve aux abonnes",
    "il vous reste", "deja abonne", "already a subscriber", "subscribe to continue",
    "subscribe to read", "to continue reading", "this article is for subscribers",
    "log in to continue", "connectez-vous pour lire", "pour lire la suite",
    "pour acceder en illimite", "abonnez-vous pour", "instant access to the full article",
    "get the most popular", "never miss the latest", "stay up-to-date", "sign up for",
    "we want to hear what you think", "join our mailing list", "get our free newsletter",
    "subscribe to email", "subscribe to our", "receive our monthly", "receive our weekly",
    "receive our daily", "recevez chaque", "recevez notre", "inscrivez-vous",
    # cookie and consent banners
    "we use cookies", "this site uses cookies", "this website uses cookies",
    "nous utilisons des cookies", "ce site utilise des cookies", "accept cookies",
    "accepter les cookies", "gerer mes cookies", "manage cookies", "cookie settings",
    # image credits
    "photo :", "photo:", "credit photo", "credits photo", "credit :", "credits :", "image:",
    "image :", "illustration :", "photo credit", "image credit", "(photo", "© ",
    "photograph by", "photograph:", "photo by", "picture:", "foto:", "bild:",
    # advertising
    "advertisement", "publicite", "sponsored", "contenu sponsorise",
    # copyright and reprint notices
    "this article is the copyrighted property", "written permission must be obtained",
    "copyright ©", "copyright (c)", "all rights reserved", "tous droits reserves",
    "reproduction interdite", "alle rechte vorbehalten",
    # rating widgets (their prompt, or the count in brackets: "(No Ratings Yet)")
    "(no ratings yet)", "(noch keine bewertungen)", "(pas encore de note)", "(aucun vote)",
    "(sin valoraciones)", "rate this article", "rate this post", "notez cet article",
    "bewerten sie diesen artikel", "read the latest from", "more articles by",
    "voir tous les articles de",
    # tables of contents and affiliate disclosures
    "table of contents", "if you buy something", "we may earn",
    "when you buy through", "nous pouvons percevoir", "this post may contain affiliate",
    "this article contains affiliate", "this post contains affiliate",
    "this article may contain affiliate",
)  # fmt: skip
# Phrases that open the comment section, the "related" block or injected spam at the end
# of an article: that block and everything after it go.
_COMMENT_PHRASES = (
    "vos reactions", "reagissez", "afficher/masquer les commentaires", "commentaires (",
    "laisser un commentaire", "ajouter un commentaire", "leave a reply", "leave a comment",
    "post a comment", "add a comment", "we will be happy to hear your thoughts",
    "join the discussion", "comments (", "show comments", "voir les commentaires",
)  # fmt: skip
# Phrases that open a "related" block: at the end of an article they end it, but sites
# also put such blocks inside articles, so they only end it when no prose follows.
_RELATED_PHRASES = (
    "related news", "related articles", "related stories", "related posts",
    "you may also like", "you might also like", "more stories", "more from",
    "dans la meme rubrique", "les plus lus", "most read", "most popular",
    "a lire sur le meme theme", "articles similaires", "articles lies", "nos derniers articles",
    "trending now", "latest news", "dernieres actualites", "top stories", "editor's picks",
    "recommended for you", "read next", "up next", "what to read next",
    "das konnte sie auch interessieren", "meistgelesen", "weitere artikel",
    "noticias relacionadas",
)  # fmt: skip
_NOTE = re.compile(
    r"(update|updated|correction|clarification|editor'?s'? note|note de la redaction|"
    r"mise a jour|rectificatif|erratum|precision|aktualisierung|korrektur|actualizacion|"
    r"correccion)\b[^:]{0,40}:"
)
_ABOUT = ("about", "a propos de", "uber", "sobre")
# Headings dropped only when they are the whole block ("Sommaire des mesures" is prose).
_DROP_LINES = frozenset(
    {"sommaire", "contents", "in this article", "dans cet article", "related", "a lire"}
)
_MORE_FROM_SITE = re.compile(r"^(more|plus de|tout) [\w.'-]+$")  # "More TechCrunch"
# A block this long or longer is an article paragraph, whatever it starts with.
_SHORT_WORDS = 25
# A line of "|"/"•"-separated facts with a date or a "par"/"by" in it is a byline.
_BYLINE_SEPARATOR = re.compile(r"\s[|•·]\s")
_BYLINE_PARTS = re.compile(
    r"\b(par|by|publie|mis a jour|updated|published)\b|\d{1,2}[./]\d{1,2}[./]\d{2,4}|\d{1,2}h\d{2}"
)
_COMMENT_COUNT = re.compile(
    r"^\(?\d+\)?\s+(commentaires?|comments?|reactions?|kommentare?|comentarios?)\b"
)
_BYLINE = re.compile(
    r"^(\d+ (minutes?|mins?|hours?|hrs?|days?|weeks?) ago|il y a \d+ (minutes?|heures?|jours?)|"
    r"vor \d+ (minuten|stunden|tagen|wochen)|hace \d+ (minutos?|horas?|dias?|semanas?)|"
    r"\d+ (min|minute|minutes) (read|de lecture)|lecture \d+ min|"
    r"by|par|written by|ecrit par|auteur\s*:|author\s*:|publie le|publie\b|"
    r"mis a jour|updated|published|posted|modifie le|le \d{1,2}[ /]|"
    r"aktualisiert|veroffentlicht|actualizado|publicado|"
    r"\d{1,2}\s+\w+\s+\d{4}|\w+ \d{1,2}, \d{4})",
)
# Audience counters: "Read 12,345 times", "12 345 vues", "Dieser Artikel wurde 812 Mal
# gelesen", "1.204 visitas". They change on every visit: kept, each fetch would be an edit.
_N = r"\d[\d\s.,\u202f\u00a0']*"
_COUNTER = re.compile(
    "|".join(
        (
            rf"^((this|the) (article|story|post|page|video) (has been|was) )?"
            rf"(read|viewed|seen|shared|watched) {_N}\s*times?\b",
            rf"^((cet|l') ?(article|billet|page|video) a ete )?"
            rf"(lue?|consultee?|vue?|partagee?) {_N}\s*fois\b",
            rf"^((dieser|der) (artikel|beitrag) wurde )?"
            rf"{_N}\s*mal (gelesen|aufgerufen|angesehen|geteilt)\b",
            rf"^((este|el) (articulo|post) (ha sido|fue) )?"
            rf"(leido|visto|compartido) {_N}\s*veces\b",
            rf"^{_N}\s*(views?|reads?|readers|shares|vues?|lectures?|lecteurs|partages|"
            rf"aufrufe|leser|visitas|lecturas|lectores|visualizaciones)\W*([|·•].*)?$",
        )
    )
)

# Injected spam (pharma hacks, casinos, loans, SEO link farms). Strong terms alone mark a
# short block; weak ones need company. Matched as words and phrases of folded text (a
# set lookup per word: this runs on every block).
_SPAM_STRONG_WORDS = frozenset(
    "viagra cialis levitra kamagra tadalafil sildenafil tramadol phentermine xanax valium "
    "ambien oxycodone zolpidem modafinil propecia accutane".split()
)
_SPAM_STRONG_PHRASES = (
    "online pharmacy", "pharmacie en ligne", "without prescription", "without a prescription",
    "no prescription", "sans ordonnance", "sleep aid", "diet pills", "weight loss pills",
    "online casino", "casino en ligne", "slot machine", "free spins", "poker online",
    "sports betting", "payday loan", "bad credit loan", "cash advance", "essay writing service",
    "write my essay", "replica watches", "buy followers", "cheap pills", "cheap meds",
)  # fmt: skip
_SPAM_WEAK_WORDS = frozenset(
    "generic generics cheap buy discount pill pills mart bonus casino loan loans pharmacy "
    "meds prescription acheter".split()
)
_SPAM_WEAK_PHRASES = ("shopping cart", "order now", "free shipping", "best price", "pas cher")
# A word every spam phrase contains: without one, no phrase needs looking for.
_SPAM_PHRASE_KEYS = frozenset(
    "pharmacy ligne prescription ordonnance aid pills casino slot spins poker betting loan "
    "advance essay watches followers meds cart shipping price cher order".split()
)
# Latin and Cyrillic letters side by side in a word ("Yоur соntеnt" with Cyrillic о, е):
# homoglyphs that slip past word filters, a mark of injected spam and ads, never of
# prose in either script.
_HOMOGLYPH = re.compile(r"[a-zA-Z][\u0400-\u04ff]|[\u0400-\u04ff][a-zA-Z]")
_CYRILLIC = re.compile(r"[\u0400-\u04ff]")
# Any word that could make a block spam: most blocks have none, and skip the counting.
_SPAM_KEYS = _SPAM_STRONG_WORDS | _SPAM_WEAK_WORDS | _SPAM_PHRASE_KEYS
_ALNUM = re.compile(r"[^\W_]")  # \w is str.isalnum() or "_"
_SENTENCE_END = re.compile(r"[.!?…»\"”]\s*$")
_WORD = re.compile(r"\w+")
# Photo agencies and credit words: a short block made only of these is an image credit.
_CREDIT_WORDS = frozenset(
    {
        "getty", "images", "afp", "epa", "reuters", "ap", "pa", "media", "shutterstock",
        "istock", "istockphoto", "alamy", "bloomberg", "via", "sipa", "abaca", "maxppp",
        "hans", "lucas", "photo", "photos", "credit", "credits", "illustration", "dr",
        "archives", "/", "©", "-", ",", "(", ")", "&", "and", "et",
    }
)  # fmt: skip
_CREDIT_TOKEN = re.compile(r"[\w]+|[/©&,()-]")
_CAPTION = re.compile(r"(?:^|[,;(\s])(?:photo|credit|credits|image|illustration)\s?:\s|©")


_T = TypeVar("_T")


class cached_property(Generic[_T]):
    """:class:`functools.cached_property` without the lock Python 3.11 takes at each
    first read: that lock was a fifth of the spam filter's time. (Blocks are never
    shared between threads; Python 3.12 dropped the lock.)"""

    def __init__(self, compute: Callable[[Any], _T]) -> None:
        self.compute = compute
        self.name = compute.__name__
        self.__doc__ = compute.__doc__

    @overload
    def __get__(self, instance: None, owner: type) -> cached_property[_T]: ...
    @overload
    def __get__(self, instance: object, owner: type) -> _T: ...
    def __get__(self, instance: object, owner: type) -> cached_property[_T] | _T:
        if instance is None:
            return self
        # Stored in the instance: later reads find it there and never come here.
        value = instance.__dict__[self.name] = self.compute(instance)
        return value


@dataclass
class Block:
    """One block of text (a paragraph, heading, list item, quote...) in document order."""

    text: str
    tag: str = "p"
    link_chars: int = 0
    dropped: str | None = None
    # Set by the extractor: the enclosing elements (a cons list of node ids), and why the
    # block sits in page furniture or a boilerplate-looking element, if it does.
    path: Any = None
    flags: Any = None
    in_article: bool = False  # inside <article>, <main> or itemprop=articleBody
    lead: bool = False  # inside an element whose class says standfirst
    boiler: str | None = None
    value: float | None = None  # prose_value(), computed once

    @cached_property
    def folded(self) -> str:
        return fold_words(self.text)

    @cached_property
    def words(self) -> int:
        return len(self.text.split())

    @cached_property
    def tokens(self) -> list[str]:
        """``lang.words(text)``, read by the spam filter, prose_value and the language
        detection: tokenising is the costliest step of each."""
        return words(self.text)

    @property
    def link_density(self) -> float:
        return self.link_chars / max(len(self.text), 1)


def leading_words(parts: Sequence[str | Block], sep: str, limit: int = WORD_SAMPLE) -> list[str]:
    """``words(sep.join(texts)[:limit])`` for the texts of ``parts``, from the blocks'
    own tokens. ``sep`` must be blank ("\\n", " "): then no word runs across two parts,
    and each part lower-cases as it does in the joined text."""
    tokens: list[str] = []
    room = limit
    for part in parts:
        text = part if isinstance(part, str) else part.text
        if len(text) >= room:  # the last part read, cut
            tokens += words(text[:room])
            break
        tokens += words(part) if isinstance(part, str) else part.tokens
        room -= len(text) + len(sep)
        if room <= 0:
            break
    return tokens


@dataclass(frozen=True)
class CleanContext:
    title: str = ""
    language: str | None = None
    author: str | None = None  # from the page's metadata: "About <author>" is a bio
    # Trim non-prose blocks before the first and after the last paragraph (the generic
    # finder's output; a configured selector is trusted as it is).
    trim: bool = False


_SENTENCE_PUNCT = re.compile(r"[.!?。！？؟।]")


def prose_value(block: Block, language: str | None) -> float:
    """How much a block says "article text" (positive) or "page furniture" (negative),
    computed once per block.

    Long blocks of running prose (function words, sentences) count for, in proportion
    to their length; link lists and non-prose text count against; short blocks are
    neutral. The idea is jusText's, with our own thresholds measured on the corpus.
    """
    if block.value is None:
        block.value = _prose_value(block, language)
    return block.value


def _prose_value(block: Block, language: str | None) -> float:
    # A Chinese or Japanese character carries what three letters do elsewhere.
    cjk = unspaced(block.text)
    length = len(block.text) * (3 if cjk else 1)
    density = block.link_density
    if density > 0.5:
        return -0.5 * length
    if length < 30:
        return 0.0
    if length < 100 and block.words <= 12 and _COUNTER.search(block.folded):
        return 0.0  # "This article has been read 1,234 times." reads like a sentence
    ratio = prose_ratio(block.text, language, block.tokens)
    if ratio is None:  # no function-word list for this language: sentences and length
        prose = length >= 80 and _SENTENCE_PUNCT.search(block.text) is not None
        if not prose and cjk:
            prose = length >= 60  # CJK lines are often unpunctuated (spaces between clauses)
    else:
        prose = ratio >= 0.2
    if prose:
        return length * (1.0 - density)  # an inline link does not make it less of a paragraph
    if density > 0.25 or (ratio is not None and ratio < 0.1):
        return -0.25 * length
    return 0.0


Cleaner = Callable[[list[Block], CleanContext], None]


def _starts(folded: str, phrases: tuple[str, ...]) -> str | None:
    if not folded.startswith(phrases):  # one C-level test for the usual "no"
        return None
    return next(phrase for phrase in phrases if folded.startswith(phrase))


def cut_trailing_sections(blocks: list[Block], ctx: CleanContext) -> None:
    """Comment sections end the article once some of it has been read; "related"
    blocks end it only when no article prose follows them (sites also put such
    blocks inside articles: then the block alone goes)."""
    values = [0.0 if b.dropped else max(prose_value(b, ctx.language), 0.0) for b in blocks]
    paragraphs = [
        v if v > 0 and b.words >= _SHORT_WORDS and b.link_density < 0.3 else 0.0
        for b, v in zip(blocks, values, strict=True)
    ]
    # Article paragraphs, as opposed to the short blurbs under teaser links; for telling
    # siblings apart, only a blurb under a headline in the same element counts.
    headlines = [_teaser_headline(blocks, i) if v else None for i, v in enumerate(paragraphs)]
    long_prose = [0.0 if h else v for h, v in zip(headlines, paragraphs, strict=True)]
    resuming = [
        0.0 if h and _parent(h) == _parent(b) else v
        for b, h, v in zip(blocks, headlines, paragraphs, strict=True)
    ]
    total = sum(values)
    # The author's bio box ("About Jane Doe", "À propos de Jane Doe") ends the article
    # as a comment section does.
    author = fold_words(ctx.author) if ctx.author else ""
    bio_headings = {f"{word} {author}" for word in _ABOUT} if author else set()
    before = 0.0
    for index, block in enumerate(blocks):
        before += values[index]
        if block.dropped or block.words > _SHORT_WORDS:
            continue
        folded = block.folded
        comment = (
            _starts(folded, _COMMENT_PHRASES)
            or ("comment count" if _COMMENT_COUNT.match(folded) else None)
            or (f"about {ctx.author}" if folded in bio_headings else None)
        )
        related = None
        if not comment:
            related = _starts(folded, _RELATED_PHRASES) or (
                "more from" if _MORE_FROM_SITE.match(folded) else None
            )
        phrase = comment or related
        if phrase is None:
            continue
        if related:
            # The article goes on after an insert when long paragraphs follow it, or
            # one paragraph sits beside the article's own (teaser blurbs are short,
            # made of links, or in the insert's own container).
            ends = (
                before >= 150
                and sum(long_prose[index + 1 :]) < 300
                and not _resumes(blocks, resuming, index)
            )
        else:
            ends = before >= 150 and total - before <= 2 * before
        if not ends:
            if related:
                _drop_insert(blocks, index, ctx, f"boilerplate '{phrase}'")
            else:
                block.dropped = f"boilerplate '{phrase}'"
            continue
        for later in blocks[index:]:
            later.dropped = later.dropped or f"after '{phrase}'"
        return


def _parent(block: Block) -> Any:
    """The node id of the element around the block's own element (None if unknown)."""
    path = block.path
    return path[1][0] if path is not None and path[1] is not None else None


def _resumes(blocks: list[Block], paragraphs: list[float], index: int) -> bool:
    """Whether a paragraph after ``index`` is a sibling of a paragraph before it: a
    teaser's blurb sits in its teaser, an article's paragraph beside the others."""
    before = {_parent(b) for b, v in zip(blocks[:index], paragraphs, strict=False) if v}
    before.discard(None)
    return bool(before) and any(
        v and _parent(b) in before
        for b, v in zip(blocks[index + 1 :], paragraphs[index + 1 :], strict=True)
    )


def _teaser_headline(blocks: list[Block], index: int) -> Block | None:
    """The linked headline just above the block at ``index`` (a date or a section label
    between them aside), when that block is the blurb under a teaser link."""
    skipped = 0
    for before in reversed(blocks[max(index - 3, 0) : index]):
        if before.words <= 6 and before.link_density <= 0.5 and skipped < 2:
            skipped += 1  # "8 hours ago", a category label
            continue
        linked = before.link_density > 0.5 and (before.tag == "h" or before.words <= 20)
        return before if linked else None
    return None


def _drop_insert(blocks: list[Block], index: int, ctx: CleanContext, reason: str) -> None:
    """A "related"/comment heading inside an article, and the links or teasers under it
    up to the next real paragraph."""
    blocks[index].dropped = reason
    for block in blocks[index + 1 :]:
        if block.dropped:
            continue
        if block.link_density < 0.3 and (prose_value(block, ctx.language) > 0 or block.tag == "h"):
            return  # the article again: a paragraph, or the heading of its next section
        block.dropped = reason


def drop_boilerplate(blocks: list[Block], ctx: CleanContext) -> None:
    """Read-also inserts, newsletter prompts, share bars, paywall prompts, credits."""
    for block in blocks:
        if block.dropped or block.words > _SHORT_WORDS:
            continue
        phrase = _starts(block.folded, _DROP_PHRASES)
        if phrase is None and block.folded.strip(" :") in _DROP_LINES:
            phrase = block.folded.strip(" :")
        if phrase:
            block.dropped = f"boilerplate '{phrase.strip()}'"


def drop_title_echo(blocks: list[Block], ctx: CleanContext) -> None:
    """The title repeated in the body, and the kicker/labels printed above it."""
    if not ctx.title:
        return
    title = fold_words(ctx.title)
    for index, block in enumerate(blocks[:8]):
        if block.folded == title:
            block.dropped = "title"
            for before in blocks[:index]:
                if (
                    not before.dropped
                    and before.words <= 8
                    and not _SENTENCE_END.search(before.text)
                ):
                    before.dropped = "label above the title"
            return


def drop_bylines(blocks: list[Block], ctx: CleanContext) -> None:
    """Author and date lines ("Par X", "Publié le …", "6 September 2007", "Le Monde |
    04.05.2015 à 13h36 • Mis à jour … | Par …")."""
    for block in blocks:
        if block.dropped or block.words > 30:
            continue
        if block.words <= 14 and _BYLINE.match(block.folded):
            if not _SENTENCE_END.search(block.text.rstrip(")")):
                block.dropped = "byline or date"
        elif _BYLINE_SEPARATOR.search(block.text) and _BYLINE_PARTS.search(block.folded):
            block.dropped = "byline or date"


def drop_counters(blocks: list[Block], ctx: CleanContext) -> None:
    """View, read and share counters: a number that changes at every visit."""
    for block in blocks:
        if not block.dropped and block.words <= 12 and _COUNTER.search(block.folded):
            block.dropped = "audience counter"


def drop_link_lists(blocks: list[Block], ctx: CleanContext) -> None:
    """Blocks that are mostly links: menus, tag lists, "more stories" teasers."""
    for block in blocks:
        if block.dropped:
            continue
        if (block.link_density > 0.6 and block.words < 40) or block.link_density > 0.85:
            block.dropped = "mostly links"


def drop_spam(blocks: list[Block], ctx: CleanContext) -> None:
    """Injected pharma/casino/loan/SEO spam, and the short labels clustered with it."""
    spam_at: list[int] = []
    signals: dict[int, int] = {}  # short blocks with weak spam words, by index
    for index, block in enumerate(blocks):
        text = block.text
        if (
            not text.isascii()
            and _CYRILLIC.search(text)  # a quick "no" for the usual non-ASCII paragraph
            and len(_HOMOGLYPH.findall(text)) >= max(3, block.words // 5)
        ):
            block.dropped = "spam (look-alike letters)"
            spam_at.append(index)
            continue
        # A spam term counted below is a whole word (a run of word characters) of the
        # lower-cased text, so also a run of letters, one of the block's tokens: without
        # such a token the counting finds nothing.
        if _SPAM_KEYS.isdisjoint(block.tokens):
            continue
        # Lower-casing is enough here (the terms are ASCII) and much cheaper than folding
        # every long paragraph.
        folded = text.lower()
        short = block.words <= 30
        tokens = set(_WORD.findall(folded))
        phrases = not tokens.isdisjoint(_SPAM_PHRASE_KEYS)
        strong = len(tokens & _SPAM_STRONG_WORDS)
        if phrases:
            strong += sum(1 for p in _SPAM_STRONG_PHRASES if p in folded)
        weak = 0
        if short:
            weak = len(tokens & _SPAM_WEAK_WORDS)
            if phrases:
                weak += sum(1 for p in _SPAM_WEAK_PHRASES if p in folded)
            if weak:
                signals[index] = weak
        # Health news names drugs ("Viagra's patent expires") and a paragraph on "payday
        # loans" and "online casinos" is journalism: spam sells (a commercial word or
        # links with the drug), is short, or is made of nothing else.
        if short:
            is_spam = (strong >= 1 and (weak >= 1 or block.link_density > 0.3)) or weak >= 3
        else:
            is_spam = (strong >= 1 and block.link_density > 0.3) or strong >= max(
                3, block.words / 15
            )
        if is_spam:
            block.dropped = "spam"
            spam_at.append(index)
    # Spam comes in clusters ("B Well Mart / Shopping cart / Best sleep aid generics."):
    # up to two short, unpunctuated labels next to a spam block go with it when they
    # sell too (a weak spam word, or nothing but links). The article's own last lines
    # ("Tags", "-- By ...", "Related stories", a heading) stay.
    for index in spam_at:
        for step in (-1, 1):
            j, taken = index + step, 0
            while 0 <= j < len(blocks) and taken < 2:
                neighbour = blocks[j]
                if (neighbour.dropped or "").startswith("spam"):
                    j += step
                    continue
                if (
                    neighbour.dropped
                    or neighbour.words > 6
                    or (j not in signals and neighbour.link_density <= 0.5)
                    or neighbour.tag == "h"
                    or _SENTENCE_END.search(neighbour.text)
                    or _starts(neighbour.folded, _COMMENT_PHRASES + _RELATED_PHRASES)
                    or _COMMENT_COUNT.match(neighbour.folded)
                    or _BYLINE.match(neighbour.folded)
                ):
                    break
                neighbour.dropped = "spam"
                taken += 1
                j += step


def drop_image_credits(blocks: list[Block], ctx: CleanContext) -> None:
    """Photo credits and captions: "Getty Images", "EPA", "Roman Prymula, photo: CTK"."""
    for block in blocks:
        if block.dropped or block.words > 12:
            continue
        folded = block.folded
        words = _CREDIT_TOKEN.findall(folded)
        if (words and all(w in _CREDIT_WORDS for w in words)) or _CAPTION.search(folded):
            block.dropped = "image credit"


def drop_empty(blocks: list[Block], ctx: CleanContext) -> None:
    """Blocks with no letters or digits (separators, lone icons)."""
    for block in blocks:
        if not block.dropped and _ALNUM.search(block.text) is None:
            block.dropped = "no text"


def trim_edges(blocks: list[Block], ctx: CleanContext) -> None:
    """Kickers, breadcrumbs and date lines above the article; tag lists, share prompts
    and "related" headings below it: non-prose blocks before the first and after the
    last paragraph go. Headings just above the first paragraph stay."""
    if not ctx.trim:
        return
    kept = [i for i, b in enumerate(blocks) if not b.dropped]
    prose = [i for i in kept if prose_value(blocks[i], ctx.language) > 0]
    if not prose:
        return
    first, last = prose[0], prose[-1]
    # Kept next to the prose: an update or correction note (the article's own, however
    # short, and for a change monitor often the very edit worth seeing), the rest of a
    # quote the article ends on (an embedded tweet's attribution), headings above it.
    after = [i for i in kept if i > last]
    while after and (
        _NOTE.match(blocks[after[0]].folded)
        or (blocks[after[0]].tag == "quote" and blocks[last].tag == "quote")
    ):
        last = after.pop(0)
    above = [i for i in kept if i < first]
    while above and (_NOTE.match(blocks[above[-1]].folded) or blocks[above[-1]].tag == "h"):
        first = above.pop()
    for i in kept:
        if i < first:
            blocks[i].dropped = "before the article"
        elif i > last:
            blocks[i].dropped = "after the article"


CLEANERS: tuple[Cleaner, ...] = (
    drop_empty,
    drop_spam,
    cut_trailing_sections,
    drop_title_echo,
    drop_boilerplate,
    drop_bylines,
    drop_counters,
    drop_image_credits,
    drop_link_lists,
    trim_edges,
)


def clean(
    blocks: list[Block], ctx: CleanContext, cleaners: tuple[Cleaner, ...] = CLEANERS
) -> tuple[list[str], list[Removal]]:
    """Run the cleaners; returns the kept paragraphs and what was removed, with reasons."""
    for cleaner in cleaners:
        cleaner(blocks, ctx)
    kept = [b.text for b in blocks if not b.dropped]
    removed = [Removal(reason=b.dropped, text=b.text) for b in blocks if b.dropped]
    return kept, removed
