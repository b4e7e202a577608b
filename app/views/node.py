"""Node page (``/?node=<id>``): badges, title, description, measurements; a claim's or a published finding's
evidence (status, groups pooled, forest plots), a run's result's verdicts, a run's configuration, findings and
curves; provenance, the neighbourhood ranked by edge count, and similarity candidates with accept / merge /
dismiss (not in a read-only app, which shows the candidates without them)."""
from __future__ import annotations

import streamlit as st

from app import components as c
from app.panels import evidence as ev_panel
from app.panels.run import run_section
from graph import curation
from graph import similarity as sim

MAX_PER_GROUP = 30


def node_page() -> None:
    g = c.graph()
    node_id = st.query_params.get("node", "")
    if not node_id:
        _pick_node(g)
        return
    try:
        page = g.node_page(node_id, per_group=MAX_PER_GROUP, offsets=_offsets(node_id))
    except ValueError as exc:
        c.show_error(exc)
        st.page_link("views/search.py", label="Search the graph", icon=":material/search:")
        return
    node = page.node
    _flash()
    evidence = ev_panel.load(g, node) if not page.runs else None  # a claim's or a published finding's

    c.badges(node, evidence["status"] if evidence else None)
    st.markdown("## " + c.md(node.title))
    st.caption("id: " + c.md(node.id))
    if node.description:
        c.text(node.description)
    if node.status == "merged":
        _merged_into(g, page)

    if page.measurements:
        st.markdown("#### Measurements")
        st.dataframe(c.measurement_table(page.measurements), hide_index=True, key="node_measurements")
        if any(m.floor for m in page.measurements):
            st.caption("floor: the same estimator on a perfect intervention (true counterfactual natives) at the same "
                       "sample size, on this run's data — values within it are indistinguishable from a perfect map. "
                       "Each measure is defined under `findings measures`.")
    if node.kind == "run":
        run_section(g, node)
    if evidence is not None:
        ev_panel.evidence_section(evidence)
    elif page.runs and node.kind == "finding":
        ev_panel.verdicts_section(g, node)
    _not_compared(node)
    _merged_measurements(g, page)
    _provenance(node, page)
    if node.attrs:
        with st.expander("Attributes"):
            st.json(node.attrs, expanded=2)
    st.page_link(c.GRAPH_PAGE, label="Open in the graph view", icon=":material/hub:", query_params={"node": node.id})

    left, right = st.columns([1, 1], gap="large")
    with left:
        _neighbourhood(page.groups, node.id)
    with right:
        _similar(g, node)


def _not_compared(node) -> None:
    """The published numbers of the same experiment this result was not compared with, and why."""
    entries = node.attrs.get("not_compared") or []
    if not entries:
        return
    st.markdown("#### Not compared (not like for like)")
    for entry in entries:
        value = c.value_pm(entry["value"], entry.get("err"))
        st.markdown(f"- [{c.md(entry.get('title') or entry['published'])}]({c.node_url(entry['published'])}) "
                    f"({c.md(value)}, measure {c.md(entry.get('measure') or 'not stated')}): {c.md(entry['reason'])}")


def _pick_node(g) -> None:
    st.markdown("## Node")
    query = st.text_input("Find a node by keyword", key="node_pick")
    for node, _ in g.find_nodes(query, limit=20) if query.strip() else []:
        c.node_summary(node)


def _flash() -> None:
    message = st.session_state.pop("node_flash", None)
    if message:
        kind, msg = message
        (st.success if kind == "ok" else st.error)(c.md(msg))


def _merged_into(g, page) -> None:
    targets = [n for grp in page.groups if grp.edge_type == "duplicate_of" and grp.direction == "out"
               for n, _, _ in grp.neighbours]
    st.warning("Merged: this node is a duplicate of the node below.", icon=":material/merge:")
    for t in targets:
        c.node_link(t)
    if not c.read_only():
        st.button("Unmerge", key="node_unmerge", on_click=_act, args=("unmerge", page.node.id, None, None))


def _merged_measurements(g, page) -> None:
    """Measurements reported by duplicates merged into this node (they stay on the duplicates)."""
    if not any(grp.edge_type == "duplicate_of" and grp.direction == "in" for grp in page.groups):
        return
    merged = curation.merged_measurements(g, page.node.id)
    merged = {k: v for k, v in merged.items() if k != page.node.id and v}
    if not merged:
        return
    st.markdown("#### Measurements from merged duplicates")
    for dup_id, measurements in merged.items():
        st.caption(c.md(dup_id))
        st.dataframe(c.measurement_table(measurements), hide_index=True, key=f"node_merged_{dup_id}")


def _provenance(node, page) -> None:
    source = node.source or {}
    st.markdown("#### Provenance")
    added = page.added
    st.caption(c.md(f"Added by {added['user'] or 'an unknown user (before authorship was recorded)'}"
                    f" on {added['at'][:19].replace('T', ' ')} UTC"))
    for paper, edge_attrs, authors in page.papers:
        st.caption("Source paper")
        c.node_link(paper)
        year = edge_attrs.get("year") or paper.attrs.get("year")
        st.caption(c.md(f"extracted_from{f' ({year})' if year else ''}" + (" · authors:" if authors else "")))
        if authors:
            with st.container(horizontal=True, gap="small"):
                for a in authors:
                    c.node_link(a)
    for run in page.runs:
        st.caption("Produced by run")
        c.node_link(run)
        a = run.attrs
        bits = [f"status {a['status']}" if a.get("status") else "",
                f"{a['duration_s']:.0f} s" if isinstance(a.get("duration_s"), (int, float)) else "",
                f"device {a['device']}" if a.get("device") else "",
                f"site {a['site']}" if a.get("site") else "",
                f"divergence {a['divergence_measure']}" if a.get("divergence_measure") else ""]
        st.caption(c.md(" · ".join(b for b in bits if b)))
    if source.get("document"):
        st.caption(c.md(f"Recorded from document {source['document']}"
                        + (f" ({source['format']})" if source.get("format") else "")))
    elif source.get("user") and source["user"] != added["user"]:
        st.caption(c.md(f"Provenance: user {source['user']}"))
    elif source.get("run") and not page.runs:
        st.caption(c.md(f"Recorded by {source['run']}"))


def _offset_key(node_id: str, edge_type: str, direction: str) -> str:
    return f"grp_{node_id}_{edge_type}_{direction}"


def _offsets(node_id: str) -> dict[tuple[str, str], int]:
    """Where each of the node's groups is paged to (session state, set by the groups' buttons)."""
    prefix = f"grp_{node_id}_"
    out = {}
    for key, value in st.session_state.items():
        if isinstance(key, str) and key.startswith(prefix) and isinstance(value, int):
            edge_type, _, direction = key[len(prefix):].rpartition("_")
            out[(edge_type, direction)] = value
    return out


def _turn(key: str, offset: int) -> None:
    st.session_state[key] = max(0, offset)


def _pager(grp, node_id: str) -> None:
    """"31–60 of 312,345" and the buttons that page through a group bigger than a page."""
    if grp.size <= MAX_PER_GROUP:
        return
    key = _offset_key(node_id, grp.edge_type, grp.direction)
    first = grp.offset + 1
    last = grp.offset + len(grp.neighbours)
    with st.container(horizontal=True, gap="small", vertical_alignment="center"):
        st.caption(f"{first:,}–{last:,} of {grp.size:,}" + (f" · {grp.more:,} more" if grp.more else ""))
        st.button("Previous", key=f"{key}_prev", disabled=grp.offset == 0, on_click=_turn,
                  args=(key, grp.offset - MAX_PER_GROUP))
        st.button("Next", key=f"{key}_next", disabled=not grp.more, on_click=_turn,
                  args=(key, grp.offset + MAX_PER_GROUP))


def _neighbourhood(groups, node_id: str) -> None:
    shown = [grp for grp in groups if grp.edge_type != "listed_similar"]
    listed = [grp for grp in groups if grp.edge_type == "listed_similar"]
    st.markdown("#### Neighbourhood — ranked by edge count")
    if not groups:
        st.caption("No typed edges yet.")
    ties_by_node: dict[str, list[str]] = {}
    for grp in groups:
        for node, _, _ in grp.neighbours:
            ties_by_node.setdefault(node.id, []).append(c.edge_label(grp.edge_type, grp.direction))
    for grp in shown + listed:
        title = c.edge_label(grp.edge_type, grp.direction) + f" ({grp.count})"
        if grp.edge_type == "listed_similar":
            title += " — listed as similar by a source document"
        st.markdown("**" + c.md(title) + "**")
        for node, ties, attrs in grp.neighbours[:MAX_PER_GROUP]:
            extra = f"{ties} edges: " + ", ".join(ties_by_node[node.id]) if ties > 1 else ""
            attrs_text = c.attrs_caption(attrs)
            c.node_summary(node, extra=" · ".join(x for x in (extra, attrs_text) if x), description=False)
        _pager(grp, node_id)


def _similar(g, node) -> None:
    heading = st.empty()
    threshold = st.slider("Cosine threshold", 0.30, 0.95, 0.65, 0.01, key="node_threshold")
    try:
        matches = sim.similar(g, node.id, threshold=threshold, limit=20)
    except ValueError as exc:
        heading.markdown("#### Related by similarity")
        st.caption(c.md(str(exc).splitlines()[0]))
        return
    heading.markdown(f"#### Related by similarity ({len(matches)})")
    st.caption(c.md(f"cosine ≥ {threshold:.2f} · no typed edge — candidates for new edges or unrecognized "
                    f"duplicates · found by {matches.method.describe()}"))
    if not matches:
        st.caption("No candidates at this threshold.")
    details = g.get_many([m.id for m in matches]) if matches else {}
    for i, m in enumerate(matches):
        other = details.get(m.id)
        with st.container(border=True, key=f"sim_{i}"):
            score = f"cosine {m.score:.3f}" + (f" · source listed {m.listed_score:.3f}" if m.listed_score is not None
                                               else "")
            if m.duplicate:
                score += " · likely duplicate"
            if other is not None:
                c.node_summary(other, extra=score)
            else:
                st.caption(c.md(f"{m.title} · {m.kind} · {score}"))
            if other is None or c.read_only():
                continue
            choices = c.edge_choices(node.kind, other.kind)
            with st.container(horizontal=True, gap="small", vertical_alignment="bottom"):
                if choices:
                    by_label = {label: (etype, forward) for label, etype, forward in choices}
                    picked = st.selectbox("Edge type", list(by_label), key=f"sim_type_{m.id}",
                                          label_visibility="collapsed", width=240)
                    etype, forward = by_label[picked]
                    src, dst = (node.id, other.id) if forward else (other.id, node.id)
                    st.button("Accept as edge", key=f"sim_accept_{m.id}", type="primary",
                              on_click=_act, args=("accept", src, dst, (etype, m.score)))
                if other.kind == node.kind:
                    st.button("Merge into this", key=f"sim_merge_{m.id}", on_click=_act,
                              args=("merge", node.id, other.id, m.score),
                              help="Keep this node; the other becomes a merged duplicate of it.")
                st.button("Dismiss", key=f"sim_dismiss_{m.id}", on_click=_act,
                          args=("dismiss", node.id, other.id, m.score))


def _act(action: str, a: str, b: str | None, extra) -> None:
    """Run a curation decision (a button callback), leaving a message for the next render."""
    g = c.graph()
    try:
        if action == "accept":
            etype, score = extra
            curation.accept(g, a, b, etype, score=score)
            msg = f"Added edge {a} —{etype}→ {b}"
        elif action == "merge":
            curation.merge(g, a, b, score=extra)
            msg = f"Merged {b} into this node"
        elif action == "dismiss":
            curation.dismiss(g, a, b, score=extra)
            msg = f"Dismissed {b}; it will not be proposed again"
        else:
            curation.unmerge(g, a)
            msg = "Unmerged"
        st.session_state["node_flash"] = ("ok", msg)
    except ValueError as exc:
        st.session_state["node_flash"] = ("error", str(exc).splitlines()[0])


if __name__ == "__main__":
    node_page()
