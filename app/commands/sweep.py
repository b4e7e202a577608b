"""``findings sweep SPEC.yaml``: a grid of experiment runs on a local process pool or a Ray cluster.

``register(app)`` adds the command to the ``findings`` Typer app (once; a second call does nothing). The
engine, torch and Ray are imported inside the command, so ``findings --help`` stays light. See
:mod:`engine.sweep` for the spec, the cells, resuming and the backends; the report's text table is here.

Examples::

    findings sweep examples/sweep_small.yaml --dry-run            # the cells, their config hashes, what is recorded
    findings sweep examples/sweep_small.yaml                      # local process pool, 2 workers
    findings sweep examples/sweep_small.yaml --backend ray        # a local Ray instance (127.0.0.1)
    findings --db postgresql+psycopg://lab@db/findings sweep big.yaml --backend ray --address ray://head:10001

The config hash a dry run prints for a cell is the one its run is stored under: ``findings runs --hash H``
finds the run once the cell has run.

Exit status: 0 when every cell finished or was already recorded; 1 when a cell failed after its retries
(the others still ran and were recorded), for a bad spec or option (one line on stderr), and when the
sweep is stopped (SIGTERM, Ctrl-C: every open run is marked failed first); 2 only for a usage error that
Typer reports itself (an unknown option, a missing argument).
"""
from __future__ import annotations

import contextlib
import sys
from pathlib import Path
from typing import Any, Optional

import typer


def register(app: typer.Typer) -> None:
    """Add ``sweep`` to ``app``."""
    if any(c.name == "sweep" for c in app.registered_commands):
        return
    from app.cli import emit_json, graph_of, handles_errors

    @app.command("sweep")
    @handles_errors
    def sweep(
        ctx: typer.Context,
        spec_path: Path = typer.Argument(..., metavar="SPEC.yaml", help="The sweep spec: task, grid, settings."),
        backend: str = typer.Option("local", "--backend", help="local (process pool) | ray"),
        address: Optional[str] = typer.Option(
            None, "--address", help="Ray cluster to use (auto, HOST:6379 or ray://HOST:10001); default: start a "
                                    "local Ray instance bound to 127.0.0.1."),
        workers: Optional[int] = typer.Option(
            None, "--workers", min=1, help="Cells at a time (local default: min(2, CPUs); ray default: what the "
                                           "cluster fits with the spec's resources; also the CPUs of a local Ray)."),
        retries: Optional[int] = typer.Option(None, "--retries", min=0,
                                              help="Attempts after the first for a failing cell (default: spec)."),
        record: bool = typer.Option(True, "--record/--no-record",
                                    help="Record runs in the store and skip cells already recorded."),
        dry_run: bool = typer.Option(False, "--dry-run", help="List the cells (and which are recorded); run nothing."),
        as_json: bool = typer.Option(False, "--json", help="Machine-readable report."),
        quiet: bool = typer.Option(False, "--quiet", help="No progress bar."),
    ) -> None:
        """Run a grid of experiments (one run per cell), record each, skip cells already recorded."""
        from engine.sweep import BACKENDS, load_spec, run_sweep

        if backend not in BACKENDS:
            raise ValueError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
        if address is not None and backend != "ray":
            raise ValueError("--address needs --backend ray")
        spec = load_spec(spec_path)
        graph = graph_of(ctx) if record else None
        if dry_run:
            _dry_run(spec, graph, as_json, emit_json)
            return
        # Ray prints the cluster's error messages (a node died, a worker was killed) to stdout: while cells
        # run, stdout goes to stderr, so stdout holds the report and nothing else
        with contextlib.redirect_stdout(sys.stderr):
            report = run_sweep(spec, backend, graph=graph, address=address, workers=workers, retries=retries,
                               progress=not quiet)
        if as_json:
            emit_json(report.to_json())
        else:
            typer.echo(format_report(report))
        if report.failed:
            raise typer.Exit(1)


def _dry_run(spec, graph, as_json: bool, emit_json) -> None:
    from engine.sweep import plan_sweep

    cells, duplicates = plan_sweep(spec, graph)
    rows = [{**c.to_json(), "status": "recorded" if c.status == "skipped" else "to run"} for c in cells]
    if as_json:
        emit_json({"cells": rows, "duplicates_merged": duplicates})
        return
    for cell, row in zip(cells, rows):
        typer.echo(f"{row['status']:<9} {cell.label}  [{cell.key}]")
    todo = sum(r["status"] == "to run" for r in rows)
    typer.echo(f"{len(cells)} cells ({duplicates} duplicate grid points merged), {todo} to run")


# ---- the report as text -------------------------------------------------------------------------------
def _fmt(stat: dict[str, Any] | None, digits: int = 4) -> str:
    if stat is None:
        return "-"
    if stat["sem"] is None:
        return f"{stat['mean']:.{digits}f}"
    return f"{stat['mean']:.{digits}f}±{stat['sem']:.{digits}f}"


def _state(g: dict[str, Any]) -> str:
    return " ".join(f"{g[s]}{mark}" for s, mark in (("finished", "f"), ("skipped", "s"), ("failed", "x"))
                    if g[s]) or "-"


def _boundless_lines(report) -> list[str]:
    """One line per (protocol, CL target, CL space, ε), pooled over seeds: both IIAs and each divergence."""
    groups = report.groups()
    ids = sorted({m for g in groups for m in (g["test"] or {}) if m not in
                  ("iia", "iia_argmax", "iia_changed", "iia_noop", "width")})
    header = (f"{'protocol':<10} {'CL target/space':<20} {'ε':>7} {'seeds':<6} {'cells':<10} {'IIA y/n':<16} "
              f"{'IIA argmax':<16} {'no-op':<7} " + " ".join(f"{m:<40}" for m in ids))
    lines = [header, "-" * len(header)]
    for g in groups:
        t = g["test"] or {}
        noop = f"{t['iia_noop']['mean']:.3f}" if t.get("iia_noop") else "-"
        divs = " ".join(f"{_fmt(t.get(m)) + ' (base ' + _fmt((t.get(m) or {}).get('baseline')) + ')':<40}"
                        for m in ids)
        lines.append(f"{g['protocol']:<10} {g['cl_target'] + '/' + g['cl_space']:<20} {g['epsilon']:>7g} "
                     f"{len(g['seeds']):<6} {_state(g):<10} {_fmt(t.get('iia')):<16} {_fmt(t.get('iia_argmax')):<16} "
                     f"{noop:<7} {divs}")
    return lines


def format_report(report) -> str:
    """The summary table of an ``engine.sweep.SweepReport`` (one line per group, pooled over seeds ×
    directions) and the failed cells."""
    from graph.measures import GRANT2025_SINKHORN

    if report.spec.task == "boundless":
        lines = _boundless_lines(report)
        pooled = "seeds (test split)"
    else:
        lines = _synthetic_lines(report)
        pooled = "seeds × 2 directions"
    c = report.counts()
    lines.append("")
    lines.append(f"{c['cells']} cells ({c['duplicates_merged']} duplicate grid points merged): {c['finished']} "
                 f"finished, {c['skipped']} skipped (already recorded), {c['failed']} failed — "
                 f"{report.backend.get('backend')} backend, {report.wall_time_s:.1f} s")
    lines.append(f"cells: f = finished now, s = skipped (already recorded), x = failed; statistics are mean ± SEM "
                 f"over {pooled}; 'paper EMD' = {GRANT2025_SINKHORN}, 'Sinkhorn' = the engine's converged "
                 "debiased Sinkhorn divergence, 'exact EMD' = ot.emd2 (findings measures defines each).")
    if c["resubmitted"] or report.abandoned:
        lines.append(f"{c['resubmitted']} cell attempt(s) lost with a worker or node and resubmitted; "
                     f"{len(report.abandoned)} run(s) a dead process left running recorded abandoned and run again")
    for cell in report.failed:
        lines.append(f"FAILED {cell.label} after {cell.attempts} attempt(s): {cell.error}")
    return "\n".join(lines)


def _synthetic_lines(report) -> list[str]:
    from graph.measures import GRANT2025_SINKHORN

    header = (f"{'partition':<13} {'loss':<14} {'map':<10} {'seeds':<7} {'cells':<16} {'train IIA':<16} "
              f"{'cross IIA':<16} {'cross paper EMD':<16} {'cross Sinkhorn':<16} {'cross exact EMD':<16}")
    lines = [header, "-" * len(header)]
    for g in report.groups():
        loss = g["loss"] + ("" if g["epsilon"] is None else f"(ε={g['epsilon']:g})")
        state = _state(g)
        cross = g["cross"] or {}
        map_k = g["map"] + ("" if g["k"] == 1 else f" k={g['k']}")
        lines.append(f"{g['partition']:<13} {loss:<14} {map_k:<10} "
                     f"{len(g['seeds']):<7} {state:<16} {_fmt((g['train'] or {}).get('iia')):<16} "
                     f"{_fmt(cross.get('iia')):<16} {_fmt(cross.get(GRANT2025_SINKHORN)):<16} "
                     f"{_fmt(cross.get('emd')):<16} {_fmt(cross.get('exact_emd')):<16}")
    return lines
