"""Ingest: parsed documents into the store, recognising what the graph already holds.

A draft node is the same as a stored one when it has the same kind and normalised title (or the id
that a finding page prints). Re-ingesting a document therefore adds nothing; a second document that
knows more about a node (an abstract for a paper first seen in a "Similar Papers" list) fills the
fields that were empty, and never overwrites what is there.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from db import records as r
from db.session import Tx
from graph.core import add_edge, create_node
from graph.documents import NodeDraft, ParsedDocument
from graph.ids import normalize_title
from graph.schemas import NodeIn, validate


@dataclass
class IngestReport:
    files: list[str] = field(default_factory=list)
    nodes_added: int = 0
    nodes_updated: int = 0
    edges_added: int = 0
    warnings: list[str] = field(default_factory=list)
    # draft key -> node id, for the last document; for papers (graph.papers), each id -> itself, the first 100
    node_ids: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict:
        return {"files": self.files, "nodes_added": self.nodes_added, "nodes_updated": self.nodes_updated,
                "edges_added": self.edges_added, "warnings": self.warnings}

    def absorb(self, other: IngestReport) -> None:
        """Add ``other``'s files, counts and warnings to this report."""
        self.files += other.files
        self.nodes_added += other.nodes_added
        self.nodes_updated += other.nodes_updated
        self.edges_added += other.edges_added
        self.warnings += other.warnings


def _match_by_authors_year(tx: Tx, draft: NodeDraft) -> r.Node | None:
    authors = [normalize_title(a) for a in draft.attrs.get("authors", [])]
    year = draft.attrs.get("year")
    if not authors:
        return None
    first = tx.find_nodes_by_title("author", authors[0])
    for author in first:
        for view in tx.edges_of(author.id):
            paper = view.node
            if view.edge.type != "authored_by" or view.direction != "in" or paper.kind != "paper":
                continue
            if year is not None and paper.attrs.get("year") not in (year, str(year)):
                continue
            names = sorted(normalize_title(v.node.title) for v in tx.edges_of(paper.id)
                           if v.edge.type == "authored_by" and v.direction == "out")
            if names == sorted(authors):
                return paper
    return None


def _existing(tx: Tx, draft: NodeDraft) -> r.Node | None:
    if draft.attrs.get("match_by_authors_year"):
        return _match_by_authors_year(tx, draft)
    if draft.preferred_id:
        node = tx.get_node(draft.preferred_id)
        if node is not None and node.kind == draft.kind:
            return node
    found = tx.find_nodes_by_title(draft.kind, normalize_title(draft.title))
    live = [n for n in found if n.status != "merged"]
    return (live or found or [None])[0]


def _enrich(tx: Tx, node: r.Node, draft: NodeDraft) -> bool:
    """Fill what the stored node lacks; return whether anything changed."""
    changes: dict = {}
    if not node.description and draft.description:
        changes["description"] = draft.description
    new_attrs = {k: v for k, v in draft.attrs.items()
                 if k not in node.attrs and k not in ("match_by_authors_year", "status")}
    if new_attrs:
        changes["attrs"] = {**node.attrs, **new_attrs}
    if changes:
        tx.update_node(node.id, **changes)
    return bool(changes)


def ingest_document(tx: Tx, doc: ParsedDocument, report: IngestReport | None = None) -> IngestReport:
    report = report or IngestReport()
    report.files.append(doc.source)
    provenance = {"document": doc.source, "format": doc.format}
    ids: dict[str, str] = {}
    for draft in doc.nodes:
        existing = _existing(tx, draft)
        if existing is not None:
            ids[draft.key] = existing.id
            report.nodes_updated += _enrich(tx, existing, draft)
            continue
        attrs = {k: v for k, v in draft.attrs.items() if k not in ("match_by_authors_year", "status")}
        status = draft.attrs.get("status", "active")
        node = validate(NodeIn, {
            "kind": draft.kind, "title": draft.title, "description": draft.description, "status": status,
            "attrs": attrs, "source": provenance, "measurements": draft.measurements,
        })
        ids[draft.key] = create_node(tx, node, preferred_id=draft.preferred_id)
        report.nodes_added += 1
    for e in doc.edges:
        if e.source not in ids or e.target not in ids:
            report.warnings.append(f"{doc.source}: edge {e.type} refers to an unknown draft node")
            continue
        if ids[e.source] == ids[e.target]:
            continue
        _, new = add_edge(tx, ids[e.source], e.type, ids[e.target], e.attrs, provenance)
        report.edges_added += new
    report.warnings.extend(f"{doc.source}: {w}" for w in doc.warnings)
    report.node_ids = ids
    return report


def read_document(path: str | Path) -> str:
    p = Path(path)
    if not p.is_file():
        raise ValueError(f"no such file: {path}")
    data = p.read_bytes()
    if b"\x00" in data[:4096]:
        raise ValueError(f"{path}: looks like a binary file, not a text document")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError(f"{path}: not UTF-8 text") from None
