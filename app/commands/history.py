"""``findings log``: who wrote what, newest first (the write log, :mod:`db.queries.writes`)."""
from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone
from typing import Optional

import typer

_AGE = re.compile(r"(\d+(?:\.\d+)?)\s*([smhdw])")
_AGE_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_since(value: str, now: datetime | None = None) -> datetime:
    """``--since``: an ISO date or time (UTC unless it names a zone), or an age such as 30m, 2h, 7d, 1w."""
    text = value.strip()
    age = _AGE.fullmatch(text.lower())
    if age:
        return (now or datetime.now(timezone.utc)) - timedelta(**{_AGE_UNITS[age.group(2)]: float(age.group(1))})
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00") if text.endswith("Z") else text)
    except ValueError:
        raise ValueError(f"--since {value!r}: expected an ISO date or time (2026-12-03, 2026-12-03T15:00) "
                         "or an age (30m, 2h, 7d, 1w)") from None
    return when.replace(tzinfo=timezone.utc) if when.tzinfo is None else when.astimezone(timezone.utc)


def entry_line(entry: dict) -> str:
    """One entry as a line: time, user, action, what, and the details."""
    details = " ".join(f"{k}={v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)}"
                       for k, v in entry["details"].items() if v is not None)
    return f"{entry['at']}  {entry['user'] or '(unknown)'}  {entry['action']}  {entry['id']}" + (
        f"  {details}" if details else "")


def register(app: typer.Typer) -> None:
    """Add ``log`` to ``app`` (once)."""
    if any(c.name == "log" for c in app.registered_commands):
        return
    from app.cli import emit_json, graph_of, handles_errors

    @app.command("log")
    @handles_errors
    def log_cmd(
        ctx: typer.Context,
        since: Optional[str] = typer.Option(None, "--since", metavar="T",
                                            help="Only writes at or after T: an ISO date/time (UTC unless zoned) "
                                                 "or an age (30m, 2h, 7d)."),
        user: Optional[str] = typer.Option(None, "--user", metavar="U", help="Only writes by this user."),
        node: Optional[str] = typer.Option(None, "--node", metavar="ID", help="Only writes about this node."),
        limit: int = typer.Option(50, "--limit", metavar="N", min=1, max=100_000, help="At most N entries."),
        as_json: bool = typer.Option(False, "--json"),
    ) -> None:
        """Recent writes, newest first: when, who, what (nodes, edges, measurements, curation decisions, runs)."""
        cutoff = parse_since(since) if since is not None else None
        entries = [w.to_json() for w in graph_of(ctx).log(since=cutoff, user=user, node=node, limit=limit)]
        if as_json:
            emit_json(entries)
            return
        if not entries:
            typer.echo("no writes", err=True)
        for entry in entries:
            typer.echo(entry_line(entry))
