"""Indexes a long load into a SQLite store goes without while it runs, built again by sorting when it ends.

Each batch of a large ingest inserts keys all over the randomly keyed B-trees, and each commit writes every
page the batch dirtied, so late batches rewrite most of every such index. SQLite builds an index over a whole
table by sorting it, far more cheaply. :func:`indexes_deferred` (``Store.indexes_deferred``) drops the
indexes of :data:`DEFERRABLE` for the rest of a load and builds them again when it ends, whether it
succeeded or failed. :mod:`graph.papers` decides when a load is long enough to gain.

Only these four, because each is a plain index: no constraint or trigger rests on it, and the load's own
reads do not use it. A store without them gives the same answers, more slowly: in-edges, the write log by
node or subject, and the identifiers of a node become scans. Readers see that while a load runs.

A process killed mid-load leaves them missing. The load holds an exclusive ``flock`` on the sidecar file
``<database>-bulkload`` from before the drop until after the rebuild, so a free lock with indexes missing
means a load died. The next writable open (:func:`db.engine.ensure_schema`) builds them then. While a load
runs, nothing else touches them. The rebuilt index is the models' own definition
(:mod:`db.models`), which the migrations match exactly (``tests/test_store.py``).
"""
from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from sqlalchemy import text

from db.engine import sqlite_file_of

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Engine

    from db.session import Store

# the in-edge index, the write log's by-subject and by-node indexes, and the identifiers' by-node index:
# 983 MB of the 2.08 GB of randomly keyed B-trees after the 852,128-line snapshot written batch by batch
# (868 MB when built by sorting)
DEFERRABLE = ("ix_edges_target", "ix_writes_subject", "ix_writes_node_id", "ix_identifiers_node_id")
LOCK_SUFFIX = "-bulkload"


def _lock(path: str) -> int | None:
    """An open descriptor holding the exclusive lock of ``path``'s load; None when another holds it, when the
    lock file cannot be made, or on a platform without ``flock``."""
    try:
        import fcntl
    except ImportError:  # not a POSIX system: no deferral, and nothing to repair
        return None
    try:
        fd = os.open(path + LOCK_SUFFIX, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError:  # a directory this process may not create files in: no deferral
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return None
    return fd


def missing(conn: Connection) -> list[str]:
    """Those of :data:`DEFERRABLE` the database lacks, in that order."""
    have = set(conn.execute(text("SELECT name FROM sqlite_master WHERE type = 'index'")).scalars())
    return [name for name in DEFERRABLE if name not in have]


def _build(conn: Connection, names: list[str]) -> None:
    """``CREATE INDEX`` for each of ``names``, as the models define it."""
    from sqlalchemy.schema import CreateIndex

    from db.models import Base

    by_name = {ix.name: ix for table in Base.metadata.tables.values() for ix in table.indexes}
    for name in names:
        conn.execute(CreateIndex(by_name[name], if_not_exists=True))


def _finish(conn: Connection) -> list[str]:
    """The deferrable indexes the database lacks, built; which."""
    lacking = missing(conn)
    _build(conn, lacking)
    return lacking


def restore_missing(engine: Engine) -> list[str]:
    """Finish what a dead load left undone (nothing while a load holds the lock); the indexes built."""
    path = sqlite_file_of(engine.url)
    if path is None:
        return []
    with engine.connect() as conn:
        if not missing(conn):
            return []
    fd = _lock(path)
    if fd is None:  # a load is running, and will finish when it ends
        return []
    try:
        with engine.begin() as conn:  # BEGIN IMMEDIATE: after any writer in progress
            return _finish(conn)
    finally:
        os.close(fd)


@contextmanager
def indexes_deferred(store: Store) -> Iterator[bool]:
    """Inside: the indexes of :data:`DEFERRABLE` dropped (one transaction) and the load's lock held; on
    leaving, however, they are built again (one transaction) and the lock let go. Yields whether they were
    dropped: not on PostgreSQL or in-memory SQLite, nor while another load holds the lock."""
    path = sqlite_file_of(store.engine.url)
    fd = _lock(path) if path is not None and not store.read_only else None
    if fd is None:
        yield False
        return
    try:
        store.run_in_transaction(lambda tx: [tx.s.execute(text(f"DROP INDEX IF EXISTS {name}"))
                                             for name in DEFERRABLE])
        try:
            yield True
        finally:
            store.run_in_transaction(lambda tx: _finish(tx.s.connection()))
    finally:
        os.close(fd)
