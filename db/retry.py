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

The retry re-runs the caller's *whole* body — a transaction that failed has been rolled back and its
reads may be stale — so it wraps a function, not a ``with`` block: :func:`run_with_retry`,
:func:`retrying` and ``Store.run_in_transaction(fn)``. Anything else (a ``ValueError`` from validation,
a foreign-key violation, a lost connection whose commit state is unknown) is raised at once.
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
SQLITE_RETRY_UNIQUE = ("UNIQUE constraint failed: nodes.id",
                       "UNIQUE constraint failed: edges.source_id, edges.type, edges.target_id",
                       "UNIQUE constraint failed: embeddings.node_id, embeddings.model")


@dataclass(frozen=True)
class RetryPolicy:
    """Up to ``attempts`` runs; before run k+1 sleep a random time in [0, min(max_delay, base·2^k)]."""

    attempts: int = 12
    base_delay: float = 0.01
    max_delay: float = 1.0

    def delay(self, failures: int) -> float:
        return random.uniform(0, min(self.max_delay, self.base_delay * (2 ** failures)))


DEFAULT_POLICY = RetryPolicy()


def _driver_error(exc: BaseException) -> BaseException:
    return getattr(exc, "orig", None) or exc


def retry_reason(exc: BaseException) -> str | None:
    """Why re-running the transaction may succeed, or None when it will not help."""
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


def run_with_retry(fn: Callable[[], T], policy: RetryPolicy = DEFAULT_POLICY) -> T:
    """Call ``fn()``; while it fails with a retryable database error, back off and call it again."""
    failures = 0
    while True:
        try:
            return fn()
        except Exception as exc:
            reason = retry_reason(exc)
            if reason is None:
                raise
            failures += 1
            if failures >= policy.attempts:
                RetryStats.exhausted += 1
                log.warning("giving up after %d attempts: %s", failures, reason)
                raise
            RetryStats.record(reason)
            log.debug("transaction retried (%s), attempt %d", reason, failures + 1)
            time.sleep(policy.delay(failures - 1))


def retrying(fn: Callable[..., T] | None = None, *, policy: RetryPolicy = DEFAULT_POLICY) -> Any:
    """Decorator: re-run the whole function on a retryable database error (``@retrying`` or
    ``@retrying(policy=...)``). The function must open its own transaction, so a re-run starts afresh."""

    def wrap(f: Callable[..., T]) -> Callable[..., T]:
        @functools.wraps(f)
        def wrapper(*args: Any, **kwargs: Any) -> T:
            return run_with_retry(lambda: f(*args, **kwargs), policy)

        return wrapper

    return wrap(fn) if fn is not None else wrap
