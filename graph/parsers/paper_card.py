"""Parse a reproducibility card (seed ``001_…``): title, authors, venue line and a table of
reproducibility variables, each with a result and the evidence text behind it.

Layout::

    <Title>
    Authors: First Last, First Last, …
    ICLR 2025 | Venue PDF | Archive PDF | Plain Text | LLM Run Details
    | Reproducibility Variable | Result | LLM Response |
    |---|---|---|
    | Research Type | Experimental | <evidence> |
    …

The venue is the first cell of the venue line; the other cells are link labels and are dropped.
Each table row becomes ``attrs["reproducibility"][snake_case(variable)] = {"result", "evidence"}``.
"""
from __future__ import annotations

import re

from graph.documents import ParsedDocument
from graph.parsers.common import DraftBuilder, short, snake_case, split_loose_names
from graph.parsers.noise import content_lines

FORMAT = "paper-card"

_HEADER_RE = re.compile(r"\|?\s*Reproducibility Variable\s*\|.*", re.IGNORECASE)
_SEPARATOR_RE = re.compile(r"\|?\s*:?-{3,}:?\s*(?:\|\s*:?-{3,}:?\s*)*\|?")
_AUTHORS_RE = re.compile(r"Authors?\s*:\s*(.*)", re.IGNORECASE)
_YEAR_RE = re.compile(r"\b(19\d{2}|20\d{2})\b")
# Link labels that follow the venue on the venue line.
_LINK_LABELS = frozenset(
    s.casefold() for s in ("Venue PDF", "Archive PDF", "Plain Text", "LLM Run Details", "PDF", "Code",
                           "Paper", "arXiv", "OpenReview", "Project Page", "BibTeX", "Slides", "Video")
)


def looks_like(lines: list[str]) -> bool:
    return any(_HEADER_RE.fullmatch(line) for line in lines)


def _cells(line: str) -> list[str]:
    s = line.strip()
    if s.startswith("|"):
        s = s[1:]
    if s.endswith("|"):
        s = s[:-1]
    return [c.strip() for c in s.split("|")]


def parse(text: str, source: str) -> ParsedDocument:
    lines = content_lines(text)
    if not looks_like(lines):
        raise ValueError("not a paper card: no '| Reproducibility Variable | Result | … |' table header")
    title = lines[0]
    if title.startswith("|") or _AUTHORS_RE.fullmatch(title):
        raise ValueError("not a paper card: the first line should be the paper's title")
    b = DraftBuilder(FORMAT, source)
    authors: list[str] = []
    venue = None
    year = None
    repro: dict[str, dict[str, str]] = {}
    in_table = False
    for line in lines[1:]:
        if not in_table:
            m = _AUTHORS_RE.fullmatch(line)
            if m and not authors:
                authors = split_loose_names(m.group(1))
                continue
            if _HEADER_RE.fullmatch(line):
                in_table = True
                continue
            if venue is None and not line.startswith("|") and "|" in line:
                cells = _cells(line)
                venue = cells[0]
                ym = _YEAR_RE.search(venue)
                year = int(ym.group(1)) if ym else None
                unknown = [c for c in cells[1:] if c and c.casefold() not in _LINK_LABELS]
                if unknown:
                    b.warn(f"venue line: could not place {', '.join(repr(short(c, 30)) for c in unknown)}")
                if not venue:
                    venue = None
                continue
            b.warn(f"could not place line: {short(line)!r}")
            continue
        if _SEPARATOR_RE.fullmatch(line):
            continue
        if not line.startswith("|"):
            b.warn(f"could not place line after the table: {short(line)!r}")
            continue
        cells = _cells(line)
        variable = snake_case(cells[0]) if cells else ""
        if not variable:
            b.warn(f"table row without a variable name skipped: {short(line)!r}")
            continue
        if len(cells) < 3:
            b.warn(f"table row '{cells[0]}' is cut short (no evidence)")
        if variable in repro:
            b.warn(f"table row '{cells[0]}' appears twice; kept the first")
            continue
        row = {"result": cells[1] if len(cells) > 1 else "", "evidence": " | ".join(cells[2:])}
        repro[variable] = row
    attrs: dict[str, object] = {}
    if authors:
        attrs["authors"] = authors
    if venue:
        attrs["venue"] = venue
    if year is not None:
        attrs["year"] = year
    if repro:
        attrs["reproducibility"] = repro
    key = b.node("paper:0", "paper", title, attrs=attrs)
    b.authors(key, authors)
    return b.doc
