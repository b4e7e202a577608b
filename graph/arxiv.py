"""One paper from the arXiv API (``findings add paper --arxiv ID``), as a :class:`graph.papers.PaperRecord`.

The API is queried directly with the standard library (``urllib`` and ``xml.etree``): one GET of
``https://export.arxiv.org/api/query?id_list=ID`` answers an Atom feed whose ``entry`` holds the title,
``summary`` (abstract), ``author/name``, ``published`` and ``updated`` dates, ``category`` terms
(``arxiv:primary_category`` first), ``arxiv:doi`` and ``arxiv:journal_ref``
(https://info.arxiv.org/help/api/user-manual.html, section 5). The ``arxiv`` package wraps the same call
with paging, rate limiting and retries a single lookup does not need, and would add a dependency (and
feedparser) for one request.

``FINDINGS_ARXIV_API`` replaces the query URL (tests point it at a server on 127.0.0.1); the fetcher is
injectable too. A network failure is :class:`ArxivUnavailable` (a ValueError: one line, exit status 1),
raised before anything is written.
"""
from __future__ import annotations

import os
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from urllib.parse import quote, urlsplit

from graph.identifiers import split_arxiv_id
from graph.papers import PaperRecord, make_record
from graph.parsers.latex import latex_to_text

API_URL = "https://export.arxiv.org/api/query"
API_ENV = "FINDINGS_ARXIV_API"
TIMEOUT_S = 20
NS = {"atom": "http://www.w3.org/2005/Atom", "arxiv": "http://arxiv.org/schemas/atom",
      "opensearch": "http://a9.com/-/spec/opensearch/1.1/"}

Fetcher = Callable[[str], bytes]


class ArxivUnavailable(ValueError):
    """The arXiv API could not be reached or did not answer."""


def api_url(arxiv_id: str) -> str:
    base = os.environ.get(API_ENV) or API_URL
    return f"{base}?id_list={quote(arxiv_id, safe='/.')}&max_results=1"


def http_fetch(url: str) -> bytes:
    """GET ``url``; :class:`ArxivUnavailable` naming the network problem when it fails."""
    import socket
    import urllib.error
    import urllib.request

    host = urlsplit(url).netloc or url
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_S) as resp:  # noqa: S310 - an https/http URL we built
            return resp.read()
    except urllib.error.HTTPError as exc:
        raise ArxivUnavailable(f"the arXiv API at {host} answered HTTP {exc.code} ({exc.reason}); "
                               "nothing was changed") from None
    except urllib.error.URLError as exc:
        raise ArxivUnavailable(f"could not reach the arXiv API at {host}: {exc.reason}; nothing was changed") \
            from None
    except (socket.timeout, TimeoutError):
        raise ArxivUnavailable(f"the arXiv API at {host} did not answer within {TIMEOUT_S} s; nothing was changed") \
            from None
    except OSError as exc:
        raise ArxivUnavailable(f"could not reach the arXiv API at {host}: {exc}; nothing was changed") from None


def _text(el: ET.Element | None) -> str:
    """An element's text on one line, LaTeX accents (which arXiv keeps in some titles and names) as Unicode."""
    return latex_to_text(el.text or "") if el is not None else ""


def parse_feed(xml: bytes | str, wanted: str) -> PaperRecord:
    """The paper ``wanted`` (a normalised arXiv id) from an API answer; ValueError when it is not there."""
    try:
        root = ET.fromstring(xml)
    except ET.ParseError as exc:
        raise ValueError(f"the arXiv API's answer is not an Atom feed ({exc})") from None
    for entry in root.findall("atom:entry", NS):
        entry_id = _text(entry.find("atom:id", NS))
        if "/api/errors" in entry_id:
            raise ValueError(f"the arXiv API refused the id {wanted!r}: {_text(entry.find('atom:summary', NS))}")
        parts = split_arxiv_id(re.sub(r"^https?://arxiv\.org/abs/", "", entry_id))
        if parts is None or parts[0] != wanted:
            continue
        return _record(entry, parts)
    raise ValueError(f"arXiv has no paper with the id {wanted!r}")


def _record(entry: ET.Element, parts: tuple[str, int | None]) -> PaperRecord:
    arxiv_id, version = parts
    primary = entry.find("arxiv:primary_category", NS)
    cats = [primary.get("term", "")] if primary is not None else []
    cats += [c.get("term", "") for c in entry.findall("atom:category", NS)]
    published = _text(entry.find("atom:published", NS))[:10] or None
    updated = _text(entry.find("atom:updated", NS))[:10] or None
    attrs = {"published": published, "updated": updated, "year": int(published[:4]) if published else None,
             "arxiv_version": version, "journal_ref": _text(entry.find("arxiv:journal_ref", NS)),
             "url": f"https://arxiv.org/abs/{arxiv_id}"}
    # arXiv's category terms include ACM and MSC classes ("I.2.6", "68T05"): only arXiv's own are categories
    cats = [c for c in cats if re.fullmatch(r"[a-z][a-z\-]*(?:\.[A-Za-z\-]{1,12})?", c)]
    rec, _ = make_record(f"arXiv {arxiv_id}", _text(entry.find("atom:title", NS)),
                         [_text(a.find("atom:name", NS)) for a in entry.findall("atom:author", NS)],
                         _text(entry.find("atom:summary", NS)), cats, arxiv_id,
                         _text(entry.find("arxiv:doi", NS)) or None, attrs)
    if rec is None:
        raise ValueError(f"the arXiv API gave no title for {arxiv_id!r}")
    return rec


def fetch_paper(text: str, fetch: Fetcher | None = None) -> PaperRecord:
    """The paper with arXiv id ``text`` (old or new style, any version), from the API."""
    parts = split_arxiv_id(text)
    if parts is None:
        raise ValueError(f"not an arXiv id: {text!r} (expected e.g. 2401.01234, 2401.01234v2 or hep-th/9901001)")
    return parse_feed((fetch or http_fetch)(api_url(parts[0])), parts[0])
