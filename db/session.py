"""The store: transactions on the database, and :class:`Tx`, the operations one transaction offers.

``Store.transaction()`` yields a :class:`Tx`; everything done through one ``Tx`` commits together or
not at all. The SQL lives in :mod:`db.queries`, one module per group of operations, each a mixin of
``Tx`` (the CLI's quick SQLite read path, :mod:`db.sqlite_read`, holds the rest). Values come back as
:mod:`db.records` dataclasses, never as ORM objects.

A store has a user (:func:`db.identity.resolve_user`): every write appends an entry to the write log
(:mod:`db.queries.writes`) in its own transaction, naming that user. A read-only store
(:func:`db.identity.read_only_requested`) refuses writes before it starts them, and its connections could
not make them anyway (:mod:`db.engine`).
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from typing import TypeVar

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from db.engine import (
    PG_READ_ISOLATION, SQLITE_BEGIN_OPTION, ensure_schema, get_engine, require_current_schema, resolve_url,
)
from db.identity import READ_ONLY_ENV, read_only_requested, resolve_user
from db.queries.admin import TableAccess
from db.queries.bulk import BulkWrites
from db.queries.curation import CurationQueries
from db.queries.edges import EdgeQueries
from db.queries.identifiers import IdentifierQueries
from db.queries.measurements import MeasurementQueries
from db.queries.search import SearchQueries
from db.queries.writes import WriteLog
from db.retry import DEFAULT_POLICY, CommitUnknown, RetryPolicy, connection_lost, run_with_retry

T = TypeVar("T")


class Tx(EdgeQueries, SearchQueries, MeasurementQueries, CurationQueries, BulkWrites, TableAccess, WriteLog,
         IdentifierQueries):
    """One transaction's worth of store operations (nodes and edges, measurements, keyword search,
    embeddings and curation decisions, bulk writes, whole-table access, the write log, external
    identifiers)."""


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
      or its connection before COMMIT, it is rolled back and ``fn`` runs again, with bounded back-off
      (:mod:`db.retry`); a connection lost *during* COMMIT re-runs it only when ``idempotent=True``.
    - :meth:`transaction` (``with``): one write transaction whose start is retried while the database is
      busy; its body cannot be re-run, so concurrent conflicts surface as errors. Nothing is half-written.
    - :meth:`read` (``with``): a snapshot for reading (SQLite: deferred BEGIN, which neither waits for nor
      blocks the writer; PostgreSQL: REPEATABLE READ). Do not write inside it. :meth:`run_read` (``fn(tx)``)
      is the same snapshot for a function, re-run when the connection is lost.

    A value the database refuses comes out as ``ValueError``, the database unchanged.

    ``user``: the author of this store's writes (default ``FINDINGS_USER``, else the OS user).
    ``read_only`` (default ``FINDINGS_READ_ONLY``): open connections that cannot write, never migrate, and
    refuse :meth:`run_in_transaction` and :meth:`transaction` with a ``ValueError``.
    """

    def __init__(self, url: str | None = None, *, migrate: bool = True, retry_policy: RetryPolicy = DEFAULT_POLICY,
                 user: str | None = None, read_only: bool | None = None):
        self.url = resolve_url(url)
        self.user = resolve_user(user)
        self.read_only = read_only_requested(read_only)
        self.engine: Engine = get_engine(self.url, self.read_only)
        self.retry_policy = retry_policy
        self._reached = False  # lost connections are retried only once the server has been reached
        if self.engine.dialect.name == "postgresql":
            self._read_engine = self.engine.execution_options(isolation_level=PG_READ_ISOLATION)
        else:
            self._read_engine = self.engine.execution_options(**{SQLITE_BEGIN_OPTION: "DEFERRED"})
        if self.read_only:
            require_current_schema(self.engine)
        elif migrate:
            ensure_schema(self.engine)
            self._reached = True

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def _attempt(self, engine: Engine) -> Iterator[Tx]:
        with Session(engine, expire_on_commit=False) as session:
            session.begin()
            session.connection()  # begin now: SQLite's BEGIN IMMEDIATE takes the write lock here
            self._reached = True
            try:
                yield Tx(session, self.user)
            except BaseException:
                session.rollback()
                raise
            try:
                session.commit()
            except Exception as exc:
                if connection_lost(exc):  # the server may have committed before the connection went
                    raise CommitUnknown(f"connection lost during commit: {exc}") from exc
                raise

    def _refuse_if_read_only(self) -> None:
        if self.read_only:
            raise ValueError(f"the database is open read-only (--read-only / {READ_ONLY_ENV}); nothing was written")

    def _enter(self, engine: Engine) -> tuple[ExitStack, Tx]:
        stack = ExitStack()
        try:
            tx = stack.enter_context(self._attempt(engine))
        except BaseException:
            stack.close()
            raise
        return stack, tx

    def run_in_transaction(self, fn: Callable[[Tx], T], *, idempotent: bool = False) -> T:
        """Run ``fn(tx)`` in one transaction and commit; re-run it from the start on a lost race or a lost
        connection. ``idempotent``: ``fn`` finds its own committed effect, so it may also be re-run when the
        connection went during COMMIT (:mod:`db.retry`)."""

        self._refuse_if_read_only()

        def once() -> T:
            with self._attempt(self.engine) as tx:
                return fn(tx)

        with _refusals_as_value_errors():
            return run_with_retry(once, self.retry_policy, idempotent=idempotent, reconnect=self._reached)

    def run_read(self, fn: Callable[[Tx], T]) -> T:
        """Run ``fn(tx)`` in a read snapshot (as :meth:`read`), re-run from the start when the connection is
        lost: a read may always be run again. ``fn`` must not write."""

        def once() -> T:
            with self._attempt(self._read_engine) as tx:
                return fn(tx)

        return run_with_retry(once, self.retry_policy, idempotent=True, reconnect=self._reached)

    @contextmanager
    def transaction(self) -> Iterator[Tx]:
        self._refuse_if_read_only()
        stack, tx = run_with_retry(lambda: self._enter(self.engine), self.retry_policy, reconnect=self._reached)
        with _refusals_as_value_errors(), stack:
            yield tx

    @contextmanager
    def read(self) -> Iterator[Tx]:
        stack, tx = run_with_retry(lambda: self._enter(self._read_engine), self.retry_policy,
                                   reconnect=self._reached)
        with stack:
            yield tx

    def indexes_deferred(self) -> AbstractContextManager[bool]:
        """A long load's context: the indexes it does not need dropped, built again when it ends
        (:mod:`db.deferred`); yields whether they were."""
        from db.deferred import indexes_deferred

        return indexes_deferred(self)

    def dispose(self) -> None:
        self.engine.dispose()
