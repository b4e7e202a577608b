"""Similarity candidates: node pairs whose embeddings are close but that share no typed edge.

"Related by similarity — cosine ≥ 0.65 · no typed edge — candidates for new edges or unrecognized
duplicates." Similarity is computed, never stored as an edge. A pair is a candidate when

- both nodes have a current vector (see :mod:`graph.embeddings`) and cosine ≥ ``threshold``;
- no typed edge joins them. ``listed_similar`` does not count: a source document calling two nodes
  similar is not a typed relation, so the pair stays a candidate and its listed score is shown beside ours;
- neither node is ``merged``; and no stored curation decision (accepted, dismissed, merged) covers the pair.

Candidates of the same kind at cosine ≥ ``duplicate_threshold`` (0.9) are flagged as probable duplicates.

Below ``graph.ann.ANN_MIN_ROWS`` vectors the search is exact; from there on candidates come from a
persisted faiss IVF index (:mod:`graph.ann`) and are rescored exactly, so scores stay exact and only recall is
approximate. ``exact=True`` (``--exact``, or ``FINDINGS_SIMILARITY=exact``) forces the exact search, and every
result says which method produced it (:class:`graph.ann.Method`). Exact search: one node against all is a
blocked matrix-vector product. All pairs is a blocked matrix product over the upper triangle only
(symmetry halves the work). On CPUs with native bfloat16 (AVX512-BF16/AMX) large graphs use a bfloat16
product as a *prefilter* with a proven error margin and rescore every surviving pair in float32, so the
result is the same set as the float32 computation: for unit vectors, rounding inputs and output to
bfloat16 moves a dot product by at most 2u + u² + u ≈ 0.012 (u = 2⁻⁸), and the prefilter keeps
everything within 0.02 of the threshold.

Vectors are loaded once per process into a matrix cached by (database, model) and refreshed from a
cheap stamp (vector count, latest write): new or re-embedded nodes are patched in without reloading
everything. numpy and torch are imported only inside functions.
"""
from __future__ import annotations

import threading
import time
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from graph.ann import EXACT, Method
from graph.core import require_node
from graph.embeddings import (
    embed_items, embed_pending, encode, from_bytes, node_text, pending, resolve_model, text_hash,
)

if TYPE_CHECKING:
    import numpy as np

    from db.records import Edge, Node
    from graph.api import Graph

DEFAULT_THRESHOLD = 0.65
DEFAULT_DUPLICATE_THRESHOLD = 0.9
NOT_TYPED = frozenset({"listed_similar"})  # edge types that do not make a pair "already related"
BF16_MARGIN = 0.02  # > the 0.012 worst-case error of a bfloat16 dot product of unit vectors
BF16_MIN_ROWS = 20_000  # below this the float32 product is fast enough and torch need not load


class Found(list):
    """A list of matches or candidates that also says which search produced it (``.method``)."""

    def __init__(self, items: Any = (), method: Method = EXACT) -> None:
        super().__init__(items)
        self.method = method


@dataclass
class Match:
    id: str
    kind: str
    title: str
    score: float
    duplicate: bool
    listed_score: float | None = None
    method: dict[str, Any] | None = None  # Method.to_json() of the search that found it

    def to_json(self) -> dict[str, Any]:
        d = {"id": self.id, "kind": self.kind, "title": self.title, "score": round(self.score, 4),
             "duplicate": self.duplicate}
        if self.listed_score is not None:
            d["listed_score"] = self.listed_score
        if self.method is not None:
            d["method"] = self.method
        return d


@dataclass
class Candidate:
    a: dict[str, str]  # Node.brief(): id, kind, title
    b: dict[str, str]
    score: float
    duplicate: bool
    listed_score: float | None = None
    method: dict[str, Any] | None = None  # Method.to_json() of the search that found it

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["score"] = round(self.score, 4)
        for key in ("listed_score", "method"):
            if d[key] is None:
                d.pop(key)
        return d


# ---- pure functions over a matrix of unit vectors ---------------------------------------------
def one_vs_all(matrix: np.ndarray, query: np.ndarray, block: int = 65_536) -> np.ndarray:
    """Cosines of ``query`` (d,) against every row of ``matrix`` (n, d), computed in row blocks."""
    import numpy as np

    out = np.empty(matrix.shape[0], dtype=np.float32)
    q = np.ascontiguousarray(query, dtype=np.float32)
    for start in range(0, matrix.shape[0], block):
        np.dot(matrix[start:start + block], q, out=out[start:start + block])
    return out


def top_above(scores: np.ndarray, threshold: float, k: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Indices and scores ≥ ``threshold``, best first (ties by index), at most ``k``."""
    import numpy as np

    idx = np.flatnonzero(scores >= threshold)
    if k is not None and len(idx) > k:
        part = np.argpartition(-scores[idx], k - 1)[:k]
        idx = idx[part]
    order = np.lexsort((idx, -scores[idx]))
    return idx[order], scores[idx[order]]


def _cpu_has_bf16() -> bool:
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="ignore") as f:
            flags = f.read(200_000)
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def pairs_above(matrix: np.ndarray, threshold: float, block: int = 4096,
                precision: str = "auto") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All pairs i < j of rows of ``matrix`` (n, d; unit rows) with cosine ≥ ``threshold``.

    Returns (i, j, score) arrays, unordered. Exact: ``precision`` is ``"float32"`` (BLAS), ``"bf16"``
    (bfloat16 prefilter, float32 rescoring) or ``"auto"`` (bf16 for large inputs on CPUs that have it).
    Memory is bounded by a few ``block``×``block`` score tiles.
    """
    import numpy as np

    m = np.ascontiguousarray(matrix, dtype=np.float32)
    if precision == "auto":
        precision = "bf16" if (m.shape[0] >= BF16_MIN_ROWS and threshold - BF16_MARGIN > 0
                               and _cpu_has_bf16()) else "float32"
    if precision == "bf16" and threshold - BF16_MARGIN > 0:
        return _pairs_bf16(m, threshold, block)
    if precision not in ("bf16", "float32"):
        raise ValueError(f"unknown precision {precision!r}; expected auto, float32 or bf16")
    return _pairs_f32(m, threshold, block)


def _collect(tile: np.ndarray, cut: Any, i0: int, j0: int) -> tuple[np.ndarray, np.ndarray]:
    """Global (i, j) of tile entries ≥ cut with i < j; rows without any hit are skipped after one max pass."""
    import numpy as np

    rows = np.flatnonzero(tile.max(axis=1) >= cut)
    if len(rows) == 0:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    r, c = np.nonzero(tile[rows] >= cut)
    i, j = rows[r] + i0, c + j0
    keep = i < j
    return i[keep], j[keep]


def _pairs_f32(m: np.ndarray, threshold: float, block: int):
    import numpy as np

    n = m.shape[0]
    buf = np.empty(block * block, dtype=np.float32)
    out_i, out_j, out_s = [], [], []
    cut = np.float32(threshold)
    for i0 in range(0, n, block):
        a = m[i0:i0 + block]
        for j0 in range(i0, n, block):  # upper triangle of blocks only
            b = m[j0:j0 + block]
            tile = buf[:a.shape[0] * b.shape[0]].reshape(a.shape[0], b.shape[0])
            np.dot(a, b.T, out=tile)
            i, j = _collect(tile, cut, i0, j0)
            if len(i):
                out_i.append(i)
                out_j.append(j)
                out_s.append(tile[i - i0, j - j0].copy())
    return _concat(out_i, out_j, out_s)


def _pairs_bf16(m: np.ndarray, threshold: float, block: int):
    import numpy as np
    import torch

    n = m.shape[0]
    t = torch.from_numpy(m).to(torch.bfloat16)
    # bfloat16 bit patterns of non-negative values sort like int16, and negative ones are negative int16:
    # compare bits against the largest bfloat16 not above the lowered cut.
    lo = threshold - BF16_MARGIN
    cut_t = torch.tensor([lo], dtype=torch.float32).to(torch.bfloat16)
    bits = int(cut_t.view(torch.int16).item())
    if float(cut_t.float().item()) > lo:
        bits -= 1
    cut = np.int16(bits)
    out_i, out_j, out_s = [], [], []
    buf = torch.empty(block * block, dtype=torch.bfloat16)  # one tile buffer: no allocation per tile
    with torch.inference_mode():
        for i0 in range(0, n, block):
            a = t[i0:i0 + block]
            for j0 in range(i0, n, block):
                b = t[j0:j0 + block]
                out = buf[:a.shape[0] * b.shape[0]].view(a.shape[0], b.shape[0])
                torch.mm(a, b.T, out=out)
                tile = out.view(torch.int16).numpy()
                i, j = _collect(tile, cut, i0, j0)
                if len(i):
                    i, j, s = rescored(m, i, j, threshold)  # exact float32 rescoring of the survivors
                    out_i.append(i)
                    out_j.append(j)
                    out_s.append(s)
    return _concat(out_i, out_j, out_s)


def rescored(m: np.ndarray, i: np.ndarray, j: np.ndarray, threshold: float):
    """The candidate pairs (i, j) of rows of ``m`` whose exact float32 cosine is ≥ ``threshold``, with it."""
    import numpy as np

    s = np.einsum("ij,ij->i", m[i], m[j])
    keep = s >= np.float32(threshold)
    return i[keep], j[keep], s[keep]


def _concat(out_i, out_j, out_s):
    import numpy as np

    if not out_i:
        return np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.float32)
    return np.concatenate(out_i), np.concatenate(out_j), np.concatenate(out_s)


# ---- the vector cache -------------------------------------------------------------------------
@dataclass
class VectorIndex:
    """Every stored vector of one model as a matrix; rows in ``ids`` order."""

    model: str
    ids: list[str] = field(default_factory=list)
    pos: dict[str, int] = field(default_factory=dict)
    buf: Any = None  # (capacity, dim) float32; rows [0, len(ids)) are live
    stamp: tuple[int, Any] = (0, None)
    checked_at: float = 0.0  # time.monotonic() of the last stamp check

    @property
    def matrix(self) -> np.ndarray:
        return self.buf[:len(self.ids)]

    def put(self, rows: list[tuple[str, bytes, str]]) -> None:
        import numpy as np

        new = [r for r in rows if r[0] not in self.pos]
        if new:
            dim = len(rows[0][1]) // 4
            need = len(self.ids) + len(new)
            if self.buf is None or self.buf.shape[0] < need or self.buf.shape[1] != dim:
                grown = np.empty((max(need, int(need * 1.25) + 16), dim), dtype=np.float32)
                if self.buf is not None and len(self.ids):
                    grown[:len(self.ids)] = self.buf[:len(self.ids)]
                self.buf = grown
        for node_id, vec, _ in rows:
            if node_id not in self.pos:
                self.pos[node_id] = len(self.ids)
                self.ids.append(node_id)
            self.buf[self.pos[node_id]] = from_bytes(vec)


_INDEXES: dict[tuple[str, str], VectorIndex] = {}
_INDEX_LOCK = threading.Lock()
# How long a cached matrix is trusted before the store's stamp is checked again. Vectors this process
# writes are patched in at once (see note_written), so the wait only delays what *other* processes embed.
STAMP_TTL_S = 2.0


def vector_index(graph: Graph, model: str | None = None, max_age: float = STAMP_TTL_S) -> VectorIndex:
    """The cached matrix of ``model``'s vectors in ``graph``, refreshed only where the store changed.

    The stamp (vector count, latest write) costs a scan of the embeddings table, so it is checked at
    most every ``max_age`` seconds; ``max_age=0`` always checks.
    """
    name, _ = resolve_model(model)
    key = (graph.store.url, name)
    with _INDEX_LOCK:
        idx = _INDEXES.get(key)
        if idx is not None and time.monotonic() - idx.checked_at < max_age:
            return idx
        with graph.store.read() as tx:
            stamp = tx.embedding_stamp(name)
            if idx is not None and idx.stamp == stamp:
                idx.checked_at = time.monotonic()
                return idx
            if idx is not None and idx.stamp[1] is not None and stamp[0] >= idx.stamp[0]:
                idx.put(tx.embeddings_since(name, idx.stamp[1]))  # new or re-embedded nodes only
                if len(idx.ids) == stamp[0]:
                    idx.stamp, idx.checked_at = stamp, time.monotonic()
                    return idx
            idx = VectorIndex(name)  # first load, or vectors were deleted: load everything
            rows = tx.embeddings(name)
            if rows:
                idx.put(rows)
            idx.stamp, idx.checked_at = stamp, time.monotonic()
            _INDEXES[key] = idx
            return idx


def note_written(url: str, model: str, rows: list[tuple[str, bytes, str]]) -> None:
    """Patch vectors this process just stored into its cached matrix (if one is loaded)."""
    with _INDEX_LOCK:
        idx = _INDEXES.get((url, model))
        if idx is not None and rows:
            idx.put(rows)


def clear_cache() -> None:
    from graph.ann import clear_cache as clear_ann

    _INDEXES.clear()
    clear_ann()


def approximate_index(graph: Graph, idx: VectorIndex):
    """The persisted faiss IVF index of ``idx``'s vectors, brought up to date (see :mod:`graph.ann`)."""
    from graph.ann import ann_index

    def changed_since(stamp: tuple[int, Any]) -> list[str]:
        with graph.store.read() as tx:
            return [row[0] for row in tx.embeddings_since(idx.model, stamp[1])]

    return ann_index(graph.store.url, idx, changed_since)


# ---- queries against the graph ----------------------------------------------------------------
def _relations(edges: list[Edge]) -> tuple[set[tuple[str, str]], dict[tuple[str, str], float]]:
    """(pairs joined by a typed edge, listed_similar scores), pairs as sorted tuples."""
    typed: set[tuple[str, str]] = set()
    listed: dict[tuple[str, str], float] = {}
    for e in edges:
        a, b = e.source_id, e.target_id
        pair = (a, b) if a <= b else (b, a)
        if e.type in NOT_TYPED:
            if e.type == "listed_similar" and isinstance(e.attrs.get("score"), (int, float)):
                listed[pair] = float(e.attrs["score"])
        else:
            typed.add(pair)
    return typed, listed


def ensure_current(graph: Graph, node_ids: list[str], model: str | None = None) -> int:
    """Embed those of ``node_ids`` whose vector is missing or stale; return how many were embedded."""
    items, _ = pending(graph, model, node_ids)
    return embed_items(graph, items, model)


def similar(graph: Graph, node_id: str, threshold: float = DEFAULT_THRESHOLD, limit: int | None = 20,
            duplicate_threshold: float = DEFAULT_DUPLICATE_THRESHOLD, model: str | None = None,
            kind: str | None = None, exact: bool = False) -> Found:
    """Candidates for ``node_id``: nodes with cosine ≥ ``threshold`` and no typed edge to it, best first.

    The node is embedded first if its vector is missing or stale; other nodes are compared as stored
    (run :func:`graph.embeddings.embed_pending` to bring them all up to date). A read-only store embeds
    nothing: a stale vector is used as stored, and a node without one has no candidates yet.
    Large graphs ask the approximate index unless ``exact``; the result's ``.method`` says which.
    """
    from graph.ann import method as ann_method, use_approximate

    import numpy as np

    if not -1.0 <= threshold <= 1.0:
        raise ValueError(f"the threshold must lie between -1 and 1, not {threshold}")
    if limit is not None and limit < 1:
        raise ValueError("the limit must be at least 1")
    name, _ = resolve_model(model)
    with graph.store.read() as tx:
        node = require_node(tx, node_id)
        stored = tx.embeddings(name, [node_id])
    text = node_text(node.title, node.description)
    h = text_hash(text)
    if graph.store.read_only:
        if not stored:
            raise ValueError(f"{node_id!r} has no stored embedding yet, and the database is open read-only "
                             "(`findings embed` computes it)")
    elif not stored or stored[0][2] != h:
        embed_items(graph, [(node_id, text, h)], model)
    idx = vector_index(graph, model)
    if node_id not in idx.pos:  # written by another process between our check and the cache's
        idx = vector_index(graph, model, max_age=0)
    me = idx.pos[node_id]
    found_by = EXACT
    if use_approximate(len(idx.ids), exact):
        ann = approximate_index(graph, idx)
        found_by = ann_method(ann, one=True)
        _, near = ann.neighbours(idx.matrix[me:me + 1], threshold, one=True)
        near = np.setdiff1d(near, [me])
        near_scores = idx.matrix[near] @ idx.matrix[me]  # exact rescoring of what the index proposed
        keep = near_scores >= np.float32(threshold)
        order_k = np.lexsort((near[keep], -near_scores[keep]))
        order, top = near[keep][order_k], near_scores[keep][order_k]

        def score_of(row: int) -> float:
            return float(np.dot(idx.matrix[row], idx.matrix[me]))
    else:
        scores = one_vs_all(idx.matrix, idx.matrix[me])
        scores[me] = -np.inf
        order, top = top_above(scores, threshold)

        def score_of(row: int) -> float:
            return float(scores[row])
    method_json = found_by.to_json()
    with graph.store.read() as tx:
        # the edges that can rule a close node out, and the pairs a source listed: not all of a hub's edges
        typed, listed = _relations(tx.edges_touching(node_id, among=[idx.ids[i] for i in order])
                                   + tx.edges_touching(node_id, edge_type="listed_similar"))
        decided = tx.decided_pairs(node_id)
        out: list[Match] = []
        seen: set[str] = set()

        def keep(other, score: float) -> bool:
            pair = (node_id, other.id) if node_id <= other.id else (other.id, node_id)
            if (other.status == "merged" or pair in typed or pair in decided
                    or (kind is not None and other.kind != kind)):
                return False
            out.append(Match(other.id, other.kind, other.title, float(score),
                             duplicate=bool(other.kind == node.kind and score >= duplicate_threshold),
                             listed_score=listed.get(pair), method=method_json))
            seen.add(other.id)
            return True

        step = max(4 * (limit or 50), 64)
        for start in range(0, len(order), step):
            if limit is not None and len(out) >= limit:
                break
            ids = [idx.ids[i] for i in order[start:start + step]]
            nodes = tx.get_nodes(ids)
            for other_id, score in zip(ids, top[start:start + step]):
                if other_id in nodes and keep(nodes[other_id], score) and limit is not None and len(out) >= limit:
                    break
        # A pair that a source document listed as similar with a score at or above the threshold stays a
        # candidate even where our embedder scores it lower: the source's judgement is shown beside ours.
        source_listed = [other for pair, ls in listed.items() if ls is not None and ls >= threshold
                         for other in pair if other != node_id and other not in seen]
        for other in tx.get_nodes(source_listed).values():
            if other.id in idx.pos:  # not embedded yet: it shows after the next `findings embed`
                keep(other, score_of(idx.pos[other.id]))
    out.sort(key=lambda m: (-m.score, m.id))
    return Found(out[:limit] if limit is not None else out, found_by)


def candidate_pairs(graph: Graph, threshold: float = DEFAULT_THRESHOLD,
                    duplicate_threshold: float = DEFAULT_DUPLICATE_THRESHOLD, kind: str | None = None,
                    limit: int | None = None, block: int = 4096, model: str | None = None,
                    duplicates_only: bool = False, precision: str = "auto", exact: bool = False) -> Found:
    """All candidate pairs of the graph (each once), best first. Uses the stored vectors as they are.

    Large graphs take the pairs from the approximate index (rescored exactly) unless ``exact``; the
    result's ``.method`` (and each candidate's ``method``) says which search produced the set.
    """
    import numpy as np

    from graph.ann import method as ann_method, pairs_above as ann_pairs_above, use_approximate

    if not -1.0 <= threshold <= 1.0:
        raise ValueError(f"the threshold must lie between -1 and 1, not {threshold}")
    idx = vector_index(graph, model)
    with graph.store.read() as tx:
        kinds = tx.node_kinds()
        rows = np.array([i for i, nid in enumerate(idx.ids)
                         if nid in kinds and kinds[nid][1] != "merged" and (kind is None or kinds[nid][0] == kind)],
                        dtype=np.int64)
        decided = tx.decided_pairs()
    ann = approximate_index(graph, idx) if use_approximate(len(idx.ids), exact) and len(rows) >= 2 else None
    found_by = ann_method(ann) if ann is not None else EXACT
    if len(rows) < 2:
        return Found([], found_by)
    cut = max(threshold, duplicate_threshold) if duplicates_only else threshold
    if ann is not None:
        i, j, s = ann_pairs_above(ann, idx.matrix[rows], rows, len(idx.ids), cut)
    else:
        i, j, s = pairs_above(idx.matrix[rows], cut, block=block, precision=precision)
    # only edges among the nodes of some close pair can rule a pair out: read those, not the whole graph
    involved = {idx.ids[x] for x in np.unique(rows[np.concatenate([i, j])])}
    with graph.store.read() as tx:
        typed, listed = _relations(tx.edges_among(involved))
    order = np.lexsort((j, i, -s))
    found: list[tuple[str, str, float]] = []
    for k in order:
        a, b = idx.ids[rows[i[k]]], idx.ids[rows[j[k]]]
        pair = (a, b) if a <= b else (b, a)
        if pair in typed or pair in decided:
            continue
        same = kinds[a][0] == kinds[b][0]
        if duplicates_only and not same:
            continue
        found.append((pair[0], pair[1], float(s[k])))
        if limit is not None and len(found) >= limit:
            break
    with graph.store.read() as tx:
        nodes = tx.get_nodes({x for a, b, _ in found for x in (a, b)})
    method_json = found_by.to_json()
    return Found([Candidate(nodes[a].brief(), nodes[b].brief(), score,
                            duplicate=bool(nodes[a].kind == nodes[b].kind and score >= duplicate_threshold),
                            listed_score=listed.get((a, b)), method=method_json)
                  for a, b, score in found], found_by)


def semantic_search(graph: Graph, text: str, kind: str | None = None, limit: int = 20,
                    model: str | None = None) -> list[tuple[Node, float]]:
    """Nodes ranked by cosine to ``text`` (merged nodes left out); compares against the stored vectors."""
    import numpy as np

    if not text.strip():
        raise ValueError("the search text is empty")
    idx = vector_index(graph, model)
    if not idx.ids:
        return []
    q = encode([text], model)[0]
    scores = one_vs_all(idx.matrix, q)
    step = max(4 * limit, 64)
    # rank only the best ``step`` (and any tied with the last of them) unless those run out: sorting all
    # of 100k scores costs more than the product that made them
    cut = float(np.partition(scores, len(scores) - step)[len(scores) - step]) if len(scores) > step else -2.0
    order, top = top_above(scores, cut)
    out: list[tuple[Node, float]] = []
    with graph.store.read() as tx:
        for start in range(0, len(idx.ids), step):
            if start >= len(order):
                if len(order) == len(scores):
                    break
                order, top = top_above(scores, -2.0)
            ids = [idx.ids[i] for i in order[start:start + step]]
            nodes = tx.get_nodes(ids)
            for nid, score in zip(ids, top[start:start + step]):
                n = nodes.get(nid)
                if n is None or n.status == "merged" or (kind is not None and n.kind != kind):
                    continue
                out.append((n, float(score)))
                if len(out) >= limit:
                    return out
    return out


def semantic_search_rows(graph: Graph, text: str, kind: str | None = None, limit: int = 20,
                         model: str | None = None, progress: bool = True) -> list[dict[str, Any]]:
    """``findings search TEXT --semantic``: brings vectors up to date (not on a read-only store: there the
    stored vectors are ranked as they are), then ranks by cosine."""
    if not graph.store.read_only:
        embed_pending(graph, model, progress=progress)
    return [{"id": n.id, "kind": n.kind, "title": n.title, "score": round(s, 4)}
            for n, s in semantic_search(graph, text, kind=kind, limit=limit, model=model)]


def pair_score(graph: Graph, a: str, b: str, model: str | None = None) -> float | None:
    """Cosine of two nodes from their stored vectors, or None when one has none."""
    import numpy as np

    name, _ = resolve_model(model)
    with graph.store.read() as tx:
        rows = {i: v for i, v, _ in tx.embeddings(name, [a, b])}
    if a not in rows or b not in rows:
        return None
    return float(np.dot(from_bytes(rows[a]), from_bytes(rows[b])))

