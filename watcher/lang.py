"""Language from text, and how much a text reads like prose (pure).

Both rest on function words ("le", "de", "the", "of", ...): they make up a third of any
running sentence and almost none of a menu, a tag list or a byline, which is what makes
them the best cheap signal of article text (the idea of jusText). The lists are short
on purpose: the most frequent words carry nearly all of the signal.
"""

from __future__ import annotations

import re
from collections import Counter

_FUNCTION_WORDS = {
    "fr": """le la les l un une des du de d et est à au aux en dans pour par sur avec ce
        cet cette ces son sa ses leur leurs qui que qu ne pas plus il elle ils elles on
        nous vous je se s a ont été être sont était mais ou où comme si y tout tous
        été aussi entre sans sous après avant deux selon dont cela ont fait""",
    "en": """the of and to a in is that for on with as by was are be this from at an it
        has have had which not but their its were will been they said or he she his her
        who would can more about also there than other into after we our one two all
        when if so no up out new some what over them only most such these those""",
    "de": """der die das und ist nicht mit sich des ein eine einen dem den zu von auf für
        im in auch als wird bei sind es sie er wir ihr hat haben wurde werden nach aus
        noch wie aber oder nur so um vor über am zum zur war dass kann mehr""",
    "es": """el la los las de del que y en un una por con para es se lo como más pero sus
        al le ha su no fue son está han entre sin sobre también hasta desde porque muy
        este esta ya o cuando todo""",
    "it": """il lo la i gli le di del della dei delle che e è un una per con non sono nel
        nella alla al anche come più ha da si ma se ci questo questa tra sul sulla""",
    "pt": """o a os as de da do das dos que e em um uma para com não se por mais como foi
        no na nos nas ao à é são ou mas seu sua também já pelo pela""",
    "nl": """de het een van en in is dat op te zijn met voor niet aan er ook als bij door
        naar om maar dan nog wordt werd die dit zo uit over tot hij zij we ze""",
}
FUNCTION_WORDS = {lang: frozenset(words.split()) for lang, words in _FUNCTION_WORDS.items()}
# Each function word's languages: counting a text's words once, not each language's list.
_LANGUAGES_OF = {
    word: tuple(lang for lang, vocabulary in FUNCTION_WORDS.items() if word in vocabulary)
    for word in frozenset().union(*FUNCTION_WORDS.values())
}
_WORD = re.compile(r"[^\W\d_]+")
# The same runs in lower-cased ASCII text, where a plain range is several times faster.
_ASCII_WORD = re.compile(r"[a-z]+")
# Scripts written without spaces between words: function-word counting does not apply.
_UNSPACED = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\u0e00-\u0e7f]")


def words(text: str) -> list[str]:
    """The lower-cased words (runs of letters) of ``text``."""
    lowered = text.lower()
    return (_ASCII_WORD if lowered.isascii() else _WORD).findall(lowered)


# Scripts that name their language (or nearly): the first that makes up a real share of
# the letters wins. Kana before Han: Japanese mixes both.
_SCRIPTS = (
    ("ja", re.compile(r"[\u3040-\u30ff]")),  # kana: even 10% of the letters is Japanese
    ("ko", re.compile(r"[\uac00-\ud7af]")),
    ("zh", re.compile(r"[\u4e00-\u9fff]")),
    ("ar", re.compile(r"[\u0600-\u06ff]")),
    ("he", re.compile(r"[\u0590-\u05ff]")),
    ("el", re.compile(r"[\u0370-\u03ff]")),
    ("ru", re.compile(r"[\u0400-\u04ff]")),
    ("hi", re.compile(r"[\u0900-\u097f]")),
    ("th", re.compile(r"[\u0e00-\u0e7f]")),
)


_ANY_SCRIPT = re.compile(
    r"[\u3040-\u30ff\uac00-\ud7af\u4e00-\u9fff\u0600-\u06ff\u0590-\u05ff\u0370-\u04ff"
    r"\u0900-\u097f\u0e00-\u0e7f]"
)


def script_language(text: str) -> str | None:
    """The language a non-Latin script implies, when one dominates the text."""
    sample = text[:3000]
    if not _ANY_SCRIPT.search(sample):  # accented Latin text, the usual case: no counting
        return None
    letters = sum(map(len, _WORD.findall(sample))) or 1
    for language, script in _SCRIPTS:
        share = 0.1 if language == "ja" else 0.3
        if len(script.findall(sample)) > letters * share:
            return language
    return None


# detect_language counts the words of this many first characters of its text.
WORD_SAMPLE = 2500


def detect_language(text: str, sample_words: list[str] | None = None) -> str | None:
    """A two-letter language code from the script, else from function-word
    frequencies, or ``None``. ``sample_words``: ``words(text[:WORD_SAMPLE])``, when
    the caller has them already (``clean.leading_words``)."""
    by_script = script_language(text) if not text[:3000].isascii() else None
    if by_script:
        return by_script
    tokens = words(text[:WORD_SAMPLE]) if sample_words is None else sample_words
    if len(tokens) < 8:
        return None
    hits = dict.fromkeys(FUNCTION_WORDS, 0)
    for word, count in Counter(tokens).items():
        for lang in _LANGUAGES_OF.get(word, ()):
            hits[lang] += count
    best, score = None, 0
    for lang, n in hits.items():  # on a tie, the first language listed wins
        if n > score:
            best, score = lang, n
    return best if score >= max(3, len(tokens) * 0.12) else None


def unspaced(text: str) -> bool:
    """Whether ``text`` is written without spaces between words (Chinese, Japanese...)."""
    # Asked of every block: ASCII answers at once (a flag of the string), and the search
    # stops at the 200th character without copying them out.
    return not text.isascii() and _UNSPACED.search(text, 0, 200) is not None


def prose_ratio(text: str, language: str | None, tokens: list[str] | None = None) -> float | None:
    """The share of function words in ``text`` (about 0.35-0.5 in running prose,
    under 0.15 in navigation), or ``None`` when the language has no list or is written
    without spaces. ``tokens``: ``words(text)``, if the caller has them already."""
    vocabulary = FUNCTION_WORDS.get(language or "")
    if vocabulary is None or unspaced(text):
        return None
    if tokens is None:
        tokens = words(text)
    if not tokens:
        return 0.0
    return sum(map(vocabulary.__contains__, tokens)) / len(tokens)
