"""Add: forms for a paper (typed in, or fetched from arXiv by its id), a claim, a finding (with a measurement)
or an edge, and ingest of a pasted or uploaded document, BibTeX bibliography or arXiv metadata snapshot.
Every write is one transaction (a bibliography or snapshot: one per batch of papers, as ``findings ingest``
writes them): on a validation error nothing is written and the error shows under the form."""
from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import streamlit as st

from app import components as c

PAPER_LIMIT = 2000
WARNINGS_SHOWN = 50  # an ingest's warnings listed on the page; the rest are counted
ARXIV_DONE = {"added": "Added", "updated": "Already held; filled in what it lacked:",
              "unchanged": "Already held; nothing to add:"}


def add_page() -> None:
    g = c.graph()
    st.markdown("## Add to the graph")
    if c.read_only():  # the page is not in a read-only app's navigation; a stale link still writes nothing
        st.info("This explorer is read-only: nothing can be added here.")
        return
    tabs = st.tabs(["Paper", "Claim", "Finding", "Edge", "Ingest"])
    with tabs[0]:
        _paper_form(g)
    with tabs[1]:
        _claim_form(g)
    with tabs[2]:
        _finding_form(g)
    with tabs[3]:
        _edge_form(g)
    with tabs[4]:
        _ingest_form(g)


def _papers(g) -> dict[str, str]:
    return {p.id: p.title for p in g.nodes(kind="paper", limit=PAPER_LIMIT)}


def _paper_select(papers: dict[str, str], key: str) -> str:
    return st.selectbox("Paper it was stated in (optional)", ["", *papers], key=key,
                        format_func=lambda i: c.short(papers[i], 100) if i else "none")


def _add(g, build: Callable[[], tuple[dict[str, Any], dict[str, Any]]]) -> None:
    """Write what ``build()`` returns, (node fields, links for ``add_with_links``), in one transaction; or
    show why not (a ValueError from ``build`` or from validation) and write nothing."""
    from graph.writes import add_with_links

    try:
        node, links = build()
        node_id = add_with_links(g, node, **links)
    except ValueError as exc:
        c.show_error(exc)
    else:
        st.success("Added " + c.md(node_id))
        c.node_link(g.get(node_id))


def _json_field(raw: str, what: str) -> dict[str, Any]:
    if not raw.strip():
        return {}
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{what} must be a JSON object ({exc.msg} at line {exc.lineno})") from None
    if not isinstance(value, dict):
        raise ValueError(f"{what} must be a JSON object, e.g. {{\"loss\": \"cl\", \"epsilon\": 1}}")
    return value


def _arxiv_form(g) -> None:
    with st.form("add_arxiv"):
        wanted = st.text_input("arXiv id", key="add_arxiv_id", placeholder="2401.01234 or hep-th/9901001",
                               help="Title, authors, abstract, categories, dates and DOI from the arXiv API. A "
                                    "paper already held (same arXiv id, DOI, or title and first author) is "
                                    "filled in, never duplicated.")
        submitted = st.form_submit_button("Fetch from arXiv")
    if not submitted:
        return
    try:
        if not wanted.strip():
            raise ValueError("type an arXiv id first")
        paper_id, done = g.add_arxiv_paper(wanted.strip())
    except ValueError as exc:
        c.show_error(exc)
    else:
        st.success(f"{ARXIV_DONE[done]} " + c.md(paper_id))
        c.node_link(g.get(paper_id))


def _paper_form(g) -> None:
    _arxiv_form(g)
    st.caption("…or type the paper in")
    with st.form("add_paper", clear_on_submit=False):
        title = st.text_input("Title", key="add_paper_title")
        abstract = st.text_area("Abstract", key="add_paper_abstract")
        authors = st.text_area("Authors (one per line)", key="add_paper_authors")
        year = st.number_input("Year", min_value=1900, max_value=2100, value=None, step=1, key="add_paper_year")
        submitted = st.form_submit_button("Add paper")
    if submitted:
        _add(g, lambda: ({"kind": "paper", "title": title, "description": abstract,
                          "attrs": {"year": int(year)} if year is not None else {}},
                         {"authors": [a for a in authors.splitlines() if a.strip()]}))


def _claim_form(g) -> None:
    papers = _papers(g)
    with st.form("add_claim"):
        title = st.text_input("Claim", key="add_claim_title")
        description = st.text_area("Description", key="add_claim_description")
        paper = _paper_select(papers, "add_claim_paper")
        submitted = st.form_submit_button("Add claim")
    if submitted:
        _add(g, lambda: ({"kind": "claim", "title": title, "description": description}, {"paper": paper or None}))


def _finding_form(g) -> None:
    from graph.vocabulary import ERR_KINDS

    papers = _papers(g)
    with st.form("add_finding"):
        title = st.text_input("Finding", key="add_finding_title")
        description = st.text_area("Description", key="add_finding_description")
        paper = _paper_select(papers, "add_finding_paper")
        st.caption("Measurement (optional; metric and value go together)")
        a, b, d, e = st.columns(4)
        metric = a.text_input("Metric", key="add_finding_metric", placeholder="IIA")
        value = b.number_input("Value", value=None, format="%.6g", key="add_finding_value")
        err = d.number_input("± error", value=None, min_value=0.0, format="%.6g", key="add_finding_err")
        err_kind = e.selectbox("Error kind", ["", *ERR_KINDS], format_func=lambda k: k or "—",
                               key="add_finding_err_kind")
        a, b, d, e = st.columns(4)
        n = a.number_input("n", value=None, min_value=1, step=1, key="add_finding_n")
        split = b.text_input("Split", key="add_finding_split", placeholder="cross")
        method = d.text_input("Method", key="add_finding_method", placeholder="CL")
        dataset = e.text_input("Dataset", key="add_finding_dataset", placeholder="synthetic10")
        conditions = st.text_area("Conditions (JSON object)", key="add_finding_conditions",
                                  placeholder='{"loss": "cl", "epsilon": 100, "partition": "og_holdouts"}')
        submitted = st.form_submit_button("Add finding")
    if not submitted:
        return

    def build() -> tuple[dict[str, Any], dict[str, Any]]:
        measurements = []
        extra = any(v not in (None, "") for v in (err, err_kind, n, split, method, dataset, conditions.strip()))
        if metric.strip() or value is not None:
            if not metric.strip() or value is None:
                raise ValueError("a measurement needs both a metric and a value")
            meas = {"metric": metric, "value": value, "err": err, "err_kind": err_kind or None,
                    "n": int(n) if n is not None else None, "split": split or None, "method": method or None,
                    "dataset": dataset or None, "conditions": _json_field(conditions, "Conditions")}
            measurements.append({k: v for k, v in meas.items() if v is not None})
        elif extra:
            raise ValueError("measurement fields need a metric and a value")
        return ({"kind": "finding", "title": title, "description": description, "measurements": measurements},
                {"paper": paper or None})

    _add(g, build)


def _edge_form(g) -> None:
    from graph.vocabulary import EDGE_TYPES

    with st.form("add_edge"):
        a, b, d = st.columns([3, 2, 3])
        source = a.text_input("Source id", key="add_edge_source", placeholder="finding:…")
        etype = b.selectbox("Edge type", list(EDGE_TYPES), key="add_edge_type",
                            help="; ".join(f"{t}: {e.meaning}" for t, e in EDGE_TYPES.items()))
        target = d.text_input("Target id", key="add_edge_target", placeholder="claim:…")
        attrs = st.text_area("Attributes (JSON object, optional)", key="add_edge_attrs")
        submitted = st.form_submit_button("Add edge")
    if submitted:
        try:
            new = g.link(source.strip(), etype, target.strip(), _json_field(attrs, "Attributes"),
                         {"user": g.store.user})
        except ValueError as exc:
            c.show_error(exc)
        else:
            st.success(c.md(f"{'Added' if new else 'Already present'}: {source} —{etype}→ {target}"))
            c.node_link(g.get(source.strip()))


def _ingest_form(g) -> None:
    formats = _formats()
    with st.form("add_ingest"):
        pasted = st.text_area("Paste a document (finding page, reproducibility card, paper page, abstract dump) "
                              "or BibTeX entries", height=220, key="add_ingest_text")
        upload = st.file_uploader("…or upload a file: a document (.txt, .md), a BibTeX export (.bib) or an arXiv "
                                  "metadata snapshot (.jsonl, one paper per line)",
                                  type=["txt", "md", "bib", "bibtex", "jsonl"], key="add_ingest_file")
        fmt = st.selectbox("Format", formats, key="add_ingest_format",
                           help="auto: a .bib upload or pasted text that opens with an @entry{ is BibTeX, a "
                                ".jsonl upload a snapshot; anything else a document, its kind recognised")
        submitted = st.form_submit_button("Ingest")
    if not submitted:
        return
    from graph.ingest import IngestReport

    try:
        sources = []  # (content, name, format or None for a document)
        if upload is not None:
            sources.append((upload.getvalue(), upload.name, _paper_format(fmt, upload.name, None)))
        if pasted.strip():
            sources.append((pasted, "pasted text", _paper_format(fmt, "pasted text", pasted)))
        if not sources:
            raise ValueError("paste a document or upload a file first")
        documents = []
        for content, name, paper_fmt in sources:
            if paper_fmt is None:
                if isinstance(content, bytes):
                    try:
                        content = content.decode("utf-8")
                    except UnicodeDecodeError:
                        raise ValueError(f"{name}: not UTF-8 text") from None
                documents.append((content, name))
        report = g.ingest_texts(documents, fmt) if documents else IngestReport()
        for content, name, paper_fmt in sources:
            if paper_fmt is not None:
                part = g.ingest_paper_texts([(content, name)], paper_fmt)
                report.absorb(part)
                report.node_ids.update(part.node_ids)
    except ValueError as exc:
        c.show_error(exc)
        return
    st.success(f"{len(report.files)} document(s): {report.nodes_added} nodes added, {report.nodes_updated} "
               f"updated, {report.edges_added} edges added")
    for w in report.warnings[:WARNINGS_SHOWN]:
        st.warning(c.md(w))
    if len(report.warnings) > WARNINGS_SHOWN:
        st.caption(f"{len(report.warnings) - WARNINGS_SHOWN} more warnings not shown")
    added = g.get_many(list(report.node_ids.values()))
    for node in list(added.values())[:30]:
        c.node_summary(node, description=False)


def _paper_format(fmt: str, name: str, text: str | None) -> str | None:
    """The paper format a source is read in (``fmt`` itself, or under auto what its name or text says), or
    None for a document."""
    from graph.papers import PAPER_FORMATS, paper_format

    if fmt in PAPER_FORMATS:
        return fmt
    return paper_format(name, text) if fmt == "auto" else None


def _formats() -> list[str]:
    from graph.papers import PAPER_FORMATS
    from graph.parsers import FORMATS

    return ["auto", *FORMATS, *PAPER_FORMATS]


if __name__ == "__main__":
    add_page()
