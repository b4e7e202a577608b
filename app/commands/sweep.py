"""``findings sweep SPEC.yaml``: a grid of experiment runs on a local process pool or a Ray cluster.

``register(app)`` adds the command to the ``findings`` Typer app (once; a second call does nothing). The
engine, torch and Ray are imported inside the command, so ``findings --help`` stays light. See
:mod:`engine.sweep` for the spec, the cells, resuming and the backends.

Examples::

    findings sweep examples/sweep_small.yaml                      # local process pool, 2 workers
    findings sweep examples/sweep_small.yaml --backend ray        # a local Ray instance (127.0.0.1)
    findings --db postgresql+psycopg://lab@db/findings sweep big.yaml --backend ray --address ray://head:10001

Exit status: 0 when every cell finished or was already recorded, 1 when a cell failed after its retries
(the others still ran and were recorded), 2 for a bad spec or option.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

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
        from engine.sweep import BACKENDS, format_report, load_spec, run_sweep

        if backend not in BACKENDS:
            raise ValueError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
        if address is not None and backend != "ray":
            raise ValueError("--address needs --backend ray")
        spec = load_spec(spec_path)
        graph = graph_of(ctx) if record else None
        if dry_run:
            _dry_run(spec, graph, as_json, emit_json)
            return
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
