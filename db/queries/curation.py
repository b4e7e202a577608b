"""Stored embeddings (one vector per node and model, with the hash of the text it was computed from)
and curators' decisions about similarity candidates."""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import func, or_, select

from db import models as m
from db.queries.base import chunks
from db.queries.writes import WriteLog


class CurationQueries(WriteLog):
    # ---- embeddings ------------------------------------------------------------------------------
    def embedding_hashes(self, model: str, node_ids: Iterable[str] | None = None) -> dict[str, str]:
        """node id -> text hash of a model's stored vectors, all or those of ``node_ids``."""
        q = select(m.Embedding.node_id, m.Embedding.text_hash).where(m.Embedding.model == model)
        if node_ids is None:
            return dict(self.s.execute(q).all())
        out: dict[str, str] = {}
        for chunk in chunks(list(node_ids)):
            out.update(self.s.execute(q.where(m.Embedding.node_id.in_(chunk))).all())
        return out

    def upsert_embedding(self, node_id: str, model: str, text_hash: str, vector: bytes, dim: int) -> None:
        """Store one node's vector (see :meth:`upsert_embeddings`); ``dim`` must be the vector's length."""
        if dim * 4 != len(vector):
            raise ValueError(f"a vector of dim {dim} takes {dim * 4} bytes, not {len(vector)}")
        self.upsert_embeddings(model, [(node_id, vector, text_hash)])

    def upsert_embeddings(self, model: str, rows: Iterable[tuple[str, bytes, str]]) -> int:
        """Store (node id, float32 vector bytes, text hash) rows of one model, replacing a node's earlier vector:
        one INSERT ... ON CONFLICT statement per chunk of rows (what ``findings embed`` writes, a chunk at a
        time; the ORM's per-row get and flush took about 0.7 ms a row). Returns how many."""
        if self.dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert
        now = m.utcnow()
        values = [{"node_id": node_id, "model": model, "text_hash": h, "vector": data, "dim": len(data) // 4,
                   "created_at": now} for node_id, data, h in rows]
        if not values:
            return 0
        self.s.flush()
        stmt = insert(m.Embedding)
        stmt = stmt.on_conflict_do_update(
            index_elements=[m.Embedding.node_id, m.Embedding.model],
            set_={c: getattr(stmt.excluded, c) for c in ("text_hash", "vector", "dim", "created_at")})
        self.s.connection().execute(stmt, values)
        return len(values)

    def embeddings(self, model: str, node_ids: Iterable[str] | None = None) -> list[tuple[str, bytes, str]]:
        """(node id, vector, text hash) of a model's stored vectors, all or those of ``node_ids``."""
        q = select(m.Embedding.node_id, m.Embedding.vector, m.Embedding.text_hash).where(m.Embedding.model == model)
        if node_ids is not None:
            q = q.where(m.Embedding.node_id.in_(list(node_ids)))
        return [tuple(x) for x in self._rows(q.order_by(m.Embedding.node_id)).all()]

    def embedding_stamp(self, model: str) -> tuple[int, Any]:
        """(number of vectors, latest created_at) for a model: a cheap version of the stored vectors."""
        count, latest = self.s.execute(
            select(func.count(), func.max(m.Embedding.created_at)).where(m.Embedding.model == model)).one()
        return int(count), latest

    def embeddings_since(self, model: str, since: Any) -> list[tuple[str, bytes, str]]:
        """Vectors of a model written at or after ``since`` (new or re-embedded nodes)."""
        q = select(m.Embedding.node_id, m.Embedding.vector, m.Embedding.text_hash).where(
            m.Embedding.model == model, m.Embedding.created_at >= since)
        return [tuple(x) for x in self._rows(q.order_by(m.Embedding.node_id)).all()]

    # ---- curation decisions ----------------------------------------------------------------------
    def add_decision(self, node_a: str, node_b: str, decision: str, actor: str | None = None,
                     edge_type: str | None = None, score: float | None = None, details: dict | None = None) -> int:
        """Store a curator's decision; ``actor`` defaults to the transaction's user."""
        actor = actor or self.user or "unknown"
        row = m.CurationDecision(node_a=node_a, node_b=node_b, decision=decision, actor=actor, edge_type=edge_type,
                                 score=score, details=details or {})
        self.s.add(row)
        self.s.flush()
        self.log_write(f"curation.{decision}", f"decision:{row.id}", node_a,
                       {"other": node_b, "edge_type": edge_type, "score": score, "actor": actor})
        return row.id

    def decisions(self, node_id: str | None = None, decision: str | None = None) -> list[dict]:
        q = select(m.CurationDecision).order_by(m.CurationDecision.id)
        if node_id:
            q = q.where(or_(m.CurationDecision.node_a == node_id, m.CurationDecision.node_b == node_id))
        if decision:
            q = q.where(m.CurationDecision.decision == decision)
        return [{"id": x.id, "node_a": x.node_a, "node_b": x.node_b, "decision": x.decision,
                 "edge_type": x.edge_type, "score": x.score, "actor": x.actor, "details": dict(x.details or {}),
                 "created_at": x.created_at} for x in self.s.scalars(q)]

    def decided_pairs(self, node_id: str | None = None) -> set[tuple[str, str]]:
        """Pairs (sorted) whose latest curation decision is accepted, dismissed or merged.

        A later ``unmerged`` decision reopens a merged pair, so an undone merge leaves no trace in the
        candidates.
        """
        q = select(m.CurationDecision.node_a, m.CurationDecision.node_b, m.CurationDecision.decision)
        if node_id is not None:
            q = q.where(or_(m.CurationDecision.node_a == node_id, m.CurationDecision.node_b == node_id))
        latest: dict[tuple[str, str], str] = {}
        for a, b, d in self._rows(q.order_by(m.CurationDecision.id)).all():
            latest[(a, b) if a <= b else (b, a)] = d
        return {p for p, d in latest.items() if d in ("accepted", "dismissed", "merged")}
