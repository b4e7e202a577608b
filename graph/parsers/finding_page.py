"""Parse a node page as the explorer prints it (seed ``000_…``): a finding, its source paper, its
typed neighbours and the entries listed as similar.

Layout, one field per line, fields running together without separators::

    finding                                   <- kind
    active                                    <- status
    finding:<slug><Title>                     <- id and title, run together
    <description>
    Source paper
    extracted_from(2025) · Author · Author …
    Neighborhood — ranked by edge-count       <- furniture
    Claims (1)                                <- a neighbour group and its count
    claim                                     <- the kind of the entries that follow
    - <claim text><edge types><claim description>
    Related by similarity (8)
    cosine ≥ 0.65 · no typed edge…            <- furniture
    - <title><kind><cosine><description>

What splits the run-together fields:

- slug / title: the slug is ``slugify(title)``; the split is the first point where the text after it
  slugifies to the text before it (or, for a cut slug, starts with it);
- claim text / edge types / description: the longest run of edge-vocabulary names, preferring a run
  glued to the text on both sides (``accuracyassociated_withsupportsCentral``) over a plain word;
- title / kind / cosine / description: a node kind immediately followed by a number in [0, 1],
  preferring one glued to the title (``datasetfinding0.785``).

Similar entries cut short (no kind and score) are kept as far as they go: a ``finding`` with
``attrs["truncated"] = True`` and a warning. The source paper is not named on the page, so the
paper draft carries ``match_by_authors_year`` and a title that says it is untitled; ingest matches it
to a stored paper with the same year and authors.
"""
from __future__ import annotations

import functools
import re

from graph.documents import ParsedDocument
from graph.parsers.common import DraftBuilder, short, slugify
from graph.parsers.noise import content_lines
from graph.vocabulary import EDGE_TYPES, NODE_KINDS, STATUSES

FORMAT = "finding-page"

_KINDS_ALT = "|".join(sorted(NODE_KINDS, key=len, reverse=True))
_KIND_SCORE_RE = re.compile(rf"({_KINDS_ALT})(-?[01](?:\.\d{{1,6}})?)")
_SOURCE_LINE_RE = re.compile(r"([a-z_]+)\(\s*(\d{4})?\s*\)\s*(.*)")
_SLUG_CHARS_RE = re.compile(r"[a-z0-9-]+")

_SIMILAR_HEADING = "related by similarity"
_MAX_ID_LINE = 4000  # characters; a longer "<kind>:<slug><Title>" line is not a page header


def looks_like(lines: list[str]) -> bool:
    """First line a node kind, and one of the next three lines ``<kind>:…``."""
    if not lines or lines[0] not in NODE_KINDS:
        return False
    return any(line.startswith(f"{lines[0]}:") for line in lines[1:4])


def split_slug_title(text: str) -> tuple[str, str] | None:
    """``"for-small-cl…-7b-llmFor small CL … 7B LLM"`` → (slug, title); None if no split fits."""
    m = _SLUG_CHARS_RE.match(text)
    if not m or len(text) > _MAX_ID_LINE:
        return None
    longest = m.end()
    prefix_fit = None
    for i in range(1, min(longest, len(text) - 1) + 1):
        # The title slugifies to the slug, so it starts with the slug's first letter (or a non-letter).
        if text[i].isalnum() and text[i].lower() != text[0]:
            continue
        slug, title = text[:i].strip("-"), text[i:].strip()
        if not slug or not title:
            continue
        slugged = slugify(title)
        if slugged == slug:
            return slug, title
        if prefix_fit is None and len(slug) >= 8 and slugged.startswith(slug):
            prefix_fit = (slug, title)
    return prefix_fit


def count_heading(line: str) -> tuple[str, int] | None:
    """``"Claims (1)"`` → ``("Claims", 1)``; None for any other line."""
    if not line.endswith(")") or line.startswith("- "):
        return None
    name, _, number = line[:-1].rpartition("(")
    name = name.strip()
    if not name or not number.isdigit() or not number.isascii() or len(number) > 6:
        return None
    return name, int(number)


def _kind_from_group(name: str) -> str | None:
    """"Claims" → claim, "Categories" → category; None if the heading names no node kind."""
    word = name.strip().lower()
    for cand in (word, word.removesuffix("s"), word.removesuffix("es"), word.removesuffix("ies") + "y"):
        if cand in NODE_KINDS:
            return cand
    return None


@functools.lru_cache(maxsize=None)
def _edge_patterns(kind_a: str, kind_b: str) -> tuple[re.Pattern[str], re.Pattern[str]]:
    """Regexes for a run of edge-type names, and for one name, limited to the types that can join
    the two kinds (either way), so that a word such as "measures" in a claim's text is not taken
    for an edge type that could never join a finding and a claim."""
    names = [t for t in EDGE_TYPES
             if DraftBuilder.allowed(t, kind_a, kind_b) or DraftBuilder.allowed(t, kind_b, kind_a)]
    alternation = "|".join(re.escape(t) for t in sorted(names or EDGE_TYPES, key=len, reverse=True))
    return re.compile(rf"(?:{alternation})+"), re.compile(alternation)


def _best_match(matches: list[re.Match[str]], body: str) -> re.Match[str] | None:
    """The match glued to the text before it (and after it) if any, else the first one with text before it."""
    def glued_left(m: re.Match[str]) -> bool:
        return m.start() > 0 and not body[m.start() - 1].isspace()

    def glued_right(m: re.Match[str]) -> bool:
        return m.end() < len(body) and not body[m.end()].isspace()

    candidates = [m for m in matches if m.start() > 0]
    for test in (lambda m: glued_left(m) and glued_right(m), glued_left, lambda m: True):
        for m in candidates:
            if test(m):
                return m
    return None


class _Section:
    def __init__(self, heading: str, kind: str, expected: int | None, similar: bool) -> None:
        self.heading = heading
        self.kind = kind
        self.expected = expected
        self.similar = similar
        self.found = 0


def parse(text: str, source: str) -> ParsedDocument:
    lines = content_lines(text)
    if not looks_like(lines):
        raise ValueError("not a finding page: expected a node kind on the first line and "
                         "'<kind>:<slug><Title>' after it")
    b = DraftBuilder(FORMAT, source)
    kind = lines[0]
    i = 1
    status = None
    if lines[i] in STATUSES:
        status = lines[i]
        i += 1
    if i >= len(lines) or not lines[i].startswith(f"{kind}:"):
        raise ValueError(f"not a finding page: expected '{kind}:<slug><Title>' after the kind and status lines")
    id_line = lines[i][len(kind) + 1:]
    i += 1
    split = split_slug_title(id_line)
    if split is None:
        raise ValueError(f"not a finding page: cannot split the slug from the title in {short(id_line)!r}")
    slug, title = split
    description = ""
    if i < len(lines) and not _is_heading(lines[i]) and not lines[i].startswith("- "):
        description = lines[i]
        i += 1
    attrs = {"status": status} if status else {}
    if status is None:
        b.warn(f"no status line on the {kind} page; expected one of {', '.join(STATUSES)}")
    main = b.node(f"{kind}:page", kind, title, description, attrs, preferred_id=f"{kind}:{slug}")

    section: _Section | str | None = None  # "source", a _Section, or None before any heading
    sources = 0
    neighbours = 0  # entries of all neighbour groups, for unique keys
    similars = 0

    def close(sec: object) -> None:
        if isinstance(sec, _Section) and sec.expected is not None and sec.expected != sec.found:
            b.warn(f"'{sec.heading}' says {sec.expected} entries but {sec.found} were found")

    for line in lines[i:]:
        if line.lower() == "source paper":
            close(section)
            section = "source"
            continue
        heading = count_heading(line)
        if heading is not None:
            close(section)
            name, expected = heading
            similar = name.lower().startswith(_SIMILAR_HEADING)
            group_kind = "finding" if similar else (_kind_from_group(name) or "claim")
            section = _Section(line, group_kind, expected, similar)
            continue
        if section == "source":
            if _source_paper(b, main, line, sources):
                sources += 1
            else:
                b.warn(f"could not place line in 'Source paper': {short(line)!r}")
            continue
        if isinstance(section, _Section):
            if not section.similar and line in NODE_KINDS:
                section.kind = line
                continue
            if line.startswith("- ") or line == "-":
                section.found += 1
                if section.similar:
                    _similar_entry(b, main, line[1:].strip(), similars)
                    similars += 1
                else:
                    _neighbour_entry(b, main, line[1:].strip(), section.kind, neighbours)
                    neighbours += 1
                continue
        b.warn(f"could not place line: {short(line)!r}")
    close(section)
    return b.doc


def _is_heading(line: str) -> bool:
    return line.lower() == "source paper" or count_heading(line) is not None


def _source_paper(b: DraftBuilder, main: str, line: str, index: int) -> bool:
    """``extracted_from(2025) · A · B`` → an untitled paper draft matched later by authors and year."""
    m = _SOURCE_LINE_RE.fullmatch(line)
    if not m or m.group(1) not in EDGE_TYPES:
        return False
    edge_type, year_text, rest = m.group(1), m.group(2), m.group(3)
    authors = [a.strip() for a in rest.split("·") if a.strip()]
    year = int(year_text) if year_text else None
    if year is None and not authors:
        b.warn(f"source paper gives neither year nor authors, skipped: {short(line)!r}")
        return True
    title = "Untitled paper"
    if year is not None:
        title += f" ({year})"
    if authors:
        title += f" by {authors[0]}" + (" et al." if len(authors) > 1 else "")
    attrs: dict[str, object] = {}
    if year is not None:
        attrs["year"] = year
    if authors:
        attrs["authors"] = authors
    attrs["match_by_authors_year"] = True
    key = "paper:source" if index == 0 else f"paper:source:{index}"
    b.node(key, "paper", title, attrs=attrs)
    b.authors(key, authors)
    b.edge(main, edge_type, key, {"year": year} if year is not None else {})
    return True


def _neighbour_entry(b: DraftBuilder, main: str, body: str, kind: str, index: int) -> None:
    """``<text><edge types><description>`` → a node of ``kind`` and one typed edge per edge type."""
    main_kind = b.kind_of(main)
    run_re, name_re = _edge_patterns(main_kind, kind)
    m = _best_match(list(run_re.finditer(body)), body)
    if m is None:
        b.warn(f"could not split entry (no edge type found), skipped: {short(body)!r}")
        return
    title, description = body[: m.start()].strip(), body[m.end():].strip()
    types = name_re.findall(m.group(0))
    key = b.node(f"{kind}:{index}", kind, title, description)
    for t in types:
        if b.allowed(t, main_kind, kind):
            b.edge(main, t, key)
        elif b.allowed(t, kind, main_kind):
            b.edge(key, t, main)
        else:
            b.warn(f"edge type {t} cannot join {main_kind} and {kind}; skipped for {short(title, 40)!r}")


def _similar_entry(b: DraftBuilder, main: str, body: str, index: int) -> None:
    """``<title><kind><cosine><description>`` → a node of that kind and ``listed_similar`` with the score."""
    m = _best_match(list(_KIND_SCORE_RE.finditer(body)), body)
    score = None
    if m is not None:
        try:
            score = float(m.group(2))
        except ValueError:  # pragma: no cover - the pattern only admits numbers
            score = None
    if m is None or score is None or not -1.0 <= score <= 1.0 or not body[: m.start()].strip():
        if not body:
            b.warn("empty similar entry skipped")
            return
        key = b.node(f"finding:similar:{index}", "finding", body, attrs={"truncated": True})
        b.edge(main, "listed_similar", key, {"truncated": True})
        b.warn(f"similar entry cut short (no kind or score), kept as a truncated finding: {short(body)!r}")
        return
    kind = m.group(1)
    title, description = body[: m.start()].strip(), body[m.end():].strip()
    if not b.allowed("listed_similar", b.kind_of(main), kind):
        b.warn(f"listed_similar cannot join {b.kind_of(main)} and {kind}; skipped {short(title)!r}")
        return
    key = b.node(f"{kind}:similar:{index}", kind, title, description)
    b.edge(main, "listed_similar", key, {"score": score})
