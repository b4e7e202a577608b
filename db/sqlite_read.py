"""The CLI's quick read path: ``findings show`` and ``findings search`` on an SQLite file, with the standard
library's ``sqlite3`` alone.

Importing SQLAlchemy costs about 0.15 s, half of a command's start-up budget, so the two most common reads
skip it when they can: the database is an existing SQLite file (:func:`db.location.sqlite_file`) already at
the code's schema revision. Anything else (PostgreSQL, a missing or older database, a file SQLite cannot
read) returns None from :func:`open_reader`, and the caller takes the full path through
:class:`db.session.Store`, which migrates and reports errors as usual. Both paths return the same values;
a test checks them against each other on every node of the seed graph.

Reads run in one deferred transaction (a WAL snapshot that neither waits for nor blocks a writer), with
bound parameters only. The keyword queries and their ranking rule are shared with :class:`db.session.Tx`
(:mod:`db.keyword_rank`).
"""
from __future__ import annotations

import json
import sqlite3
from datetime import datetime
from typing import Any
from urllib.parse import quote

from db.keyword_rank import fulltext_sql, ranked, search_words, title_sql
from db.location import HEAD_REVISION, sqlite_file
from db.records import EdgeEnd, EvidenceEdge, Node, Origin, added_json

_ENDS = (("out", "source_id", "target_id"), ("in", "target_id", "source_id"))  # direction, this end, other end
_END = {end[0]: end for end in _ENDS}
_NODE_SQL = "SELECT id, kind, title, description, status, attrs, source, created_at, updated_at FROM nodes"
BUSY_TIMEOUT_S = 30.0
# in db.records.Measurement order, so both read paths print the same JSON
SHOW_MEASUREMENT_FIELDS = ("metric", "value", "err", "err_kind", "n", "split", "dataset", "method", "conditions",
                           "measure", "measure_params", "floor")
_JSON_FIELDS = ("conditions", "measure_params")


def _when(value: Any) -> datetime | None:
    """A stored timestamp as SQLAlchemy's DateTime reads it back on SQLite (naive, as written)."""
    if value is None or isinstance(value, datetime):
        return value
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        return None


def _json(value: Any) -> dict:
    if not value or value == "{}":
        return {}
    return dict(json.loads(value) or {})


class SqliteReader:
    """Read-only queries on one SQLite connection, inside one snapshot (use as a context manager)."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    def __enter__(self) -> SqliteReader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        try:
            self.conn.rollback()
        finally:
            self.conn.close()

    def show(self, node_id: str, limit: int | None = None, offset: int = 0) -> dict[str, Any]:
        """What :func:`graph.core.show` returns: the node, its measurements and its edges (all, or with
        ``limit`` a page of each group and the groups' counts)."""
        row = self.conn.execute("SELECT id, kind, title, description, status, attrs, source, created_at FROM nodes "
                                "WHERE id = :id", {"id": node_id}).fetchone()
        if row is None:
            raise ValueError(f"no node with id {node_id!r}")
        nid, kind, title, description, status, attrs, source, created_at = row
        entry = self.conn.execute("SELECT author, at FROM writes WHERE subject = :id AND action = 'node.add' "
                                  "ORDER BY id LIMIT 1", {"id": nid}).fetchone()
        measurements = []
        for values in self.conn.execute(
                f"SELECT {', '.join(SHOW_MEASUREMENT_FIELDS)} FROM measurements WHERE node_id = :id ORDER BY id",
                {"id": nid}):
            meas = dict(zip(SHOW_MEASUREMENT_FIELDS, values))
            for key in _JSON_FIELDS:
                meas[key] = _json(meas[key])
            meas["floor"] = json.loads(meas["floor"]) if meas["floor"] else None  # SQL NULL or JSON null
            measurements.append(meas)
        data = {"id": nid, "kind": kind, "title": title, "description": description, "status": status,
                "attrs": _json(attrs), "source": _json(source), "added": added_json(entry, created_at),
                "measurements": measurements}
        if limit is not None:
            data["edges"], data["groups"] = self._edge_pages(nid, limit, offset)
            return data
        briefs = []
        for direction, here, there in _ENDS:
            # column names come from the fixed tuple above, never from input
            for edge_id, etype, eattrs, oid, okind, otitle in self.conn.execute(
                    f"SELECT e.id, e.type, e.attrs, n.id, n.kind, n.title FROM edges e "
                    f"JOIN nodes n ON n.id = e.{there} WHERE e.{here} = :id", {"id": nid}):
                briefs.append(((edge_id, direction != "out"), {
                    "type": etype, "direction": direction, "node": {"id": oid, "kind": okind, "title": otitle},
                    "attrs": _json(eattrs)}))
        briefs.sort(key=lambda b: b[0])  # edge order; a self-loop: out, then in
        data["edges"] = [b for _, b in briefs]
        return data

    def _edge_pages(self, nid: str, limit: int, offset: int) -> tuple[list[dict], list[dict]]:
        """A page of each of the node's groups (edge type, direction), biggest group first, rows in the other
        end's id order, and each group's count: what :func:`graph.core.show` gives with a limit."""
        counts = sorted(self.edge_counts(nid).items(), key=lambda kv: (-kv[1], kv[0][0], kv[0][1]))
        edges, groups = [], []
        for (etype, direction), count in counts:
            here, there = ("source_id", "target_id") if direction == "out" else ("target_id", "source_id")
            rows = self.conn.execute(
                f"SELECT e.type, e.attrs, n.id, n.kind, n.title FROM (SELECT {there} AS other FROM edges "
                f"WHERE {here} = :id AND type = :type ORDER BY {there} LIMIT :limit OFFSET :offset) p "
                f"JOIN edges e ON e.{here} = :id AND e.type = :type AND e.{there} = p.other "
                f"JOIN nodes n ON n.id = p.other ORDER BY p.other",
                {"id": nid, "type": etype, "limit": limit, "offset": offset}).fetchall()
            edges += [{"type": t, "direction": direction, "node": {"id": oid, "kind": okind, "title": otitle},
                       "attrs": _json(a)} for t, a, oid, okind, otitle in rows]
            groups.append({"type": etype, "direction": direction, "count": count, "offset": offset,
                           "shown": len(rows)})
        return edges, groups

    # ---- what graph.neighbourhood reads: db.queries (nodes, edges) on this connection, the same values ----
    def _node(self, row) -> Node:
        nid, kind, title, description, status, attrs, source, created_at, updated_at = row
        return Node(nid, kind, title, description, status, _json(attrs), _json(source), _when(created_at),
                    _when(updated_at))

    def get_node(self, node_id: str) -> Node | None:
        row = self.conn.execute(f"{_NODE_SQL} WHERE id = :id", {"id": node_id}).fetchone()
        return self._node(row) if row is not None else None

    def get_nodes(self, ids) -> dict[str, Node]:
        ids, out = sorted(set(ids)), {}
        for i in range(0, len(ids), 500):
            marks, params = self._in_list(ids[i:i + 500], "n")
            out.update((row[0], self._node(row)) for row in self.conn.execute(
                f"{_NODE_SQL} WHERE id IN ({marks})", params))
        return out

    def edge_counts(self, node_id: str) -> dict[tuple[str, str], int]:
        # the stored counts (migration 0010): one range of their primary key, whatever the degree
        return {(t, d): n for t, d, n in self.conn.execute(
            "SELECT type, direction, n FROM edge_counts WHERE node_id = :id", {"id": node_id})}

    def group_members(self, node_id: str, direction: str, edge_types) -> list[tuple[str, str]]:
        types = sorted(set(edge_types))
        if not types:
            return []
        _, here, there = _END[direction]
        marks, params = self._in_list(types, "t")
        return [tuple(x) for x in self.conn.execute(
            f"SELECT type, {there} FROM edges WHERE {here} = :id AND type IN ({marks})", {"id": node_id, **params})]

    def group_page(self, node_id: str, edge_type: str, direction: str, limit: int, offset: int = 0,
                   exclude=()) -> list[str]:
        _, here, there = _END[direction]
        marks, params = self._in_list(sorted(set(exclude)), "x")
        skip = f" AND {there} NOT IN ({marks})" if params else ""
        return [x for (x,) in self.conn.execute(
            f"SELECT {there} FROM edges WHERE {here} = :id AND type = :type{skip} ORDER BY {there} "
            "LIMIT :limit OFFSET :offset",
            {"id": node_id, "type": edge_type, "limit": limit, "offset": offset, **params})]

    def edge_ends(self, node_id: str, among=None, *, with_attrs: bool = True,
                  directions=("out", "in")) -> list[EdgeEnd]:
        ids = None if among is None else sorted(set(among))
        out: list[EdgeEnd] = []
        for direction, here, there in (end for end in _ENDS if end[0] in set(directions)):
            for i in range(0, 1 if ids is None else len(ids), 500):
                # with ``among``: driven by the other ends' index, not a hub's whole range (as db.queries.edges)
                end = f"e.{here}" if ids is None else f"e.{here} || ''"
                sql = (f"SELECT e.id, e.type, e.{there}, n.kind, n.title, e.attrs FROM edges e "
                       f"JOIN nodes n ON n.id = e.{there} WHERE {end} = :id")
                params: dict[str, Any] = {"id": node_id}
                if ids is not None:
                    marks, chunk = self._in_list(ids[i:i + 500], "o")
                    sql += f" AND e.{there} IN ({marks})"
                    params.update(chunk)
                out.extend(EdgeEnd(eid, t, direction, o, k, title, _json(a) if with_attrs else None)
                           for eid, t, o, k, title, a in self.conn.execute(sql, params))
        return out

    def search(self, query: str, kind: str | None = None, limit: int = 20,
               status: str | None = None) -> list[dict[str, Any]]:
        """Keyword search as :meth:`db.session.Tx.keyword_search` ranks it → [{id, kind, title, score}]."""
        rows = ranked(search_words(query), limit,
                      lambda groups, n: self.conn.execute(*title_sql(groups, kind, status, n)).fetchall(),
                      lambda words, joiner, n: self.conn.execute(
                          *fulltext_sql(words, joiner, kind, status, n)).fetchall())
        if not rows:
            return []
        marks, params = self._in_list([i for i, _ in rows], "id")
        found = {i: (k, t) for i, k, t in self.conn.execute(
            f"SELECT id, kind, title FROM nodes WHERE id IN ({marks})", params)}
        return [{"id": i, "kind": found[i][0], "title": found[i][1], "score": s} for i, s in rows]

    # ---- evidence (what db.queries.edges.EdgeQueries returns, for the status that show and search print) ----
    def _in_list(self, values: list[str], prefix: str) -> tuple[str, dict[str, Any]]:
        return (", ".join(f":{prefix}{i}" for i in range(len(values))),
                {f"{prefix}{i}": v for i, v in enumerate(values)})

    def evidence_edges(self, subjects, types) -> list[EvidenceEdge]:
        """:meth:`db.queries.edges.EdgeQueries.evidence_edges` on this connection."""
        types = sorted(set(types))
        rows = []
        subjects = sorted(set(subjects))
        for i in range(0, len(subjects), 500):
            s_marks, s_params = self._in_list(subjects[i:i + 500], "s")
            t_marks, t_params = self._in_list(types, "t")
            rows.extend(self.conn.execute(
                "SELECT e.id, e.target_id, e.type, e.attrs, e.source_id, n.kind, n.title, n.status FROM edges e "
                f"JOIN nodes n ON n.id = e.source_id WHERE e.target_id IN ({s_marks}) AND e.type IN ({t_marks})",
                {**s_params, **t_params}).fetchall())
        rows.sort(key=lambda x: x[0])
        return [EvidenceEdge(t, ty, _json(a), s, k, ti, st) for _, t, ty, a, s, k, ti, st in rows]

    def origins(self, node_ids) -> dict[str, Origin]:
        """:meth:`db.queries.edges.EdgeQueries.origins` on this connection."""
        ids = sorted(set(node_ids))
        out = {i: Origin() for i in ids}
        rows = []
        for i in range(0, len(ids), 500):
            marks, params = self._in_list(ids[i:i + 500], "n")
            rows.extend(self.conn.execute(
                f"SELECT id, source_id, type, target_id FROM edges WHERE source_id IN ({marks}) "
                "AND type IN ('extracted_from', 'produced_by')", params).fetchall())
        for _, src, etype, dst in sorted(rows):
            (out[src].runs if etype == "produced_by" else out[src].papers).append(dst)
        return out


def open_reader(db: str | None = None, read_only: bool = False) -> SqliteReader | None:
    """A reader on the SQLite file ``db`` names, or None when the full (SQLAlchemy) path must serve.
    ``read_only``: open the file so that the connection cannot write (``mode=ro``, ``query_only``)."""
    path = sqlite_file(db)
    if path is None:
        return None
    try:
        if read_only:
            conn = sqlite3.connect(f"file:{quote(str(path))}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_S,
                                   isolation_level=None)
            conn.execute("PRAGMA query_only=ON")
        else:
            conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_S, isolation_level=None)
    except sqlite3.Error:
        return None
    try:
        conn.execute("BEGIN DEFERRED")
        revision = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.Error:  # not a database, no schema yet, …: the full path says what is wrong
        revision = None
    if revision is None or revision[0] != HEAD_REVISION:
        conn.close()  # closing ends the read transaction
        return None
    return SqliteReader(conn)
