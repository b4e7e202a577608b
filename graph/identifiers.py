"""External identifiers of papers, normalised: arXiv ids and DOIs.

A paper is one node however it arrives (an arXiv id on the command line, a BibTeX export, a metadata
snapshot, a pasted page), so its identifiers are normalised before they are compared or stored:

- arXiv: new-style ``2401.01234`` (``YYMM.NNNN`` or ``YYMM.NNNNN``) and old-style ``hep-th/9901001``
  (``archive[.SUBJ]/YYMMNNN``), with any version (``v2``), ``arXiv:`` prefix or ``arxiv.org/abs/`` URL
  taken off; the version is kept apart (:func:`split_arxiv_id`).
- DOI: ``10.<registrant>/<suffix>``, lower-cased (DOIs are case-insensitive), without ``doi:`` or the
  ``https://doi.org/`` resolver.

The store indexes them (table ``identifiers``, migration 0009, whose backfill repeats these rules), so a
lookup by identifier is an indexed read. :func:`graph.core.create_node` and :func:`graph.bulk.load` index the
arXiv id and DOI of every paper they write; :mod:`graph.papers` does the same for papers it fills in.
"""
from __future__ import annotations

import re
from typing import Any

_NEW_STYLE = re.compile(r"(\d{4}\.\d{4,5})(v\d+)?")
_OLD_STYLE = re.compile(r"([a-z][a-z\-]*(?:\.[a-z]{2})?/\d{7})(v\d+)?", re.IGNORECASE)
_ARXIV_URL = re.compile(r"^(?:https?://)?(?:www\.|export\.)?arxiv\.org/(?:abs|pdf)/", re.IGNORECASE)
_DOI_PREFIX = re.compile(r"^(?:https?://)?(?:dx\.)?doi\.org/|^doi:\s*", re.IGNORECASE)
_DOI = re.compile(r"10\.\d{4,9}/\S+")
SCHEMES = ("arxiv", "doi")


def split_arxiv_id(text: Any) -> tuple[str, int | None] | None:
    """``"arXiv:2401.01234v2"`` → ``("2401.01234", 2)``; ``"hep-th/9901001"`` → ``("hep-th/9901001", None)``;
    None when ``text`` is not an arXiv id."""
    if not isinstance(text, str):
        return None
    v = _ARXIV_URL.sub("", text.strip())
    v = re.sub(r"^arxiv:\s*", "", v, flags=re.IGNORECASE)
    v = v[:-4] if v.lower().endswith(".pdf") else v
    for pattern in (_NEW_STYLE, _OLD_STYLE):
        m = pattern.fullmatch(v)
        if m:
            base = m.group(1)
            if pattern is _OLD_STYLE:  # the archive is lower case, a subject class upper case: math.AG/0601001
                archive, _, number = base.partition("/")
                name, dot, subject = archive.partition(".")
                base = f"{name.lower()}{dot}{subject.upper()}/{number}"
            return base, int(m.group(2)[1:]) if m.group(2) else None
    return None


def normalize_arxiv_id(text: Any) -> str | None:
    """The arXiv id without version or prefix, or None when ``text`` is not one."""
    parts = split_arxiv_id(text)
    return parts[0] if parts else None


def normalize_doi(text: Any) -> str | None:
    """The DOI lower-cased without resolver or ``doi:`` prefix, or None when ``text`` is not one."""
    if not isinstance(text, str):
        return None
    v = _DOI_PREFIX.sub("", text.strip()).rstrip(".").lower()
    return v if _DOI.fullmatch(v) and len(v) <= 255 else None


def identifiers_in(attrs: dict[str, Any]) -> list[tuple[str, str]]:
    """The (scheme, value) pairs a paper's attrs hold (``arxiv_id``, or ``arxiv`` as the curated seed names
    it; ``doi``), normalised."""
    out = []
    arxiv = normalize_arxiv_id(attrs.get("arxiv_id")) or normalize_arxiv_id(attrs.get("arxiv"))
    if arxiv:
        out.append(("arxiv", arxiv))
    doi = normalize_doi(attrs.get("doi"))
    if doi:
        out.append(("doi", doi))
    return out
