"""``findings import-results FILE``: a per-seed results file of your own code, pooled and recorded as one run.

The file format, the pooling and the re-import rule are :mod:`findings.results_file`'s; the run and its
verdicts are the engine's (:mod:`findings.api`). The file is read and checked before the database is
opened. Imports neither torch nor the engine's models.
"""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer


def register(app: typer.Typer) -> None:
    """Add ``import-results`` to ``app`` (once)."""
    if any(c.name == "import-results" for c in app.registered_commands):
        return
    from app.cli import _load_file, emit_json, graph_of, handles_errors

    @app.command("import-results")
    @handles_errors
    def import_results(
        ctx: typer.Context,
        path: Annotated[Path, typer.Argument(
            metavar="FILE", help="CSV or JSON: one row per seed (metric, value, seed, optional measure, split, "
                                 "dataset, method; every other column a condition).")],
        title: Annotated[str | None, typer.Option("--title", help="The run's title.")] = None,
        protocol: Annotated[str | None, typer.Option(
            "--protocol", help="Condition `protocol` of every result.")] = None,
        config: Annotated[Path | None, typer.Option(
            "--config", metavar="C", help="YAML or JSON: the run's config.")] = None,
        as_json: Annotated[bool, typer.Option(
            "--json", help="{run_id, findings, replications, not_compared, groups}")] = False,
    ) -> None:
        """Pool a per-seed results file to mean ± SEM and record it as one run, with replication verdicts."""
        from findings import results_file

        run_config: Any = _load_file(config) if config is not None else {}
        if not isinstance(run_config, dict):
            raise ValueError(f"{config}: the config file must hold one mapping")  # noqa: TRY004 - input: ValueError
        results_file.pooled_results(path, protocol)  # every check before the database is opened
        report = results_file.import_results(graph_of(ctx), path, title=title, protocol=protocol, config=run_config)
        if as_json:
            emit_json(report)
            return
        _print(report)


def _print(report: dict[str, Any]) -> None:
    groups = report["groups"]
    if report["already_recorded"]:
        typer.echo(f"already recorded as {report['run_id']} (same file, protocol and config): nothing added")
    else:
        typer.echo(f"recorded {report['run_id']}: {len(report['findings'])} finding(s) from "
                   f"{sum(g['n'] for g in groups)} row(s)")
    header = ("metric", "measure", "split", "dataset", "method", "conditions", "mean", "sem", "n")
    rows = [(g["metric"], g["measure"] or "-", g["split"] or "-", g["dataset"] or "-", g["method"] or "-",
             ", ".join(f"{k}={v}" for k, v in g["conditions"].items()) or "-", f"{g['mean']:.6g}",
             f"{g['sem']:.2g}" if g["sem"] is not None else "-", str(g["n"])) for g in groups]
    widths = [max(len(r[i]) for r in (header, *rows)) for i in range(len(header))]
    for r in (header, *rows):
        typer.echo("  ".join(cell.ljust(w) for cell, w in zip(r, widths)).rstrip())
    for v in report["replications"]:
        floor = "; both within the floor band" if v.get("floor_band") else ""
        typer.echo(f"{v['edge']}: {v['finding']} → {v['published']} "
                   f"(run {v['run_value']:.4g}±{v['run_err'] or 0:.2g} "
                   f"vs published {v['published_value']:.4g}±{v['published_err'] or 0:.2g}, z={v['z']}; "
                   f"measure {v.get('measure')}{floor})")
    for nc in report["not_compared"]:
        typer.echo(f"not compared: {nc['finding']} with {nc['published']}: {nc['reason']}")
