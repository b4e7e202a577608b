"""The million-node benchmark (``python -m bench --scale 1m``, ``make bench-1m``): a graph of papers, authors,
categories and findings built through the real ingest path, and every hot path measured against its goal.

    python -m bench --scale 1m [--papers 850000] [--findings 30000] [--similar-per-paper 5.5]
                               [--keep DIR] [--measure-only] [--repeat 5] [--sample 20] [--skip-app]

1. :mod:`bench.arxiv_scale` writes a snapshot of ``--papers`` generated arXiv records as a stream, and
   ``findings ingest FILE --format arxiv-snapshot`` (a subprocess: the whole command, timed) writes the
   papers, their authors (``authored_by``) and categories (``in_category``).
2. Findings with measurements, and the typed edges the snapshot does not carry (papers ``listed_similar``
   to papers; findings ``extracted_from`` papers, ``associated_with`` and ``replicates`` findings), go in
   through :meth:`graph.api.Graph.bulk_load`, a chunk per transaction.
3. The figures: node page data, 2-hop walk, keyword search, ``findings show`` / ``neighbors`` cold, and the
   Streamlit node page, for random nodes and for hubs (the busiest category, cs.LG, and the busiest author).

With ``--keep DIR`` the database and the snapshot stay in DIR, with ``build.json`` recording how the build
went; a later run with the same DIR measures again without rebuilding. Similarity candidates are left out
at this scale: stand-in vectors for a million nodes would be 1.5 GB, and candidates are the nearest-neighbour
index's work; the app is measured read-only, where a node without a stored vector shows no candidates.
Results go to bench/results/scale-1m.json.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import time
from pathlib import Path
from typing import Any

from bench import machine, work_folder, write_results
from bench.__main__ import (ROOT, Table, add_common_options, app_pages, begin, bench_search, findings_command,
                            median_over, median_time)

RESULTS = ROOT / "bench" / "results" / "scale-1m.json"
PAGE = 30  # rows per group on a node page, as app.views.node shows
BIGGEST = {"category": ("in_category", "in"), "author": ("authored_by", "in")}  # a hub's big group


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def build(folder: Path, papers: int, n_findings: int, similar_per_paper: float, table: Table) -> dict[str, Any]:
    from bench.arxiv_scale import findings, typed_edges, write_snapshot
    from graph.api import Graph

    db = folder / "scale-1m.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    snap = folder / "arxiv-snapshot.jsonl"
    t = time.perf_counter()
    made = write_snapshot(snap, papers)
    table.add(f"write {made['lines']:,} snapshot lines, {made['bytes'] / 1e6:,.0f} MB (not a goal)",
              time.perf_counter() - t, None, f"{made['repeats']} repeats, {made['broken']} broken on purpose")
    env = {**os.environ, "FINDINGS_DB": str(db), "FINDINGS_USER": "bench"}
    t, cpu0 = time.perf_counter(), os.times()
    done = subprocess.run(findings_command() + ["ingest", str(snap), "--format", "arxiv-snapshot", "--json"],
                          env=env, check=True, capture_output=True, text=True)
    ingest_s = time.perf_counter() - t
    cpu1 = os.times()
    ingest_cpu = (cpu1.children_user - cpu0.children_user) + (cpu1.children_system - cpu0.children_system)
    report = json.loads(done.stdout)
    table.add(f"findings ingest of {made['lines']:,} snapshot lines (whole command)", ingest_s, 300.0,
              f"+{report['nodes_added']:,} nodes, +{report['edges_added']:,} edges, "
              f"{len(report['warnings'])} warnings; cpu {ingest_cpu:.0f} s", cpu_s=round(ingest_cpu, 1))
    g = Graph(str(db), user="bench")
    with g.store.read() as tx:
        paper_ids = sorted(i for i, (k, _) in tx.node_kinds().items() if k == "paper")
    nodes = findings(n_findings)
    t = time.perf_counter()
    added = g.bulk_load(nodes)
    bulk_edges = 0
    for chunk in typed_edges(paper_ids, [n["id"] for n in nodes], similar_per_paper):
        bulk_edges += g.bulk_load(edges=chunk, provenance={"document": "synthetic"}).edges
    table.add(f"bulk load {added.nodes:,} findings + {bulk_edges:,} typed edges (not a goal)",
              time.perf_counter() - t, None, "graph.bulk, a chunk per transaction")
    stats = g.stats()
    g.store.dispose()
    return {"snapshot": made, "ingest_s": round(ingest_s, 1), "ingest_cpu_s": round(ingest_cpu, 1),
            "ingest_load_avg": _load(), "ingest_report": {k: v for k, v in report.items() if k != "warnings"},
            "ingest_warnings": len(report["warnings"]), "bulk_edges": bulk_edges, "stats": stats}


def pick(db: Path, k: int, seed: int = 0) -> dict[str, Any]:
    """Random nodes, and the hubs: the busiest category and the busiest author (counted, not loaded)."""
    from graph.api import Graph

    g = Graph(str(db))
    with g.store.read() as tx:
        ids = sorted(tx.node_kinds())
        hubs = {}
        for kind in ("category", "author"):
            hubs[kind] = tx.busiest_target_of_kind(kind)
    g.store.dispose()
    return {"sample": random.Random(seed).sample(ids, k), "hubs": hubs, "nodes": len(ids)}


def measure(db: Path, picks: dict[str, Any], repeat: int, table: Table, app: bool) -> None:
    from graph.api import Graph

    g = Graph(str(db))
    sample = picks["sample"]
    for label, fn, goal in (
            ("node page data (node, counts, first page of each group)",
             lambda nid: g.node_page(nid, per_group=PAGE), 0.02),
            ("2-hop neighbourhood (graph view, capped at 150 nodes)",
             lambda nid: g.subgraph(nid, hops=2, max_nodes=150), 0.05)):
        med, runs = median_over(fn, sample)
        table.add(label, med, goal, f"median over {len(sample)} random nodes, max {max(runs) * 1000:.0f} ms; "
                                    "no similarity part")
    for kind, (hub, degree) in picks["hubs"].items():
        for label, fn, goal in (
                (f"node page data, {kind} hub {hub} ({degree:,} edges)", lambda: g.node_page(hub, per_group=PAGE),
                 0.02),
                (f"  its page 100 of the biggest group (offset {100 * PAGE:,})",
                 lambda: g.node_page(hub, per_group=PAGE, offsets={BIGGEST[kind]: 100 * PAGE}), 0.02),
                (f"  show data (first page of each group, counted), {kind} hub", lambda: g.show(hub, limit=20),
                 0.02),
                (f"2-hop neighbourhood, {kind} hub", lambda: g.subgraph(hub, hops=2, max_nodes=150), 0.05)):
            med, _ = median_time(fn, repeat)
            table.add(label, med, goal)
    bench_search(g, table)
    g.store.dispose()

    env = {**os.environ, "FINDINGS_DB": str(db)}
    cmd = findings_command()

    cpu: list[float] = []  # each command's own CPU seconds: what it costs, whatever else the cores are doing

    def run(args: list[str]):
        def go() -> None:
            before = os.times()
            subprocess.run(cmd + args, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            after = os.times()
            cpu.append(after.children_user - before.children_user + after.children_system - before.children_system)
        return go

    node = sample[0]
    rows = [(f"findings show ID (a {node.split(':')[0]})", ["show", node]),
            ("findings search TEXT (keyword)", ["search", "causal interventions"])]
    for kind, (hub, degree) in picks["hubs"].items():
        rows += [(f"findings show HUB ({kind}, {degree:,} edges)", ["show", hub]),
                 (f"findings neighbors HUB ({kind}, {degree:,} edges)", ["neighbors", hub])]
    for label, args in rows:
        cpu.clear()
        med, runs = median_time(run(args), repeat)
        table.add("cold start: " + label, med, 0.3,
                  f"subprocess, whole command; its cpu {statistics.median(cpu[1:]) * 1000:.0f} ms",
                  runs=[round(x, 4) for x in runs], cpu_s=round(statistics.median(cpu[1:]), 4))

    if app:
        os.environ["FINDINGS_READ_ONLY"] = "1"  # no vectors at this scale: the page shows no candidates
        targets = [("a random node", sample[0])] + [(f"{kind} hub, {d:,} edges", h)
                                                    for kind, (h, d) in picks["hubs"].items()]
        app_pages(db, targets, repeat, table, ", read-only")
        os.environ.pop("FINDINGS_READ_ONLY", None)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", default="1m")
    ap.add_argument("--papers", type=int, default=850_000)
    ap.add_argument("--findings", type=int, default=30_000)
    ap.add_argument("--similar-per-paper", type=float, default=5.5,
                    help="listed_similar edges per paper, added through graph.bulk")
    ap.add_argument("--results", type=Path, default=RESULTS)
    ap.add_argument("--measure-only", action="store_true",
                    help="measure the graph in --keep DIR as it is, even if its build did not finish")
    add_common_options(ap)  # --repeat, --sample, --keep (here: reused when it holds a finished build), --skip-app
    args = ap.parse_args(argv)

    started, load_before = begin(f"million-node benchmark: {args.papers:,} papers + {args.findings:,} findings")
    table = Table()
    folder, tmp = work_folder(args.keep, "bench-1m-")
    db, marker = folder / "scale-1m.db", folder / "build.json"
    try:
        built = json.loads(marker.read_text()) if marker.exists() and db.exists() else None
        if args.measure_only:
            if not db.exists():
                raise SystemExit(f"--measure-only: no graph in {folder}")
            built = built or {"papers": args.papers, "note": "measured as found: no finished build recorded"}
        elif built is None or built.get("papers") != args.papers:
            built = {"papers": args.papers, **build(folder, args.papers, args.findings, args.similar_per_paper,
                                                    table)}
            marker.write_text(json.dumps(built, indent=2) + "\n")
        else:
            print(f"  (reusing the graph built in {folder}: ingest took {built['ingest_s']} s at load "
                  f"{built['ingest_load_avg']})", flush=True)
        picks = pick(db, args.sample)
        print(f"  (hubs: {picks['hubs']})", flush=True)
        measure(db, picks, args.repeat, table, app=not args.skip_app)
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)
    total = time.perf_counter() - started
    table.print()
    result = {"machine": machine(load_before),
              "build": built, "hubs": picks["hubs"], "total_s": round(total, 1), "figures": table.rows}
    write_results(args.results, result)
    print(f"\n  whole benchmark: {total / 60:.1f} min; wrote {args.results}")
    return result
