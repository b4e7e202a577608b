"""Search: keyword or semantic search, filtered by kind, status, metric and source paper; counts per kind."""
from __future__ import annotations

from collections import Counter

import streamlit as st

from app import components as c
from graph import similarity as sim
from graph.evidence import STATUSES

LIMIT = 50


def search_page() -> None:
    g = c.graph()
    st.markdown("## Search")
    cols = st.columns([4, 1])
    query = cols[0].text_input("Search titles and descriptions", key="search_q",
                               placeholder="e.g. CL loss divergence")
    modes = ["Keyword", "Semantic"]
    mode = cols[1].radio("Mode", modes, key="search_mode", horizontal=True)

    filters = g.finding_filters()
    f = st.columns(5)
    kind = f[0].selectbox("Kind", c.kind_options(), format_func=c.any_label, key="search_kind")
    status = f[1].selectbox("Status", c.status_options(), format_func=c.any_label, key="search_status")
    metric = f[2].selectbox("Measured metric", ["", *filters["metric"]], format_func=c.any_label,
                            key="search_metric")
    papers = {p.id: p for p in g.papers()}
    paper = f[3].selectbox("Source paper", ["", *papers], key="search_paper",
                           format_func=lambda i: c.short(papers[i].title, 80) if i else "any")
    evidence = f[4].selectbox("Evidence", ["", *STATUSES], format_func=c.any_label, key="search_evidence",
                              help="Claims and published findings whose evidence has this status")
    limit = LIMIT * 10 if evidence else LIMIT  # the evidence filter is applied to the hits

    if query.strip() and mode == "Semantic":
        try:
            hits = g.narrow(sim.semantic_search(g, query, kind=kind or None, limit=limit), kind=kind or None,
                            status=status or None, metric=metric or None, paper=paper or None)
        except ValueError as exc:
            c.show_error(exc)
            hits = []
    else:
        hits = g.find_nodes(query, kind=kind or None, status=status or None, metric=metric or None,
                            paper=paper or None, limit=limit)
    found = g.statuses({n.id: n.kind for n, _ in hits}) if hits else {}
    if evidence:
        hits = [(n, s) for n, s in hits if n.id in found and found[n.id].status == evidence][:LIMIT]

    _counts(g, hits, bool(query.strip() or kind or status or metric or paper or evidence))
    if not hits:
        st.caption("No matches." if query.strip() or evidence else "")
    for node, score in hits:
        bits = [f"evidence: {found[node.id].status}" if node.id in found else "",
                f"score {score:.3f}" if query.strip() else ""]
        c.node_summary(node, extra=" · ".join(b for b in bits if b))


def _counts(g, hits, filtered: bool) -> None:
    counts = Counter(n.kind for n, _ in hits) if filtered else g.stats()["nodes"]
    if not counts:
        return
    st.caption(("Matches" if filtered else "Nodes in the graph") + " per kind"
               + (f" (first {LIMIT})" if filtered and len(hits) >= LIMIT else ""))
    cols = st.columns(len(counts))
    for col, (kind, n) in zip(cols, sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))):
        col.metric(kind, n)


if __name__ == "__main__":
    search_page()
