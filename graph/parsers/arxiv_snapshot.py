"""The public arXiv metadata snapshot (Kaggle's ``arxiv-metadata-oai-snapshot.json``): one JSON object per
line, read as a stream of :class:`graph.papers.PaperRecord` s, never loaded whole.

Fields used: ``id`` (the arXiv id, required), ``title``, ``abstract``, ``authors_parsed``
(``[[last, first, suffix], …]``, preferred) or ``authors`` ("A. Smith, B. Jones and C. Doe"),
``categories`` (space-separated, primary first), ``versions`` (``[{"version": "v1", "created": "Mon, 2 Apr
2007 19:18:42 GMT"}, …]``: the first is the published date, the last the updated one), ``update_date``,
``doi`` (the first, where several are given), ``journal-ref``. Text is LaTeX-decoded as BibTeX's is.

A line that is not a JSON object, lacks an id or title, or carries a value of the wrong type is a warning
naming its line number, and the stream goes on. A file whose first non-empty line is not a JSON object is
not a snapshot: ValueError, nothing read.
"""
from __future__ import annotations

import json
from collections.abc import Iterator
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

from graph.papers import BATCH, PaperRecord, make_record
from graph.parsers.latex import latex_to_text

FORMAT = "arxiv-snapshot"


def _str(value: Any, name: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValueError(f"{name} is not text")
    return value


def _date(text: Any) -> str | None:
    """``"Mon, 2 Apr 2007 19:18:42 GMT"`` or ``"2008-11-13"`` as ``"2007-04-02"``; None if unreadable."""
    if not isinstance(text, str) or not text.strip():
        return None
    t = text.strip()
    if len(t) == 10 and t[4] == "-" and t[7] == "-" and t.replace("-", "").isdigit():
        return t
    try:
        return parsedate_to_datetime(t).date().isoformat()
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def _authors(obj: dict[str, Any]) -> list[str]:
    parsed = obj.get("authors_parsed")
    if parsed is not None and not isinstance(parsed, list):
        raise ValueError("authors_parsed is not a list")
    if parsed:
        names = []
        for person in parsed:
            if not isinstance(person, list) or not all(isinstance(p, str) for p in person):
                raise ValueError("authors_parsed is not a list of [last, first, suffix] lists")
            last, first, suffix = (list(person) + ["", "", ""])[:3]
            name = " ".join(latex_to_text(p) for p in (first, last) if p.strip())
            names.append(f"{name}, {latex_to_text(suffix)}" if suffix.strip() else name)
        return names
    text = latex_to_text(_str(obj.get("authors"), "authors"))
    parts = [p.strip() for chunk in text.split(",") for p in chunk.split(" and ")]
    return [p for p in parts if p]


def record_from_line(obj: Any, where: str) -> tuple[PaperRecord | None, list[str]]:
    """One snapshot object as a record (or None) and its warnings."""
    if not isinstance(obj, dict):
        return None, [f"{where}: not a JSON object; skipped"]
    try:
        arxiv_id = _str(obj.get("id"), "id").strip()
        if not arxiv_id:
            return None, [f"{where}: no arXiv id; skipped"]
        categories = _str(obj.get("categories"), "categories").split()
        versions = obj.get("versions") or []
        if not isinstance(versions, list):
            raise ValueError("versions is not a list")
        created = [_date(v.get("created")) if isinstance(v, dict) else None for v in versions]
        published = created[0] if created else None
        updated = _date(obj.get("update_date")) or (created[-1] if created else None)
        attrs: dict[str, Any] = {"published": published, "updated": updated,
                                 "year": int(published[:4]) if published else None,
                                 "journal_ref": latex_to_text(_str(obj.get("journal-ref"), "journal-ref")),
                                 "arxiv_version": len(versions) or None}
        dois = _str(obj.get("doi"), "doi").split()
        rec, warnings = make_record(where, latex_to_text(_str(obj.get("title"), "title")), _authors(obj),
                                    latex_to_text(_str(obj.get("abstract"), "abstract")), categories, arxiv_id,
                                    dois[0] if dois else None, attrs)
    except ValueError as exc:
        return None, [f"{where}: {exc}; skipped"]
    if rec is not None and rec.arxiv_id is None:
        return None, warnings + [f"{where}: no readable arXiv id; skipped"]
    if versions and published is None:
        warnings.append(f"{where}: could not read the first version's date")
    return rec, warnings


def iter_snapshot(path: str | Path, source: str | None = None) -> Iterator[tuple[PaperRecord | None, list[str]]]:
    """(record or None, warnings) per non-empty line of the file at ``path``, read line by line."""
    p = Path(path)
    source = source or p.name
    if not p.is_file():
        raise ValueError(f"no such file: {path}")
    with p.open("rb") as fh:
        checked = False
        for number, raw in enumerate(fh, start=1):
            where = f"{source} line {number}"
            if not raw.strip():
                continue
            try:
                obj = json.loads(raw.decode("utf-8"))
            except UnicodeDecodeError:
                obj, error = None, "not UTF-8 text"
            except ValueError as exc:  # json.JSONDecodeError, and numbers too large to convert
                obj, error = None, f"not valid JSON ({str(exc).splitlines()[0][:60]})"
            if not checked:
                if not isinstance(obj, dict):
                    raise ValueError(f"{source}: not an arXiv metadata snapshot (line {number} is not a JSON object)")
                checked = True
            if obj is None:
                yield None, [f"{where}: {error}; skipped"]
                continue
            yield record_from_line(obj, where)


# ---- parsing beside the writer ----------------------------------------------------------------------
PARALLEL_MIN_BYTES = 4_000_000  # smaller files parse in the writer's process: a child costs more than it saves
CHUNK = 2000  # records per message from the parsing process
_DONE = "done"


def _produce(path: str, source: str, out) -> None:
    """The parsing process: (record, warnings) pairs of the file, ``CHUNK`` at a time, into ``out``; then
    ``(_DONE, None)``, or ``("error", message)`` for a file that is not a snapshot."""
    import gc
    import pickle
    import signal

    gc.enable()  # forked from an ingest that turned automatic collections off (graph.papers)
    # forked, it has the writer's signal handlers: a library's SIGTERM handler would keep it alive when the
    # writer stops it, and Ctrl-C is the writer's to handle (it stops this process on the way out)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        chunk = []
        for item in iter_snapshot(path, source):
            chunk.append(item)
            if len(chunk) >= CHUNK:
                # pickled here, not by the queue's feeder thread, which would take turns with the parsing
                # for the interpreter lock
                out.put(("items", pickle.dumps(chunk, pickle.HIGHEST_PROTOCOL)))
                chunk = []
        out.put(("items", pickle.dumps(chunk, pickle.HIGHEST_PROTOCOL)))
        out.put((_DONE, None))
    except Exception as exc:  # noqa: BLE001 - handed to the writer, which raises it
        out.put(("error", f"{type(exc).__name__}: {exc}" if not isinstance(exc, ValueError) else str(exc)))


def stream_snapshot(path: str | Path, source: str | None = None, parallel: bool | None = None,
                    ahead: int = BATCH) -> Iterator[tuple[PaperRecord | None, list[str]]]:
    """What :func:`iter_snapshot` yields, in the same order. For a large file (``parallel`` None: at least
    ``PARALLEL_MIN_BYTES``, on a machine with more than one core) the lines are parsed by a second process
    while this one writes, up to ``ahead`` records ahead (a batch: the writer takes a whole batch
    after each transaction). JSON decoding and LaTeX conversion were a quarter of an ingest's time in one
    process (6.8 s of 28.5 s for 50,000 lines), the writer's transactions the rest. The child pickles its
    chunks itself: left to the queue's feeder thread, pickling took turns with parsing for the interpreter
    lock, and a writer busy 5 s a batch waited 25 s in all for 200,000 lines (7 s now). A file that is not
    a snapshot raises ValueError before any record is yielded, as :func:`iter_snapshot` does; the child is
    stopped when the stream is closed early (a batch that failed)."""
    import multiprocessing as mp
    import os
    import pickle
    import queue

    p = Path(path)
    source = source or p.name
    if not p.is_file():
        raise ValueError(f"no such file: {path}")
    if parallel is None:
        parallel = (os.cpu_count() or 1) > 1 and p.stat().st_size >= PARALLEL_MIN_BYTES
    if not parallel:
        yield from iter_snapshot(p, source)
        return
    methods = mp.get_all_start_methods()
    ctx = mp.get_context("fork" if "fork" in methods else "spawn")  # fork: no re-import of the CLI
    out = ctx.Queue(maxsize=max(2, ahead // CHUNK))
    child = ctx.Process(target=_produce, args=(str(p), source, out), daemon=True, name="snapshot-parser")
    child.start()
    try:
        while True:
            try:
                what, value = out.get(timeout=5.0)
            except queue.Empty:  # still parsing, unless the child died
                if not child.is_alive():
                    raise RuntimeError(f"the process parsing {source} stopped (exit code {child.exitcode})") from None
                continue
            if what == "items":
                yield from pickle.loads(value)
            elif what == "error":
                raise ValueError(value)
            else:
                break
    finally:
        if child.is_alive():
            child.terminate()
        child.join(timeout=5.0)
        if child.is_alive():  # it did not take SIGTERM (a handler installed before its own took over)
            child.kill()
            child.join(timeout=5.0)
        out.close()
