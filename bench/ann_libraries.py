"""The index libraries :mod:`bench.ann` measures, each behind one shape: ``build(m) -> search(q, k)``.

usearch, hnswlib, faiss (HNSW, IVF, and IVF as :mod:`graph.ann` builds it) and voyager; only faiss is a runtime
dependency, the others come with ``pip install -e '.[ann-bench]'`` and are skipped when absent.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

THREADS = 2  # the machine has 2 cores

# ---- the libraries: build(m) -> search(q, k) -> (keys (r, k) int64, cosine (r, k) float32) ----------
Search = Callable[[np.ndarray, int], tuple[np.ndarray, np.ndarray]]


def _usearch(params: dict[str, Any]) -> Callable[[np.ndarray], Search]:
    from usearch.index import Index

    def build(m: np.ndarray) -> Search:
        index = Index(ndim=m.shape[1], metric="ip", dtype=params.get("dtype", "f32"),
                      connectivity=params["M"], expansion_add=params["ef_construction"],
                      expansion_search=params["ef"])
        index.add(np.arange(len(m), dtype=np.uint64), m, threads=THREADS)

        def search(q: np.ndarray, k: int):
            r = index.search(q, k, threads=THREADS)
            if len(q) == 1:  # one query answers Matches (found hits only), not BatchMatches
                keys = np.full((1, k), -1, np.int64)
                dist = np.full((1, k), 2.0, np.float32)
                keys[0, :len(r.keys)] = r.keys
                dist[0, :len(r.keys)] = r.distances
                return keys, 1 - dist
            keys = np.asarray(r.keys, dtype=np.int64)
            dist = np.asarray(r.distances, dtype=np.float32)
            keys = np.where(np.arange(keys.shape[1]) < np.asarray(r.counts)[:, None], keys, -1)
            return keys, 1 - dist
        return search
    return build


def _hnswlib(params: dict[str, Any]) -> Callable[[np.ndarray], Search]:
    import hnswlib

    def build(m: np.ndarray) -> Search:
        index = hnswlib.Index(space="ip", dim=m.shape[1])
        index.init_index(max_elements=len(m), ef_construction=params["ef_construction"], M=params["M"])
        index.set_num_threads(THREADS)
        index.add_items(m, np.arange(len(m)), num_threads=THREADS)
        index.set_ef(params["ef"])

        def search(q: np.ndarray, k: int):
            index.set_ef(max(params["ef"], k))
            labels, dist = index.knn_query(q, k=k, num_threads=THREADS)
            return labels.astype(np.int64), 1 - dist
        return search
    return build


def _faiss_search(index: Any, before: Callable[[int], None] | None = None) -> Search:
    def search(q: np.ndarray, k: int):
        if before is not None:
            before(k)
        sims, labels = index.search(q, k)
        return labels.astype(np.int64), sims
    return search


def _faiss_hnsw(params: dict[str, Any]) -> Callable[[np.ndarray], Search]:
    import faiss

    def build(m: np.ndarray) -> Search:
        faiss.omp_set_num_threads(THREADS)
        index = faiss.IndexHNSWFlat(m.shape[1], params["M"], faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = params["ef_construction"]
        index.add(m)
        return _faiss_search(index, lambda k: setattr(index.hnsw, "efSearch", max(params["ef"], k)))
    return build


def _faiss_ivf(params: dict[str, Any]) -> Callable[[np.ndarray], Search]:
    import faiss

    def build(m: np.ndarray) -> Search:
        faiss.omp_set_num_threads(THREADS)
        nlist = params["nlist"] or max(16, int(4 * np.sqrt(len(m))))
        quant = faiss.IndexFlatIP(m.shape[1])
        index = faiss.IndexIVFFlat(quant, m.shape[1], nlist, faiss.METRIC_INNER_PRODUCT)
        rng = np.random.default_rng(0)
        index.train(m[rng.choice(len(m), min(len(m), 64 * nlist), replace=False)])
        index.add(m)
        index.nprobe = params["nprobe"]
        return _faiss_search(index)
    return build


def _integrated(params: dict[str, Any]) -> Callable[[np.ndarray], Search]:
    """The index as graph.ann builds it (same training, nlist and nprobe), searched through faiss."""
    from graph import ann
    from graph.similarity import VectorIndex

    def build(m: np.ndarray) -> Search:
        vidx = VectorIndex("bench", ids=[f"n{k}" for k in range(len(m))], buf=m)
        vidx.pos = {i: k for k, i in enumerate(vidx.ids)}
        a = ann.AnnIndex("bench", m.shape[1], None)
        a.build(vidx)

        def search(q: np.ndarray, k: int):
            sims, ids = a.index.search(np.ascontiguousarray(q), k)
            return np.where(ids >= 0, a.rows_of(ids), -1), sims
        return search
    return build


def _voyager(params: dict[str, Any]) -> Callable[[np.ndarray], Search]:
    import voyager

    def build(m: np.ndarray) -> Search:
        index = voyager.Index(voyager.Space.InnerProduct, num_dimensions=m.shape[1], M=params["M"],
                              ef_construction=params["ef_construction"], max_elements=len(m))
        index.add_items(m, ids=list(range(len(m))), num_threads=THREADS)

        def search(q: np.ndarray, k: int):
            labels, dist = index.query(q, k=k, num_threads=THREADS, query_ef=max(params["ef"], k))
            labels, dist = np.atleast_2d(labels), np.atleast_2d(dist)
            return labels.astype(np.int64), 1 - dist
        return search
    return build


CONFIGS: list[tuple[str, str, str, Callable, dict[str, Any]]] = [
    # (library, import name, label, builder, params)
    ("usearch", "usearch", "HNSW f32 M=16 efC=128 ef=64", _usearch,
     {"M": 16, "ef_construction": 128, "ef": 64}),
    ("usearch", "usearch", "HNSW f16 M=16 efC=128 ef=64", _usearch,
     {"M": 16, "ef_construction": 128, "ef": 64, "dtype": "f16"}),
    ("hnswlib", "hnswlib", "HNSW M=16 efC=128 ef=64", _hnswlib, {"M": 16, "ef_construction": 128, "ef": 64}),
    ("faiss", "faiss", "IVFFlat as graph.ann (nprobe=32)", _integrated, {}),
    ("faiss", "faiss", "IVFFlat nlist=4·√n nprobe=16", _faiss_ivf, {"nlist": 0, "nprobe": 16}),
    ("faiss", "faiss", "HNSWFlat M=16 efC=128 ef=64", _faiss_hnsw, {"M": 16, "ef_construction": 128, "ef": 64}),
    ("voyager", "voyager", "HNSW M=16 efC=128 ef=64", _voyager, {"M": 16, "ef_construction": 128, "ef": 64}),
]


def available(module: str) -> bool:
    try:
        __import__(module)
        return True
    except ImportError:
        return False
