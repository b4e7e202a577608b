"""Nodes: reading, inserting and updating them, and the listings the app filters."""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import func, select, update

from db import models as m
from db import records as r
from db.queries.base import NODE_COLUMNS, chunks, node_record
from db.queries.writes import WriteLog


class NodeQueries(WriteLog):
    def get_node(self, node_id: str) -> r.Node | None:
        row = self._rows(select(*NODE_COLUMNS).where(m.Node.id == node_id)).first()
        return node_record(row) if row is not None else None

    def get_nodes(self, ids: Iterable[str]) -> dict[str, r.Node]:
        out: dict[str, r.Node] = {}
        for stored in self._in(m.Node.id, ids):
            for row in self._rows(select(*NODE_COLUMNS).where(stored)):
                out[row.id] = node_record(row)
        return out

    def node_ids_with_prefix(self, prefix: str) -> set[str]:
        like = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        return set(self.s.scalars(select(m.Node.id).where(m.Node.id.like(like, escape="\\"))))

    def node_exists(self, node_id: str) -> bool:
        return self.s.scalar(select(m.Node.id).where(m.Node.id == node_id)) is not None

    def find_nodes_by_title(self, kind: str, title_norm: str) -> list[r.Node]:
        rows = self.s.execute(
            select(*NODE_COLUMNS).where(m.Node.kind == kind, m.Node.title_norm == title_norm)
            .order_by(m.Node.created_at)
        )
        return [node_record(x) for x in rows]

    def insert_node(self, node: r.Node, title_norm: str) -> None:
        self.s.add(m.Node(
            id=node.id, kind=node.kind, title=node.title, title_norm=title_norm, description=node.description,
            status=node.status, attrs=node.attrs, source=node.source,
            **({"created_at": node.created_at} if node.created_at else {}),
            **({"updated_at": node.updated_at} if node.updated_at else {}),
        ))
        self.s.flush()
        self.log_write("node.add", node.id, node.id, {"kind": node.kind})

    def update_node(self, node_id: str, **fields: Any) -> None:
        details: dict[str, Any] = {"fields": sorted(k for k in fields if k != "updated_at")}
        if "status" in fields:
            details["status"] = fields["status"]
        if isinstance(fields.get("attrs"), dict) and "status" in fields["attrs"]:
            details["run_status"] = fields["attrs"]["status"]  # a run's lifecycle: running, finished, failed
        fields.setdefault("updated_at", m.utcnow())
        self.s.execute(update(m.Node).where(m.Node.id == node_id).values(**fields))
        self.log_write("node.update", node_id, node_id, details)

    def set_heartbeat(self, run_id: str, attrs: dict[str, Any]) -> None:
        """Store a running run's attrs with a new ``heartbeat_at``: liveness, not a change of content, so it is
        the one node write that leaves no entry in the write log (an open run beats every 30 s)."""
        self.s.execute(update(m.Node).where(m.Node.id == run_id).values(attrs=attrs))

    def list_nodes(self, kind: str | None = None, status: str | None = None, limit: int | None = None,
                   offset: int = 0) -> list[r.Node]:
        q = select(*NODE_COLUMNS)
        if kind:
            q = q.where(m.Node.kind == kind)
        if status:
            q = q.where(m.Node.status == status)
        q = q.order_by(m.Node.kind, m.Node.id).offset(offset)
        if limit is not None:
            q = q.limit(limit)
        return [node_record(x) for x in self._rows(q)]

    def count_nodes_by_kind(self) -> dict[str, int]:
        return dict(self.s.execute(select(m.Node.kind, func.count()).group_by(m.Node.kind)).all())

    def filter_nodes(self, kind: str | None = None, status: str | None = None, metric: str | None = None,
                     paper_id: str | None = None, ids: Iterable[str] | None = None,
                     limit: int = 200) -> list[r.Node]:
        """Nodes by kind/status, measured by ``metric``, extracted from ``paper_id``, optionally among ``ids``."""
        q = select(*NODE_COLUMNS)
        if ids is not None:
            q = q.where(m.Node.id.in_(list(ids)))
        if kind:
            q = q.where(m.Node.kind == kind)
        if status:
            q = q.where(m.Node.status == status)
        if metric:
            q = q.where(m.Node.id.in_(select(m.Measurement.node_id).where(m.Measurement.metric == metric)))
        if paper_id:
            q = q.where(m.Node.id.in_(select(m.Edge.source_id).where(
                m.Edge.type == "extracted_from", m.Edge.target_id == paper_id)))
        return [node_record(x) for x in self._rows(q.order_by(m.Node.kind, m.Node.title).limit(limit))]

    def node_texts(self, after: str | None = None, limit: int | None = None) -> list[tuple[str, str, str]]:
        """(id, title, description) of every node, by id: what embeddings are computed from.

        ``after`` and ``limit`` read one page (ids greater than ``after``), so a long run need not hold them all.
        """
        q = select(m.Node.id, m.Node.title, m.Node.description).order_by(m.Node.id)
        if after is not None:
            q = q.where(m.Node.id > after)
        if limit is not None:
            q = q.limit(limit)
        return [tuple(x) for x in self.s.execute(q).all()]

    def node_kinds(self, node_ids: Iterable[str] | None = None) -> dict[str, tuple[str, str]]:
        """id -> (kind, status), for all nodes or the given ones."""
        q = select(m.Node.id, m.Node.kind, m.Node.status)
        if node_ids is None:
            return {i: (k, st) for i, k, st in self._rows(q).all()}
        out: dict[str, tuple[str, str]] = {}
        for chunk in chunks(list(set(node_ids))):
            out.update({n: (k, st) for n, k, st in self.s.execute(q.where(m.Node.id.in_(chunk))).all()})
        return out
