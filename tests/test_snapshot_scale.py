"""The million-node benchmark's inputs on a small scale: the generated arXiv snapshot is deterministic and
streamed, and the batched ingest (run caches, bulk writes) keeps every rule: the same papers, authors and
edges whatever the batch size, the same warnings, and a second ingest of the file adds nothing."""
from __future__ import annotations

import itertools
import json

from bench.arxiv_scale import REPEAT_EVERY, findings, paper_line, snapshot_lines, typed_edges, write_snapshot
import graph.papers
from graph.api import Graph
from graph.ingest import IngestReport
from graph.papers import batch_sizes, ingest_records
from graph.parsers.arxiv_snapshot import iter_snapshot
from graph.parsers.latex import _converted, latex_to_text

PAPERS = 1200


def test_the_generated_snapshot_is_deterministic_and_a_stream(tmp_path):
    a, b, c = tmp_path / "a.jsonl", tmp_path / "b.jsonl", tmp_path / "c.jsonl"
    made = write_snapshot(a, PAPERS, seed=1)
    write_snapshot(b, PAPERS, seed=1)
    write_snapshot(c, PAPERS, seed=2)
    assert a.read_bytes() == b.read_bytes() != c.read_bytes()
    assert made["lines"] == PAPERS + made["repeats"] + made["broken"]
    assert made["repeats"] == PAPERS // REPEAT_EVERY and made["broken"] == 0  # one broken line per 2003
    lines = snapshot_lines(PAPERS, seed=1)
    assert next(lines) == a.read_text(encoding="utf-8").splitlines()[0]  # a generator: nothing held
    assert paper_line(17, 100, seed=1) == paper_line(17, 100, seed=1)
    ids = [json.loads(x)["id"] for x in a.read_text(encoding="utf-8").splitlines()]
    assert len(set(ids)) == PAPERS  # repeats reuse an earlier paper's id
    assert findings(5) == findings(5)
    papers = [f"paper:p{i}" for i in range(50)]
    assert list(typed_edges(papers, ["finding:a", "finding:b"], 2.5, chunk=20)) == \
        list(typed_edges(papers, ["finding:a", "finding:b"], 2.5, chunk=20))


def _ingest(path, batch_size: int) -> tuple[Graph, IngestReport]:
    g = Graph(str(path.with_suffix(f".{batch_size}.db")))
    report = IngestReport()
    ingest_records(g.store, iter_snapshot(path), {"document": path.name}, report, batch_size=batch_size)
    return g, report


def test_a_large_batch_size_is_reached_in_doubling_steps_and_a_small_one_is_used_as_it_is():
    assert list(itertools.islice(batch_sizes(100_000), 6)) == [12_500, 25_000, 50_000, 100_000, 100_000, 100_000]
    assert list(itertools.islice(batch_sizes(10_000), 5)) == [1250, 2500, 5000, 10_000, 10_000]
    assert list(itertools.islice(batch_sizes(9_999), 3)) == [9_999] * 3
    assert list(itertools.islice(batch_sizes(1), 3)) == [1, 1, 1]


def test_batched_ingest_keeps_dedupe_warnings_and_adds_nothing_twice(tmp_path, monkeypatch):
    monkeypatch.setattr("graph.papers.RAMP_FROM", 64)  # the small run's batches: 8, 16, 32, then 64 each
    snap = tmp_path / "snap.jsonl"
    lines = list(snapshot_lines(2100))  # 2100 papers: four repeats and one broken line
    lines.insert(7, lines[3])  # a paper twice in one batch
    snap.write_text("\n".join(lines) + "\n", encoding="utf-8")
    sizes: list[int] = []
    upsert = graph.papers.upsert_papers
    monkeypatch.setattr("graph.papers.upsert_papers", lambda tx, records, *a, **k: sizes.append(len(records))
                        or upsert(tx, records, *a, **k))
    small, r_small = _ingest(snap, 64)  # the run's author cache carries across 36 transactions
    assert sizes[:5] == [8, 16, 32, 64, 64] and len(sizes) == 36 and sum(sizes) == 2105
    big, r_big = _ingest(snap, 5000)
    assert small.stats() == big.stats()
    assert small.stats()["nodes"]["paper"] == 2100
    assert (r_small.nodes_added, r_small.edges_added, r_small.warnings) == \
        (r_big.nodes_added, r_big.edges_added, r_big.warnings)
    assert len(r_small.warnings) == 1 and "line 2004" in r_small.warnings[0]
    people = [json.loads(line)["authors_parsed"] for line in lines
              if line.startswith('{"id"') and not line.endswith("cut sh")]
    authors = {f"{first} {last}" for parsed in people for last, first, _ in parsed}
    assert len(authors) == small.stats()["nodes"]["author"]  # one node per person, whatever the batch
    again = IngestReport()
    ingest_records(small.store, iter_snapshot(snap), {"document": snap.name}, again, batch_size=64)
    assert (again.nodes_added, again.nodes_updated, again.edges_added) == (0, 0, 0)
    assert again.warnings == r_small.warnings
    assert small.stats() == big.stats()


def test_latex_is_converted_word_runs_at_a_time_as_it_was_whole():
    plain = "We study causal abstraction in language models and its faithfulness. " * 3
    for tail in ("We prove an $O(n^{3} \\log n)$ bound for $\\alpha > 5$.",
                 'Work by M\\"uller and Garc\\\'{\\i}a on {\\em deep nets} with \\c c and ``quotes\'\'.',
                 "A $x$ and $$y + z$$ and \\' e accent and 10\\% gain ~ tilde.", "unbalanced { brace"):
        assert latex_to_text(plain + tail) == _converted(plain + tail)
