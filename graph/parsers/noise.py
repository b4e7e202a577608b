"""Page noise: the lines a scraped or pasted page carries that say nothing about the graph.

Banners ("Join ArxivLens…"), PDF-viewer chatter ("Loading PDF...", "Page of -"), cookie notices,
comment-box messages ("Comment Rejected", "Replies (0)"), navigation tabs ("Paper Info",
"Comments", "Similar", "arXiv Link") and node-page furniture ("Neighborhood — ranked by
edge-count", "cosine ≥ 0.65 · no typed edge…"). Parsers drop these lines silently: skipped noise is
not a warning. Text that is not noise and that a parser cannot place is a warning.

Matching is on the whole stripped line, case-insensitively, so a real sentence that merely contains
one of these words is never dropped.
"""
from __future__ import annotations

import re

# Lines that are noise when they are the whole line.
_EXACT: frozenset[str] = frozenset(
    s.casefold()
    for s in (
        "Page of -",
        "Loading PDF...",
        "Loading PDF…",
        "Loading...",
        "Paper Info",
        "Comments",
        "Similar",
        "arXiv Link",
        "PDF",
        "Learn more",
        "Comment Rejected",
        "Accept",
        "Accept all",
        "Got it",
        "Share",
    )
)

# Lines that are noise when the whole line matches one of these.
_PATTERNS: tuple[re.Pattern[str], ...] = tuple(
    re.compile(p, re.IGNORECASE)
    for p in (
        r"join arxivlens\b.*",
        r"page\s*\d*\s*of\s*\d*\s*-?",
        r"loading pdf\W*",
        r"failed to load pdf\b.*",
        r"this website uses cookies\b.*",
        r"we use cookies\b.*",
        r"your comment contains inappropriate language\b.*",
        r"(?:replies|comments)\s*\(\d+\)",
        r"someone just found a breakthrough paper\b.*",
        # Node-page furniture (the finding page, seed 000).
        r"neighbou?rhood\s*[—–-]+\s*ranked by edge[- ]count",
        r"cosine\s*(?:≥|>=|>)\s*[0-9.]+\s*·?\s*no typed edge.*",
    )
)


def is_noise(line: str) -> bool:
    """True when the whole (stripped) line is page noise."""
    s = line.strip()
    if not s:
        return False
    if s.casefold() in _EXACT:
        return True
    return any(p.fullmatch(s) for p in _PATTERNS)


def content_lines(text: str) -> list[str]:
    """The document's lines, stripped, without blank lines and without page noise."""
    out = []
    for raw in text.splitlines():
        s = raw.strip()
        if s and not is_noise(s):
            out.append(s)
    return out
