"""Reproduce the synthetic half of Grant, Han, Tartaglini & Potts (arXiv 2511.04638) and time it.

    .venv/bin/python -m bench.reproduce_synthetic --protocol grant2025          # og_holdouts, 3 losses
    .venv/bin/python -m bench.reproduce_synthetic --protocol engine --partitions og_holdouts inner_square

Prints, per partition × loss, cross IIA and every divergence measure with its floor (mean ± SEM over seeds ×
directions) beside the authors' own numbers, the wall time, and writes every summary as JSON (``--out``,
default bench/results/synthetic_<protocol>_<stamp>.json).

The reference numbers are the authors' rows in grantsrb/rep_divergence ``divergence/csvs/cl_synthetic_ood.csv``
(columns cross_actn_acc and cross_row_emd, 5 seeds × 2 task directions each, mean ± SEM as their notebook
tabulates them), i.e. cross IIA and the paper's measure ``grant2025_geomloss_sinkhorn`` under its protocol.
The og_holdouts DAS and CL rows are the published numbers in the curated seed graph (0.997±0.001 /
0.032±0.003 and 0.9988±0.0005 / 0.007±0.001).
"""
from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

# (partition, loss) -> ((cross IIA mean, sem), (cross grant2025_geomloss_sinkhorn mean, sem))
AUTHORS = {
    ("og_holdouts", "das"): ((0.997375, 0.001078), (0.031714, 0.003085)),
    ("og_holdouts", "cl"): ((0.998750, 0.000527), (0.006681, 0.000957)),
    ("og_holdouts", "das+cl"): ((0.998750, 0.000874), (0.007564, 0.002083)),
    ("inner_square", "das"): ((0.939000, 0.015353), (0.131374, 0.023426)),
    ("inner_square", "cl"): ((0.988750, 0.003731), (0.020989, 0.006462)),
    ("inner_square", "das+cl"): ((0.987250, 0.003015), (0.028760, 0.008965)),
}


def authors_table(rows: list[dict]) -> str:
    """Cross IIA and the paper's measure beside the authors' own numbers, for grant2025-protocol rows."""
    from graph.measures import GRANT2025_SINKHORN

    lines = [f"{'partition':<13} {'loss':<8} {'cross IIA':<16} {'authors':<16} {'cross ' + GRANT2025_SINKHORN:<34} "
             f"{'floor':<16} {'authors':<16}"]
    for r in rows:
        ref = AUTHORS.get((r["partition"], r["loss"]))
        if r.get("protocol") != "grant2025" or ref is None:
            continue
        iia, div = r["cross"]["iia"], r["cross"][GRANT2025_SINKHORN]
        lines.append(f"{r['partition']:<13} {r['loss']:<8} {iia['mean']:.4f}±{iia['sem']:.4f}  "
                     f"{ref[0][0]:.4f}±{ref[0][1]:.4f}  {div['mean']:.4f}±{div['sem']:.4f}{'':<20} "
                     f"{div['floor']['mean']:.4f}±{div['floor']['sem']:.4f}  {ref[1][0]:.4f}±{ref[1][1]:.4f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    from app.commands.run import format_summary_table
    from engine.losses import LOSSES
    from engine.protocol import grid_configs, run_synthetic_many

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--protocol", choices=("grant2025", "engine"), default="grant2025")
    p.add_argument("--partitions", nargs="+", default=["og_holdouts"])
    p.add_argument("--losses", nargs="+", default=list(LOSSES))
    p.add_argument("--maps", nargs="+", default=["linear"])
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--epsilon", type=float, default=100.0)
    p.add_argument("--workers", type=int, default=max(1, min(2, os.cpu_count() or 1)))
    p.add_argument("--quiet", action="store_true")
    p.add_argument("--out", type=Path, default=None)
    args = p.parse_args(argv)

    configs = grid_configs(args.partitions, args.losses, args.maps, seeds=args.seeds, epsilon=args.epsilon,
                           protocol=args.protocol)
    start = time.perf_counter()
    summaries = run_synthetic_many(configs, workers=args.workers, progress=not args.quiet)
    wall = time.perf_counter() - start
    rows = [s.to_json() for s in summaries]
    print(format_summary_table(rows))
    if args.protocol == "grant2025":
        print("\nbeside the authors' rows (cl_synthetic_ood.csv; mean ± SEM over 5 seeds × 2 directions):")
        print(authors_table(rows))
    n_runs = sum(len(s.runs) for s in summaries)
    print(f"{n_runs} alignment runs ({len(configs)} configs × {args.seeds} seeds × 2 directions), "
          f"{args.protocol} protocol, on {args.workers} worker(s): wall time {wall:.1f} s")

    out = args.out or Path("bench/results") / f"synthetic_{args.protocol}_{time.strftime('%Y%m%d_%H%M%S')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"wall_time_s": wall, "workers": args.workers, "summaries": rows}, indent=1))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
