"""BibTeX files (a reference manager's export: Zotero, Google Scholar, arXiv's own "Export BibTeX") as
:class:`graph.papers.PaperRecord` s.

Unlike the four page formats (:mod:`graph.parsers`), a bibliography is a list of papers, not one document
with its own graph: each entry becomes a record that :func:`graph.papers.upsert_papers` recognises (arXiv
id, DOI, title and first author) or adds.

Reading is bibtexparser 2.x's (string macros resolved, ``and``-separated names split into first / von /
last / jr, braces kept where they protect a name such as ``{Google Research}``); LaTeX accents and commands
are turned into Unicode by pylatexenc (:mod:`graph.parsers.latex`). Understood:

- every entry type (``@article``, ``@inproceedings``, ``@misc``, ``@book``, …) is a paper;
- authors in "Last, First" and "First Last" forms, stored as "First Last"; a closing ``and others`` (Google
  Scholar's "et al.") sets ``authors_truncated``;
- the arXiv id from ``eprint`` with ``archivePrefix = {arXiv}`` (BibTeX) or ``eprinttype = {arxiv}``
  (biblatex, Zotero), from Google Scholar's ``journal = {arXiv preprint arXiv:2303.02536}``, or from an
  ``arxiv.org/abs/…`` URL; ``primaryClass`` as its arXiv category;
- the DOI from ``doi`` or a ``doi.org`` URL; the date from ``date`` (biblatex) or ``year`` / ``month``;
- the venue from ``journal``, ``booktitle`` or ``publisher``.

An entry bibtexparser could not read, a duplicate key, or an entry without a title is a warning naming its
line; the rest of the file is still read. A file with no entry at all is refused (ValueError).
"""
from __future__ import annotations

import logging
import re
from typing import Any

from graph.papers import PaperRecord, make_record
from graph.parsers.latex import latex_to_text

FORMAT = "bibtex"
_ARXIV_IN_TEXT = re.compile(r"arxiv[:\s/]*((?:\d{4}\.\d{4,5}|[a-z][a-z\-]*(?:\.[A-Za-z]{2})?/\d{7})(?:v\d+)?)",
                            re.IGNORECASE)
_ARXIV_URL = re.compile(r"arxiv\.org/(?:abs|pdf)/([^\s?#]+)", re.IGNORECASE)
_DOI_URL = re.compile(r"doi\.org/(10\.\S+)", re.IGNORECASE)
_YEAR = re.compile(r"\d{4}")
_DATE = re.compile(r"(\d{4})(?:-(\d{1,2})(?:-(\d{1,2}))?)?")
_MONTHS = {m: i for i, m in enumerate(("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov",
                                        "dec"), start=1)}


def _fields(entry) -> dict[str, Any]:
    return {f.key.lower(): f.value for f in entry.fields}


def _text(value: Any) -> str:
    return latex_to_text(value) if isinstance(value, str) else ""


def _name(parts) -> str:
    """A NameParts as "First von Last, Jr", each part LaTeX-decoded."""
    if isinstance(parts, str):
        return _text(parts)
    words = [*parts.first, *parts.von, *parts.last]
    name = " ".join(_text(w) for w in words if w)
    if parts.jr:
        name += ", " + " ".join(_text(w) for w in parts.jr)
    return name


def _arxiv_id(f: dict[str, Any]) -> str | None:
    eprint = _text(f.get("eprint", ""))
    prefix = _text(f.get("archiveprefix", "") or f.get("eprinttype", "")).lower()
    if eprint and (prefix == "arxiv" or not prefix):
        return eprint.removeprefix("arXiv:").removeprefix("arxiv:")
    for key in ("journal", "note", "howpublished", "volume", "number"):
        m = _ARXIV_IN_TEXT.search(_text(f.get(key, "")))
        if m:
            return m.group(1)
    m = _ARXIV_URL.search(_text(f.get("url", "")))
    return m.group(1) if m else None


def _dates(f: dict[str, Any], where: str, warnings: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    date = _text(f.get("date", ""))
    m = _DATE.fullmatch(date) if date else None
    if m:
        out["year"] = int(m.group(1))
        if m.group(2) and m.group(3):
            out["published"] = f"{m.group(1)}-{int(m.group(2)):02d}-{int(m.group(3)):02d}"
    elif date:
        warnings.append(f"{where}: could not read the date {date[:30]!r}")
    year = _text(f.get("year", ""))
    if "year" not in out and year:
        if _YEAR.fullmatch(year):
            out["year"] = int(year)
        else:
            warnings.append(f"{where}: could not read the year {year[:30]!r}")
    month = _text(f.get("month", "")).lower()[:3]
    if "year" in out and month:
        number = _MONTHS.get(month) or (int(month) if month.isdigit() and 1 <= int(month) <= 12 else None)
        if number:
            out["month"] = number
    return out


def _record(entry, source: str) -> tuple[PaperRecord | None, list[str]]:
    where = f"{source} line {entry.start_line + 1} (@{entry.entry_type}{{{entry.key}}})"
    f = _fields(entry)
    warnings: list[str] = []
    authors = f.get("author", [])
    if isinstance(authors, str):
        authors = [authors]
    names = [_name(a) for a in authors]
    truncated = any(n.lower() == "others" for n in names)  # BibTeX's "and others": et al.
    names = [n for n in names if n.lower() != "others"]
    doi = _text(f.get("doi", "")) or None
    if doi is None:
        m = _DOI_URL.search(_text(f.get("url", "")))
        doi = m.group(1) if m else None
    venue = ""
    for key in ("journal", "booktitle", "publisher", "school", "institution"):
        value = _text(f.get(key, ""))
        if value and not _ARXIV_IN_TEXT.search(value) and value.lower() not in ("arxiv", "corr"):
            venue = value
            break
    attrs: dict[str, Any] = {"bibtex_key": entry.key, "entry_type": entry.entry_type.lower(), "venue": venue,
                             "url": _text(f.get("url", "")), **_dates(f, where, warnings)}
    if truncated:
        attrs["authors_truncated"] = True
    primary = _text(f.get("primaryclass", ""))
    rec, more = make_record(where, _text(f.get("title", "")), names, _text(f.get("abstract", "")),
                            [primary] if primary else [], _arxiv_id(f), doi, attrs)
    return rec, warnings + more


def parse_bibtex(text: str, source: str) -> tuple[list[PaperRecord], list[str]]:
    """The papers of a BibTeX file and warnings about what could not be placed; ValueError when ``text``
    holds no BibTeX entry at all."""
    import bibtexparser
    from bibtexparser import middlewares as mw

    logger = logging.getLogger("bibtexparser")  # it logs each failed block; they become our warnings
    level, logger.level = logger.level, logging.CRITICAL
    try:
        library = bibtexparser.parse_string(text, append_middleware=[mw.SeparateCoAuthors(), mw.SplitNameParts()])
    except Exception as exc:  # noqa: BLE001 - the library's own errors on input it cannot split into blocks
        raise ValueError(f"{source}: not readable as BibTeX ({str(exc).splitlines()[0] if str(exc) else exc!r})") \
            from None
    finally:
        logger.level = level
    records: list[PaperRecord] = []
    warnings: list[str] = []
    for block in library.failed_blocks:
        line = getattr(block, "start_line", None)
        at = f"{source} line {line + 1}" if isinstance(line, int) else source
        if type(block).__name__ == "DuplicateBlockKeyBlock":
            warnings.append(f"{at}: duplicate key {getattr(block, 'key', '?')!r}; the second entry was left out")
        else:
            warnings.append(f"{at}: could not read this BibTeX block; left out")
    for entry in library.entries:
        try:
            rec, more = _record(entry, source)
        except (AttributeError, TypeError, ValueError) as exc:  # a field of an unexpected shape
            rec, more = None, [f"{source} line {entry.start_line + 1}: could not read this entry ({exc})"]
        warnings.extend(more)
        if rec is not None:
            records.append(rec)
    if not library.entries:
        raise ValueError(f"{source}: no BibTeX entries found"
                         + (f" ({len(library.failed_blocks)} unreadable block(s))" if library.failed_blocks else ""))
    return records, warnings
