"""``findings app [--port N]``: the Streamlit explorer on 127.0.0.1, seeded on first start."""
from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    @app.command("app")
    def app_cmd(
        ctx: typer.Context,
        port: int = typer.Option(8501, "--port", min=1, max=65535, help="Port on 127.0.0.1."),
        host: str = typer.Option("127.0.0.1", "--host", help="Address to bind (default: local only)."),
    ) -> None:
        """Start the Streamlit explorer (seeds an empty database first)."""
        from app.server import serve

        root = ctx.find_root()
        db = (root.obj or {}).get("db")
        try:
            serve(db, port=port, host=host)
        except ValueError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(1) from None
