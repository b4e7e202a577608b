"""The approximate index (graph.ann): agreement with exact search, persistence, incremental updates,
stale or corrupt files rebuilt, ``--exact`` and the method in the JSON.

A few hundred clustered 48-d vectors stored under the nodes' real text hashes (so nothing is embedded and no
model loads), with the size threshold forced down to 2 vectors (FINDINGS_ANN_MIN_ROWS).
"""
from __future__ import annotations

import json
import sqlite3

import numpy as np
import pytest
from typer.testing import CliRunner

from db import records as r
from graph import ann
from graph.api import Graph
from graph.embeddings import DEFAULT_MODEL, node_text, text_hash, to_bytes
from graph.ids import normalize_title
from graph.similarity import candidate_pairs, clear_cache, similar, vector_index

N, DIM = 300, 48


def clustered(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((n // 6, DIM)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    noise = rng.standard_normal((n, DIM)).astype(np.float32) * np.float32(0.6 / np.sqrt(DIM))
    m = centres[rng.integers(0, len(centres), n)] + noise
    return (m / np.linalg.norm(m, axis=1, keepdims=True)).astype(np.float32)


def put(g: Graph, k: int, vec: np.ndarray) -> str:
    nid, title = f"finding:ann-{k}", f"synthetic finding number {k}"
    with g.store.transaction() as tx:
        if tx.get_node(nid) is None:
            tx.insert_node(r.Node(id=nid, kind="finding", title=title), normalize_title(title))
        tx.upsert_embedding(nid, DEFAULT_MODEL, text_hash(node_text(title, "")), to_bytes(vec), DIM)
    return nid


@pytest.fixture
def graph(tmp_path, monkeypatch):
    monkeypatch.setenv(ann.ANN_MIN_ROWS_ENV, "2")
    monkeypatch.delenv(ann.METHOD_ENV, raising=False)
    clear_cache()
    g = Graph(str(tmp_path / "findings.db"))
    for k, v in enumerate(clustered(N)):
        put(g, k, v)
    yield g
    clear_cache()
    g.store.dispose()


def pairs(found) -> dict[tuple[str, str], float]:
    return {(c.a["id"], c.b["id"]): c.score for c in found}


def manifest(g: Graph) -> dict:
    return json.loads((ann.index_dir(g.store.url) / f"{DEFAULT_MODEL}.json").read_text())


def refresh(g: Graph) -> None:
    vector_index(g, max_age=0)  # see other writes now, not after the cache's stamp interval


def test_approximate_agrees_with_exact(graph):
    exact = candidate_pairs(graph, threshold=0.5, exact=True)
    approx = candidate_pairs(graph, threshold=0.5)
    assert exact.method.kind == "exact" and approx.method.kind == "approximate"
    assert approx.method.library == "faiss"
    assert len(exact) > 50  # the clusters give pairs to find
    assert pairs(approx).keys() == pairs(exact).keys()
    for key, score in pairs(approx).items():  # rescored exactly: the same float32 scores
        assert score == pytest.approx(pairs(exact)[key], abs=1e-6)
    for k in (0, 17, 123):
        a = similar(graph, f"finding:ann-{k}", threshold=0.5, limit=None)
        e = similar(graph, f"finding:ann-{k}", threshold=0.5, limit=None, exact=True)
        assert a.method.kind == "approximate" and e.method.kind == "exact"
        assert [(m.id, round(m.score, 6)) for m in a] == [(m.id, round(m.score, 6)) for m in e]


def test_probing_few_lists_can_miss_pairs_but_never_invents_one(graph, monkeypatch):
    """With 2 of the 7 lists probed the index is really approximate: every pair it reports is an exact pair with
    its exact score, and most pairs are still found."""
    monkeypatch.setitem(ann.PARAMS, "nprobe", 2)
    exact = pairs(candidate_pairs(graph, threshold=0.5, exact=True))
    approx = candidate_pairs(graph, threshold=0.5)
    assert approx.method.to_json()["params"]["nprobe"] == 2 and approx.method.to_json()["params"]["nlist"] == 7
    got = pairs(approx)
    assert got.keys() <= exact.keys() and all(got[p] == pytest.approx(exact[p], abs=1e-6) for p in got)
    assert 0.6 <= len(got) / len(exact) < 1.0


def test_exact_below_the_threshold_and_by_setting(graph, monkeypatch):
    monkeypatch.setenv(ann.ANN_MIN_ROWS_ENV, str(N + 1))
    assert candidate_pairs(graph, threshold=0.5).method.kind == "exact"
    monkeypatch.setenv(ann.ANN_MIN_ROWS_ENV, "2")
    monkeypatch.setenv(ann.METHOD_ENV, "exact")
    assert candidate_pairs(graph, threshold=0.5).method.kind == "exact"
    monkeypatch.setenv(ann.METHOD_ENV, "sometimes")
    with pytest.raises(ValueError, match="FINDINGS_SIMILARITY"):
        candidate_pairs(graph, threshold=0.5)


def test_persisted_and_reopened_without_rebuild(graph):
    first = pairs(candidate_pairs(graph, threshold=0.5))
    folder = ann.index_dir(graph.store.url)
    assert folder.name == "findings.db.ann" and (folder / f"{DEFAULT_MODEL}.faiss").is_file()
    m = manifest(graph)
    assert (m["model"], m["dim"], m["count"], m["builds"]) == (DEFAULT_MODEL, DIM, N, 1)
    clear_cache()  # a new process: the index comes from the file
    assert pairs(candidate_pairs(graph, threshold=0.5)) == first
    assert manifest(graph)["builds"] == 1


def test_incremental_add_replace_remove(graph):
    candidate_pairs(graph, threshold=0.5)
    base = clustered(N)
    near0 = base[0] + 0.05 * base[1]
    new = put(graph, N, near0 / np.linalg.norm(near0))  # a new node close to node 0
    put(graph, 5, base[0])  # node 5 re-embedded: now identical to node 0
    with sqlite3.connect(graph.store.url.split("///", 1)[1]) as con:  # node 7 loses its vector
        con.execute("DELETE FROM embeddings WHERE node_id = 'finding:ann-7'")
    refresh(graph)
    found = pairs(candidate_pairs(graph, threshold=0.5))
    exact = pairs(candidate_pairs(graph, threshold=0.5, exact=True))
    assert found.keys() == exact.keys()
    assert ("finding:ann-0", new) in found and ("finding:ann-0", "finding:ann-5") in found
    assert not any("finding:ann-7" in p for p in found)
    m = manifest(graph)  # a few changes stay in memory: the file and its manifest still hold the first build
    assert (m["builds"], m["saves"], m["updates"], m["count"]) == (1, 1, 0, N)
    # the same changes seen from a new process that opens the saved file and re-applies the store's delta
    put(graph, N + 1, base[3])
    clear_cache()
    found = pairs(candidate_pairs(graph, threshold=0.5))
    assert ("finding:ann-3", f"finding:ann-{N + 1}") in found
    assert ("finding:ann-0", new) in found and ("finding:ann-0", "finding:ann-5") in found
    assert not any("finding:ann-7" in p for p in found)
    assert found.keys() == pairs(candidate_pairs(graph, threshold=0.5, exact=True)).keys()
    assert manifest(graph)["builds"] == 1 and manifest(graph)["saves"] == 1


def test_small_updates_are_not_saved_until_the_threshold(graph, monkeypatch):
    """Adding a node rewrites no file (at 1M the file is 1.5 GB); the manifest keeps the stamp the file holds,
    so a new process still finds the node (re-applied from the store); past the threshold the file is written."""
    monkeypatch.setattr(ann, "EXTRA_MERGE", 2)  # 3 appended keys merge into the sorted ones, 2 stay in the side table
    candidate_pairs(graph, threshold=0.5)
    folder = ann.index_dir(graph.store.url)
    index_file, manifest_file = folder / f"{DEFAULT_MODEL}.faiss", folder / f"{DEFAULT_MODEL}.json"
    before = (index_file.stat().st_mtime_ns, index_file.stat().st_size, manifest_file.read_bytes())
    m0 = manifest(graph)
    assert (m0["saves"], m0["count"]) == (1, N)
    base = clustered(N)
    added = [put(graph, N + k, base[k]) for k in range(3)]  # near-copies of nodes 0, 1, 2
    refresh(graph)
    found = pairs(candidate_pairs(graph, threshold=0.5))
    assert all((f"finding:ann-{k}", added[k]) in found for k in range(3))
    assert (index_file.stat().st_mtime_ns, index_file.stat().st_size, manifest_file.read_bytes()) == before
    refresh(graph)  # a later sync with nothing new must not move the manifest's stamp past the file either
    candidate_pairs(graph, threshold=0.5)
    assert manifest_file.read_bytes() == before[2]
    clear_cache()  # a new process: the file lacks the 3 nodes, the store's delta puts them back
    found = pairs(candidate_pairs(graph, threshold=0.5))
    assert all((f"finding:ann-{k}", added[k]) in found for k in range(3))
    assert found.keys() == pairs(candidate_pairs(graph, threshold=0.5, exact=True)).keys()
    assert (index_file.stat().st_mtime_ns, index_file.stat().st_size, manifest_file.read_bytes()) == before
    # past the threshold (5 changes here) the file is rewritten and the manifest's stamp and count follow
    monkeypatch.setattr(ann, "SAVE_MIN_CHANGES", 5)
    for k in range(3, 5):
        put(graph, N + k, base[k])
    refresh(graph)
    found = pairs(candidate_pairs(graph, threshold=0.5))  # nodes N+3, N+4 found through the side table
    assert all(tuple(sorted((f"finding:ann-{k}", f"finding:ann-{N + k}"))) in found for k in range(5))
    assert f"finding:ann-{N + 4}" in [x.id for x in similar(graph, "finding:ann-4", threshold=0.5, limit=None)]
    m = manifest(graph)
    assert (m["saves"], m["count"], m["builds"]) == (2, N + 5, 1)
    assert index_file.stat().st_size > before[1]
    assert m["stamp"][0] == N + 5
    clear_cache()
    found = pairs(candidate_pairs(graph, threshold=0.5))
    assert all(tuple(sorted((f"finding:ann-{k}", f"finding:ann-{N + k}"))) in found for k in range(5))
    assert manifest(graph)["saves"] == 2


def test_corrupt_index_is_rebuilt(graph):
    first = pairs(candidate_pairs(graph, threshold=0.5))
    path = ann.index_dir(graph.store.url) / f"{DEFAULT_MODEL}.faiss"
    path.write_bytes(b"not an index" * 100)
    clear_cache()
    assert pairs(candidate_pairs(graph, threshold=0.5)) == first
    assert manifest(graph)["builds"] == 2


def test_stale_index_is_rebuilt(graph, tmp_path):
    """An index file of another database (same model, count and dimension) fails the spot check."""
    first = pairs(candidate_pairs(graph, threshold=0.5))
    other = Graph(str(tmp_path / "other.db"))
    for k, v in enumerate(clustered(N, seed=9)):
        put(other, k, v)
    candidate_pairs(other, threshold=0.5)
    src, dst = ann.index_dir(other.store.url), ann.index_dir(graph.store.url)
    for name in (f"{DEFAULT_MODEL}.faiss", f"{DEFAULT_MODEL}.json"):
        (dst / name).write_bytes((src / name).read_bytes())
    other.store.dispose()
    clear_cache()
    assert pairs(candidate_pairs(graph, threshold=0.5)) == first
    assert manifest(graph)["builds"] == 2


def test_manifest_of_another_model_setting_is_rebuilt(graph):
    candidate_pairs(graph, threshold=0.5)
    path = ann.index_dir(graph.store.url) / f"{DEFAULT_MODEL}.json"
    m = manifest(graph)
    m["params"] = {**m["params"], "connectivity": 4}
    path.write_text(json.dumps(m))
    clear_cache()
    candidate_pairs(graph, threshold=0.5)
    assert manifest(graph)["builds"] == 2


def test_probe_rule_change_needs_no_rebuild(graph, monkeypatch):
    """nprobe is a query-time setting: a manifest written under another probe rule is reopened, not rebuilt,
    and queries probe as the current rule says."""
    candidate_pairs(graph, threshold=0.5)
    path = ann.index_dir(graph.store.url) / f"{DEFAULT_MODEL}.json"
    m = manifest(graph)
    m["params"] = {**m["params"], "nprobe": 1, "probe_fraction": 0.0}
    path.write_text(json.dumps(m))
    monkeypatch.setitem(ann.PARAMS, "nprobe", 3)
    clear_cache()
    found = candidate_pairs(graph, threshold=0.5)
    assert manifest(graph)["builds"] == 1
    assert found.method.to_json()["params"]["nprobe"] == ann.n_probe(7) == 3  # max(3, ⌈0.026·7⌉)
    one = similar(graph, "finding:ann-0", threshold=0.5)
    assert one.method.to_json()["params"]["nprobe"] == ann.n_probe(7, one=True) == 3


def test_index_dir_of_postgres_hides_the_password(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    a = ann.index_dir("postgresql+psycopg://me:secret@db.example/findings")
    b = ann.index_dir("postgresql+psycopg://me:other@db.example/findings")
    assert a == b and a.parent == tmp_path / "findings" / "ann" and "secret" not in str(a)
    assert ann.index_dir("sqlite://") is None


def test_cli_exact_flag_and_method_in_json(graph, monkeypatch):
    from app.cli import app

    monkeypatch.setenv("FINDINGS_DB", graph.store.url.split("///", 1)[1])
    run = CliRunner()
    for args, kind in ((["similar", "finding:ann-0", "--threshold", "0.5", "--json"], "approximate"),
                       (["similar", "finding:ann-0", "--threshold", "0.5", "--json", "--exact"], "exact"),
                       (["curate", "list", "--threshold", "0.5", "--json"], "approximate"),
                       (["curate", "list", "--threshold", "0.5", "--json", "--exact"], "exact")):
        res = run.invoke(app, args)
        assert res.exit_code == 0, res.output
        data = json.loads(res.stdout)
        assert data and {d["method"]["kind"] for d in data} == {kind}, args
    res = run.invoke(app, ["curate", "list", "--threshold", "0.5"])
    assert res.exit_code == 0 and "approximate (faiss" in res.stderr


def test_rows_of_keeps_the_shape_of_its_keys(graph):
    """Top-k searches hand back a (queries, k) grid of keys, -1 where faiss found nothing (bench.ann's harness)."""
    candidate_pairs(graph, threshold=0.5)
    a = next(iter(ann._ANN.values()))
    keys = a.sorted_keys[:6]
    flat = a.rows_of(keys)
    grid = a.rows_of(np.concatenate([keys, [-1, -1]]).reshape(2, 4))
    assert (flat >= 0).all() and grid.shape == (2, 4)
    assert grid.ravel().tolist() == flat.tolist() + [-1, -1]
