"""Curation of similarity candidates: accept as a typed edge, merge duplicates, unmerge, dismiss.

Every action is one transaction and leaves a row in ``curation_decisions`` (who, when, the score), so
an accepted, merged or dismissed pair never comes back as a candidate (an ``unmerged`` decision
reopens a merged pair). Who: ``actor``, by default the store's user (``--user``), who is also the author
of the write-log entries of the action.

Merging ``DUP`` into ``KEEP``:

- ``DUP`` keeps its id, gets status ``merged`` and an edge ``DUP -duplicate_of-> KEEP``;
- every other edge of ``DUP`` is repointed to ``KEEP`` (same edge id, attrs and provenance);
  when ``KEEP`` already has that edge, or the edge joined ``DUP`` and ``KEEP`` themselves, ``KEEP``'s
  side is kept and ``DUP``'s edge is removed but remembered in full;
- measurements stay on ``DUP``: they are its provenance (what that source reported). They are not
  lost: :func:`merged_measurements` gathers them for ``KEEP``'s page by following ``duplicate_of``;
- what moved and what was removed, and ``DUP``'s previous status and ``updated_at``, are recorded in
  the decision's ``details``, so :func:`unmerge` restores the graph exactly.
"""
from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from graph.core import add_edge, require_node

if TYPE_CHECKING:
    from db.records import Measurement
    from graph.api import Graph

# Edge types a curator cannot "accept": duplicates are merged, and listed_similar is a source's listing.
NOT_ACCEPTABLE = {"duplicate_of": "merge duplicates with `curate merge` instead",
                  "listed_similar": "it records a source document's listing, not a typed relation"}


def _score(graph: Graph, a: str, b: str, score: float | None, model: str | None) -> float | None:
    if score is not None:
        return float(score)
    from graph.similarity import pair_score

    try:
        return pair_score(graph, a, b, model)
    except ValueError:  # no usable model: the decision is still worth recording
        return None


def _pair(tx, a: str, b: str):
    na, nb = require_node(tx, a), require_node(tx, b)
    if na.id == nb.id:
        raise ValueError(f"a node cannot be paired with itself ({a!r})")
    return na, nb


def accept(graph: Graph, a: str, b: str, edge_type: str, actor: str | None = None, score: float | None = None,
           model: str | None = None) -> dict[str, Any]:
    """Turn the candidate (a, b) into the typed edge ``a -edge_type-> b`` (vocabulary-checked)."""
    if edge_type in NOT_ACCEPTABLE:
        raise ValueError(f"cannot accept a candidate as {edge_type}: {NOT_ACCEPTABLE[edge_type]}")
    score = _score(graph, a, b, score, model)

    def body(tx) -> dict[str, Any]:
        _pair(tx, a, b)
        edge, new = add_edge(tx, a, edge_type, b, None, {"user": actor or tx.user, "via": "curation"})
        did = tx.add_decision(a, b, "accepted", actor, edge_type=edge_type, score=score,
                              details={"edge_id": edge.id, "new_edge": new})
        return {"decision": did, "source": a, "type": edge_type, "target": b, "new_edge": new, "score": score}

    return graph.store.run_in_transaction(body)


def dismiss(graph: Graph, a: str, b: str, actor: str | None = None, score: float | None = None,
            model: str | None = None) -> dict[str, Any]:
    """Record that (a, b) is neither a relation nor a duplicate; the pair stops being a candidate."""
    score = _score(graph, a, b, score, model)

    def body(tx) -> dict[str, Any]:
        _pair(tx, a, b)
        did = tx.add_decision(a, b, "dismissed", actor, score=score)
        return {"decision": did, "a": a, "b": b, "score": score}

    return graph.store.run_in_transaction(body)


def merge(graph: Graph, keep_id: str, dup_id: str, actor: str | None = None, score: float | None = None,
          model: str | None = None) -> dict[str, Any]:
    """Merge ``dup_id`` into ``keep_id`` (see the module docstring); reversible with :func:`unmerge`."""
    score = _score(graph, keep_id, dup_id, score, model)

    def body(tx) -> dict[str, Any]:
        keep, dup = _pair(tx, keep_id, dup_id)
        if keep.kind != dup.kind:
            raise ValueError(f"only nodes of the same kind can be merged, not {dup.kind} into {keep.kind}")
        if dup.status == "merged":
            raise ValueError(f"{dup_id!r} is already merged; unmerge it first")
        if keep.status == "merged":
            raise ValueError(f"{keep_id!r} is itself merged; merge into the node it was merged into")
        moved: list[dict[str, Any]] = []
        removed: list[dict[str, Any]] = []
        for edge in tx.edges_touching(dup_id):
            new_src = keep_id if edge.source_id == dup_id else edge.source_id
            new_dst = keep_id if edge.target_id == dup_id else edge.target_id
            if new_src == new_dst or tx.find_edge(new_src, edge.type, new_dst) is not None:
                removed.append({"source": edge.source_id, "type": edge.type, "target": edge.target_id,
                                "attrs": edge.attrs, "provenance": edge.source})
                tx.delete_edge(edge.id)
            else:
                tx.repoint_edge(edge.id, new_src, new_dst)
                moved.append({"id": edge.id, "source": edge.source_id, "type": edge.type, "target": edge.target_id,
                              "moved_source": new_src, "moved_target": new_dst})
        dup_edge, _ = add_edge(tx, dup_id, "duplicate_of", keep_id, None, {"user": actor or tx.user, "via": "curation"})
        tx.update_node(dup_id, status="merged")
        details = {"previous_status": dup.status,
                   "previous_updated_at": dup.updated_at.isoformat() if dup.updated_at else None,
                   "duplicate_edge": dup_edge.id, "moved": moved, "removed": removed}
        did = tx.add_decision(keep_id, dup_id, "merged", actor, edge_type="duplicate_of", score=score,
                              details=details)
        return {"decision": did, "keep": keep_id, "duplicate": dup_id, "moved": len(moved), "removed": len(removed)}

    return graph.store.run_in_transaction(body)


def unmerge(graph: Graph, dup_id: str, actor: str | None = None) -> dict[str, Any]:
    """Undo the latest merge of ``dup_id``: its edges go back, its status returns, duplicate_of goes."""
    def body(tx) -> dict[str, Any]:
        dup = require_node(tx, dup_id)
        history = [d for d in tx.decisions(dup_id) if d["node_b"] == dup_id and d["decision"] in ("merged", "unmerged")]
        if dup.status != "merged" or not history or history[-1]["decision"] != "merged":
            raise ValueError(f"{dup_id!r} is not merged, so there is nothing to unmerge")
        rec = history[-1]
        keep_id, details = rec["node_a"], rec["details"]
        skipped: list[str] = []
        dup_edge = tx.get_edge(details["duplicate_edge"]) if details.get("duplicate_edge") else None
        if dup_edge is None or dup_edge.source_id != dup_id or dup_edge.type != "duplicate_of":
            dup_edge = tx.find_edge(dup_id, "duplicate_of", keep_id)
        if dup_edge is not None:
            tx.delete_edge(dup_edge.id)
        for mv in reversed(details.get("moved", [])):
            edge = tx.get_edge(mv["id"])
            if edge is None or (edge.source_id, edge.type, edge.target_id) != (
                    mv["moved_source"], mv["type"], mv["moved_target"]):
                # a later merge and unmerge may have re-created it under another id: find it where it went
                edge = tx.find_edge(mv["moved_source"], mv["type"], mv["moved_target"])
            if edge is None:
                skipped.append(f"edge {mv['source']} {mv['type']} {mv['target']} is gone since the merge")
            elif tx.find_edge(mv["source"], mv["type"], mv["target"]) is not None:
                skipped.append(f"edge {mv['source']} {mv['type']} {mv['target']} exists again; left as it is")
            else:
                tx.repoint_edge(edge.id, mv["source"], mv["target"])
        for rm in details.get("removed", []):
            if tx.find_edge(rm["source"], rm["type"], rm["target"]) is None:
                tx.insert_edge(rm["source"], rm["type"], rm["target"], rm.get("attrs") or {},
                               rm.get("provenance") or {})
        fields: dict[str, Any] = {"status": details.get("previous_status", "active")}
        if details.get("previous_updated_at"):
            fields["updated_at"] = datetime.fromisoformat(details["previous_updated_at"])
        tx.update_node(dup_id, **fields)
        did = tx.add_decision(keep_id, dup_id, "unmerged", actor, edge_type="duplicate_of",
                              details={"merge_decision": rec["id"], "skipped": skipped})
        return {"decision": did, "keep": keep_id, "duplicate": dup_id, "skipped": skipped}

    return graph.store.run_in_transaction(body)


def decisions(graph: Graph, node_id: str | None = None, decision: str | None = None) -> list[dict[str, Any]]:
    """The stored curation decisions, oldest first."""
    with graph.store.read() as tx:
        return tx.decisions(node_id, decision)


def merged_measurements(graph: Graph, keep_id: str) -> dict[str, list[Measurement]]:
    """Measurements of the nodes merged into ``keep_id`` (directly or through earlier merges), by node id."""
    out: dict[str, list[Measurement]] = {}
    with graph.store.read() as tx:
        todo, seen = [keep_id], {keep_id}
        while todo:
            current = todo.pop()
            for edge in tx.edges_touching(current, edge_type="duplicate_of"):
                src = edge.source_id
                if edge.target_id == current and src not in seen:
                    seen.add(src)
                    todo.append(src)
                    meas = tx.measurements_of(src)
                    if meas:
                        out[src] = meas
    return out


def list_candidates(graph: Graph, **kwargs: Any):
    """Candidate pairs for curation; see :func:`graph.similarity.candidate_pairs` for the options."""
    from graph.similarity import candidate_pairs

    return candidate_pairs(graph, **kwargs)
