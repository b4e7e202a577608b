"""``findings measures``: the registered measure definitions every number names (graph.measures).

Needs no database and imports neither torch nor the engine.
"""
from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add ``measures`` to ``app`` (once)."""
    if any(c.name == "measures" for c in app.registered_commands):
        return
    from app.cli import emit_json, handles_errors

    @app.command("measures")
    @handles_errors
    def measures(as_json: bool = typer.Option(False, "--json", help="A list of objects: id and definition.")) -> None:
        """List the measures (estimator, library, parameters, point sets, sample size, coordinates, floor)."""
        from graph.measures import all_measures

        items = all_measures()
        if as_json:
            emit_json([m.to_json() for m in items])
            return
        for m in items:
            typer.echo(f"{m.id}  [{m.metric}]  {m.title}")
            for label, value in (("estimator", m.estimator), ("library", m.library), ("point sets", m.point_sets),
                                 ("sample size", m.sample_size), ("coordinates", m.coordinates),
                                 ("normalisation", m.normalisation), ("floor", m.floor), ("source", m.source)):
                if value:
                    typer.echo(f"    {label}: {value}")
            if m.parameters:
                typer.echo("    parameters: " + ", ".join(f"{k}={v}" for k, v in m.parameters.items()))
            typer.echo("")
