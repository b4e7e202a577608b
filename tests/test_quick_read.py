"""The CLI's quick SQLite read path (db.sqlite_read) returns what the SQLAlchemy path returns."""
from __future__ import annotations

import shutil

import pytest

from db.engine import get_engine, migrate
from db.sqlite_read import open_reader
from graph.api import Graph

QUERIES = ["CL loss", "counterfactual latent", "DAS", "Potts", "divergent representations interventions",
           "iia emd", "zzznotaword", "a", "Ünïcödé", '"quoted" OR words', "near-duplicates"]


@pytest.fixture
def richer_graph(seeded_graph):
    """The seed graph plus nodes with JSON attrs, measurements, conditions and non-ASCII text."""
    g = seeded_graph
    a = g.add_node({"kind": "finding", "title": "Ünïcödé finding: IIA of 0.91±0.02 on a held-out split",
                    "description": "DAS near-duplicates and \"quoted\" words", "attrs": {"k": [1, 2], "note": "é"},
                    "measurements": [{"metric": "IIA", "value": 0.91, "err": 0.02, "err_kind": "sem", "n": 5,
                                      "split": "test", "conditions": {"epsilon": 100}}]})
    b = g.add_node({"kind": "claim", "title": "A claim about CL loss", "status": "superseded"})
    g.link(a, "supports", b, attrs={"score": 0.5, "rule": "test"})
    return g


def test_show_matches_the_store_on_every_node(richer_graph):
    with richer_graph.store.read() as tx:
        ids = [n.id for n in tx.list_nodes()]
    assert len(ids) > 90
    with open_reader(richer_graph.store.url) as reader:
        for nid in ids:
            assert reader.show(nid) == richer_graph.show(nid), nid
        with pytest.raises(ValueError, match="no node with id 'nope'"):
            reader.show("nope")


def test_evidence_reads_match_the_store(richer_graph):
    """The status show and search print comes from the same two reads on either path."""
    from graph.evidence import EVIDENCE_EDGES, statuses

    with richer_graph.store.read() as tx:
        subjects = {n.id: n.kind for n in tx.list_nodes()}
        edges, origins, full = (tx.evidence_edges(subjects, EVIDENCE_EDGES), tx.origins(subjects),
                                statuses(tx, subjects))
    with open_reader(richer_graph.store.url) as reader:
        assert reader.evidence_edges(subjects, EVIDENCE_EDGES) == edges
        assert reader.origins(subjects) == origins
        assert statuses(reader, subjects) == full
    assert len(edges) >= 6 and sum(bool(o.papers) for o in origins.values()) >= 5
    assert {s.status for s in full.values()} == {"untested", "supported"}  # the user's claim: a supporting test


@pytest.mark.parametrize("kind", [None, "finding", "paper"])
def test_search_matches_the_store(richer_graph, kind):
    with open_reader(richer_graph.store.url) as reader:
        for q in QUERIES:
            for limit in (1, 5, 50):
                full = [{"id": n.id, "kind": n.kind, "title": n.title, "score": s}
                        for n, s in richer_graph.search(q, kind=kind, limit=limit)]
                assert reader.search(q, kind=kind, limit=limit) == full, (q, kind, limit)
        assert reader.search("claim", status="superseded") == [
            {"id": n.id, "kind": n.kind, "title": n.title, "score": s}
            for n, s in richer_graph.search("claim", status="superseded")]


def test_the_full_path_serves_what_the_quick_path_cannot(seeded_db, tmp_path):
    assert open_reader("postgresql+psycopg://u@127.0.0.1:1/db") is None
    assert open_reader(str(tmp_path / "missing.db")) is None
    assert not (tmp_path / "missing.db").exists()  # the quick path creates nothing
    assert open_reader(f"sqlite:///{seeded_db}?mode=ro") is None
    assert open_reader("sqlite:///:memory:") is None
    junk = tmp_path / "junk.db"
    junk.write_text("not a database")
    assert open_reader(str(junk)) is None
    old = tmp_path / "old.db"
    migrate(get_engine(f"sqlite:///{old}"), "0005")
    assert open_reader(str(old)) is None  # behind head: the store migrates it first
    with open_reader(f"sqlite:///{seeded_db}") as reader:  # a plain URL works like a path
        hits = reader.search("CL loss")
    assert hits and hits == [{"id": n.id, "kind": n.kind, "title": n.title, "score": s}
                             for n, s in Graph(str(seeded_db)).search("CL loss")]


def test_cli_show_and_search_agree_across_paths(seeded_db, tmp_path):
    """The same commands through a path (quick) and through a copy opened by URL with an option (full)."""
    from typer.testing import CliRunner

    from app.cli import app

    copy = tmp_path / "copy.db"
    shutil.copy(seeded_db, copy)
    runner = CliRunner()
    measured = "finding:das-behavioral-loss-achieves-iia-of-0-997-0-001-on-synthetic-10-class-dataset-training-test-sets"
    for args in (["show", "method:cl"], ["show", measured, "--json"], ["show", measured], ["search", "CL loss", "--limit", "5"], ["search", "DAS", "--kind", "paper"],
                 ["show", "method:cl", "--json"], ["search", "Potts", "--json"]):
        quick = runner.invoke(app, ["--db", str(seeded_db), *args])
        full = runner.invoke(app, ["--db", f"sqlite:///{copy}?timeout=30", *args])
        assert quick.exit_code == full.exit_code == 0, (quick.output, full.output)
        assert quick.output == full.output
    missing = runner.invoke(app, ["--db", str(seeded_db), "show", "nope"])
    assert missing.exit_code == 1 and "no node with id 'nope'" in missing.output
