"""Graph view: the k-hop neighbourhood of a node, drawn with a networkx layout in plotly, coloured by kind,
edges labelled by type; clicking a node opens its page."""
from __future__ import annotations

import streamlit as st

from app import components as c

MAX_NODES = 150
LABELLED_EDGES = 30  # beyond this many edges, edge types show on hover only


def graph_view_page() -> None:
    g = c.graph()
    st.markdown("## Graph view")
    node_id = st.query_params.get("node", "")
    cols = st.columns([4, 1])
    query = cols[0].text_input("Centre node (keyword)", key="graph_pick",
                               placeholder="search for a node to centre on")
    hops = cols[1].slider("Hops", 1, 3, 2, key="graph_hops")
    if query.strip():
        hits = g.find_nodes(query, limit=10)
        if hits:
            picked = st.selectbox("Centre on", [n.id for n, _ in hits], key="graph_pick_hit",
                                  format_func=lambda i: c.short(dict((n.id, n.title) for n, _ in hits)[i], 100))
            if picked != node_id:
                node_id = picked
                st.query_params["node"] = node_id
    if not node_id:
        st.caption("Pick a node to centre the view on, or open one from its page.")
        return
    try:
        nodes, edges = g.subgraph(node_id, hops=hops, max_nodes=MAX_NODES)
    except ValueError as exc:
        c.show_error(exc)
        return
    centre = nodes[0]
    c.node_link(centre, label=f"Centre: {centre.title}")
    st.caption(f"{len(nodes)} nodes and {len(edges)} edges within {hops} hop{'s' if hops > 1 else ''}"
               + (f" (capped at {MAX_NODES} nodes)" if len(nodes) >= MAX_NODES else "")
               + " · click a node to open its page")
    event = st.plotly_chart(_figure(nodes, edges, centre.id), key="graph_chart", on_select="rerun",
                            selection_mode="points", config={"displaylogo": False})
    clicked = _clicked(event)
    if clicked:
        st.switch_page(c.NODE_PAGE, query_params={"node": clicked})
    with st.expander(f"Nodes in view ({len(nodes)})"):
        for n in nodes:
            c.node_summary(n, description=False)


def _clicked(event) -> str | None:
    try:
        points = event.selection.points
    except AttributeError:
        return None
    for p in points or []:
        data = p.get("customdata")
        if isinstance(data, (list, tuple)):
            data = data[0] if data else None
        if isinstance(data, str) and ":" in data:
            return data
    return None


def _figure(nodes, edges, centre_id: str):
    import networkx as nx
    import plotly.graph_objects as go

    gx = nx.MultiDiGraph()
    gx.add_nodes_from(n.id for n in nodes)
    gx.add_edges_from((e.source_id, e.target_id) for e in edges)
    simple = nx.Graph(gx)
    try:  # spreads small graphs more evenly than a spring layout; needs scipy
        pos = nx.kamada_kawai_layout(simple) if 2 < len(nodes) <= 300 else None
    except ImportError:
        pos = None
    if pos is None:
        pos = nx.spring_layout(simple, seed=7, k=1.2 / max(1, len(nodes)) ** 0.5, iterations=100)

    fig = go.Figure()
    xs, ys = [], []
    for e in edges:
        (x0, y0), (x1, y1) = pos[e.source_id], pos[e.target_id]
        xs += [x0, x1, None]
        ys += [y0, y1, None]
    fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", line={"width": 1, "color": "#b0b0b0"},
                             hoverinfo="skip", showlegend=False))
    mids = [((pos[e.source_id][0] + pos[e.target_id][0]) / 2, (pos[e.source_id][1] + pos[e.target_id][1]) / 2, e)
            for e in edges]
    fig.add_trace(go.Scatter(
        x=[m[0] for m in mids], y=[m[1] for m in mids],
        mode="text" if len(edges) <= LABELLED_EDGES else "markers",
        text=[m[2].type for m in mids], textfont={"size": 9, "color": "#666"},
        marker={"size": 3, "color": "#999"},
        hovertext=[c.plot_text(f"{m[2].source_id} —{m[2].type}→ {m[2].target_id}", 300) for m in mids],
        hoverinfo="text", showlegend=False,
    ))
    by_kind: dict[str, list] = {}
    for n in nodes:
        by_kind.setdefault(n.kind, []).append(n)
    for kind, members in sorted(by_kind.items()):
        fig.add_trace(go.Scatter(
            x=[pos[n.id][0] for n in members], y=[pos[n.id][1] for n in members],
            mode="markers+text", name=kind,
            marker={"size": [22 if n.id == centre_id else 13 for n in members],
                    "color": c.KIND_PLOT_COLORS.get(kind, "#444"), "line": {"width": 1, "color": "#fff"}},
            text=[c.plot_text(n.title, 28) for n in members], textposition="top center",
            textfont={"size": 10, "color": "#333"},
            customdata=[[n.id] for n in members],
            hovertext=[f"[{n.kind}] {c.plot_text(n.title)}" for n in members], hoverinfo="text",
        ))
    fig.update_layout(height=640, margin={"t": 10, "l": 10, "r": 10, "b": 10}, clickmode="event+select",
                      dragmode="pan", legend_title="kind", xaxis={"visible": False}, yaxis={"visible": False})
    return fig


if __name__ == "__main__":
    graph_view_page()
