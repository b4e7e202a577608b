"""Where the database is, how to connect to it, and how to bring its schema to the current revision.

The database comes from ``--db`` or ``FINDINGS_DB``: an SQLAlchemy URL (``postgresql+psycopg://…``,
``sqlite:///path``) or a plain file path, which means SQLite. SQLite runs with foreign keys on, WAL
journaling and a busy timeout, so readers never block the writer and a second writer waits instead of
failing at once; PostgreSQL writes run SERIALIZABLE. Either way a transaction that loses a race is
re-run by :mod:`db.retry`.

A read-only engine (``get_engine(url, read_only=True)``: ``--read-only``, ``FINDINGS_READ_ONLY``, the app's
``--read-only``) is one whose connections cannot write, whatever the code above them does: SQLite opens
the file with ``mode=ro`` (a URI filename) and ``PRAGMA query_only``; PostgreSQL sessions start with
``default_transaction_read_only=on``, so every transaction is READ ONLY and the server refuses any
INSERT, UPDATE, DELETE or DDL. (A role granted SELECT only is the stronger guarantee for PostgreSQL:
name it in the ``--db`` URL.)
"""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from urllib.parse import quote

from sqlalchemy import create_engine, event, inspect, text
from sqlalchemy.engine import Engine, make_url

from db.location import HEAD_REVISION, db_value

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 30_000
SQLITE_MMAP_BYTES = 1 << 30
SQLITE_BEGIN_OPTION = "findings_sqlite_begin"  # execution option: "IMMEDIATE" (default) or "DEFERRED"
PG_WRITE_ISOLATION = "SERIALIZABLE"
PG_READ_ISOLATION = "REPEATABLE READ"
PG_MIGRATION_LOCK = 7_305_041_861  # pg_advisory_xact_lock key: one migrator at a time


def resolve_url(db: str | None = None) -> str:
    """Turn ``--db`` / ``FINDINGS_DB`` / the default into an SQLAlchemy URL."""
    value = db_value(db)
    if "://" in value:
        try:
            make_url(value)
        except Exception as exc:  # sqlalchemy raises ArgumentError with a long message
            raise ValueError(f"not a database URL: {value!r}") from exc
        return value
    path = Path(value).expanduser().resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{path}"


def sqlite_file_of(url) -> str | None:
    """The file an SQLite URL (a string or SQLAlchemy's URL) names; None for another database, for in-memory
    SQLite and for a ``file:`` URI."""
    parsed = make_url(url)
    path = parsed.database
    if parsed.get_backend_name() != "sqlite" or not path or path == ":memory:" or path.startswith("file:"):
        return None
    return path


def sqlite_read_only_url(url: str) -> str:
    """The URL of the same SQLite file opened read-only: a ``file:`` URI with ``mode=ro``. The file must
    exist (a read-only connection cannot create it)."""
    path = sqlite_file_of(url)
    if path is None:
        raise ValueError(f"a read-only store needs an SQLite file, not {url!r}")
    resolved = Path(path).expanduser().resolve()
    if not resolved.is_file():
        raise ValueError(f"no database at {resolved} (a read-only store cannot create one)")
    return f"sqlite:///file:{quote(str(resolved))}?mode=ro&uri=true"


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA journal_mode=WAL")
    # read pages through a memory map instead of a read() call each: a node with thousands of edges
    # touches thousands of scattered pages (address space only; the OS shares the file cache)
    cur.execute(f"PRAGMA mmap_size={SQLITE_MMAP_BYTES}")
    cur.close()


def _json_loads(value: str):
    """json.loads, with a shortcut for the empty object that most edges and many nodes carry."""
    if value == "{}":
        return {}
    return json.loads(value)


def _sqlite_read_only_pragmas(dbapi_conn, _record) -> None:
    # no journal_mode: changing it is a write; query_only refuses writes even to temporary tables
    cur = dbapi_conn.cursor()
    cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cur.execute("PRAGMA query_only=ON")
    cur.execute(f"PRAGMA mmap_size={SQLITE_MMAP_BYTES}")
    cur.close()


@lru_cache(maxsize=16)
def get_engine(url: str, read_only: bool = False) -> Engine:
    if url.startswith("sqlite"):
        if read_only:
            return _sqlite_engine(sqlite_read_only_url(url), _sqlite_read_only_pragmas, read_only=True)
        return _sqlite_engine(url, _sqlite_pragmas, read_only=False)
    if read_only:
        if not url.startswith("postgresql"):
            raise ValueError(f"cannot open {make_url(url).drivername} databases read-only")
        return create_engine(url, pool_pre_ping=True, isolation_level=PG_READ_ISOLATION,
                             connect_args={"options": "-c default_transaction_read_only=on"})
    # PostgreSQL: writes run SERIALIZABLE, so concurrent transactions commit only if some serial order
    # explains them (no write skew between two curators); the loser gets SQLSTATE 40001 and
    # db.retry re-runs it. Reads ask for REPEATABLE READ (Store.read): one snapshot, never aborted.
    return create_engine(url, pool_pre_ping=True, isolation_level=PG_WRITE_ISOLATION)


def _sqlite_engine(url: str, pragmas, read_only: bool) -> Engine:
    engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}, json_deserializer=_json_loads)
    event.listen(engine, "connect", pragmas)

    # pysqlite's own transaction handling defers BEGIN; take the write lock up front instead so
    # that concurrent writers queue on the busy timeout rather than failing on upgrade.
    @event.listens_for(engine, "connect")
    def _no_pysqlite_begin(dbapi_conn, _record):
        dbapi_conn.isolation_level = None

    @event.listens_for(engine, "begin")
    def _begin_immediate(conn):
        # reads (Store.read) ask for a deferred BEGIN: a WAL snapshot that neither waits for nor
        # blocks the writer; a read-only connection never asks for the write lock
        mode = "DEFERRED" if read_only else conn.get_execution_options().get(SQLITE_BEGIN_OPTION, "IMMEDIATE")
        conn.exec_driver_sql("BEGIN DEFERRED" if mode == "DEFERRED" else "BEGIN IMMEDIATE")

    return engine


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return None
        return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


def migrate(engine: Engine, revision: str = "head") -> None:
    """Upgrade the schema to ``revision`` (Alembic is imported only here: it is slow to import)."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    if engine.dialect.name == "postgresql":
        # Several processes may open a blank database at once: the first takes the lock and migrates,
        # the others wait, then (READ COMMITTED: each statement sees the latest commit) find it done.
        with engine.connect().execution_options(isolation_level="READ COMMITTED") as conn, conn.begin():
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": PG_MIGRATION_LOCK})
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)
        return
    with engine.begin() as conn:  # SQLite: BEGIN IMMEDIATE already makes migrators take turns
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def ensure_schema(engine: Engine) -> None:
    """Migrate when the database is behind head; on SQLite, build the indexes a load that died left dropped
    (:mod:`db.deferred`). A no-op (two small queries) when all is current."""
    if current_revision(engine) != HEAD_REVISION:
        migrate(engine)
    if engine.dialect.name == "sqlite":
        from db.deferred import restore_missing

        restore_missing(engine)


def require_current_schema(engine: Engine) -> None:
    """For a read-only store, which cannot migrate: the schema must be at head already."""
    revision = current_revision(engine)
    if revision != HEAD_REVISION:
        state = "has no schema" if revision is None else f"is at schema revision {revision}"
        raise ValueError(f"the database {state}, not {HEAD_REVISION}; run `findings init` (not read-only) "
                         "to create or upgrade it first")
