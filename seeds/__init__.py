"""The seed graph: a curated file about the 2025 divergence paper plus the four seed documents.

:func:`load_seeds` is the one function that fills a store with them; the CLI's ``seed``, the app's
demo and the tests' fixtures all call it. Loading twice adds nothing.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from graph.api import Graph
    from graph.documents import ParsedDocument
    from graph.ingest import IngestReport

SEED_DIR = Path(__file__).parent
CURATED = SEED_DIR / "curated.yaml"


def seed_documents() -> list[Path]:
    return sorted(SEED_DIR.glob("[0-9][0-9][0-9]_*.txt"))


def curated_document(path: Path = CURATED) -> ParsedDocument:
    import yaml

    from graph.documents import EdgeDraft, NodeDraft, ParsedDocument

    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    doc = ParsedDocument(format="curated", source=path.name)
    for n in data["nodes"]:
        doc.nodes.append(NodeDraft(key=n["key"], kind=n["kind"], title=n["title"],
                                   description=n.get("description", ""), attrs=n.get("attrs", {}),
                                   measurements=n.get("measurements", [])))
    for e in data["edges"]:
        src, etype, dst, *rest = e
        doc.edges.append(EdgeDraft(src, etype, dst, rest[0] if rest else {}))
    return doc


def build_seeded_db(path: str | Path, *, embed: bool = False) -> Path:
    """A self-contained SQLite file holding the seed graph (and, with ``embed``, every node's vector).

    The tests' database templates and the benchmarks copy it; the WAL is folded into the file so a
    plain file copy is the whole database.
    """
    import sqlite3

    from graph.api import Graph

    g = Graph(str(path))
    load_seeds(g)
    if embed:
        from graph.embeddings import embed_pending

        embed_pending(g, progress=False)
    g.store.dispose()
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return Path(path)


def load_seeds(graph: Graph) -> IngestReport:
    """Curated graph first (so the documents' entries resolve to it), then the four documents."""
    from graph.ingest import read_document
    from graph.parsers import parse

    docs = [curated_document()]
    docs += [parse(read_document(p), p.name) for p in seed_documents()]
    return graph.ingest_documents(docs)
