"""Bulk writes for :mod:`graph.bulk`: rows already validated, written with executemany in one transaction."""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import repeat
from typing import Any

from sqlalchemy import func, insert, select, text

from db import models as m
from db.keyword_rank import KEY_SHIFT, MAX_KEY_LENGTH
from db.queries.base import TxBase, chunks

# the keyword indexes' insert triggers (created by migrations 0002 and 0011) and the statement
# that fills each index with the rows above :first instead: a bulk insert into nodes drops the triggers and
# runs these once. nodes_title is filled in key order (FTS5 writes a segment whenever a key goes back).
FTS_INSERT_TRIGGERS = {
    "nodes_fts_ai": "INSERT INTO nodes_fts(rowid, title, description) "
                    "SELECT rowid, title, description FROM nodes WHERE rowid > :first",
    "nodes_title_ai": f"INSERT INTO nodes_title(rowid, title) SELECT (min(length(title), {MAX_KEY_LENGTH}) "
                      f"<< {KEY_SHIFT}) | rowid AS k, title FROM nodes WHERE rowid > :first ORDER BY k",
}
# the stored edge counts' insert trigger (migration 0010): a bulk insert into edges drops it and adds the
# batch's counts in one aggregate statement per direction instead
COUNTS_INSERT_TRIGGER = "edge_counts_ai"
# NOT INDEXED: the batch (edges with id above :first, ids assigned in order after the largest before it) is
# read by its rowid range and grouped in a temporary B-tree; otherwise SQLite walks a whole edge index
# (already in group order) and filters by id, a cost that grows with the table, not the batch. The WHERE
# also keeps the parser from taking ON CONFLICT for a join's ON.
COUNT_EDGES_AFTER = [
    f"INSERT INTO edge_counts (node_id, type, direction, n) "
    f"SELECT {node}, type, '{direction}', count(*) FROM edges NOT INDEXED WHERE id > :first GROUP BY {node}, type "
    "ON CONFLICT (node_id, type, direction) DO UPDATE SET n = edge_counts.n + excluded.n"
    for node, direction in (("source_id", "out"), ("target_id", "in"))]


def _memo_converter(proc):
    """``proc`` (a column type's bind processor) with a memo: empty JSON values, and values repeated by
    identity (one timestamp, one provenance), are converted once."""
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


def _convert_column(conv, vals: list[Any]) -> list[Any]:
    """``conv`` applied to each of ``vals``. A column whose values are a few objects repeated (an edge
    batch's one timestamp, one provenance, the shared attrs of graph.papers) is converted once per object
    and mapped by identity in C loops (a Python call per value: 2.3 million calls, 2.5 s under cProfile, in
    an ingest of 100,000 snapshot lines). Columns of many objects keep the call per value."""
    ids = list(map(id, vals))
    objects = dict(zip(ids, vals))
    if len(objects) > 64:
        return list(map(conv, vals))
    table = {i: conv(v) for i, v in objects.items()}
    return list(map(table.__getitem__, ids))


@dataclass(frozen=True)
class Shared:
    """A column value every row of an insert has (see ``BulkWrites._insert_columns``)."""

    value: Any


class BulkWrites(TxBase):
    def largest_edge_id(self) -> int:
        """The largest edge id (0 for none): at least the number of edges stored, read from the key's end."""
        return int(self.s.scalar(select(func.coalesce(func.max(m.Edge.id), 0))))

    def existing_node_ids(self, ids: Iterable[str]) -> set[str]:
        """Those of ``ids`` that name a stored node."""
        out: set[str] = set()
        for stored in self._in(m.Node.id, ids, 900):
            out.update(self._rows(select(m.Node.id).where(stored)).scalars())
        return out

    def existing_edges(self, keys: Iterable[tuple[str, str, str]]) -> set[tuple[str, str, str]]:
        """Those of the (source id, type, target id) keys that name a stored edge."""
        by_source: dict[str, set[tuple[str, str, str]]] = {}
        for key in keys:
            by_source.setdefault(key[0], set()).add(key)
        out: set[tuple[str, str, str]] = set()
        for chunk in chunks(list(by_source), 900):
            q = select(m.Edge.source_id, m.Edge.type, m.Edge.target_id).where(m.Edge.source_id.in_(chunk))
            out.update(k for k in map(tuple, self._rows(q).all()) if k in by_source[k[0]])
        return out

    def _bulk_insert(self, table: str, rows: list[dict[str, Any]], chunk: int = 50_000) -> None:
        """executemany of ``rows`` (dicts with the same keys): on SQLite column by column through
        :meth:`_insert_columns` (empty JSON values, and values repeated by identity, one timestamp, one
        provenance, converted once: most of the cost of a million rows)."""
        if not rows:
            return
        t = m.Base.metadata.tables[table]
        if self.dialect != "sqlite":
            stmt = insert(t)
            for part in chunks(rows, chunk):
                self.s.execute(stmt, part)
            return
        keys = list(rows[0])
        self._insert_columns(table, keys, ([[row[k] for row in part] for k in keys] for part in chunks(rows, chunk)))

    def _insert_columns(self, table: str, keys: list[str], parts: Iterable[list[Any]]) -> None:
        """SQLite: an executemany into ``table``'s columns ``keys`` per part, a part being one sequence of
        values per column, or :class:`Shared` for a value every row of the part has. The values go through
        the column types' own bind processing (JSON, datetimes) as SQLAlchemy would, but straight to the
        driver; a shared value, and values repeated by identity, are converted once."""
        convs = self._converters(m.Base.metadata.tables[table], keys)
        sql = f"INSERT INTO {table} ({', '.join(keys)}) VALUES ({', '.join('?' * len(keys))})"
        cur = self.s.connection().connection.driver_connection.cursor()
        try:
            for cols in parts:
                values = []
                for col, conv in zip(cols, convs):
                    if isinstance(col, Shared):
                        values.append(repeat(col.value if conv is None else conv(col.value)))
                    else:
                        values.append(col if conv is None else _convert_column(conv, col))
                cur.executemany(sql, zip(*values))
        finally:
            cur.close()

    def _converters(self, t, keys: list[str]) -> list[Any]:
        """For each of the columns ``keys``, the column type's own bind processing with a memo (or None)."""
        dialect = self.s.get_bind().dialect
        return [_memo_converter(t.c[k].type._cached_bind_processor(dialect)) for k in keys]

    def _without_triggers(self, names, table: str, insert_rows, fill: dict[str, list[str]]) -> None:
        """``insert_rows()`` with the SQLite triggers ``names`` dropped; then, for each trigger, the
        statements ``fill[name]`` that do its work for all the new rows at once (bound ``:first``: the
        largest rowid of ``table`` before them), and the trigger re-created from its own stored SQL, so
        whatever the latest migration made of it stays. DDL is transactional in SQLite: if anything
        fails, the rollback restores the triggers too."""
        stored = {name: self.s.scalar(text("SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = :name"),
                                      {"name": name}) for name in names}
        first = self.s.scalar(text(f"SELECT coalesce(max(rowid), 0) FROM {table}"))
        for name in stored:
            self.s.execute(text(f"DROP TRIGGER {name}"))
        insert_rows()
        for name, trigger_sql in stored.items():
            for sql in fill[name]:
                self.s.execute(text(sql), {"first": first})
            self.s.connection().exec_driver_sql(trigger_sql)  # as stored: no parameter parsing of its text

    def insert_nodes_bulk(self, rows: list[dict[str, Any]]) -> None:
        """Insert node rows (every column given). On SQLite the keyword indexes are filled in one statement
        each after the rows instead of by their per-row triggers, which are then re-created from their own
        stored SQL: whatever the latest migration made of them stays."""
        if not rows:
            return
        if self.dialect != "sqlite":
            self._bulk_insert("nodes", rows)
            return
        self._without_triggers(FTS_INSERT_TRIGGERS, "nodes", lambda: self._bulk_insert("nodes", rows),
                               {name: [sql] for name, sql in FTS_INSERT_TRIGGERS.items()})

    def insert_edges_bulk(self, edges: Sequence[tuple[str, str, str, dict[str, Any]]], source: dict[str, Any],
                          created_at: datetime) -> None:
        """Insert edges given as (source id, type, target id, attrs), all with the same provenance ``source``
        and time, ids assigned in order. On SQLite the rows are handed to the driver column by column, the
        shared values converted once, with no dict per edge (a million edges into a store of 300,000 nodes:
        9.6 and 9.7 s, against 10.2 and 12.2 s with a dict each); the stored edge counts are added after the
        rows in one statement per direction instead of by the per-row trigger, which is then re-created from
        its own stored SQL (as for the keyword index). On PostgreSQL the rows go in with one COPY per 50,000,
        which the counting trigger counts once, grouped."""
        if not edges:
            return
        if self.dialect != "sqlite":
            for part in chunks(edges, 50_000):  # rows made chunk by chunk: a million dicts at once is a lot
                self._copy_rows("edges", [{"source_id": s, "type": t, "target_id": d, "attrs": a, "source": source,
                                           "created_at": created_at} for s, t, d, a in part])
            return
        keys = ["source_id", "type", "target_id", "attrs", "source", "created_at"]
        parts = ([*zip(*part), Shared(source), Shared(created_at)] for part in chunks(edges, 50_000))
        self._without_triggers([COUNTS_INSERT_TRIGGER], "edges", lambda: self._insert_columns("edges", keys, parts),
                               {COUNTS_INSERT_TRIGGER: COUNT_EDGES_AFTER})

    def _copy_rows(self, table: str, rows: list[dict[str, Any]]) -> None:
        """PostgreSQL: ``rows`` (dicts with the same keys) in one ``COPY … FROM STDIN``, the values converted
        by the column types' own bind processing as in :meth:`_bulk_insert`. One statement: the counting
        trigger runs once over all its rows (an executemany through psycopg is a statement per row)."""
        t = m.Base.metadata.tables[table]
        keys = list(rows[0])
        convs = self._converters(t, keys)
        cur = self.s.connection().connection.driver_connection.cursor()
        try:
            with cur.copy(f"COPY {t.name} ({', '.join(keys)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row([row[k] if conv is None else conv(row[k]) for k, conv in zip(keys, convs)])
        finally:
            cur.close()

    def insert_measurements_bulk(self, rows: list[dict[str, Any]]) -> None:
        self._bulk_insert("measurements", rows)

    def log_writes_bulk(self, entries: list[tuple[str, str, str | None, dict[str, Any]]]) -> None:
        """Write-log entries (action, subject, node id, details) for a bulk write, all at one time, by the
        transaction's user."""
        now = m.utcnow()
        self._bulk_insert("writes", [{"at": now, "author": self.user, "action": action, "subject": subject,
                                      "node_id": node_id, "details": details}
                                     for action, subject, node_id, details in entries])

    def insert_embeddings_bulk(self, rows: list[dict[str, Any]]) -> None:
        """Insert embedding rows (node_id, model, text_hash, dim, vector, created_at) for nodes that have none."""
        self._bulk_insert("embeddings", rows)

    def tune_for_bulk(self, mib: int = 256) -> int | None:
        """A page cache of at least ``mib`` MiB for this connection (never a smaller one than it has): a
        million index entries inserted in one transaction otherwise thrash SQLite's default 2 MB cache,
        and dirty pages that do not fit are written to the log before the commit writes them again.
        Returns the cache it had, in KiB (None on PostgreSQL), for :meth:`set_cache_kib`."""
        if self.dialect != "sqlite":
            return None
        now = int(self.s.scalar(text("PRAGMA cache_size")))  # negative: KiB; positive: pages
        kib = -now if now < 0 else now * int(self.s.scalar(text("PRAGMA page_size"))) // 1024
        if kib < mib * 1024:
            self.s.execute(text(f"PRAGMA cache_size={-int(mib) * 1024}"))
        return kib

    def set_cache_kib(self, kib: int) -> None:
        """This connection's page cache set to ``kib`` KiB (SQLite; larger or smaller than it is). Pages
        over a smaller size are freed as they are let go."""
        if self.dialect == "sqlite":
            self.s.execute(text(f"PRAGMA cache_size={-int(kib)}"))
