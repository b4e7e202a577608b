"""Helpers the four parsers share: a draft builder, author-name lists, slugs, short quotes.

Pure functions and one small builder; no database, only the standard library and the domain's
vocabulary.
"""
from __future__ import annotations

import datetime
import re
import unicodedata
from typing import Any

from graph.documents import EdgeDraft, NodeDraft, ParsedDocument
from graph.vocabulary import check_edge

DATE_RE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")


def short(text: str, limit: int = 60) -> str:
    """A one-line quote of ``text``, cut to ``limit`` characters with an ellipsis."""
    s = " ".join(text.split())
    return s if len(s) <= limit else s[: limit - 1].rstrip() + "…"


def slugify(text: str) -> str:
    """Lowercase, accents dropped, runs of anything but letters and digits turned into one hyphen."""
    s = unicodedata.normalize("NFKD", text)
    s = "".join(ch for ch in s if not unicodedata.combining(ch)).lower()
    return re.sub(r"[^0-9a-z]+", "-", s).strip("-")


def snake_case(text: str) -> str:
    return slugify(text).replace("-", "_")


def parse_date(text: str) -> tuple[str, int] | None:
    """``"2024-06-06"`` → ``("2024-06-06", 2024)``; None if it is not a plausible ISO date."""
    m = DATE_RE.fullmatch(text.strip())
    if not m:
        return None
    try:
        parsed = datetime.date(*(int(g) for g in m.groups()))
    except ValueError:
        return None
    return m.group(0), parsed.year


# --- author names ----------------------------------------------------------------------------

# Lowercase words that may sit inside a person's name ("Francesco De Santis", "Ludwig van Beethoven").
NAME_PARTICLES = frozenset(
    {"de", "da", "di", "del", "della", "der", "den", "van", "von", "la", "le", "du", "dos", "das",
     "bin", "ibn", "al", "el", "ten", "ter", "y", "zu"}
)
_INITIAL_RE = re.compile(r"(?:[^\W\d_]\.-?)+", re.UNICODE)  # "J.", "R.", "J.-P."
_ET_AL_RE = re.compile(r",?\s*\bet\s+al\b\.?$", re.IGNORECASE)
_AND_RE = re.compile(r"\s+(?:and|&)\s+", re.IGNORECASE)


def is_initial(token: str) -> bool:
    return bool(_INITIAL_RE.fullmatch(token)) and token[0].isupper()


def is_name_token(token: str) -> bool:
    """A capitalised word that can be part of a person's name: "Goldowsky-Dill", "O'Neil", "L."."""
    if not token:
        return False
    if is_initial(token):
        return True
    if not token[0].isupper():
        return False
    letters = re.sub(r"['’\-]", "", token)
    if not letters.isalpha():
        return False
    # An acronym ("LLM", "SAE") is not a name.
    return not (len(letters) > 1 and letters.isupper())


def _person_tokens(part: str) -> list[str] | None:
    """The tokens of one person's name, or None if ``part`` does not look like a name."""
    tokens = part.split()
    if not 1 <= len(tokens) <= 5:
        return None
    proper = 0
    for t in tokens:
        if t.lower() in NAME_PARTICLES:
            continue
        if not is_name_token(t):
            return None
        proper += 1
    return tokens if proper else None


def parse_author_list(text: str) -> tuple[list[str], bool] | None:
    """Read a line of author names; return (names as "First Last", truncated-by-"et al.") or None.

    Formats understood:

    - ``First Last, First Last and First Last`` (``and`` / ``&`` also separate);
    - ``Last, First, Last, First`` (pairs; recognised because the count of comma-separated parts is
      even and some part is a single word, which a full "First Last" name never is) — normalised to
      ``First Last``;
    - ``Last, First; Last, First`` (semicolons separate people);
    - a trailing ``et al.`` sets the truncated flag.

    None when any part does not look like a person's name, so that a title or a sentence is never
    mistaken for an author list.
    """
    s = " ".join(text.split())
    truncated = False
    m = _ET_AL_RE.search(s)
    if m:
        truncated = True
        s = s[: m.start()].rstrip(" ,")
    if not s:
        return None
    names: list[str] = []
    if ";" in s:
        for chunk in s.split(";"):
            chunk = chunk.strip()
            if not chunk:
                continue
            if "," in chunk:
                last, _, first = chunk.partition(",")
                if _person_tokens(last.strip()) is None or _person_tokens(first.strip()) is None:
                    return None
                names.append(f"{first.strip()} {last.strip()}")
            else:
                if _person_tokens(chunk) is None:
                    return None
                names.append(chunk)
        return (names, truncated) if names else None
    parts = [p.strip() for p in re.split(r",", s)]
    parts = [q.strip() for p in parts for q in _AND_RE.split(p)]
    if any(not p for p in parts):
        return None
    tokenised = [_person_tokens(p) for p in parts]
    if any(t is None for t in tokenised):
        return None
    single = [len([x for x in t if not is_initial(x)]) <= 1 for t in tokenised if t is not None]
    if len(parts) % 2 == 0 and any(single) and "," in s:
        for i in range(0, len(parts), 2):
            names.append(f"{parts[i + 1]} {parts[i]}")
    else:
        names = parts
    return names, truncated


def split_loose_names(text: str) -> list[str]:
    """Split a line that is labelled as authors ("Authors: …") on commas, semicolons and "and"."""
    s = _ET_AL_RE.sub("", " ".join(text.split()))
    return [p.strip() for p in re.split(r"[,;]|\s+and\s+|\s+&\s+", s) if p.strip()]


# --- building a document ------------------------------------------------------------------------


class DraftBuilder:
    """Collect nodes, edges and warnings for one document, in order, without duplicates.

    Every edge is checked against the vocabulary before it is kept, so a parser never returns an
    edge that the store would refuse.
    """

    def __init__(self, fmt: str, source: str) -> None:
        self.doc = ParsedDocument(format=fmt, source=source)
        self._kinds: dict[str, str] = {}
        self._edges: set[tuple[str, str, str]] = set()

    def has(self, key: str) -> bool:
        return key in self._kinds

    def kind_of(self, key: str) -> str:
        return self._kinds[key]

    def node(self, key: str, kind: str, title: str, description: str = "",
             attrs: dict[str, Any] | None = None, preferred_id: str | None = None) -> str:
        """Add a node unless its key is already there; return the key."""
        if key not in self._kinds:
            self._kinds[key] = kind
            self.doc.nodes.append(NodeDraft(key=key, kind=kind, title=title.strip(),
                                            description=description.strip(), attrs=dict(attrs or {}),
                                            preferred_id=preferred_id))
        return key

    @staticmethod
    def allowed(edge_type: str, source_kind: str, target_kind: str) -> bool:
        try:
            check_edge(edge_type, source_kind, target_kind)
        except ValueError:
            return False
        return True

    def edge(self, source: str, edge_type: str, target: str, attrs: dict[str, Any] | None = None) -> bool:
        """Add an edge between two known keys; False (and a warning) if the vocabulary refuses it."""
        try:
            check_edge(edge_type, self._kinds[source], self._kinds[target])
        except ValueError as exc:
            self.warn(f"skipped edge {source} -{edge_type}-> {target}: {exc}")
            return False
        ident = (source, edge_type, target)
        if ident in self._edges:
            return False
        self._edges.add(ident)
        self.doc.edges.append(EdgeDraft(source=source, type=edge_type, target=target, attrs=dict(attrs or {})))
        return True

    def authors(self, paper_key: str, names: list[str]) -> None:
        """One author node per name and ``paper -authored_by-> author`` with its 0-based position."""
        for position, name in enumerate(names):
            key = self.node(f"author:{name}", "author", name)
            self.edge(paper_key, "authored_by", key, {"position": position})

    def warn(self, message: str) -> None:
        self.doc.warnings.append(" ".join(message.split()))
