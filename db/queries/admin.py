"""Whole-table access for :mod:`graph.backup` (every row of every graph table, restore with ids), and the
queries behind :func:`graph.integrity.check`."""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, Float, Integer, LargeBinary, exists, func, insert, or_, select, text

from db import models as m
from db.queries.base import TxBase, chunks


class TableAccess(TxBase):
    BACKUP_TABLES: tuple[str, ...] = ("nodes", "edges", "measurements", "embeddings", "curation_decisions",
                                      "writes", "identifiers")

    # ---- backup and restore ------------------------------------------------------------------------
    def table_columns(self, table: str) -> dict[str, str]:
        """Column name -> a coarse type name (str, int, float, bool, datetime, bytes, json)."""
        out = {}
        for col in m.Base.metadata.tables[table].columns:
            t = col.type
            out[col.name] = ("json" if isinstance(t, JSON) else "datetime" if isinstance(t, DateTime)
                             else "bytes" if isinstance(t, LargeBinary) else "bool" if isinstance(t, Boolean)
                             else "float" if isinstance(t, Float) else "int" if isinstance(t, Integer) else "str")
        return out

    def table_rows(self, table: str) -> list[dict[str, Any]]:
        """Every row of one of the graph's tables, every column, in primary-key order."""
        t = m.Base.metadata.tables[table]
        return [dict(x) for x in self.s.execute(select(t).order_by(*t.primary_key.columns)).mappings()]

    def insert_rows(self, table: str, rows: list[dict[str, Any]]) -> None:
        """Insert rows as given, ids included (a restore); see :meth:`reset_id_sequences`. Edges on
        PostgreSQL go in with one COPY (:meth:`db.queries.bulk.BulkWrites._copy_rows`), which the edge-count
        trigger counts once, grouped, instead of once per row's statement."""
        if self.dialect == "postgresql" and table == "edges" and rows:
            self._copy_rows(table, rows)
            return
        t = m.Base.metadata.tables[table]
        for part in chunks(rows):
            self.s.execute(insert(t), part)

    def reset_id_sequences(self) -> None:
        """After inserting explicit ids on PostgreSQL, move each id sequence past the largest id."""
        if self.dialect != "postgresql":
            return  # SQLite picks max(rowid) + 1 by itself
        for table in ("edges", "measurements", "curation_decisions", "writes"):
            self.s.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                f"COALESCE(MAX(id), 0) + 1, false) FROM {table}"))

    def table_counts(self) -> dict[str, int]:
        return {name: self.s.scalar(select(func.count()).select_from(m.Base.metadata.tables[name]))
                for name in self.BACKUP_TABLES}

    # ---- integrity ---------------------------------------------------------------------------------
    def nodes_outside(self, kinds: Iterable[str], statuses: Iterable[str]) -> list[tuple[str, str, str]]:
        """(id, kind, status) of nodes whose kind or status is not among those given."""
        q = select(m.Node.id, m.Node.kind, m.Node.status).where(
            or_(m.Node.kind.not_in(list(kinds)), m.Node.status.not_in(list(statuses)))).order_by(m.Node.id)
        return [tuple(x) for x in self._rows(q).all()]

    def measurements_outside(self, err_kinds: Iterable[str]) -> list[tuple[int, str, str]]:
        """(id, node id, err_kind) of measurements whose err_kind is set but not among those given."""
        q = select(m.Measurement.id, m.Measurement.node_id, m.Measurement.err_kind).where(
            m.Measurement.err_kind.is_not(None), m.Measurement.err_kind.not_in(list(err_kinds)))
        return [tuple(x) for x in self._rows(q.order_by(m.Measurement.id)).all()]

    def orphan_rows(self) -> dict[str, list[tuple[Any, ...]]]:
        """Rows that point at a node that does not exist, by table: measurements (id, node id),
        embeddings (node id, model), curation decisions (id, node a, node b)."""
        def missing(col):
            return ~exists().where(m.Node.id == col)

        return {
            "measurements": [tuple(x) for x in self.s.execute(
                select(m.Measurement.id, m.Measurement.node_id).where(missing(m.Measurement.node_id))
                .order_by(m.Measurement.id)).all()],
            "embeddings": [tuple(x) for x in self.s.execute(
                select(m.Embedding.node_id, m.Embedding.model).where(missing(m.Embedding.node_id))
                .order_by(m.Embedding.node_id, m.Embedding.model)).all()],
            "curation_decisions": [tuple(x) for x in self.s.execute(
                select(m.CurationDecision.id, m.CurationDecision.node_a, m.CurationDecision.node_b)
                .where(or_(missing(m.CurationDecision.node_a), missing(m.CurationDecision.node_b)))
                .order_by(m.CurationDecision.id)).all()],
        }
