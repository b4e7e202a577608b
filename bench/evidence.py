"""A heavily tested claim for the scale benchmark: one claim with 1,000 findings bearing on it.

:func:`claim_with_findings` appends to a generated graph (:mod:`bench.synthetic`) a paper, its claim, ten
published findings (ten quantities: IIA on two splits and EMD by two estimators, for DAS, CL and DAS+CL), twenty
runs and ``n`` findings: two in five produced by a run and judged against a published finding
(``replicates`` or ``fails_to_replicate``, the hop :func:`graph.evidence.evidence` follows), the others
``supports`` or ``contradicts`` the claim directly, each with one measurement of one of the ten quantities,
most with a standard error. So ``findings evidence CLAIM`` reads every edge, origin and measurement of 1,000
findings and pools ten groups of about 100 measurements each.

    python -m bench.evidence [--nodes 20000] [--findings 1000] [--repeat 5]   # on its own, a smaller graph

``make bench`` measures the same on the 100k-node graph (:func:`bench_evidence` from :mod:`bench.__main__`).
"""
from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

CLAIM = "claim:bench-heavily-tested-claim"
PAPER = "paper:bench-heavily-tested-paper"
CLAIM_TITLE = "Counterfactual latent loss lowers divergence while keeping interchange accuracy (bench claim)"
GS = "grant2025_geomloss_sinkhorn"
# (metric, measure, method, split, published value)
QUANTITIES = [("IIA", "iia_argmax", "DAS", "cross", 0.997), ("IIA", "iia_argmax", "DAS", "test", 0.995),
              ("IIA", "iia_argmax", "CL", "cross", 0.990), ("IIA", "iia_argmax", "CL", "test", 0.988),
              ("IIA", "iia_argmax", "DAS+CL", "cross", 0.993), ("EMD", GS, "DAS", "cross", 0.032),
              ("EMD", GS, "CL", "cross", 0.011), ("EMD", GS, "DAS+CL", "cross", 0.015),
              ("EMD", "exact_emd_task", "DAS", "cross", 0.05), ("EMD", "exact_emd_task", "CL", "cross", 0.02)]


def _measurement(q: tuple, value: float, err: float | None, n: int) -> dict[str, Any]:
    metric, measure, method, split, _ = q
    return {"metric": metric, "value": round(value, 5), "err": None if err is None else round(err, 5),
            "err_kind": None if err is None else "sem", "n": n, "measure": measure, "method": method,
            "split": split, "dataset": "synthetic10", "conditions": {"partition": "og_holdouts"}}


def claim_with_findings(nodes: list[dict], edges: list[tuple], n: int = 1000, seed: int = 1) -> str:
    """Append the claim, its paper, published findings, runs and ``n`` findings to ``nodes``/``edges``;
    returns the claim's id."""
    rng = np.random.default_rng(seed)

    def node(nid: str, kind: str, title: str, meas: list | None = None, attrs: dict | None = None) -> None:
        nodes.append({"id": nid, "kind": kind, "title": title, "description": "", "attrs": attrs or {},
                      "source": {"document": "bench"}, "measurements": meas or []})

    node(PAPER, "paper", "A heavily replicated paper (bench)")
    node(CLAIM, "claim", CLAIM_TITLE)
    edges.append((CLAIM, "extracted_from", PAPER, {}))
    published = []
    for k, q in enumerate(QUANTITIES):
        pid = f"finding:bench-published-{k}"
        node(pid, "finding", f"{q[0]} of {q[2]} on the {q[3]} split is {q[4]} (bench, published)",
             [_measurement(q, q[4], q[4] * 0.05 + 0.001, 5)])
        edges += [(pid, "extracted_from", PAPER, {}), (pid, "supports", CLAIM, {})]
        published.append(pid)
    runs = [f"run:bench-run-{r}" for r in range(20)]
    for r, rid in enumerate(runs):
        node(rid, "run", f"bench run {r}", attrs={"status": "finished", "config": {"seed": r},
                                                  "protocol": "grant2025", "seeds": [r]})
    for i in range(n):
        k = int(rng.integers(len(QUANTITIES)))
        q = QUANTITIES[k]
        value = float(q[4] * (1 + rng.normal(0, 0.08)))
        err = None if rng.random() < 0.05 else float(abs(q[4]) * rng.uniform(0.01, 0.1) + 1e-4)
        fid = f"finding:bench-evidence-{i}"
        node(fid, "finding", f"{q[0]} of {q[2]} on the {q[3]} split, measurement {i} (bench)",
             [_measurement(q, value, err, int(rng.integers(2, 10)))])
        if i % 5 < 2:
            edges.append((fid, "produced_by", runs[i % len(runs)], {}))
            verdict = "replicates" if rng.random() < 0.8 else "fails_to_replicate"
            edges.append((fid, verdict, published[k], {"z": round(float(rng.normal(0, 1.5)), 3)}))
        else:
            edges.append((fid, "supports" if rng.random() < 0.85 else "contradicts", CLAIM, {}))
    return CLAIM


def time_evidence(graph: Any, claim: str, repeat: int) -> tuple[float, list[float], dict[str, Any]]:
    """Median seconds of ``graph.evidence(claim)`` after one warm-up call (which pays for importing
    statsmodels), the runs, and the last result."""
    result = graph.evidence(claim)
    runs = []
    for _ in range(repeat):
        t = time.perf_counter()
        result = graph.evidence(claim)
        runs.append(time.perf_counter() - t)
    return statistics.median(runs), runs, result


def describe(result: dict[str, Any]) -> str:
    measured = sum(len(g["measurements"]) for g in result["groups"])
    pooled = sum(1 for g in result["groups"] if g["pooled"])
    return (f"{measured:,} measurements in {len(result['groups'])} groups, {pooled} pooled; "
            f"status {result['status']}")


def main(argv: list[str] | None = None) -> None:
    from bench.synthetic import generate
    from graph.api import Graph

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nodes", type=int, default=20_000)
    ap.add_argument("--edges", type=int, default=200_000)
    ap.add_argument("--findings", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--app", action="store_true", help="also render the claim's page in the app (AppTest)")
    args = ap.parse_args(argv)
    nodes, edges = generate(args.nodes, args.edges)
    claim = claim_with_findings(nodes, edges, args.findings)
    with tempfile.TemporaryDirectory() as tmp:
        g = Graph(str(Path(tmp) / "evidence.db"))
        g.bulk_load(nodes, edges)
        med, runs, result = time_evidence(g, claim, args.repeat)
        g.store.dispose()
        print(f"evidence of a claim with {args.findings:,} findings ({len(nodes):,}-node graph): median "
              f"{med * 1000:.1f} ms over {len(runs)} (max {max(runs) * 1000:.1f} ms; goal < 200 ms); "
              f"{describe(result)}", flush=True)
        if args.app:
            from bench.app_page import render_times

            os.environ["FINDINGS_DB"] = str(Path(tmp) / "evidence.db")
            first, times = render_times(args.repeat, claim, CLAIM_TITLE[:40])
            print(f"claim page (AppTest, whole script): median {statistics.median(times) * 1000:.0f} ms over "
                  f"{len(times)} renders (goal < 1 s; first render {first:.1f} s)")


if __name__ == "__main__":
    main()
