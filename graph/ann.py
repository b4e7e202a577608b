"""Approximate similarity candidates for large graphs: a persisted, incrementally updated usearch HNSW index.

Exact search (:mod:`graph.similarity`) compares every pair: fine at 100k vectors (tens of seconds for all
pairs), about 100 times that at 1M. From ``ANN_MIN_ROWS`` vectors on (``FINDINGS_ANN_MIN_ROWS``), candidates
come from an HNSW graph instead: each node asks the index for its nearest neighbours, and every pair the index
proposes is **rescored exactly** (float32 dot product of the stored vectors) before the threshold is applied,
so reported scores are exact and only recall is approximate. A node whose ``k``-th neighbour is still close to
the threshold is asked again with a larger ``k``, so crowded neighbourhoods are not cut at ``k``.

Why usearch: measured against hnswlib, faiss and voyager by ``python -m bench.ann`` (table and reasons in
README, "Approximate similarity"). What the store needs besides speed and recall: removing and replacing
vectors by key in place (faiss's HNSW cannot remove), and one file to save and load.

The index is persisted and updated, never rebuilt without cause:

- where: for a SQLite file ``<db>.ann/<model>.usearch`` beside the database, with ``<model>.json`` (the
  manifest); for any other URL (PostgreSQL) a per-user cache directory,
  ``$XDG_CACHE_HOME/findings/ann/<sha256 of the URL without its password>/``; an in-memory database keeps the
  index in memory only.
- the manifest names the library and its version, the parameters, the model, the dimension, the number of
  vectors, the store's stamp (vector count, latest write) and how many full builds made it.
- on open, a manifest that does not match (model, dimension, parameters, library), an index file that does
  not load or holds another count, or vectors that differ from the store's on a spot check, mean a rebuild.
- updates: vectors written since the manifest's stamp are replaced, nodes that gained a vector are added,
  keys whose node lost its vector are removed. Merged nodes stay in the index and are left out by the
  candidate rules, as in the exact path.

Keys are 63-bit BLAKE2b hashes of node ids, so the index needs no id table of its own. usearch and numpy are
imported inside functions.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import threading
import warnings
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

    from graph.similarity import VectorIndex

ANN_MIN_ROWS = 200_000  # from here on candidates come from the index (see README for the measurement)
ANN_MIN_ROWS_ENV = "FINDINGS_ANN_MIN_ROWS"
METHOD_ENV = "FINDINGS_SIMILARITY"  # "exact" forces exact search everywhere; "auto" (default) decides by size
LIBRARY = "usearch"
PARAMS = {"metric": "ip", "dtype": "f32", "connectivity": 16, "expansion_add": 128, "expansion_search": 64}
QUERY_K = 32  # neighbours asked per node; asked again with 4x as many where the last is still close
MARGIN = 0.02  # index hits this far below the threshold are still rescored
THREADS = max(1, os.cpu_count() or 1)
FORMAT = 1
SPOT_CHECK = 16  # vectors compared with the store's when an index file is opened


@dataclass(frozen=True)
class Method:
    """Which search produced a candidate set: a researcher must know whether it could miss pairs."""

    kind: str  # "exact" or "approximate"
    library: str | None = None
    version: str | None = None
    params: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        if self.kind == "exact":
            return {"kind": "exact"}
        return {"kind": "approximate", "library": self.library, "version": self.version,
                "params": {**(self.params or {}), "k": QUERY_K, "rescored": "float32"}}

    def describe(self) -> str:
        if self.kind == "exact":
            return "exact (every pair compared)"
        p = self.params or {}
        return (f"approximate ({self.library} {self.version} HNSW, M={p.get('connectivity')}, "
                f"ef_construction={p.get('expansion_add')}, ef={p.get('expansion_search')}, k={QUERY_K}; "
                "scores rescored exactly, pairs can be missed; --exact for all)")


EXACT = Method("exact")


def min_rows() -> int:
    raw = os.environ.get(ANN_MIN_ROWS_ENV)
    if raw is None or not raw.strip():
        return ANN_MIN_ROWS
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{ANN_MIN_ROWS_ENV} must be a whole number of vectors, not {raw!r}") from None
    if value < 2:
        raise ValueError(f"{ANN_MIN_ROWS_ENV} must be at least 2, not {value}")
    return value


def available() -> bool:
    try:
        import usearch.index  # noqa: F401
    except ImportError:
        return False
    return True


def use_approximate(n_rows: int, exact: bool = False) -> bool:
    """Whether a search over ``n_rows`` vectors goes through the index (not when ``exact`` or the setting say so)."""
    setting = os.environ.get(METHOD_ENV, "auto").strip().lower() or "auto"
    if setting not in ("auto", "exact"):
        raise ValueError(f"{METHOD_ENV} must be 'auto' or 'exact', not {setting!r}")
    return not exact and setting == "auto" and n_rows >= min_rows() and available()


def method() -> Method:
    import usearch

    return Method("approximate", LIBRARY, usearch.__version__, dict(PARAMS))


# ---- where the index lives ---------------------------------------------------------------------
def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", name)


def url_without_password(url: str) -> str:
    return re.sub(r"^([A-Za-z0-9+.-]+://[^:/@]*):[^@]*@", r"\1@", url)


def index_dir(url: str) -> Path | None:
    """The folder of ``url``'s indexes: beside a SQLite file, else a per-user cache keyed by the URL; None in memory."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[1].split("?", 1)[0] if "///" in url else ""
        if not path or path == ":memory:" or "mode=memory" in url:
            return None
        return Path(path + ".ann")
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "findings" / "ann" / hashlib.sha256(url_without_password(url).encode("utf-8")).hexdigest()[:24]


def keys_of(ids: list[str]) -> np.ndarray:
    """63-bit keys of node ids (BLAKE2b): stable across processes, so the index stores no id table."""
    import numpy as np

    return np.fromiter((int.from_bytes(hashlib.blake2b(i.encode("utf-8"), digest_size=8).digest(), "little") >> 1
                        for i in ids), dtype=np.uint64, count=len(ids))


# ---- the index -------------------------------------------------------------------------------------
@dataclass
class AnnIndex:
    model: str
    dim: int
    folder: Path | None
    index: Any = None  # usearch.index.Index
    stamp: tuple[int, Any] = (0, None)
    builds: int = 0
    updates: int = 0
    keys: Any = None  # np.uint64 key of each row of the vector cache, in its order
    sorted_keys: Any = None
    sorted_pos: Any = None
    rows_seen: int = -1
    source: Any = None  # the vector cache that ``keys`` follow (its rows only grow; a reload makes a new one)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def index_path(self) -> Path | None:
        return None if self.folder is None else self.folder / f"{_safe(self.model)}.usearch"

    @property
    def manifest_path(self) -> Path | None:
        return None if self.folder is None else self.folder / f"{_safe(self.model)}.json"

    def manifest(self) -> dict[str, Any]:
        import usearch

        latest = self.stamp[1]
        return {"format": FORMAT, "library": LIBRARY, "version": usearch.__version__, "params": PARAMS,
                "model": self.model, "dim": self.dim, "count": len(self.index),
                "stamp": [self.stamp[0], latest.isoformat() if isinstance(latest, datetime) else latest],
                "builds": self.builds, "updates": self.updates}

    def _new(self) -> Any:
        from usearch.index import Index

        return Index(ndim=self.dim, metric=PARAMS["metric"], dtype=PARAMS["dtype"],
                     connectivity=PARAMS["connectivity"], expansion_add=PARAMS["expansion_add"],
                     expansion_search=PARAMS["expansion_search"])

    def save(self) -> None:
        if self.folder is None:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        tmp = self.index_path.with_suffix(".usearch.tmp")
        self.index.save(str(tmp))
        os.replace(tmp, self.index_path)
        mtmp = self.manifest_path.with_suffix(".json.tmp")
        mtmp.write_text(json.dumps(self.manifest(), indent=1) + "\n", encoding="utf-8")
        os.replace(mtmp, self.manifest_path)

    def build(self, vidx: VectorIndex) -> None:
        """Every vector of the cache, from nothing."""
        self.index = self._new()
        self._positions(vidx)
        if len(vidx.ids):
            self.index.add(self.keys, vidx.matrix, threads=THREADS)
        self.stamp = vidx.stamp
        self.builds += 1
        self.save()

    def _positions(self, vidx: VectorIndex) -> None:
        import numpy as np

        self.keys = keys_of(vidx.ids)
        self.sorted_pos = np.argsort(self.keys, kind="stable")
        self.sorted_keys = self.keys[self.sorted_pos]
        if len(self.sorted_keys) > 1 and bool((self.sorted_keys[1:] == self.sorted_keys[:-1]).any()):
            raise ValueError("two node ids share an index key; use exact search (--exact)")
        self.rows_seen = len(vidx.ids)
        self.source = vidx

    def load(self, vidx: VectorIndex) -> bool:
        """Open the persisted index if its manifest matches ``vidx``'s model; False when it must be rebuilt."""
        import usearch
        from usearch.index import Index

        if self.index_path is None or not self.index_path.is_file() or not self.manifest_path.is_file():
            return False
        try:
            man = json.loads(self.manifest_path.read_text(encoding="utf-8"))
            # a rebuild continues the count: the manifest says how many full builds this file has had
            self.builds, self.updates = int(man.get("builds", 0)), int(man.get("updates", 0))
            if (man.get("format") != FORMAT or man.get("library") != LIBRARY or man.get("params") != PARAMS
                    or man.get("model") != self.model or man.get("dim") != self.dim
                    or man.get("version") != usearch.__version__):
                return False
            index = Index.restore(str(self.index_path))
            if index is None or index.ndim != self.dim or len(index) != man.get("count"):
                return False
            count, latest = man["stamp"]
            self.stamp = (int(count), datetime.fromisoformat(latest) if isinstance(latest, str) else latest)
        except (OSError, ValueError, TypeError, KeyError, RuntimeError, AttributeError):
            return False
        index.expansion_search = PARAMS["expansion_search"]
        self.index = index
        return True

    def spot_check(self, vidx: VectorIndex) -> bool:
        """A few vectors read back from the index equal the store's (a file of another database fails here)."""
        import numpy as np

        if not len(vidx.ids):
            return len(self.index) == 0
        rng = np.random.default_rng(len(vidx.ids))
        rows = rng.choice(len(vidx.ids), min(SPOT_CHECK, len(vidx.ids)), replace=False)
        got = self.index.get(self.keys[rows])
        if got is None:
            return False
        got = np.asarray(got if not isinstance(got, tuple) else [g if g is not None else np.full(self.dim, np.nan)
                                                                  for g in got], dtype=np.float32)
        return got.shape == (len(rows), self.dim) and bool(np.allclose(got, vidx.matrix[rows], atol=1e-5))

    def sync(self, vidx: VectorIndex, changed: list[str] | None) -> int:
        """Bring the index up to ``vidx`` in place; ``changed`` are node ids re-embedded since ``self.stamp``
        (None: unknown, every vector is compared). Returns how many keys were added, replaced or removed."""
        import numpy as np

        if self.rows_seen != len(vidx.ids) or self.source is not vidx or self.keys is None:
            self._positions(vidx)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            held = np.asarray(self.index.keys, dtype=np.uint64) if len(self.index) else np.empty(0, np.uint64)
        gone = np.setdiff1d(held, self.keys, assume_unique=True)
        new_rows = np.flatnonzero(~np.isin(self.keys, held, assume_unique=True))
        if changed is None:
            old = np.setdiff1d(np.arange(len(vidx.ids)), new_rows)
            got = self.index.get(self.keys[old]) if len(old) else np.empty((0, self.dim), np.float32)
            differs = ~np.all(np.isclose(np.asarray(got, np.float32), vidx.matrix[old], atol=1e-6), axis=1)
            replace = old[differs]
        else:
            replace = np.array([vidx.pos[i] for i in changed if i in vidx.pos], dtype=np.int64)
            replace = np.setdiff1d(replace, new_rows)
        if len(gone):
            self.index.remove(gone)
        if len(replace):
            self.index.remove(self.keys[replace])
        add = np.union1d(new_rows, replace).astype(np.int64)
        if len(add):
            self.index.add(self.keys[add], vidx.matrix[add], threads=THREADS)
        touched = int(len(gone) + len(add))
        self.stamp = vidx.stamp
        if touched:
            self.updates += 1
            self.save()
        elif self.folder is not None and self.manifest_path.is_file():
            self.save_manifest()
        return touched

    def save_manifest(self) -> None:
        mtmp = self.manifest_path.with_suffix(".json.tmp")
        mtmp.write_text(json.dumps(self.manifest(), indent=1) + "\n", encoding="utf-8")
        os.replace(mtmp, self.manifest_path)

    # ---- queries --------------------------------------------------------------------------------
    def rows_of(self, keys: np.ndarray) -> np.ndarray:
        """Cache rows of index keys (-1 for a key the cache does not hold)."""
        import numpy as np

        at = np.searchsorted(self.sorted_keys, keys)
        at = np.minimum(at, len(self.sorted_keys) - 1)
        hit = self.sorted_keys[at] == keys
        return np.where(hit, self.sorted_pos[at], -1)

    def neighbours(self, queries: np.ndarray, cut: float, limit_rows: int) -> tuple[np.ndarray, np.ndarray]:
        """(query index, cache row) of index hits at cosine >= cut - MARGIN for each row of ``queries`` (q, d)."""
        import numpy as np

        out_q, out_r = [], []
        todo = np.arange(len(queries))
        k = min(QUERY_K, max(1, limit_rows))
        while len(todo):
            again = []
            for s in range(0, len(todo), 8192):
                qs = todo[s:s + 8192]
                res = self.index.search(queries[qs], k, threads=THREADS)
                keys = np.atleast_2d(np.asarray(res.keys, dtype=np.uint64))
                sims = 1 - np.atleast_2d(np.asarray(res.distances, dtype=np.float32))
                counts = np.atleast_1d(np.asarray(getattr(res, "counts", [keys.shape[1]])))
                valid = np.arange(keys.shape[1])[None, :] < counts[:, None]
                ok = valid & (sims >= cut - MARGIN)
                r, c = np.nonzero(ok)
                out_q.append(qs[r])
                out_r.append(self.rows_of(keys[r, c]))
                if k < limit_rows:
                    last = np.where(counts >= k, sims[:, k - 1] if keys.shape[1] >= k else -2, -2)
                    again.append(qs[last >= cut - MARGIN])
            todo = np.concatenate(again) if again else np.empty(0, np.int64)
            k = min(k * 4, limit_rows)
        if not out_q:
            return np.empty(0, np.int64), np.empty(0, np.int64)
        q, r = np.concatenate(out_q), np.concatenate(out_r)
        keep = r >= 0
        return q[keep], r[keep]


_ANN: dict[tuple[str, str], AnnIndex] = {}
_ANN_LOCK = threading.Lock()


def ann_index(url: str, vidx: VectorIndex, changed_since: Any = None) -> AnnIndex:
    """The index of ``vidx``'s vectors for the store at ``url``: loaded, checked and updated, or built.

    ``changed_since(stamp) -> list[node id]`` names the nodes re-embedded since a stamp (None: compare vectors).
    """
    dim = vidx.matrix.shape[1] if vidx.buf is not None else 0
    key = (url, vidx.model)
    with _ANN_LOCK:
        a = _ANN.get(key)
        if a is None or a.dim != dim:
            a = AnnIndex(vidx.model, dim, index_dir(url))
            if a.load(vidx):
                a._positions(vidx)
                changed = changed_since(a.stamp) if changed_since is not None and a.stamp[1] is not None else None
                a.sync(vidx, changed)
                if not a.spot_check(vidx):
                    a.build(vidx)
            else:
                a.build(vidx)
            _ANN[key] = a
        elif a.stamp != vidx.stamp or a.rows_seen != len(vidx.ids) or a.source is not vidx:
            changed = changed_since(a.stamp) if changed_since is not None and a.stamp[1] is not None else None
            a.sync(vidx, changed)
        return a


def clear_cache() -> None:
    with _ANN_LOCK:
        _ANN.clear()


def pairs_above(a: AnnIndex, matrix_rows: np.ndarray, all_rows: np.ndarray, n_cache: int,
                threshold: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All pairs i < j (indices into ``all_rows``, cache rows of the eligible nodes) at cosine >= threshold
    that the index proposes, rescored exactly: the approximate counterpart of graph.similarity.pairs_above."""
    import numpy as np

    sub = np.full(n_cache, -1, dtype=np.int64)
    sub[all_rows] = np.arange(len(all_rows))
    q, r = a.neighbours(matrix_rows, threshold, n_cache)
    j = sub[r]
    keep = (j >= 0) & (j != q)
    i, j = q[keep], j[keep]
    lo, hi = np.minimum(i, j), np.maximum(i, j)
    code = np.unique(lo * len(all_rows) + hi)
    lo, hi = code // len(all_rows), code % len(all_rows)
    s = np.einsum("ij,ij->i", matrix_rows[lo], matrix_rows[hi])
    keep = s >= np.float32(threshold)
    return lo[keep], hi[keep], s[keep]
