"""Papers from where they live: arXiv ids and DOIs, BibTeX exports (Zotero, Google Scholar), the arXiv
metadata snapshot, and `findings add paper --arxiv` against a local server that answers in the API's Atom format.

Every source goes through one dedupe (arXiv id, then DOI, then title and first author); a second ingest of the
same file adds nothing and writes nothing."""
from __future__ import annotations

import json
import signal
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from typer.testing import CliRunner

from app.cli import app
from graph import backup
from graph.api import Graph
from graph.arxiv import fetch_paper, parse_feed
from graph.identifiers import normalize_arxiv_id, normalize_doi, split_arxiv_id
from graph.ingest import IngestReport
from graph.papers import ingest_records
from graph.parsers import arxiv_snapshot
from graph.parsers.arxiv_snapshot import iter_snapshot, stream_snapshot
from graph.parsers.bibtex import parse_bibtex

DATA = Path(__file__).parent / "data"
ZOTERO, SCHOLAR = DATA / "zotero_export.bib", DATA / "scholar_export.bib"
SEED_PAPER = "paper:addressing-divergent-representations-from-causal-interventions-on-neural-networks"
runner = CliRunner()


def paper_ids(g: Graph) -> list[str]:
    return [n.id for n in g.nodes(kind="paper")]


def identifiers(g: Graph, node_id: str) -> dict[str, str]:
    with g.store.read() as tx:
        return tx.identifiers_of([node_id]).get(node_id, {})


def log_size(g: Graph) -> int:
    with g.store.read() as tx:
        return tx.table_counts()["writes"]


# ---- identifiers ----------------------------------------------------------------------------------
@pytest.mark.parametrize("text, expected", [
    ("2401.01234", ("2401.01234", None)), ("2401.01234v2", ("2401.01234", 2)),
    ("arXiv:0704.0001v1", ("0704.0001", 1)), ("https://arxiv.org/abs/2303.02536v4", ("2303.02536", 4)),
    ("http://arxiv.org/pdf/2303.02536.pdf", ("2303.02536", None)),
    ("hep-th/9901001", ("hep-th/9901001", None)), ("hep-th/9901001v3", ("hep-th/9901001", 3)),
    ("math.ag/0601001", ("math.AG/0601001", None)), ("cond-mat/0408187v2", ("cond-mat/0408187", 2)),
])
def test_arxiv_ids_new_and_old_style_lose_their_version(text, expected):
    assert split_arxiv_id(text) == expected


@pytest.mark.parametrize("text", ["", "2401.123", "hep-th/990100", "12345.6789", "arXiv", "10.1000/xyz", None,
                                  2401.01234])
def test_what_is_not_an_arxiv_id(text):
    assert normalize_arxiv_id(text) is None


def test_dois_are_compared_without_resolver_or_case():
    assert normalize_doi("https://doi.org/10.18653/V1/P19-1452") == "10.18653/v1/p19-1452"
    assert normalize_doi("doi:10.1162/coli_a_00422.") == "10.1162/coli_a_00422"
    assert normalize_doi("not a doi") is None and normalize_doi("11.1000/x") is None


# ---- BibTeX -----------------------------------------------------------------------------------------
def test_zotero_then_scholar_exports_give_each_paper_once(tmp_path):
    g = Graph(str(tmp_path / "b.db"))
    first = g.ingest_papers([ZOTERO], "bibtex")
    assert first.warnings == ["zotero_export.bib line 224 (@misc{noauthor_2024}): no title; entry skipped"]
    assert len(paper_ids(g)) == 38
    second = g.ingest_papers([SCHOLAR], "bibtex")  # 25 entries, 13 of them papers the Zotero file holds
    assert len(paper_ids(g)) == 50 and second.warnings == []
    again_before = (g.stats(), log_size(g))
    again = g.ingest_papers([ZOTERO, SCHOLAR], "bibtex")
    assert (again.nodes_added, again.nodes_updated, again.edges_added) == (0, 0, 0)
    assert (g.stats(), log_size(g)) == again_before  # nothing written, nothing logged

    tenney = g.show("paper:bert-rediscovers-the-classical-nlp-pipeline")
    assert tenney["attrs"]["doi"] == "10.18653/v1/p19-1452" and tenney["attrs"]["arxiv_id"] == "1905.05950"
    assert tenney["attrs"]["year"] == 2019 and tenney["attrs"]["month"] == 7
    assert [e["node"]["title"] for e in tenney["edges"] if e["type"] == "authored_by"] == \
        ["Ian Tenney", "Dipanjan Das", "Ellie Pavlick"]
    assert identifiers(g, tenney["id"]) == {"arxiv": "1905.05950", "doi": "10.18653/v1/p19-1452"}
    titles = {n.title for n in g.nodes(kind="paper")}
    assert "“Why Should I Trust You?”: Explaining the Predictions of Any Classifier" in titles
    authors = {n.title for n in g.nodes(kind="author")}
    assert {"Adrià Garriga-Alonso", "Fernanda Viégas", "Łukasz Kaiser"} <= authors
    # a Scholar entry (lower-case title, "arXiv preprint" journal, "and others") met a Zotero one by its arXiv id
    ravel = g.show("paper:ravel-evaluating-interpretability-methods-on-disentangling-language-model-representations")
    assert ravel["attrs"]["arxiv_id"] == "2402.17700"
    assert len([e for e in ravel["edges"] if e["type"] == "authored_by"]) == 5  # Zotero's five, not Scholar's three


def test_bibtex_latex_names_eprint_and_faults():
    text = r"""
@misc{geiger2023,
  title={Finding Alignments Between Interpretable Causal Variables and Distributed Neural Representations},
  author={Atticus Geiger and Zhengxuan Wu and {Stanford NLP Group}},
  year={2023}, eprint={2303.02536v2}, archivePrefix={arXiv}, primaryClass={cs.AI}
}
@article{muller, title = {{{BERT}} and {\"O}zt{\"u}rk's $\beta$-probe},
  author = {M{\"u}ller, J{\"o}rg and Pav\'{e}l, Ana}, journal = {Computational Linguistics},
  doi = {https://doi.org/10.1000/ABC}, date = {2021-05-03}}
@article{muller, title = {The same key again}, year = 2020}
@article{broken, title = {Unclosed
@book{notitle, author = {Nobody, A.}, year = {around 2000}}
"""
    records, warnings = parse_bibtex(text, "refs.bib")
    by_title = {r.title: r for r in records}
    geiger = by_title["Finding Alignments Between Interpretable Causal Variables and Distributed Neural "
                      "Representations"]
    assert (geiger.arxiv_id, geiger.categories) == ("2303.02536", ["cs.AI"])
    assert geiger.authors == ["Atticus Geiger", "Zhengxuan Wu", "Stanford NLP Group"]
    muller = by_title["BERT and Öztürk's β-probe"]
    assert muller.authors == ["Jörg Müller", "Ana Pavél"] and muller.doi == "10.1000/abc"
    assert (muller.attrs["published"], muller.attrs["year"], muller.attrs["venue"]) == \
        ("2021-05-03", 2021, "Computational Linguistics")
    assert len(records) == 2
    assert "refs.bib line 10: duplicate key 'muller'; the second entry was left out" in warnings
    assert "refs.bib line 11: could not read this BibTeX block; left out" in warnings
    assert any("could not read the year 'around 2000'" in w for w in warnings)
    assert any("(@book{notitle}): no title" in w for w in warnings)


def test_a_file_without_entries_is_refused_and_nothing_changes(tmp_path):
    g = Graph(str(tmp_path / "b.db"))
    g.ingest_papers([SCHOLAR], "bibtex")
    before = backup.fingerprint(g)
    bad = tmp_path / "notes.bib"
    bad.write_text("just some notes, no @entries here\n", encoding="utf-8")
    result = runner.invoke(app, ["--db", str(tmp_path / "b.db"), "ingest", str(bad), "--format", "bibtex"])
    assert result.exit_code == 1 and result.stdout == ""
    assert result.stderr.strip() == "error: notes.bib: no BibTeX entries found"
    assert backup.fingerprint(g) == before


# ---- the arXiv metadata snapshot ----------------------------------------------------------------------
def snapshot_obj(arxiv_id: str, title: str, **extra) -> dict:
    return {"id": arxiv_id, "submitter": "A", "authors": "Jörg Müller, Ana Silva and B. Chen", "title": title,
            "comments": None, "journal-ref": None, "doi": None, "report-no": None, "categories": "cs.LG cs.CL",
            "license": None, "abstract": "  An abstract\n  on two lines.\n",
            "versions": [{"version": "v1", "created": "Mon, 2 Apr 2007 19:18:42 GMT"}],
            "update_date": "2008-11-13",
            "authors_parsed": [["M\\\"uller", "J\\\"org", ""], ["Silva", "Ana", ""], ["Chen", "B.", "Jr"]], **extra}


def write_lines(path: Path, lines: list) -> Path:
    path.write_text("\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines) + "\n", encoding="utf-8")
    return path


def test_snapshot_lines_become_papers_and_bad_lines_warnings(tmp_path):
    snap = write_lines(tmp_path / "snap.jsonl", [
        snapshot_obj("0704.0001", "Calculation of $\\beta$ decays", doi="10.1103/PhysRevD.76.013009 10.1000/other",
                     **{"journal-ref": "Phys.Rev.D76:013009,2007"}),
        '{"id": "0704.0002", "title": "cut sh',
        "",
        snapshot_obj("hep-th/9901001", "An old-style paper"),
        ["not", "an", "object"],
        {"title": "no id"},
        snapshot_obj("0704.0003", "Bad authors", authors_parsed="oops"),
        snapshot_obj("0704.0001", "Calculation of $\\beta$ decays",
                     versions=[{"version": "v1", "created": "Mon, 2 Apr 2007 19:18:42 GMT"},
                               {"version": "v2", "created": "Tue, 24 Jul 2007 20:10:27 GMT"}]),
    ])
    g = Graph(str(tmp_path / "s.db"))
    report = g.ingest_papers([snap], "arxiv-snapshot")
    assert [w.split(":")[0] for w in report.warnings] == \
        ["snap.jsonl line 2", "snap.jsonl line 5", "snap.jsonl line 6", "snap.jsonl line 7"]
    assert len(paper_ids(g)) == 2  # line 8 repeats line 1
    (p,) = [g.show(n.id) for n in g.nodes(kind="paper") if n.title.startswith("Calculation")]
    assert p["title"] == "Calculation of β decays" and p["description"] == "An abstract on two lines."
    expected = {"arxiv_id": "0704.0001", "doi": "10.1103/physrevd.76.013009", "published": "2007-04-02",
                "updated": "2008-11-13", "year": 2007, "journal_ref": "Phys.Rev.D76:013009,2007", "arxiv_version": 1}
    assert {k: p["attrs"].get(k) for k in expected} == expected
    edges = [(e["type"], e["node"]["title"]) for e in p["edges"]]
    assert edges == [("authored_by", "Jörg Müller"), ("authored_by", "Ana Silva"), ("authored_by", "B. Chen, Jr"),
                     ("in_category", "cs.LG"), ("in_category", "cs.CL")]
    old = [n for n in g.nodes(kind="paper") if n.title == "An old-style paper"][0]
    assert identifiers(g, old.id) == {"arxiv": "hep-th/9901001"}
    before = (g.stats(), log_size(g))
    again = g.ingest_papers([snap], "arxiv-snapshot")
    assert (again.nodes_added, again.edges_added, again.nodes_updated) == (0, 0, 0)
    assert (g.stats(), log_size(g)) == before


def test_snapshot_batches_each_commit_and_give_the_same_graph(tmp_path):
    lines = [snapshot_obj(f"2401.{i:05d}", f"Paper number {i}", categories="cs.LG") for i in range(1, 8)]
    snap = write_lines(tmp_path / "snap.jsonl", lines)
    small, whole = Graph(str(tmp_path / "small.db"), user="u"), Graph(str(tmp_path / "whole.db"), user="u")
    report = IngestReport()
    ingest_records(small.store, iter_snapshot(snap), {"document": "snap.jsonl"}, report, batch_size=3)
    whole.ingest_papers([snap], "arxiv-snapshot")
    assert small.stats() == whole.stats() == {"nodes": {"author": 3, "category": 1, "paper": 7},
                                              "edges": {"authored_by": 21, "in_category": 7}}
    with small.store.read() as tx:  # three batches: three loads of papers
        bulk = [w for w in tx.writes(limit=1000) if w.action == "bulk.load" and w.details.get("nodes")]
    assert [w.details["nodes"] for w in reversed(bulk)][:1] == [3]


def test_findings_ingest_batch_sets_the_records_per_transaction_and_a_bad_value_changes_nothing(tmp_path,
                                                                                                 monkeypatch):
    lines = [snapshot_obj(f"2401.{i:05d}", f"Paper number {i}", categories="cs.LG") for i in range(1, 8)]
    snap = write_lines(tmp_path / "snap.jsonl", lines)
    db = str(tmp_path / "b.db")
    for bad in ("0", "-5", "many", "2.5"):
        monkeypatch.setenv("FINDINGS_INGEST_BATCH", bad)
        result = runner.invoke(app, ["--db", db, "ingest", str(snap), "--format", "arxiv-snapshot"])
        assert result.exit_code == 1 and result.stdout == ""
        assert result.stderr.strip() == ("error: FINDINGS_INGEST_BATCH must be a positive whole number of "
                                         f"records, not {bad!r}")
    assert Graph(db).stats() == {"nodes": {}, "edges": {}}
    monkeypatch.setenv("FINDINGS_INGEST_BATCH", "3")
    result = runner.invoke(app, ["--db", db, "ingest", str(snap), "--format", "arxiv-snapshot"])
    assert result.exit_code == 0, result.output
    with Graph(db).store.read() as tx:  # 7 records in batches of 3: papers 3 (+ 3 authors, 1 category), 3, 1
        loads = [w.details["nodes"] for w in reversed(tx.writes(limit=1000))
                 if w.action == "bulk.load" and w.details.get("nodes")]
    assert loads == [3, 4, 3, 1]


def test_a_file_that_is_not_a_snapshot_is_refused(tmp_path):
    g = Graph(str(tmp_path / "s.db"))
    before = backup.fingerprint(g)
    with pytest.raises(ValueError, match=r"not an arXiv metadata snapshot \(line 1 is not a JSON object\)"):
        g.ingest_papers([ZOTERO], "arxiv-snapshot")
    assert backup.fingerprint(g) == before



def test_a_snapshot_parsed_in_a_second_process_gives_the_same_stream_and_graph(tmp_path, monkeypatch):
    """A large file is parsed by a child process while the writer writes: the same (record, warnings)
    pairs in the same order, across several of its chunks, and the same graph."""
    monkeypatch.setattr(arxiv_snapshot, "CHUNK", 4)
    lines = [snapshot_obj(f"2401.{i:05d}", f"Paper $\\beta$ {i}", categories="cs.LG math.ST") for i in range(1, 12)]
    snap = write_lines(tmp_path / "snap.jsonl", lines[:5] + ['{"id": "2401.99999", "title": "cut'] + lines[5:])
    assert list(stream_snapshot(snap, parallel=True)) == list(iter_snapshot(snap))
    monkeypatch.setattr(arxiv_snapshot, "PARALLEL_MIN_BYTES", 0)  # ingest_papers now takes the parallel path
    here = Graph(str(tmp_path / "here.db"), user="u")
    report = IngestReport()
    ingest_records(here.store, iter_snapshot(snap), {"document": "snap.jsonl", "format": "arxiv-snapshot"}, report)
    there = Graph(str(tmp_path / "there.db"), user="u")
    parallel = there.ingest_papers([snap], "arxiv-snapshot")
    assert (parallel.nodes_added, parallel.edges_added, parallel.warnings) == \
        (report.nodes_added, report.edges_added, report.warnings)
    assert (parallel.nodes_added, parallel.edges_added) == (16, 55)
    assert len(parallel.warnings) == 1 and here.stats() == there.stats()


def test_a_parallel_parse_refuses_a_file_that_is_not_a_snapshot_and_stops_when_closed_early(tmp_path):
    # a SIGTERM handler that does nothing, as libraries loaded by earlier tests may install: the forked
    # parser must still stop when the stream is closed (it failed here once, with the suite's handlers)
    previous = signal.signal(signal.SIGTERM, lambda *_: None)
    try:
        _parallel_parse_refuses_and_stops(tmp_path)
    finally:
        signal.signal(signal.SIGTERM, previous)


def _parallel_parse_refuses_and_stops(tmp_path):
    with pytest.raises(ValueError, match=r"not an arXiv metadata snapshot \(line 1 is not a JSON object\)"):
        next(stream_snapshot(ZOTERO, parallel=True))
    snap = write_lines(tmp_path / "snap.jsonl", [snapshot_obj(f"2401.{i:05d}", f"P {i}") for i in range(1, 5000)])
    stream = stream_snapshot(snap, parallel=True)
    assert next(stream)[0].arxiv_id == "2401.00001"
    import multiprocessing

    (child,) = multiprocessing.active_children()
    assert child.name == "snapshot-parser"
    stream.close()  # what a failed batch does to the stream: the parsing process goes
    assert multiprocessing.active_children() == []
    assert child.exitcode == -signal.SIGTERM  # stopped by SIGTERM, not by the SIGKILL that follows a refusal

# ---- one dedupe across sources --------------------------------------------------------------------------
def test_a_doi_recognises_a_paper_under_another_title(tmp_path):
    g = Graph(str(tmp_path / "d.db"))
    g.ingest_papers([write_lines(tmp_path / "s.jsonl", [snapshot_obj("2401.00001", "A preprint title",
                                                                     doi="10.1000/XYZ")])], "arxiv-snapshot")
    bib = tmp_path / "r.bib"
    bib.write_text("@article{x, title={The journal title}, author={Nobody, Else}, doi={10.1000/xyz}, year=2025}\n",
                   encoding="utf-8")
    report = g.ingest_papers([bib], "bibtex")
    (paper,) = g.nodes(kind="paper")
    assert paper.title == "A preprint title"
    assert report.nodes_added == 0 and report.nodes_updated == 1 and paper.attrs["bibtex_key"] == "x"
    assert len(g.nodes(kind="author")) == 3  # the stored paper keeps its own authors


def test_same_title_with_another_first_author_is_another_paper(tmp_path):
    g = Graph(str(tmp_path / "t.db"))
    bib = tmp_path / "r.bib"
    bib.write_text("@article{a, title={Attention}, author={Smith, Ann}, year=2020}\n"
                   "@article{b, title={Attention}, author={Jones, Bo}, year=2021}\n"
                   "@article{c, title={ATTENTION}, author={A. Smith and C. Doe}, year=2020}\n", encoding="utf-8")
    g.ingest_papers([bib], "bibtex")
    assert len(g.nodes(kind="paper")) == 2


def test_a_merged_paper_s_identifier_leads_to_the_paper_it_was_merged_into(tmp_path):
    from graph import curation

    g = Graph(str(tmp_path / "m.db"))
    g.ingest_papers([write_lines(tmp_path / "s.jsonl", [snapshot_obj("2401.00001", "First copy"),
                                                        snapshot_obj("2401.00002", "Second copy")])],
                    "arxiv-snapshot")
    keep, dup = sorted(paper_ids(g))
    curation.merge(g, keep, dup)
    bib = tmp_path / "r.bib"
    bib.write_text("@misc{x, title={Second copy}, eprint={2401.00002}, archivePrefix={arXiv}, "
                   "note={a note}, abstract={filled}}\n", encoding="utf-8")
    report = g.ingest_papers([bib], "bibtex")
    assert report.nodes_added == 0 and g.get(keep).attrs["bibtex_key"] == "x"


# ---- findings add paper --arxiv ---------------------------------------------------------------------------
ANSWERS = {"2511.04638": "arxiv_2511.04638.atom.xml", "hep-th/9901001": "arxiv_hep-th_9901001.atom.xml",
           "1234.12345": "arxiv_error.atom.xml", "2401.99999": "arxiv_empty.atom.xml"}


@pytest.fixture
def arxiv_server(monkeypatch):
    """A server on 127.0.0.1 that answers ``query?id_list=ID`` with the Atom file written for that id."""
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's name
            wanted = parse_qs(urlsplit(self.path).query).get("id_list", [""])[0]
            seen.append(wanted)
            body = (DATA / ANSWERS[wanted]).read_bytes() if wanted in ANSWERS else b"not found"
            self.send_response(200 if wanted in ANSWERS else 404)
            self.send_header("Content-Type", "application/atom+xml")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("FINDINGS_ARXIV_API", f"http://127.0.0.1:{server.server_address[1]}/api/query")
    yield seen
    server.shutdown()
    server.server_close()


def test_add_paper_arxiv_fills_the_seed_paper_and_never_duplicates_it(seeded_db, arxiv_server):
    g = Graph(str(seeded_db))
    papers_before = len(paper_ids(g))
    result = runner.invoke(app, ["--user", "alice", "add", "paper", "--arxiv", "arXiv:2511.04638v1"])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == SEED_PAPER and "filled in" in result.stderr
    assert arxiv_server == ["2511.04638"]  # asked without the version
    paper = g.show(SEED_PAPER)
    assert paper["attrs"]["doi"] == "10.48550/arxiv.2511.04638" and paper["attrs"]["published"] == "2025-11-06"
    assert paper["attrs"]["arxiv_version"] == 2 and paper["attrs"]["year"] == 2025  # the seed's year kept
    cats = sorted(e["node"]["title"] for e in paper["edges"] if e["type"] == "in_category")
    assert "cs.LG" in cats and "cs.AI" in cats and "I.2.6" not in cats
    assert len([e for e in paper["edges"] if e["type"] == "authored_by"]) == 4  # the seed's four, not eight
    assert len(paper_ids(g)) == papers_before
    assert identifiers(g, SEED_PAPER) == {"arxiv": "2511.04638", "doi": "10.48550/arxiv.2511.04638"}
    assert [w.user for w in g.log(node=SEED_PAPER, limit=1)] == ["alice"]
    before = (g.stats(), log_size(g))
    again = runner.invoke(app, ["add", "paper", "--arxiv", "2511.04638"])
    assert again.exit_code == 0 and again.stdout.strip() == SEED_PAPER and "nothing to add" in again.stderr
    assert (g.stats(), log_size(g)) == before


def test_add_paper_arxiv_old_style_id(tmp_path, arxiv_server):
    result = runner.invoke(app, ["add", "paper", "--arxiv", "hep-th/9901001v3"])
    assert result.exit_code == 0, result.output
    g = Graph(str(tmp_path / "findings.db"))
    paper = g.show(result.stdout.strip())
    assert paper["title"] == "A Fixture Entry with an Old-Style Identifier"
    assert paper["attrs"]["arxiv_id"] == "hep-th/9901001" and paper["attrs"]["arxiv_version"] == 3
    assert paper["attrs"]["journal_ref"] == "Fixture Phys. Lett. B 450 (1999) 1-10"
    assert [(e["type"], e["node"]["title"]) for e in paper["edges"]] == [
        ("authored_by", "Jörg Müller"), ("authored_by", "Ana P. Silva"), ("in_category", "hep-th"),
        ("in_category", "gr-qc")]
    assert paper["source"] == {"arxiv": "hep-th/9901001", "user": g.store.user}


@pytest.mark.parametrize("arxiv_id, message", [
    ("1234.12345", "error: the arXiv API refused the id '1234.12345': incorrect id format for 1234.12345"),
    ("2401.99999", "error: arXiv has no paper with the id '2401.99999'"),
    ("2401.88888", "error: the arXiv API at 127.0.0.1:"),
    ("not-an-id", "error: not an arXiv id: 'not-an-id'"),
])
def test_add_paper_arxiv_errors_change_nothing(seeded_db, arxiv_server, arxiv_id, message):
    g = Graph(str(seeded_db))
    before = backup.fingerprint(g)
    result = runner.invoke(app, ["add", "paper", "--arxiv", arxiv_id])
    assert result.exit_code == 1 and result.stdout == ""
    assert result.stderr.startswith(message) and result.stderr.count("\n") == 1
    assert backup.fingerprint(g) == before


def test_offline_is_one_line_naming_the_network_problem(seeded_db, monkeypatch):
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("FINDINGS_ARXIV_API", f"http://127.0.0.1:{port}/api/query")
    g = Graph(str(seeded_db))
    before = backup.fingerprint(g)
    result = runner.invoke(app, ["add", "paper", "--arxiv", "2511.04638"])
    assert result.exit_code == 1 and result.stdout == ""
    assert result.stderr == (f"error: could not reach the arXiv API at 127.0.0.1:{port}: [Errno 111] Connection "
                             "refused; nothing was changed\n")
    assert backup.fingerprint(g) == before


def test_arxiv_takes_no_other_fields_and_the_fetcher_is_injectable(seeded_db):
    result = runner.invoke(app, ["add", "paper", "--arxiv", "2511.04638", "--title", "x"])
    assert result.exit_code == 1 and "give it alone" in result.stderr
    rec = fetch_paper("2511.04638v9", fetch=lambda url: (DATA / ANSWERS["2511.04638"]).read_bytes())
    assert rec.arxiv_id == "2511.04638" and rec.authors[0] == "Satchel Grant"
    with pytest.raises(ValueError, match="not an Atom feed"):
        parse_feed(b"<html>", "2511.04638")


def test_auto_reads_bib_and_jsonl_files_by_their_suffix(tmp_path):
    snap = write_lines(tmp_path / "snap.jsonl", [snapshot_obj("2401.00001", "A snapshot paper")])
    seed_doc = Path(__file__).parent.parent / "seeds" / "002_3391b5c7fdc478f8.txt"
    result = runner.invoke(app, ["ingest", str(SCHOLAR), str(snap), str(seed_doc), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["files"] == ["002_3391b5c7fdc478f8.txt", "scholar_export.bib", "snap.jsonl"]
    g = Graph(str(tmp_path / "findings.db"))
    titles = {n.title for n in g.nodes(kind="paper")}
    assert {"A snapshot paper", "How to use and interpret activation patching"} <= titles


def test_ingest_and_add_paper_arxiv_import_no_torch(tmp_path, arxiv_server):
    import os
    import subprocess
    import sys

    code = (
        "import sys; from app.cli import main\n"
        f"for argv in (['ingest', {str(SCHOLAR)!r}, '--format', 'bibtex'],\n"
        "             ['add', 'paper', '--arxiv', '2511.04638']):\n"
        "    sys.argv = ['findings', *argv]\n"
        "    try:\n        main()\n    except SystemExit as exc:\n        assert not exc.code, exc.code\n"
        "heavy = [m for m in ('torch', 'transformers', 'sentence_transformers') if m in sys.modules]\n"
        "print('HEAVY', heavy, file=sys.stderr)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=Path(__file__).parent.parent, env={**os.environ, "FINDINGS_DB": str(tmp_path / "x.db")})
    assert "HEAVY []" in proc.stderr, proc.stderr
    assert arxiv_server == ["2511.04638"]


def test_two_records_of_one_stored_paper_in_a_batch_fill_it_once(tmp_path):
    g = Graph(str(tmp_path / "o.db"))
    g.add_node({"kind": "paper", "title": "Stored", "attrs": {"arxiv_id": "2401.00001", "doi": "10.1000/s"}})
    bib = tmp_path / "r.bib"
    bib.write_text("@misc{a, title={Preprint title}, author={Ann Smith and Bo Jones}, eprint={2401.00001},"
                   " archivePrefix={arXiv}, year=2024}\n"
                   "@article{b, title={Journal title}, author={Cy Doe}, doi={10.1000/S}, journal={J}, month=may,"
                   " year=2025}\n", encoding="utf-8")
    report = g.ingest_papers([bib], "bibtex")
    (paper,) = g.nodes(kind="paper")
    shown = g.show(paper.id)
    assert [e["node"]["title"] for e in shown["edges"] if e["type"] == "authored_by"] == ["Ann Smith", "Bo Jones"]
    assert {k: shown["attrs"][k] for k in ("bibtex_key", "year", "venue", "month")} == \
        {"bibtex_key": "a", "year": 2024, "venue": "J", "month": 5}
    assert report.nodes_added == 2 and report.nodes_updated == 2  # two authors; the paper filled twice


def test_a_batch_merges_its_repeats_without_changing_the_callers_records(tmp_path):
    from graph.papers import PaperRecord, upsert_papers

    first = PaperRecord("A paper", ["Ann Smith"], categories=["cs.LG"], arxiv_id="2401.00001")
    again = PaperRecord("A paper", ["Ann Smith"], "Its abstract", ["cs.CL"], "2401.00001", "10.1000/a",
                        {"year": 2024})
    g = Graph(str(tmp_path / "m.db"))
    ((pid, new),) = g.store.run_in_transaction(lambda tx: upsert_papers(tx, [first, again], {}, IngestReport()))
    assert new and (first.doi, first.abstract, first.categories, first.attrs) == (None, "", ["cs.LG"], {})
    assert again.categories == ["cs.CL"] and again.attrs == {"year": 2024}
    shown = g.show(pid)  # the paper has what both records gave
    assert shown["description"] == "Its abstract" and shown["attrs"]["doi"] == "10.1000/a"
    assert [e["node"]["title"] for e in shown["edges"] if e["type"] == "in_category"] == ["cs.LG", "cs.CL"]


# ---- papers from text (the app's Ingest form) -----------------------------------------------------
@pytest.mark.parametrize("name, text, expected", [
    ("refs.bib", None, "bibtex"), ("REFS.BIBTEX", "Finding: x", "bibtex"), ("snap.jsonl", None, "arxiv-snapshot"),
    ("pasted text", "@article{a, title={T}}", "bibtex"),
    ("pasted text", "% exported by Zotero\n\n  @misc( b, title = {T} )", "bibtex"),
    ("pasted text", "Finding: CL reaches 0.99 IIA @ layer 3", None), ("notes.txt", None, None),
    ("pasted text", "email me @home{", None),
])
def test_paper_format_by_name_or_by_how_a_text_opens(name, text, expected):
    from graph.papers import paper_format

    assert paper_format(name, text) == expected


def _shape(g: Graph) -> tuple:
    with g.store.read() as tx:
        counts = tx.table_counts()
    return sorted(n.id for n in g.nodes(limit=10_000)), counts


def test_paper_texts_ingest_as_their_files_do_and_the_page_cache_is_given_back(tmp_path):
    snap = write_lines(tmp_path / "snap.jsonl", [snapshot_obj("2401.00001", "A snapshot paper"), "{not json",
                                                 snapshot_obj("2401.00002", "Another snapshot paper")])
    by_file, by_text = Graph(str(tmp_path / "f.db")), Graph(str(tmp_path / "t.db"))
    reports = [by_file.ingest_papers([ZOTERO], "bibtex"), by_file.ingest_papers([snap], "arxiv-snapshot"),
               by_text.ingest_paper_texts([(ZOTERO.read_text(encoding="utf-8"), ZOTERO.name)], "bibtex"),
               by_text.ingest_paper_texts([(snap.read_bytes(), snap.name)], "arxiv-snapshot")]
    assert [r.to_json() for r in reports[:2]] == [r.to_json() for r in reports[2:]]
    assert reports[3].nodes_added == 2 + 3 + 2 and any("snap.jsonl line 2" in w for w in reports[3].warnings)
    assert _shape(by_file) == _shape(by_text)
    assert set(reports[3].node_ids) == {n.id for n in by_text.nodes(kind="paper") if "snapshot" in n.title}
    paper = by_text.get(next(iter(reports[3].node_ids)))
    assert paper.source == {"document": "snap.jsonl", "format": "arxiv-snapshot"}
    with by_text.store.engine.connect() as conn:  # the connection that wrote the batches, back at SQLite's 2 MB
        assert conn.exec_driver_sql("PRAGMA cache_size").scalar() == -2000
    with pytest.raises(ValueError, match="scholar.bib: not UTF-8 text"):
        by_text.ingest_paper_texts([(b"@article{a, title={\xff}}", "scholar.bib")], "bibtex")
    assert _shape(by_text) == _shape(by_file)


def test_a_record_carries_the_names_the_writer_keys_it_by_and_a_merge_makes_them_again(tmp_path):
    from graph.papers import PaperRecord, make_record, norms, upsert_papers

    rec, _ = make_record("x", "  Causal   Abstraction ", ["Jörg Müller", "J. MÜLLER", "Ann Smith"],
                         categories=["cs.LG"])
    assert rec.norms == norms(PaperRecord(rec.title, rec.authors, categories=rec.categories))  # made as norms() would
    assert rec.norms.authors == ["jörg müller", "j. müller", "ann smith"] and rec.norms.first == "muller"
    # the first two records have no authors: the merged paper takes the third one's, and is keyed by them
    bare = PaperRecord("A paper", [], arxiv_id="2401.00001")
    norms(bare)
    again, _ = make_record("y", "A paper", [], doi="10.1000/a", arxiv_id="2401.00001")
    named, _ = make_record("z", "A paper", ["Bo Jones"], arxiv_id="2401.00001")
    g = Graph(str(tmp_path / "n.db"))
    ((pid, _),) = g.store.run_in_transaction(lambda tx: upsert_papers(tx, [bare, again, named], {}, IngestReport()))
    assert [e["node"]["title"] for e in g.show(pid)["edges"] if e["type"] == "authored_by"] == ["Bo Jones"]


def test_bulk_load_uses_the_callers_ids_and_normalised_titles_only_for_the_titles_it_was_given(tmp_path):
    from graph import bulk

    g = Graph(str(tmp_path / "d.db"))
    made = g.store.run_in_transaction(lambda tx: bulk.load(
        tx, nodes=[{"kind": "paper", "title": "Kept"}, {"kind": "paper", "title": "Also kept"}],
        derived=[("paper:made-by-the-caller", "as the caller normalised it"),
                 ("paper:also-kept", "also kept")]).node_ids)
    assert made == ["paper:made-by-the-caller", "paper:also-kept"]
    # a title the schema changes (spaces at its ends) is not the one the caller derived from: made here
    again = g.store.run_in_transaction(lambda tx: bulk.load(
        tx, nodes=[{"kind": "paper", "title": "  Spaced  "}], derived=[("paper:wrong", "wrong")]).node_ids)
    assert again == ["paper:spaced"]
    with g.store.read() as tx:
        found = tx.nodes_by_titles("paper", ["spaced", "wrong", "kept", "as the caller normalised it", "also kept"])
    assert set(found) == {"spaced", "as the caller normalised it", "also kept"}
