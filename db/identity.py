"""Who writes, and whether this process may write at all, without importing SQLAlchemy.

Every write is recorded with its author: ``--user``, else ``FINDINGS_USER``, else the operating-system
user (:func:`getpass.getuser`). ``--read-only`` or ``FINDINGS_READ_ONLY`` opens the database so that the
connection itself cannot write (see :mod:`db.engine`).
"""
from __future__ import annotations

import getpass
import os

MAX_USER_LENGTH = 128  # the writes.author column
READ_ONLY_ENV = "FINDINGS_READ_ONLY"
USER_ENV = "FINDINGS_USER"
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("", "0", "false", "no", "off")


def resolve_user(user: str | None = None) -> str:
    """``user``, else ``FINDINGS_USER``, else the OS user; a name that is blank or too long is refused."""
    name = user if user is not None else os.environ.get(USER_ENV)
    if name is None:
        try:
            name = getpass.getuser()
        except OSError:  # no login name and no passwd entry (some containers)
            name = f"uid{os.getuid()}" if hasattr(os, "getuid") else "unknown"
    name = name.strip()
    if not name:
        raise ValueError("the user name is empty (--user / FINDINGS_USER)")
    if len(name) > MAX_USER_LENGTH or any(not ch.isprintable() for ch in name):
        raise ValueError(f"not a usable user name: {name[:40]!r} (printable, at most {MAX_USER_LENGTH} characters)")
    return name


def read_only_requested(flag: bool | None = None) -> bool:
    """``flag`` when given, else whether ``FINDINGS_READ_ONLY`` says so (1/true/yes/on)."""
    if flag is not None:
        return bool(flag)
    value = os.environ.get(READ_ONLY_ENV, "").strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(f"{READ_ONLY_ENV} must be 1/true/yes/on or 0/false/no/off, not {value!r}")
