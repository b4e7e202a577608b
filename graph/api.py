"""The graph's one API: what the CLI, the app and the engine call. Each write is one transaction."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from db.records import Edge, Measurement, Node, Write, added_json
from db.session import Store
from graph import core

if TYPE_CHECKING:  # writes, ingest and export import pydantic and the parsers: loaded when first used
    from graph.bulk import BulkReport
    from graph.documents import ParsedDocument
    from graph.ingest import IngestReport


class Graph:
    def __init__(self, db: str | None = None, *, store: Store | None = None, user: str | None = None,
                 read_only: bool | None = None):
        """``user``: who this graph's writes are recorded as (default ``FINDINGS_USER``, else the OS user);
        ``read_only``: open the database so that nothing can be written (default ``FINDINGS_READ_ONLY``)."""
        self.store = store or Store(db, user=user, read_only=read_only)

    # ---- writes ------------------------------------------------------------------------------
    # Each write runs through Store.run_in_transaction: one transaction, re-run from the start when it
    # loses a race with another writer (a concurrent slug collision then gets its suffix).
    def add_node(self, data: dict[str, Any]) -> str:
        return self.store.run_in_transaction(lambda tx: core.create_node(tx, data))

    def link(self, source_id: str, edge_type: str, target_id: str, attrs: dict | None = None,
             source: dict | None = None) -> bool:
        """Add a typed edge; False when the same edge already exists."""
        return self.store.run_in_transaction(
            lambda tx: core.add_edge(tx, source_id, edge_type, target_id, attrs, source)[1])

    def ingest_texts(self, documents: list[tuple[str, str]], fmt: str = "auto") -> IngestReport:
        """Ingest (text, source-name) pairs, all in one transaction."""
        from graph.parsers import parse

        return self.ingest_documents([parse(text, source, fmt) for text, source in documents])

    def ingest_documents(self, documents: list[ParsedDocument]) -> IngestReport:
        from graph.ingest import IngestReport, ingest_document

        def body(tx) -> IngestReport:
            report = IngestReport()  # a fresh report for each attempt
            for doc in documents:
                ingest_document(tx, doc, report)
            return report

        return self.store.run_in_transaction(body)

    def ingest_paths(self, paths: list[str | Path], fmt: str = "auto") -> IngestReport:
        from graph.ingest import read_document

        return self.ingest_texts([(read_document(p), Path(p).name) for p in paths], fmt)

    def ingest_papers(self, paths: list[str | Path], fmt: str) -> IngestReport:
        """Ingest bibliographies (``bibtex``) or arXiv metadata snapshots (``arxiv-snapshot``): papers with
        their authors and categories, each paper once (:mod:`graph.papers`). A BibTeX file is read whole; a
        snapshot is streamed. Records are written in batches, each one transaction."""
        from graph.ingest import IngestReport, read_document

        report = IngestReport()
        for path in paths:
            name = Path(path).name
            text = read_document(path) if fmt == "bibtex" else None
            self._ingest_paper_source(path, text, name, fmt, report)
        return report

    def ingest_paper_texts(self, documents: list[tuple[str | bytes, str]], fmt: str) -> IngestReport:
        """:meth:`ingest_papers` for (content, source name) pairs, as the app's Ingest form has them: BibTeX
        text, or the lines of a snapshot (written to a temporary file and streamed from there)."""
        import os
        import tempfile

        from graph.ingest import IngestReport

        report = IngestReport()
        for content, name in documents:
            if fmt == "bibtex":
                if isinstance(content, bytes):
                    try:
                        content = content.decode("utf-8")
                    except UnicodeDecodeError:
                        raise ValueError(f"{name}: not UTF-8 text") from None
                self._ingest_paper_source(None, content, name, fmt, report)
                continue
            fd, tmp = tempfile.mkstemp(suffix=".jsonl", prefix="findings-snapshot-")
            try:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(content.encode("utf-8") if isinstance(content, str) else content)
                self._ingest_paper_source(tmp, None, name, fmt, report)
            finally:
                os.unlink(tmp)
        return report

    def _ingest_paper_source(self, path: str | Path | None, text: str | None, name: str, fmt: str,
                             report: IngestReport) -> None:
        """One BibTeX text or snapshot file, named ``name`` in provenance and warnings, into ``report``."""
        from graph.papers import batch_size_setting, ingest_records

        batch = batch_size_setting()
        if fmt == "bibtex":
            from graph.parsers.bibtex import parse_bibtex

            records, warnings = parse_bibtex(text or "", name)
            report.warnings.extend(warnings)
            stream = ((rec, []) for rec in records)
        elif fmt == "arxiv-snapshot":
            from graph.parsers.arxiv_snapshot import stream_snapshot

            stream = stream_snapshot(path, name, ahead=batch)  # a whole batch parsed ahead
        else:
            raise ValueError(f"unknown paper format {fmt!r}; expected bibtex or arxiv-snapshot")
        report.files.append(name)
        ingest_records(self.store, stream, {"document": name, "format": fmt}, report, batch_size=batch)

    def add_arxiv_paper(self, arxiv_id: str, fetch=None) -> tuple[str, str]:
        """The paper with this arXiv id, fetched from the arXiv API (:mod:`graph.arxiv`; ``fetch`` replaces
        the HTTP GET) and written with its authors and categories; a paper already held with the same arXiv
        id, DOI or title and first author is filled in, never duplicated. Returns (paper id, "added" |
        "updated" | "unchanged"). Nothing is written when the API cannot be reached."""
        from graph.arxiv import fetch_paper
        from graph.ingest import IngestReport
        from graph.papers import upsert_papers

        record = fetch_paper(arxiv_id, fetch)
        provenance = {"arxiv": record.arxiv_id, "user": self.store.user}

        def body(tx) -> tuple[str, str]:
            report = IngestReport()
            ((paper_id, new),) = upsert_papers(tx, [record], provenance, report)
            if new:
                return paper_id, "added"
            return paper_id, "updated" if report.nodes_updated or report.edges_added else "unchanged"

        return self.store.run_in_transaction(body)

    def bulk_load(self, nodes: Iterable[dict[str, Any]] = (), edges: Iterable[Any] = (), *,
                  provenance: dict | None = None, parse_text: bool = True) -> BulkReport:
        """Many nodes and edges at once, checked by the same rules as :meth:`add_node` and :meth:`link`,
        written with bulk inserts in one transaction; all or nothing (see :mod:`graph.bulk`)."""
        from graph import bulk

        nodes, edges = list(nodes), list(edges)
        return self.store.run_in_transaction(
            lambda tx: bulk.load(tx, nodes, edges, provenance=provenance, parse_text=parse_text))

    def import_json(self, data: Any) -> tuple[int, int]:
        from graph import exchange

        return self.store.run_in_transaction(lambda tx: exchange.import_json(tx, data))

    # ---- reads -------------------------------------------------------------------------------
    def log(self, since: datetime | None = None, user: str | None = None, node: str | None = None,
            limit: int = 50) -> list[Write]:
        """The write log, newest first: entries at or after ``since``, by ``user``, about ``node``."""
        with self.store.read() as tx:
            return tx.writes(since=since, user=user, node_id=node, limit=limit)

    def get(self, node_id: str) -> Node:
        with self.store.read() as tx:
            return core.require_node(tx, node_id)

    def show(self, node_id: str, limit: int | None = None, offset: int = 0) -> dict[str, Any]:
        """The node, its measurements and its edges: all of them, or (``limit``) a page of each group with
        every group's count (:func:`graph.core.show`)."""
        with self.store.read() as tx:
            return core.show(tx, node_id, limit, offset)

    def neighbourhood(self, node_id: str, per_group: int | None = None,
                      offsets: dict[tuple[str, str], int] | None = None) -> list[core.NeighbourGroup]:
        """Neighbours grouped and ranked (:func:`graph.core.neighbourhood`): every one, or a page of
        ``per_group`` of each group from its offset in ``offsets`` (edge type, direction) on."""
        with self.store.read() as tx:
            return core.neighbourhood(tx, node_id, per_group, offsets)

    def search(self, text: str, kind: str | None = None, limit: int = 20,
               status: str | None = None) -> list[tuple[Node, float]]:
        with self.store.read() as tx:
            return tx.keyword_search(text, kind=kind, limit=limit, status=status)

    def nodes(self, kind: str | None = None, status: str | None = None, limit: int | None = None) -> list[Node]:
        with self.store.read() as tx:
            return tx.list_nodes(kind=kind, status=status, limit=limit)

    def stats(self) -> dict[str, dict[str, int]]:
        with self.store.read() as tx:
            return {"nodes": dict(sorted(tx.count_nodes_by_kind().items())),
                    "edges": dict(sorted(tx.count_edges_by_type().items()))}

    def export_json(self) -> dict[str, Any]:
        from graph import exchange

        with self.store.read() as tx:
            return exchange.export_json(tx)

    def export_graphml(self) -> str:
        from graph import exchange

        with self.store.read() as tx:
            return exchange.export_graphml(tx)

    def export_csv_zip(self) -> bytes:
        from graph import exchange

        with self.store.read() as tx:
            return exchange.export_csv_zip(tx)

    # ---- app queries (what the Streamlit explorer reads; each bounded, none loads the whole graph) ------
    def node_page(self, node_id: str, per_group: int | None = None,
                  offsets: dict[tuple[str, str], int] | None = None) -> NodePage:
        """Everything a node page shows, in one read: the node, its measurements, its neighbourhood
        ranked by edge count (a page of ``per_group`` of each group, from its offset in ``offsets`` on;
        each group's ``size`` says how many there are, counted), and its provenance (source papers with
        their authors, the runs)."""
        with self.store.read() as tx:
            node = core.require_node(tx, node_id)
            groups = core.neighbourhood(tx, node_id, per_group, offsets)
            papers = [(n, attrs) for g in groups if g.edge_type == "extracted_from" and g.direction == "out"
                      for n, _, edge_attrs in g.neighbours for attrs in edge_attrs[:1]]
            authors = tx.edge_views([p.id for p, _ in papers], "authored_by") if papers else {}
            return NodePage(
                node=node,
                added=added_json(tx.added([node_id]).get(node_id), node.created_at),
                measurements=tx.measurements_of(node_id),
                groups=groups,
                papers=[(p, attrs, [v.node for v in sorted(authors.get(p.id, []),
                                                           key=lambda v: v.edge.attrs.get("position", 1_000_000))])
                        for p, attrs in papers],
                runs=[n for g in groups if g.edge_type == "produced_by" and g.direction == "out"
                      for n, _, _ in g.neighbours],
            )

    def finding_rows(self, metric: str | None = None, method: str | None = None, dataset: str | None = None,
                     paper: str | None = None, run: str | None = None, limit: int = 5000) -> list[FindingRow]:
        """Measurements with their node, source papers and runs, filtered like the findings table."""
        with self.store.read() as tx:
            rows = tx.measurement_rows(metric, method, dataset, paper, run, limit)
            ids = {n.id for n, _ in rows}
            papers = tx.edge_views(ids, "extracted_from") if ids else {}
            runs = tx.edge_views(ids, "produced_by") if ids else {}
        return [FindingRow(n, meas, [v.node for v in papers.get(n.id, [])], [v.node for v in runs.get(n.id, [])])
                for n, meas in rows]

    def finding_filters(self) -> dict[str, list]:
        """The values the findings table can be filtered by: metric, method, dataset names; papers and runs
        (nodes) that have measured findings."""
        with self.store.read() as tx:
            out: dict[str, list] = dict(tx.measurement_values())
            out["paper"] = tx.edge_targets("extracted_from", measured_only=True)
            out["run"] = tx.edge_targets("produced_by", measured_only=True)
        return out

    def find_nodes(self, text: str = "", kind: str | None = None, status: str | None = None,
                   metric: str | None = None, paper: str | None = None, limit: int = 50) -> list[tuple[Node, float]]:
        """Keyword search (or, without text, a listing) narrowed by kind, status, metric and source paper."""
        with self.store.read() as tx:
            if not text.strip():
                return [(n, 0.0) for n in tx.filter_nodes(kind, status, metric, paper, limit=limit)]
            hits = tx.keyword_search(text, kind=kind, limit=limit * 5 if (metric or paper) else limit, status=status)
        return self.narrow(hits, metric=metric, paper=paper)[:limit]

    def narrow(self, hits: list[tuple[Node, float]], kind: str | None = None, status: str | None = None,
               metric: str | None = None, paper: str | None = None) -> list[tuple[Node, float]]:
        """Keep the (node, score) hits of a search that match kind, status, metric and source paper."""
        hits = [(n, s) for n, s in hits if (not kind or n.kind == kind) and (not status or n.status == status)]
        if hits and (metric or paper):
            with self.store.read() as tx:
                keep = {n.id for n in tx.filter_nodes(metric=metric, paper_id=paper, ids=[n.id for n, _ in hits],
                                                      limit=len(hits))}
            hits = [(n, s) for n, s in hits if n.id in keep]
        return hits

    def papers(self, limit: int = 1000) -> list[Node]:
        """Papers that some claim or finding was extracted from (for filters)."""
        with self.store.read() as tx:
            return tx.edge_targets("extracted_from", limit=limit)

    def get_many(self, ids: list[str]) -> dict[str, Node]:
        with self.store.read() as tx:
            return tx.get_nodes(ids)

    def evidence(self, node_id: str) -> dict[str, Any]:
        """The evidence of a claim or a published finding, grouped by quantity and pooled (:mod:`graph.evidence`)."""
        from graph.evidence import evidence

        with self.store.read() as tx:
            return evidence(tx, node_id)

    def statuses(self, subjects: dict[str, str]) -> dict[str, Any]:
        """The evidence status of each claim and published finding among ``subjects`` (id → kind)."""
        from graph.evidence import statuses

        with self.store.read() as tx:
            return statuses(tx, subjects)

    def verdicts_of(self, finding_ids: list[str]) -> dict[str, list[tuple[str, Node, dict[str, Any]]]]:
        """For each of a run's findings, the replication verdicts it drew: (edge type, published finding, attrs)."""
        out: dict[str, list[tuple[str, Node, dict[str, Any]]]] = {}
        with self.store.read() as tx:
            for etype in ("replicates", "fails_to_replicate"):
                for fid, views in tx.edge_views(finding_ids, etype).items():
                    out.setdefault(fid, []).extend((etype, v.node, v.edge.attrs) for v in views)
        return out

    def finding_rows_for(self, finding_ids: list[str]) -> list[FindingRow]:
        """The measurements of the given findings as findings-table rows (with their papers and runs)."""
        with self.store.read() as tx:
            nodes = tx.get_nodes(finding_ids)
            measurements = tx.measurements_for(list(nodes))
            papers = tx.edge_views(list(nodes), "extracted_from") if nodes else {}
            runs = tx.edge_views(list(nodes), "produced_by") if nodes else {}
        return [FindingRow(nodes[i], m, [v.node for v in papers.get(i, [])], [v.node for v in runs.get(i, [])])
                for i in finding_ids if i in nodes for m in measurements.get(i, [])]

    def evidence_labels(self, findings: list[Node]) -> dict[str, str]:
        """A word on each finding's evidence: a published finding's status, a run's result's verdict."""
        from graph.evidence import finding_labels

        with self.store.read() as tx:
            return finding_labels(tx, findings)

    def subgraph(self, node_id: str, hops: int = 2, max_nodes: int = 150) -> tuple[list[Node], list[Edge]]:
        """The ``hops``-neighbourhood of a node, level by level, stopping at ``max_nodes`` nodes; with the
        edges among them."""
        with self.store.read() as tx:
            core.require_node(tx, node_id)
            seen: list[str] = [node_id]
            frontier = [node_id]
            for _ in range(max(0, hops)):
                if not frontier or len(seen) >= max_nodes:
                    break
                new = tx.next_hop(frontier, seen, max_nodes - len(seen))
                seen.extend(new)
                frontier = new
            nodes = tx.get_nodes(seen)
            edges = tx.edges_among(seen)
        return [nodes[i] for i in seen if i in nodes], edges


# ---- app queries: values ---------------------------------------------------------------------------
@dataclass
class NodePage:
    node: Node
    added: dict[str, Any]  # who added the node and when: {"user", "at"} (user None: before authorship was recorded)
    measurements: list[Measurement]
    groups: list[core.NeighbourGroup]
    papers: list[tuple[Node, dict[str, Any], list[Node]]]  # (paper, extracted_from attrs, authors in order)
    runs: list[Node]


@dataclass
class FindingRow:
    node: Node
    measurement: Measurement
    papers: list[Node] = field(default_factory=list)
    runs: list[Node] = field(default_factory=list)
