"""``findings app [--port N] [--read-only]``: the Streamlit explorer on 127.0.0.1, seeded on first start
(a read-only app seeds nothing, shows no write widgets, and its connection cannot write)."""
from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    @app.command("app")
    def app_cmd(
        ctx: typer.Context,
        port: int = typer.Option(8501, "--port", min=1, max=65535, help="Port on 127.0.0.1."),
        host: str = typer.Option("127.0.0.1", "--host", help="Address to bind (default: local only)."),
        read_only: bool = typer.Option(False, "--read-only", help="No write widgets, and a database connection "
                                                                 "that cannot write (also: the global --read-only)."),
    ) -> None:
        """Start the Streamlit explorer (seeds an empty database first, unless read-only)."""
        from app.server import serve
        from db.identity import read_only_requested

        obj = ctx.find_root().obj or {}
        try:
            read_only = read_only or read_only_requested(obj.get("read_only"))
            serve(obj.get("db"), port=port, host=host, read_only=read_only, user=obj.get("user"))
        except ValueError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(1) from None
