"""Decide a page's character encoding once, from its bytes, and decode it.

Order: byte-order mark, then the HTTP ``Content-Type`` charset, then ``<meta charset>``,
then detection. Like browsers (WHATWG Encoding), ``iso-8859-1``/``latin-1``/``ascii``
mean windows-1252: French pages declared latin-1 use cp1252's curly apostrophe (0x92),
which strict latin-1 decodes to an invisible control character and the apostrophe of
"Groupement d'Intérêt Public" is lost.

Declarations are often wrong, and the bytes tell: a page declared in any other charset
whose bytes are valid UTF-8 with non-ASCII sequences is UTF-8 (legacy encodings never
form valid UTF-8 by accident over a page), and a page declared UTF-8 whose bytes are
not is windows-1252.
"""

from __future__ import annotations

import codecs
import re

import charset_normalizer
import ftfy

_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_HEADER_CHARSET = re.compile(r"""charset\s*=\s*["']?([\w.:-]+)""", re.IGNORECASE)
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([\w.:-]+)""", re.IGNORECASE)
# WHATWG labels that browsers decode as windows-1252.
_AS_CP1252 = {
    "iso-8859-1", "iso8859-1", "latin-1", "latin1", "l1", "ascii", "us-ascii", "cp819",
    "windows-1252", "cp1252", "x-cp1252", "ibm819", "iso-ir-100",
}  # fmt: skip
_PRESCAN_BYTES = 4096


def normalize_label(label: str | None) -> str | None:
    """Map a charset label to a Python codec name (cp1252 for the latin-1 family)."""
    if not label:
        return None
    label = label.strip().strip("\"'").lower()
    if label in _AS_CP1252:
        return "cp1252"
    try:
        return codecs.lookup(label).name
    except LookupError:
        return None


def charset_from_content_type(content_type: str | None) -> str | None:
    if not content_type:
        return None
    match = _HEADER_CHARSET.search(content_type)
    return normalize_label(match.group(1)) if match else None


def sniff_meta_charset(content: bytes) -> str | None:
    match = _META_CHARSET.search(content[:_PRESCAN_BYTES])
    return normalize_label(match.group(1).decode("ascii", "ignore")) if match else None


def _as_utf8(content: bytes) -> str | None:
    try:
        return content.decode("utf-8")
    except UnicodeDecodeError:
        return None


def detect_encoding(content: bytes, content_type: str | None = None) -> str:
    """The codec to decode ``content`` with (a Python codec name)."""
    return _detect(content, content_type)[0]


def _detect(content: bytes, content_type: str | None) -> tuple[str, str | None]:
    """The codec, and the text too when telling required decoding the page as UTF-8
    (nearly every page: :func:`decode_html` then need not decode it a second time)."""
    for bom, name in _BOMS:
        if content.startswith(bom):
            return name, None
    declared = charset_from_content_type(content_type) or sniff_meta_charset(content)
    if declared in {"utf-16", "utf-16-le", "utf-16-be"}:
        # A <meta> saying UTF-16 in a document we could read as ASCII is a lie (HTML spec).
        declared = "utf-8"
    if declared == "utf-8":
        text = _as_utf8(content)
        if text is None:
            return ("cp1252" if _mostly_latin(content) else _guess(content)), None
        return "utf-8", text
    if content.isascii():
        return declared or "utf-8", None
    text = _as_utf8(content)
    if text is not None:  # valid UTF-8 with non-ASCII sequences is UTF-8, whatever it says
        return "utf-8", text
    return declared or _guess(content), None


def _mostly_latin(content: bytes) -> bool:
    """Whether the non-UTF-8 bytes look like a Western single-byte encoding."""
    sample = content[:65536]
    high = sum(1 for b in sample if b >= 0x80)
    return high < len(sample) * 0.3


def _reads_as_cp1252(content: bytes) -> bool:
    """cp1252 decodes it, and its non-ASCII characters are Western letters and
    typography (é, ç, ’, «, €...) rather than the symbols other encodings become."""
    try:
        text = content[:65536].decode("cp1252")
    except UnicodeDecodeError:
        return False
    high = [c for c in text if ord(c) > 127]
    plausible = sum(1 for c in high if c.isalpha() or c in "’‘“”«»–—…€°·•©®™\u00a0")
    return plausible >= len(high) * 0.9


def _guess(content: bytes) -> str:
    # Undeclared legacy pages are windows-1252 in browsers' Western locales; only when
    # the bytes clearly are something else do we ask the detector.
    if _reads_as_cp1252(content):
        return "cp1252"
    best = charset_normalizer.from_bytes(content[:65536]).best()
    name = normalize_label(best.encoding) if best is not None else None
    return name or "cp1252"


# Declared types that are never a page to read (feeds link to reports and images).
_NOT_PAGES = re.compile(
    r"(?:image|audio|video|font|model)/|application/(?:pdf|zip|gzip|x-gzip|json|msword|"
    r"vnd\.openxmlformats|vnd\.ms-|vnd\.oasis\.opendocument)"
)
# The WHATWG MIME Sniffing standard's "binary data bytes": no text has them in its
# first 1,445 bytes, except the zero bytes of UTF-16 and UTF-32.
_BINARY_BYTES = re.compile(rb"[\x00-\x08\x0b\x0e-\x1a\x1c-\x1f]")
_SNIFFED_BYTES = 1445
_BOM_BYTES = tuple(bom for bom, _codec in _BOMS)


def not_a_page(content: bytes, content_type: str | None = None) -> str | None:
    """Why ``content`` is not a page to read (a PDF, an image...), or ``None``.

    The declared type is believed when it names a binary format; the bytes are sniffed
    too, as servers label files ``text/html`` or ``application/octet-stream`` alike."""
    declared = (content_type or "").split(";")[0].strip().lower()
    if _NOT_PAGES.match(declared):
        return f"not an HTML page ({declared})"
    if content.startswith(b"%PDF-"):
        return "not an HTML page (a PDF file)"
    head = content[:_SNIFFED_BYTES]
    if not _BINARY_BYTES.search(head) or head.startswith(_BOM_BYTES):
        return None
    # UTF-16 or UTF-32 text without a byte-order mark: zero bytes between the letters,
    # and nothing else binary.
    text = head.replace(b"\x00", b"")
    if len(text) <= 0.55 * len(head) and not _BINARY_BYTES.search(text):
        return None
    return "not an HTML page (binary content)"


def decode_html(content: bytes, content_type: str | None = None) -> tuple[str, str]:
    """Decode a page's bytes; returns ``(text, codec)``. Never raises on bad bytes."""
    encoding, text = _detect(content, content_type)
    if text is None:
        text = content.decode(encoding, errors="replace")
    if text.startswith("\ufeff"):
        text = text[1:]
    return text, encoding


# Signs of text that was encoded twice (UTF-8 read as cp1252: "Ã©", "â€™", "Â ") or
# carries C1 control characters where cp1252 punctuation was meant (U+0092 for ’).
_MOJIBAKE = re.compile(r"[\x80-\x9f]|Ã[\x80-\xbf©¨ª«®´¹º»¼½¾§ ]|â€|Â[\xa0-\xbf ]")
# The characters they start with: the regex engine scans for one of a set of characters
# several times faster than it tries the alternation above at every position.
_MOJIBAKE_START = re.compile(r"[\x80-\x9fÃâÂ]")
_FTFY = ftfy.TextFixerConfig(
    unescape_html=False,
    remove_terminal_escapes=False,
    fix_latin_ligatures=False,
    fix_character_width=False,
    uncurl_quotes=False,
    fix_line_breaks=False,
    remove_control_chars=False,
    normalization=None,
    explain=False,
)
# French elision whose apostrophe a bad charset ate: "dIntérêt" (a lower-case article
# glued to a capitalised word is never French as written).
_LOST_ELISION = re.compile(
    r"\b([dlDL]|[jJ]|[nN]|[mM]|[tT]|[sS]|[cC]|[qQ]u)([AEIOUYÀÂÄÉÈÊËÎÏÔÖÙÛÜH][a-zà-ÿ]{2,})"
)


def repair_text(text: str, language: str | None = None) -> str:
    """Undo what a wrong charset did to a text: mojibake (ftfy, called only when its signs
    are there, so clean text costs one scan for their first characters) and, in French
    text that has no apostrophe left at all, the ones lost between an elided article and
    a capitalised word ("dIntérêt" -> "d’Intérêt")."""
    start = _MOJIBAKE_START.search(text)
    if start and _MOJIBAKE.search(text, start.start()):
        text = ftfy.fix_text(text, _FTFY)
    if language == "fr" and "’" not in text and "'" not in text:
        text = _LOST_ELISION.sub(r"\1’\2", text)
    return text


def repair_article(
    title: str, paragraphs: list[str], language: str | None
) -> tuple[str, list[str]]:
    """:func:`repair_text` over an article, deciding on the whole text at once."""
    joined = "\n\n".join([title, *paragraphs])
    fixed = repair_text(joined, language)
    if fixed == joined:
        return title, paragraphs
    parts = fixed.split("\n\n")
    if len(parts) != len(paragraphs) + 1:  # a repair never merges paragraphs, but be safe
        parts = [repair_text(title, language)] + [repair_text(p, language) for p in paragraphs]
    # A repaired "Â " is a no-break space, which may now start or end a paragraph.
    return parts[0].strip(), [p for p in (part.strip() for part in parts[1:]) if p]
