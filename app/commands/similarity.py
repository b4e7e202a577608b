"""CLI commands for similarity and curation: ``embed``, ``similar``, ``curate list|accept|merge|unmerge|dismiss``.

``register(app)`` adds them to the ``findings`` Typer app. Nothing heavy is imported here: the
model, numpy and torch load inside the commands that need them.
"""
from __future__ import annotations

from typing import Any, Optional

import typer

MODEL_HELP = "A local sentence-transformers model directory (default: the packaged all-MiniLM-L6-v2)."
EXACT_HELP = ("Compare every pair exactly, even on a graph large enough for the approximate index "
              "(which can miss pairs; FINDINGS_SIMILARITY=exact sets this for good).")


def semantic_search_rows(graph, text: str, kind: Optional[str] = None, limit: int = 20,
                         model: Optional[str] = None) -> list[dict[str, Any]]:
    """Rows for ``findings search TEXT --semantic``: ``[{"id", "kind", "title", "score"}]``, best first.

    Brings stored vectors up to date first (a progress bar on stderr for long work).
    """
    from graph.similarity import semantic_search_rows as rows

    return rows(graph, text, kind=kind, limit=limit, model=model)


def _match_line(m: dict[str, Any]) -> str:
    extra = "  DUPLICATE?" if m.get("duplicate") else ""
    if m.get("listed_score") is not None:
        extra += f"  (source listed {m['listed_score']:.3f})"
    return f"{m['score']:.3f}  [{m['kind']}] {m['title']}  ({m['id']}){extra}"


def register(app: typer.Typer) -> None:
    """Add ``embed``, ``similar`` and the ``curate`` group to ``app`` (once; a second call does nothing)."""
    if any(c.name == "embed" for c in app.registered_commands):
        return
    from app.cli import emit_json, graph_of, handles_errors

    curate_app = typer.Typer(help="Review similarity candidates: accept, merge, unmerge or dismiss them.",
                             no_args_is_help=True)

    @app.command()
    @handles_errors
    def embed(
        ctx: typer.Context,
        model: Optional[str] = typer.Option(None, "--model", help=MODEL_HELP),
        batch_size: int = typer.Option(64, "--batch-size", min=1, max=4096),
        progress: bool = typer.Option(True, "--progress/--no-progress", help="Progress bar for long work."),
        device: str = typer.Option("cpu", "--device", help="cpu, or cuda where torch sees a GPU."),
        as_json: bool = typer.Option(False, "--json"),
    ) -> None:
        """Embed nodes whose text is new or changed (unchanged text is never embedded twice).

        The graph is read a page at a time and stored as it goes: an interrupted run is resumed by running it again.
        """
        from graph.embeddings import check_device, embed_pending

        check_device(device)  # before anything is read or loaded
        report = embed_pending(graph_of(ctx), model, batch_size=batch_size, progress=progress, device=device)
        if as_json:
            emit_json(report.to_json())
            return
        rate = f", {report.texts_per_s} texts/s on {report.device}" if report.texts_per_s else ""
        typer.echo(f"embedded {report.embedded} node(s), {report.skipped} already current ({report.model}{rate})")

    @app.command()
    @handles_errors
    def similar(
        ctx: typer.Context,
        node_id: str = typer.Argument(..., metavar="ID"),
        threshold: float = typer.Option(0.65, "--threshold", min=-1.0, max=1.0, help="Lowest cosine shown."),
        limit: int = typer.Option(20, "--limit", min=1, max=10_000),
        duplicate_threshold: float = typer.Option(0.9, "--duplicate-threshold", min=-1.0, max=1.0,
                                                  help="Same-kind matches at or above it are probable duplicates."),
        kind: Optional[str] = typer.Option(None, "--kind", help="Only nodes of this kind."),
        model: Optional[str] = typer.Option(None, "--model", help=MODEL_HELP),
        exact: bool = typer.Option(False, "--exact", help=EXACT_HELP),
        as_json: bool = typer.Option(False, "--json"),
    ) -> None:
        """Nodes similar to ID that share no typed edge with it: candidates for new edges or duplicates."""
        from graph.embeddings import embed_pending
        from graph.similarity import similar as find_similar

        if kind is not None:
            from graph.vocabulary import check_kind

            check_kind(kind)
        g = graph_of(ctx)
        g.get(node_id)  # a missing id fails before any model loads
        embed_pending(g, model, progress=not as_json)
        found = find_similar(g, node_id, threshold=threshold, limit=limit, duplicate_threshold=duplicate_threshold,
                             model=model, kind=kind, exact=exact)
        data = [m.to_json() for m in found]
        if as_json:
            emit_json(data)
            return
        typer.echo(f"method: {found.method.describe()}", err=True)
        if not data:
            typer.echo(f"no candidates at cosine ≥ {threshold}", err=True)
        for m in data:
            typer.echo(_match_line(m))

    @curate_app.command("list")
    @handles_errors
    def curate_list(
        ctx: typer.Context,
        threshold: float = typer.Option(0.65, "--threshold", min=-1.0, max=1.0),
        duplicate_threshold: float = typer.Option(0.9, "--duplicate-threshold", min=-1.0, max=1.0),
        duplicates_only: bool = typer.Option(False, "--duplicates", help="Only probable duplicates."),
        kind: Optional[str] = typer.Option(None, "--kind", help="Only pairs of this kind."),
        limit: int = typer.Option(50, "--limit", min=1, max=1_000_000),
        model: Optional[str] = typer.Option(None, "--model", help=MODEL_HELP),
        exact: bool = typer.Option(False, "--exact", help=EXACT_HELP),
        as_json: bool = typer.Option(False, "--json"),
    ) -> None:
        """Candidate pairs of the whole graph, best first, each pair once."""
        from graph.curation import list_candidates
        from graph.embeddings import embed_pending

        if kind is not None:
            from graph.vocabulary import check_kind

            check_kind(kind)
        g = graph_of(ctx)
        embed_pending(g, model, progress=not as_json)
        cands = list_candidates(g, threshold=threshold, duplicate_threshold=duplicate_threshold, kind=kind,
                                limit=limit, model=model, duplicates_only=duplicates_only, exact=exact)
        data = [c.to_json() for c in cands]
        if as_json:
            emit_json(data)
            return
        typer.echo(f"method: {cands.method.describe()}", err=True)
        if not data:
            typer.echo(f"no candidates at cosine ≥ {threshold}", err=True)
        for c in data:
            flag = "  DUPLICATE?" if c["duplicate"] else ""
            listed = f"  (source listed {c['listed_score']:.3f})" if c.get("listed_score") is not None else ""
            typer.echo(f"{c['score']:.3f}  [{c['a']['kind']}] {c['a']['title']}  ({c['a']['id']})\n"
                       f"       ~ [{c['b']['kind']}] {c['b']['title']}  ({c['b']['id']}){flag}{listed}")

    @curate_app.command("accept")
    @handles_errors
    def curate_accept(
        ctx: typer.Context,
        a: str = typer.Argument(..., metavar="A"),
        b: str = typer.Argument(..., metavar="B"),
        edge_type: str = typer.Option(..., "--type", help="Edge type A --TYPE--> B (from the vocabulary)."),
        actor: Optional[str] = typer.Option(None, "--actor", help="Who decides (default: the --user)."),
        as_json: bool = typer.Option(False, "--json"),
    ) -> None:
        """Accept a candidate as the typed edge A --TYPE--> B."""
        from graph.curation import accept

        res = accept(graph_of(ctx), a, b, edge_type, actor=actor)
        if as_json:
            emit_json(res)
            return
        typer.echo(f"accepted: {a} --{edge_type}--> {b}" + ("" if res["new_edge"] else " (edge already present)"))

    @curate_app.command("merge")
    @handles_errors
    def curate_merge(
        ctx: typer.Context,
        keep: str = typer.Argument(..., metavar="KEEP"),
        dup: str = typer.Argument(..., metavar="DUP"),
        actor: Optional[str] = typer.Option(None, "--actor", help="Who decides (default: the --user)."),
        as_json: bool = typer.Option(False, "--json"),
    ) -> None:
        """Merge DUP into KEEP: DUP becomes `merged`, its edges move to KEEP (undo with `unmerge`)."""
        from graph.curation import merge

        res = merge(graph_of(ctx), keep, dup, actor=actor)
        if as_json:
            emit_json(res)
            return
        typer.echo(f"merged {dup} into {keep}: {res['moved']} edge(s) moved, {res['removed']} already on {keep}")

    @curate_app.command("unmerge")
    @handles_errors
    def curate_unmerge(
        ctx: typer.Context,
        dup: str = typer.Argument(..., metavar="DUP"),
        actor: Optional[str] = typer.Option(None, "--actor", help="Who decides (default: the --user)."),
        as_json: bool = typer.Option(False, "--json"),
    ) -> None:
        """Undo the merge of DUP: its edges and status come back."""
        from graph.curation import unmerge

        res = unmerge(graph_of(ctx), dup, actor=actor)
        if as_json:
            emit_json(res)
            return
        typer.echo(f"unmerged {dup} from {res['keep']}")
        for s in res["skipped"]:
            typer.echo(f"warning: {s}", err=True)

    @curate_app.command("dismiss")
    @handles_errors
    def curate_dismiss(
        ctx: typer.Context,
        a: str = typer.Argument(..., metavar="A"),
        b: str = typer.Argument(..., metavar="B"),
        actor: Optional[str] = typer.Option(None, "--actor", help="Who decides (default: the --user)."),
        as_json: bool = typer.Option(False, "--json"),
    ) -> None:
        """Dismiss a candidate pair; it will not be proposed again."""
        from graph.curation import dismiss

        res = dismiss(graph_of(ctx), a, b, actor=actor)
        if as_json:
            emit_json(res)
            return
        typer.echo(f"dismissed: {a} ~ {b}")

    app.add_typer(curate_app, name="curate")
