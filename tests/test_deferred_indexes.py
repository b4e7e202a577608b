"""A long load into SQLite goes without four indexes and builds them again when it ends (db.deferred): the
graph is the one a load with every index gives, the schema is the models' again afterwards, a failed load
still rebuilds them, a killed one is repaired by the next writable open, and a running one is left alone."""
from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import event

import graph.papers
from bench.arxiv_scale import paper_line, snapshot_lines
from db import deferred
from db.engine import get_engine, resolve_url
from graph.api import Graph
from graph.ingest import IngestReport
from graph.papers import ingest_records
from graph.parsers.arxiv_snapshot import iter_snapshot
from tests.test_store import schema_diff as store_schema_diff

ROOT = Path(__file__).resolve().parents[1]


def indexes(db: Path) -> set[str]:
    with sqlite3.connect(db) as conn:
        return {name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}


def schema_diff(db: Path) -> list:
    return store_schema_diff(get_engine(resolve_url(str(db))))


def contents(db: Path) -> tuple:
    """Everything the graph holds, apart from times and generated row ids."""
    with sqlite3.connect(db) as conn:
        return tuple(sorted(conn.execute(sql).fetchall()) for sql in (
            "SELECT id, kind, title, title_norm, description, status, attrs, source FROM nodes",
            "SELECT source_id, type, target_id, attrs, source FROM edges",
            "SELECT scheme, value, node_id FROM identifiers",
            "SELECT node_id, type, direction, n FROM edge_counts",
            "SELECT action, subject, node_id, details FROM writes WHERE action = 'node.add'",
            "SELECT rowid, title FROM nodes_fts"))


@pytest.fixture
def snap(tmp_path) -> Path:
    path = tmp_path / "snap.jsonl"
    path.write_text("\n".join(snapshot_lines(300)) + "\n", encoding="utf-8")
    return path


def _ingest(db: Path, snap: Path, batch_size: int = 40) -> IngestReport:
    report = IngestReport()
    ingest_records(Graph(str(db), user="u").store, iter_snapshot(snap), {"document": snap.name}, report,
                   batch_size=batch_size)
    return report


def _watch_batches(monkeypatch, db: Path, fail_at: int | None = None) -> list[set[str]]:
    """The deferrable indexes present as each batch starts; ``fail_at``: that batch raises."""
    seen: list[set[str]] = []
    upsert = graph.papers.upsert_papers

    def watched(tx, records, *a, **k):
        seen.append(indexes(db) & set(deferred.DEFERRABLE))
        if fail_at is not None and len(seen) == fail_at:
            raise RuntimeError("the disk is full")
        return upsert(tx, records, *a, **k)

    monkeypatch.setattr(graph.papers, "upsert_papers", watched)
    return seen


def test_a_long_load_drops_four_indexes_and_rebuilds_them_into_the_same_graph(tmp_path, snap, monkeypatch):
    plain, defer = tmp_path / "plain.db", tmp_path / "defer.db"
    r_plain = _ingest(plain, snap)  # 300 records < DEFER_AFTER: every index all along
    monkeypatch.setattr(graph.papers, "DEFER_AFTER", 100)
    seen = _watch_batches(monkeypatch, defer)
    r_defer = _ingest(defer, snap)
    everything = set(deferred.DEFERRABLE)
    # 40 a batch: after the third (120 records, more edges than the empty store held) the rest go without
    assert seen[:3] == [everything] * 3 and seen[3:] == [set()] * (len(seen) - 3) and len(seen) == 8
    assert indexes(defer) == indexes(plain) and schema_diff(defer) == []
    free = deferred._lock(str(defer))  # let go
    assert free is not None
    os.close(free)
    assert r_defer.to_json() == r_plain.to_json()
    assert contents(defer) == contents(plain)
    again = IngestReport()  # the indexes rebuilt are the ones the second run reads through
    ingest_records(Graph(str(defer), user="u").store, iter_snapshot(snap), {"document": snap.name}, again,
                   batch_size=40)
    assert (again.nodes_added, again.edges_added, again.nodes_updated) == (0, 0, 0)


def test_a_store_larger_than_the_load_keeps_its_indexes(tmp_path, snap, monkeypatch):
    db = tmp_path / "big.db"
    _ingest(db, snap)
    other = tmp_path / "other.jsonl"  # 200 new papers: more records than DEFER_AFTER, fewer edges than stored
    other.write_text("\n".join(json.dumps(paper_line(i, 30)) for i in range(1000, 1200)) + "\n", encoding="utf-8")
    monkeypatch.setattr(graph.papers, "DEFER_AFTER", 100)
    seen = _watch_batches(monkeypatch, db)
    report = _ingest(db, other)
    assert report.nodes_added > 0 and seen and all(s == set(deferred.DEFERRABLE) for s in seen)


def test_a_failed_load_rebuilds_what_it_dropped(tmp_path, snap, monkeypatch):
    db = tmp_path / "fail.db"
    monkeypatch.setattr(graph.papers, "DEFER_AFTER", 100)
    seen = _watch_batches(monkeypatch, db, fail_at=5)
    with pytest.raises(RuntimeError, match="the disk is full"):
        _ingest(db, snap)
    assert seen[3] == set() and len(seen) == 5
    assert schema_diff(db) == []
    with Graph(str(db)).store.read() as tx:  # four batches committed, the fifth rolled back
        assert tx.table_counts()["nodes"] > 0


KILLED_LOAD = """
import os, sys
from graph import bulk
from graph.api import Graph
g = Graph(sys.argv[1])
ids = g.store.run_in_transaction(lambda tx: bulk.load(tx, nodes=[{"kind": "paper", "title": "P"},
                                                                 {"kind": "author", "title": "A"}]).node_ids)
with g.store.indexes_deferred() as dropped:
    assert dropped
    g.store.run_in_transaction(lambda tx: bulk.load(tx, edges=[(ids[0], "authored_by", ids[1])]))
    os._exit(9)  # killed mid-load: nothing after this runs
"""


def counts(db: Path) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return sorted(conn.execute("SELECT node_id, type, direction, n FROM edge_counts"))


def test_a_killed_load_is_repaired_by_the_next_writable_open_and_a_running_one_is_left_alone(tmp_path):
    db = tmp_path / "k.db"
    Graph(str(db))
    done = subprocess.run([sys.executable, "-c", KILLED_LOAD, str(db)], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 9, done.stderr
    assert not indexes(db) & set(deferred.DEFERRABLE)
    assert counts(db) == [("author:a", "authored_by", "in", 1), ("paper:p", "authored_by", "out", 1)]
    Graph(str(db), read_only=True)  # a read-only open cannot build them
    assert not indexes(db) & set(deferred.DEFERRABLE)

    held = deferred._lock(str(db))  # a load that is running: its lock is held
    assert held is not None and deferred._lock(str(db)) is None
    try:
        Graph(str(db))
        assert not indexes(db) & set(deferred.DEFERRABLE)
    finally:
        os.close(held)
    Graph(str(db))
    assert indexes(db) >= set(deferred.DEFERRABLE) and schema_diff(db) == []
    assert counts(db) == [("author:a", "authored_by", "in", 1), ("paper:p", "authored_by", "out", 1)]


def test_memory_and_read_only_stores_defer_nothing(tmp_path):
    from db.session import Store

    with Store("sqlite://").indexes_deferred() as dropped:
        assert dropped is False
    db = tmp_path / "r.db"
    Graph(str(db))
    with Store(str(db), read_only=True).indexes_deferred() as dropped:
        assert dropped is False
    assert indexes(db) >= set(deferred.DEFERRABLE)


def test_identifiers_the_caller_found_unheld_are_not_looked_up_again(tmp_path):
    g = Graph(str(tmp_path / "i.db"))
    g.add_node({"kind": "paper", "title": "A paper", "attrs": {"arxiv_id": "2401.00001"}})
    selects: list[str] = []
    event.listen(g.store.engine, "before_cursor_execute",
                 lambda conn, cursor, statement, *a: selects.append(statement)
                 if statement.lstrip().upper().startswith("SELECT") and "identifiers" in statement else None)
    (pid,) = [n.id for n in g.nodes(kind="paper")]
    rows = [("arxiv", "2401.00001", pid), ("doi", "10.1000/x", pid)]
    with g.store.transaction() as tx:
        assert tx.add_identifiers(rows, unheld={("doi", "10.1000/x")}) == 1  # the arXiv id is held already
    assert len(selects) == 1 and "2401.00001" not in selects[0]  # one look-up, of the scheme not vouched for
    selects.clear()
    with g.store.transaction() as tx:
        assert tx.add_identifiers([("arxiv", "2401.00009", pid)], unheld={("arxiv", "2401.00009")}) == 1
    assert selects == []
