"""Start the explorer: seed an empty database, then hand the process over to ``streamlit run``.

``serve`` binds to 127.0.0.1 unless told otherwise and passes the database to the app through
``FINDINGS_DB``; usage statistics are off.
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


def serve(db: str | None, port: int = 8501, host: str = "127.0.0.1", headless: bool = True) -> None:
    """Seed an empty database, then replace this process with the Streamlit server."""
    from db.engine import resolve_url

    url = resolve_url(db)
    if seed_if_empty(url):
        print(f"seeded an empty database at {url}", file=sys.stderr)
    embedded = embed_if_possible(url)
    if embedded:
        print(f"embedded {embedded} nodes for similarity", file=sys.stderr)
    print(f"Findings Explorer on http://{host}:{port}  (database {url})", file=sys.stderr, flush=True)
    env = {**os.environ, "FINDINGS_DB": url, "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false"}
    argv = streamlit_argv(port, host, headless)
    os.execve(argv[0], argv, env)
