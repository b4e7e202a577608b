"""Papers from where they live: records from arXiv, BibTeX files and metadata snapshots, written as paper
nodes with their authors (``authored_by``) and arXiv categories (``in_category``), each paper once.

A :class:`PaperRecord` is what every source is turned into (:mod:`graph.parsers.bibtex`,
:mod:`graph.parsers.arxiv_snapshot`, :mod:`graph.arxiv`). :func:`upsert_papers` writes a batch of them in
the caller's transaction. A record is the paper the graph already holds when, in this order:

1. they share the arXiv id (versions aside),
2. they share the DOI,
3. they have the same normalised title and the same first author (surname, accents and case aside; a
   stored paper without authors matches on its title), and no arXiv id or DOI that differs.

Identifier lookups are indexed reads of table ``identifiers`` and titles an indexed read of
``(kind, title_norm)``, one query per 500 records, so a batch costs a few queries whatever the graph's size.
A known paper is filled in, never overwritten: an empty abstract, missing attrs, identifiers, categories,
and its authors when it has none. Authors and categories are recognised by kind and normalised name, as
the other parsers' are; within one run of :func:`ingest_records` the ids found or written by committed
batches are remembered, so later batches look up only names they have not met. New papers, authors,
categories and edges go in through :func:`graph.bulk.load`
(the same checks as one-at-a-time writes; one ``node.add`` log entry per node, one ``bulk.load`` entry
for the edges). Records that repeat within a batch are merged first, so a file that lists a paper twice
writes it once.
"""
from __future__ import annotations

import functools
import gc
import re
import unicodedata
from collections.abc import Iterable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

from graph.ids import base_id, normalize_title
from graph.identifiers import normalize_arxiv_id, normalize_doi

if TYPE_CHECKING:
    from db import records as r
    from db.session import Tx
    from graph.ingest import IngestReport

MAX_TITLE = 4000  # graph.schemas.NodeIn
MAX_ABSTRACT = 100_000
MAX_NAME = 300
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_CATEGORY = re.compile(r"[a-z][a-z\-]*(?:\.[A-Za-z\-]{1,12})?")  # cs.LG, hep-th, math.AG, q-bio.NC
CATEGORY_ATTRS = {"taxonomy": "arxiv"}  # as graph.parsers.paper_page writes arXiv categories
CATEGORY_EDGE = {"confidence": 1.0, "taxonomy": "arxiv"}
# edge attrs shared by the edges that carry the same values: the bulk insert converts each object to JSON once
_POSITIONS = tuple({"position": p} for p in range(64))


def clean(text: Any) -> str:
    """One line of text: control characters and runs of whitespace become one space."""
    return " ".join(_CONTROL.sub(" ", str(text)).split()) if text is not None else ""


class Norms(NamedTuple):
    """What the writer matches and keys a record by, derived from its title and names: made once, where the
    record is made (for a large snapshot, in the parsing process, whose core is mostly idle while the writer's
    is not), rather than again by each step of the write. The writer normalised each of the 4.7 million
    author names of the 852,128-line snapshot two or three times (a cache of 65,536 does not hold a million
    titles and their authors), and each title and first author twice. Made in the parsing process instead,
    the writer's steps that used them fell from 82.1 s to 52.0 s, and its CPU from 255.8 s to 205.9 s
    (one timed run each)."""

    title: str  # graph.ids.normalize_title of the title
    slug: str  # graph.ids.base_id("paper", title): the id a new paper gets unless it is taken
    first: str  # surname_key of the first author ("" for none)
    authors: list[str]  # normalize_title of each author, in order
    categories: list[str]  # normalize_title of each category, in order


@dataclass
class PaperRecord:
    """One paper as a source gives it; ``where`` names it in warnings ("refs.bib line 12"). ``norms`` is made
    by :func:`norms` from the fields (code that changes a record's title or names sets it back to None)."""

    title: str
    authors: list[str] = field(default_factory=list)  # "First Last", in order
    abstract: str = ""
    categories: list[str] = field(default_factory=list)  # arXiv categories, primary first
    arxiv_id: str | None = None  # normalised (graph.identifiers)
    doi: str | None = None  # normalised
    attrs: dict[str, Any] = field(default_factory=dict)  # published, updated, year, venue, journal_ref, …
    where: str = ""
    norms: Norms | None = field(default=None, compare=False, repr=False)


def norms(rec: PaperRecord) -> Norms:
    """The record's :class:`Norms`, made now if it has none."""
    if rec.norms is None:
        rec.norms = _derive(rec.title, rec.authors, rec.categories)
    return rec.norms


def _derive(title: str, authors: list[str], categories: list[str], author_norms: list[str] | None = None) -> Norms:
    """The :class:`Norms` of these fields (``author_norms``: the authors' normalised names, when made already)."""
    return Norms(normalize_title(title), base_id("paper", title), surname_key(authors[0]) if authors else "",
                 [normalize_title(a) for a in authors] if author_norms is None else author_norms,
                 [normalize_title(c) for c in categories])


def make_record(where: str, title: Any, authors: Iterable[Any] = (), abstract: Any = "",
                categories: Iterable[Any] = (), arxiv_id: Any = None, doi: Any = None,
                attrs: dict[str, Any] | None = None) -> tuple[PaperRecord | None, list[str]]:
    """A checked record and the warnings about what of it could not be placed; no record (and a warning
    saying why) when it has no usable title."""
    warnings: list[str] = []
    title = clean(title)
    if not title:
        return None, [f"{where}: no title; entry skipped"]
    if len(title) > MAX_TITLE:
        return None, [f"{where}: title longer than {MAX_TITLE} characters; entry skipped"]
    names: list[str] = []
    name_norms: list[str] = []
    seen: set[str] = set()
    for name in authors:
        name = clean(name)
        if not name:
            continue
        if len(name) > MAX_NAME:
            warnings.append(f"{where}: author name longer than {MAX_NAME} characters left out")
            continue
        norm = normalize_title(name)
        if norm not in seen:
            seen.add(norm)
            names.append(name)
            name_norms.append(norm)
    abstract = clean(abstract)
    if len(abstract) > MAX_ABSTRACT:
        warnings.append(f"{where}: abstract cut to {MAX_ABSTRACT} characters")
        abstract = abstract[:MAX_ABSTRACT]
    cats: list[str] = []
    for cat in categories:
        cat = clean(cat)
        if not cat:
            continue
        if not _CATEGORY.fullmatch(cat):
            warnings.append(f"{where}: could not read category {cat[:40]!r}")
        elif cat not in cats:
            cats.append(cat)
    arxiv = None
    if arxiv_id not in (None, ""):
        arxiv = normalize_arxiv_id(clean(arxiv_id))
        if arxiv is None:
            warnings.append(f"{where}: not an arXiv id: {clean(arxiv_id)[:40]!r}")
    norm_doi = None
    if doi not in (None, ""):
        norm_doi = normalize_doi(clean(doi))
        if norm_doi is None:
            warnings.append(f"{where}: not a DOI: {clean(doi)[:60]!r}")
    extra = {k: v for k, v in (attrs or {}).items() if v not in (None, "", [], {})}
    return PaperRecord(title, names, abstract, cats, arxiv, norm_doi, extra, where,
                       _derive(title, names, cats, name_norms)), warnings


_WORD = re.compile(r"[a-z0-9]+")


@functools.lru_cache(maxsize=65536)  # a first author is keyed again by every paper of theirs in a batch
def surname_key(name: str) -> str:
    """The last word of a name, accents and case dropped: "Jörg Müller" and "J. Muller" both give "muller"."""
    if name.isascii():  # nothing to decompose
        text = name.lower()
    else:
        text = "".join(c for c in unicodedata.normalize("NFKD", name) if not unicodedata.combining(c)).lower()
    words = _WORD.findall(text)
    return words[-1] if words else ""


def _attrs_of(rec: PaperRecord) -> dict[str, Any]:
    attrs = dict(rec.attrs)
    if rec.arxiv_id:
        attrs["arxiv_id"] = rec.arxiv_id
    if rec.doi:
        attrs["doi"] = rec.doi
    return attrs


def _absorb(into: PaperRecord, other: PaperRecord) -> None:
    """Fill ``into`` with what ``other`` (the same paper, met later in the batch) adds."""
    into.arxiv_id = into.arxiv_id or other.arxiv_id
    into.doi = into.doi or other.doi
    into.abstract = into.abstract or other.abstract
    into.authors = into.authors or other.authors
    into.categories += [c for c in other.categories if c not in into.categories]
    for k, v in other.attrs.items():
        into.attrs.setdefault(k, v)
    into.norms = None  # its names may have changed


def _merge_batch(records: list[PaperRecord]) -> list[PaperRecord]:
    """The batch with repeats merged (same arXiv id, DOI, or title and first author). ``records`` are left
    as they are: a record that takes in a repeat is a copy (most are not, and copying all of them took
    2.5 s of a million-paper ingest)."""
    out: list[PaperRecord] = []
    keys: dict[tuple[str, str], int] = {}
    copied: set[int] = set()  # the places in ``out`` that hold a copy of the caller's record
    for rec in records:
        mine = _keys(rec)
        hit = next((keys[k] for k in mine if k in keys), None)
        if hit is not None and _compatible(out[hit], rec):
            if hit not in copied:
                out[hit] = _copy(out[hit])
                copied.add(hit)
            _absorb(out[hit], rec)
            mine = _keys(out[hit])
        else:
            hit = len(out)
            out.append(rec)
        for k in mine:
            keys.setdefault(k, hit)
    return out


def _keys(rec: PaperRecord) -> list[tuple[str, str]]:
    keys = []
    if rec.arxiv_id:
        keys.append(("arxiv", rec.arxiv_id))
    if rec.doi:
        keys.append(("doi", rec.doi))
    n = norms(rec)
    keys.append(("title", f"{n.title}\x00{n.first}"))
    return keys


def _compatible(a: PaperRecord, b: PaperRecord) -> bool:
    """No identifier that says they are different papers."""
    return not ((a.arxiv_id and b.arxiv_id and a.arxiv_id != b.arxiv_id) or (a.doi and b.doi and a.doi != b.doi))


# ---- resolving a batch against the store ---------------------------------------------------------
def _live(tx: Tx, node_ids: set[str]) -> dict[str, str]:
    """Each id -> the node that stands for it now: a merged paper's ``duplicate_of`` target."""
    nodes = tx.get_nodes(node_ids)
    merged = [i for i, n in nodes.items() if n.status == "merged"]
    out = {i: i for i in nodes}
    if merged:
        for src, views in tx.edge_views(merged, "duplicate_of").items():
            out[src] = views[0].node.id
    return out


def _resolve(tx: Tx, batch: list[PaperRecord]) -> list[str | None]:
    """For each record, the id of the stored paper it is, or None."""
    by_arxiv = tx.nodes_by_identifier("arxiv", [x.arxiv_id for x in batch if x.arxiv_id])
    by_doi = tx.nodes_by_identifier("doi", [x.doi for x in batch if x.doi])
    found: list[str | None] = []
    pending: list[int] = []
    for i, rec in enumerate(batch):
        hit = by_arxiv.get(rec.arxiv_id or "") or by_doi.get(rec.doi or "")
        found.append(hit)
        if hit is None:
            pending.append(i)
    if pending:
        titles = tx.nodes_by_titles("paper", [norms(batch[i]).title for i in pending])
        candidates = {n.id for ns in titles.values() for n in ns}
        firsts: dict[str, str] = {}
        held: dict[str, dict[str, str]] = {}
        if candidates:
            for pid, views in tx.edge_views(candidates, "authored_by").items():
                first = min(views, key=lambda v: (v.edge.attrs.get("position", 1_000_000), v.edge.id))
                firsts[pid] = surname_key(first.node.title)
            held = tx.identifiers_of(candidates)
        for i in pending:
            rec = batch[i]
            mine = norms(rec).first
            for node in titles.get(norms(rec).title, []):
                ids = held.get(node.id, {})
                if (rec.arxiv_id and ids.get("arxiv") not in (None, rec.arxiv_id)) or \
                        (rec.doi and ids.get("doi") not in (None, rec.doi)):
                    continue
                theirs = firsts.get(node.id)
                if theirs is None or not mine or theirs == mine:
                    found[i] = node.id
                    break
    live = _live(tx, {f for f in found if f is not None})
    return [live.get(f) if f is not None else None for f in found]


def _named_nodes(tx: Tx, kind: str, wanted: Iterable[str], cache: dict[tuple[str, str], str] | None = None,
                 learned: dict[tuple[str, str], str] | None = None) -> dict[str, str]:
    """normalised name -> id of the stored ``kind`` node with that name (a live one where there is one), for
    the normalised names ``wanted``. ``cache``: (kind, normalised name) -> id, what earlier batches of the
    same run found or wrote (read first); ``learned``: where this batch's look-ups are noted for the cache."""
    out: dict[str, str] = {}
    missing: set[str] = set()
    for norm in wanted:
        hit = cache.get((kind, norm)) if cache else None
        if hit is not None:
            out[norm] = hit
        else:
            missing.add(norm)
    for norm, nodes in (tx.nodes_by_titles(kind, missing).items() if missing else ()):
        live = [n for n in nodes if n.status != "merged"]
        out[norm] = (live or nodes)[0].id
        if learned is not None:
            learned[(kind, norm)] = out[norm]
    return out


# ---- writing --------------------------------------------------------------------------------------
def _fill(tx: Tx, node: r.Node, rec: PaperRecord) -> bool:
    """Fill what the stored paper lacks from ``rec`` (and ``node`` with it, for a later record of the same
    batch that is the same paper); whether anything changed."""
    changes: dict[str, Any] = {}
    if not node.description and rec.abstract:
        changes["description"] = node.description = rec.abstract
    new_attrs = {k: v for k, v in _attrs_of(rec).items() if k not in node.attrs}
    if new_attrs:
        changes["attrs"] = node.attrs = {**node.attrs, **new_attrs}
    if changes:
        tx.update_node(node.id, **changes)
    return bool(changes)


def upsert_papers(tx: Tx, records: list[PaperRecord], provenance: dict[str, Any], report: IngestReport,
                  names: dict[tuple[str, str], str] | None = None,
                  learned: dict[tuple[str, str], str] | None = None) -> list[tuple[str, bool]]:
    """Write ``records`` (one batch, left unchanged: a transaction that lost a race runs again on them) in
    the caller's transaction; count into ``report``; return, for each record left after merging repeats, in
    batch order, (its paper's id, whether the paper is new). ``names``/``learned``: the run's cache of author
    and category ids (see :func:`_named_nodes`); the authors and categories this batch looks up or writes
    are added to ``learned``, which the caller merges into ``names`` once the transaction has committed."""
    from graph import bulk

    batch = _merge_batch(records)
    if not batch:
        return []
    targets = _resolve(tx, batch)
    stored = tx.get_nodes({t for t in targets if t is not None})
    # a stored paper keeps its authors; one without any gets those of the first record that is it
    claimed = tx.sources_with_edges(list(stored), "authored_by") if stored else set()
    gets_authors: set[int] = set()
    for i, target in enumerate(targets):
        if target is None or target not in claimed:
            gets_authors.add(i)
            claimed.add(target)

    new_nodes: list[dict[str, Any]] = []
    new_index: list[int] = []
    for i, (rec, target) in enumerate(zip(batch, targets)):
        if target is None:
            new_nodes.append({"kind": "paper", "title": rec.title, "description": rec.abstract,
                              "attrs": _attrs_of(rec), "source": provenance})
            new_index.append(i)
        else:
            report.nodes_updated += _fill(tx, stored[target], rec)
    ids: list[str] = list(targets)  # type: ignore[arg-type]
    if new_nodes:
        # _resolve looked up every record's arXiv id and DOI in this transaction: a new paper's are held by none
        unheld = {x for i in new_index for x in (("arxiv", batch[i].arxiv_id), ("doi", batch[i].doi)) if x[1]}
        derived = [(norms(batch[i]).slug, norms(batch[i]).title) for i in new_index]
        made = bulk.load(tx, nodes=new_nodes, parse_text=False, unheld=unheld, derived=derived).node_ids
        for i, nid in zip(new_index, made):
            ids[i] = nid
        report.nodes_added += len(made)

    # authors and categories: stored ones by name, the rest created once
    author_names = {n: a for i in sorted(gets_authors) for n, a in zip(norms(batch[i]).authors, batch[i].authors)}
    cat_names = {n: c for rec in batch for n, c in zip(norms(rec).categories, rec.categories)}
    people = _named_nodes(tx, "author", author_names, names, learned)
    cats = _named_nodes(tx, "category", cat_names, names, learned)
    extra = [(norm, {"kind": "author", "title": name, "source": provenance})
             for norm, name in author_names.items() if norm not in people]
    extra += [(norm, {"kind": "category", "title": name, "attrs": dict(CATEGORY_ATTRS), "source": provenance})
              for norm, name in cat_names.items() if norm not in cats]
    if extra:
        derived = [(base_id(spec["kind"], spec["title"]), norm) for norm, spec in extra]
        made = bulk.load(tx, nodes=[spec for _, spec in extra], parse_text=False, derived=derived).node_ids
        for (norm, spec), nid in zip(extra, made):
            (people if spec["kind"] == "author" else cats)[norm] = nid
            if learned is not None:
                learned[(spec["kind"], norm)] = nid
        report.nodes_added += len(made)

    edges: list[tuple[str, str, str, dict[str, Any]]] = []
    identifiers: list[tuple[str, str, str]] = []  # (scheme, value, paper id)
    for i, rec in enumerate(batch):
        pid = ids[i]
        n = norms(rec)
        if i in gets_authors:
            edges += [(pid, "authored_by", people[a], _POSITIONS[p] if p < 64 else {"position": p})
                      for p, a in enumerate(n.authors)]
        edges += [(pid, "in_category", cats[c], CATEGORY_EDGE) for c in n.categories]
        if rec.arxiv_id:
            identifiers.append(("arxiv", rec.arxiv_id, pid))
        if rec.doi:
            identifiers.append(("doi", rec.doi, pid))
    if stored:  # identifiers new to stored papers (bulk.load indexed the new papers' own)
        tx.add_identifiers(x for x in identifiers if x[2] in stored)
        present = tx.existing_edges([e[:3] for e in edges if e[0] in stored])
        edges = [e for e in edges if e[:3] not in present]
    if edges:
        # every end was just read or written in this transaction, and the stored papers' edges that exist
        # are filtered out above (a new paper has none): no look-ups of kinds or of existing edges
        known = {pid: "paper" for pid in ids}
        known.update((nid, "author") for nid in people.values())
        known.update((nid, "category") for nid in cats.values())
        done = bulk.load(tx, edges=edges, provenance=provenance, known=known)
        report.edges_added += done.edges
    return [(pid, target is None) for pid, target in zip(ids, targets)]


# ---- files ----------------------------------------------------------------------------------------
# records per transaction, and the page cache a batch is written with. A batch's inserts land all over the
# random-keyed B-trees (node ids, titles, authors), and each commit writes every page a batch dirtied: a larger
# batch dirties fewer pages a record, which tells most at a million. The whole 852,128-line snapshot into an
# empty store (load 1.0-1.2): 20,000 records a batch with 1 GiB 493 s (2.4 GB peak memory); with 2.5 GiB 501 s;
# 50,000 with 2.5 GiB 353 s (3.6 GB); 100,000 with 4 GiB 329 s and 327 s (5.4 GB). At 200,000 lines the
# larger batches had not helped (20,000: 104 s; 50,000: 116 s), which is why the default was 20,000 until
# measured at a million. FINDINGS_INGEST_BATCH sets another size (less memory, more time).
BATCH = 100_000
CACHE_KIB_PER_RECORD = 42  # the page cache a batch is given: 4 GiB for 100,000 records, never under 256 MiB

# a large batch size is reached in steps: the first transaction takes an eighth of it, and each next one twice
# the last. The writer waits for the parsing process to read a whole first batch (9.5 s of an ingest of the
# million-line snapshot sat idle before the first of 100,000 records could be written), while the first
# transactions into a small store are cheap whatever their size. Sizes under RAMP_FROM are used as they are.
RAMP = 8
RAMP_FROM = 10_000

# a long load goes without the indexes its batches do not read (db.deferred), built again by sorting when it
# ends: from the batch after the run has written DEFER_AFTER records and at least as many edges as the store
# held when it began (a store already large pays more to sort its indexes again than a short run saves).
DEFER_AFTER = 50_000

PAPERS_LISTED = 100  # the papers of a file whose ids its report keeps (in report.node_ids), in file order

# the formats graph.papers reads (many papers per file, written in batches), and how a file's name or a
# pasted text says which: what `findings ingest --format auto` and the app's Ingest form go by
PAPER_FORMATS = ("bibtex", "arxiv-snapshot")
PAPER_SUFFIXES = {".bib": "bibtex", ".bibtex": "bibtex", ".jsonl": "arxiv-snapshot"}
_BIBTEX_START = re.compile(r"\s*(?:%[^\n]*\n\s*)*@[A-Za-z]+\s*[{(]")  # comment lines, then @type{ or @type(


def paper_format(name: str, text: str | None = None) -> str | None:
    """``bibtex`` or ``arxiv-snapshot`` for a file name with one of :data:`PAPER_SUFFIXES`, or for a text
    (no such name) that opens as a BibTeX entry does; else None (a document for :mod:`graph.parsers`)."""
    from pathlib import PurePath

    by_name = PAPER_SUFFIXES.get(PurePath(name).suffix.lower())
    if by_name or text is None:
        return by_name
    return "bibtex" if _BIBTEX_START.match(text) else None


def batch_size_setting() -> int:
    """Records per transaction: ``FINDINGS_INGEST_BATCH`` if set (a positive whole number), else ``BATCH``."""
    import os

    raw = os.environ.get("FINDINGS_INGEST_BATCH", "").strip()
    if not raw:
        return BATCH
    if not raw.isdigit() or int(raw) < 1:
        raise ValueError(f"FINDINGS_INGEST_BATCH must be a positive whole number of records, not {raw!r}")
    return int(raw)


def batch_sizes(batch_size: int) -> Iterator[int]:
    """The records of each transaction in turn: ``batch_size``, reached from an eighth of it (see RAMP)."""
    size = batch_size // RAMP if batch_size >= RAMP_FROM else batch_size
    while True:
        yield size
        size = min(batch_size, size * 2)


def ingest_records(store, stream: Iterable[tuple[PaperRecord | None, list[str]]], provenance: dict[str, Any],
                   report: IngestReport, batch_size: int | None = None) -> None:
    """Write the records of ``stream`` in batches of ``batch_size`` (default :func:`batch_size_setting`; a
    large one reached in steps, :func:`batch_sizes`), each batch one transaction of ``store``; warnings go
    into ``report``, and the ids of the first :data:`PAPERS_LISTED` papers (added or already held) into
    ``report.node_ids``. Earlier batches stay written if a later one fails; running the same file again then
    adds only what is missing. A long run goes without some indexes until it ends (see DEFER_AFTER)."""
    from graph.ingest import IngestReport

    batch_size = batch_size or batch_size_setting()
    names: dict[tuple[str, str], str] = {}  # (kind, normalised name) -> id of authors and categories met so far
    cache_before: list[int | None] = []  # the connection's page cache before the first batch raised it
    edges_before = store.run_read(lambda tx: tx.largest_edge_id())
    written = {"records": 0, "edges": 0}  # by this run's committed batches

    def flush(batch: list[PaperRecord]) -> None:
        def body(tx) -> tuple[IngestReport, dict]:
            part = IngestReport()  # fresh per attempt: a transaction that lost a race runs again
            learned: dict[tuple[str, str], str] = {}
            before = tx.tune_for_bulk(max(256, len(batch) * CACHE_KIB_PER_RECORD // 1024))
            if not cache_before:
                cache_before.append(before)
            for pid, _ in upsert_papers(tx, batch, provenance, part, names, learned):
                if len(part.node_ids) + len(report.node_ids) < PAPERS_LISTED:
                    part.node_ids[pid] = pid
            return part, learned

        part, learned = store.run_in_transaction(body)
        written["records"] += len(batch)
        written["edges"] += part.edges_added
        names.update(learned)  # only what a committed transaction wrote or saw
        report.absorb(part)
        report.node_ids.update(part.node_ids)

    deferral = ExitStack()  # the indexes a long load goes without, built again when it leaves (before the cache)
    try:
        with _young_collections_only(), deferral:
            sizes = batch_sizes(batch_size)
            size = next(sizes)
            batch: list[PaperRecord] = []
            decided = False
            for rec, warnings in stream:
                report.warnings.extend(warnings)
                if rec is not None:
                    batch.append(rec)
                if len(batch) >= size:
                    flush(batch)
                    # the batch's short-lived cycles (see _young_collections_only), once the batch itself is let
                    # go: collected while it was still held, its records were traversed too (3.6-5.9 s of the
                    # 852,128-line snapshot's ingest, against 0.1 s now)
                    batch = []
                    gc.collect(1)
                    size = next(sizes)
                    if not decided and written["records"] >= DEFER_AFTER and written["edges"] >= edges_before:
                        deferral.enter_context(store.indexes_deferred())
                        decided = True
            if batch:
                flush(batch)
    finally:
        # the page cache back to what it was, so that a long-lived process (the app) does not keep gigabytes
        # of a finished ingest's pages; the pool hands this thread the connection that wrote the batches
        if cache_before and cache_before[0] is not None:
            try:
                store.run_in_transaction(lambda tx: tx.set_cache_kib(cache_before[0]))
            except Exception:  # noqa: BLE001 - the ingest's result (or its own error) matters more than a cache size
                pass


@contextmanager
def _young_collections_only() -> Iterator[None]:
    """Python's automatic collections off while a file is ingested; each batch then collects the two
    younger generations once. The oldest generation holds everything a run keeps (the author and
    category ids, the warnings), and the automatic collector scanned it whole again and again: 111
    full collections, 15.4 s of a 130 s ingest of 200,000 snapshot lines. Garbage cycles that outlive
    a batch wait for the first full collection after the ingest."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _copy(rec: PaperRecord) -> PaperRecord:
    """A record a batch may merge into without changing the caller's."""
    return PaperRecord(rec.title, list(rec.authors), rec.abstract, list(rec.categories), rec.arxiv_id, rec.doi,
                       dict(rec.attrs), rec.where, rec.norms)
