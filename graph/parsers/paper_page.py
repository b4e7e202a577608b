"""Parse a scraped paper page (seed ``002_…``, an ArxivLens page) among its page noise.

The page is a run of headings, each followed by its content lines::

    Title / Authors / Abstract / Categories / Published / Citations / Similar Papers

"Abstract" lines are joined into one paragraph; "Categories" (``cs.LG cs.CL``) become ``category``
nodes of the ``arxiv`` taxonomy; "Similar Papers" starts with ``Found N papers`` run together with
the first title, then entries of title, an optional author line (``A, B, C et al.``) and a date.
"""
from __future__ import annotations

import re

from graph.documents import ParsedDocument
from graph.parsers.common import DraftBuilder, parse_author_list, parse_date, short, split_loose_names
from graph.parsers.noise import content_lines

FORMAT = "paper-page"

HEADINGS = ("Title", "Authors", "Abstract", "Categories", "Published", "Citations", "Similar Papers")
_HEADING_BY_FOLD = {h.casefold(): h for h in HEADINGS}
# "Found 4 papers" runs into the first title: "Found 4 papersInterpretability Illusions…".
_FOUND_RE = re.compile(r"[Ff]ound\s+(\d{1,6})\s+(papers?)(.*)")
_CATEGORY_RE = re.compile(r"[a-z][a-z-]*(?:\.[A-Za-z][A-Za-z-]*)?")
_INT_RE = re.compile(r"\d{1,9}")


def looks_like(lines: list[str]) -> bool:
    """At least two of the page's headings, one of them "Title"."""
    present = {_HEADING_BY_FOLD[line.casefold()] for line in lines if line.casefold() in _HEADING_BY_FOLD}
    return "Title" in present and len(present) >= 2


def parse(text: str, source: str) -> ParsedDocument:
    lines = content_lines(text)
    if not looks_like(lines):
        raise ValueError("not a paper page: expected a 'Title' heading and at least one of "
                         "'Abstract', 'Authors', 'Categories', 'Published', 'Similar Papers'")
    b = DraftBuilder(FORMAT, source)
    sections: dict[str, list[str]] = {}
    current = None
    stray: list[str] = []
    for line in lines:
        heading = _HEADING_BY_FOLD.get(line.casefold())
        if heading is not None and heading not in sections:
            current = heading
            sections[current] = []
        elif current is None:
            stray.append(line)
        else:
            sections[current].append(line)
    if stray:
        b.warn(f"could not place {len(stray)} line(s) before the first heading: "
               + "; ".join(repr(short(s, 40)) for s in stray[:3]))

    title = " ".join(sections.get("Title", []))
    if not title:
        raise ValueError("paper page has no title under its 'Title' heading")
    attrs: dict[str, object] = {}

    authors: list[str] = []
    author_lines = sections.get("Authors", [])
    if author_lines:
        joined = ", ".join(author_lines)
        parsed = parse_author_list(joined)
        if parsed is not None:
            authors, truncated = parsed
        else:
            authors, truncated = split_loose_names(joined), bool(re.search(r"\bet al\b", joined))
        if authors:
            attrs["authors"] = authors
        if truncated:
            attrs["authors_truncated"] = True

    categories: list[str] = []
    for line in sections.get("Categories", []):
        for token in re.split(r"[\s,;]+", line):
            if not token:
                continue
            if _CATEGORY_RE.fullmatch(token):
                if token not in categories:
                    categories.append(token)
            else:
                b.warn(f"could not read category {short(token, 30)!r}")
    if categories:
        attrs["categories"] = categories

    published = sections.get("Published", [])
    if published:
        date = parse_date(published[0])
        if date is None:
            b.warn(f"could not read the published date {short(published[0], 30)!r}")
        else:
            attrs["published"], attrs["year"] = date
        for extra in published[1:]:
            b.warn(f"could not place line under 'Published': {short(extra)!r}")

    citations = sections.get("Citations", [])
    if citations:
        if _INT_RE.fullmatch(citations[0].replace(",", "")):
            attrs["citations"] = int(citations[0].replace(",", ""))
        else:
            b.warn(f"could not read the citation count {short(citations[0], 30)!r}")
        for extra in citations[1:]:
            b.warn(f"could not place line under 'Citations': {short(extra)!r}")
    attrs["source"] = FORMAT

    main = b.node("paper:0", "paper", title, " ".join(sections.get("Abstract", [])), attrs)
    b.authors(main, authors)
    for cat in categories:
        key = b.node(f"category:{cat}", "category", cat, attrs={"taxonomy": "arxiv"})
        b.edge(main, "in_category", key, {"confidence": 1.0, "taxonomy": "arxiv"})

    if "Similar Papers" in sections:
        _similar_papers(b, main, sections["Similar Papers"])
    return b.doc


class _Entry:
    def __init__(self, title: str) -> None:
        self.title = title
        self.authors: list[str] | None = None
        self.truncated = False
        self.date: tuple[str, int] | None = None


def _similar_papers(b: DraftBuilder, main: str, lines: list[str]) -> None:
    expected = None
    lines = list(lines)
    if lines:
        m = _FOUND_RE.fullmatch(lines[0])
        if m:
            expected = int(m.group(1))
            rest = m.group(3)
            if expected == 1 and m.group(2) == "papers":  # "Found 1 paper" + a title starting with "s"
                rest = "s" + rest
            rest = rest.strip()
            lines = ([rest] if rest else []) + lines[1:]
    entries: list[_Entry] = []
    current: _Entry | None = None
    for idx, line in enumerate(lines):
        date = parse_date(line)
        if date is not None:
            if current is None:
                b.warn(f"similar papers: date {line} follows no title")
                continue
            current.date = date
            entries.append(current)
            current = None
            continue
        if current is None:
            current = _Entry(line)
            continue
        nxt = lines[idx + 1] if idx + 1 < len(lines) else ""
        parsed = parse_author_list(line) if current.authors is None else None
        if parsed is not None and ("," in line or parsed[1] or parse_date(nxt) is not None):
            current.authors, current.truncated = parsed
            continue
        b.warn(f"similar paper has no date: {short(current.title)!r}")
        entries.append(current)
        current = _Entry(line)
    if current is not None:
        b.warn(f"similar paper has no date: {short(current.title)!r}")
        entries.append(current)

    for rank, entry in enumerate(entries, start=1):
        attrs: dict[str, object] = {}
        if entry.authors:
            attrs["authors"] = entry.authors
        if entry.truncated:
            attrs["authors_truncated"] = True
        if entry.date is not None:
            attrs["published"], attrs["year"] = entry.date
        key = b.node(f"paper:similar:{rank}", "paper", entry.title, attrs=attrs)
        b.authors(key, entry.authors or [])
        b.edge(main, "listed_similar", key, {"rank": rank})
    if expected is not None and expected != len(entries):
        b.warn(f"'Found {expected} papers' but {len(entries)} similar papers were read")
    elif expected is None and entries:
        b.warn("similar papers: no 'Found N papers' line, count not checked")
