"""Approximate similarity candidates for large graphs: a persisted, incrementally updated faiss IVF index.

Exact search (:mod:`graph.similarity`) compares every pair: fine at 100k vectors (tens of seconds for all
pairs), about 100 times that at 1M. From ``ANN_MIN_ROWS`` vectors on (``FINDINGS_ANN_MIN_ROWS``), candidates
come from an inverted-file index instead: the vectors are grouped into ``nlist`` lists around k-means centroids,
and a query compares itself with the vectors of its ``nprobe`` nearest lists only. The index answers a range
query (every vector at inner product above a radius, no top-k cut), and every pair it proposes is **rescored
exactly** (float32 dot product of the stored vectors) before the threshold is applied: reported scores are
exact, only recall is approximate (a close pair whose vectors fell into lists the query did not probe is missed).

Why faiss's IVFFlat: measured against usearch, hnswlib, voyager and faiss's HNSW by ``python -m bench.ann``
(table and reasons in README, "Approximate similarity"). On 2 cores the HNSW graphs took minutes to build at
100k and could not meet the 3-minute goal at 1M; IVF trains on a sample and adds vectors in one pass. It also
removes and replaces vectors by id in place, and saves one file.

The index is persisted and updated, never rebuilt without cause:

- where: for a SQLite file ``<db>.ann/<model>.faiss`` beside the database, with ``<model>.json`` (the
  manifest); for any other URL (PostgreSQL) a per-user cache directory,
  ``$XDG_CACHE_HOME/findings/ann/<sha256 of the URL without its password>/``; an in-memory database keeps the
  index in memory only.
- the manifest names the library and its version, the parameters, the model, the dimension, the number of
  vectors, the store's stamp (vector count, latest write), how many vectors trained the centroids and how many
  full builds made it.
- on open, a manifest that does not match (model, dimension, parameters, library), an index file that does
  not load or holds another count, or vectors that differ from the store's on a spot check, mean a rebuild;
  so does growth past ``RETRAIN_GROWTH`` times the vectors the centroids were trained on (lists grow unbalanced).
- updates: vectors written since the manifest's stamp are replaced, nodes that gained a vector are added,
  ids whose node lost its vector are removed. Merged nodes stay in the index and are left out by the
  candidate rules, as in the exact path.
- saves are deferred: an update changes the index in memory, and the file (about 1.5 GB at 1M vectors) is
  rewritten only when the changes it lacks reach ``max(SAVE_MIN_CHANGES, SAVE_FRACTION · vectors)``. The
  store is the journal: the manifest's stamp is always that of the FILE, so a process that opens it re-applies
  the store's changes since then (and the vectors the file holds that the store no longer has are removed).

Ids are 62-bit BLAKE2b hashes of node ids, so the index needs no id table of its own. faiss and numpy are
imported inside functions.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import re
import threading
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

    from graph.similarity import VectorIndex

# From here on candidates come from the index. Measured (README): at 100k the index path was 1.7-1.9x faster than
# exact but lost 0.4% of pairs, with exact at about a minute; at 200k 2.0x faster (129 s vs 253 s), recall 0.989.
ANN_MIN_ROWS = 200_000
ANN_MIN_ROWS_ENV = "FINDINGS_ANN_MIN_ROWS"
METHOD_ENV = "FINDINGS_SIMILARITY"  # "exact" forces exact search everywhere; "auto" (default) decides by size
LIBRARY = "faiss"
# nlist = lists_per_sqrt·√n lists (at most n / 39: faiss's k-means wants 39 training points a list); a query
# probes nprobe = max(nprobe, ⌈share·nlist⌉) of them (see n_probe), the share depending on the question.
# The rule was chosen after measuring recall at 1M clustered vectors from 2,000 sampled queries (python -m
# bench.ann --recall-1m; README, "Approximate similarity"). nprobe fixed at 32 (0.8% of the 4,000 lists) gave
# the all-pairs list (a pair is found when either end's search finds it) 0.930 and one node's search 0.853.
# - all pairs (curate list): probe_fraction keeps the 100k share (32 of 1,264 lists): 102 lists at 1M gave
#   0.9807 ± 0.0014, at a cost that keeps the all-pairs path faster than exact from ANN_MIN_ROWS on;
# - one node (similar): its partner must be found by its own search, which needs more: probe_fraction_one,
#   400 lists at 1M, gave 0.9811 ± 0.0014 at 14 ms a query (load 5.4 on 2 shared cores; 192 lists: 0.956).
PARAMS = {"index": "IVFFlat", "metric": "inner_product", "lists_per_sqrt": 4, "nprobe": 32,
          "probe_fraction": 0.026, "probe_fraction_one": 0.1}
QUERY_PARAMS = ("nprobe", "probe_fraction", "probe_fraction_one")  # set when a query runs: no rebuild
TRAIN_PER_LIST, TRAIN_ITERATIONS = 40, 10  # k-means on a sample: training cost grows with nlist², keep it small
RETRAIN_GROWTH = 4.0  # rebuild when the index holds this many times the vectors its centroids were trained on
# Deferred saves: writing the index rewrites the whole file (about 1.5 GB at 1M 384-d vectors), so small updates
# stay in memory and the file is rewritten only once the changes it lacks reach max(SAVE_MIN_CHANGES,
# SAVE_FRACTION of the index). Nothing is lost meanwhile: the store is the journal. The manifest keeps the
# stamp of what the FILE holds, and a process that opens the file re-applies the store's changes since then.
SAVE_MIN_CHANGES = 1_000
SAVE_FRACTION = 0.01
EXTRA_MERGE = 4096  # appended keys kept in a small sorted side table; merging into 1M sorted keys costs ~5 ms
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
                "params": {**(self.params or {}), "rescored": "float32"}}

    def describe(self) -> str:
        if self.kind == "exact":
            return "exact (every pair compared)"
        p = self.params or {}
        return (f"approximate ({self.library} {self.version} {p.get('index')}, nlist={p.get('nlist')}, "
                f"nprobe={p.get('nprobe')}; scores rescored exactly, pairs can be missed; --exact for all)")


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
        import faiss  # noqa: F401
    except ImportError:
        return False
    return True


def use_approximate(n_rows: int, exact: bool = False) -> bool:
    """Whether a search over ``n_rows`` vectors goes through the index (not when ``exact`` or the setting say so)."""
    setting = os.environ.get(METHOD_ENV, "auto").strip().lower() or "auto"
    if setting not in ("auto", "exact"):
        raise ValueError(f"{METHOD_ENV} must be 'auto' or 'exact', not {setting!r}")
    return not exact and setting == "auto" and n_rows >= min_rows() and available()


def method(a: AnnIndex | None = None, one: bool = False) -> Method:
    """The method of ``a``'s all-pairs queries (of one node's, ``one``): nlist and the nprobe used."""
    import faiss

    params = {k: v for k, v in PARAMS.items() if k not in QUERY_PARAMS}
    if a is not None and a.index is not None:
        params["nlist"] = int(a.index.nlist)
        params["nprobe"] = n_probe(int(a.index.nlist), one)
    return Method("approximate", LIBRARY, faiss.__version__, params)


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
    """62-bit ids of node ids (BLAKE2b): stable across processes, so the index stores no id table."""
    import numpy as np

    return np.fromiter((int.from_bytes(hashlib.blake2b(i.encode("utf-8"), digest_size=8).digest(), "little") >> 2
                        for i in ids), dtype=np.int64, count=len(ids))


def n_lists(n: int) -> int:
    return max(1, min(int(PARAMS["lists_per_sqrt"] * n ** 0.5), n // 39))


def n_probe(nlist: int, one: bool = False) -> int:
    """Lists a query probes: at least PARAMS["nprobe"], and the share ``probe_fraction`` of ``nlist`` for the
    all-pairs list (``probe_fraction_one`` for one node's candidates, ``one``)."""
    share = float(PARAMS["probe_fraction_one" if one else "probe_fraction"])
    return max(1, min(nlist, max(int(PARAMS["nprobe"]), math.ceil(share * nlist))))


def _build_params(params: Any) -> Any:
    """The parameters an index file was built with (a change means a rebuild); query-time ones left out."""
    return {k: v for k, v in params.items() if k not in QUERY_PARAMS} if isinstance(params, dict) else params


# ---- the index -------------------------------------------------------------------------------------
@dataclass
class AnnIndex:
    model: str
    dim: int
    folder: Path | None
    index: Any = None  # faiss.IndexIVFFlat
    trained_on: int = 0
    stamp: tuple[int, Any] = (0, None)
    builds: int = 0
    updates: int = 0
    saves: int = 0  # times the index file was written (builds included)
    saved_stamp: tuple[int, Any] = (0, None)  # the store's stamp that the index FILE holds (the manifest's)
    unsaved: int = 0  # keys added, replaced or removed in memory since the file was written
    matched: bool = False  # the index holds exactly the keys of ``source``'s rows [0, rows_seen)
    keys: Any = None  # np.int64 id of each row of the vector cache, in its order (a view of keys_buf)
    keys_buf: Any = None  # room to append keys without copying them all
    sorted_keys: Any = None
    sorted_pos: Any = None
    extra_keys: Any = None  # appended keys not yet merged into sorted_keys (sorted; merged past EXTRA_MERGE)
    extra_pos: Any = None
    rows_seen: int = -1
    source: Any = None  # the vector cache that ``keys`` follow (its rows only grow; a reload makes a new one)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def index_path(self) -> Path | None:
        return None if self.folder is None else self.folder / f"{_safe(self.model)}.faiss"

    @property
    def manifest_path(self) -> Path | None:
        return None if self.folder is None else self.folder / f"{_safe(self.model)}.json"

    def manifest(self) -> dict[str, Any]:
        import faiss

        latest = self.saved_stamp[1]
        return {"format": FORMAT, "library": LIBRARY, "version": faiss.__version__, "params": PARAMS,
                "model": self.model, "dim": self.dim, "count": int(self.index.ntotal),
                "nlist": int(self.index.nlist), "trained_on": self.trained_on,
                "stamp": [self.saved_stamp[0], latest.isoformat() if isinstance(latest, datetime) else latest],
                "builds": self.builds, "updates": self.updates, "saves": self.saves}

    def save_threshold(self) -> int:
        """Unsaved changes at which the file is rewritten."""
        return max(SAVE_MIN_CHANGES, int(SAVE_FRACTION * (self.index.ntotal if self.index is not None else 0)))

    def _new(self, sample: np.ndarray) -> Any:
        """An IVFFlat index whose centroids are trained on ``sample`` (at most TRAIN_PER_LIST vectors a list)."""
        import faiss
        import numpy as np

        faiss.omp_set_num_threads(THREADS)
        nlist = n_lists(len(sample))
        index = faiss.IndexIVFFlat(faiss.IndexFlatIP(self.dim), self.dim, nlist, faiss.METRIC_INNER_PRODUCT)
        index.cp.niter = TRAIN_ITERATIONS
        rng = np.random.default_rng(0)
        per_list = TRAIN_PER_LIST * nlist
        train = sample if len(sample) <= per_list else sample[np.sort(rng.choice(len(sample), per_list,
                                                                                 replace=False))]
        index.train(np.ascontiguousarray(train, dtype=np.float32))
        index.set_direct_map_type(faiss.DirectMap.Hashtable)  # remove and reconstruct by id
        index.nprobe = n_probe(nlist)
        self.trained_on = len(sample)
        return index

    def save(self) -> None:
        """Write the index, then its manifest (each replaced atomically). Where the folder cannot be written
        (a database shared read-only) the index stays in this process's memory and the next process rebuilds it."""
        import faiss

        if self.folder is None:
            return
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            tmp = self.index_path.with_suffix(".faiss.tmp")
            faiss.write_index(self.index, str(tmp))
            os.replace(tmp, self.index_path)
            self.saved_stamp, self.unsaved = self.stamp, 0
            self.saves += 1
            self.save_manifest()
        except (OSError, RuntimeError):
            pass

    def build(self, vidx: VectorIndex) -> None:
        """Every vector of the cache, from nothing."""
        self._positions(vidx)
        self.index = self._new(vidx.matrix)
        if len(vidx.ids):
            self.index.add_with_ids(vidx.matrix, self.keys)
        self.stamp = vidx.stamp
        self.builds += 1
        self.matched = True
        self.unsaved = len(vidx.ids)  # none of it is in a file yet
        self.save()

    def _positions(self, vidx: VectorIndex) -> None:
        import numpy as np

        self.keys = self.keys_buf = keys_of(vidx.ids)
        self.extra_keys, self.extra_pos = np.empty(0, np.int64), np.empty(0, np.int64)
        self.sorted_pos = np.argsort(self.keys, kind="stable")
        self.sorted_keys = self.keys[self.sorted_pos]
        if len(self.sorted_keys) > 1 and bool((self.sorted_keys[1:] == self.sorted_keys[:-1]).any()):
            raise ValueError("two node ids share an index id; use exact search (--exact)")
        self.rows_seen = len(vidx.ids)
        self.source = vidx

    def _extend(self, vidx: VectorIndex) -> np.ndarray:
        """The keys of the rows ``vidx`` appended since ``rows_seen`` (a cache's rows only grow), added without
        hashing every id again or copying the 1M keys (a side table, merged now and then); returns those rows."""
        import numpy as np

        rows = np.arange(self.rows_seen, len(vidx.ids), dtype=np.int64)
        if len(rows):
            new = keys_of(vidx.ids[self.rows_seen:])
            if bool((self.rows_of(new) >= 0).any()) or len(np.unique(new)) < len(new):
                raise ValueError("two node ids share an index id; use exact search (--exact)")
            need = len(vidx.ids)
            if len(self.keys_buf) < need:
                grown = np.empty(max(need, int(need * 1.25) + 16), np.int64)
                grown[:self.rows_seen] = self.keys
                self.keys_buf = grown
            self.keys_buf[self.rows_seen:need] = new
            self.keys = self.keys_buf[:need]
            keys, pos = np.concatenate([self.extra_keys, new]), np.concatenate([self.extra_pos, rows])
            order = np.argsort(keys, kind="stable")
            self.extra_keys, self.extra_pos = keys[order], pos[order]
            if len(self.extra_keys) > EXTRA_MERGE:
                at = np.searchsorted(self.sorted_keys, self.extra_keys)
                self.sorted_keys = np.insert(self.sorted_keys, at, self.extra_keys)
                self.sorted_pos = np.insert(self.sorted_pos, at, self.extra_pos)
                self.extra_keys, self.extra_pos = np.empty(0, np.int64), np.empty(0, np.int64)
        self.rows_seen = len(vidx.ids)
        return rows

    def load(self, vidx: VectorIndex) -> bool:
        """Open the persisted index if its manifest matches ``vidx``'s model; False when it must be rebuilt."""
        import faiss

        if self.index_path is None or not self.index_path.is_file() or not self.manifest_path.is_file():
            return False
        try:
            man = json.loads(self.manifest_path.read_text(encoding="utf-8"))
            # a rebuild continues the count: the manifest says how many full builds this file has had
            self.builds, self.updates = int(man.get("builds", 0)), int(man.get("updates", 0))
            self.saves = int(man.get("saves", 0))
            if (man.get("format") != FORMAT or man.get("library") != LIBRARY
                    or _build_params(man.get("params")) != _build_params(PARAMS)
                    or man.get("model") != self.model or man.get("dim") != self.dim
                    or man.get("version") != faiss.__version__):
                return False
            index = faiss.read_index(str(self.index_path))
            if (not isinstance(index, faiss.IndexIVFFlat) or index.d != self.dim or index.ntotal != man.get("count")
                    or index.nlist != man.get("nlist")):
                return False
            self.trained_on = int(man["trained_on"])
            count, latest = man["stamp"]
            self.stamp = (int(count), datetime.fromisoformat(latest) if isinstance(latest, str) else latest)
            self.saved_stamp, self.unsaved, self.matched = self.stamp, 0, False
        except (OSError, ValueError, TypeError, KeyError, RuntimeError, AttributeError):
            return False
        index.nprobe = n_probe(index.nlist)
        self.index = index
        return True

    def spot_check(self, vidx: VectorIndex) -> bool:
        """A few vectors read back from the index equal the store's (a file of another database fails here)."""
        import numpy as np

        if not len(vidx.ids):
            return len(self.index) == 0
        rng = np.random.default_rng(len(vidx.ids))
        rows = rng.choice(len(vidx.ids), min(SPOT_CHECK, len(vidx.ids)), replace=False)
        try:
            got = self.index.reconstruct_batch(self.keys[rows])
        except RuntimeError:  # an id the index does not hold
            return False
        return got.shape == (len(rows), self.dim) and bool(np.allclose(got, vidx.matrix[rows], atol=1e-6))

    def held(self) -> np.ndarray:
        """Every id the index holds."""
        import faiss
        import numpy as np

        inv = self.index.invlists
        parts = [faiss.rev_swig_ptr(inv.get_ids(k), inv.list_size(k)).copy()
                 for k in range(self.index.nlist) if inv.list_size(k)]
        return np.concatenate(parts).astype(np.int64) if parts else np.empty(0, np.int64)

    def sync(self, vidx: VectorIndex, changed: list[str] | None) -> int:
        """Bring the index up to ``vidx`` in place; ``changed`` are node ids re-embedded since ``self.stamp``
        (None: unknown, every vector is compared). Returns how many keys were added, replaced or removed.

        The changes stay in memory until they reach :meth:`save_threshold`; then the file is rewritten."""
        import numpy as np

        if self.matched and self.source is vidx and self.keys is not None and len(vidx.ids) >= self.rows_seen:
            # the usual step: the same cache, grown by appended rows (it never drops one: a deletion makes a
            # new cache), so the new rows are exactly the keys to add and nothing is gone; no scan of 1M ids
            new_rows = self._extend(vidx)
            gone = np.empty(0, np.int64)
        else:
            if self.rows_seen != len(vidx.ids) or self.source is not vidx or self.keys is None:
                self._positions(vidx)
            held = self.held()
            gone = np.setdiff1d(held, self.keys, assume_unique=True)
            new_rows = np.flatnonzero(~np.isin(self.keys, held, assume_unique=True))
        if changed is None:
            old = np.setdiff1d(np.arange(len(vidx.ids)), new_rows)
            got = self.index.reconstruct_batch(self.keys[old]) if len(old) else np.empty((0, self.dim), np.float32)
            differs = ~np.all(np.isclose(np.asarray(got, np.float32), vidx.matrix[old], atol=1e-6), axis=1)
            replace = old[differs]
        else:
            replace = np.array([vidx.pos[i] for i in changed if i in vidx.pos], dtype=np.int64)
            replace = np.setdiff1d(replace, new_rows)
        if len(gone):
            self.index.remove_ids(gone)
        if len(replace):
            self.index.remove_ids(self.keys[replace])
        add = np.union1d(new_rows, replace).astype(np.int64)
        if len(add):
            self.index.add_with_ids(np.ascontiguousarray(vidx.matrix[add]), self.keys[add])
        touched = int(len(gone) + len(add))
        self.stamp = vidx.stamp
        self.matched = True
        if touched:
            self.updates += 1
            self.unsaved += touched
        if self.unsaved >= self.save_threshold():
            self.save()
        elif (not self.unsaved and self.saved_stamp != self.stamp and self.folder is not None
              and self.manifest_path.is_file()):
            # nothing unsaved, so the file holds the new stamp's vectors too: the next process need not look
            # for changes again. With unsaved changes the manifest must keep the file's older stamp.
            self.saved_stamp = self.stamp
            try:
                self.save_manifest()
            except OSError:
                pass
        return touched

    def save_manifest(self) -> None:
        """Raises OSError where the folder cannot be written."""
        mtmp = self.manifest_path.with_suffix(".json.tmp")
        mtmp.write_text(json.dumps(self.manifest(), indent=1) + "\n", encoding="utf-8")
        os.replace(mtmp, self.manifest_path)

    # ---- queries --------------------------------------------------------------------------------
    def rows_of(self, keys: np.ndarray) -> np.ndarray:
        """Cache rows of index keys, in their shape (-1 for a key the cache does not hold)."""
        import numpy as np

        out = np.full(np.shape(keys), -1, np.int64)
        for sk, sp in ((self.sorted_keys, self.sorted_pos), (self.extra_keys, self.extra_pos)):
            if sk is None or not len(sk):
                continue
            at = np.minimum(np.searchsorted(sk, keys), len(sk) - 1)
            hit = sk[at] == keys
            out[hit] = sp[at[hit]]
        return out

    def neighbours(self, queries: np.ndarray, cut: float, one: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """(query index, cache row) of every index hit at cosine > cut - MARGIN for each row of ``queries`` (q, d):
        a range search, so a crowded neighbourhood is never cut at some k. ``one``: one node's candidates, which
        probe more lists (see n_probe); else the index's own nprobe (the all-pairs rule)."""
        import faiss
        import numpy as np

        faiss.omp_set_num_threads(THREADS)
        params = faiss.SearchParametersIVF(nprobe=n_probe(int(self.index.nlist), True)) if one else None
        out_q, out_r = [], []
        for s in range(0, len(queries), 8192):
            lims, _, ids = self.index.range_search(np.ascontiguousarray(queries[s:s + 8192], dtype=np.float32),
                                                   float(cut - MARGIN), params=params)
            out_q.append(np.repeat(np.arange(s, s + len(lims) - 1), np.diff(lims.astype(np.int64))))
            out_r.append(self.rows_of(ids))
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
            if a.load(vidx) and len(vidx.ids) <= RETRAIN_GROWTH * max(1, a.trained_on):
                a._positions(vidx)
                changed = changed_since(a.stamp) if changed_since is not None and a.stamp[1] is not None else None
                a.sync(vidx, changed)
                if not a.spot_check(vidx):
                    a.build(vidx)
            else:
                a.build(vidx)
            _ANN[key] = a
        elif len(vidx.ids) > RETRAIN_GROWTH * max(1, a.trained_on):
            a.build(vidx)
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
    q, r = a.neighbours(matrix_rows, threshold)
    j = sub[r]
    keep = (j >= 0) & (j != q)
    i, j = q[keep], j[keep]
    lo, hi = np.minimum(i, j), np.maximum(i, j)
    code = np.unique(lo * len(all_rows) + hi)
    from graph.similarity import rescored

    return rescored(matrix_rows, code // len(all_rows), code % len(all_rows), threshold)
