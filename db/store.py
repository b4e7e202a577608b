"""The store: the project's SQL lives here, behind methods named in domain words (the CLI's quick SQLite
read path, :mod:`db.sqlite_read`, holds the rest).

``Store.transaction()`` yields a :class:`Tx`; everything done through one ``Tx`` commits together or
not at all. Values come back as :mod:`graph.records` dataclasses, never as ORM objects.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any, TypeVar

from sqlalchemy import and_, delete, func, literal, or_, select, text, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from db import models as m
from db.engine import PG_READ_ISOLATION, SQLITE_BEGIN_OPTION, ensure_schema, get_engine, resolve_url
from db.retry import DEFAULT_POLICY, RetryPolicy, run_with_retry
from db.sqlite_read import keyword_sql, node_filter, search_words
from graph import records as r

# the keyword index's insert trigger (migration 0002); a bulk insert drops it and fills the index itself
_FTS_INSERT_TRIGGER = (
    "CREATE TRIGGER nodes_fts_ai AFTER INSERT ON nodes BEGIN "
    "INSERT INTO nodes_fts(rowid, title, description) VALUES (new.rowid, new.title, new.description); END")


# Reads select columns, not ORM entities: rows come back as tuples (no identity map, no per-object
# instrumentation), several times cheaper per row, which is what a node with thousands of edges costs.
_NODE = (m.Node.id, m.Node.kind, m.Node.title, m.Node.description, m.Node.status, m.Node.attrs, m.Node.source,
         m.Node.created_at, m.Node.updated_at)
_EDGE = (m.Edge.id, m.Edge.source_id, m.Edge.type, m.Edge.target_id, m.Edge.attrs, m.Edge.source)
_MEAS = (m.Measurement.id, m.Measurement.node_id, m.Measurement.metric, m.Measurement.value, m.Measurement.err,
         m.Measurement.err_kind, m.Measurement.n, m.Measurement.split, m.Measurement.dataset, m.Measurement.method,
         m.Measurement.conditions, m.Measurement.higher_is_better)


def _node(row: m.Node) -> r.Node:
    return r.Node(
        id=row.id, kind=row.kind, title=row.title, description=row.description, status=row.status,
        attrs=dict(row.attrs or {}), source=dict(row.source or {}),
        created_at=row.created_at, updated_at=row.updated_at,
    )


def _edge(row: m.Edge) -> r.Edge:
    return r.Edge(id=row.id, source_id=row.source_id, type=row.type, target_id=row.target_id,
                  attrs=dict(row.attrs or {}), source=dict(row.source or {}))


def _measurement(row: m.Measurement) -> r.Measurement:
    return r.Measurement(
        metric=row.metric, value=row.value, err=row.err, err_kind=row.err_kind, n=row.n, split=row.split,
        dataset=row.dataset, method=row.method, conditions=dict(row.conditions or {}),
        higher_is_better=row.higher_is_better,
    )


class Tx:
    """One transaction's worth of store operations."""

    def __init__(self, session: Session):
        self.s = session

    @property
    def dialect(self) -> str:
        return self.s.get_bind().dialect.name

    def _rows(self, stmt):
        """Run a column select on the transaction's connection: plain rows, without the ORM's per-row
        loading (several times cheaper for thousands of rows). Pending ORM writes are flushed first,
        as the session's autoflush would."""
        if self.s.new or self.s.dirty or self.s.deleted:
            self.s.flush()
        return self.s.connection().execute(stmt)

    # ---- nodes -------------------------------------------------------------------------------
    def get_node(self, node_id: str) -> r.Node | None:
        row = self._rows(select(*_NODE).where(m.Node.id == node_id)).first()
        return _node(row) if row is not None else None

    def get_nodes(self, ids: Iterable[str]) -> dict[str, r.Node]:
        ids = list(set(ids))
        out: dict[str, r.Node] = {}
        for i in range(0, len(ids), 500):
            for row in self._rows(select(*_NODE).where(m.Node.id.in_(ids[i:i + 500]))):
                out[row.id] = _node(row)
        return out

    def node_ids_with_prefix(self, prefix: str) -> set[str]:
        like = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        return set(self.s.scalars(select(m.Node.id).where(m.Node.id.like(like, escape="\\"))))

    def node_exists(self, node_id: str) -> bool:
        return self.s.scalar(select(m.Node.id).where(m.Node.id == node_id)) is not None

    def find_nodes_by_title(self, kind: str, title_norm: str) -> list[r.Node]:
        rows = self.s.execute(
            select(*_NODE).where(m.Node.kind == kind, m.Node.title_norm == title_norm).order_by(m.Node.created_at)
        )
        return [_node(x) for x in rows]

    def insert_node(self, node: r.Node, title_norm: str) -> None:
        self.s.add(m.Node(
            id=node.id, kind=node.kind, title=node.title, title_norm=title_norm, description=node.description,
            status=node.status, attrs=node.attrs, source=node.source,
            **({"created_at": node.created_at} if node.created_at else {}),
            **({"updated_at": node.updated_at} if node.updated_at else {}),
        ))
        self.s.flush()

    def update_node(self, node_id: str, **fields: Any) -> None:
        fields.setdefault("updated_at", m.utcnow())
        self.s.execute(update(m.Node).where(m.Node.id == node_id).values(**fields))

    def list_nodes(self, kind: str | None = None, status: str | None = None, limit: int | None = None,
                   offset: int = 0) -> list[r.Node]:
        q = select(*_NODE)
        if kind:
            q = q.where(m.Node.kind == kind)
        if status:
            q = q.where(m.Node.status == status)
        q = q.order_by(m.Node.kind, m.Node.id).offset(offset)
        if limit is not None:
            q = q.limit(limit)
        return [_node(x) for x in self._rows(q)]

    def count_nodes_by_kind(self) -> dict[str, int]:
        return dict(self.s.execute(select(m.Node.kind, func.count()).group_by(m.Node.kind)).all())

    # ---- edges -------------------------------------------------------------------------------
    def find_edge(self, source_id: str, edge_type: str, target_id: str) -> r.Edge | None:
        row = self._rows(select(*_EDGE).where(
            m.Edge.source_id == source_id, m.Edge.type == edge_type, m.Edge.target_id == target_id)).first()
        return _edge(row) if row is not None else None

    def insert_edge(self, source_id: str, edge_type: str, target_id: str, attrs: dict | None = None,
                    source: dict | None = None) -> r.Edge:
        row = m.Edge(source_id=source_id, type=edge_type, target_id=target_id, attrs=attrs or {},
                     source=source or {})
        self.s.add(row)
        self.s.flush()
        return _edge(row)

    def update_edge_attrs(self, edge_id: int, attrs: dict) -> None:
        self.s.execute(update(m.Edge).where(m.Edge.id == edge_id).values(attrs=attrs))

    def delete_edge(self, edge_id: int) -> None:
        self.s.execute(delete(m.Edge).where(m.Edge.id == edge_id))

    def edges_of(self, node_id: str) -> list[r.EdgeView]:
        """Every edge touching ``node_id``, each with the node at its other end."""
        rows = self.s.execute(
            select(*_EDGE).where(or_(m.Edge.source_id == node_id, m.Edge.target_id == node_id))).all()
        rows.sort(key=lambda x: x.id)
        others = self.get_nodes(
            [x.target_id if x.source_id == node_id else x.source_id for x in rows]
        )
        out = []
        for x in rows:
            if x.source_id == node_id:
                out.append(r.EdgeView(_edge(x), "out", others[x.target_id]))
            if x.target_id == node_id:  # a self-loop shows from both ends
                out.append(r.EdgeView(_edge(x), "in", others[x.source_id]))
        return out

    def edge_briefs(self, node_id: str) -> list[r.EdgeBrief]:
        """Every edge touching ``node_id`` with the id, kind, title and status of the node at the other end,
        in edge order: what a listing of the edges needs, without loading the other nodes whole."""
        out = []
        for direction, here, there in (("out", m.Edge.source_id, m.Edge.target_id),
                                       ("in", m.Edge.target_id, m.Edge.source_id)):
            q = (select(m.Edge.id, m.Edge.type, m.Edge.attrs, m.Node.id, m.Node.kind, m.Node.title, m.Node.status)
                 .join(m.Node, m.Node.id == there).where(here == node_id))
            out.extend(r.EdgeBrief(i, t, direction, dict(a or {}), nid, k, title, st)
                       for i, t, a, nid, k, title, st in self._rows(q).all())
        out.sort(key=lambda b: (b.edge_id, b.direction != "out"))  # a self-loop: out, then in
        return out

    def edge_ends_of(self, node_id: str, with_attrs: bool = True) -> list[tuple]:
        """(edge id, type, direction, other end's id, other end's title[, edge attrs]) of every edge touching
        ``node_id``, unordered: the least a ranking of its neighbours needs (a hub has thousands)."""
        out: list[tuple] = []
        for direction, here, there in (("out", m.Edge.source_id, m.Edge.target_id),
                                       ("in", m.Edge.target_id, m.Edge.source_id)):
            cols = [m.Edge.id, m.Edge.type, literal(direction), there, m.Node.title]
            q = select(*cols, *([m.Edge.attrs] if with_attrs else [])).join(m.Node, m.Node.id == there)
            out.extend(self._rows(q.where(here == node_id)).all())
        return out

    def edge_attrs_between(self, node_id: str, others: Iterable[str]) -> list[tuple[int, str, str, str, dict]]:
        """(edge id, type, direction, other end, attrs) of the edges joining ``node_id`` to any of ``others``."""
        others = list(set(others))
        out: list[tuple[int, str, str, str, dict]] = []
        for i in range(0, len(others), 500):
            chunk = others[i:i + 500]
            for direction, here, there in (("out", m.Edge.source_id, m.Edge.target_id),
                                           ("in", m.Edge.target_id, m.Edge.source_id)):
                q = select(m.Edge.id, m.Edge.type, there, m.Edge.attrs).where(here == node_id, there.in_(chunk))
                out.extend((k, t, direction, o, dict(a or {})) for k, t, o, a in self._rows(q).all())
        return out

    def next_hop(self, frontier: Iterable[str], seen: Iterable[str], limit: int) -> list[str]:
        """The first ``limit`` ids (sorted) of nodes joined by an edge to some node of ``frontier`` and not
        in ``seen``: one level of a breadth-first walk, cut in the database rather than after loading a
        hub's thousands of neighbours."""
        from sqlalchemy import union

        ids, seen = list(set(frontier)), list(set(seen))
        found: list[str] = []
        for i in range(0, len(ids), 500):
            chunk = ids[i:i + 500]
            u = union(select(m.Edge.target_id.label("nid")).where(m.Edge.source_id.in_(chunk)),
                      select(m.Edge.source_id.label("nid")).where(m.Edge.target_id.in_(chunk))).subquery()
            q = select(u.c.nid)
            if len(seen) <= 2000:  # a longer list is left out in Python rather than bound as parameters
                q = q.where(u.c.nid.not_in(seen)) if seen else q
                found.extend(self._rows(q.order_by(u.c.nid).limit(limit)).scalars())
            else:
                found.extend(self._rows(q.order_by(u.c.nid).limit(limit + len(seen))).scalars())
        return sorted(set(found) - set(seen))[:limit]

    def neighbour_ids(self, node_ids: Iterable[str]) -> set[str]:
        ids = list(set(node_ids))
        out: set[str] = set()
        for i in range(0, len(ids), 500):
            chunk = ids[i:i + 500]
            out.update(self._rows(select(m.Edge.target_id).where(m.Edge.source_id.in_(chunk))).scalars())
            out.update(self._rows(select(m.Edge.source_id).where(m.Edge.target_id.in_(chunk))).scalars())
        return out

    def edges_among(self, node_ids: Iterable[str]) -> list[r.Edge]:
        ids = list(set(node_ids))
        rows = self._rows(select(*_EDGE).where(m.Edge.source_id.in_(ids), m.Edge.target_id.in_(ids)))
        return [_edge(x) for x in rows]

    def list_edges(self, edge_type: str | None = None) -> list[r.Edge]:
        q = select(*_EDGE).order_by(m.Edge.id)
        if edge_type:
            q = q.where(m.Edge.type == edge_type)
        return [_edge(x) for x in self._rows(q)]

    def busiest_target(self) -> tuple[str, int] | None:
        """The node that the most edges point to, with that count (None when there are no edges)."""
        count = func.count().label("c")
        row = self.s.execute(select(m.Edge.target_id, count).group_by(m.Edge.target_id)
                             .order_by(count.desc()).limit(1)).first()
        return (row[0], row[1]) if row else None

    def count_edges_by_type(self) -> dict[str, int]:
        return dict(self.s.execute(select(m.Edge.type, func.count()).group_by(m.Edge.type)).all())

    # ---- measurements ------------------------------------------------------------------------
    def add_measurement(self, node_id: str, meas: r.Measurement) -> None:
        self.s.add(m.Measurement(node_id=node_id, **meas.to_dict()))

    def measurements_of(self, node_id: str) -> list[r.Measurement]:
        rows = self._rows(select(*_MEAS).where(m.Measurement.node_id == node_id)).all()
        return [_measurement(x) for x in sorted(rows, key=lambda x: x.id)]

    def measurements_for(self, node_ids: Iterable[str] | None = None) -> dict[str, list[r.Measurement]]:
        q = select(*_MEAS).order_by(m.Measurement.id)
        if node_ids is not None:
            q = q.where(m.Measurement.node_id.in_(list(node_ids)))
        out: dict[str, list[r.Measurement]] = {}
        for x in self._rows(q):
            out.setdefault(x.node_id, []).append(_measurement(x))
        return out

    def find_measured_nodes(self, metric: str, kind: str | None = None) -> list[tuple[r.Node, r.Measurement]]:
        q = select(m.Node, m.Measurement).join(m.Measurement, m.Measurement.node_id == m.Node.id).where(
            m.Measurement.metric == metric, m.Node.status == "active")
        if kind:
            q = q.where(m.Node.kind == kind)
        return [(_node(n), _measurement(x)) for n, x in self.s.execute(q.order_by(m.Node.id)).all()]

    # ---- keyword search ----------------------------------------------------------------------
    def keyword_search(self, query: str, kind: str | None = None, limit: int = 20,
                       status: str | None = None) -> list[tuple[r.Node, float]]:
        words = search_words(query)
        if not words:
            return []
        for joiner in (" AND ", " OR "):  # all words first; any word if that finds nothing
            hits = (self._search_sqlite if self.dialect == "sqlite" else self._search_pg)(
                words, joiner, kind, limit, status)
            if hits:
                return hits
        return []

    def _search_sqlite(self, words, joiner, kind, limit, status):
        sql, params = keyword_sql(words, joiner, kind, status, limit)  # shared with the CLI's quick path
        rows = self.s.execute(text(sql), params).all()
        nodes = self.get_nodes([x[0] for x in rows])
        return [(nodes[i], float(s)) for i, s in rows]

    def _search_pg(self, words, joiner, kind, limit, status):
        op = " & " if joiner.strip() == "AND" else " | "
        tsq = op.join(words)
        vec = ("setweight(to_tsvector('english', coalesce(title, '')), 'A') || "
               "setweight(to_tsvector('english', coalesce(description, '')), 'B')")
        sql = (f"SELECT id, ts_rank({vec}, to_tsquery('english', :q)) AS score FROM nodes "
               f"WHERE ({vec}) @@ to_tsquery('english', :q)")
        where, params = node_filter(kind, status)
        sql += where + " ORDER BY score DESC, id LIMIT :limit"
        rows = self.s.execute(text(sql), {"q": tsq, "limit": limit, **params}).all()
        nodes = self.get_nodes([x[0] for x in rows])
        return [(nodes[i], float(s)) for i, s in rows]

    # ---- embeddings and curation (used by graph.similarity) -----------------------------------
    def embedding_hashes(self, model: str) -> dict[str, str]:
        rows = self.s.execute(select(m.Embedding.node_id, m.Embedding.text_hash).where(m.Embedding.model == model))
        return dict(rows.all())

    def upsert_embedding(self, node_id: str, model: str, text_hash: str, vector: bytes, dim: int) -> None:
        row = self.s.get(m.Embedding, (node_id, model))
        if row is None:
            self.s.add(m.Embedding(node_id=node_id, model=model, text_hash=text_hash, vector=vector, dim=dim))
        else:
            row.text_hash, row.vector, row.dim, row.created_at = text_hash, vector, dim, m.utcnow()

    def embeddings(self, model: str, node_ids: Iterable[str] | None = None) -> list[tuple[str, bytes, str]]:
        q = select(m.Embedding.node_id, m.Embedding.vector, m.Embedding.text_hash).where(m.Embedding.model == model)
        if node_ids is not None:
            q = q.where(m.Embedding.node_id.in_(list(node_ids)))
        return [tuple(x) for x in self._rows(q.order_by(m.Embedding.node_id)).all()]

    def add_decision(self, node_a: str, node_b: str, decision: str, actor: str, edge_type: str | None = None,
                     score: float | None = None, details: dict | None = None) -> int:
        row = m.CurationDecision(node_a=node_a, node_b=node_b, decision=decision, actor=actor, edge_type=edge_type,
                                 score=score, details=details or {})
        self.s.add(row)
        self.s.flush()
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

    # ---- app queries (the Streamlit explorer's reads; each bounded by a limit or by given ids) --------
    def _measured_node_filter(self, q, metric=None, method=None, dataset=None, paper_id=None, run_id=None):
        if metric:
            q = q.where(m.Measurement.metric == metric)
        if method:
            q = q.where(m.Measurement.method == method)
        if dataset:
            q = q.where(m.Measurement.dataset == dataset)
        for etype, target in (("extracted_from", paper_id), ("produced_by", run_id)):
            if target:
                q = q.where(m.Measurement.node_id.in_(
                    select(m.Edge.source_id).where(m.Edge.type == etype, m.Edge.target_id == target)))
        return q

    def measurement_rows(self, metric: str | None = None, method: str | None = None, dataset: str | None = None,
                         paper_id: str | None = None, run_id: str | None = None,
                         limit: int = 5000) -> list[tuple[r.Node, r.Measurement]]:
        """Measurements with their nodes, filtered by metric/method/dataset and by paper or run edges."""
        q = select(m.Node, m.Measurement).join(m.Measurement, m.Measurement.node_id == m.Node.id)
        q = self._measured_node_filter(q, metric, method, dataset, paper_id, run_id)
        q = q.order_by(m.Node.id, m.Measurement.id).limit(limit)
        return [(_node(n), _measurement(x)) for n, x in self.s.execute(q).all()]

    def measurement_values(self) -> dict[str, list[str]]:
        """Distinct metric, method and dataset names among measurements."""
        out = {}
        for name, col in (("metric", m.Measurement.metric), ("method", m.Measurement.method),
                          ("dataset", m.Measurement.dataset)):
            out[name] = [v for v in self.s.scalars(select(col).distinct().order_by(col)) if v]
        return out

    def edge_targets(self, edge_type: str, measured_only: bool = False, limit: int = 1000) -> list[r.Node]:
        """Nodes at the target end of some ``edge_type`` edge (papers with findings, runs with results),
        only those whose source is a measured node when ``measured_only``."""
        ids = select(m.Edge.target_id).where(m.Edge.type == edge_type)
        if measured_only:
            ids = ids.where(m.Edge.source_id.in_(select(m.Measurement.node_id)))
        rows = self._rows(select(*_NODE).where(m.Node.id.in_(ids)).order_by(m.Node.title).limit(limit))
        return [_node(x) for x in rows]

    def edge_ends(self, node_ids: Iterable[str], edge_type: str,
                  direction: str = "out") -> dict[str, list[tuple[r.Node, dict]]]:
        """For each given node, the nodes at the other end of its ``edge_type`` edges, with edge attrs."""
        ids = list(set(node_ids))
        here, there = ((m.Edge.source_id, m.Edge.target_id) if direction == "out"
                       else (m.Edge.target_id, m.Edge.source_id))
        pairs: list[tuple[int, str, str, dict]] = []
        for i in range(0, len(ids), 500):
            # ordered here, not in SQL: "ORDER BY id" tempts SQLite into walking the type index instead
            q = select(m.Edge.id, here, there, m.Edge.attrs).where(m.Edge.type == edge_type, here.in_(ids[i:i + 500]))
            pairs.extend((k, a, b, dict(attrs or {})) for k, a, b, attrs in self._rows(q).all())
        pairs.sort(key=lambda t: t[0])
        nodes = self.get_nodes(b for _, _, b, _ in pairs)
        out: dict[str, list[tuple[r.Node, dict]]] = {}
        for _, a, b, attrs in pairs:
            out.setdefault(a, []).append((nodes[b], attrs))
        return out

    def filter_nodes(self, kind: str | None = None, status: str | None = None, metric: str | None = None,
                     paper_id: str | None = None, ids: Iterable[str] | None = None,
                     limit: int = 200) -> list[r.Node]:
        """Nodes by kind/status, measured by ``metric``, extracted from ``paper_id``, optionally among ``ids``."""
        q = select(*_NODE)
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
        return [_node(x) for x in self._rows(q.order_by(m.Node.kind, m.Node.title).limit(limit))]


    # ---- similarity & curation ---------------------------------------------------------------
    # Added for graph.similarity / graph.embeddings / graph.curation (issue 5).
    def node_texts(self) -> list[tuple[str, str, str]]:
        """(id, title, description) of every node: what embeddings are computed from."""
        return [tuple(x) for x in self.s.execute(
            select(m.Node.id, m.Node.title, m.Node.description).order_by(m.Node.id)).all()]

    def node_kinds(self, node_ids: Iterable[str] | None = None) -> dict[str, tuple[str, str]]:
        """id -> (kind, status), for all nodes or the given ones."""
        q = select(m.Node.id, m.Node.kind, m.Node.status)
        if node_ids is None:
            return {i: (k, st) for i, k, st in self._rows(q).all()}
        ids = list(set(node_ids))
        out: dict[str, tuple[str, str]] = {}
        for i in range(0, len(ids), 500):
            out.update({n: (k, st) for n, k, st in self.s.execute(q.where(m.Node.id.in_(ids[i:i + 500]))).all()})
        return out

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

    def edge_triples(self, node_id: str | None = None) -> list[tuple[int, str, str, str, dict]]:
        """(edge id, source, type, target, attrs) of all edges, or of those touching ``node_id``."""
        q = select(m.Edge.id, m.Edge.source_id, m.Edge.type, m.Edge.target_id, m.Edge.attrs)
        if node_id is not None:
            q = q.where(or_(m.Edge.source_id == node_id, m.Edge.target_id == node_id))
        return [(i, a, t, b, dict(at or {})) for i, a, t, b, at in self._rows(q.order_by(m.Edge.id)).all()]

    def edge_triples_between(self, node_id: str, others: Iterable[str],
                             edge_type: str | None = None) -> list[tuple[int, str, str, str, dict]]:
        """(edge id, source, type, target, attrs) of the edges joining ``node_id`` to any of ``others``
        (of one type when given), in edge order."""
        others = sorted(set(others))
        out = []
        for i in range(0, len(others), 500):
            chunk = others[i:i + 500]
            for here, there in ((m.Edge.source_id, m.Edge.target_id), (m.Edge.target_id, m.Edge.source_id)):
                q = select(m.Edge.id, m.Edge.source_id, m.Edge.type, m.Edge.target_id, m.Edge.attrs).where(
                    here == node_id, there.in_(chunk))
                if edge_type is not None:
                    q = q.where(m.Edge.type == edge_type)
                out.extend((k, a, t, b, dict(at or {})) for k, a, t, b, at in self._rows(q).all())
        return sorted({x[0]: x for x in out}.values(), key=lambda x: x[0])  # a self-loop is found twice

    def edge_triples_of_type(self, node_id: str, edge_type: str) -> list[tuple[int, str, str, str, dict]]:
        """(edge id, source, type, target, attrs) of ``node_id``'s edges of one type, in edge order."""
        out = []
        for here in (m.Edge.source_id, m.Edge.target_id):
            q = select(m.Edge.id, m.Edge.source_id, m.Edge.type, m.Edge.target_id, m.Edge.attrs).where(
                here == node_id, m.Edge.type == edge_type)
            out.extend((k, a, t, b, dict(at or {})) for k, a, t, b, at in self._rows(q).all())
        return sorted({x[0]: x for x in out}.values(), key=lambda x: x[0])

    def edge_triples_among(self, node_ids: Iterable[str]) -> list[tuple[int, str, str, str, dict]]:
        """(edge id, source, type, target, attrs) of the edges whose two ends are both among ``node_ids``."""
        ids = set(node_ids)
        order = sorted(ids)
        out = []
        for i in range(0, len(order), 900):
            q = select(m.Edge.id, m.Edge.source_id, m.Edge.type, m.Edge.target_id, m.Edge.attrs).where(
                m.Edge.source_id.in_(order[i:i + 900]))
            out.extend((k, a, t, b, dict(at or {})) for k, a, t, b, at in self._rows(q).all() if b in ids)
        return sorted(out)

    def get_edge(self, edge_id: int) -> r.Edge | None:
        row = self._rows(select(*_EDGE).where(m.Edge.id == edge_id)).first()
        return _edge(row) if row is not None else None

    def repoint_edge(self, edge_id: int, source_id: str, target_id: str) -> None:
        """Move an edge to new endpoints, keeping its id, attrs and provenance."""
        self.s.execute(update(m.Edge).where(m.Edge.id == edge_id).values(source_id=source_id, target_id=target_id))

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

    # ---- bulk writes (graph.bulk): rows already validated, written with executemany -----------------
    def existing_node_ids(self, ids: Iterable[str]) -> set[str]:
        """Those of ``ids`` that name a stored node."""
        ids = list(set(ids))
        out: set[str] = set()
        for i in range(0, len(ids), 900):
            out.update(self._rows(select(m.Node.id).where(m.Node.id.in_(ids[i:i + 900]))).scalars())
        return out

    def existing_edges(self, triples: Iterable[tuple[str, str, str]]) -> set[tuple[str, str, str]]:
        """Those of the (source, type, target) triples that are stored edges."""
        by_source: dict[str, set[tuple[str, str, str]]] = {}
        for t in triples:
            by_source.setdefault(t[0], set()).add(t)
        sources = list(by_source)
        out: set[tuple[str, str, str]] = set()
        for i in range(0, len(sources), 900):
            q = select(m.Edge.source_id, m.Edge.type, m.Edge.target_id).where(
                m.Edge.source_id.in_(sources[i:i + 900]))
            out.update(t for t in map(tuple, self._rows(q).all()) if t in by_source[t[0]])
        return out

    def _bulk_insert(self, table: str, rows: list[dict[str, Any]], chunk: int = 50_000) -> None:
        """executemany of ``rows`` (dicts with the same keys). On SQLite the values go through the column
        types' own bind processing (JSON, datetimes) as SQLAlchemy would, but straight to the driver:
        empty JSON values, and values repeated by identity (one timestamp, one provenance), are converted
        once, which is most of the cost of a million rows."""
        from sqlalchemy import insert

        if not rows:
            return
        t = m.Base.metadata.tables[table]
        if self.dialect != "sqlite":
            stmt = insert(t)
            for i in range(0, len(rows), chunk):
                self.s.execute(stmt, rows[i:i + chunk])
            return
        dialect = self.s.get_bind().dialect
        keys = list(rows[0])
        procs = [t.c[k].type._cached_bind_processor(dialect) for k in keys]
        sql = f"INSERT INTO {t.name} ({', '.join(keys)}) VALUES ({', '.join('?' * len(keys))})"

        def converter(proc):
            if proc is None:
                return None
            memo: dict[int, tuple[Any, Any]] = {}  # id(value) -> (value, converted): value kept alive

            def convert(v: Any) -> Any:
                if v is None:
                    return proc(v)
                if isinstance(v, (dict, list)) and not v:
                    v = {} if isinstance(v, dict) else []
                    key = -1 if isinstance(v, dict) else -2
                else:
                    key = id(v)
                hit = memo.get(key)
                if hit is not None and (key < 0 or hit[0] is v):
                    return hit[1]
                out = proc(v)
                if key < 0 or len(memo) < 64:
                    memo[key] = (v, out)
                return out

            return convert

        convs = [converter(p) for p in procs]
        cur = self.s.connection().connection.driver_connection.cursor()
        try:
            for i in range(0, len(rows), chunk):
                part = rows[i:i + chunk]
                cols = []
                for k, conv in zip(keys, convs):
                    vals = [row[k] for row in part]
                    cols.append(vals if conv is None else list(map(conv, vals)))
                cur.executemany(sql, zip(*cols))
        finally:
            cur.close()

    def insert_nodes_bulk(self, rows: list[dict[str, Any]]) -> None:
        """Insert node rows (every column given). On SQLite the keyword index is filled in one statement
        after the rows instead of by the per-row trigger."""
        if not rows:
            return
        if self.dialect != "sqlite":
            self._bulk_insert("nodes", rows)
            return
        # DDL is transactional in SQLite: if anything fails, the rollback restores the trigger too
        first = self.s.scalar(text("SELECT coalesce(max(rowid), 0) FROM nodes"))
        self.s.execute(text("DROP TRIGGER nodes_fts_ai"))
        self._bulk_insert("nodes", rows)
        self.s.execute(text("INSERT INTO nodes_fts(rowid, title, description) "
                            "SELECT rowid, title, description FROM nodes WHERE rowid > :first"), {"first": first})
        self.s.execute(text(_FTS_INSERT_TRIGGER))

    def insert_edges_bulk(self, rows: list[dict[str, Any]]) -> None:
        """Insert edge rows (source_id, target_id, type, attrs, source, created_at), ids assigned in order."""
        self._bulk_insert("edges", rows)

    def insert_measurements_bulk(self, rows: list[dict[str, Any]]) -> None:
        self._bulk_insert("measurements", rows)

    def insert_embeddings_bulk(self, rows: list[dict[str, Any]]) -> None:
        """Insert embedding rows (node_id, model, text_hash, dim, vector, created_at) for nodes that have none."""
        self._bulk_insert("embeddings", rows)

    def tune_for_bulk(self) -> None:
        """A larger page cache for this connection: a million index entries inserted in one transaction
        otherwise thrash SQLite's default 2 MB cache."""
        if self.dialect == "sqlite":
            self.s.execute(text("PRAGMA cache_size=-262144"))  # 256 MiB

    # ---- integrity & backup ----------------------------------------------------------------------
    # Whole-table reads and writes for graph.backup, and the queries behind graph.integrity.check.
    BACKUP_TABLES: tuple[str, ...] = ("nodes", "edges", "measurements", "embeddings", "curation_decisions")

    def table_columns(self, table: str) -> dict[str, str]:
        """Column name -> a coarse type name (str, int, float, bool, datetime, bytes, json)."""
        from sqlalchemy import JSON, Boolean, DateTime, Float, Integer, LargeBinary

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
        """Insert rows as given, ids included (a restore); see :meth:`reset_id_sequences`."""
        from sqlalchemy import insert

        t = m.Base.metadata.tables[table]
        for i in range(0, len(rows), 500):
            self.s.execute(insert(t), rows[i:i + 500])

    def reset_id_sequences(self) -> None:
        """After inserting explicit ids on PostgreSQL, move each id sequence past the largest id."""
        if self.dialect != "postgresql":
            return  # SQLite picks max(rowid) + 1 by itself
        for table in ("edges", "measurements", "curation_decisions"):
            self.s.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                f"COALESCE(MAX(id), 0) + 1, false) FROM {table}"))

    def table_counts(self) -> dict[str, int]:
        return {name: self.s.scalar(select(func.count()).select_from(m.Base.metadata.tables[name]))
                for name in self.BACKUP_TABLES}

    def edges_with_ends(self) -> list[tuple[r.Edge, r.Node | None, r.Node | None]]:
        """Every edge with the nodes at its ends (None where the node is missing)."""
        from sqlalchemy.orm import aliased

        src, dst = aliased(m.Node), aliased(m.Node)
        q = (select(m.Edge, src, dst).outerjoin(src, src.id == m.Edge.source_id)
             .outerjoin(dst, dst.id == m.Edge.target_id).order_by(m.Edge.id))
        return [(_edge(e), _node(a) if a is not None else None, _node(b) if b is not None else None)
                for e, a, b in self.s.execute(q).all()]

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
        from sqlalchemy import exists

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


T = TypeVar("T")


@contextmanager
def _refusals_as_value_errors() -> Iterator[None]:
    """A value the database itself refuses (out of range, a broken constraint) is the caller's input
    error like any other: one sentence, as ValueError. The transaction has been rolled back."""
    from sqlalchemy import exc as sa_exc

    try:
        yield
    except (sa_exc.DataError, sa_exc.IntegrityError) as exc:
        detail = str(getattr(exc, "orig", None) or exc).strip().splitlines()
        raise ValueError(f"the database refused the change: {detail[0] if detail else type(exc).__name__}") from exc
    except OverflowError as exc:  # sqlite3 refuses integers beyond 64 bits before SQLAlchemy sees them
        raise ValueError(f"the database refused the change: a number is too large ({exc})") from exc


class Store:
    """The database behind a graph.

    - :meth:`run_in_transaction` (``fn(tx)``): the way to write. One transaction; when it loses a race
      (SQLite busy, PostgreSQL serialization failure or deadlock, a concurrent insert of the same node id)
      it is rolled back and ``fn`` runs again, with bounded back-off (:mod:`db.retry`).
    - :meth:`transaction` (``with``): one write transaction whose start is retried while the database is
      busy; its body cannot be re-run, so concurrent conflicts surface as errors. Nothing is half-written.
    - :meth:`read` (``with``): a snapshot for reading (SQLite: deferred BEGIN, which neither waits for nor
      blocks the writer; PostgreSQL: REPEATABLE READ). Do not write inside it.

    A value the database refuses comes out as ``ValueError``, the database unchanged.
    """

    def __init__(self, url: str | None = None, *, migrate: bool = True, retry_policy: RetryPolicy = DEFAULT_POLICY):
        self.url = resolve_url(url)
        self.engine: Engine = get_engine(self.url)
        self.retry_policy = retry_policy
        if self.engine.dialect.name == "postgresql":
            self._read_engine = self.engine.execution_options(isolation_level=PG_READ_ISOLATION)
        else:
            self._read_engine = self.engine.execution_options(**{SQLITE_BEGIN_OPTION: "DEFERRED"})
        if migrate:
            ensure_schema(self.engine)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def _attempt(self, engine: Engine) -> Iterator[Tx]:
        with Session(engine, expire_on_commit=False) as session, session.begin():
            session.connection()  # begin now: SQLite's BEGIN IMMEDIATE takes the write lock here
            yield Tx(session)

    def _enter(self, engine: Engine) -> tuple[ExitStack, Tx]:
        stack = ExitStack()
        try:
            tx = stack.enter_context(self._attempt(engine))
        except BaseException:
            stack.close()
            raise
        return stack, tx

    def run_in_transaction(self, fn: Callable[[Tx], T]) -> T:
        """Run ``fn(tx)`` in one transaction and commit; re-run it from the start on a lost race."""

        def once() -> T:
            with self._attempt(self.engine) as tx:
                return fn(tx)

        with _refusals_as_value_errors():
            return run_with_retry(once, self.retry_policy)

    @contextmanager
    def transaction(self) -> Iterator[Tx]:
        stack, tx = run_with_retry(lambda: self._enter(self.engine), self.retry_policy)
        with _refusals_as_value_errors(), stack:
            yield tx

    @contextmanager
    def read(self) -> Iterator[Tx]:
        stack, tx = run_with_retry(lambda: self._enter(self._read_engine), self.retry_policy)
        with stack:
            yield tx

    def dispose(self) -> None:
        self.engine.dispose()
