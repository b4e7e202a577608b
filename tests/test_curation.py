"""Curation from the CLI: accept, merge, unmerge, dismiss; decisions remembered; merges reversible."""
from __future__ import annotations

import json

import pytest

from graph import curation
from graph.api import Graph
from graph.similarity import candidate_pairs, similar
from tests.test_similarity import CL_EMD, CL_IIA, DAS_EMD, PAPER, egraph, invoke, model  # noqa: F401

CLAIM = ("claim:the-cl-auxiliary-loss-can-directly-reduce-representational-divergence-in-practical-"
         "interpretability-settings-without-sacrificing-interpretability-method")


def pairs(g: Graph, threshold=0.5):
    return {(c.a["id"], c.b["id"]) for c in candidate_pairs(g, threshold=threshold)}


def test_accept_adds_the_typed_edge_and_records_who(egraph):
    assert (CL_EMD, DAS_EMD) in pairs(egraph) or (DAS_EMD, CL_EMD) in pairs(egraph)
    out = json.loads(invoke("curate", "accept", CL_EMD, DAS_EMD, "--type", "replicates", "--actor", "ada",
                            "--json").stdout)
    assert out["new_edge"] and out["score"] > 0.5
    assert any(e["type"] == "replicates" and e["node"]["id"] == DAS_EMD for e in egraph.show(CL_EMD)["edges"])
    (d,) = curation.decisions(egraph, CL_EMD, "accepted")
    assert (d["actor"], d["edge_type"], d["node_b"]) == ("ada", "replicates", DAS_EMD) and d["created_at"]
    assert DAS_EMD not in {m.id for m in similar(egraph, CL_EMD, threshold=0.5)}


def test_accept_with_a_type_outside_the_vocabulary_writes_nothing(egraph):
    before = egraph.export_json()
    bad = invoke("curate", "accept", CL_EMD, PAPER, "--type", "supports", ok=False)
    assert bad.exit_code == 1 and bad.stderr.startswith("error: supports goes from finding to claim")
    assert bad.stderr.strip().count("\n") == 0
    assert invoke("curate", "accept", CL_EMD, DAS_EMD, "--type", "duplicate_of", ok=False).exit_code == 1
    assert egraph.export_json() == before and curation.decisions(egraph) == []


def test_dismissed_pairs_do_not_come_back(egraph, monkeypatch):
    monkeypatch.setenv("USER", "grace")
    assert DAS_EMD in {m.id for m in similar(egraph, CL_EMD, threshold=0.5)}
    assert "dismissed" in invoke("curate", "dismiss", DAS_EMD, CL_EMD).stdout
    assert DAS_EMD not in {m.id for m in similar(egraph, CL_EMD, threshold=0.5)}
    assert not {(CL_EMD, DAS_EMD), (DAS_EMD, CL_EMD)} & pairs(egraph)
    listed = json.loads(invoke("curate", "list", "--threshold", "0.5", "--limit", "100000", "--json").stdout)
    assert {(c["a"]["id"], c["b"]["id"]) for c in listed} == pairs(egraph)
    (d,) = curation.decisions(egraph, CL_EMD)
    assert d["decision"] == "dismissed" and d["actor"] == "grace"


def test_merge_then_unmerge_restores_the_graph_exactly(egraph):
    # a hand-made duplicate that shares an edge with the kept node (paper) and has edges of its own
    dup = egraph.add_node({"kind": "finding", "title": "The modified CL loss gives EMD 0.007±0.001 on synthetic10",
                           "description": "Duplicate entry typed in by hand."})
    egraph.link(dup, "extracted_from", PAPER)  # CL_EMD has it too: kept once, restored on unmerge
    egraph.link(dup, "supports", CLAIM)        # CL_EMD has it too
    egraph.link(dup, "associated_with", CL_EMD)  # joins the pair itself
    egraph.link(DAS_EMD, "fails_to_replicate", dup)  # moves to CL_EMD
    egraph.link(dup, "uses_method", "method:boundless-das")  # moves to CL_EMD
    before = egraph.export_json()
    n_meas = len(egraph.show(dup)["measurements"])

    out = json.loads(invoke("curate", "merge", CL_EMD, dup, "--json").stdout)
    assert (out["moved"], out["removed"]) == (2, 3)
    page = egraph.show(dup)
    assert page["status"] == "merged"
    assert [(e["type"], e["node"]["id"]) for e in page["edges"]] == [("duplicate_of", CL_EMD)]
    kept = {(e["type"], e["direction"], e["node"]["id"]) for e in egraph.show(CL_EMD)["edges"]}
    assert {("fails_to_replicate", "in", DAS_EMD), ("uses_method", "out", "method:boundless-das"),
            ("duplicate_of", "in", dup)} <= kept
    assert len(page["measurements"]) == n_meas  # measurements stay with their source
    if n_meas:
        assert dup in curation.merged_measurements(egraph, CL_EMD)
    assert dup not in {m.id for m in similar(egraph, CL_EMD, threshold=0.3)}
    assert all(dup not in p for p in pairs(egraph, 0.3))
    assert invoke("curate", "merge", CL_EMD, dup, ok=False).exit_code == 1  # already merged

    assert "unmerged" in invoke("curate", "unmerge", dup).stdout
    assert egraph.export_json() == before
    assert egraph.show(dup)["status"] == "active"
    assert [d["decision"] for d in curation.decisions(egraph, dup)] == ["merged", "unmerged"]
    assert "nothing to unmerge" in invoke("curate", "unmerge", dup, ok=False).stderr


def test_merge_refuses_other_kinds_and_unmerge_follows_chains(egraph):
    with pytest.raises(ValueError, match="same kind"):
        curation.merge(egraph, CL_EMD, CLAIM)
    a = egraph.add_node({"kind": "finding", "title": "duplicate A of the CL EMD result"})
    b = egraph.add_node({"kind": "finding", "title": "duplicate B of the CL EMD result"})
    egraph.link(b, "extracted_from", PAPER)
    before = egraph.export_json()
    curation.merge(egraph, a, b)        # b -> a
    curation.merge(egraph, CL_EMD, a)   # a -> CL_EMD, carrying b's duplicate_of along
    curation.unmerge(egraph, a)
    curation.unmerge(egraph, b)
    assert egraph.export_json() == before
