"""Integrity check of a stored graph: what `findings check` reports.

The store refuses most of these at write time (foreign keys, the edge vocabulary, one transaction per
command), so a problem here means something got past that: a database written by another tool, an
old bug, a hand-edited file, a restore from a broken backup. Each problem is one line a curator can act
on; the check only reads.

Problem kinds:

- ``dangling_edge``: an edge whose source or target node does not exist;
- ``vocabulary``: an edge that breaks the edge vocabulary (unknown type, wrong kinds at its ends, a
  self-loop), a node of unknown kind or status or whose id does not start with its kind, a measurement
  with an unknown error kind;
- ``merged_with_live_edges``: a merged node that still has edges other than its own ``duplicate_of``
  (a merge moves every other edge to the node it was merged into), or that has no ``duplicate_of``
  or several;
- ``orphan_measurement``: a measurement of a node that does not exist;
- ``orphan_embedding`` / ``orphan_decision``: a stored vector or a curation decision about a missing node;
- ``edge_count``: a node's stored count of a group (edge type, direction) that differs from its edges
  (triggers keep the counts exact, so only a write with them off gets here); a node page would show a
  wrong count without a sign of it. :func:`rebuild_edge_counts` (``findings check --rebuild-counts``)
  counts them again.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

from graph.vocabulary import EDGE_TYPES, ERR_KINDS, NODE_KINDS, STATUSES, check_edge

if TYPE_CHECKING:
    from graph.api import Graph

KINDS = ("dangling_edge", "vocabulary", "merged_with_live_edges", "orphan_measurement", "orphan_embedding",
         "orphan_decision", "edge_count")


@dataclass(frozen=True)
class Problem:
    kind: str  # one of KINDS
    subject: str  # what it is about: "edge 12", "node finding:x", "measurement 7"
    message: str  # one sentence

    def to_dict(self) -> dict[str, str]:
        return asdict(self)

    def __str__(self) -> str:
        return f"{self.kind}: {self.subject}: {self.message}"


def check(graph: Graph) -> list[Problem]:
    """Every integrity problem of the stored graph, in a stable order (empty when the graph is sound)."""
    with graph.store.read() as tx:
        edges = tx.list_edges()
        odd_nodes = tx.nodes_outside(NODE_KINDS, STATUSES)
        odd_meas = tx.measurements_outside(ERR_KINDS)
        orphans = tx.orphan_rows()
        nodes = tx.list_nodes()
        drift = tx.edge_count_drift()
    by_id = {n.id: n for n in nodes}
    merged = [n for n in nodes if n.status == "merged"]
    prefix_bad = [n for n in nodes if not n.id.startswith(f"{n.kind}:")]
    problems: list[Problem] = []

    for e in edges:
        src, dst = by_id.get(e.source_id), by_id.get(e.target_id)
        where = f"edge {e.id} ({e.source_id} {e.type} {e.target_id})"
        missing = [end for end, node in (("source", src), ("target", dst)) if node is None]
        if missing:
            problems.append(Problem("dangling_edge", where, f"its {' and '.join(missing)} node does not exist"))
            continue
        if e.type not in EDGE_TYPES:
            problems.append(Problem("vocabulary", where, f"unknown edge type {e.type!r}"))
            continue
        if src.id == dst.id:
            problems.append(Problem("vocabulary", where, "an edge may not join a node to itself"))
            continue
        try:
            check_edge(e.type, src.kind, dst.kind)
        except ValueError as exc:
            problems.append(Problem("vocabulary", where, str(exc)))

    for node_id, kind, status in odd_nodes:
        what = []
        if kind not in NODE_KINDS:
            what.append(f"unknown kind {kind!r}")
        if status not in STATUSES:
            what.append(f"unknown status {status!r}")
        problems.append(Problem("vocabulary", f"node {node_id}", "; ".join(what)))
    for n in prefix_bad:
        problems.append(Problem("vocabulary", f"node {n.id}", f"its id does not start with its kind {n.kind!r}:"))
    for meas_id, node_id, err_kind in odd_meas:
        problems.append(Problem("vocabulary", f"measurement {meas_id} of {node_id}",
                                f"unknown error kind {err_kind!r}; expected one of: {', '.join(ERR_KINDS)}"))

    touching: dict[str, list] = defaultdict(list)
    for e in edges:
        touching[e.source_id].append(e)
        if e.target_id != e.source_id:
            touching[e.target_id].append(e)
    for n in merged:
        own = [e for e in touching[n.id] if e.type == "duplicate_of" and e.source_id == n.id]
        live = [e for e in touching[n.id] if not (e.type == "duplicate_of" and e.source_id == n.id)]
        if live:
            shown = ", ".join(f"{e.source_id} {e.type} {e.target_id}" for e in live[:3])
            more = f" and {len(live) - 3} more" if len(live) > 3 else ""
            problems.append(Problem("merged_with_live_edges", f"node {n.id}",
                                    f"merged, yet {len(live)} edge(s) still attach to it: {shown}{more}"))
        if len(own) != 1:
            problems.append(Problem("merged_with_live_edges", f"node {n.id}",
                                    "merged, but it has no duplicate_of edge to the node it was merged into"
                                    if not own else f"merged, but it has {len(own)} duplicate_of edges"))

    for meas_id, node_id in orphans["measurements"]:
        problems.append(Problem("orphan_measurement", f"measurement {meas_id}",
                                f"belongs to node {node_id!r}, which does not exist"))
    for node_id, model in orphans["embeddings"]:
        problems.append(Problem("orphan_embedding", f"embedding {node_id} ({model})",
                                f"stored for node {node_id!r}, which does not exist"))
    for dec_id, a, b in orphans["curation_decisions"]:
        problems.append(Problem("orphan_decision", f"decision {dec_id}",
                                f"about the pair {a!r}, {b!r}, and at least one of them does not exist"))
    for node_id, etype, direction, stored, counted in drift:
        problems.append(Problem("edge_count", f"node {node_id}",
                                f"stores {stored} {direction} {etype} edge(s), and has {counted}; "
                                "`findings check --rebuild-counts` counts them again"))
    return problems


def rebuild_edge_counts(graph: Graph) -> int:
    """Count every node's groups (edge type, direction) again from the edges and store them, in one
    transaction; the number of groups stored."""
    return graph.store.run_in_transaction(lambda tx: tx.rebuild_edge_counts())
