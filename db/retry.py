"""Re-running a whole transaction when the database says "not now": bounded, jittered back-off.

A write that loses a race is not an error the user should see. These failures mean "nothing was
written; run the same transaction again":

- SQLite ``database is locked`` / ``busy`` (``SQLITE_BUSY``, ``SQLITE_LOCKED``): another writer held
  the lock past the busy timeout;
- PostgreSQL serialization failure (SQLSTATE 40001) and deadlock (40P01): the server aborted one of
  two transactions that could not both commit as if run one after the other;
- a unique violation on a node id or on an edge's (source, type, target): a concurrent writer committed
  the same slug or the same edge first. Re-running the transaction reads the committed row, so the
  slug gets its suffix (both nodes kept) and an edge is found instead of added twice.

**A lost connection** (the server restarted — ``pg_ctl restart -m fast`` ends every session —, crashed,
or the network dropped: SQLAlchemy marks the connection invalidated; psycopg reports an operational error
with no SQLSTATE, class 08, or 57P01–57P03) is retried too, in two cases only:

- *before COMMIT was sent* — connecting, or any statement of the transaction: a transaction whose
  session dies is rolled back by the server, so nothing was written and re-running it is safe, whatever
  it does;
- *during COMMIT* (:class:`CommitUnknown`): the server may have committed before the connection went,
  and nothing says whether it did. Re-running is safe only for a transaction whose caller declares it
  **idempotent** (``run_with_retry(fn, idempotent=True)``, ``Store.run_in_transaction(fn,
  idempotent=True)``): one that first looks for its own committed effect and does nothing when it finds
  it. The run ledger's writes are built that way (:mod:`graph.runs`): a run is opened under a random token
  it looks for first, finished only while it is ``running`` (a finished run returns what it holds), and
  failed or marked abandoned only while ``running``; a heartbeat sets a time. Any other transaction
  raises :class:`CommitUnknown` rather than risk writing twice.

A restart takes seconds, not milliseconds, so connection losses are retried by time
(``RetryPolicy.reconnect_s``, 60 s by default, back-off capped at ``reconnect_max_delay``) rather than by
the attempt count that bounds lost races; and only once the store has reached its server at least once
(``reconnect=False`` otherwise), so a wrong host, port or password still fails at once.

The retry re-runs the caller's *whole* body — a transaction that failed has been rolled back and its
reads may be stale — so it wraps a function, not a ``with`` block: :func:`run_with_retry`,
:func:`retrying` and ``Store.run_in_transaction(fn)``. Anything else (a ``ValueError`` from validation,
a foreign-key violation) is raised at once.
"""
from __future__ import annotations

import functools
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

T = TypeVar("T")
log = logging.getLogger(__name__)

SQLITE_BUSY, SQLITE_LOCKED = 5, 6
PG_RETRY_SQLSTATES = {"40001": "serialization failure", "40P01": "deadlock detected"}
PG_UNIQUE_VIOLATION = "23505"
# the constraints a concurrent writer can make us trip over, where re-reading resolves the conflict
PG_RETRY_CONSTRAINTS = {"nodes_pkey", "uq_edges_source_type_target", "embeddings_pkey"}
# psycopg's operational errors that mean the session is gone: class 08 (connection exception) and the
# server's own shutdown codes (57P01 admin shutdown, 57P02 crash shutdown, 57P03 cannot connect now)
PG_CONNECTION_SQLSTATES = {"57P01", "57P02", "57P03"}
CONNECTION_LOST = "connection lost"
COMMIT_UNKNOWN = "connection lost during commit"
SQLITE_RETRY_UNIQUE = ("UNIQUE constraint failed: nodes.id",
                       "UNIQUE constraint failed: edges.source_id, edges.type, edges.target_id",
                       "UNIQUE constraint failed: embeddings.node_id, embeddings.model")


@dataclass(frozen=True)
class RetryPolicy:
    """Up to ``attempts`` runs; before run k+1 sleep a random time in [0, min(max_delay, base·2^k)].

    A lost connection is retried while less than ``reconnect_s`` seconds have passed since the first
    loss, sleeping as above but capped at ``reconnect_max_delay``."""

    attempts: int = 12
    base_delay: float = 0.01
    max_delay: float = 1.0
    reconnect_s: float = 60.0
    reconnect_max_delay: float = 2.0

    def delay(self, failures: int, cap: float | None = None) -> float:
        return random.uniform(0, min(self.max_delay if cap is None else cap, self.base_delay * (2 ** failures)))


class CommitUnknown(Exception):
    """The connection was lost while COMMIT was under way: the transaction may or may not have committed."""


DEFAULT_POLICY = RetryPolicy()


def _driver_error(exc: BaseException) -> BaseException:
    return getattr(exc, "orig", None) or exc


def connection_lost(exc: BaseException) -> bool:
    """Whether ``exc`` says the database session is gone (a restart, a crash, a dropped connection)."""
    if getattr(exc, "connection_invalidated", False):  # SQLAlchemy saw the DBAPI connection die
        return True
    err = _driver_error(exc)
    if type(err).__module__.split(".")[0] != "psycopg":
        return False
    kinds = {c.__name__ for c in type(err).__mro__}
    if "InterfaceError" in kinds:  # "the connection is closed"
        return True
    if "OperationalError" not in kinds:
        return False
    sqlstate = getattr(err, "sqlstate", None)
    return sqlstate is None or sqlstate.startswith("08") or sqlstate in PG_CONNECTION_SQLSTATES


def retry_reason(exc: BaseException, idempotent: bool = False) -> str | None:
    """Why re-running the transaction may succeed, or None when it will not help. A lost connection
    during COMMIT is retried only for an ``idempotent`` transaction."""
    if isinstance(exc, CommitUnknown):
        return COMMIT_UNKNOWN if idempotent else None
    if connection_lost(exc):
        return CONNECTION_LOST
    err = _driver_error(exc)
    sqlstate = getattr(err, "sqlstate", None)
    if sqlstate in PG_RETRY_SQLSTATES:
        return PG_RETRY_SQLSTATES[sqlstate]
    if sqlstate == PG_UNIQUE_VIOLATION:
        diag = getattr(err, "diag", None)
        if getattr(diag, "constraint_name", None) in PG_RETRY_CONSTRAINTS:
            return f"concurrent insert ({diag.constraint_name})"
        return None
    code = getattr(err, "sqlite_errorcode", None)
    if code is not None and code & 0xFF in (SQLITE_BUSY, SQLITE_LOCKED):
        return "database is locked"
    message = str(err)
    if type(err).__name__ == "OperationalError" and ("database is locked" in message or "database is busy" in message
                                                       or "database table is locked" in message):
        return "database is locked"
    if type(err).__name__ == "IntegrityError" and any(message.startswith(s) for s in SQLITE_RETRY_UNIQUE):
        return "concurrent insert"
    return None


class RetryStats:
    """Counts of retries in this process (for benchmarks and reports)."""

    retries: int = 0
    exhausted: int = 0
    by_reason: dict[str, int] = {}

    @classmethod
    def record(cls, reason: str) -> None:
        cls.retries += 1
        cls.by_reason[reason] = cls.by_reason.get(reason, 0) + 1


def run_with_retry(fn: Callable[[], T], policy: RetryPolicy = DEFAULT_POLICY, *, idempotent: bool = False,
                   reconnect: bool = True) -> T:
    """Call ``fn()``; while it fails with a retryable database error, back off and call it again.

    ``idempotent``: ``fn`` may be re-run after a lost connection left its commit unknown.
    ``reconnect``: retry lost connections at all (the store passes False until it has reached its server)."""
    failures = 0
    lost_since: float | None = None
    while True:
        try:
            return fn()
        except Exception as exc:
            reason = retry_reason(exc, idempotent)
            if reason is None or (reason in (CONNECTION_LOST, COMMIT_UNKNOWN) and not reconnect):
                raise
            failures += 1
            if reason in (CONNECTION_LOST, COMMIT_UNKNOWN):
                lost_since = time.monotonic() if lost_since is None else lost_since
                give_up = time.monotonic() - lost_since >= policy.reconnect_s
                cap = policy.reconnect_max_delay
            else:
                give_up, cap = failures >= policy.attempts, None
            if give_up:
                RetryStats.exhausted += 1
                log.warning("giving up after %d attempts: %s", failures, reason)
                raise
            RetryStats.record(reason)
            log.debug("transaction retried (%s), attempt %d", reason, failures + 1)
            time.sleep(policy.delay(failures - 1, cap))


def retrying(fn: Callable[..., T] | None = None, *, policy: RetryPolicy = DEFAULT_POLICY,
             idempotent: bool = False) -> Any:
    """Decorator: re-run the whole function on a retryable database error (``@retrying`` or
    ``@retrying(policy=..., idempotent=...)``). The function must open its own transaction, so a re-run starts
    afresh."""

    def wrap(f: Callable[..., T]) -> Callable[..., T]:
        @functools.wraps(f)
        def wrapper(*args: Any, **kwargs: Any) -> T:
            return run_with_retry(lambda: f(*args, **kwargs), policy, idempotent=idempotent)

        return wrapper

    return wrap(fn) if fn is not None else wrap
