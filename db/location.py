"""Where the database is and which schema revision the code expects, without importing SQLAlchemy.

:mod:`db.engine` (connections, migrations) and :mod:`db.sqlite_read` (the CLI's quick read path) both
start from here.
"""
from __future__ import annotations

import os
from pathlib import Path

HEAD_REVISION = "0011"  # tests check that this is Alembic's head
SQLITE_PREFIX = "sqlite:///"


def default_db_path() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "findings" / "findings.db"


def db_value(db: str | None = None) -> str:
    """``--db``, else ``FINDINGS_DB``, else the default SQLite file."""
    return db or os.environ.get("FINDINGS_DB") or str(default_db_path())


def sqlite_file(db: str | None = None) -> Path | None:
    """The SQLite file ``db`` names (a plain path or a plain ``sqlite:///`` URL) if it exists, else None.

    None also for PostgreSQL, in-memory SQLite and URLs with query options: those go through SQLAlchemy.
    """
    value = db_value(db)
    if "://" in value:
        if not value.startswith(SQLITE_PREFIX) or "?" in value:
            return None
        value = value[len(SQLITE_PREFIX):]
        if not value or value == ":memory:":
            return None
    path = Path(value).expanduser()
    return path.resolve() if path.is_file() else None
