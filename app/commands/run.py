"""``findings run synthetic``: DAS, CL and DAS+CL on the synthetic 10-class task, with transfer.

Reproduces the synthetic half of Grant, Han, Tartaglini & Potts (arXiv 2511.04638); see :mod:`engine.protocol`.
torch and the engine are imported inside the command, so ``findings --help`` stays light.

Examples::

    findings run synthetic --partition og_holdouts --loss das --seeds 5
    findings run synthetic --partition og_holdouts --loss cl --protocol grant2025 --json
    findings run synthetic --partition inner_square --loss das+cl --epsilon 100 --map orthogonal

Defaults: the engine's protocol with the published setting (a general invertible linear map, k = 1, CL
weight ε = 100 for ``das+cl``, 5 seeds × 2 directions); ``--protocol grant2025`` runs the paper's code's
protocol (:mod:`engine.grant2025`). Every divergence measure is reported with its floor, each under its
registered id (``findings measures``).
"""
from __future__ import annotations

import os
import sys
from typing import Any

import typer

run_app = typer.Typer(help="Run experiments (the engine) and report their measurements.", no_args_is_help=True)


def _default_workers() -> int:
    return max(1, min(2, os.cpu_count() or 1))


def _fmt(stat: dict[str, Any] | None, digits: int = 4) -> str:
    if not stat:
        return "—"
    if stat.get("sem") is None:
        return f"{stat['mean']:.{digits}f}"
    return f"{stat['mean']:.{digits}f}±{stat['sem']:.{digits}f}"


def format_summary_table(rows: list[dict[str, Any]]) -> str:
    """A plain-text table of summaries (``SyntheticSummary.to_json()`` dicts): per split, IIA and no-op IIA,
    then each divergence measure with its floor (mean ± SEM over runs)."""
    lines = []
    for r in rows:
        loss = r["loss"] + ("" if r["epsilon"] is None else f"(ε={r['epsilon']:g})")
        lines.append(f"{r['partition']} · {loss} · {r['map']} map · {r.get('protocol', 'engine')} protocol · "
                     f"{len(r['per_run'])} runs")
        header = f"  {'split':<6} {'measure':<30} {'value (mean±SEM)':<18} {'floor (mean±SEM)':<18} {'points':<10}"
        lines += [header, "  " + "-" * (len(header) - 2)]
        for split in ("train", "cross"):
            s = r[split]
            lines.append(f"  {split:<6} {'IIA (iia_argmax)':<30} {_fmt(s['iia']):<18} "
                         f"{'no-op ' + format(s['noop_iia']['mean'], '.3f'):<18}")
            for mid in r.get("measures", []):
                m = s[mid]
                points = "×".join(str(p) for p in m["n_points"])
                lines.append(f"  {split:<6} {mid:<30} {_fmt(m):<18} {_fmt(m['floor']):<18} {points:<10}")
    return "\n".join(lines)


def _print_recording(report: dict[str, Any] | None, existing_id: str | None) -> None:
    if existing_id is not None:
        typer.echo(f"already recorded as {existing_id} (same configuration and code): nothing added", err=True)
        return
    if report is None:
        return
    typer.echo(f"recorded {report['run_id']}: {len(report['findings'])} findings", err=True)
    for r in report["replications"]:
        floor = " — both within the floor band: indistinguishable from a perfect map" if r.get("floor_band") else ""
        typer.echo(f"  {r['edge']}: {r['finding']} -> {r['published']} [{r.get('measure')}] "
                   f"(run {r['run_value']:.4g}±{r['run_err'] or 0:.2g}, published {r['published_value']:.4g}"
                   f"±{r['published_err'] or 0:.2g}; {r['rule']}){floor}", err=True)
    for r in report.get("not_compared", []):
        typer.echo(f"  not compared: {r['finding']} with {r['published']} ({r['reason']})", err=True)


@run_app.command("synthetic")
def synthetic(
    ctx: typer.Context,
    partition: str = typer.Option("og_holdouts", "--partition", help="og_holdouts | inner_square"),
    loss: str = typer.Option("das", "--loss", help="das | cl | das+cl"),
    map_kind: str = typer.Option("linear", "--map", help="linear (general invertible, published) | orthogonal"),
    epsilon: float = typer.Option(100.0, "--epsilon", help="CL weight ε in CE + ε·L_CL (das+cl only)."),
    seeds: int = typer.Option(5, "--seeds", min=1, help="Number of seeds (0..N-1); each runs both directions."),
    k: int = typer.Option(1, "--k", min=1, help="Subspace size per causal variable."),
    json_out: bool = typer.Option(False, "--json", help="Print the machine-readable summary."),
    record: bool = typer.Option(True, "--record/--no-record", help="Record the run and its findings in the graph."),
    workers: int = typer.Option(_default_workers(), "--workers", min=1, help="Worker processes."),
    quiet: bool = typer.Option(False, "--quiet", help="No progress bars."),
    max_epochs: int = typer.Option(3000, "--max-epochs", min=1, help="Alignment training epochs (published: 3000)."),
    patience: int = typer.Option(600, "--patience", min=1, help="Early-stopping patience in epochs (published: 600)."),
    samples_per_class: int = typer.Option(100, "--samples-per-class", min=2, hidden=True),
    n_train: int = typer.Option(500, "--train-interventions", min=1, hidden=True,
                                help="Training interventions per variable."),
    n_eval: int = typer.Option(500, "--eval-interventions", min=1, hidden=True,
                               help="Evaluation interventions per variable."),
    classifier_epochs: int = typer.Option(1000, "--classifier-epochs", min=1, hidden=True),
    classifier_ties: str = typer.Option("last", "--classifier-ties", hidden=True,
                                        help="Probe checkpoint among equal best validation accuracy: last | first."),
    reference: str = typer.Option("matched", "--reference", hidden=True,
                                  help="Native set of the engine's measures: matched (class-matched draws) | task."),
    protocol: str = typer.Option("engine", "--protocol",
                                 help="engine (this project's) | grant2025 (the paper's code: x-only swaps, 601 "
                                      "updates, its checkpoint rules and probes)."),
    per_class: int = typer.Option(100, "--interventions-per-class", min=1, hidden=True,
                                  help="grant2025: interventions per target class."),
    data_seed: int = typer.Option(0, "--data-seed", hidden=True,
                                  help="grant2025: the seed of the causal draw every seed shares."),
) -> None:
    """Train alignment maps on one task of a partition; measure IIA and every divergence (with its floor) on
    both tasks."""
    from engine.protocol import make_config, run_synthetic

    try:
        config = make_config(partition, loss, map_kind, epsilon=epsilon, seeds=seeds, k=k, max_epochs=max_epochs,
                             patience=patience, samples_per_class=samples_per_class, n_train_per_variable=n_train,
                             n_eval_per_variable=n_eval, classifier_max_epochs=classifier_epochs,
                             classifier_ties=classifier_ties, reference=reference, protocol=protocol,
                             interventions_per_class=per_class, data_seed=data_seed)
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    if record:
        from app.cli import graph_of
        from engine.record import RunLedger
        from engine.record_synthetic import finish_synthetic_run, open_synthetic_run

        # the run node exists (status running) before any compute; an exception, Ctrl-C or SIGTERM marks it
        # failed and writes no finding
        with RunLedger(graph_of(ctx)) as ledger:
            handle = open_synthetic_run(ledger, config.to_json())
            if handle.run_id is None:
                data = handle.existing.attrs.get("summary") or {}
                _print_recording(None, handle.existing.id)
            else:
                typer.echo(f"run {handle.run_id} started", err=True)
                data = run_synthetic(config, workers=workers, progress=not quiet).to_json()
                _print_recording(finish_synthetic_run(ledger, handle.run_id, data), None)
    else:
        data = run_synthetic(config, workers=workers, progress=not quiet).to_json()
    if json_out:
        import json

        typer.echo(json.dumps(data, indent=2))
        return
    typer.echo(format_summary_table([data]))
    typer.echo("measures: `findings measures` defines each; a floor is the same estimator on a perfect "
               "intervention at the same n, on this run's data.")
    typer.echo(f"{len(data['per_run'])} runs ({len(config.seeds)} seeds × 2 directions) in "
               f"{data['wall_time_s']:.1f} s")
    sys.stdout.flush()
