"""The extraction benchmark's measuring (benchmarks/extraction.py), on a tiny made-up corpus.

The real corpus and the competitors (requirements/bench.txt) are not needed: the run below
uses watcher's extractor only.
"""

from __future__ import annotations

import gzip
import json
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from benchmarks import extraction as bench

ARTICLE = """<!doctype html><html lang="fr"><head><meta charset="utf-8">
<title>Le CHU de Rennes choisit un nouveau DPI</title>
<meta property="article:published_time" content="2024-03-01T23:30:00+01:00"></head>
<body><nav><a href="/">Accueil</a> <a href="/sante">Santé</a></nav>
<article><h1>Le CHU de Rennes choisit un nouveau DPI</h1>
<p>Le centre hospitalier universitaire de Rennes a retenu un nouveau dossier patient
informatisé, après une consultation lancée l'an dernier auprès de plusieurs éditeurs.</p>
<p>Le déploiement commencera par les services de médecine au printemps, puis la chirurgie
et les urgences suivront, selon la direction des systèmes d'information.</p>
</article><footer>Abonnez-vous à notre newsletter</footer></body></html>"""
BODY = (
    "Le centre hospitalier universitaire de Rennes a retenu un nouveau dossier patient "
    "informatisé, après une consultation lancée l'an dernier auprès de plusieurs éditeurs.\n\n"
    "Le déploiement commencera par les services de médecine au printemps, puis la chirurgie "
    "et les urgences suivront, selon la direction des systèmes d'information."
)
TITLE = "Le CHU de Rennes choisit un nouveau DPI"


def test_tokens_are_lowercase_words_without_invisible_characters() -> None:
    assert bench.tokens("L'Hôpital,  e-Santé!\u00ad 2024 Helikopter\u00adlandeplatz") == [
        "l",
        "hôpital",
        "e",
        "santé",
        "2024",
        "helikopterlandeplatz",
    ]


def test_overlap_counts_tokens_as_a_bag() -> None:
    o = bench.overlap(["a", "a", "b", "c"], ["a", "b", "b", "d"])
    assert (o.common, o.predicted, o.expected) == (2, 4, 4)
    assert o.precision == o.recall == o.f1 == 0.5
    empty = bench.overlap([], ["a"])
    assert (empty.precision, empty.recall, empty.f1) == (0.0, 0.0, 0.0)


def test_contains_sequence_matches_whole_tokens_in_order() -> None:
    text = bench.tokens("The trust now expects to go live in December")
    assert bench.contains_sequence(text, bench.tokens("expects to go"))
    assert not bench.contains_sequence(text, bench.tokens("go expects"))
    assert not bench.contains_sequence(text, bench.tokens("pects to"))
    assert not bench.contains_sequence(text, [])


def test_same_day_in_utc_or_as_written() -> None:
    paris = timezone(timedelta(hours=1))
    late = datetime(2024, 3, 1, 23, 30, tzinfo=paris)  # 22:30 UTC: still 1 March
    assert bench.same_day(datetime(2024, 3, 1, 22, 30, tzinfo=UTC), late)
    early = datetime(2024, 3, 2, 0, 30, tzinfo=paris)  # 23:30 UTC on 1 March
    assert bench.same_day(datetime(2024, 3, 1, 23, 30, tzinfo=UTC), early)
    assert not bench.same_day(datetime(2024, 3, 2, 8, 0, tzinfo=UTC), early)
    # No offset on one side: compared as written.
    assert bench.same_day(date(2024, 3, 2), early)
    assert bench.same_day(datetime(2018, 4, 5, 6, 0), datetime(2018, 4, 5, 1, 0, tzinfo=UTC))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2015-02-24T19:56:33.374Z", datetime(2015, 2, 24, 19, 56, 33, 374000, tzinfo=UTC)),
        ("2021-11-01T10:52:50+0100", datetime(2021, 11, 1, 9, 52, 50, tzinfo=UTC)),
        ("2017-11-03 03:01:00.000000", datetime(2017, 11, 3, 3, 1)),
        ("2024-06-25", date(2024, 6, 25)),
        ("last Tuesday", None),
        (None, None),
    ],
)
def test_parse_when(text: str | None, expected: datetime | date | None) -> None:
    assert bench.parse_when(text) == expected


def test_percentile() -> None:
    assert bench.percentile([5.0], 0.95) == 5.0
    assert bench.percentile([float(v) for v in range(1, 101)], 0.95) == pytest.approx(95.05)


def _page(truth: bench.Truth) -> bench.Page:
    return bench.Page("test", "p", "https://example.org/a", b"", truth)


def _scores(truth: bench.Truth, output: bench.Output) -> bench.Scores:
    extractor = bench.Extractor("x", "0", lambda page: output, True, True, True)
    return bench.score(_page(truth), extractor, output)


def test_the_timed_pass_interleaves_the_extractors_page_by_page() -> None:
    """A machine that slows down mid-run must weigh on every extractor alike."""
    calls: list[tuple[str, str]] = []

    def extractor(name: str) -> bench.Extractor:
        def run(page: bench.Page) -> bench.Output:
            calls.append((name, page.id))
            return bench.Output("")

        return bench.Extractor(name, "0", run, True, True, True)

    pages = [
        bench.Page("test", f"p{n}", "https://example.org/a", b"", bench.Truth("full"))
        for n in range(3)
    ]
    results = bench.run_extractors([extractor("a"), extractor("b")], pages)
    warm_up, timed = calls[:6], calls[6:]
    assert warm_up == [("a", "p0"), ("a", "p1"), ("a", "p2"), ("b", "p0"), ("b", "p1"), ("b", "p2")]
    assert timed == [("a", "p0"), ("b", "p0"), ("b", "p1"), ("a", "p1"), ("a", "p2"), ("b", "p2")]
    assert [r.page.id for r in results["b"]] == ["p0", "p1", "p2"]


def test_score_full_prefix_and_snippets() -> None:
    full = _scores(bench.Truth("full", body="one two three four"), bench.Output("two three five"))
    assert full.precision == pytest.approx(2 / 3)
    assert full.recall == 0.5
    assert full.body == full.f1

    prefix = _scores(bench.Truth("prefix", body="one two"), bench.Output("zero one two three"))
    assert (prefix.precision, prefix.prefix_recall, prefix.prefix_found) == (None, 1.0, True)
    shuffled = _scores(bench.Truth("prefix", body="one two"), bench.Output("two and one"))
    assert (shuffled.prefix_recall, shuffled.prefix_found) == (1.0, False)
    no_truth = _scores(bench.Truth("prefix", body=" "), bench.Output("anything"))
    assert no_truth.body is None

    truth = bench.Truth(
        "snippets", must_contain=("the  start", "The end."), must_not_contain=("Impressum",)
    )
    checks = _scores(truth, bench.Output("The start\nof it. the end."))
    assert (checks.contain_passed, checks.contain_total) == (0, 2)  # case counts
    assert (checks.exclude_passed, checks.exclude_total) == (1, 1)
    assert checks.body == pytest.approx(1 / 3)


def test_score_metadata() -> None:
    truth = bench.Truth(
        "full", body="x", title="A  title", published="2024-03-01T23:30:00+01:00", language="fr"
    )
    right = bench.Output("x", "A title", datetime(2024, 3, 1, 22, 30, tzinfo=UTC), "fr-FR")
    assert (s := _scores(truth, right)).title_ok and s.date_ok and s.language_ok
    wrong = bench.Output("x", "a title", "2024-03-03", "en")
    assert (s := _scores(truth, wrong)).title_ok is False and s.date_ok is False
    assert s.language_ok is False
    assert _scores(bench.Truth("full", body="x"), wrong).date_ok is None


def _write_corpus(root: Path) -> Path:
    """One page per set, laid out as in ../shared/corpus (same article everywhere)."""
    articles = root / "articles"
    rows: list[dict[str, Any]] = []

    def add(set_name: str, files: dict[str, str | dict[str, Any]], url: str | None) -> None:
        folder = articles / set_name / "case"
        folder.mkdir(parents=True)
        page = "source.html.gz" if set_name == "readability" else "page.html.gz"
        (folder / page).write_bytes(gzip.compress(ARTICLE.encode("utf-8")))
        for name, content in files.items():
            data = content if isinstance(content, str) else json.dumps(content)
            (folder / name).write_text(data, encoding="utf-8")
        rows.append(
            {
                "set": set_name,
                "id": "case",
                "path": f"articles/{set_name}/case/",
                "url": url,
                "lang_primary": "fr",
            }
        )

    url = "https://example.org/rennes"
    published = "2024-03-01T23:30:00+01:00"
    add(
        "fundus",
        {
            "expected.json": {"expected": {"title": TITLE, "publishing_date": published}},
            "expected_body.txt": BODY,
        },
        url,
    )
    add(
        "readability",
        {"expected.txt": BODY, "expected-metadata.json": {"title": TITLE, "publishedTime": None}},
        None,
    )
    add("newspaper4k", {"expected.txt": BODY}, url)
    add("goose3", {"expected.json": {"expected": {"cleaned_text": BODY[:60]}}}, url)
    first_words = {"title": TITLE, "date_published": published, "content_first_words": "Le centre"}
    add("postlight", {"expected.json": {"expected": first_words}}, url)
    snippets = {"with": ["systèmes d'information"], "without": ["Abonnez-vous", "Accueil"]}
    add("trafilatura", {"expected.json": snippets}, None)
    with (articles / "index.jsonl").open("w", encoding="utf-8") as index:
        for row in rows:
            index.write(json.dumps(row) + "\n")
    return root


def test_run_on_a_tiny_corpus(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    corpus = _write_corpus(tmp_path / "corpus")
    monkeypatch.setenv("WATCHER_CORPUS", str(corpus))
    out_json = tmp_path / "result.json"
    argv = ["--extractor", "watcher", "--failures", "3", "--json", str(out_json)]
    argv += ["--dump", str(tmp_path / "dump")]
    assert bench.main(argv) == 0
    printed = capsys.readouterr().out
    assert "6 pages" in printed
    assert "Body, full ground truth" in printed and "Body, snippet checks" in printed
    assert "Worst 3 watcher pages" in printed
    data = json.loads(out_json.read_text(encoding="utf-8"))
    fundus = data["summary"]["fundus"]["watcher"]
    assert fundus["f1"] == pytest.approx(1.0)
    assert (fundus["title"], fundus["date"], fundus["language"]) == (1.0, 1.0, 1.0)
    assert data["summary"]["trafilatura"]["watcher"]["exclude_rate"] == 1.0
    assert (tmp_path / "dump" / "watcher" / "goose3" / "case.txt").is_file()
    # Watcher alone: the only target left is the 1 s per page, met here.
    assert bench.main(["--extractor", "watcher", "--set", "goose3", "--check"]) == 0


def test_missing_corpus_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert bench.main(["--corpus", str(tmp_path), "--extractor", "watcher"]) == 2
    assert "index.jsonl" in capsys.readouterr().err


def test_check_fails_when_watcher_misses_a_target(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    corpus = _write_corpus(tmp_path / "corpus")
    real = bench.make_extractor

    def fake(name: str) -> bench.Extractor:
        if name != "trafilatura":
            return real(name)
        # A stand-in that is perfect and instantaneous: watcher cannot be 10 times faster.
        return bench.Extractor(
            name, "0", lambda page: bench.Output(BODY, TITLE), True, False, False
        )

    monkeypatch.setattr(bench, "make_extractor", fake)
    argv = ["--corpus", str(corpus), "--extractor", "watcher", "--extractor", "trafilatura"]
    assert bench.main(argv) == 0  # a report
    assert bench.main([*argv, "--check"]) == 1
    captured = capsys.readouterr()
    assert "MISSED  median time" in captured.out
    assert "median time" in captured.err


def test_html_to_text_separates_blocks_not_inline_tags() -> None:
    pytest.importorskip("lxml")
    text = bench.html_to_text(
        "<div><h2>Titre</h2><p>La commission europ<b>éenne</b> valide.<!-- x --></p>"
        "<ul><li>un</li><li>deux</li></ul>fin</div>"
    )
    assert text == "Titre\nLa commission européenne valide.\nun\ndeux\nfin"
    assert bench.html_to_text("  ") == ""
