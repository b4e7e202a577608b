"""Approximate nearest-neighbour indexes for similarity candidates, measured before one was chosen.

    python -m bench.ann [--n 100000] [--big 1000000] [--libs usearch hnswlib faiss voyager] [--data planted clustered]
    python -m bench.ann --data --big 0 --embed 0 --recall-1m --add-one 1000000   # graph.ann at 1M only

What is measured, per library and configuration, on 384-d unit vectors (MiniLM's shape):

- build: adding every vector to an empty index (2 threads; the machine has 2 cores);
- recall of the all-pairs candidate set: every row queried for its top ``k`` (re-queried with a larger ``k``
  where the ``k``-th hit is still above the threshold), the pairs found rescored exactly in float32 and kept at
  cosine >= 0.65, against the exact set of :func:`graph.similarity.pairs_above`;
- all-pairs time: those batch queries plus rescoring;
- one node: the median time of one query (k = 64) for a single vector;
- at ``--big`` (1M) rows, for the libraries named in ``--big-libs``: the build and one new node's query;
- ``--recall-1m``: graph.ann's recall at 1M rows for several nprobe, without an exact all-pairs run (sampled
  queries' exact candidate sets against every row), with its standard error and one query's time;
- ``--add-one N``: one new node at N rows through graph.ann (cache append, in-place update with the deferred
  save, range search, rescoring), the file save it no longer pays, and a new process re-applying the delta.

Two kinds of generated data: ``planted`` (random unit rows, 2% of them near-copies of another row: the
exact bench's data, :func:`bench.similarity.unit_vectors`) and ``clustered`` (rows drawn around cluster
centres with a spread that puts a typical pair of the same cluster near the 0.65 threshold, so neighbourhoods
are crowded and many pairs sit just above or below the cut: the hard case for recall).

Libraries that are not installed are skipped with a line saying so (``pip install -e '.[ann-bench]'``).
Prints a table and writes bench/results/ann.json; every row carries the load average when it was measured.

The figures and the choice they led to are in README, "Approximate similarity".
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from bench import load, write_results  # noqa: E402
from bench.ann_libraries import CONFIGS, THREADS, Search, available  # noqa: E402
from bench.similarity import DIM, unit_vectors  # noqa: E402

THRESHOLD = 0.65
RESULTS = ROOT / "bench" / "results" / "ann.json"


def clustered_vectors(n: int, seed: int = 0, per_cluster: int = 8, spread: float = 0.75) -> np.ndarray:
    """Unit rows around ``n / per_cluster`` random centres (cluster sizes vary: geometric around ``per_cluster``).

    A row is centre + noise of norm ``spread``: two rows of one cluster meet at cosine ≈ 1 / (1 + spread²)
    (0.64 at the default), so about half of the same-cluster pairs lie above 0.65.
    """
    rng = np.random.default_rng(seed)
    k = max(1, n // per_cluster)
    centres = rng.standard_normal((k, DIM), dtype=np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    weights = rng.geometric(1 / per_cluster, k).astype(np.float64)
    which = rng.choice(k, n, p=weights / weights.sum())
    m = rng.standard_normal((n, DIM), dtype=np.float32)
    m *= np.float32(spread) / np.linalg.norm(m, axis=1, keepdims=True)
    m += centres[which]
    m /= np.linalg.norm(m, axis=1, keepdims=True)
    return m


def generate(kind: str, n: int, seed: int = 0) -> np.ndarray:
    return unit_vectors(n, seed=seed) if kind == "planted" else clustered_vectors(n, seed=seed)


def exact_pairs(m: np.ndarray, cache: Path | None = None) -> set[tuple[int, int]]:
    """The exact candidate set (from ``cache``, an .npz of a previous run on the same data, when given and present)."""
    from graph.similarity import pairs_above

    if cache is not None and cache.is_file():
        with np.load(cache) as f:
            i, j = f["i"], f["j"]
    else:
        i, j, _ = pairs_above(m, THRESHOLD, precision="float32")
        if cache is not None:
            cache.parent.mkdir(parents=True, exist_ok=True)
            np.savez(cache, i=i, j=j)
    return set(zip(i.tolist(), j.tolist()))


def approx_pairs(m: np.ndarray, search: Search, k: int = 32, batch: int = 8192) -> set[tuple[int, int]]:
    """All pairs at cosine >= THRESHOLD that the index finds, rescored exactly (the integration's method)."""
    found_i, found_j = [], []
    todo = np.arange(len(m))
    while len(todo):
        full = []
        for s in range(0, len(todo), batch):
            rows = todo[s:s + batch]
            keys, sims = search(m[rows], min(k, len(m)))
            ok = (keys >= 0) & (sims >= THRESHOLD - 0.02) & (keys != rows[:, None])
            r, c = np.nonzero(ok)
            found_i.append(rows[r])
            found_j.append(keys[r, c])
            if k < len(m):
                full.append(rows[sims[:, -1] >= THRESHOLD - 0.02])  # its k-th hit is still close: ask for more
        todo = np.concatenate(full) if full else np.empty(0, np.int64)
        k *= 4
    i, j = np.concatenate(found_i), np.concatenate(found_j)
    a, b = np.minimum(i, j), np.maximum(i, j)
    s = np.einsum("ij,ij->i", m[a], m[b])
    keep = s >= np.float32(THRESHOLD)
    return set(zip(a[keep].tolist(), b[keep].tolist()))


def one_query_ms(m: np.ndarray, search: Search, reps: int = 50) -> float:
    rng = np.random.default_rng(1)
    times = []
    for r in rng.integers(0, len(m), reps):
        q = m[r:r + 1]
        t = time.perf_counter()
        search(q, 64)
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1000


def measure(lib: str, label: str, builder: Callable, params: dict[str, Any], m: np.ndarray,
            exact: set[tuple[int, int]] | None) -> dict[str, Any]:
    load_before = load()
    t = time.perf_counter()
    search = builder(params)(m)
    build_s = time.perf_counter() - t
    row: dict[str, Any] = {"library": lib, "config": label, "n": len(m), "build_s": round(build_s, 2),
                           "query_ms": round(one_query_ms(m, search), 3)}
    if exact is not None:
        t = time.perf_counter()
        got = approx_pairs(m, search)
        row["all_pairs_s"] = round(time.perf_counter() - t, 2)
        row["exact_pairs"] = len(exact)
        row["recall"] = round(len(got & exact) / max(1, len(exact)), 5)
    row["load_avg"] = f"{load_before} -> {load()}"
    return row


def crossover(n: int) -> dict[str, Any]:
    """All pairs at ``n`` clustered vectors both ways as the store runs them: exact (graph.similarity.pairs_above,
    float32) and approximate (graph.ann: build the index, then its range search and exact rescoring), with recall.
    Where the approximate time drops below the exact one is where ANN_MIN_ROWS belongs."""
    from graph import ann
    from graph.similarity import VectorIndex, pairs_above

    m = clustered_vectors(n, seed=3)
    before = load()
    t = time.perf_counter()
    i, j, _ = pairs_above(m, THRESHOLD, precision="float32")
    exact_s = time.perf_counter() - t
    exact = set(zip(i.tolist(), j.tolist()))
    mid = load()
    vidx = VectorIndex("bench", ids=[f"n{k}" for k in range(n)], buf=m)
    a = ann.AnnIndex("bench", DIM, None)
    t = time.perf_counter()
    a.build(vidx)
    build_s = time.perf_counter() - t
    rows = np.arange(n)
    t = time.perf_counter()
    i, j, _ = ann.pairs_above(a, m, rows, n, THRESHOLD)
    pairs_s = time.perf_counter() - t
    got = set(zip(i.tolist(), j.tolist()))
    return {"n": n, "exact_s": round(exact_s, 1), "exact_pairs": len(exact), "ann_build_s": round(build_s, 1),
            "ann_pairs_s": round(pairs_s, 1), "recall": round(len(got & exact) / max(1, len(exact)), 5),
            "false_pairs": len(got - exact), "method": ann.method(a).to_json(),
            "load_avg": f"exact {before} -> {mid}; approximate -> {load()}"}


def recall_sampled(n: int, n_queries: int = 2000, nprobes: tuple[int, ...] = (32, 102, 192, 300, 400, 600, 800),
                   seed: int = 5) -> dict[str, Any]:
    """Recall of graph.ann's index at ``n`` clustered vectors without an exact all-pairs run: ``n_queries``
    sampled rows get their exact candidate sets (cosine >= THRESHOLD against all ``n`` rows, float32 matmul in
    blocks) and the index's range-search candidates (rescored exactly, as the store does), for each nprobe.

    Recall = found / exact pairs pooled over the queries; ``se`` is the binomial standard error
    sqrt(p(1 - p) / exact pairs), ``se_by_query`` the ratio-estimator error with the queries as the sampling
    unit (pairs of one query are not independent). ``query_ms``: the median of one-row range searches.

    Two recalls: ``recall`` is one node's (``similar``: the query's own search must find the partner);
    ``pair_recall`` is the all-pairs list's (``curate list``: a pair is found when either end's search finds
    the other), computed from list assignments: a search finds a vector iff the vector's list is among the
    query's ``nprobe`` nearest centroids (checked against the range search's own count for the query side).
    From the same ranks, ``smallest_nprobe`` gives the least nprobe reaching each recall level."""
    from graph import ann
    from graph.similarity import VectorIndex

    m = clustered_vectors(n, seed=seed)
    vidx = VectorIndex("bench", ids=[f"n{k}" for k in range(n)], buf=m)
    a = ann.AnnIndex("bench", DIM, None)
    before = load()
    t = time.perf_counter()
    a.build(vidx)
    build_s = time.perf_counter() - t
    after_build = load()
    rng = np.random.default_rng(7)
    qrows = np.sort(rng.choice(n, n_queries, replace=False))
    q = np.ascontiguousarray(m[qrows])
    t = time.perf_counter()
    ei, ej = [], []
    for s in range(0, n, 32768):
        qi, cj = np.nonzero(q @ m[s:s + 32768].T >= np.float32(THRESHOLD - 1e-4))
        ei.append(qi)
        ej.append(cj + s)
    ei, ej = np.concatenate(ei), np.concatenate(ej)

    def rescored(i: np.ndarray, j: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        keep = j != qrows[i]  # a row is not its own candidate
        i, j = i[keep], j[keep]
        keep = np.einsum("ij,ij->i", q[i], m[j]) >= np.float32(THRESHOLD)  # the same float32 score both ways
        return i[keep], j[keep]

    ei, ej = rescored(ei, ej)
    exact_s = time.perf_counter() - t
    exact = set(zip(ei.tolist(), ej.tolist()))
    per_exact = np.bincount(ei, minlength=n_queries).astype(np.float64)
    # rank of the partner's list among the query's nearest centroids, and of the query's among the partner's
    quant, nlist = a.index.quantizer, int(a.index.nlist)
    partners, pj = np.unique(ej, return_inverse=True)
    q_lists = quant.search(q, nlist)[1]
    home_q = q_lists[:, 0]
    rank_f = np.full(len(ei), nlist, np.int64)
    rank_r = np.full(len(ei), nlist, np.int64)
    home_p = np.empty(len(partners), np.int64)
    for s in range(0, len(partners), 2048):
        p_lists = quant.search(np.ascontiguousarray(m[partners[s:s + 2048]]), nlist)[1]
        home_p[s:s + 2048] = p_lists[:, 0]
        inv = np.empty_like(p_lists)
        inv[np.arange(len(p_lists))[:, None], p_lists] = np.arange(nlist)  # list -> its rank for that partner
        sel = (pj >= s) & (pj < s + 2048)
        rank_r[sel] = inv[pj[sel] - s, home_q[ei[sel]]]
    inv_q = np.empty(nlist, np.int64)
    for i in range(n_queries):
        sel = np.flatnonzero(ei == i)
        if len(sel):
            inv_q[q_lists[i]] = np.arange(nlist)
            rank_f[sel] = inv_q[home_p[pj[sel]]]
    either = np.minimum(rank_f, rank_r)
    smallest = {}
    for level in (0.95, 0.97, 0.98, 0.99, 0.995):
        for name, rank in (("one_node", rank_f), ("pairs", either)):
            need = int(np.sort(rank)[min(len(rank) - 1, int(np.ceil(level * len(rank))) - 1)]) + 1
            smallest[f"{name} {level}"] = need
    rows = []
    for nprobe in nprobes:
        a.index.nprobe = min(nprobe, a.index.nlist)
        lb = load()
        t = time.perf_counter()
        fi, fj = rescored(*a.neighbours(q, THRESHOLD))
        batch_s = time.perf_counter() - t
        found = set(zip(fi.tolist(), fj.tolist())) & exact
        p = len(found) / max(1, len(exact))
        per_found = np.bincount(np.fromiter((x for x, _ in found), np.int64, len(found)),
                                minlength=n_queries).astype(np.float64)
        se_q = float(np.sqrt(((per_found - p * per_exact) ** 2).sum() * n_queries / (n_queries - 1))
                     / max(1.0, per_exact.sum()))
        times = []
        for r in range(100):
            t = time.perf_counter()
            a.neighbours(q[r:r + 1], THRESHOLD)
            times.append(time.perf_counter() - t)
        pp = float((either < a.index.nprobe).mean())
        rows.append({"nprobe": int(a.index.nprobe), "probed": round(a.index.nprobe / a.index.nlist, 4),
                     "recall": round(p, 5), "recall_from_ranks": round(float((rank_f < a.index.nprobe).mean()), 5),
                     "pair_recall": round(pp, 5),
                     "pair_se": round(float(np.sqrt(pp * (1 - pp) / max(1, len(exact)))), 5),
                     "se": round(float(np.sqrt(p * (1 - p) / max(1, len(exact)))), 5),
                     "se_by_query": round(se_q, 5), "found": len(found), "missed": len(exact) - len(found),
                     "query_ms": round(statistics.median(times) * 1000, 3), "batch_s": round(batch_s, 1),
                     "load_avg": f"{lb} -> {load()}"})
        r0 = rows[-1]
        print(f"[recall n={n:,}] nprobe {r0['nprobe']:>4} of {a.index.nlist}: recall {r0['recall']:.4f} "
              f"± {r0['se']:.4f} (by query ± {r0['se_by_query']:.4f}; from ranks {r0['recall_from_ranks']:.4f}), "
              f"pairs {r0['pair_recall']:.4f} ± {r0['pair_se']:.4f}, one query {r0['query_ms']:.2f} ms  "
              f"(load {r0['load_avg']})", flush=True)
    return {"n": n, "queries": n_queries, "nlist": int(a.index.nlist), "exact_pairs": len(exact),
            "build_s": round(build_s, 1), "build_load_avg": f"{before} -> {after_build}",
            "exact_s": round(exact_s, 1), "smallest_nprobe": smallest, "rows": rows}


def add_one(n: int, adds: int = 20, seed: int = 5) -> dict[str, Any]:
    """One new node at ``n`` clustered vectors through graph.ann as the store runs it: the vector appended to the
    cache, ``ann_index`` brings the persisted index up to date (a deferred save: nothing written), then the new
    node's range search and exact rescoring. Also timed: the first build with its save (the file rewrite that a
    save per update would cost every time) and a new process opening the file and re-applying the delta."""
    import shutil
    import tempfile
    from datetime import datetime, timedelta

    from graph import ann
    from graph.embeddings import to_bytes
    from graph.similarity import VectorIndex

    m = clustered_vectors(n, seed=seed)
    vidx = VectorIndex("bench", ids=[f"n{k}" for k in range(n)])
    vidx.buf = np.empty((n + adds, DIM), np.float32)
    vidx.buf[:n] = m
    vidx.pos = {i: k for k, i in enumerate(vidx.ids)}
    t0 = datetime(2026, 1, 1)
    vidx.stamp = (n, t0)
    written: list[tuple[str, datetime]] = []

    def changed_since(stamp: tuple[int, Any]) -> list[str]:
        return [i for i, at in written if at > stamp[1]]

    tmp = tempfile.mkdtemp(prefix="bench-ann-add-")
    url = f"sqlite:///{tmp}/bench.db"
    try:
        ann.clear_cache()
        before = load()
        t = time.perf_counter()
        a = ann.ann_index(url, vidx, changed_since)
        build_s = time.perf_counter() - t
        build_load = f"{before} -> {load()}"
        path = a.index_path
        size, mtime = path.stat().st_size, path.stat().st_mtime_ns
        t = time.perf_counter()
        a.save()  # what every update cost before the deferred save
        save_s = time.perf_counter() - t
        size, mtime, saves = path.stat().st_size, path.stat().st_mtime_ns, a.saves
        rng = np.random.default_rng(11)
        times, hits, before = [], [], load()
        for k in range(adds):
            src = m[rng.integers(n)]
            v = src + np.float32(0.3 / np.sqrt(DIM)) * rng.standard_normal(DIM, dtype=np.float32)
            v /= np.linalg.norm(v)
            node = f"new{k}"
            t = time.perf_counter()
            vidx.put([(node, to_bytes(v), "h")])  # what note_written / the cache refresh does
            written.append((node, t0 + timedelta(seconds=k + 1)))
            vidx.stamp = (n + k + 1, written[-1][1])
            a = ann.ann_index(url, vidx, changed_since)
            me = vidx.pos[node]
            _, near = a.neighbours(vidx.matrix[me:me + 1], THRESHOLD, one=True)  # as similar() asks
            near = near[near != me]
            keep = vidx.matrix[near] @ vidx.matrix[me] >= np.float32(THRESHOLD)
            times.append(time.perf_counter() - t)
            hits.append(int(keep.sum()))
        add_load = f"{before} -> {load()}"
        unchanged = (path.stat().st_size, path.stat().st_mtime_ns, a.saves) == (size, mtime, saves)
        ann.clear_cache()  # a new process: open the file, re-apply the store's delta (the nodes added above)
        before = load()
        t = time.perf_counter()
        b = ann.ann_index(url, vidx, changed_since)
        reopen_s = time.perf_counter() - t
        reopen_load = f"{before} -> {load()}"
        ok = b.builds == 1 and int(b.index.ntotal) == n + adds and b.unsaved == adds
    finally:
        ann.clear_cache()
        shutil.rmtree(tmp, ignore_errors=True)
    return {"n": n, "adds": adds, "build_s": round(build_s, 1), "build_load_avg": build_load,
            "file_gb": round(size / 1e9, 2), "save_s": round(save_s, 1),
            "add_ms_median": round(statistics.median(times) * 1000, 2), "add_ms_max": round(max(times) * 1000, 2),
            "add_load_avg": add_load, "candidates_median": statistics.median(hits),
            "file_unchanged": unchanged, "reopen_s": round(reopen_s, 1), "reopen_load_avg": reopen_load,
            "reopen_applied_delta": ok, "save_threshold": a.save_threshold()}


def embedding_throughput(n: int) -> dict[str, Any]:
    """``findings embed``'s path on ``n`` generated research sentences on the CPU (bench/embed_throughput.py,
    which also measures a GPU and paper-length texts); the model load is timed apart."""
    from bench.embed_throughput import measure

    r = measure("cpu", "sentences", [n], [64])
    row = r["rows"][0]
    return {"texts": n, "embedded": row["embedded"], "seconds": row["seconds"], "texts_per_s": row["texts_per_s"],
            "encode_texts_per_s": row["encode_texts_per_s"], "device": r["device"],
            "model_load_s": r["model_load_s"], "load_avg": row["load_avg"]}


def scale_rows(path: Path, table: Any) -> None:
    """Rows for ``make bench`` (bench/__main__.py) on its database: approximate candidates forced on."""
    from bench.similarity import timed_cpu
    from graph import ann
    from graph.api import Graph
    from graph.similarity import candidate_pairs, clear_cache, similar

    os.environ[ann.ANN_MIN_ROWS_ENV] = "2"
    try:
        g = Graph(str(path))
        clear_cache()
        cands, s, cpu = timed_cpu(candidate_pairs, g)
        table.add("approximate candidate build, index built first (graph.ann)", s, None,
                  f"cpu {cpu:.1f} s; {len(cands):,} candidates; {cands.method.describe()}")
        clear_cache()
        cands, s, cpu = timed_cpu(candidate_pairs, g)
        table.add("approximate candidate build, index opened from its file", s, None,
                  f"cpu {cpu:.1f} s; {len(cands):,} candidates")
        node = cands[0].a["id"] if cands else None
        if node:
            times = []
            for _ in range(5):
                t = time.perf_counter()
                similar(g, node, limit=20)
                times.append(time.perf_counter() - t)
            table.add("approximate similar() for one node (index warm)", statistics.median(times), 0.05,
                      "whole call: store reads, index range search, exact rescoring, candidate rules")
        g.store.dispose()
    finally:
        os.environ.pop(ann.ANN_MIN_ROWS_ENV, None)
        clear_cache()


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100_000, help="rows for the recall figures")
    ap.add_argument("--big", type=int, default=1_000_000, help="rows for the build/query-at-scale figures; 0 skips")
    ap.add_argument("--libs", nargs="+", default=["usearch", "hnswlib", "faiss", "voyager"])
    ap.add_argument("--big-libs", nargs="+", default=["usearch", "hnswlib", "faiss"],
                    help="libraries measured at --big (each build takes minutes on 2 cores)")
    ap.add_argument("--data", nargs="*", default=["planted", "clustered"], choices=["planted", "clustered"])
    ap.add_argument("--only", nargs="+", default=[], help="configurations whose 'library config' contains one of these")
    ap.add_argument("--out", type=Path, default=RESULTS, help="where the JSON goes")
    ap.add_argument("--exact-cache", type=Path, default=None,
                    help="keep the exact pairs here and reuse them (the exact time is then not measured again)")
    ap.add_argument("--crossover", type=int, nargs="*", default=[],
                    help="sizes at which all pairs are timed exact vs graph.ann's index (range search)")
    ap.add_argument("--embed", type=int, default=2000, help="texts for the embedding-throughput figure; 0 skips")
    ap.add_argument("--recall-1m", action="store_true",
                    help="graph.ann's recall at 1M clustered vectors per nprobe, from sampled queries' exact sets")
    ap.add_argument("--recall-n", type=int, default=1_000_000, help="rows for --recall-1m")
    ap.add_argument("--recall-queries", type=int, default=2000, help="sampled query rows for --recall-1m")
    ap.add_argument("--add-one", type=int, default=0,
                    help="rows at which one new node's update + candidates is timed through graph.ann; 0 skips")
    args = ap.parse_args(argv)

    result: dict[str, Any] = {"machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                                          "load_avg": os.getloadavg()},
                              "threshold": THRESHOLD, "threads": THREADS, "rows": [], "skipped": []}
    configs = [c for c in CONFIGS if c[0] in args.libs]
    for lib in sorted({c[0] for c in configs}):
        if not available(dict((c[0], c[1]) for c in configs)[lib]):
            line = f"{lib}: not installed, skipped (pip install -e '.[ann-bench]')"
            print(line, flush=True)
            result["skipped"].append(line)
    configs = [c for c in configs if available(c[1])
               and (not args.only or any(o in f"{c[0]} {c[2]}" for o in args.only))]
    configs.sort(key=lambda c: args.libs.index(c[0]))
    for kind in args.data:
        m = generate(kind, args.n)
        cache = None if args.exact_cache is None else args.exact_cache / f"exact-{kind}-{args.n}-{THRESHOLD}.npz"
        cached = cache is not None and cache.is_file()
        t = time.perf_counter()
        exact = exact_pairs(m, cache)
        exact_s = time.perf_counter() - t
        row = {"library": "exact", "config": "float32 BLAS, upper triangle" + (" (cached)" if cached else ""),
               "data": kind, "n": args.n, "exact_pairs": len(exact), "recall": 1.0, "load_avg": load()}
        if not cached:  # a cached set was not computed here: no time to report
            row["all_pairs_s"] = round(exact_s, 2)
        result["rows"].append(row)
        print(f"[{kind} n={args.n:,}] exact: {len(exact):,} pairs"
              + ("" if cached else f" in {exact_s:.1f} s") + f"  (load {load()})", flush=True)
        for lib, _, label, builder, params in configs:
            row = {"data": kind, **measure(lib, label, builder, params, m, exact)}
            result["rows"].append(row)
            print(f"[{kind} n={args.n:,}] {lib:<8} {label:<32} build {row['build_s']:7.1f} s  "
                  f"recall {row['recall']:.4f}  all-pairs {row['all_pairs_s']:6.1f} s  "
                  f"one {row['query_ms']:.2f} ms  (load {row['load_avg']})", flush=True)
        del m, exact
    if args.big:
        m = generate("clustered", args.big, seed=5)
        seen: set[str] = set()
        for lib, _, label, builder, params in configs:
            if lib not in args.big_libs or lib in seen:  # the first configuration of each library only
                continue
            seen.add(lib)
            row = {"data": "clustered", **measure(lib, label, builder, params, m, None)}
            result["rows"].append(row)
            print(f"[clustered n={args.big:,}] {lib:<8} {label:<32} build {row['build_s']:7.1f} s  "
                  f"one {row['query_ms']:.2f} ms  (load {row['load_avg']})", flush=True)
    for n in args.crossover:
        c = crossover(n)
        result.setdefault("crossover", []).append(c)
        print(f"[crossover n={n:,}] exact {c['exact_s']} s ({c['exact_pairs']:,} pairs); "
              f"index build {c['ann_build_s']} s + range search {c['ann_pairs_s']} s, recall {c['recall']}  "
              f"(load {c['load_avg']})", flush=True)
    if args.recall_1m:
        result["recall_sampled"] = recall_sampled(args.recall_n, args.recall_queries)
    if args.add_one:
        o = result["add_one"] = add_one(args.add_one)
        print(f"[add one n={args.add_one:,}] update + candidates median {o['add_ms_median']} ms "
              f"(max {o['add_ms_max']} ms), file unchanged: {o['file_unchanged']}; build {o['build_s']} s, "
              f"one save {o['save_s']} s of {o['file_gb']} GB, reopen + delta {o['reopen_s']} s  "
              f"(load {o['add_load_avg']})", flush=True)
    if args.embed:
        e = result["embedding"] = embedding_throughput(args.embed)
        print(f"embedding: {e['embedded']:,} texts in {e['seconds']} s = {e['texts_per_s']} texts/s on {e['device']} "
              f"(model load {e['model_load_s']} s; load {e['load_avg']})", flush=True)
    result["machine"]["load_avg_after"] = os.getloadavg()

    print()
    print(f"{'data':<10} {'n':>9} {'library':<8} {'config':<32} {'build':>9} {'recall':>8} {'all-pairs':>10} "
          f"{'one query':>10}  load avg")
    for r in result["rows"]:
        b = f"{r['build_s']:.1f} s" if "build_s" in r else "-"
        rc = f"{r['recall']:.4f}" if "recall" in r else "-"
        ap_s = f"{r['all_pairs_s']:.1f} s" if "all_pairs_s" in r else "-"
        q = f"{r['query_ms']:.2f} ms" if "query_ms" in r else "-"
        print(f"{r['data']:<10} {r['n']:>9,} {r['library']:<8} {r['config']:<32} {b:>9} {rc:>8} {ap_s:>10} "
              f"{q:>10}  {r['load_avg']}")
    write_results(args.out, result)
    print(f"wrote {args.out}")
    return result


if __name__ == "__main__":
    main()
