"""CLI commands that keep a shared store safe: ``backup``, ``restore`` and ``check``.

``register(app)`` adds them to the ``findings`` Typer app (once; a second call does nothing).
"""
from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    """Add ``backup``, ``restore`` and ``check`` to ``app``."""
    if any(c.name == "check" for c in app.registered_commands):
        return
    from app.cli import emit_json, graph_of, handles_errors

    @app.command()
    @handles_errors
    def backup(
        ctx: typer.Context,
        path: Path = typer.Argument(..., metavar="PATH", help="File to write (.gz: compressed)."),
        as_json: bool = typer.Option(False, "--json"),
    ) -> None:
        """Back up the whole store (nodes, edges, measurements, embeddings, curation decisions) to one file."""
        from graph.backup import backup as do_backup

        counts = do_backup(graph_of(ctx), path)
        if as_json:
            emit_json({"path": str(path), "counts": counts})
            return
        typer.echo(f"wrote {path}: " + ", ".join(f"{n} {t}" for t, n in counts.items()))

    @app.command()
    @handles_errors
    def restore(
        ctx: typer.Context,
        path: Path = typer.Argument(..., metavar="PATH", help="A file written by `findings backup`."),
        as_json: bool = typer.Option(False, "--json"),
    ) -> None:
        """Restore a backup into an empty database (all or nothing; the result is identical to the backup)."""
        from graph.backup import restore as do_restore

        counts = do_restore(graph_of(ctx), path)
        if as_json:
            emit_json({"path": str(path), "counts": counts})
            return
        typer.echo(f"restored {path}: " + ", ".join(f"{n} {t}" for t, n in counts.items()))

    @app.command()
    @handles_errors
    def check(ctx: typer.Context, as_json: bool = typer.Option(False, "--json"),
              rebuild_counts: bool = typer.Option(
                  False, "--rebuild-counts",
                  help="First count every node's edges again and store the counts (they drifted).")) -> None:
        """Integrity report: dangling edges, vocabulary violations, merged nodes with live edges, orphan
        measurements, stored edge counts that differ from the edges. Exit status 1 when there is any problem."""
        from graph.integrity import check as do_check
        from graph.integrity import rebuild_edge_counts

        g = graph_of(ctx)
        if rebuild_counts:
            groups = rebuild_edge_counts(g)
            if not as_json:
                typer.echo(f"rebuilt the stored edge counts: {groups} groups")
        problems = do_check(g)
        if as_json:
            emit_json({"ok": not problems, "problems": [p.to_dict() for p in problems]})
        elif problems:
            for p in problems:
                typer.echo(str(p))
            typer.echo(f"{len(problems)} problem(s) found", err=True)
        else:
            stats = g.stats()
            typer.echo(f"ok: {sum(stats['nodes'].values())} nodes, {sum(stats['edges'].values())} edges, "
                       "no integrity problems")
        if problems:
            raise typer.Exit(1)
