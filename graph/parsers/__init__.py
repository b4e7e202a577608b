"""Parsers for the four document formats a user pastes or scrapes (DESIGN.md §3).

Each turns text into a :class:`graph.documents.ParsedDocument` — draft nodes and edges with
document-local keys, and warnings for text it could not place. Parsers are pure: no database, no
heavy imports. Malformed input raises :class:`ValueError` with a one-line message, never another
exception type.

>>> doc = parse(text, source="000_finding.txt")          # format detected
>>> doc = parse(text, source="pasted text", fmt="paper-card")
"""
from __future__ import annotations

import unicodedata

from graph.documents import ParsedDocument
from graph.parsers import abstract_dump, finding_page, paper_card, paper_page
from graph.parsers.noise import content_lines

FORMATS: tuple[str, ...] = ("finding-page", "paper-card", "paper-page", "abstract-dump")

# In detection order: the most specific signature first.
_PARSERS = {
    "finding-page": finding_page,
    "paper-card": paper_card,
    "paper-page": paper_page,
    "abstract-dump": abstract_dump,
}


def _check_text(text: object) -> str:
    """Return the text, or raise ValueError if it is empty, not text, or looks binary."""
    if isinstance(text, (bytes, bytearray)):
        try:
            text = bytes(text).decode("utf-8")
        except UnicodeDecodeError:
            raise ValueError("the document is not UTF-8 text") from None
    if not isinstance(text, str):
        raise ValueError(f"expected the document as text, got {type(text).__name__}")
    if not text.strip():
        raise ValueError("the document is empty")
    if "\x00" in text:
        raise ValueError("the document looks like binary data, not text")
    odd = sum(
        1 for ch in text
        if ch == "\ufffd" or (unicodedata.category(ch) in ("Cc", "Cs", "Co", "Cn") and ch not in "\t\n\r")
    )
    if odd > max(2, len(text) // 20):
        raise ValueError("the document looks like binary data, not text")
    return text


def detect_format(text: str) -> str:
    """Name the format of ``text`` (one of :data:`FORMATS`); ValueError if it matches none."""
    text = _check_text(text)
    lines = content_lines(text)
    if not lines:
        raise ValueError("the document holds only page noise (banners, cookie notices, navigation)")
    for name, module in _PARSERS.items():
        if module.looks_like(lines):
            return name
    raise ValueError(
        "unrecognised document format: expected a finding page, a paper card, a paper page or an abstract dump"
    )


def parse(text: str, source: str, fmt: str = "auto") -> ParsedDocument:
    """Parse ``text`` in format ``fmt`` ("auto" detects it); ``source`` names the document."""
    if fmt != "auto" and fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; expected 'auto' or one of: {', '.join(FORMATS)}")
    text = _check_text(text)
    if fmt == "auto":
        fmt = detect_format(text)
    return _PARSERS[fmt].parse(text, source)


__all__ = ["FORMATS", "detect_format", "parse"]
