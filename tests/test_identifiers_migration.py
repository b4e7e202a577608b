"""Migration 0009: papers already stored get their arXiv ids and DOIs indexed in ``identifiers``, normalised,
one node per identifier; and every later write of a paper indexes its own."""
from __future__ import annotations

import json

from db.engine import HEAD_REVISION, current_revision, get_engine, migrate
from graph.api import Graph
from tests.test_reliability import raw_sql

PAPERS = [  # (id, attrs, created_at): as earlier versions stored them
    ("paper:seed", {"year": 2025, "arxiv": "2511.04638", "authors": ["Satchel Grant"]}, "2025-01-01 00:00:00"),
    ("paper:versioned", {"arxiv_id": "arXiv:2401.01234v2", "doi": "https://doi.org/10.1000/ABC"},
     "2025-01-02 00:00:00"),
    ("paper:old-style", {"arxiv_id": "hep-th/9901001v3"}, "2025-01-03 00:00:00"),
    ("paper:later-copy", {"doi": "doi:10.1000/abc", "arxiv_id": "https://arxiv.org/abs/2401.01234"},
     "2025-01-04 00:00:00"),
    ("paper:garbage", {"arxiv_id": "see the PDF", "doi": 42}, "2025-01-05 00:00:00"),
]


def test_migration_0009_backfills_identifiers_of_stored_papers(store_url):
    engine = get_engine(store_url)
    migrate(engine, "0008")
    raw_sql(store_url, *[
        "INSERT INTO nodes (id, kind, title, title_norm, description, status, attrs, source, created_at, updated_at) "
        f"VALUES ('{nid}', 'paper', '{nid}', '{nid}', '', 'active', '{json.dumps(attrs)}', '{{}}', '{at}', '{at}')"
        for nid, attrs, at in PAPERS
    ], "INSERT INTO nodes (id, kind, title, title_norm, description, status, attrs, source, created_at, updated_at) "
       "VALUES ('claim:c', 'claim', 'c', 'c', '', 'active', '{\"arxiv_id\": \"2402.00001\"}', '{}', "
       "'2025-01-01 00:00:00', '2025-01-01 00:00:00')")
    g = Graph(store_url)  # opening upgrades to head
    assert current_revision(engine) == HEAD_REVISION
    with g.store.read() as tx:
        held = tx.identifiers_of([nid for nid, _, _ in PAPERS] + ["claim:c"])
        assert tx.nodes_by_identifier("arxiv", ["2402.00001"]) == {}  # only papers are indexed
    assert held == {
        "paper:seed": {"arxiv": "2511.04638"},
        "paper:versioned": {"arxiv": "2401.01234", "doi": "10.1000/abc"},  # the older paper keeps both
        "paper:old-style": {"arxiv": "hep-th/9901001"},
    }
    assert g.get("paper:versioned").attrs["arxiv_id"] == "arXiv:2401.01234v2"  # attrs are left as they were


def test_writes_of_papers_index_their_identifiers(tmp_path):
    g = Graph(str(tmp_path / "w.db"))
    a = g.add_node({"kind": "paper", "title": "A", "attrs": {"arxiv_id": "2401.00001v3", "doi": "10.1000/A"}})
    g.bulk_load(nodes=[{"kind": "paper", "title": "B", "attrs": {"arxiv_id": "2401.00002"}},
                       {"kind": "paper", "title": "C", "attrs": {"doi": "10.1000/a"}}])  # A's DOI: A keeps it
    g.import_json({"nodes": [{"id": "paper:d", "kind": "paper", "title": "D", "attrs": {"arxiv": "cs/0101001"}}],
                   "edges": []})
    with g.store.read() as tx:
        assert tx.nodes_by_identifier("arxiv", ["2401.00001", "2401.00002", "cs/0101001"]) == {
            "2401.00001": a, "2401.00002": "paper:b", "cs/0101001": "paper:d"}
        assert tx.nodes_by_identifier("doi", ["10.1000/a"]) == {"10.1000/a": a}
