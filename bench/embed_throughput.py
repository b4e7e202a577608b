"""Embedding throughput of ``findings embed``, on the CPU or a GPU, apart from the similarity benches.

    python -m bench.embed_throughput [--device cpu|cuda] [--texts sentences|papers] [--n 2000 20000 ...]
                                     [--batch 64 256 ...] [--model DIR] [--vectors FILE --vectors-n 2000]

Each (n, batch) pair is one row: ``n`` generated texts are bulk-loaded as nodes into a fresh SQLite store and
``graph.embeddings.embed_pending`` embeds them as ``findings embed`` does (pages of nodes streamed by id,
a transaction per chunk, resumable). The row reports texts/s for that whole path and, apart, for the model's
``encode`` alone on the same texts (no store), so the share the store takes is visible. The model load is timed
once, apart.

Texts: ``sentences`` are one-line findings (about 15 words, :func:`bench.similarity.sentences`); ``papers``
are a generated snapshot paper's title and abstract (about 60-90 words, :func:`bench.arxiv_scale.paper_line`),
the text a paper node is embedded by.

``--vectors FILE`` saves the first ``--vectors-n`` texts' vectors (float32, ``.npy``) so that two devices'
vectors of the same texts can be compared (``--compare A.npy B.npy`` prints the cosine of each pair).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import load, machine  # noqa: E402


def texts(kind: str, n: int, seed: int = 11) -> list[str]:
    """``n`` generated texts of ``kind`` (sentences or papers), as node texts."""
    if kind == "sentences":
        from bench.similarity import sentences

        return sentences(n, seed=seed)
    if kind == "papers":
        from bench.arxiv_scale import paper_line
        from graph.embeddings import node_text

        out = []
        for i in range(n):
            p = paper_line(i, max(10, n // 4), seed=seed)
            out.append(node_text(p["title"], " ".join(p["abstract"].split())))
        return out
    raise ValueError(f"unknown texts {kind!r}; expected sentences or papers")


def _sync(device: str) -> None:
    if device == "cuda":
        import torch

        torch.cuda.synchronize()


def encode_only(items: list[str], model: str | None, batch: int, device: str) -> float:
    """Seconds for ``graph.embeddings.encode`` over ``items`` in the chunks embed_items uses, no store."""
    from graph import embeddings

    step = max(batch, min(embeddings._CHUNK, batch * 4))
    t = time.perf_counter()
    for start in range(0, len(items), step):
        embeddings.encode(items[start:start + step], model, batch_size=batch, device=device)
    _sync(device)
    return time.perf_counter() - t


def through_store(items: list[str], model: str | None, batch: int, device: str) -> dict[str, Any]:
    """``embed_pending`` (``findings embed``'s path) over ``items`` as nodes of a fresh SQLite store."""
    from graph.api import Graph
    from graph.embeddings import embed_pending

    tmp = tempfile.mkdtemp(prefix="bench-embed-")
    try:
        g = Graph(os.path.join(tmp, "e.db"))
        g.bulk_load([{"id": f"finding:embed-{k:08d}", "kind": "finding", "title": text}
                     for k, text in enumerate(items)], [])
        t = time.perf_counter()
        report = embed_pending(g, model, batch_size=batch, progress=False, device=device)
        _sync(device)
        wall = time.perf_counter() - t
        again = embed_pending(g, model, batch_size=batch, progress=False, device=device)
        g.store.dispose()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return {"embedded": report.embedded, "seconds": round(wall, 2), "texts_per_s": round(report.embedded / wall, 1),
            "second_run_embedded": again.embedded, "second_run_skipped": again.skipped}


def measure(device: str, kind: str, sizes: list[int], batches: list[int], model: str | None = None,
            vectors: str | None = None, vectors_n: int = 2000, out: str | None = None) -> dict[str, Any]:
    import torch

    from graph.embeddings import check_device, encode, load_model

    device = check_device(device)
    load_before = os.getloadavg()
    t = time.perf_counter()
    load_model(model, device)
    encode(["warm-up text"] * 8, model, device=device)
    _sync(device)
    result: dict[str, Any] = {"device": device, "texts": kind, "model": model or "all-MiniLM-L6-v2",
                              "model_load_s": round(time.perf_counter() - t, 2), "rows": [],
                              "machine": {**machine(load_before), "torch": torch.__version__}}
    if device == "cuda":
        result["machine"]["gpu"] = torch.cuda.get_device_name(0)
    print(f"model load {result['model_load_s']} s on {device} {result['machine'].get('gpu', '')}", flush=True)
    every = texts(kind, max(sizes + [vectors_n if vectors else 0]))
    if vectors:
        import numpy as np

        np.save(vectors, encode(every[:vectors_n], model, batch_size=64, device=device))
    for n in sizes:
        for batch in batches:
            before = load()
            enc = encode_only(every[:n], model, batch, device)
            row = {"n": n, "batch": batch, "encode_s": round(enc, 2), "encode_texts_per_s": round(n / enc, 1)}
            row.update(through_store(every[:n], model, batch, device))
            row["load_avg"] = f"{before} -> {load()}"
            result["rows"].append(row)
            print(f"{kind} n={n:,} batch={batch}: encode alone {row['encode_texts_per_s']:,} texts/s "
                  f"({row['encode_s']} s); findings embed's path {row['texts_per_s']:,} texts/s ({row['seconds']} s), "
                  f"second run embedded {row['second_run_embedded']}  (load {row['load_avg']})", flush=True)
            if out:
                Path(out).write_text(json.dumps(result, indent=1))
    return result


def compare(a: str, b: str) -> None:
    import numpy as np

    x, y = np.load(a), np.load(b)
    cos = (x * y).sum(axis=1) / (np.linalg.norm(x, axis=1) * np.linalg.norm(y, axis=1))
    print(f"{len(cos)} pairs: cosine min {cos.min():.7f}, median {np.median(cos):.7f}; "
          f"max |difference| {np.abs(x - y).max():.2e}")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--texts", default="sentences", choices=("sentences", "papers"))
    ap.add_argument("--n", type=int, nargs="+", default=[2000])
    ap.add_argument("--batch", type=int, nargs="+", default=[64])
    ap.add_argument("--model", default=None, help="a local sentence-transformers directory (default: the packaged one)")
    ap.add_argument("--vectors", default=None, help="save the first --vectors-n texts' vectors here (.npy)")
    ap.add_argument("--vectors-n", type=int, default=2000)
    ap.add_argument("--out", default=None, help="write the rows here as JSON after each one")
    ap.add_argument("--compare", nargs=2, metavar=("A", "B"), help="compare two saved vector files and stop")
    args = ap.parse_args(argv)
    if args.compare:
        compare(*args.compare)
        return
    measure(args.device, args.texts, args.n, args.batch, args.model, args.vectors, args.vectors_n, args.out)


if __name__ == "__main__":
    main()
