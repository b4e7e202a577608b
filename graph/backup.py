"""Backup and restore: the whole store in one JSON file, and back, exactly.

A backup holds every row of every graph table — nodes (with provenance and timestamps), edges (with
their ids, attrs and provenance), measurements, stored embeddings (model, text hash, dimension, and the
vector itself as base64), curation decisions, the write log and external identifiers — read in one
snapshot, so a backup taken while others write is still a consistent graph. Timestamps are written in
UTC; the file names the schema revision and carries a SHA-256 of its tables, so a damaged or truncated
file is refused instead of half-loaded.
A name ending in ``.gz`` is gzip-compressed; restore recognises gzip by its content, not its name.

Restore goes into an *empty* database (it refuses otherwise: merging two graphs is ``findings import``),
in one transaction, with the original ids; before committing it reads every table back and compares it
with the file, so ``restore(backup(x))`` reproduces ``x`` exactly or restores nothing. The two stores
can differ: a SQLite backup restores into PostgreSQL and back.
"""
from __future__ import annotations

import base64
import gzip
import hashlib
import json
import os
import tempfile
import zlib
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from db.engine import HEAD_REVISION, current_revision

if TYPE_CHECKING:
    from db.session import Tx
    from graph.api import Graph

FORMAT = "findings-backup"
VERSION = 1
TABLES = ("nodes", "edges", "measurements", "embeddings", "curation_decisions", "writes",
          "identifiers")  # parents first
_TOP_KEYS = {"format", "version", "schema_revision", "created_at", "source_dialect", "counts", "checksum", "tables"}


# ---- values <-> JSON ------------------------------------------------------------------------------
def _utc(value: datetime) -> datetime:
    # SQLite hands back the UTC wall time without a zone; PostgreSQL an aware time in the session's zone
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


def _encode(value: Any, kind: str) -> Any:
    if value is None:
        return None
    if kind == "datetime":
        return _utc(value).isoformat()
    if kind == "bytes":
        return base64.b64encode(bytes(value)).decode("ascii")
    return value


def _decode(value: Any, kind: str, where: str) -> Any:
    if value is None or kind == "json":
        return value
    ok = {"str": isinstance(value, str), "datetime": isinstance(value, str), "bytes": isinstance(value, str),
          "bool": isinstance(value, bool), "int": isinstance(value, int) and not isinstance(value, bool),
          "float": isinstance(value, (int, float)) and not isinstance(value, bool)}[kind]
    if not ok:
        raise ValueError(f"{where}: expected {kind}, got {type(value).__name__}")
    try:
        if kind == "datetime":
            return _utc(datetime.fromisoformat(value))
        if kind == "bytes":
            return base64.b64decode(value.encode("ascii"), validate=True)
    except (ValueError, UnicodeEncodeError, zlib.error) as exc:
        raise ValueError(f"{where}: not a valid {kind} value") from exc
    return float(value) if kind == "float" else value


def _canonical(tables: dict[str, list[dict[str, Any]]]) -> bytes:
    return json.dumps(tables, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _read_tables(tx: Tx) -> dict[str, list[dict[str, Any]]]:
    out = {}
    for name in TABLES:
        cols = tx.table_columns(name)
        out[name] = [{c: _encode(row[c], cols[c]) for c in cols} for row in tx.table_rows(name)]
    return out


# ---- backup ---------------------------------------------------------------------------------------
def snapshot(graph: Graph) -> dict[str, Any]:
    """The backup document of the graph's store, as a dict (what :func:`backup` writes)."""
    with graph.store.read() as tx:
        tables = _read_tables(tx)
    return {
        "format": FORMAT,
        "version": VERSION,
        "schema_revision": current_revision(graph.store.engine),
        "created_at": datetime.now(timezone.utc).isoformat(),
        "source_dialect": graph.store.engine.dialect.name,
        "counts": {name: len(rows) for name, rows in tables.items()},
        "checksum": hashlib.sha256(_canonical(tables)).hexdigest(),
        "tables": tables,
    }


def fingerprint(graph: Graph) -> bytes:
    """Every row of the store in a canonical byte string: equal exactly when the stored graphs are equal."""
    with graph.store.read() as tx:
        return _canonical(_read_tables(tx))


def backup(graph: Graph, path: str | Path) -> dict[str, int]:
    """Write a backup of the whole store to ``path`` (gzip when it ends in .gz); return row counts."""
    path = Path(path)
    doc = snapshot(graph)
    data = json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    if path.name.endswith(".gz"):
        data = gzip.compress(data, mtime=0)
    if path.parent and not path.parent.is_dir():
        raise ValueError(f"no such directory: {path.parent}")
    # write beside the target, then rename: a crash mid-write never leaves a half backup under the name
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return doc["counts"]


# ---- restore --------------------------------------------------------------------------------------
def load(path: str | Path) -> dict[str, Any]:
    """Read and check a backup file; ValueError (one line) when it is not a sound backup."""
    p = Path(path)
    if not p.is_file():
        raise ValueError(f"no such file: {path}")
    data = p.read_bytes()
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as exc:
            raise ValueError(f"{path}: damaged gzip data ({exc})") from None
    try:
        doc = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise ValueError(f"{path}: not a findings backup (not JSON: {str(exc).splitlines()[0]})") from None
    return check_document(doc, str(path))


def check_document(doc: Any, name: str = "backup") -> dict[str, Any]:
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise ValueError(f"{name}: not a findings backup (no \"format\": \"{FORMAT}\")")
    if doc.get("version") != VERSION:
        raise ValueError(f"{name}: backup format version {doc.get('version')!r} is not supported (expected {VERSION})")
    extra = set(doc) - _TOP_KEYS
    if extra:
        raise ValueError(f"{name}: unexpected field(s) {', '.join(sorted(extra))}")
    tables = doc.get("tables")
    if not isinstance(tables, dict) or set(tables) - set(TABLES):
        raise ValueError(f"{name}: \"tables\" must map table names ({', '.join(TABLES)}) to rows")
    for t, rows in tables.items():
        if not isinstance(rows, list) or not all(isinstance(x, dict) for x in rows):
            raise ValueError(f"{name}: table {t} must be a list of rows")
    if doc.get("checksum") != hashlib.sha256(_canonical(tables)).hexdigest():
        raise ValueError(f"{name}: the backup is damaged (its checksum does not match its contents)")
    counts = doc.get("counts") or {}
    for t, rows in tables.items():
        if counts.get(t, len(rows)) != len(rows):
            raise ValueError(f"{name}: table {t} holds {len(rows)} rows, the backup says {counts.get(t)}")
    _check_revision(doc.get("schema_revision"), name)
    return doc


def _check_revision(revision: Any, name: str) -> None:
    if revision == HEAD_REVISION:
        return
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from db.engine import MIGRATIONS_DIR

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    known = {s.revision for s in ScriptDirectory.from_config(cfg).walk_revisions()}
    if not isinstance(revision, str) or revision not in known:
        raise ValueError(f"{name}: made by an unknown schema revision {revision!r} (this version knows "
                         f"up to {HEAD_REVISION}); upgrade findings first")


def _decoded_rows(tx: Tx, tables: dict[str, list[dict[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
    out = {}
    for t in TABLES:
        cols = tx.table_columns(t)
        rows = []
        for i, row in enumerate(tables.get(t, [])):
            if set(row) != set(cols):
                diff = sorted(set(row) ^ set(cols))
                raise ValueError(f"backup table {t}, row {i + 1}: columns differ from the schema ({', '.join(diff)})")
            rows.append({c: _decode(row[c], cols[c], f"backup table {t}, row {i + 1}, {c}") for c in cols})
        out[t] = rows
    return out


def restore_document(graph: Graph, doc: dict[str, Any]) -> dict[str, int]:
    """Restore a checked backup document into the graph's (empty) store; return row counts."""
    tables = {t: doc["tables"].get(t, []) for t in TABLES}
    expected = _canonical(tables)

    def body(tx: Tx) -> dict[str, int]:
        held = {t: n for t, n in tx.table_counts().items() if n}
        if held:
            raise ValueError("restore needs an empty database, and this one holds "
                             + ", ".join(f"{n} {t}" for t, n in held.items())
                             + "; restore into a new database (--db) instead")
        rows = _decoded_rows(tx, tables)
        for t in TABLES:
            if rows[t]:
                tx.insert_rows(t, rows[t])
        tx.reset_id_sequences()
        if _canonical(_read_tables(tx)) != expected:
            raise ValueError("the restored store does not read back identical to the backup; nothing was restored")
        return {t: len(rows[t]) for t in TABLES}

    return graph.store.run_in_transaction(body)


def restore(graph: Graph, path: str | Path) -> dict[str, int]:
    """Restore the backup at ``path`` into the graph's store, which must be empty. All or nothing."""
    return restore_document(graph, load(path))

