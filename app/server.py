"""Start the explorer: seed an empty database, then hand the process over to ``streamlit run``.

``serve`` binds to 127.0.0.1 unless told otherwise and passes the database to the app through
``FINDINGS_DB`` (and the user its writes are recorded as through ``FINDINGS_USER``); usage statistics are
off. A read-only app (``read_only=True``, passed on as ``FINDINGS_READ_ONLY=1``) neither seeds nor embeds:
it checks that the database is there at the current schema, then serves it through connections that
cannot write, with no write widgets on any page.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

APP_SCRIPT = Path(__file__).parent / "streamlit_app.py"


def seed_if_empty(db: str | None) -> bool:
    """Load the seeds into an empty database; return whether it did."""
    from graph.api import Graph
    from seeds import load_seeds

    graph = Graph(db)
    try:
        if sum(graph.stats()["nodes"].values()):
            return False
        load_seeds(graph)
        return True
    finally:
        graph.store.dispose()


def embed_if_possible(db: str | None) -> int:
    """Bring node embeddings up to date, so the node pages have similarity candidates; 0 when the
    embeddings module or its model is not available."""
    import importlib.util

    if importlib.util.find_spec("graph.embeddings") is None:
        return 0
    from graph.api import Graph
    from graph.embeddings import embed_pending

    graph = Graph(db)
    try:
        return embed_pending(graph, progress=True).embedded
    except ValueError as exc:  # no model available: the app still runs, without similarity
        print(f"similarity unavailable: {exc}", file=sys.stderr)
        return 0
    finally:
        graph.store.dispose()


def streamlit_argv(port: int, host: str = "127.0.0.1", headless: bool = True) -> list[str]:
    return [sys.executable, "-m", "streamlit", "run", str(APP_SCRIPT),
            "--server.address", host, "--server.port", str(port),
            "--server.headless", "true" if headless else "false",
            "--browser.gatherUsageStats", "false", "--client.toolbarMode", "viewer",
            "--server.fileWatcherType", "none"]


def check_readable(db: str) -> None:
    """Open the database read-only once, so that a missing file or an old schema is one line here rather
    than an error on every page."""
    from graph.api import Graph

    Graph(db, read_only=True).store.dispose()


def serve(db: str | None, port: int = 8501, host: str = "127.0.0.1", headless: bool = True,
          read_only: bool = False, user: str | None = None) -> None:
    """Seed an empty database (unless read-only), then replace this process with the Streamlit server."""
    from db.engine import resolve_url
    from db.identity import READ_ONLY_ENV, USER_ENV, resolve_user

    url = resolve_url(db)
    user = resolve_user(user)
    if read_only:
        check_readable(url)
    else:
        if seed_if_empty(url):
            print(f"seeded an empty database at {url}", file=sys.stderr)
        embedded = embed_if_possible(url)
        if embedded:
            print(f"embedded {embedded} nodes for similarity", file=sys.stderr)
    mode = "read-only" if read_only else f"writes recorded as {user}"
    print(f"Findings Explorer on http://{host}:{port}  (database {url}, {mode})", file=sys.stderr, flush=True)
    env = {**os.environ, "FINDINGS_DB": url, "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false", USER_ENV: user,
           READ_ONLY_ENV: "1" if read_only else "0"}
    argv = streamlit_argv(port, host, headless)
    os.execve(argv[0], argv, env)
