"""The scale paths on small graphs: the bulk load, the cut-down neighbourhood and walk, incremental similarity.

Correctness only: no timing is asserted here (``make bench`` measures them at 100k nodes).
"""
from __future__ import annotations

import numpy as np
import pytest
from sqlalchemy import text

from bench.synthetic import generate, vectors
from graph import bulk, core
from graph.api import Graph
from graph.embeddings import DEFAULT_MODEL, node_text, text_hash, to_bytes
from graph.similarity import candidate_pairs, similar, vector_index


def _small(n_nodes: int = 300, n_edges: int = 2500):
    nodes, edges = generate(n_nodes, n_edges, seed=3)
    extra = [  # no ids (slugs, a collision), a quantity stated only in the title
        {"kind": "finding", "title": "DAS keeps IIA of 0.91±0.02 on the synthetic task"},
        {"kind": "finding", "title": "DAS keeps IIA of 0.91±0.02 on the synthetic task"},
        {"kind": "claim", "title": "Interventions leave the manifold", "attrs": {"note": "x"}},
    ]
    return nodes + extra, edges


def _one_by_one(g: Graph, nodes, edges) -> list[str]:
    ids = []
    with g.store.transaction() as tx:
        for data in nodes:
            fields = {k: v for k, v in data.items() if k != "id"}
            ids.append(core.create_node(tx, fields, node_id=data.get("id")))
        for src, etype, dst, attrs in edges:
            core.add_edge(tx, src, etype, dst, attrs)
    return ids


def _graph(tmp_path, name: str) -> Graph:
    return Graph(str(tmp_path / f"{name}.db"))


def test_bulk_load_equals_loading_node_by_node(tmp_path):
    nodes, edges = _small()
    a, b = _graph(tmp_path, "bulk"), _graph(tmp_path, "single")
    report = a.bulk_load(nodes, edges)
    ids = _one_by_one(b, nodes, edges)
    assert report.node_ids == ids
    assert ids[-3] != ids[-2] and ids[-2].startswith(ids[-3] + "-")  # the same slug, made unique
    assert (report.nodes, report.edges) == (len(nodes), len(edges))
    assert a.export_json() == b.export_json()
    assert a.get(ids[-3]).title.startswith("DAS keeps")
    assert [x["metric"] for x in a.show(ids[-3])["measurements"]] == ["IIA"]  # parsed from the title
    assert a.stats() == b.stats()


def test_bulk_loaded_nodes_are_searchable_and_later_writes_still_indexed(tmp_path):
    nodes, edges = _small()
    g = _graph(tmp_path, "g")
    g.bulk_load(nodes, edges)
    hits = [n.id for n, _ in g.search("interventions leave the manifold")]
    assert hits and hits[0] == "claim:interventions-leave-the-manifold"
    new = g.add_node({"kind": "claim", "title": "Quokkas mediate superposition"})  # the insert trigger is back
    assert [n.id for n, _ in g.search("quokkas")] == [new]
    g.bulk_load([{"kind": "paper", "title": "Wombat circuits"}])  # a second bulk load indexes its rows too
    assert [n.title for n, _ in g.search("wombat")] == ["Wombat circuits"]


def test_bulk_load_restores_the_insert_trigger_as_the_database_defines_it(tmp_path):
    """The bulk path drops the keyword index's insert trigger and re-creates it from the database's own
    copy of its SQL, so a later migration that changes the trigger is not undone by a bulk load."""
    g = _graph(tmp_path, "g")
    titles_only = ("CREATE TRIGGER nodes_fts_ai AFTER INSERT ON nodes BEGIN "
                   "INSERT INTO nodes_fts(rowid, title, description) VALUES (new.rowid, new.title, ''); END")
    with g.store.engine.begin() as conn:  # what such a migration would do
        conn.exec_driver_sql("DROP TRIGGER nodes_fts_ai")
        conn.exec_driver_sql(titles_only)
    g.bulk_load([{"kind": "paper", "title": "Wombat circuits", "description": "marsupial"}])
    with g.store.engine.connect() as conn:
        stored = conn.exec_driver_sql(
            "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = 'nodes_fts_ai'").scalar()
    assert stored == titles_only
    new = g.add_node({"kind": "claim", "title": "Quokkas mediate superposition", "description": "numbats"})
    assert [n.id for n, _ in g.search("quokkas")] == [new]
    assert g.search("numbats") == []  # the altered trigger did the indexing
    assert [n.title for n, _ in g.search("wombat")] == ["Wombat circuits"]  # the bulk rows are indexed


def test_bulk_load_into_a_filled_store_keeps_existing_edges_once(tmp_path):
    nodes, edges = _small()
    g = _graph(tmp_path, "g")
    g.bulk_load(nodes[:200], [e for e in edges if e[0] in {n["id"] for n in nodes[:200]}
                              and e[2] in {n["id"] for n in nodes[:200]}])
    before = g.stats()["edges"]
    report = g.bulk_load(nodes[200:], edges + edges[:10])  # every edge again, some twice
    assert report.edges_skipped == sum(before.values()) + 10
    single = _graph(tmp_path, "single")
    _one_by_one(single, nodes, edges)
    assert g.export_json() == single.export_json()


@pytest.mark.parametrize("nodes, edges, message", [
    ([{"id": "claim:c2", "kind": "claim", "title": "c2"}], [("claim:c2", "supports", "finding:f")],
     "supports goes from finding to claim"),
    ([], [("finding:f", "no_such_type", "claim:c")], "unknown edge type"),
    ([], [("finding:f", "supports", "claim:missing")], "no node with id 'claim:missing'"),
    ([], [("finding:f", "duplicate_of", "claim:c")], "same kind"),
    ([], [("finding:f", "associated_with", "finding:f")], "to itself"),
    ([], [("finding:f", "supports")], "expected"),
    ([], [{"source": "finding:f", "type": "supports", "target": "claim:c", "weight": 1}], "unknown field"),
    ([{"id": "claim:c", "kind": "claim", "title": "again"}], [], "already exists"),
    ([{"id": "paper:x", "kind": "claim", "title": "x"}], [], "does not start with its kind"),
    ([{"kind": "theory", "title": "x"}], [], "node 5 .*invalid kind"),
    ([{"kind": "claim", "title": ""}], [], "title"),
    ([{"kind": "claim", "title": "a"}, {"kind": "claim", "title": "b", "colour": "red"}], [], "node 6"),
])
def test_bulk_load_refuses_a_broken_batch_and_writes_nothing(tmp_path, nodes, edges, message):
    g = _graph(tmp_path, "g")
    with g.store.transaction() as tx:
        core.create_node(tx, {"kind": "claim", "title": "c"}, node_id="claim:c")
        core.create_node(tx, {"kind": "finding", "title": "f"}, node_id="finding:f")
    before = g.export_json()
    good = [{"id": f"paper:p{i}", "kind": "paper", "title": f"Paper {i}"} for i in range(5)]
    with pytest.raises(ValueError, match=message):
        g.bulk_load(good + nodes, [("finding:f", "supports", "claim:c")] + edges)
    assert g.export_json() == before
    assert g.search("paper") == []
    assert [n.id for n, _ in g.search("c")] == ["claim:c"]


def test_neighbourhood_cut_per_group_is_the_head_of_the_full_ranking(tmp_path):
    nodes, edges = generate(400, 4000, seed=5)
    g = _graph(tmp_path, "g")
    g.bulk_load(nodes, edges)
    counts: dict[str, int] = {}
    for src, _, dst, _ in edges:
        counts[src] = counts.get(src, 0) + 1
        counts[dst] = counts.get(dst, 0) + 1
    hub = max(counts, key=counts.get)
    full = g.neighbourhood(hub)
    page = g.node_page(hub, per_group=3)
    assert [(x.edge_type, x.direction, x.count, x.size) for x in full] == \
           [(x.edge_type, x.direction, x.count, x.size) for x in page.groups]
    assert any(x.size > 3 for x in full)
    for f, p in zip(full, page.groups):
        assert f.size == len(f.neighbours)
        assert [(n.id, t, a) for n, t, a in f.neighbours[:3]] == [(n.id, t, a) for n, t, a in p.neighbours]
    # show lists every edge, each once, with the other end's brief
    shown = g.show(hub)["edges"]
    assert len(shown) == counts[hub]
    assert sum(x.count for x in full) == counts[hub]


def test_subgraph_walks_level_by_level_and_cuts_in_sorted_order(tmp_path):
    nodes, edges = generate(400, 3000, seed=7)
    g = _graph(tmp_path, "g")
    g.bulk_load(nodes, edges)
    adj: dict[str, set[str]] = {}
    for src, _, dst, _ in edges:
        adj.setdefault(src, set()).add(dst)
        adj.setdefault(dst, set()).add(src)
    for centre, hops, cap in ((edges[0][0], 2, 40), (edges[5][2], 2, 1000), (edges[9][0], 1, 5)):
        seen, frontier = [centre], [centre]
        for _ in range(hops):
            if not frontier or len(seen) >= cap:
                break
            new = sorted(set().union(*(adj.get(x, set()) for x in frontier)) - set(seen))[:cap - len(seen)]
            seen.extend(new)
            frontier = new
        got, got_edges = g.subgraph(centre, hops=hops, max_nodes=cap)
        assert [n.id for n in got] == seen
        inside = set(seen)
        assert sorted((e.source_id, e.type, e.target_id) for e in got_edges) == \
               sorted((s, t, d) for s, t, d, _ in edges if s in inside and d in inside)


def test_candidates_and_incremental_similar_on_a_bulk_loaded_graph(tmp_path):
    nodes, edges = generate(300, 1500, seed=11)
    g = _graph(tmp_path, "g")
    g.bulk_load(nodes, edges)
    rows = vectors(nodes, seed=2)
    # plant three near-copies: one pair joined by a typed edge, one listed as similar, one free
    vec = {nid: np.frombuffer(v, dtype="<f4").copy() for nid, v, _ in rows}
    findings = [x["id"] for x in nodes if x["kind"] == "finding"]
    pairs = [(findings[0], findings[1]), (findings[2], findings[3]), (findings[4], findings[5])]
    for a, b in pairs:
        vec[b] = vec[a] + 0.01 * np.ones_like(vec[a])
        vec[b] /= np.linalg.norm(vec[b])
    g.link(*pairs[0][:1], "replicates", pairs[0][1])
    g.link(pairs[1][0], "listed_similar", pairs[1][1], {"score": 0.8})
    h = {nid: hh for nid, _, hh in rows}
    g.store.run_in_transaction(lambda tx: bulk.put_vectors(tx, DEFAULT_MODEL, [(n, to_bytes(v), h[n])
                                                                                for n, v in vec.items()]))
    found = {(c.a["id"], c.b["id"]): c for c in candidate_pairs(g, threshold=0.95)}
    key = lambda a, b: (min(a, b), max(a, b))  # noqa: E731
    assert key(*pairs[0]) not in found
    assert found[key(*pairs[1])].listed_score == 0.8
    assert key(*pairs[2]) in found and found[key(*pairs[2])].duplicate

    # a new node: its vector is patched into the cached matrix, and its candidates come from it
    idx = vector_index(g)
    n_before = len(idx.ids)
    new = g.add_node({"kind": "finding", "title": "A near copy of finding five"})
    text = node_text("A near copy of finding five", "")
    g.store.run_in_transaction(lambda tx: bulk.put_vectors(tx, DEFAULT_MODEL, [(new, to_bytes(vec[pairs[2][0]]),
                                                                                text_hash(text))]))
    idx = vector_index(g, max_age=0)
    assert len(idx.ids) == n_before + 1 and new in idx.pos
    matches = similar(g, new, threshold=0.95)
    assert {m.id for m in matches} >= {pairs[2][0], pairs[2][1]}


def test_bulk_load_looks_up_neither_kinds_nor_stored_edges_of_ends_the_caller_vouches_for(tmp_path):
    """graph.papers hands ``known`` (the ends its transaction just read or wrote, stored edges already left
    out): the load must not look their kinds up or look for their edges in the store again."""
    g = _graph(tmp_path, "g")
    with g.store.transaction() as tx:
        core.create_node(tx, {"kind": "paper", "title": "p"}, node_id="paper:p")
        core.create_node(tx, {"kind": "author", "title": "a"}, node_id="author:a")
    with g.store.transaction() as tx:
        def refuse(*_a, **_k):
            raise AssertionError("looked up in the store")

        tx.node_kinds = refuse
        tx.existing_edges = refuse
        report = bulk.load(tx, edges=[("paper:p", "authored_by", "author:a", {})],
                           known={"paper:p": "paper", "author:a": "author"})
    assert report.edges == 1 and g.stats()["edges"] == {"authored_by": 1}


def test_a_bulk_load_inside_an_ingest_batch_keeps_the_batch_s_larger_page_cache(tmp_path):
    g = _graph(tmp_path, "g")
    with g.store.transaction() as tx:
        tx.tune_for_bulk(1024)  # what graph.papers asks for a batch
        tx.tune_for_bulk()  # what each graph.bulk.load inside it asks for
        assert tx.s.execute(text("PRAGMA cache_size")).scalar() == -1024 * 1024


def test_a_column_of_a_few_repeated_objects_is_converted_once_per_object_and_the_same_as_value_by_value():
    from db.queries.bulk import _convert_column

    calls: list[object] = []

    def conv(v):
        calls.append(v)
        return repr(sorted(v.items())) if isinstance(v, dict) else repr(v)

    shared = [{"position": p} for p in range(3)] + [{}, None]
    few = [shared[i % 5] for i in range(1000)]
    assert _convert_column(conv, few) == [conv(v) for v in few]
    assert len(calls) == 5 + 1000  # once per object, then the check's value-by-value pass
    many = [{"k": i % 7} for i in range(200)]  # equal values but distinct objects: value by value
    calls.clear()
    assert _convert_column(conv, many) == [repr(sorted(v.items())) for v in many] and len(calls) == 200


@pytest.mark.parametrize("edge, message", [
    (("finding:f", "supports", "claim:missing", {}), "edge 2 .*no node with id 'claim:missing'"),
    (("paper:missing", "supports", "claim:c", {}), "edge 2 .*no node with id 'paper:missing'"),
    (("finding:f", "associated_with", "finding:f", {}), "edge 2 .*to itself"),
    (("claim:c", "supports", "finding:f", {}), "edge 2 .*supports goes from finding to claim"),
    (("finding:f", "duplicate_of", "claim:c", {}), "edge 2 .*same kind"),
])
def test_bulk_load_checks_a_batch_of_plain_edge_tuples_as_it_checks_any_other(tmp_path, edge, message):
    """Edges given as (source, type, target, attrs) tuples are checked column by column: a bad one is
    still refused, named by its place in the batch, and nothing is written."""
    g = _graph(tmp_path, "g")
    with g.store.transaction() as tx:
        core.create_node(tx, {"kind": "claim", "title": "c"}, node_id="claim:c")
        core.create_node(tx, {"kind": "finding", "title": "f"}, node_id="finding:f")
        core.create_node(tx, {"kind": "finding", "title": "g"}, node_id="finding:g")
    before = g.export_json()
    good = [("finding:f", "supports", "claim:c", {}), ("finding:g", "supports", "claim:c", {"w": 1})]
    with pytest.raises(ValueError, match=message):
        g.bulk_load([], good + [edge])
    assert g.export_json() == before
    report = g.bulk_load([], good + good[:1])  # a repeat is kept once
    assert (report.edges, report.edges_skipped) == (2, 1)
    again = g.bulk_load([], good)  # both are stored now
    assert (again.edges, again.edges_skipped) == (0, 2)
