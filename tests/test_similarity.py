"""Similarity: blocked exact search, stored embeddings, candidates on the seeded graph, the CLI.

The real all-MiniLM-L6-v2 is loaded once per session (graph.embeddings caches it); the seeded graph is
embedded once per module and each test gets a copy of that database.
"""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from typer.testing import CliRunner

from graph.api import Graph
from graph.embeddings import embed_pending, load_model
from graph.similarity import (
    candidate_pairs, one_vs_all, pairs_above, semantic_search, semantic_search_rows, similar, top_above,
    vector_index,
)
from tests.conftest import ROOT, SEED_FINDING, use_copy

CL_EMD = "finding:modified-cl-loss-produces-emd-along-feature-dimensions-of-0-007-0-001-on-synthetic-10-class-dataset"
CL_IIA = "finding:modified-cl-loss-achieves-iia-of-0-9988-0-0005-on-synthetic-10-class-dataset-training-test-sets"
DAS_EMD = "finding:das-behavioral-loss-produces-emd-along-feature-dimensions-of-0-032-0-003-on-synthetic-10-class-dataset"
PAPER = "paper:addressing-divergent-representations-from-causal-interventions-on-neural-networks"


@pytest.fixture(scope="session")
def model():
    return load_model()


@pytest.fixture
def egraph(embedded_template, tmp_path, monkeypatch):
    return Graph(str(use_copy(embedded_template, tmp_path / "findings.db", monkeypatch)))


def cli():
    from app.cli import app
    from app.commands.similarity import register

    register(app)  # a no-op: app.cli registers it already
    return app


def invoke(*args, ok=True):
    result = CliRunner().invoke(cli(), list(args))
    if ok:
        assert result.exit_code == 0, result.output + (result.stderr or "")
    return result


# ---- pure functions ------------------------------------------------------------------------------
def _unit(rng, n, d=48):
    m = rng.standard_normal((n, d)).astype(np.float32)
    return m / np.linalg.norm(m, axis=1, keepdims=True)


def _brute(m, t):
    s = m @ m.T
    i, j = np.nonzero(np.triu(s >= t, k=1))
    return {(int(a), int(b)) for a, b in zip(i, j)}


@pytest.mark.parametrize("precision", ["float32", "bf16"])
def test_pairs_above_is_exact_across_block_edges(precision):
    rng = np.random.default_rng(0)
    m = _unit(rng, 301)
    # plant near-duplicates across block boundaries and at the threshold's edge
    for a, b, eps in [(0, 300, 0.05), (63, 64, 0.3), (10, 200, 0.6), (127, 128, 0.9)]:
        v = m[a] + eps * rng.standard_normal(m.shape[1]).astype(np.float32)
        m[b] = v / np.linalg.norm(v)
    t = 0.5
    i, j, s = pairs_above(m, t, block=64, precision=precision)
    assert np.all(i < j)
    assert {(int(a), int(b)) for a, b in zip(i, j)} == _brute(m, t)
    assert np.allclose(s, np.einsum("ij,ij->i", m[i], m[j]), atol=1e-5)
    assert len(i) >= 3


def test_one_vs_all_in_blocks_and_ranking():
    rng = np.random.default_rng(1)
    m = _unit(rng, 1000)
    q = m[7]
    scores = one_vs_all(m, q, block=97)
    assert np.allclose(scores, m @ q, atol=1e-6)
    idx, top = top_above(scores, 0.2, k=5)
    assert idx[0] == 7 and len(idx) <= 5 and np.all(np.diff(top) <= 0)


# ---- embeddings ----------------------------------------------------------------------------------
def test_embedding_twice_embeds_nothing_and_changed_text_only_that(tmp_path, model):
    from seeds import curated_document

    g = Graph(str(tmp_path / "t.db"))
    g.ingest_documents([curated_document()])
    first = embed_pending(g, progress=False)
    assert first.embedded == len(g.nodes()) and first.skipped == 0 and first.model == "all-MiniLM-L6-v2"
    again = embed_pending(g, progress=False)
    assert (again.embedded, again.skipped) == (0, first.embedded)
    with g.store.transaction() as tx:
        tx.update_node("method:cl", description="Counterfactual-latent loss, restated.")
        vec = tx.embeddings("all-MiniLM-L6-v2", ["method:das"])[0][1]
    third = embed_pending(g, progress=False)
    assert (third.embedded, third.skipped) == (1, first.embedded - 1)
    with g.store.read() as tx:
        rows = {i: (v, h) for i, v, h in tx.embeddings("all-MiniLM-L6-v2")}
    assert rows["method:das"][0] == vec  # untouched
    v = np.frombuffer(rows["method:cl"][0], dtype="<f4")
    assert v.shape == (384,) and abs(float(np.linalg.norm(v)) - 1) < 1e-5


def test_an_interrupted_embed_resumes_where_it_stopped(tmp_path, model, monkeypatch):
    """Pages of 8 nodes, chunks of 16 texts: the run dies on its second chunk; the first chunk is kept and the
    next run embeds only the rest."""
    from graph import embeddings
    from seeds import curated_document

    g = Graph(str(tmp_path / "t.db"))
    g.ingest_documents([curated_document()])
    total = len(g.nodes())
    monkeypatch.setattr(embeddings, "PAGE", 24)
    real, calls = embeddings.encode, []

    def dies_second_time(texts, *args, **kwargs):
        calls.append(len(texts))
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(texts, *args, **kwargs)

    monkeypatch.setattr(embeddings, "encode", dies_second_time)
    with pytest.raises(KeyboardInterrupt):
        embed_pending(g, progress=False, batch_size=4)
    with g.store.read() as tx:
        stored = len(tx.embedding_hashes("all-MiniLM-L6-v2"))
    assert stored == calls[0] == 16 < total
    monkeypatch.setattr(embeddings, "encode", real)
    rest = embed_pending(g, progress=False, batch_size=4)
    assert (rest.embedded, rest.skipped) == (total - 16, 16)
    assert rest.texts_per_s and rest.texts_per_s > 0 and rest.device == "cpu"


def test_embed_on_cuda_without_a_gpu_is_one_line_and_changes_nothing(tmp_path, monkeypatch):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    from seeds import curated_document

    path = tmp_path / "t.db"
    Graph(str(path)).ingest_documents([curated_document()])
    monkeypatch.setenv("FINDINGS_DB", str(path))
    res = invoke("embed", "--device", "cuda", ok=False)
    assert res.exit_code != 0 and "torch sees no GPU" in res.output + (res.stderr or "")
    assert len((res.stderr or res.output).strip().splitlines()) == 1
    with Graph(str(path)).store.read() as tx:
        assert tx.embedding_hashes("all-MiniLM-L6-v2") == {}
    assert invoke("embed", "--device", "tpu", ok=False).exit_code != 0


def test_a_model_directory_that_does_not_exist_is_refused(tmp_path):
    with pytest.raises(ValueError, match="never downloaded"):
        embed_pending(Graph(str(tmp_path / "t.db")), model=str(tmp_path / "nope"))


# ---- candidates on the seeded graph ----------------------------------------------------------------
def test_similar_for_the_seed_finding_lists_cl_and_das_findings_without_typed_neighbours(egraph):
    matches = similar(egraph, SEED_FINDING, threshold=0.6, limit=20)
    ids = [m.id for m in matches]
    assert {CL_EMD, CL_IIA, DAS_EMD} <= set(ids)
    scores = [m.score for m in matches]
    assert scores == sorted(scores, reverse=True)
    # each is above the threshold by our score or by the score of the source that listed it
    assert all(m.score >= 0.6 or (m.listed_score or 0) >= 0.6 for m in matches)
    typed = {e["node"]["id"] for e in egraph.show(SEED_FINDING)["edges"] if e["type"] != "listed_similar"}
    assert typed and not typed & set(ids)
    by_id = {m.id: m for m in matches}
    assert by_id[CL_EMD].listed_score == 0.785  # the source's score shown beside ours
    assert by_id[CL_EMD].duplicate is False
    default = similar(egraph, SEED_FINDING)
    assert all(m.score >= 0.65 or m.listed_score >= 0.65 for m in default)
    # at the default threshold the source's listed CL and DAS findings stay candidates, with our scores
    assert {CL_EMD, CL_IIA, DAS_EMD} <= {m.id for m in default}
    assert all(-1 <= m.score <= 1 for m in default)


def test_source_listed_pairs_below_threshold_on_both_scores_are_not_candidates(egraph):
    assert DAS_EMD not in {m.id for m in similar(egraph, SEED_FINDING, threshold=0.8)}


def test_typed_edges_exclude_listed_similar_does_not_merged_never_appear(egraph):
    before = {m.id for m in similar(egraph, CL_EMD, threshold=0.5)}
    assert DAS_EMD in before
    egraph.link(CL_EMD, "replicates", DAS_EMD)  # any typed edge removes the pair
    assert DAS_EMD not in {m.id for m in similar(egraph, CL_EMD, threshold=0.5)}
    with egraph.store.transaction() as tx:
        tx.update_node(CL_IIA, status="merged")
    assert CL_IIA not in {m.id for m in similar(egraph, CL_EMD, threshold=0.5)}
    assert all(CL_IIA not in (c.a["id"], c.b["id"]) for c in candidate_pairs(egraph, threshold=0.5))


def test_duplicates_are_flagged_and_a_new_node_needs_no_reload(egraph):
    idx = vector_index(egraph)
    n_before = len(idx.ids)
    new = egraph.add_node({"kind": "finding",
                           "title": "Modified CL loss produces EMD along feature dimensions of 0.007 on the synthetic "
                                    "10-class dataset",
                           "description": "Quantitative improvement in divergence reduction using the modified CL "
                                          "loss on the synthetic dataset"})
    matches = similar(egraph, new, limit=5)
    assert matches[0].id == CL_EMD and matches[0].duplicate and matches[0].score >= 0.9
    again = vector_index(egraph)
    assert again is idx and len(again.ids) == n_before + 1  # patched in, not reloaded
    claim = egraph.add_node({"kind": "claim", "title": matches[0].title})
    assert not [m for m in similar(egraph, claim, limit=50) if m.duplicate and m.kind != "claim"]
    dups = candidate_pairs(egraph, duplicates_only=True)
    assert {(c.a["id"], c.b["id"]) for c in dups} >= {tuple(sorted((new, CL_EMD)))}
    assert all(c.duplicate and c.a["kind"] == c.b["kind"] for c in dups)


def test_candidate_pairs_once_each_best_first_without_typed_pairs(egraph):
    cands = candidate_pairs(egraph, threshold=0.6)
    pairs = [(c.a["id"], c.b["id"]) for c in cands]
    assert pairs and len(set(pairs)) == len(pairs) and all(a < b for a, b in pairs)
    assert [c.score for c in cands] == sorted((c.score for c in cands), reverse=True)
    with egraph.store.read() as tx:
        typed = {tuple(sorted((e.source_id, e.target_id))) for e in tx.list_edges() if e.type != "listed_similar"}
    assert not typed & set(pairs)
    assert len(candidate_pairs(egraph, threshold=0.6, limit=2)) == 2


def test_semantic_search_ranks_by_meaning(egraph):
    hits = semantic_search(egraph, "a loss that keeps intervened representations close to native ones", limit=5)
    assert hits and hits[0][1] >= hits[-1][1]
    assert {"method:cl", PAPER} & {n.id for n, _ in hits}
    rows = semantic_search_rows(egraph, "distributed alignment search", kind="method", limit=2, progress=False)
    assert rows[0]["id"] == "method:das" and set(rows[0]) == {"id", "kind", "title", "score"}


# ---- CLI -----------------------------------------------------------------------------------------------
def test_cli_embed_and_similar_json(egraph):
    assert json.loads(invoke("embed", "--json").stdout) == {"embedded": 0, "skipped": len(egraph.nodes()),
                                                            "model": "all-MiniLM-L6-v2", "device": "cpu",
                                                            "seconds": 0.0, "texts_per_s": None}
    data = json.loads(invoke("similar", SEED_FINDING, "--threshold", "0.6", "--limit", "3", "--json").stdout)
    assert len(data) == 3 and {"id", "kind", "title", "score", "duplicate"} <= set(data[0])
    assert data[0]["method"] == {"kind": "exact"}  # a small graph: every pair compared
    assert data[0]["score"] >= data[-1]["score"] >= 0.6
    text = invoke("similar", SEED_FINDING).stdout
    assert "source listed 0.785" in text
    bad = invoke("similar", "finding:nope", ok=False)
    assert bad.exit_code == 1 and bad.stderr.strip().count("\n") == 0 and "no node" in bad.stderr


def test_similarity_modules_import_nothing_heavy():
    code = ("import sys\nimport graph.similarity, graph.embeddings, graph.curation, app.commands.similarity\n"
            "heavy = [m for m in ('torch', 'numpy', 'sentence_transformers', 'transformers') if m in sys.modules]\n"
            "print('HEAVY', heavy)\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert "HEAVY []" in proc.stdout, proc.stdout + proc.stderr
