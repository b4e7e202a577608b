"""Fuzzing the paper formats as the document parsers are fuzzed (tests/test_reliability.py): BibTeX exports
and snapshot lines mutated line by line, or random text, ingested on both stores. Only ValueError escapes
(a refused file changes nothing), and what is accepted leaves a graph without structural problems.
``python bench/fuzz.py`` runs these at 2,000 cases each."""
from __future__ import annotations

import json
import tempfile
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
