"""Fuzzing the paper formats as the document parsers are fuzzed (tests/test_reliability.py): BibTeX exports
and snapshot lines mutated line by line, or random text, ingested on both stores. Only ValueError escapes
(a refused file changes nothing), and what is accepted leaves a graph without structural problems.
``python bench/fuzz.py`` runs these at 2,000 cases each."""
from __future__ import annotations

import json
import re
import tempfile
import unicodedata
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from graph.api import Graph
from tests.test_reliability import FUZZ, Outcomes, mutate_lines, record

DATA = Path(__file__).parent / "data"
BIB_TEXTS = [(DATA / name).read_text(encoding="utf-8") for name in ("zotero_export.bib", "scholar_export.bib")]
BIB_LINES = sorted({line for t in BIB_TEXTS for line in t.splitlines()})
SNAPSHOT_LINES = [json.dumps(x, ensure_ascii=False) for x in (
    {"id": "2401.00001", "title": "A $\\beta$ paper", "authors": "J. M\\\"uller and A. Silva", "categories": "cs.LG",
     "abstract": "Text.", "versions": [{"version": "v1", "created": "Mon, 2 Apr 2007 19:18:42 GMT"}],
     "update_date": "2008-11-13", "doi": "10.1000/x", "journal-ref": None,
     "authors_parsed": [["M\\\"uller", "J.", ""], ["Silva", "A.", ""]]},
    {"id": "hep-th/9901001", "title": "Old style", "authors": "B. Chen", "categories": "hep-th gr-qc",
     "versions": [], "update_date": "1999-01-04", "authors_parsed": [["Chen", "B.", ""]]},
    {"id": "2401.00001v2", "title": "A $\\beta$ paper", "authors": "J. Müller", "categories": "cs.LG stat.ML"},
)]


@st.composite
def paper_files(draw, fmt: str) -> str:
    """A fixture file of ``fmt`` mutated line by line (and perhaps cut short), or random text."""
    if draw(st.integers(0, 5)) == 0:
        return draw(st.text(max_size=300))
    if fmt == "bibtex":
        base = draw(st.sampled_from(BIB_TEXTS)).splitlines()[:draw(st.integers(10, 60))]
        pool = BIB_LINES
    else:
        base = draw(st.lists(st.sampled_from(SNAPSHOT_LINES), min_size=1, max_size=6))
        pool = SNAPSHOT_LINES
    text = "\n".join(mutate_lines(draw, list(base), pool))
    if draw(st.integers(0, 3)) == 0:
        text = text[:draw(st.integers(0, len(text)))]
    return text


@pytest.mark.parametrize("fmt", ["bibtex", "arxiv-snapshot"])
def test_fuzz_paper_formats(store_url, fmt):
    out = Outcomes(Graph(store_url))

    @FUZZ
    @given(text=paper_files(fmt))
    def run(text):
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "fuzz.txt"
            path.write_text(text, encoding="utf-8", errors="surrogatepass")
            out.attempt(lambda: out.g.ingest_papers([path], fmt))

    run()
    assert out.structural_problems() == []
    record("fuzz_papers", backend=out.g.store.dialect, fmt=fmt, **out.counts)


def _normalized_by_regex(title: str) -> str:  # what graph.ids.normalize_title computed before split/join
    return re.sub(r"\s+", " ", unicodedata.normalize("NFKC", title)).strip().lower()


def _surname_by_decomposition(name: str) -> str:  # what graph.papers.surname_key computed for every name before
    text = "".join(c for c in unicodedata.normalize("NFKD", name) if not unicodedata.combining(c)).lower()
    words = re.findall(r"[a-z0-9]+", text)
    return words[-1] if words else ""


@given(text=st.text(alphabet=st.sampled_from(list(" \t\n\r\x0b\x0c\x1c\x1f\x85\xa0\u1680\u2028\u2029\u3000\u200b"
                                                   "aZ9-.ﬁⅫéÜøß\u0301\ufeff"))))
def test_titles_and_surnames_are_keyed_as_before_their_shortcuts(text):
    from graph.ids import normalize_title
    from graph.papers import surname_key

    assert normalize_title(text) == _normalized_by_regex(text)
    assert surname_key(text) == _surname_by_decomposition(text)
    ascii_name = text.encode("ascii", "ignore").decode()
    assert surname_key(ascii_name) == _surname_by_decomposition(ascii_name)
