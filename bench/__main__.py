"""The scale benchmark (``make bench``): a 100k-node graph, and every hot path measured against its goal.

    python -m bench [--nodes 100000] [--edges 1000000] [--repeat 5] [--keep DIR] [--skip-app]
    python -m bench --scale 1m [--keep DIR] …   (the million-node graph: bench/scale_1m.py)

1. :mod:`bench.synthetic` generates a research graph (100k nodes of every kind, 1M typed edges,
   measurements) and :meth:`graph.api.Graph.bulk_load` loads it into a fresh SQLite file.
2. Stand-in vectors (random unit rows with planted near-copies, from :func:`bench.similarity.unit_vectors`)
   are stored under each node's real text hash: encoding 100k texts with MiniLM would take hours on a
   small CPU. The real model is loaded for query embeddings and for the new nodes' vectors.
3. One claim has 1,000 findings bearing on it (:mod:`bench.evidence`): its evidence is weighed (grouped,
   pooled) and its page rendered.
4. Each figure is the median of ``--repeat`` runs (the all-pairs candidate build runs once), printed next
   to its goal with the load average, and written to bench/results/scale.json.

Timings on a shared machine say what the machine gave the work: the load average is printed with them,
and the CPU-bound figures carry their CPU seconds too.
"""
from __future__ import annotations

import argparse
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import machine, work_folder, write_results  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "scale.json"
EVIDENCE_FINDINGS = 1000
KEYWORD_QUERIES = ["causal interventions", "DAS", "boundless das price tagging", "sparse autoencoders layer",
                   "interchange intervention accuracy", "optimal transport divergence", "held-out partitions",
                   "steering vectors", "entity binding", "logit difference"]
SEMANTIC_QUERIES = ["interventions that push representations off the data manifold",
                    "counterfactual latent loss keeps accuracy while reducing divergence",
                    "which attention heads implement indirect object identification",
                    "probing classifiers can be misleading", "replication of a published interpretability result"]


# ---- measuring ----------------------------------------------------------------------------------
class Table:
    """Rows of (figure, goal, measured, ok) printed as they come, kept for the JSON file."""

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []

    def add(self, figure: str, seconds: float | None, goal_s: float | None, note: str = "",
            **extra: Any) -> None:
        ok = None if goal_s is None or seconds is None else seconds < goal_s
        row = {"figure": figure, "seconds": None if seconds is None else round(seconds, 5),
               "goal_s": goal_s, "ok": ok, "note": note, "load_avg": [round(x, 2) for x in os.getloadavg()],
               **extra}
        self.rows.append(row)
        print(self._line(row), flush=True)

    @staticmethod
    def _fmt(s: float | None) -> str:
        if s is None:
            return "-"
        return f"{s * 1000:.1f} ms" if s < 1 else f"{s:.2f} s"

    def _line(self, row: dict[str, Any]) -> str:
        goal = "" if row["goal_s"] is None else "< " + self._fmt(row["goal_s"])
        verdict = {True: "ok", False: "SLOW", None: ""}[row["ok"]]
        load = "/".join(f"{x:.1f}" for x in row["load_avg"])
        return (f"  {row['figure']:<58} {goal:>10} {self._fmt(row['seconds']):>11}  {verdict:<4}  load {load}"
                + (f"  ({row['note']})" if row["note"] else ""))

    def print(self) -> None:
        print()
        print(f"  {'figure':<58} {'goal':>10} {'measured':>11}  {'':<4}  load average (1/5/15 min)")
        print("  " + "-" * 118)
        for row in self.rows:
            print(self._line(row))


def median_time(fn: Callable[[], Any], repeat: int, warmup: int = 1) -> tuple[float, list[float]]:
    for _ in range(warmup):
        fn()
    runs = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - t)
    return statistics.median(runs), runs


def median_over(fn: Callable[[Any], Any], items: list[Any], warmup: bool = True) -> tuple[float, list[float]]:
    """Median of ``fn(item)`` over items (one warm-up call on the first)."""
    if warmup and items:
        fn(items[0])
    runs = []
    for item in items:
        t = time.perf_counter()
        fn(item)
        runs.append(time.perf_counter() - t)
    return statistics.median(runs), runs


# ---- the steps ----------------------------------------------------------------------------------
def build(path: Path, n_nodes: int, n_edges: int, table: Table) -> tuple[list[dict], list[tuple]]:
    from bench.evidence import claim_with_findings
    from bench.similarity import timed, timed_cpu
    from bench.synthetic import generate, vectors
    from graph import bulk
    from graph.api import Graph
    from graph.embeddings import DEFAULT_MODEL

    (nodes, edges), gen_s = timed(generate, n_nodes, n_edges)
    claim_with_findings(nodes, edges, EVIDENCE_FINDINGS)
    table.add(f"generate {len(nodes):,} nodes + {len(edges):,} edges (not a goal)", gen_s, None,
              f"with a claim that {EVIDENCE_FINDINGS:,} findings bear on")
    g = Graph(str(path))
    report, load_s, load_cpu = timed_cpu(g.bulk_load, nodes, edges)
    table.add(f"bulk load {report.nodes:,} nodes + {report.edges:,} edges", load_s, 60.0,
              f"{report.measurements:,} measurements; cpu {load_cpu:.1f} s", cpu_s=round(load_cpu, 2))
    rows = vectors(nodes)
    _, vec_s = timed(g.store.run_in_transaction, lambda tx: bulk.put_vectors(tx, DEFAULT_MODEL, rows))
    table.add(f"store {len(rows):,} stand-in vectors (not a goal)", vec_s, None, "random unit vectors, real hashes")
    g.store.dispose()
    return nodes, edges


def pick_nodes(path: Path, k: int, seed: int = 0) -> dict[str, Any]:
    """A random sample of nodes, the node with the most edges, and a search word of each sample."""
    from graph.api import Graph

    g = Graph(str(path))
    with g.store.read() as tx:
        ids = sorted(tx.node_kinds())
        hub, degree = tx.busiest_target()
        title = tx.get_node(hub).title
    g.store.dispose()
    rng = random.Random(seed)
    return {"sample": rng.sample(ids, k), "hub": hub, "hub_degree": degree, "hub_title": title, "nodes": len(ids)}


def findings_command() -> list[str]:
    exe = Path(sys.executable).parent / "findings"
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "app.cli"]


def bench_cli(path: Path, picks: dict[str, Any], repeat: int, table: Table) -> None:
    env = {**os.environ, "FINDINGS_DB": str(path)}
    cmd = findings_command()

    def run(args: list[str]) -> Callable[[], None]:
        def go() -> None:
            subprocess.run(cmd + args, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return go

    node, size = picks["sample"][0], f"{picks['nodes']:,}-node graph"
    for label, args, goal in (("findings --help", ["--help"], 0.3),
                              (f"findings show ID (a {node.split(':')[0]}, {size})", ["show", node], 0.3),
                              (f"findings search TEXT (keyword, {size})", ["search", "causal interventions"], 0.3),
                              (f"findings show HUB ({picks['hub_degree']:,} edges)", ["show", picks["hub"]], 0.3),
                              (f"findings neighbors HUB ({picks['hub_degree']:,} edges)",
                               ["neighbors", picks["hub"]], 0.3)):
        med, runs = median_time(run(args), repeat)
        table.add("cold start: " + label, med, goal, "subprocess, whole command",
                  runs=[round(x, 4) for x in runs])


def bench_pages(path: Path, picks: dict[str, Any], repeat: int, table: Table) -> None:
    from app.views.node import MAX_PER_GROUP
    from graph.api import Graph
    from graph.similarity import similar, vector_index

    g = Graph(str(path))
    vector_index(g)  # the app's cache is warm after its first page
    sample = picks["sample"]

    def page(nid: str) -> None:
        g.node_page(nid, per_group=MAX_PER_GROUP)
        similar(g, nid, limit=20)

    for label, fn in (("node page data (node, edges, ranked neighbourhood, candidates)", page),
                      ("  of which node, edges and ranked neighbourhood",
                       lambda nid: g.node_page(nid, per_group=MAX_PER_GROUP)),
                      ("  of which similarity candidates (warm vector cache)", lambda nid: similar(g, nid, limit=20)),
                      ("2-hop neighbourhood (graph view, capped at 150 nodes)",
                       lambda nid: g.subgraph(nid, hops=2, max_nodes=150))):
        med, runs = median_over(fn, sample)
        table.add(label, med, 0.05 if label.startswith("2-hop") else 0.02 if not label.startswith(" ") else None,
                  f"median over {len(sample)} random nodes, max {max(runs) * 1000:.0f} ms")
    hub = picks["hub"]
    for label, fn, goal in ((f"node page data, hub ({picks['hub_degree']:,} edges)", lambda: page(hub), 0.02),
                            ("2-hop neighbourhood, hub", lambda: g.subgraph(hub, hops=2, max_nodes=150), 0.05),
                            ("show data, hub (first page of each group, counted)",
                             lambda: g.show(hub, limit=20), 0.02)):
        med, _ = median_time(fn, repeat)
        table.add(label, med, goal)
    bench_search(g, table)
    g.store.dispose()


def bench_search(g, table: Table) -> None:
    med, runs = median_over(lambda q: g.search(q), KEYWORD_QUERIES)
    table.add("keyword search (FTS, top 20)", med, 0.05,
              f"median over {len(KEYWORD_QUERIES)} queries, max {max(runs) * 1000:.0f} ms")


def bench_similarity(path: Path, repeat: int, table: Table) -> None:
    from bench.similarity import timed, timed_cpu
    from graph.api import Graph
    from graph.embeddings import embed_items, load_model, node_text, text_hash
    from graph.similarity import candidate_pairs, clear_cache, semantic_search, similar, vector_index

    g = Graph(str(path))
    clear_cache()
    idx, cold = timed(vector_index, g)
    table.add(f"vector cache cold load ({len(idx.ids):,} vectors, not a goal)", cold, None)
    _, load_s = timed(load_model)
    table.add("model load (all-MiniLM-L6-v2, not a goal)", load_s, None)
    med, runs = median_over(lambda q: semantic_search(g, q, limit=20), SEMANTIC_QUERIES)
    table.add(f"semantic search over {len(idx.ids):,} vectors (model loaded)", med, 0.1,
              f"query embedded by the real model; median over {len(SEMANTIC_QUERIES)} queries")

    cands, build_s, build_cpu = timed_cpu(candidate_pairs, g)
    table.add(f"similarity candidate build, all pairs of {len(idx.ids):,}", build_s, 20.0,
              f"1 run; cpu {build_cpu:.1f} s; {len(cands):,} candidates", cpu_s=round(build_cpu, 2))

    # one new node: added, embedded by the real model, then its candidates against everything (the cache is
    # patched with the new vector, not reloaded)
    steps: dict[str, list[float]] = {"add": [], "embed": [], "similar": []}

    def new_node(k: int) -> None:
        t0 = time.perf_counter()
        nid = g.add_node({"kind": "finding", "title": f"DAS+CL keeps IIA near 0.99 while EMD falls, probe {k}",
                          "description": "A new result from the scale benchmark."})
        n = g.get(nid)
        text = node_text(n.title, n.description)
        t1 = time.perf_counter()
        embed_items(g, [(nid, text, text_hash(text))])
        t2 = time.perf_counter()
        similar(g, nid, limit=20)
        t3 = time.perf_counter()
        for key, took in (("add", t1 - t0), ("embed", t2 - t1), ("similar", t3 - t2)):
            steps[key].append(took)

    for k in range(repeat + 1):
        new_node(k)
    med = {key: statistics.median(v[1:]) for key, v in steps.items()}  # the first pays for warming up
    table.add("incremental candidates for one new node (similar() on it)", med["similar"], 0.05,
              "its vector patched into the cached matrix; one-vs-all, not a rebuild")
    table.add("  new node end to end: add + embed (real model) + similar", sum(med.values()), None,
              f"add {med['add'] * 1000:.0f} ms, embed {med['embed'] * 1000:.0f} ms")
    g.store.dispose()


def bench_app(path: Path, picks: dict[str, Any], repeat: int, table: Table) -> None:

    app_pages(path, [("a random node", picks["sample"][0]), (f"hub, {picks['hub_degree']:,} edges", picks["hub"])],
              repeat, table)


def app_pages(path: Path, targets: list[tuple[str, str]], repeat: int, table: Table, note: str = "") -> None:
    """The Streamlit node page of each (label, node id) of ``targets``, rendered by AppTest, timed."""
    from bench.app_page import render_times
    from graph.api import Graph

    os.environ["FINDINGS_DB"] = str(path)
    g = Graph(str(path))
    for label, nid in targets:
        title = g.get(nid).title
        # a word the page shows as it is (Markdown escapes punctuation: "cs.LG" renders as "cs\\.LG")
        word = next((w for w in re.findall(r"[A-Za-z]{4,}", title)), max(re.findall(r"\w+", title) or [""], key=len))
        first, times = render_times(repeat, nid, word)
        table.add(f"Streamlit node page server time ({label})", statistics.median(times), 1.0,
                  f"AppTest run of the whole script{note}; first render {first:.1f} s")
    g.store.dispose()


def bench_evidence(path: Path, repeat: int, table: Table, app: bool) -> None:
    """The claim that 1,000 findings bear on (:mod:`bench.evidence`): its evidence, and its page in the app."""
    from bench.evidence import CLAIM, CLAIM_TITLE, describe, time_evidence
    from graph.api import Graph

    g = Graph(str(path))
    med, runs, result = time_evidence(g, CLAIM, repeat)
    table.add(f"evidence of a claim with {EVIDENCE_FINDINGS:,} findings (grouped, pooled)", med, 0.2,
              f"{describe(result)}; max {max(runs) * 1000:.0f} ms; statsmodels imported by a warm-up call")
    g.store.dispose()
    if app:
        from bench.app_page import render_times

        os.environ["FINDINGS_DB"] = str(path)
        first, times = render_times(repeat, CLAIM, CLAIM_TITLE[:40])
        table.add(f"Streamlit claim page server time ({EVIDENCE_FINDINGS:,} findings, forest plots)",
                  statistics.median(times), 1.0, f"AppTest run of the whole script; first render {first:.1f} s")


def add_common_options(ap: argparse.ArgumentParser) -> None:
    """The options both scales take: repeats, sample size, a kept build folder, leaving out the app."""
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--sample", type=int, default=20, help="random nodes for the per-node figures")
    ap.add_argument("--keep", type=Path, default=None, help="build the database in this folder and keep it")
    ap.add_argument("--skip-app", action="store_true", help="leave out the Streamlit page")


def begin(title: str) -> tuple[float, tuple[float, float, float]]:
    """Print what is measured with the machine's cpus and load average; (start time, load average)."""
    load = os.getloadavg()
    print(f"{title}; {os.cpu_count()} cpus, load average {load[0]:.1f}/{load[1]:.1f}/{load[2]:.1f}", flush=True)
    return time.perf_counter(), load


def main(argv: list[str] | None = None) -> dict[str, Any]:
    argv = sys.argv[1:] if argv is None else argv
    if "--scale" in argv and argv[argv.index("--scale") + 1:][:1] == ["1m"] or "--scale=1m" in argv:
        from bench.scale_1m import main as main_1m  # papers through the real ingest path: bench/scale_1m.py

        return main_1m(argv)
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", choices=["100k", "1m"], default="100k",
                    help="100k: this suite; 1m: the million-node graph of bench/scale_1m.py")
    ap.add_argument("--nodes", type=int, default=100_000)
    ap.add_argument("--edges", type=int, default=1_000_000)
    add_common_options(ap)
    ap.add_argument("--skip-ann", action="store_true", help="leave out the approximate-index rows (bench/ann.py)")
    args = ap.parse_args(argv)

    started, load_before = begin(f"scale benchmark: {args.nodes:,} nodes, {args.edges:,} edges")
    table = Table()
    folder, tmp = work_folder(args.keep, "bench-scale-")
    path = folder / "scale.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    try:
        build(path, args.nodes, args.edges, table)
        picks = pick_nodes(path, args.sample)
        print(f"  (hub: {picks['hub']}, {picks['hub_degree']:,} edges)", flush=True)
        bench_cli(path, picks, args.repeat, table)
        bench_pages(path, picks, args.repeat, table)
        bench_similarity(path, args.repeat, table)
        if not args.skip_ann:
            from bench.ann import scale_rows

            scale_rows(path, table)
        bench_evidence(path, args.repeat, table, app=not args.skip_app)
        if not args.skip_app:
            bench_app(path, picks, args.repeat, table)
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)
    total = time.perf_counter() - started
    table.print()
    print(f"\n  whole benchmark: {total / 60:.1f} min; the similarity vectors are random stand-ins "
          f"(the real model embeds only queries and new nodes)")
    result = {"machine": machine(load_before),
              "graph": {"nodes": args.nodes, "edges": args.edges, "repeat": args.repeat, "sample": args.sample},
              "total_s": round(total, 1), "figures": table.rows}
    write_results(RESULTS, result)
    print(f"  wrote {RESULTS.relative_to(ROOT)}")
    return result


if __name__ == "__main__":
    main()
