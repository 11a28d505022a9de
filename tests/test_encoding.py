"""Decide the encoding once, from bytes: BOM, header, <meta>, detection (cp1252 for latin-1)."""

from __future__ import annotations

import codecs

import pytest

from watcher.encoding import decode_html, detect_encoding, not_a_page, repair_text
from watcher.extract import extract

FRENCH = "<p>Le Groupement d’Intérêt Public « e-santé » a été créé.</p>"


@pytest.mark.parametrize(
    ("content", "content_type", "expected"),
    [
        (FRENCH.encode("utf-8"), "text/html; charset=utf-8", "utf-8"),
        (FRENCH.encode("utf-8"), "text/html", "utf-8"),
        (FRENCH.encode("utf-8"), None, "utf-8"),
        # latin-1 declared: decoded as cp1252, so the curly apostrophe (0x92) survives
        (FRENCH.encode("cp1252"), "text/html; charset=ISO-8859-1", "cp1252"),
        (b'<meta charset="iso-8859-1">' + FRENCH.encode("cp1252"), None, "cp1252"),
        (
            b'<meta http-equiv="Content-Type" content="text/html; charset=windows-1252">'
            + FRENCH.encode("cp1252"),
            None,
            "cp1252",
        ),
        # wrongly declared: utf-8 bytes served as latin-1, and cp1252 bytes served as utf-8
        (FRENCH.encode("utf-8"), "text/html; charset=iso-8859-1", "utf-8"),
        (FRENCH.encode("cp1252"), "text/html; charset=utf-8", "cp1252"),
        # byte-order marks win over everything
        (codecs.BOM_UTF8 + FRENCH.encode("utf-8"), "text/html; charset=iso-8859-1", "utf-8"),
        (codecs.BOM_UTF16_LE + FRENCH.encode("utf-16-le"), None, "utf-16-le"),
        # undeclared, not utf-8: detected
        (FRENCH.encode("cp1252"), None, "cp1252"),
    ],
)
def test_detect_encoding(content: bytes, content_type: str | None, expected: str) -> None:
    assert detect_encoding(content, content_type) == expected


def test_french_apostrophes_and_accents_survive_a_latin1_declaration() -> None:
    text, _ = decode_html(FRENCH.encode("cp1252"), "text/html; charset=iso-8859-1")
    assert "Groupement d’Intérêt Public « e-santé »" in text


def test_undecodable_bytes_never_raise() -> None:
    text, _ = decode_html(b"\xfa\xfb<p>ok</p>\x81\xc3", "text/html; charset=utf-8")
    assert "ok" in text


def test_unknown_charset_label_falls_back_to_detection() -> None:
    text, encoding = decode_html(FRENCH.encode("utf-8"), "text/html; charset=x-nonsense")
    assert encoding == "utf-8" and "Intérêt" in text


@pytest.mark.parametrize(
    ("damaged", "language", "repaired"),
    [
        (
            "Le Groupement dâ€™IntÃ©rÃªt Public a Ã©tÃ© crÃ©Ã©.",
            "fr",
            "Le Groupement d’Intérêt Public a été créé.",
        ),
        ("Le CHU a choisi l\x92éditeur.", "fr", "Le CHU a choisi l’éditeur."),
        ("Cerner â€“ now Oracle Health â€“ said.", "en", "Cerner – now Oracle Health – said."),
        # A French text whose apostrophes a bad charset removed altogether:
        (
            "Le Groupement dIntérêt Public et lAgence Régionale de Santé.",
            "fr",
            "Le Groupement d’Intérêt Public et l’Agence Régionale de Santé.",
        ),
        # ...but never a text that still has its apostrophes, nor another language:
        (
            "Le Groupement d’Intérêt Public et lAgence.",
            "fr",
            "Le Groupement d’Intérêt Public et lAgence.",
        ),
        ("Du Pont met McDonald and dAngelo.", "en", "Du Pont met McDonald and dAngelo."),
        ("Déjà propre : « e-santé », 3 000 €.", "fr", "Déjà propre : « e-santé », 3 000 €."),
    ],
)
def test_repair_text(damaged: str, language: str, repaired: str) -> None:
    assert repair_text(damaged, language) == repaired


def test_extraction_repairs_a_double_encoded_page() -> None:
    """Synthetic: a UTF-8 page whose CMS had already stored cp1252-decoded UTF-8."""
    body = "Le CHU de Rennes a retenu lâ€™offre de Dedalus pour son dossier patient informatisÃ©, après un appel dâ€™offres."
    html = f"<html lang='fr'><body><article><h1>Dedalus retenu</h1><p>{body}</p></article></body></html>"
    article = extract(html, "https://example.org/a")
    assert article.paragraphs == (
        "Le CHU de Rennes a retenu l’offre de Dedalus pour son dossier patient informatisé, après un appel d’offres.",
    )


def test_a_page_declared_gb2312_but_written_in_utf8_is_utf8() -> None:
    text = "<meta charset=GB2312><p>促进航天技术更好惠及人民</p>"
    assert detect_encoding(text.encode("utf-8")) == "utf-8"
    assert detect_encoding(text.encode("gb2312")) == "gb2312"


PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01\x00"


@pytest.mark.parametrize(
    ("content", "content_type", "reason"),
    [
        (PDF, "application/pdf", "not an HTML page (application/pdf)"),
        (PDF, "text/html; charset=utf-8", "not an HTML page (a PDF file)"),  # mislabelled
        (PNG, None, "not an HTML page (binary content)"),
        (b"<html></html>", "Image/JPEG; q=1", "not an HTML page (image/jpeg)"),
        (b"<html><p>Texte</p></html>", "application/octet-stream", None),
        (b"<html><p>Texte</p></html>", "application/xhtml+xml", None),
        ("<html><p>Éte</p></html>".encode("utf-16-le"), None, None),  # no BOM
        ("<html><p>Éte</p></html>".encode("utf-32"), None, None),
        (codecs.BOM_UTF8 + b"<p>\x1b</p>", None, None),
    ],
)
def test_files_that_are_not_pages_are_told_apart(
    content: bytes, content_type: str | None, reason: str | None
) -> None:
    assert not_a_page(content, content_type) == reason
