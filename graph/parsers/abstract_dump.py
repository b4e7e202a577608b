"""Parse an abstract dump (seed ``003_…``): papers one after another, each followed by tag lines.

Per paper::

    <Title>                      (authors may trail the title on this line)
    <authors>                    (optional: "Last, First, Last, First" or "First Last, First Last")
    <abstract, one long line>
    - A > B > C (0.13)           (tag lines: places, then document types, then topics)
    - (4 more...)                (more tags of the taxonomy just listed)

How lines are told apart (a small state machine, see :func:`parse`):

- a *tag* starts with ``- `` and ends with ``(<confidence>)``; its taxonomy is ``places`` when the path
  starts with a continent, ``document_types`` when it starts with a known document type
  (:data:`DOCUMENT_TYPES`), else ``topics``. Tags come in blocks ordered places → document types →
  topics; a tag whose taxonomy comes before the previous tag's starts a new block. A block belongs to
  the paper whose abstract it directly follows; a block that follows no abstract (the dump was cut)
  is kept out of every paper and reported as a warning.
- a *title* starts with a capital letter or a digit, is at most 40 words, is not one sentence after
  another, and is not a section heading (``A Appendix``, ``A.1 Notation…``, ``3.2 Results``).
- an *authors* line right after a title is a comma-separated list of names (see
  :func:`graph.parsers.common.parse_author_list`).
- an *abstract* is the next line after the title (and authors).
- anything else (a cut fragment at the start, a line after an abstract that is not a title) cannot
  be placed: it is reported, never made into a paper.

Authors on the title's line ("… Dictionary Learning Dan Braun Jordan Taylor …") are split off by
:func:`split_trailing_names`: the longest trailing run of capitalised name-like words, none of which
occurs (case-insensitively, also without a plural ``s`` and by hyphen part) as a word of the abstract
and none a common title word, taken in pairs "First Last". Title words usually recur in the
abstract ("Learning" → "learning"); people's names do not.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from graph.documents import ParsedDocument
from graph.parsers.common import DraftBuilder, is_initial, is_name_token, parse_author_list, short
from graph.parsers.noise import content_lines

FORMAT = "abstract-dump"

TAXONOMIES = ("places", "document_types", "topics")
CONTINENTS = frozenset({"North America", "South America", "Europe", "Asia", "Africa", "Oceania", "Antarctica"})
# First segments of the document-type taxonomy ("Research Report > New Finding").
DOCUMENT_TYPES = frozenset({
    "Research Report", "Overview", "Summary/Review", "Instructional Material", "Contextual Material",
    "Personal", "Questionnaire & Opinion Survey", "Workflow", "Product Review", "Press Release",
    "Legal & Regulatory Document", "Financial Report", "Case Study",
})
# Words common in titles that are never taken for a trailing author name.
TITLE_WORDS = frozenset(w.lower() for w in """
Models Model Learning Networks Network Language Languages Transformer Transformers Data Dataset
Datasets Systems System Analysis Approach Framework Generation Generations Reasoning Robustness
Attention Vision Graph Graphs Representation Representations Optimization Training Inference
Evaluation Benchmark Benchmarks Agents Agent Alignment Interpretability Features Feature Circuits
Dictionary Sparse Neural Deep Study Theory Algorithms Algorithm Methods Method Scaling Regression
Distillation Decomposition Unlearning Adversarial Causal Interventions Intervention Understanding
Towards Toward Generalization Performance Efficient Search Control Detection Classification Tasks
A An The And Or Of In On For With Without Via From To By At As Into Over Under Beyond Through Is Are
Be Do Does Can Could Should Not No All Any You We Your Our What When Why How Need Needs Is Matter
Matters Meets Using Use Large Small New Beyond Better Fast Simple
""".split())

_CONFIDENCE_RE = re.compile(r"\s*(\d{1,3}(?:\.\d{1,6})?|\.\d{1,6})\s*")
_MORE_RE = re.compile(r"-\s*\(\s*(\d{1,6})\s+more\s*(?:\.\.\.|…)?\s*\)", re.IGNORECASE)
_HEADING_WORDS = (
    r"Appendix|Appendices|Introduction|Conclusions?|Related Work|Background|Methods?|Methodology|"
    r"Experiments?|Experimental Setup|Experimental Details|Results|Discussion|Notation|Proofs?|"
    r"Limitations|Acknowledge?ments|References|Bibliography|Preliminaries|Evaluation|Setup|"
    r"Supplementary Material|Additional\b.*|Broader Impacts?|Implementation Details|Abstract"
)
_SECTION_RE = re.compile(
    rf"(?:[A-Z]|\d{{1,2}})(?:\.\d{{1,2}})+\.?\s+.*"          # "A.1 Notation…", "3.2 Results"
    rf"|(?:[A-Z]|\d{{1,2}}|[IVX]{{1,4}})\.?\s+(?:{_HEADING_WORDS})\b.*"  # "A Appendix", "2 Method"
    rf"|(?:{_HEADING_WORDS})"                               # a bare heading
)
_SENTENCE_BREAK_RE = re.compile(r"[a-z)\]]{2}[.!?]\s+[A-Z]")


def parse_tag(line: str) -> tuple[list[str], float] | None:
    """``"- A > B > C (0.13)"`` → (``["A", "B", "C"]``, 0.13); None if the line is not a tag."""
    if not line.startswith("-") or not line.endswith(")"):
        return None
    body, _, number = line[1:-1].rpartition("(")
    m = _CONFIDENCE_RE.fullmatch(number)
    if not m or not body[:1].isspace():
        return None
    path = [seg.strip() for seg in body.split(">")]
    if any(not seg for seg in path):
        return None
    return path, float(m.group(1))


def looks_like(lines: list[str]) -> bool:
    """A tag line, or a title followed by an abstract."""
    if any(parse_tag(line) for line in lines):
        return True
    return any(is_title(a) and is_abstract(b) for a, b in zip(lines, lines[1:]))


def is_section_heading(line: str) -> bool:
    return bool(_SECTION_RE.fullmatch(line))


def is_title(line: str) -> bool:
    words = line.split()
    if not words or len(words) > 40 or line.startswith("- "):
        return False
    first = line.lstrip("\"'“‘([")
    if not first or not (first[0].isupper() or first[0].isdigit()):
        return False
    if is_section_heading(line) or _SENTENCE_BREAK_RE.search(line):
        return False
    return not (line.endswith(".") and len(words) > 20)


def is_abstract(line: str) -> bool:
    words = line.split()
    if len(words) >= 25:
        return True
    return len(words) >= 8 and (line.endswith(".") or bool(_SENTENCE_BREAK_RE.search(line)))


def _is_author_line(line: str) -> bool:
    """A comma-separated list of two or more names: never a title, even where a title is expected."""
    parsed = parse_author_list(line) if "," in line else None
    return parsed is not None and len(parsed[0]) >= 2


def _taxonomy(path: list[str]) -> str:
    if path[0] in CONTINENTS:
        return "places"
    if path[0] in DOCUMENT_TYPES:
        return "document_types"
    return "topics"


def _word_forms(text: str) -> set[str]:
    forms: set[str] = set()
    for w in re.findall(r"[^\W_][\w'’-]*", text.lower()):
        for part in [w, *w.split("-")]:
            if part:
                forms.add(part)
                forms.add(part.rstrip("s"))
    return forms


def split_trailing_names(title: str, abstract: str) -> tuple[str, list[str]]:
    """Split authors written after the title on the same line; ``(title, [])`` when there are none.

    Heuristic: walk back from the end over capitalised, name-like words that are neither in the
    abstract nor common title words; keep an even number of them (people as "First Last" pairs,
    initials riding along) and leave at least one word of title.
    """
    if not abstract:
        return title, []
    tokens = title.split()
    forms = _word_forms(abstract)
    j = len(tokens)
    while j > 1:
        tok = tokens[j - 1].rstrip(",")
        low = tok.lower()
        parts = [low, low.rstrip("s"), *[p for p in low.split("-") if p], *[p.rstrip("s") for p in low.split("-") if p]]
        if not is_name_token(tok) or low in TITLE_WORDS or any(p in forms for p in parts):
            break
        j -= 1
    run = [t.rstrip(",") for t in tokens[j:]]
    core_positions = [k for k, t in enumerate(run) if not is_initial(t)]
    if len(core_positions) % 2:  # drop the leftmost word: it belongs to the title
        run = run[core_positions[0] + 1:]
        j = len(tokens) - len(run)
    if not run or is_initial(run[0]):
        return title, []
    names: list[str] = []
    person: list[str] = []
    core = 0
    for t in run:
        person.append(t)
        if not is_initial(t):
            core += 1
        if core == 2:
            names.append(" ".join(person))
            person, core = [], 0
    if person or not names:
        return title, []
    return " ".join(tokens[:j]), names


@dataclass
class _Tag:
    path: list[str]
    confidence: float
    taxonomy: str

    def text(self) -> str:
        return f"{' > '.join(self.path)} ({self.confidence:g})"


@dataclass
class _Block:
    tags: list[_Tag] = field(default_factory=list)
    more: dict[str, int] = field(default_factory=dict)
    last_rank: int = -1


@dataclass
class _Paper:
    title: str
    authors: list[str] | None = None
    abstract: str = ""
    blocks: list[_Block] = field(default_factory=list)


def parse(text: str, source: str) -> ParsedDocument:
    lines = content_lines(text)
    if not lines:
        raise ValueError("not an abstract dump: the document has no text")
    b = DraftBuilder(FORMAT, source)
    papers: list[_Paper] = []
    orphans: list[tuple[_Block, str | None]] = []  # block, title of the paper it was kept out of
    unplaced: list[str] = []
    # state: "start" | "title" | "authors" | "abstract" | "tags"
    state = "start"
    block: _Block | None = None

    def flush_unplaced() -> None:
        if not unplaced:
            return
        where = f"after {short(papers[-1].title, 40)!r}" if papers else "at the start"
        quoted = ", ".join(repr(short(u, 40)) for u in unplaced[:3])
        more = f" and {len(unplaced) - 3} more" if len(unplaced) > 3 else ""
        b.warn(f"could not place {len(unplaced)} line(s) {where}: {quoted}{more}")
        unplaced.clear()

    for k, line in enumerate(lines):
        more = _MORE_RE.fullmatch(line)
        if more:
            flush_unplaced()
            if block is None or not block.tags:
                unplaced.append(line)
                continue
            tax = block.tags[-1].taxonomy
            block.more[tax] = block.more.get(tax, 0) + int(more.group(1))
            continue
        tag = parse_tag(line)
        if tag:
            flush_unplaced()
            path, confidence = tag
            tax = _taxonomy(path)
            rank = TAXONOMIES.index(tax)
            if block is None or rank < block.last_rank:
                block = _Block()
                if state == "abstract":
                    papers[-1].blocks.append(block)
                else:
                    orphans.append((block, papers[-1].title if papers else None))
            block.tags.append(_Tag(path, confidence, tax))
            block.last_rank = rank
            state = "tags"
            continue
        block = None
        if state in ("title", "authors"):
            paper = papers[-1]
            nxt = lines[k + 1] if k + 1 < len(lines) else ""
            if state == "title" and not is_abstract(line):
                parsed = parse_author_list(line)
                if parsed is not None and ("," in line or is_abstract(nxt)):
                    paper.authors = parsed[0]
                    state = "authors"
                    continue
            if is_title(line) and not is_abstract(line) and (is_abstract(nxt) or parse_author_list(nxt)):
                # A title after a title: the previous paper has no abstract.
                papers.append(_Paper(line))
                state = "title"
                continue
            paper.abstract = line
            state = "abstract"
            continue
        if is_title(line) and not _is_author_line(line):
            flush_unplaced()
            papers.append(_Paper(line))
            state = "title"
            continue
        unplaced.append(line)
    flush_unplaced()

    if not papers:
        raise ValueError("not an abstract dump: no line looks like a paper title followed by an abstract")

    for index, paper in enumerate(papers):
        _emit_paper(b, index, paper)
    for blk, after in orphans:
        shown = "; ".join(t.text() for t in blk.tags[:3])
        rest = len(blk.tags) - 3
        extra = f"; +{rest} more" if rest > 0 else ""
        more = "".join(f" (+{n} more {tax})" for tax, n in blk.more.items())
        where = f"after {short(after, 40)!r}" if after else "at the start"
        b.warn(f"tag block follows no abstract, kept out of any paper ({where}): {shown}{extra}{more}")
    return b.doc


def _emit_paper(b: DraftBuilder, index: int, paper: _Paper) -> None:
    title, authors = paper.title, paper.authors
    if authors is None:
        title, trailing = split_trailing_names(paper.title, paper.abstract)
        authors = trailing or None
    attrs: dict[str, object] = {}
    if authors:
        attrs["authors"] = authors
    attrs["source"] = FORMAT
    more: dict[str, int] = {}
    for blk in paper.blocks:
        for tax, n in blk.more.items():
            more[tax] = more.get(tax, 0) + n
    if more:
        attrs["more_tags"] = more
    if not paper.abstract:
        b.warn(f"paper has no abstract: {short(title)!r}")
    elif _cut_at_start(paper.abstract):
        b.warn(f"abstract looks cut at the start (kept as is): {short(title)!r}")
    key = b.node(f"paper:{index}", "paper", title, paper.abstract, attrs)
    b.authors(key, authors or [])
    for blk in paper.blocks:
        for tag in blk.tags:
            leaf = _category_path(b, tag)
            b.edge(key, "in_category", leaf, {"confidence": tag.confidence, "taxonomy": tag.taxonomy})


def _cut_at_start(abstract: str) -> bool:
    """An abstract that starts mid-sentence: a lowercase first letter, or a ")" closing nothing."""
    if abstract[0].islower():
        return True
    close, opened = abstract.find(")"), abstract.find("(")
    return close != -1 and (opened == -1 or close < opened) and close < 40


def _category_path(b: DraftBuilder, tag: _Tag) -> str:
    """One category per path prefix, each ``subcategory_of`` its parent; return the leaf's key."""
    parent = None
    key = ""
    for depth in range(1, len(tag.path) + 1):
        path = " > ".join(tag.path[:depth])
        key = f"category:{path}"
        b.node(key, "category", path, attrs={"taxonomy": tag.taxonomy, "name": tag.path[depth - 1]})
        if parent is not None:
            b.edge(key, "subcategory_of", parent)
        parent = key
    return key
